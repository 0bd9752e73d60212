//! The ids of the service's records, a type each, so an account's id is never passed where a
//! session's is meant. Each is 128 random bits as base64url (22 characters): unguessable, so
//! knowing one says nothing of another. `parse` is the only way in for an id from a request, so
//! anything not the shape of an id is refused before it reaches the store.

use rand::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};

use crate::code::{is_base64url, random_text};

const ID_BYTES: usize = 16;
const ID_LEN: usize = 22;

/// What every id is, for code that takes more than one kind (a session's or a device's token).
pub trait RandomId: Sized + Clone {
    fn generate(rng: &mut (impl RngCore + CryptoRng)) -> Self;
    fn parse(text: &str) -> Option<Self>;
    fn as_str(&self) -> &str;
}

macro_rules! random_ids {
    ($($(#[$doc:meta])* $name:ident;)+) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn generate(rng: &mut (impl RngCore + CryptoRng)) -> Self {
                $name(random_text(rng, ID_BYTES))
            }

            /// An id from a request: anything that is not the shape of an id is simply unknown.
            pub fn parse(text: &str) -> Option<Self> {
                is_id(text).then(|| $name(text.to_owned()))
            }

            /// An id read back from the store, trusted as it was written.
            pub fn stored(text: String) -> Self {
                $name(text)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl RandomId for $name {
            fn generate(rng: &mut (impl RngCore + CryptoRng)) -> Self {
                $name::generate(rng)
            }
            fn parse(text: &str) -> Option<Self> {
                $name::parse(text)
            }
            fn as_str(&self) -> &str {
                $name::as_str(self)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    )+};
}

random_ids! {
    /// An account; its contacts, sessions and devices are stored under it.
    AccountId;
    /// A signed-in session of an account.
    SessionId;
    /// A device a person chose to remember.
    DeviceId;
    /// A sign-in or password reset waiting for its second factor.
    ChallengeId;
    /// A code sent to a contact, and the token its confirmation issues.
    VerificationId;
    /// A message in the outbox, waiting for the courier.
    MessageId;
    /// An OpenID Connect authorization waiting for the person to sign in or to consent.
    InteractionId;
    /// An OpenID Connect authorization code, under its account.
    CodeId;
    /// A family of refresh tokens (one per code exchange), under its account.
    FamilyId;
}

pub(crate) fn is_id(text: &str) -> bool {
    text.len() == ID_LEN && text.bytes().all(is_base64url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn a_generated_id_parses_and_nothing_else_of_another_shape_does() {
        let id = AccountId::generate(&mut StdRng::seed_from_u64(7));
        assert_eq!(AccountId::parse(id.as_str()), Some(id.clone()));
        assert_ne!(id, AccountId::generate(&mut StdRng::seed_from_u64(8)));
        let long = "A".repeat(3000);
        for bad in [
            "",
            "short",
            &id.as_str()[1..],
            &format!("{id}A"),
            "aaaaaaaaaaaaaaaaaaaa.a",
            "aaaaaaaaaaaaaaaaaaaaé",
            &long,
        ] {
            assert_eq!(ChallengeId::parse(bad), None, "{bad:?}");
        }
    }
}
