//! Signing in: password, then a second factor when 2FA is on and the device is not remembered.

use std::sync::OnceLock;
use std::time::Duration;

use rand::{CryptoRng, RngCore};

use super::limits::{self, LimitKey, Window, FAILURE_WINDOW};
use super::password::{Password, PasswordHash, PasswordHasherConfig};
use super::second_factor::{self, check_second_factor, counted_check, MfaChallenge, MfaMethod, SecondFactorUse};
use super::session::{is_remembered_device, new_device, new_session, AccountToken, ClientInfo, SessionIssued};
use super::totp::TotpSecret;
use super::{AccountId, ChallengeId, Contact, DeviceId, Language, VerificationCode};
use crate::error::{Error, Result};
use crate::notices;
use crate::notify::Message;
use crate::oidc::decision::Amr;
use crate::outbox::{Delivery, Outgoing, Resend};
use crate::secret::HashPurpose;
use crate::sms;
use crate::time::Timestamp;
use crate::Services;

const SMS_RESEND_AFTER: Duration = Duration::from_secs(60);

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
    pub challenge_id: ChallengeId,
    pub methods: Vec<MfaMethod>,
}

/// What an unknown login is checked against, so it costs what a known one costs
/// and the answer time does not tell whether the account exists.
fn dummy_hash(hasher: &PasswordHasherConfig) -> &'static PasswordHash {
    static DUMMY: OnceLock<PasswordHash> = OnceLock::new();
    DUMMY.get_or_init(|| hasher.hash(&Password::new("dummy password for unknown logins")).expect("argon2 parameters"))
}

/// Counts the attempt against its budgets before the password is checked, so concurrent
/// guesses get no more than the limit, and gives it back when the password was right. The
/// budgets: the login's and the client IP's, or, for a remembered device, the device's own,
/// so a stranger's failures do not lock the owner out on their own device.
pub async fn sign_in(
    services: &Services,
    request: SignInRequest,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<SignInOutcome> {
    let config = &services.config;
    let token = request.device_token.as_deref().and_then(AccountToken::<DeviceId>::parse);
    let (owner, device) =
        services.store.sign_in_lookup(&request.login, token.as_ref().map(|t| (&t.account_id, &t.id))).await?;
    // An unknown login reads an account that does not exist: the same requests as a known one.
    let account = services.store.account(&owner.unwrap_or_else(|| AccountId::generate(rng))).await?;
    let remembered = match (&account, &token, &device) {
        (Some(account), Some(token), Some(device)) => (account.two_factor_enabled()
            && is_remembered_device(services, account, token, device, now))
        .then_some(device),
        _ => None,
    };

    let window = Window::containing(now, FAILURE_WINDOW);
    let secret = &config.secret;
    let mut budgets = Vec::new();
    match remembered {
        Some(device) => {
            budgets
                .push((LimitKey::new(secret, "sign-in-device", device.id.as_str()), config.sign_in_failures_per_login));
        }
        None => {
            let login = LimitKey::new(secret, "sign-in", &request.login.canonical());
            budgets.push((login, config.sign_in_failures_per_login));
            if let Some(ip) = &request.client.ip {
                budgets.push((LimitKey::for_client(secret, "sign-in-ip", ip), config.sign_in_failures_per_ip));
            }
        }
    }
    limits::count_attempt(&*services.store, &budgets, window, now).await?;

    let hasher = &config.password_hasher;
    let password_ok = match &account {
        Some(account) => hasher.verify(&request.password, &account.password_hash)?,
        None => {
            hasher.verify(&request.password, dummy_hash(hasher))?;
            false
        }
    };
    let Some(account) = account.filter(|_| password_ok) else { return Err(Error::InvalidCredentials) };
    let keys: Vec<LimitKey> = budgets.into_iter().map(|(key, _)| key).collect();
    services.store.refund(&keys, window).await;

    if account.two_factor_enabled() && remembered.is_none() {
        second_factor::ensure_guesses_left(services, &account.id, now).await?;
        let challenge = MfaChallenge {
            id: ChallengeId::generate(rng),
            account_id: account.id.clone(),
            methods: second_factor::challenge_methods(&account),
            attempts: 0,
            epoch: account.session_epoch,
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
    let notices = match remembered {
        Some(_) => Vec::new(),
        None => notices::new_device_sign_in(services, &account, &request.client, request.language, now, rng),
    };
    // A remembered device stands in for the second factor here, but is no factor an app is told of.
    let (session, issued) = new_session(services, &account, request.client, vec![Amr::Pwd], now, rng);
    services.store.put_session(&session, &notices).await?;
    Ok(SignInOutcome::SignedIn(issued))
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
    let challenge = services
        .store
        .challenge(&second_factor::challenge_id(challenge_id)?)
        .await?
        .filter(|c| c.expires_at > now)
        .ok_or(Error::ChallengeExpired)?;
    if !challenge.methods.contains(&MfaMethod::Sms) {
        return Err(Error::InvalidRequest("this challenge cannot be answered by SMS".into()));
    }
    let account = challenge.account(services).await?;
    let phone = account.phone().ok_or(Error::NoVerifiedPhone)?.clone();
    let charge = sms::charge(services, &phone, now).await?;
    let code = VerificationCode::generate(rng);
    let hash = services
        .config
        .secret
        .keyed_hash(HashPurpose::SecondFactorCode, &[challenge.id.as_str().as_bytes(), code.as_str().as_bytes()]);
    let lifetime = challenge.expires_at.remaining_from(now);
    let message = Outgoing {
        to: Contact::Phone(phone.clone()),
        message: Message::verification_code(&services.config.service_name, &code, lifetime, language),
        delivery: Delivery::Code { resend: Resend::Challenge { id: challenge.id.clone(), code_hash: hash.to_hex() } },
    };
    let outbox = [message.seal(&services.config.secret, now, rng)];
    let set = services.store.set_challenge_sms(&challenge.id, &hash, now, SMS_RESEND_AFTER, &outbox).await;
    if !matches!(set, Ok(true)) {
        charge.refund(services).await;
        set?;
        return Err(Error::RateLimited { retry_after: SMS_RESEND_AFTER });
    }
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

pub async fn complete_sign_in(
    services: &Services,
    answer: MfaAnswer,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<MfaSignedIn> {
    let config = &services.config;
    let challenge = services
        .store
        .count_challenge_attempt(&second_factor::challenge_id(&answer.challenge_id)?, now, config.mfa_max_attempts)
        .await?
        .ok_or(Error::ChallengeExpired)?;
    if !challenge.methods.contains(&answer.method) || challenge.reset.is_some() {
        return Err(Error::InvalidRequest("this method is not available for this sign-in".into()));
    }
    let account = challenge.account(services).await?;
    let sms_code = challenge.sms_code_hash.as_ref().map(|hash| (challenge.id.as_str(), hash));
    let attempts_left = config.mfa_max_attempts.saturating_sub(challenge.attempts);
    let check = || check_second_factor(services, &account, answer.method, &answer.code, sms_code, now);
    let used = counted_check(services, &account, answer.language, now, rng, check)
        .await?
        .ok_or(Error::InvalidCode { attempts_left })?;

    // A TOTP secret sealed under a key from before a rotation moves to the current key here,
    // in the write every TOTP sign-in makes, so an old key can one day be retired.
    let sealed = account.two_factor.totp_secret.as_deref().filter(|_| matches!(used, SecondFactorUse::TotpStep(_)));
    let resealed = match sealed {
        Some(sealed) => TotpSecret::reseal(&config.secret, &account.id, sealed, rng)?,
        None => None,
    };
    let amr = vec![Amr::Pwd, second_factor_amr(answer.method), Amr::Mfa];
    let (session, issued) = new_session(services, &account, challenge.client.clone(), amr, now, rng);
    let device = answer.remember_device.then(|| new_device(services, &account, now, rng));
    let notices = notices::new_device_sign_in(services, &account, &challenge.client, answer.language, now, rng);
    services
        .store
        .complete_challenge(
            &challenge,
            &session,
            &used,
            sealed.zip(resealed.as_deref()),
            device.as_ref().map(|(record, _)| record),
            &notices,
        )
        .await
        // A concurrent sign-in used the same TOTP step or recovery code first.
        .map_err(|e| if let Error::InvalidCode { .. } = e { Error::InvalidCode { attempts_left } } else { e })?;
    Ok(MfaSignedIn { session: issued, device_token: device.map(|(_, token)| token) })
}

/// RFC 8176's name for a second factor: an authenticator app's code is `otp`, an SMS code `sms`;
/// a recovery code (NIST's look-up secret) and a code sent to the other contact count as `otp`.
fn second_factor_amr(method: MfaMethod) -> Amr {
    match method {
        MfaMethod::Sms => Amr::Sms,
        MfaMethod::Totp | MfaMethod::RecoveryCode | MfaMethod::SecondContact => Amr::Otp,
    }
}
