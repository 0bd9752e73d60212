//! Turning two-factor authentication on: an authenticator app (TOTP) or SMS codes,
//! confirmed by a first code, with ten single-use recovery codes.

use std::time::Duration;

use rand::{CryptoRng, Rng, RngCore};

use super::account::{Account, PendingSecondFactor, SecondFactor};
use super::second_factor::{check_second_factor, recovery_code_hash, MfaMethod, SecondFactorUse};
use super::self_service::{prove_now, Proof};
use super::totp::TotpSecret;
use super::{random_text, Contact, Language, VerificationCode};
use crate::error::{Error, Result};
use crate::notices;
use crate::notify::{Message, SecurityEvent};
use crate::outbox::{Delivery, Outgoing, Resend};
use crate::secret::HashPurpose;
use crate::sms;
use crate::time::Timestamp;
use crate::Services;

const SETUP_TTL: Duration = Duration::from_secs(10 * 60);
const SETUP_RESEND_AFTER: Duration = Duration::from_secs(60);
const RECOVERY_CODES: usize = 10;

#[derive(Debug)]
pub enum SetupStarted {
    Totp { secret: String, otpauth_uri: String },
    Sms { destination: String, expires_in: u64 },
}

/// Starts setting up `method`; nothing is on until `confirm_two_factor` sees a right code.
pub async fn start_two_factor(
    services: &Services,
    account: &Account,
    method: SecondFactor,
    proof: &Proof,
    language: Language,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<SetupStarted> {
    if account.two_factor.methods.contains(&method) {
        return Err(Error::TwoFactorAlreadyEnabled);
    }
    prove_now(services, account, proof, language, now, rng).await?;
    let nonce = random_text(rng, 16);
    let mut pending = PendingSecondFactor {
        nonce: nonce.clone(),
        method,
        sealed_totp_secret: None,
        code_hash: None,
        created_at: now,
        expires_at: now.plus(SETUP_TTL),
        attempts: 0,
    };
    let started = match method {
        SecondFactor::Totp => {
            let secret = TotpSecret::generate(rng);
            pending.sealed_totp_secret = Some(secret.seal(&services.config.secret, &account.id, rng)?);
            let label = account.primary.masked();
            SetupStarted::Totp {
                secret: secret.base32(),
                otpauth_uri: secret.otpauth_uri(&services.config.totp_issuer, &label),
            }
        }
        SecondFactor::Sms => {
            let phone = account.phone().ok_or(Error::NoVerifiedPhone)?.clone();
            let charge = sms::charge(services, &phone, now).await?;
            let code = VerificationCode::generate(rng);
            pending.code_hash = Some(
                services
                    .config
                    .secret
                    .keyed_hash(HashPurpose::SecondFactorCode, &[nonce.as_bytes(), code.as_str().as_bytes()]),
            );
            let message = Outgoing {
                to: Contact::Phone(phone.clone()),
                message: Message::verification_code(&services.config.service_name, &code, SETUP_TTL, language),
                delivery: Delivery::Code { resend: Resend::SecondFactorSetup { account: account.id.clone(), nonce } },
            };
            let outbox = [message.seal(&services.config.secret, now, rng)];
            let started = services.store.start_second_factor(&account.id, &pending, SETUP_RESEND_AFTER, &outbox).await;
            if !matches!(started, Ok(true)) {
                charge.refund(services).await;
                started?;
                return Err(Error::RateLimited { retry_after: SETUP_RESEND_AFTER });
            }
            return Ok(SetupStarted::Sms { destination: phone.masked(), expires_in: SETUP_TTL.as_secs() });
        }
    };
    if !services.store.start_second_factor(&account.id, &pending, SETUP_RESEND_AFTER, &[]).await? {
        return Err(Error::RateLimited { retry_after: SETUP_RESEND_AFTER });
    }
    Ok(started)
}

#[derive(Debug)]
pub struct TwoFactorEnabled {
    pub enabled: bool,
    /// Shown once; only their hashes are kept.
    pub recovery_codes: Vec<String>,
}

/// The change `confirm_two_factor` writes, guarded by the setup's nonce.
#[derive(Debug, Clone)]
pub struct SecondFactorActivation {
    pub nonce: String,
    pub method: SecondFactor,
    pub sealed_totp_secret: Option<String>,
    pub totp_step: Option<i64>,
    pub recovery_code_hashes: Vec<String>,
}

pub async fn confirm_two_factor(
    services: &Services,
    account: &Account,
    code: &str,
    language: Language,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<TwoFactorEnabled> {
    let max = services.config.mfa_max_attempts;
    let pending = account
        .two_factor
        .pending
        .clone()
        .filter(|p| p.expires_at > now && p.attempts < max)
        .ok_or(Error::ChallengeExpired)?;
    if !services.store.count_second_factor_attempt(&account.id, &pending.nonce, max).await? {
        return Err(Error::ChallengeExpired);
    }
    let attempts_left = max.saturating_sub(pending.attempts + 1);

    // Check the code against the pending setup, as sign-in would against the finished one.
    let mut candidate = account.clone();
    candidate.two_factor.totp_secret = pending.sealed_totp_secret.clone();
    let (method, sms_code) = match pending.method {
        SecondFactor::Totp => (MfaMethod::Totp, None),
        SecondFactor::Sms => (MfaMethod::Sms, pending.code_hash.as_ref().map(|h| (pending.nonce.as_str(), h))),
    };
    let used = check_second_factor(services, &candidate, method, code, sms_code, now)?
        .ok_or(Error::InvalidCode { attempts_left })?;

    let codes = recovery_codes(rng);
    let activation = SecondFactorActivation {
        nonce: pending.nonce.clone(),
        method: pending.method,
        sealed_totp_secret: pending.sealed_totp_secret.clone(),
        totp_step: match used {
            SecondFactorUse::TotpStep(step) => Some(step),
            _ => None,
        },
        recovery_code_hashes: codes.iter().map(|c| recovery_code_hash(services, &account.id, c)).collect(),
    };
    let notices = notices::security_event(services, account, SecurityEvent::TwoFactorOn, "", language, now, rng);
    if !services.store.activate_second_factor(&account.id, &activation, &notices).await? {
        return Err(Error::ChallengeExpired);
    }
    Ok(TwoFactorEnabled { enabled: true, recovery_codes: codes })
}

/// Ten codes like `k7qm2-x9fda`: 50 random bits each, no look-alike characters.
pub fn recovery_codes(rng: &mut (impl RngCore + CryptoRng)) -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    (0..RECOVERY_CODES)
        .map(|_| {
            let chars: String = (0..10).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect();
            format!("{}-{}", &chars[..5], &chars[5..])
        })
        .collect()
}
