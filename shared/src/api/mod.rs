//! The JSON of the HTTP API, as `infra/openapi.yaml` documents it: every request body a handler
//! parses and every answer it sends, with the conversions from and to the domain's types. The
//! domain knows nothing of these shapes; a handler parses one of them, calls the domain, and
//! turns the result into one of them.

/// An enum of the API that mirrors a domain enum variant for variant: its JSON names (snake
/// case), `ALL` (what the contract test holds against the document) and conversions both ways.
/// Their matches are exhaustive, so a variant added to the domain does not compile until it is
/// named here too.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident mirrors $domain:ty { $($variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($variant,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant,)+];
        }

        impl From<$domain> for $name {
            fn from(value: $domain) -> Self {
                type Domain = $domain;
                match value {
                    $(Domain::$variant => $name::$variant,)+
                }
            }
        }

        impl From<$name> for $domain {
            fn from(value: $name) -> Self {
                type Domain = $domain;
                match value {
                    $($name::$variant => Domain::$variant,)+
                }
            }
        }
    };
}

/// An answer that is a domain result field for field: the struct, and `From` the result, each
/// field converted by `Into` (to itself, or from a domain type to its API type). The result is
/// taken apart without `..`, so a field added to it does not compile until the API has it too.
macro_rules! wire_struct {
    ($(#[$meta:meta])* $name:ident from $domain:ty { $($(#[$field_meta:meta])* $field:ident: $type:ty),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(serde::Serialize)]
        pub struct $name {
            $($(#[$field_meta])* $field: $type,)+
        }

        impl From<$domain> for $name {
            fn from(value: $domain) -> Self {
                type Domain = $domain;
                let Domain { $($field),+ } = value;
                $name { $($field: $field.into()),+ }
            }
        }
    };
}

pub mod account;
pub mod captcha;
pub mod error;
pub mod recovery;
pub mod session;
pub mod two_factor;
pub mod verification;

#[cfg(test)]
mod tests;

/// The API's values of a list of the domain's.
fn wire<T: Copy, W: From<T>>(values: &[T]) -> Vec<W> {
    values.iter().copied().map(W::from).collect()
}
