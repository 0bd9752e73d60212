//! The scopes the provider knows. Anything else a client asks for is dropped rather than
//! refused (RFC 6749 3.3 lets the server grant less): certified libraries ask for defaults such
//! as `openid profile email`, and the token response's `scope` says what was granted.

use std::collections::BTreeSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    OpenId,
    /// The account's email address, if it has one (always verified here: contacts come only
    /// through a confirmed code).
    Email,
    /// Likewise its phone number.
    Phone,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::OpenId => "openid",
            Scope::Email => "email",
            Scope::Phone => "phone",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Scope::OpenId, Scope::Email, Scope::Phone].into_iter().find(|scope| scope.as_str() == text)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scopes(BTreeSet<Scope>);

impl Scopes {
    /// The known scopes of a space-separated `scope` parameter.
    pub fn parse(text: &str) -> Self {
        Scopes(text.split(' ').filter_map(Scope::parse).collect())
    }

    pub fn contains(&self, scope: Scope) -> bool {
        self.0.contains(&scope)
    }

    pub fn is_subset(&self, of: &Scopes) -> bool {
        self.0.is_subset(&of.0)
    }

    pub fn intersection(&self, other: &Scopes) -> Scopes {
        Scopes(self.0.intersection(&other.0).copied().collect())
    }

    pub fn iter(&self) -> impl Iterator<Item = Scope> + '_ {
        self.0.iter().copied()
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        Scopes(iter.into_iter().collect())
    }
}

/// Space-separated, as `scope` is written.
impl std::fmt::Display for Scopes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.iter().map(Scope::as_str).collect();
        f.write_str(&names.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_scopes_are_dropped_and_the_rest_written_back_in_order() {
        let scopes = Scopes::parse("phone profile openid  OPENID email");
        assert_eq!(scopes.to_string(), "openid email phone");
        assert!(Scopes::parse("openid").is_subset(&scopes));
        assert!(!scopes.is_subset(&Scopes::parse("openid email")));
        assert_eq!(scopes.intersection(&Scopes::parse("email openid")).to_string(), "openid email");
    }
}
