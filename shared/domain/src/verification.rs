//! Request a code for a phone or email, and confirm it for a single-use token.

use std::time::Duration;

use rand::{CryptoRng, RngCore};

use super::limits::{Limit, LimitKey, Window, HOUR};
use super::{captcha, siteverify, Channel, Contact, Language, VerificationCode, VerificationId, VerificationToken};
use crate::config::CaptchaConfig;
use crate::error::{Error, Result};
use crate::metrics;
use crate::notify::Message;
use crate::outbox::{Delivery, Outgoing, Resend};
use crate::secret::HashPurpose;
use crate::secret::KeyedHash;
use crate::sms;
use crate::time::Timestamp;
use crate::Services;

const DAY: Duration = Duration::from_secs(24 * 3600);

/// What a confirmed code may be used for; a token proves control of a contact for one purpose only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    SignUp,
    AddContact,
    /// Forgot password: a code goes only to a verified contact of an account.
    ResetPassword,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerificationState {
    /// Code sent, not yet confirmed.
    Pending,
    /// Code confirmed; a token was issued and not yet used. Only its keyed hash is kept.
    Verified { token_hash: KeyedHash, token_expires_at: Timestamp },
    /// The token was used.
    Consumed,
}

#[derive(Debug, Clone)]
pub struct Verification {
    pub id: VerificationId,
    pub contact: Contact,
    pub purpose: Purpose,
    pub code_hash: KeyedHash,
    pub attempts: u32,
    pub state: VerificationState,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    /// The contact's rate-limit key: where failures are counted and the newest code is recorded.
    pub contact_key: LimitKey,
}

pub struct CodeRequest {
    /// The ALTCHA payload of a solved challenge (`GET /v1/captcha`), or the third-party widget's token.
    pub captcha: Option<String>,
    pub contact: Contact,
    pub purpose: Purpose,
    pub client_ip: Option<String>,
    pub language: Language,
}

#[derive(Debug)]
pub struct CodeSent {
    pub verification_id: String,
    pub channel: Channel,
    /// Masked, so the answer never echoes a whole number or address.
    pub destination: String,
    pub expires_in: u64,
    pub resend_after: u64,
}

#[derive(Debug)]
pub struct TokenIssued {
    pub verification_token: String,
    pub expires_in: u64,
}

fn contact_key(services: &Services, contact: &Contact) -> LimitKey {
    LimitKey::new(&services.config.secret, "contact", &contact.destination())
}

fn failure_key(services: &Services, contact_key: &LimitKey) -> LimitKey {
    LimitKey::new(&services.config.secret, "failures", contact_key.as_str())
}

/// The day's count has a key of its own: the day's window starts with one of the hour's.
fn daily_failure_key(services: &Services, contact_key: &LimitKey) -> LimitKey {
    LimitKey::new(&services.config.secret, "failures-day", contact_key.as_str())
}

/// Sends a fresh code to `request.contact`, within every limit, and records only its keyed hash.
pub async fn request_code(
    services: &Services,
    request: CodeRequest,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<CodeSent> {
    let config = &services.config;
    let (channel, country, purpose) = log_fields(&request);
    let mut limits = Vec::new();
    let (single_use, difficulty) = check_captcha(services, &request, now)
        .await
        .map_err(|refusal| refusal.log_and_count(services, channel, &country, purpose))?;
    limits.extend(single_use);
    let charge = match &request.contact {
        Contact::Phone(phone) => Some(sms::guard(services, phone, now, &mut limits).await.inspect_err(|_| {
            tracing::info!(event = "code_limited", channel, country, purpose, "code refused");
        })?),
        Contact::Email(_) => None,
    };
    // Read for every request of this purpose, so both answers take the same work.
    let registered = match request.purpose {
        Purpose::SignUp | Purpose::ResetPassword => {
            services.store.account_for_contact(&request.contact).await?.is_some()
        }
        Purpose::AddContact => false,
    };
    let id = VerificationId::generate(rng);
    let code = VerificationCode::generate(rng);
    let contact_key = contact_key(services, &request.contact);
    let hour = Window::containing(now, HOUR);

    limits.extend([
        Limit::Cooldown { key: contact_key.clone(), until: now.plus(config.resend_cooldown), latest: id.clone() },
        Limit::Quota { key: contact_key.clone(), window: hour, max: config.codes_per_destination_per_hour },
        Limit::Ceiling {
            key: failure_key(services, &contact_key),
            window: hour,
            max: config.failed_codes_per_destination_per_hour,
        },
        // A destination that keeps failing codes hour after hour is stopped for the day too.
        Limit::Ceiling {
            key: daily_failure_key(services, &contact_key),
            window: Window::containing(now, DAY),
            max: config.failed_codes_per_destination_per_day,
        },
    ]);
    if let Some(ip) = &request.client_ip {
        limits.push(Limit::Quota {
            key: LimitKey::for_client(&config.edge_secret, "ip", ip),
            window: hour,
            max: config.codes_per_ip_per_hour,
        });
    }
    // Last: when a rate limit refuses too, the client is told to wait, not to solve a harder CAPTCHA first.
    limits.extend(difficulty);

    let verification = Verification {
        code_hash: code.hash(&config.secret, &id),
        id,
        contact: request.contact,
        purpose: request.purpose,
        attempts: 0,
        state: VerificationState::Pending,
        created_at: now,
        expires_at: now.plus(config.code_ttl),
        contact_key,
    };
    // The verification is stored either way, so confirming it answers alike; its code goes
    // only to who may use it. A sign-up for a registered contact gets a notice instead; a reset
    // for an unknown contact writes a decoy the courier drops, so both make the same writes (its
    // SMS stays counted: giving it back would be one more write that only unknown contacts make).
    let message = match (request.purpose, registered) {
        (Purpose::SignUp, true) => Message::account_exists(&config.service_name, request.language),
        _ => Message::verification_code(&config.service_name, &code, config.code_ttl, request.language),
    };
    let delivery = match (request.purpose, registered) {
        (Purpose::ResetPassword, false) => Delivery::Decoy,
        _ => Delivery::Code { resend: Resend::destination(&verification.contact_key, &verification.id) },
    };
    let outgoing = Outgoing { to: verification.contact.clone(), message, delivery };
    let outbox = [outgoing.seal(&config.secret, now, rng)];
    let created = services.store.create_verification(&verification, &limits, &outbox, now).await;
    if let (Err(_), Some(charge)) = (&created, charge) {
        // Refused (a replayed CAPTCHA, a limit): no SMS is sent, so none is counted.
        charge.refund(services).await;
    }
    created.map_err(|e| match e {
        Error::RateLimited { .. } => {
            tracing::info!(event = "code_limited", channel, country, purpose, "code refused");
            metrics::count("LimitHits", &[("Channel", channel)]);
            e
        }
        // Its single-use record was already there.
        Error::CaptchaFailed => CaptchaRefusal::Replayed.log_and_count(services, channel, &country, purpose),
        Error::CaptchaTooEasy { difficulty } => {
            CaptchaRefusal::TooEasy(difficulty).log_and_count(services, channel, &country, purpose)
        }
        e => e,
    })?;
    tracing::info!(event = "code_queued", channel, country, purpose, "code request accepted");

    Ok(CodeSent {
        verification_id: verification.id.as_str().to_owned(),
        channel: verification.contact.channel(),
        destination: verification.contact.masked(),
        expires_in: config.code_ttl.as_secs(),
        resend_after: config.resend_cooldown.as_secs(),
    })
}

/// What a log line may say of a request: never the contact itself.
fn log_fields(request: &CodeRequest) -> (&'static str, String, &'static str) {
    let (channel, country) = match &request.contact {
        Contact::Phone(phone) => ("sms", phone.country_code().to_string()),
        Contact::Email(_) => ("email", "-".to_owned()),
    };
    let purpose = match request.purpose {
        Purpose::SignUp => "sign_up",
        Purpose::AddContact => "add_contact",
        Purpose::ResetPassword => "reset_password",
    };
    (channel, country, purpose)
}

/// Why a code request's CAPTCHA did not pass.
enum CaptchaRefusal {
    Altcha(captcha::CaptchaRejection),
    MissingAltcha,
    ThirdParty(siteverify::SiteverifyRefusal),
    /// A solution or token that was already used once.
    Replayed,
    /// A right solution of a challenge easier than the destination now needs.
    TooEasy(u64),
}

impl CaptchaRefusal {
    /// One log line and one `CaptchaFailures` count (by channel and outcome) per refusal; the
    /// answer's error. A provider that refuses our own keys is logged as an error: every request
    /// fails until an operator fixes the configuration.
    fn log_and_count(self, services: &Services, channel: &str, country: &str, purpose: &str) -> Error {
        let provider = services.config.captcha.name();
        let reason = match &self {
            CaptchaRefusal::Altcha(rejection) => rejection.to_string(),
            CaptchaRefusal::MissingAltcha => "no CAPTCHA solution".to_owned(),
            CaptchaRefusal::ThirdParty(refusal) => refusal.to_string(),
            CaptchaRefusal::Replayed => "the CAPTCHA was already used".to_owned(),
            CaptchaRefusal::TooEasy(difficulty) => format!("this destination now needs difficulty {difficulty}"),
        };
        macro_rules! refused {
            ($level:ident, $event:literal) => {
                tracing::$level!(event = $event, provider, reason, channel, country, purpose, "code refused")
            };
        }
        let (outcome, error) = match &self {
            // Our own keys refused: an operator must act.
            CaptchaRefusal::ThirdParty(refusal) if refusal.is_misconfiguration() => {
                refused!(error, "captcha_unavailable");
                ("unavailable", Error::CaptchaUnavailable)
            }
            CaptchaRefusal::ThirdParty(refusal) if refusal.is_unavailable() => {
                refused!(warn, "captcha_unavailable");
                ("unavailable", Error::CaptchaUnavailable)
            }
            CaptchaRefusal::TooEasy(difficulty) => {
                refused!(info, "captcha_failed");
                ("too_easy", Error::CaptchaTooEasy { difficulty: *difficulty })
            }
            _ => {
                refused!(info, "captcha_failed");
                ("failed", Error::CaptchaFailed)
            }
        };
        metrics::count("CaptchaFailures", &[("Channel", channel), ("Outcome", outcome)]);
        error
    }
}

/// The CAPTCHA solution or token, checked; what it brings to the request's transaction: the record
/// that makes it single-use and, for ALTCHA, the count of codes its difficulty pays for.
async fn check_captcha(
    services: &Services,
    request: &CodeRequest,
    now: Timestamp,
) -> Result<(Option<Limit>, Option<Limit>), CaptchaRefusal> {
    let payload = request.captcha.as_deref();
    match &services.config.captcha {
        CaptchaConfig::Off => Ok((None, None)),
        CaptchaConfig::Altcha(altcha) => {
            let payload = payload.ok_or(CaptchaRefusal::MissingAltcha)?;
            let verified =
                captcha::verify(&services.config.edge_secret, altcha, payload, now).map_err(CaptchaRefusal::Altcha)?;
            let base = altcha.difficulty;
            // Easier than the base (issued before the base was raised): pays for nothing, even in a
            // window with no count yet, which the store's condition would let through.
            let max = captcha::requests_allowed(base, verified.difficulty);
            if max == 0 {
                return Err(CaptchaRefusal::TooEasy(captcha::difficulty_for(base, 0)));
            }
            let difficulty = Limit::Difficulty {
                key: LimitKey::new(&services.config.secret, "pow", &destination_prefix(&request.contact)),
                window: Window::containing(now, HOUR),
                max,
                base,
            };
            Ok((Some(Limit::SingleUse { id: verified.id, until: verified.expires_at }), Some(difficulty)))
        }
        CaptchaConfig::ThirdParty(provider) => {
            services
                .captcha
                .verify(provider, payload, request.client_ip.as_deref())
                .await
                .map_err(CaptchaRefusal::ThirdParty)?;
            // The provider spends a token when it says yes; recording it too refuses a replay
            // here however the provider behaves. Keyed, so the table holds no token.
            let token = payload.unwrap_or_default().trim();
            let id = services
                .config
                .edge_secret
                .keyed_hash(HashPurpose::Captcha, &[provider.provider.name().as_bytes(), token.as_bytes()]);
            Ok((Some(Limit::SingleUse { id: id.to_hex(), until: now.plus(siteverify::TOKEN_LIFETIME) }), None))
        }
    }
}

/// What the CAPTCHA's difficulty rises for: a number's range (so neither one phone nor a block of
/// numbers can be flooded cheaply), or one email address (a domain is shared by too many people).
fn destination_prefix(contact: &Contact) -> String {
    match contact {
        Contact::Phone(phone) => phone.range_prefix().to_owned(),
        Contact::Email(_) => contact.destination(),
    }
}

/// What the frontend needs to show the CAPTCHA (`GET /v1/captcha`).
#[derive(Debug)]
pub enum CaptchaWidget {
    /// An ALTCHA challenge to solve.
    ProofOfWork(captcha::Challenge),
    /// Which provider's widget to render, with which public site key.
    ThirdParty { provider: &'static str, site_key: String },
}

/// The CAPTCHA to show: for ALTCHA a challenge, harder for a client IP that has already asked
/// for many codes this hour, and at least `min_difficulty` (what a `captcha_too_easy` answer named),
/// up to the hardest one issued.
pub async fn new_captcha(
    services: &Services,
    client_ip: Option<&str>,
    min_difficulty: Option<u64>,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<CaptchaWidget> {
    let altcha = match &services.config.captcha {
        CaptchaConfig::Altcha(altcha) => altcha,
        CaptchaConfig::ThirdParty(provider) => {
            return Ok(CaptchaWidget::ThirdParty {
                provider: provider.provider.name(),
                site_key: provider.site_key.clone(),
            })
        }
        CaptchaConfig::Off => return Err(Error::NotFound),
    };
    let recent = match client_ip {
        Some(ip) => {
            let key = LimitKey::for_client(&services.config.edge_secret, "ip", ip);
            let recent = services.store.window_count(&key, Window::containing(now, HOUR)).await?;
            captcha::client_pressure(recent, services.config.codes_per_ip_per_hour)
        }
        None => 0,
    };
    let asked = min_difficulty.unwrap_or(0).min(captcha::max_difficulty(altcha.difficulty));
    let difficulty = captcha::difficulty_for(altcha.difficulty, recent).max(asked);
    let challenge = captcha::create_challenge(&services.config.edge_secret, altcha, difficulty, now, rng);
    Ok(CaptchaWidget::ProofOfWork(challenge))
}

/// Checks a typed code. Every attempt is counted before the code is compared, so
/// concurrent guesses cannot get past the attempt limit.
pub async fn confirm_code(
    services: &Services,
    verification_id: &str,
    code: &str,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<TokenIssued> {
    let config = &services.config;
    let code = VerificationCode::parse(code)?;
    let id = VerificationId::parse(verification_id).ok_or(Error::VerificationExpired)?;
    let verification = services
        .store
        .count_code_attempt(&id, now, config.code_max_attempts)
        .await?
        .ok_or(Error::VerificationExpired)?;

    if !code.verify(&config.secret, &id, &verification.code_hash) {
        let contact_key = &verification.contact_key;
        for (key, window) in
            [(failure_key(services, contact_key), HOUR), (daily_failure_key(services, contact_key), DAY)]
        {
            services.store.count_failure(&key, Window::containing(now, window)).await?;
        }
        return Err(Error::InvalidCode {
            attempts_left: config.code_max_attempts.saturating_sub(verification.attempts),
        });
    }

    let token = VerificationToken::generate(id, rng);
    let token_expires_at = now.plus(config.token_ttl);
    if !services.store.mark_verified(&verification, &token.hash(&config.secret), token_expires_at).await? {
        // Another request confirmed it first, or a newer code replaced this one.
        return Err(Error::VerificationExpired);
    }
    Ok(TokenIssued { verification_token: token.reveal(), expires_in: config.token_ttl.as_secs() })
}
