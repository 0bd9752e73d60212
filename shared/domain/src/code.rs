//! One-time verification codes and the opaque tokens that prove a code was confirmed.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::{CryptoRng, Rng, RngCore};

use crate::error::{Error, Result};
use crate::ids::VerificationId;
use crate::secret::{HashPurpose, KeyedHash, ServiceSecret};

/// Six decimal digits, uniformly drawn from a CSPRNG (NIST SP 800-63B).
#[derive(Clone, PartialEq, Eq)]
pub struct VerificationCode(String);

impl VerificationCode {
    pub const LEN: usize = 6;

    pub fn generate(rng: &mut (impl RngCore + CryptoRng)) -> Self {
        VerificationCode(format!("{:06}", rng.gen_range(0..1_000_000u32)))
    }

    /// What a person typed: exactly six ASCII digits, after trimming spaces.
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        if text.len() != Self::LEN || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::InvalidRequest("code must be 6 digits".into()));
        }
        Ok(VerificationCode(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Keyed with the service secret and bound to one verification, so a stolen
    /// table neither reveals codes nor lets one code stand for another verification.
    pub fn hash(&self, secret: &ServiceSecret, verification_id: &VerificationId) -> KeyedHash {
        secret.keyed_hash(HashPurpose::VerificationCode, &self.hashed(verification_id))
    }

    /// Whether `stored` is this code's hash under any of the secret's keys.
    pub fn verify(&self, secret: &ServiceSecret, verification_id: &VerificationId, stored: &KeyedHash) -> bool {
        secret.verify(stored, HashPurpose::VerificationCode, &self.hashed(verification_id))
    }

    fn hashed<'a>(&'a self, verification_id: &'a VerificationId) -> [&'a [u8]; 2] {
        [verification_id.as_str().as_bytes(), self.0.as_bytes()]
    }
}

impl std::fmt::Debug for VerificationCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VerificationCode(..)")
    }
}

/// `<verification id>.<secret>`: names its verification, so it is checked with one
/// read and no index, while only a keyed hash of the secret is stored.
#[derive(Clone)]
pub struct VerificationToken {
    pub id: VerificationId,
    secret: String,
}

const TOKEN_SECRET_BYTES: usize = 32;
const TOKEN_SECRET_LEN: usize = 43;

impl VerificationToken {
    pub fn generate(id: VerificationId, rng: &mut (impl RngCore + CryptoRng)) -> Self {
        VerificationToken { id, secret: random_text(rng, TOKEN_SECRET_BYTES) }
    }

    pub fn parse(text: &str) -> Option<Self> {
        let (id, secret) = text.split_once('.')?;
        let id = VerificationId::parse(id)?;
        (secret.len() == TOKEN_SECRET_LEN && secret.bytes().all(is_base64url))
            .then(|| VerificationToken { id, secret: secret.to_owned() })
    }

    pub fn hash(&self, secret: &ServiceSecret) -> KeyedHash {
        secret.keyed_hash(HashPurpose::VerificationToken, &self.hashed())
    }

    /// Whether `stored` is this token's hash under any of the secret's keys.
    pub fn verify(&self, secret: &ServiceSecret, stored: &KeyedHash) -> bool {
        secret.verify(stored, HashPurpose::VerificationToken, &self.hashed())
    }

    fn hashed(&self) -> [&[u8]; 2] {
        [self.id.as_str().as_bytes(), self.secret.as_bytes()]
    }

    /// The text handed to the client, once.
    pub fn reveal(&self) -> String {
        format!("{}.{}", self.id.as_str(), self.secret)
    }
}

/// `bytes` random bytes as base64url text: ids and secrets handed to clients.
pub fn random_text(rng: &mut (impl RngCore + CryptoRng), bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

pub(crate) fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn secret() -> ServiceSecret {
        ServiceSecret::new(vec![7u8; 32]).unwrap()
    }

    #[test]
    fn codes_are_six_digits_spread_over_the_whole_range() {
        let mut rng = StdRng::seed_from_u64(1);
        let codes: Vec<u32> =
            (0..2000).map(|_| VerificationCode::generate(&mut rng).as_str().parse().unwrap()).collect();
        assert!(codes.iter().all(|c| *c < 1_000_000));
        // Leading zeros are kept: a code below 100000 still has six characters.
        assert!(codes.iter().any(|c| *c < 100_000));
        assert!(codes.iter().any(|c| *c > 900_000));
        let code = VerificationCode::generate(&mut rng);
        assert_eq!(code.as_str().len(), 6);
    }

    #[test]
    fn code_input_must_be_six_ascii_digits() {
        assert_eq!(VerificationCode::parse(" 012345 ").unwrap().as_str(), "012345");
        for bad in ["12345", "1234567", "12345a", "１２３４５６", "", "12 345"] {
            assert!(VerificationCode::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn code_hash_is_bound_to_its_verification() {
        let mut rng = StdRng::seed_from_u64(2);
        let (a, b) = (VerificationId::generate(&mut rng), VerificationId::generate(&mut rng));
        let code = VerificationCode::parse("123456").unwrap();
        assert!(code.hash(&secret(), &a).matches(&code.hash(&secret(), &a)));
        assert!(!code.hash(&secret(), &a).matches(&code.hash(&secret(), &b)));
        let other = VerificationCode::parse("123457").unwrap();
        assert!(!code.hash(&secret(), &a).matches(&other.hash(&secret(), &a)));
    }

    #[test]
    fn tokens_round_trip_and_reject_tampering() {
        let mut rng = StdRng::seed_from_u64(3);
        let token = VerificationToken::generate(VerificationId::generate(&mut rng), &mut rng);
        let text = token.reveal();
        let parsed = VerificationToken::parse(&text).unwrap();
        assert!(parsed.hash(&secret()).matches(&token.hash(&secret())));
        let mut tampered = text.clone().into_bytes();
        let last = tampered.len() - 1;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = VerificationToken::parse(std::str::from_utf8(&tampered).unwrap()).unwrap();
        assert!(!tampered.hash(&secret()).matches(&token.hash(&secret())));
        for bad in ["", "abc", "a.b", &text[..text.len() - 1], &format!("{text}x")] {
            assert!(VerificationToken::parse(bad).is_none(), "{bad:?}");
        }
    }
}
