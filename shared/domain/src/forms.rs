//! Form tokens of the hosted pages, against cross-site request forgery: a form carries a
//! keyed hash of what it is bound to, which a page on another site cannot compute or read.
//! A signed-in person's forms are bound to their session (so a token leaked from one session
//! is useless in another); forms before sign-in to a random value in a cookie of the browser's
//! own (signed double submit, as OWASP's CSRF cheat sheet recommends).

use crate::secret::{HashPurpose, KeyedHash, ServiceSecret};
use crate::session::SessionRecord;

/// What a form token is bound to.
pub enum FormBinding<'a> {
    /// The session a signed-in person's page was rendered for.
    Session(&'a SessionRecord),
    /// The browser's form cookie, before sign-in.
    Browser(&'a str),
}

impl FormBinding<'_> {
    fn parts(&self) -> [&[u8]; 2] {
        match self {
            FormBinding::Session(session) => [b"session", session.id.as_str().as_bytes()],
            FormBinding::Browser(value) => [b"browser", value.as_bytes()],
        }
    }
}

/// The token a form bound to `binding` carries, under the newest key.
pub fn form_token(secret: &ServiceSecret, binding: &FormBinding) -> String {
    secret.keyed_hash(HashPurpose::FormToken, &binding.parts()).to_hex()
}

/// Whether `presented` is the token of `binding` under any current key, compared in constant
/// time. An empty browser value binds nothing and is refused.
pub fn form_token_is_valid(secret: &ServiceSecret, binding: &FormBinding, presented: &str) -> bool {
    if matches!(binding, FormBinding::Browser(value) if value.len() < 16) {
        return false;
    }
    KeyedHash::from_hex(presented).is_some_and(|hash| secret.verify(&hash, HashPurpose::FormToken, &binding.parts()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(byte: u8) -> ServiceSecret {
        ServiceSecret::new(vec![byte; 32]).unwrap()
    }

    #[test]
    fn a_token_is_valid_only_for_its_binding_and_key() {
        let browser = FormBinding::Browser("0123456789abcdef0123");
        let token = form_token(&secret(1), &browser);
        assert!(form_token_is_valid(&secret(1), &browser, &token));
        assert!(!form_token_is_valid(&secret(2), &browser, &token), "another service's key");
        assert!(!form_token_is_valid(&secret(1), &FormBinding::Browser("0123456789abcdef0124"), &token));
        assert!(!form_token_is_valid(&secret(1), &browser, &token[..62]));
        assert!(!form_token_is_valid(&secret(1), &browser, ""));
    }

    #[test]
    fn a_short_browser_value_binds_nothing() {
        let empty = FormBinding::Browser("");
        assert!(!form_token_is_valid(&secret(1), &empty, &form_token(&secret(1), &empty)));
    }
}
