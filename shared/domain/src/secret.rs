//! The service secret and the keyed hashes derived from it.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::{CryptoRng, RngCore};
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
    /// The key that seals a message waiting in the outbox.
    MessageEncryption,
    /// A hosted page's form token (`forms`).
    FormToken,
    /// An OpenID Connect client's secret (`oidc::client`).
    ClientSecret,
    AuthorizationCode,
    RefreshToken,
    /// The key that seals the account inside an access token (`oidc::claims`).
    AccessTokenAccount,
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
            HashPurpose::MessageEncryption => b"message-encryption",
            HashPurpose::FormToken => b"form-token",
            HashPurpose::ClientSecret => b"oidc-client-secret",
            HashPurpose::AuthorizationCode => b"oidc-authorization-code",
            HashPurpose::RefreshToken => b"oidc-refresh-token",
            HashPurpose::AccessTokenAccount => b"oidc-access-token-account",
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

/// The service's keys, never printed. The current key makes every new hash and sealed secret;
/// the others, kept from before a rotation, are still accepted, so nothing made under them
/// breaks. A warm function swaps in a re-read keyring (`App::refresh_secret`), hence the lock.
#[derive(Clone)]
pub struct ServiceSecret(Arc<RwLock<Keyring>>);

#[derive(Clone)]
struct Keyring {
    current: Key,
    older: Vec<Key>,
}

#[derive(Clone)]
struct Key(Vec<u8>);

impl Key {
    fn hash(&self, purpose: HashPurpose, parts: &[&[u8]]) -> KeyedHash {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.0).expect("HMAC takes any key length");
        for part in std::iter::once(purpose.label()).chain(parts.iter().copied()) {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        KeyedHash(mac.finalize().into_bytes().into())
    }
}

impl ServiceSecret {
    pub const MIN_LEN: usize = 32;

    /// For unit tests: one key of these bytes (`parse` takes the secret's text).
    #[cfg(test)]
    pub fn new(bytes: impl Into<Vec<u8>>) -> Option<Self> {
        let bytes = bytes.into();
        (bytes.len() >= Self::MIN_LEN).then(|| Self::from_keyring(Keyring { current: Key(bytes), older: vec![] }))
    }

    /// The secret's text: one key of at least 32 bytes, or a keyring `Document`
    /// (`{"current": "2", "1": "<key>", "2": "<key>"}`). Errors never quote a key.
    pub fn parse(text: &str) -> Result<Self, String> {
        let document = Document::parse(text)?;
        let mut older = Vec::new();
        let mut current = None;
        for (id, key) in document.keys {
            if key.len() < Self::MIN_LEN {
                return Err(format!("key {id:?} must be at least {} bytes", Self::MIN_LEN));
            }
            let key = Key(key.into_bytes());
            if id == document.current {
                current = Some(key);
            } else {
                older.push(key);
            }
        }
        let current = current.ok_or_else(|| format!("\"current\" names {:?}, which is not a key", document.current))?;
        Ok(Self::from_keyring(Keyring { current, older }))
    }

    fn from_keyring(keyring: Keyring) -> Self {
        ServiceSecret(Arc::new(RwLock::new(keyring)))
    }

    fn keyring(&self) -> std::sync::RwLockReadGuard<'_, Keyring> {
        self.0.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Puts `other`'s keys in place of these, for everyone holding this secret.
    pub fn replace_keys(&self, other: &ServiceSecret) {
        let keyring = other.keyring().clone();
        *self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner) = keyring;
    }

    /// HMAC under the current key over the purpose label and each part, length-prefixed so
    /// that ("ab", "c") and ("a", "bc") hash differently.
    pub fn keyed_hash(&self, purpose: HashPurpose, parts: &[&[u8]]) -> KeyedHash {
        self.keyring().current.hash(purpose, parts)
    }

    /// The same hash under every key, the current key's first: what something made before a
    /// rotation is checked against.
    pub fn keyed_hashes(&self, purpose: HashPurpose, parts: &[&[u8]]) -> Vec<KeyedHash> {
        let keyring = self.keyring();
        std::iter::once(&keyring.current).chain(&keyring.older).map(|key| key.hash(purpose, parts)).collect()
    }

    /// Whether `stored` is the hash of `parts` under any key (each compared in constant time).
    pub fn verify(&self, stored: &KeyedHash, purpose: HashPurpose, parts: &[&[u8]]) -> bool {
        self.keyed_hashes(purpose, parts).iter().any(|hash| hash.matches(stored))
    }

    /// `plaintext` encrypted (AES-256-GCM, a random nonce) under the current key's key for
    /// `purpose`, bound to `context`: a sealed value copied to another record does not open.
    pub fn seal(
        &self,
        purpose: HashPurpose,
        context: &[u8],
        plaintext: &[u8],
        rng: &mut (impl RngCore + CryptoRng),
    ) -> String {
        let mut nonce = [0u8; 12];
        rng.fill_bytes(&mut nonce);
        let sealed = cipher(&self.keyed_hash(purpose, &[]))
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: context })
            .expect("AES-GCM encrypts any message under 64 GiB");
        STANDARD.encode([nonce.as_slice(), &sealed].concat())
    }

    /// What `seal` sealed, under whichever key sealed it, and whether that is the current key;
    /// `None` when no key opens it (tampered with, another context, or a retired key).
    pub fn open(&self, purpose: HashPurpose, context: &[u8], sealed: &str) -> Option<(Vec<u8>, bool)> {
        let bytes = STANDARD.decode(sealed).ok().filter(|b| b.len() >= 12)?;
        let (nonce, ciphertext) = bytes.split_at(12);
        self.keyed_hashes(purpose, &[]).iter().enumerate().find_map(|(i, key)| {
            let payload = Payload { msg: ciphertext, aad: context };
            cipher(key).decrypt(Nonce::from_slice(nonce), payload).ok().map(|plain| (plain, i == 0))
        })
    }
}

fn cipher(key: &KeyedHash) -> Aes256Gcm {
    Aes256Gcm::new_from_slice(&key.0).expect("a 32-byte key")
}

impl std::fmt::Debug for ServiceSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServiceSecret(..)")
    }
}

/// A keyring as Secrets Manager holds it: one flat JSON object of strings, so the stack can
/// generate it and a person can read which keys exist. `current` names the key in use.
#[derive(Clone, PartialEq)]
pub struct Document {
    pub current: String,
    pub keys: BTreeMap<String, String>,
}

/// The ids only: a document holds keys.
impl std::fmt::Debug for Document {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Document").field("current", &self.current).field("ids", &self.keys.keys()).finish()
    }
}

impl Document {
    /// The field that names the current key; every other field is a key.
    const CURRENT: &'static str = "current";

    /// A document, or a single-key secret (plain text) as a document of key "1".
    pub fn parse(text: &str) -> Result<Self, String> {
        if !text.trim_start().starts_with('{') {
            return Ok(Document { current: "1".into(), keys: BTreeMap::from([("1".into(), text.to_owned())]) });
        }
        // serde_json's errors name a line and column, and at most a value that is not a string.
        let mut keys: BTreeMap<String, String> =
            serde_json::from_str(text).map_err(|e| format!("not a keyring document: {e}"))?;
        let current = keys.remove(Self::CURRENT).ok_or("the keyring document has no \"current\"")?;
        Ok(Document { current, keys })
    }

    pub fn to_text(&self) -> String {
        let mut fields: BTreeMap<&str, &str> = self.keys.iter().map(|(id, key)| (id.as_str(), key.as_str())).collect();
        fields.insert(Self::CURRENT, &self.current);
        serde_json::to_string(&fields).expect("a map of strings serialises")
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
    fn a_keyring_hashes_with_its_current_key_and_verifies_with_every_key() {
        let (one, two) = ("1".repeat(32), "2".repeat(32));
        let keyring = ServiceSecret::parse(&format!(r#"{{"current": "b", "a": "{one}", "b": "{two}"}}"#)).unwrap();
        let parts: &[&[u8]] = &[b"x"];
        let under_one = ServiceSecret::parse(&one).unwrap().keyed_hash(HashPurpose::SessionToken, parts);
        let under_two = ServiceSecret::parse(&two).unwrap().keyed_hash(HashPurpose::SessionToken, parts);
        assert!(keyring.keyed_hash(HashPurpose::SessionToken, parts).matches(&under_two));
        assert!(keyring.verify(&under_one, HashPurpose::SessionToken, parts));
        assert!(keyring.verify(&under_two, HashPurpose::SessionToken, parts));
        assert!(!keyring.verify(&under_two, HashPurpose::DeviceToken, parts));

        let holder = keyring.clone();
        keyring.replace_keys(&ServiceSecret::parse(&one).unwrap());
        assert!(holder.keyed_hash(HashPurpose::SessionToken, parts).matches(&under_one), "every holder sees new keys");
        assert!(!holder.verify(&under_two, HashPurpose::SessionToken, parts));
    }

    #[test]
    fn a_bad_keyring_is_refused_without_quoting_a_key() {
        let key = "k".repeat(32);
        for (text, expected) in [
            (format!(r#"{{"current": "2", "1": "{key}"}}"#), "names \"2\", which is not a key"),
            (format!(r#"{{"1": "{key}"}}"#), "no \"current\""),
            (r#"{"current": "1", "1": "short-key"}"#.to_owned(), "at least 32 bytes"),
            (format!(r#"{{"current": "1", "1": "{key}", "2": 5}}"#), "expected a string"),
            (format!(r#"{{"current": "1", "1": "{key}""#), "not a keyring document"),
        ] {
            let error = ServiceSecret::parse(&text).expect_err("refused");
            assert!(error.contains(expected), "{error}");
            assert!(!error.contains(&key) && !error.contains("short-key"), "{error}");
        }
    }

    #[test]
    fn hex_round_trip() {
        let hash = secret(3).keyed_hash(HashPurpose::LimitKey, &[b"x"]);
        assert_eq!(KeyedHash::from_hex(&hash.to_hex()), Some(hash));
        assert_eq!(KeyedHash::from_hex("zz"), None);
    }
}
