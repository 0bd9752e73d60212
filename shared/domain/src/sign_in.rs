//! Signing in: password, then a second factor when 2FA is on and the device is not remembered.

use std::sync::OnceLock;
use std::time::Duration;

use rand::{CryptoRng, RngCore};

use super::account::{Account, SecondFactor};
use super::limits::{LimitKey, Window};
use super::password::{Password, PasswordHasherConfig};
use super::session::{is_remembered_device, new_device, new_session, ClientInfo, SessionIssued};
use super::totp::TotpSecret;
use super::{random_text, Contact, Language, VerificationCode};
use crate::error::{Error, Result};
use crate::notify::{Message, SecurityEvent};
use crate::secret::{HashPurpose, KeyedHash};
use crate::time::Timestamp;
use crate::Services;

/// Failed sign-ins are counted in windows of this length.
const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
const SMS_RESEND_AFTER: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MfaMethod {
    Totp,
    Sms,
    RecoveryCode,
    /// Password reset only: a code confirmed on another contact of the account.
    SecondContact,
}

/// A password reset waiting for its second factor: what completing it will write.
#[derive(Debug, Clone)]
pub struct PendingReset {
    pub verification_id: super::VerificationId,
    pub token_hash: KeyedHash,
    /// The new password, already hashed: the plain text is never stored.
    pub password_hash: String,
}

/// A password that was right, waiting for the second factor.
#[derive(Debug, Clone)]
pub struct MfaChallenge {
    pub id: String,
    pub account_id: String,
    pub methods: Vec<MfaMethod>,
    pub attempts: u32,
    pub expires_at: Timestamp,
    pub sms_code_hash: Option<KeyedHash>,
    pub client: ClientInfo,
    /// Set when the challenge guards a password reset rather than a sign-in.
    pub reset: Option<PendingReset>,
}

pub struct SignInRequest {
    pub language: Language,
    pub login: Contact,
    pub password: Password,
    pub device_token: Option<String>,
    pub client: ClientInfo,
}

#[derive(Debug)]
pub enum SignInOutcome {
    SignedIn(SessionIssued),
    MfaRequired(SecondFactorRequired),
}

/// A password that was right (or a reset token that was good): the challenge that waits for
/// one of `methods`.
#[derive(Debug)]
pub struct SecondFactorRequired {
    pub challenge_id: String,
    pub methods: Vec<MfaMethod>,
}

/// What an unknown login is checked against, so it costs what a known one costs
/// and the answer time does not tell whether the account exists.
fn dummy_hash(hasher: &PasswordHasherConfig) -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hasher.hash(&Password::new("dummy password for unknown logins")).expect("argon2 parameters"))
}

pub async fn sign_in(
    services: &Services,
    request: SignInRequest,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<SignInOutcome> {
    let config = &services.config;
    let window = Window::containing(now, FAILURE_WINDOW);
    let mut throttles =
        vec![(LimitKey::new(&config.secret, "sign-in", &request.login.canonical()), config.sign_in_failures_per_login)];
    if let Some(ip) = &request.client.ip {
        throttles.push((LimitKey::new(&config.secret, "sign-in-ip", ip), config.sign_in_failures_per_ip));
    }
    let keys: Vec<LimitKey> = throttles.iter().map(|(key, _)| key.clone()).collect();
    let (owner, failures) = services.store.sign_in_lookup(&request.login, &keys, window).await?;
    if throttles.iter().zip(&failures).any(|((_, max), count)| count >= max) {
        return Err(Error::RateLimited { retry_after: window.end.remaining_from(now).max(Duration::from_secs(1)) });
    }

    let account = match &owner {
        Some(id) => services.store.account(id).await?,
        None => None,
    };
    let hasher = &config.password_hasher;
    let password_ok = match &account {
        Some(account) => hasher.verify(&request.password, &account.password_hash)?,
        None => {
            hasher.verify(&request.password, dummy_hash(hasher))?;
            false
        }
    };
    let Some(account) = account.filter(|_| password_ok) else {
        for key in &keys {
            services.store.count_failure(key, window).await?;
        }
        return Err(Error::InvalidCredentials);
    };

    let remembered = match &request.device_token {
        Some(token) if account.two_factor_enabled() => is_remembered_device(services, &account, token, now).await?,
        _ => false,
    };
    if account.two_factor_enabled() && !remembered {
        let challenge = MfaChallenge {
            id: random_text(rng, 16),
            account_id: account.id.clone(),
            methods: challenge_methods(&account),
            attempts: 0,
            expires_at: now.plus(config.mfa_challenge_ttl),
            sms_code_hash: None,
            client: request.client,
            reset: None,
        };
        services.store.put_challenge(&challenge).await?;
        return Ok(SignInOutcome::MfaRequired(SecondFactorRequired {
            challenge_id: challenge.id,
            methods: challenge.methods,
        }));
    }
    if !remembered {
        tell_new_device(services, &account, &request.client, request.language).await;
    }
    let (session, issued) = new_session(services, &account, request.client, now, rng);
    services.store.put_session(&session).await?;
    Ok(SignInOutcome::SignedIn(issued))
}

/// A sign-in from a device that is not remembered is told to the owner, with the network it came from.
async fn tell_new_device(services: &Services, account: &Account, client: &ClientInfo, language: Language) {
    let network = client.ip.as_deref().and_then(super::self_service::coarse_ip).unwrap_or_default();
    let notice =
        Message::security_notice(&services.config.service_name, SecurityEvent::NewDeviceSignIn, &network, language);
    super::contacts::notify_quietly(services, &account.primary, &notice).await;
}

fn challenge_methods(account: &Account) -> Vec<MfaMethod> {
    let mut methods: Vec<MfaMethod> = account
        .two_factor
        .methods
        .iter()
        .map(|m| match m {
            SecondFactor::Totp => MfaMethod::Totp,
            SecondFactor::Sms => MfaMethod::Sms,
        })
        .collect();
    if !account.two_factor.recovery_codes.is_empty() {
        methods.push(MfaMethod::RecoveryCode);
    }
    methods
}

#[derive(Debug)]
pub struct SmsCodeSent {
    pub destination: String,
    pub resend_after: u64,
}

/// Sends a code for a challenge (sign-in or password reset) by SMS to the account's verified phone.
pub async fn send_challenge_sms(
    services: &Services,
    challenge_id: &str,
    language: Language,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<SmsCodeSent> {
    let challenge =
        services.store.challenge(challenge_id).await?.filter(|c| c.expires_at > now).ok_or(Error::ChallengeExpired)?;
    if !challenge.methods.contains(&MfaMethod::Sms) {
        return Err(Error::InvalidRequest("this challenge cannot be answered by SMS".into()));
    }
    let account = services.store.account(&challenge.account_id).await?.ok_or(Error::ChallengeExpired)?;
    let phone = account.phone().ok_or(Error::NoVerifiedPhone)?.clone();
    super::verification::check_sms_country(services, &phone)?;
    let code = VerificationCode::generate(rng);
    let hash = services
        .config
        .secret
        .keyed_hash(HashPurpose::SecondFactorCode, &[challenge.id.as_bytes(), code.as_str().as_bytes()]);
    if !services.store.set_challenge_sms(&challenge.id, &hash, now, SMS_RESEND_AFTER).await? {
        return Err(Error::RateLimited { retry_after: SMS_RESEND_AFTER });
    }
    let lifetime = challenge.expires_at.remaining_from(now);
    let message = Message::verification_code(&services.config.service_name, &code, lifetime, language);
    services.notifier.send(&Contact::Phone(phone.clone()), &message).await?;
    super::verification::count_sms_sent(&phone);
    Ok(SmsCodeSent { destination: phone.masked(), resend_after: SMS_RESEND_AFTER.as_secs() })
}

pub struct MfaAnswer {
    pub language: Language,
    pub challenge_id: String,
    pub method: MfaMethod,
    pub code: String,
    pub remember_device: bool,
}

#[derive(Debug)]
pub struct MfaSignedIn {
    pub session: SessionIssued,
    /// When the device is to be remembered.
    pub device_token: Option<String>,
}

/// What answering a challenge uses up, written in the transaction that signs in.
#[derive(Debug, Clone)]
pub enum SecondFactorUse {
    /// TOTP codes: the step, so no code is accepted twice.
    TotpStep(i64),
    /// Recovery codes: the hash of the code, removed from the account.
    RecoveryCode(String),
    Sms,
}

/// A typed recovery code as it is hashed: case, spaces and dashes do not matter.
fn normalised_recovery_code(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase()
}

pub fn recovery_code_hash(services: &Services, account_id: &str, code: &str) -> String {
    let normalised = normalised_recovery_code(code);
    services
        .config
        .secret
        .keyed_hash(HashPurpose::RecoveryCode, &[account_id.as_bytes(), normalised.as_bytes()])
        .to_hex()
}

/// Checks a second-factor code for `account`; every caller has counted the attempt first.
pub fn check_second_factor(
    services: &Services,
    account: &Account,
    method: MfaMethod,
    code: &str,
    sms_code: Option<(&str, &KeyedHash)>,
    now: Timestamp,
) -> Result<Option<SecondFactorUse>> {
    let code = code.trim();
    Ok(match method {
        MfaMethod::Totp => {
            let Some(sealed) = &account.two_factor.totp_secret else { return Ok(None) };
            // Sealed under a retired key: the person has to use another way in.
            let secret = match TotpSecret::open(&services.config.secret, &account.id, sealed) {
                Ok(secret) => secret,
                Err(error) => {
                    tracing::error!(%error, "TOTP secret unreadable; the code is refused");
                    return Ok(None);
                }
            };
            secret.matching_step(code, now, account.two_factor.totp_last_step).map(SecondFactorUse::TotpStep)
        }
        MfaMethod::Sms => sms_code.and_then(|(salt, stored)| {
            let parts: [&[u8]; 2] = [salt.as_bytes(), code.as_bytes()];
            services.config.secret.verify(stored, HashPurpose::SecondFactorCode, &parts).then_some(SecondFactorUse::Sms)
        }),
        MfaMethod::RecoveryCode => {
            // Under every key, so codes made before a rotation still work; the stored hash that
            // matched is the one the sign-in removes.
            let normalised = normalised_recovery_code(code);
            let hashes = services
                .config
                .secret
                .keyed_hashes(HashPurpose::RecoveryCode, &[account.id.as_bytes(), normalised.as_bytes()]);
            let known = account.two_factor.recovery_codes.iter().find(|stored| {
                KeyedHash::from_hex(stored).is_some_and(|stored| hashes.iter().any(|hash| hash.matches(&stored)))
            });
            known.map(|stored| SecondFactorUse::RecoveryCode(stored.clone()))
        }
        MfaMethod::SecondContact => None,
    })
}

pub async fn complete_sign_in(
    services: &Services,
    answer: MfaAnswer,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<MfaSignedIn> {
    let config = &services.config;
    let challenge = services
        .store
        .count_challenge_attempt(&answer.challenge_id, now, config.mfa_max_attempts)
        .await?
        .ok_or(Error::ChallengeExpired)?;
    if !challenge.methods.contains(&answer.method) || challenge.reset.is_some() {
        return Err(Error::InvalidRequest("this method is not available for this sign-in".into()));
    }
    let account = services.store.account(&challenge.account_id).await?.ok_or(Error::ChallengeExpired)?;
    let sms_code = challenge.sms_code_hash.as_ref().map(|hash| (challenge.id.as_str(), hash));
    let attempts_left = config.mfa_max_attempts.saturating_sub(challenge.attempts);
    let used = check_second_factor(services, &account, answer.method, &answer.code, sms_code, now)?
        .ok_or(Error::InvalidCode { attempts_left })?;

    // A TOTP secret sealed under a key from before a rotation moves to the current key here,
    // in the write every TOTP sign-in makes, so an old key can one day be retired.
    let sealed = account.two_factor.totp_secret.as_deref().filter(|_| matches!(used, SecondFactorUse::TotpStep(_)));
    let resealed = match sealed {
        Some(sealed) => TotpSecret::reseal(&config.secret, &account.id, sealed, rng)?,
        None => None,
    };
    let (session, issued) = new_session(services, &account, challenge.client.clone(), now, rng);
    let device = answer.remember_device.then(|| new_device(services, &account, now, rng));
    services
        .store
        .complete_challenge(
            &challenge,
            &session,
            &used,
            sealed.zip(resealed.as_deref()),
            device.as_ref().map(|(record, _)| record),
        )
        .await
        // A concurrent sign-in used the same TOTP step or recovery code first.
        .map_err(|e| if let Error::InvalidCode { .. } = e { Error::InvalidCode { attempts_left } } else { e })?;
    tell_new_device(services, &account, &challenge.client, answer.language).await;
    Ok(MfaSignedIn { session: issued, device_token: device.map(|(_, token)| token) })
}
