//! Request a code for a phone or email, and confirm it for a single-use token.

use std::time::Duration;

use rand::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};

use super::limits::{Limit, LimitKey, Window};
use super::{Channel, Contact, Language, VerificationCode, VerificationId, VerificationToken};
use crate::app::App;
use crate::error::{Error, Result};
use crate::notify::Message;
use crate::secret::KeyedHash;
use crate::time::Timestamp;

const HOUR: Duration = Duration::from_secs(3600);

/// What a confirmed code may be used for; a token proves control of a contact for one purpose only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    SignUp,
    AddContact,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerificationState {
    /// Code sent, not yet confirmed.
    Pending,
    /// Code confirmed; a token was issued and not yet used.
    Verified,
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
    /// Set once the code is confirmed.
    pub token_hash: Option<KeyedHash>,
    pub token_expires_at: Option<Timestamp>,
}

pub struct CodeRequest {
    pub contact: Contact,
    pub purpose: Purpose,
    pub client_ip: Option<String>,
    pub language: Language,
}

#[derive(Debug, Serialize)]
pub struct CodeSent {
    pub verification_id: String,
    pub channel: Channel,
    /// Masked, so the answer never echoes a whole number or address.
    pub destination: String,
    pub expires_in: u64,
    pub resend_after: u64,
}

#[derive(Debug, Serialize)]
pub struct TokenIssued {
    pub verification_token: String,
    pub expires_in: u64,
}

fn contact_key(app: &App, contact: &Contact) -> LimitKey {
    LimitKey::new(&app.config.secret, "contact", &contact.canonical())
}

fn failure_key(app: &App, contact_key: &LimitKey) -> LimitKey {
    LimitKey::new(&app.config.secret, "failures", contact_key.as_str())
}

/// Sends a fresh code to `request.contact`, within every limit, and records only its keyed hash.
pub async fn request_code(
    app: &App,
    request: CodeRequest,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<CodeSent> {
    let config = &app.config;
    // Read for every request of this purpose, so both answers take the same work.
    let registered = match request.purpose {
        Purpose::SignUp => app.store.account_for_contact(&request.contact).await?.is_some(),
        Purpose::AddContact => false,
    };
    let id = VerificationId::generate(rng);
    let code = VerificationCode::generate(rng);
    let contact_key = contact_key(app, &request.contact);
    let hour = Window::containing(now, HOUR);

    let mut limits = vec![
        Limit::Cooldown { key: contact_key.clone(), until: now.plus(config.resend_cooldown), latest: id.clone() },
        Limit::Quota { key: contact_key.clone(), window: hour, max: config.codes_per_destination_per_hour },
        Limit::Ceiling {
            key: failure_key(app, &contact_key),
            window: hour,
            max: config.failed_codes_per_destination_per_hour,
        },
    ];
    if let Some(ip) = &request.client_ip {
        limits.push(Limit::Quota {
            key: LimitKey::new(&config.secret, "ip", ip),
            window: hour,
            max: config.codes_per_ip_per_hour,
        });
    }

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
        token_hash: None,
        token_expires_at: None,
    };
    app.store.create_verification(&verification, &limits, now).await?;

    // The verification is stored either way, so confirming it answers alike; its code is just never sent.
    let message = if registered {
        Message::account_exists(&config.service_name, request.language)
    } else {
        Message::verification_code(&config.service_name, &code, config.code_ttl, request.language)
    };
    app.notifier.send(&verification.contact, &message).await?;

    Ok(CodeSent {
        verification_id: verification.id.as_str().to_owned(),
        channel: verification.contact.channel(),
        destination: verification.contact.masked(),
        expires_in: config.code_ttl.as_secs(),
        resend_after: config.resend_cooldown.as_secs(),
    })
}

/// Checks a typed code. Every attempt is counted before the code is compared, so
/// concurrent guesses cannot get past the attempt limit.
pub async fn confirm_code(
    app: &App,
    verification_id: &str,
    code: &str,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<TokenIssued> {
    let config = &app.config;
    let code = VerificationCode::parse(code)?;
    let id = VerificationId::parse(verification_id).ok_or(Error::VerificationExpired)?;
    let verification =
        app.store.count_code_attempt(&id, now, config.code_max_attempts).await?.ok_or(Error::VerificationExpired)?;

    if !code.hash(&config.secret, &id).matches(&verification.code_hash) {
        let failures = failure_key(app, &verification.contact_key);
        app.store.count_failure(&failures, Window::containing(now, HOUR)).await?;
        return Err(Error::InvalidCode {
            attempts_left: config.code_max_attempts.saturating_sub(verification.attempts),
        });
    }

    let token = VerificationToken::generate(id, rng);
    let token_expires_at = now.plus(config.token_ttl);
    if !app.store.mark_verified(&verification, &token.hash(&config.secret), token_expires_at).await? {
        // Another request confirmed it first, or a newer code replaced this one.
        return Err(Error::VerificationExpired);
    }
    Ok(TokenIssued { verification_token: token.reveal(), expires_in: config.token_ttl.as_secs() })
}
