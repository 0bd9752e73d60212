//! The service secret and the keyed hashes derived from it.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// What a keyed hash is for. Each purpose gets its own domain, so a hash made
/// for one (say a code) can never stand in for another (say a token).
#[derive(Debug, Clone, Copy)]
pub enum HashPurpose {
    VerificationCode,
    VerificationToken,
    /// Pseudonymous keys for rate limits, so counters hold no phone numbers or emails.
    LimitKey,
    IdempotencyKey,
    IdempotencyRequest,
    TotpEncryption,
    SessionToken,
    DeviceToken,
    RecoveryCode,
    Captcha,
    /// Codes sent for a second factor (SMS at sign-in, or to turn SMS 2FA on).
    SecondFactorCode,
}

impl HashPurpose {
    fn label(self) -> &'static [u8] {
        match self {
            HashPurpose::VerificationCode => b"verification-code",
            HashPurpose::VerificationToken => b"verification-token",
            HashPurpose::LimitKey => b"limit-key",
            HashPurpose::IdempotencyKey => b"idempotency-key",
            HashPurpose::IdempotencyRequest => b"idempotency-request",
            HashPurpose::TotpEncryption => b"totp-encryption",
            HashPurpose::SessionToken => b"session-token",
            HashPurpose::DeviceToken => b"device-token",
            HashPurpose::RecoveryCode => b"recovery-code",
            HashPurpose::SecondFactorCode => b"second-factor-code",
            HashPurpose::Captcha => b"captcha",
        }
    }
}

/// HMAC-SHA256 output, compared only in constant time.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyedHash(pub [u8; 32]);

impl KeyedHash {
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(text: &str) -> Option<Self> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(KeyedHash(bytes))
    }

    pub fn matches(&self, other: &KeyedHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl std::fmt::Debug for KeyedHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyedHash(..)")
    }
}

/// At least 32 bytes of key material, never printed.
#[derive(Clone)]
pub struct ServiceSecret(Vec<u8>);

impl ServiceSecret {
    pub const MIN_LEN: usize = 32;

    pub fn new(bytes: impl Into<Vec<u8>>) -> Option<Self> {
        let bytes = bytes.into();
        (bytes.len() >= Self::MIN_LEN).then_some(ServiceSecret(bytes))
    }

    /// HMAC over the purpose label and each part, length-prefixed so that
    /// ("ab", "c") and ("a", "bc") hash differently.
    pub fn keyed_hash(&self, purpose: HashPurpose, parts: &[&[u8]]) -> KeyedHash {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        for part in std::iter::once(purpose.label()).chain(parts.iter().copied()) {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        KeyedHash(mac.finalize().into_bytes().into())
    }
}

impl std::fmt::Debug for ServiceSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServiceSecret(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(byte: u8) -> ServiceSecret {
        ServiceSecret::new(vec![byte; 32]).unwrap()
    }

    #[test]
    fn short_secrets_are_refused() {
        assert!(ServiceSecret::new(vec![1u8; 31]).is_none());
    }

    #[test]
    fn hash_depends_on_key_purpose_and_part_boundaries() {
        let h = |s: &ServiceSecret, p, parts: &[&[u8]]| s.keyed_hash(p, parts);
        let base = h(&secret(1), HashPurpose::VerificationCode, &[b"ab", b"c"]);
        assert!(base.matches(&h(&secret(1), HashPurpose::VerificationCode, &[b"ab", b"c"])));
        assert!(!base.matches(&h(&secret(2), HashPurpose::VerificationCode, &[b"ab", b"c"])));
        assert!(!base.matches(&h(&secret(1), HashPurpose::VerificationToken, &[b"ab", b"c"])));
        assert!(!base.matches(&h(&secret(1), HashPurpose::VerificationCode, &[b"a", b"bc"])));
    }

    #[test]
    fn hex_round_trip() {
        let hash = secret(3).keyed_hash(HashPurpose::LimitKey, &[b"x"]);
        assert_eq!(KeyedHash::from_hex(&hash.to_hex()), Some(hash));
        assert_eq!(KeyedHash::from_hex("zz"), None);
    }
}
