//! Proof Key for Code Exchange (RFC 7636), S256 only: `plain` would hand the verifier to
//! whoever sees the authorization request, which is what PKCE is there to prevent.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::code::is_base64url;

/// `BASE64URL(SHA256(code_verifier))`: 43 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeChallenge(String);

const CHALLENGE_LEN: usize = 43;

impl CodeChallenge {
    /// The challenge of an authorization request, whose method must be `S256`.
    pub fn parse(challenge: &str, method: Option<&str>) -> Result<Self, &'static str> {
        if method != Some("S256") {
            return Err("code_challenge_method must be S256");
        }
        if challenge.len() != CHALLENGE_LEN || !challenge.bytes().all(is_base64url) {
            return Err("code_challenge must be the base64url SHA-256 of the code_verifier");
        }
        Ok(CodeChallenge(challenge.to_owned()))
    }

    /// A challenge read back from the store, trusted as it was written.
    pub fn stored(text: String) -> Self {
        CodeChallenge(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `verifier` (43 to 128 unreserved characters, RFC 7636 4.1) hashes to this
    /// challenge, compared in constant time.
    pub fn verify(&self, verifier: &str) -> bool {
        let unreserved = |b: u8| b.is_ascii_alphanumeric() || b"-._~".contains(&b);
        if !(43..=128).contains(&verifier.len()) || !verifier.bytes().all(unreserved) {
            return false;
        }
        let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        computed.as_bytes().ct_eq(self.0.as_bytes()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_verifier_of_rfc_7636_appendix_b_matches_its_challenge_and_nothing_else_does() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = CodeChallenge::parse("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", Some("S256")).unwrap();
        assert!(challenge.verify(verifier));
        assert!(!challenge.verify(&verifier.replace('d', "e")));
        assert!(!challenge.verify(&verifier[..42]), "too short");
        assert!(!challenge.verify(&"a".repeat(129)), "too long");
        assert!(!challenge.verify(&format!("{}+", &verifier[..42])), "not unreserved");
    }

    #[test]
    fn only_s256_challenges_of_the_right_shape_are_taken() {
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(CodeChallenge::parse(challenge, Some("plain")).is_err());
        assert!(CodeChallenge::parse(challenge, None).is_err(), "RFC 7636's default is plain");
        assert!(CodeChallenge::parse(&challenge[1..], Some("S256")).is_err());
        assert!(CodeChallenge::parse(&challenge.replace('-', "+"), Some("S256")).is_err());
    }
}
