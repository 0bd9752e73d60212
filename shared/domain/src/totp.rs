//! Authenticator-app codes (RFC 6238: SHA-1, 6 digits, 30 s) and the encryption of
//! their secrets at rest.

use rand::{CryptoRng, RngCore};
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Secret, TOTP};

use crate::error::{Error, Result};
use crate::secret::{HashPurpose, ServiceSecret};
use crate::time::Timestamp;
use crate::AccountId;

const STEP_SECS: u64 = 30;
const SECRET_BYTES: usize = 20;

/// A TOTP shared secret, held in memory only while it is used.
pub struct TotpSecret(Vec<u8>);

impl TotpSecret {
    pub fn generate(rng: &mut (impl RngCore + CryptoRng)) -> Self {
        let mut bytes = vec![0u8; SECRET_BYTES];
        rng.fill_bytes(&mut bytes);
        TotpSecret(bytes)
    }

    fn totp(&self, issuer: &str, account_name: &str) -> TOTP {
        TOTP::new_unchecked(
            Algorithm::SHA1,
            6,
            1,
            STEP_SECS,
            self.0.clone(),
            Some(issuer.to_owned()),
            account_name.to_owned(),
        )
    }

    /// The base32 text a person types into an authenticator app.
    pub fn base32(&self) -> String {
        Secret::Raw(self.0.clone()).to_encoded().to_string()
    }

    /// `otpauth://totp/...`, what a QR code on the 2FA page encodes.
    pub fn otpauth_uri(&self, issuer: &str, account_name: &str) -> String {
        self.totp(issuer, account_name).get_url()
    }

    /// The time step `code` is valid for, among the current one and one either side
    /// (clock drift), provided it is later than `last_used_step`, so a code is never
    /// accepted twice.
    pub fn matching_step(&self, code: &str, now: Timestamp, last_used_step: i64) -> Option<i64> {
        let totp = self.totp("", "");
        let current = now.0.div_euclid(STEP_SECS as i64);
        (current - 1..=current + 1).filter(|step| *step > last_used_step && *step >= 0).find(|step| {
            let expected = totp.generate(*step as u64 * STEP_SECS);
            bool::from(expected.as_bytes().ct_eq(code.as_bytes()))
        })
    }

    /// AES-256-GCM under a key derived from the service secret, bound to the account,
    /// so a secret copied onto another account does not decrypt.
    pub fn seal(
        &self,
        service: &ServiceSecret,
        account_id: &AccountId,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<String> {
        Ok(service.seal(HashPurpose::TotpEncryption, account_id.as_str().as_bytes(), &self.0, rng))
    }

    /// Opens a sealed secret under whichever of the service's keys sealed it.
    pub fn open(service: &ServiceSecret, account_id: &AccountId, sealed: &str) -> Result<Self> {
        Self::open_under_any_key(service, account_id, sealed).map(|(secret, _)| secret)
    }

    /// The secret sealed again under the current key, when an older key (from before a
    /// rotation) sealed it; None when it is already under the current key.
    pub fn reseal(
        service: &ServiceSecret,
        account_id: &AccountId,
        sealed: &str,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<Option<String>> {
        match Self::open_under_any_key(service, account_id, sealed)? {
            (_, true) => Ok(None),
            (secret, false) => secret.seal(service, account_id, rng).map(Some),
        }
    }

    /// The secret, and whether the current key (tried first) opened it.
    fn open_under_any_key(service: &ServiceSecret, account_id: &AccountId, sealed: &str) -> Result<(Self, bool)> {
        service
            .open(HashPurpose::TotpEncryption, account_id.as_str().as_bytes(), sealed)
            .map(|(bytes, current)| (TotpSecret(bytes), current))
            .ok_or_else(|| {
                Error::Internal("TOTP secret opens under no key of the service secret (a retired key?)".into())
            })
    }

    #[cfg(test)]
    fn code_at(&self, at: Timestamp) -> String {
        self.totp("", "").generate(at.0 as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn rfc_6238_vector() {
        // RFC 6238 appendix B, SHA-1, truncated to 6 digits: 94287082 at T = 59.
        let secret = TotpSecret(b"12345678901234567890".to_vec());
        assert_eq!(secret.code_at(Timestamp(59)), "287082");
        assert_eq!(secret.matching_step("287082", Timestamp(59), -1), Some(1));
    }

    #[test]
    fn one_step_of_drift_each_way_and_never_twice() {
        let secret = TotpSecret::generate(&mut StdRng::seed_from_u64(1));
        let now = Timestamp(1_800_000_000);
        let step = now.0 / 30;
        for (at, expected) in [(now.0 - 30, step - 1), (now.0, step), (now.0 + 30, step + 1)] {
            assert_eq!(secret.matching_step(&secret.code_at(Timestamp(at)), now, 0), Some(expected));
        }
        assert_eq!(secret.matching_step(&secret.code_at(Timestamp(now.0 - 60)), now, 0), None);
        assert_eq!(secret.matching_step(&secret.code_at(Timestamp(now.0 + 60)), now, 0), None);
        // Used once at `step`: the same code, or an older one, is refused.
        assert_eq!(secret.matching_step(&secret.code_at(now), now, step), None);
        assert_eq!(secret.matching_step(&secret.code_at(Timestamp(now.0 - 30)), now, step), None);
    }

    #[test]
    fn sealed_secrets_open_only_for_their_account_and_key() {
        let mut rng = StdRng::seed_from_u64(2);
        let service = ServiceSecret::new(vec![9u8; 32]).unwrap();
        let secret = TotpSecret::generate(&mut rng);
        let sealed = secret.seal(&service, &AccountId::stored("account-a".into()), &mut rng).unwrap();
        assert!(!sealed.contains(&secret.base32()));
        assert_eq!(TotpSecret::open(&service, &AccountId::stored("account-a".into()), &sealed).unwrap().0, secret.0);
        assert!(TotpSecret::open(&service, &AccountId::stored("account-b".into()), &sealed).is_err());
        let other = ServiceSecret::new(vec![8u8; 32]).unwrap();
        assert!(TotpSecret::open(&other, &AccountId::stored("account-a".into()), &sealed).is_err());
    }

    #[test]
    fn a_secret_sealed_before_a_rotation_opens_and_is_resealed_under_the_current_key() {
        let mut rng = StdRng::seed_from_u64(4);
        let old = "k".repeat(32);
        let before = ServiceSecret::parse(&old).unwrap();
        let secret = TotpSecret::generate(&mut rng);
        let sealed = secret.seal(&before, &AccountId::stored("account-a".into()), &mut rng).unwrap();
        assert_eq!(
            TotpSecret::reseal(&before, &AccountId::stored("account-a".into()), &sealed, &mut rng).unwrap(),
            None
        );

        let rotated =
            ServiceSecret::parse(&format!(r#"{{"current":"2","1":"{old}","2":"{}"}}"#, "n".repeat(32))).unwrap();
        assert_eq!(TotpSecret::open(&rotated, &AccountId::stored("account-a".into()), &sealed).unwrap().0, secret.0);
        let resealed = TotpSecret::reseal(&rotated, &AccountId::stored("account-a".into()), &sealed, &mut rng)
            .unwrap()
            .expect("resealed");
        assert!(
            TotpSecret::open(&before, &AccountId::stored("account-a".into()), &resealed).is_err(),
            "under the new key only"
        );
        assert_eq!(TotpSecret::open(&rotated, &AccountId::stored("account-a".into()), &resealed).unwrap().0, secret.0);
        assert_eq!(
            TotpSecret::reseal(&rotated, &AccountId::stored("account-a".into()), &resealed, &mut rng).unwrap(),
            None
        );
    }

    #[test]
    fn otpauth_uri_names_issuer_and_account() {
        let secret = TotpSecret::generate(&mut StdRng::seed_from_u64(3));
        let uri = secret.otpauth_uri("Mi Account", "+91 ******5678");
        assert!(uri.starts_with("otpauth://totp/Mi%20Account:"), "{uri}");
        assert!(uri.contains(&format!("secret={}", secret.base32())), "{uri}");
        assert_eq!(secret.base32().len(), 32);
    }
}
