//! The one error type of the service. `http::error_response` maps it to a status and JSON body.

use std::time::Duration;

use crate::password::Violation;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    InvalidPhone(String),
    #[error("{0}")]
    InvalidEmail(String),
    #[error("the code is not correct")]
    InvalidCode { attempts_left: u32 },
    #[error("this verification has expired or was already used; request a new code")]
    VerificationExpired,
    #[error("the Terms of Service and Privacy Policy must be accepted")]
    TermsNotAccepted,
    #[error("the password does not meet the password rules")]
    WeakPassword { violations: Vec<Violation> },
    #[error("this phone number or email address cannot be used to create an account; sign in instead")]
    AlreadyRegistered,
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyKeyReused,
    #[error("the phone number or email address and password do not match")]
    InvalidCredentials,
    #[error("sign in to continue")]
    Unauthorized,
    #[error("this sign-in step has expired or was already used; sign in again")]
    ChallengeExpired,
    #[error("this phone number or email address is already linked to an account")]
    ContactInUse,
    #[error("the primary contact cannot be removed")]
    PrimaryContact,
    #[error("add and verify a phone number first")]
    NoVerifiedPhone,
    #[error("this two-factor method is already on")]
    TwoFactorAlreadyEnabled,
    #[error("the CAPTCHA could not be verified; solve a new one")]
    CaptchaFailed,
    /// A right solution, but many codes were asked for this destination lately: the client
    /// fetches `GET /v1/captcha?difficulty=<difficulty>` and solves that.
    #[error("many codes were requested for this destination recently; solve a harder CAPTCHA")]
    CaptchaTooEasy { difficulty: u64 },
    /// The CAPTCHA provider gave no usable answer; the token was neither accepted nor refused.
    #[error("the CAPTCHA cannot be checked right now; try again shortly")]
    CaptchaUnavailable,
    #[error("{0}")]
    UnsupportedRegion(String),
    #[error("too many requests; try again later")]
    RateLimited { retry_after: Duration },
    #[error("another request is changing the same data; try again")]
    Conflict,
    #[error("the message could not be delivered; try again later")]
    DeliveryFailed,
    #[error("no such route")]
    NotFound,
    /// Anything that is the service's fault. The detail is logged, never shown.
    #[error("internal error")]
    Internal(String),
}

impl Error {
    /// The stable, machine-readable code a client branches on.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidRequest(_) => "invalid_request",
            Error::PayloadTooLarge(_) => "payload_too_large",
            Error::InvalidPhone(_) => "invalid_phone",
            Error::InvalidEmail(_) => "invalid_email",
            Error::InvalidCode { .. } => "invalid_code",
            Error::VerificationExpired => "verification_expired",
            Error::TermsNotAccepted => "terms_not_accepted",
            Error::WeakPassword { .. } => "weak_password",
            Error::AlreadyRegistered => "already_registered",
            Error::IdempotencyKeyReused => "idempotency_key_reused",
            Error::InvalidCredentials => "invalid_credentials",
            Error::Unauthorized => "unauthorized",
            Error::ChallengeExpired => "challenge_expired",
            Error::ContactInUse => "contact_in_use",
            Error::NoVerifiedPhone => "no_verified_phone",
            Error::PrimaryContact => "primary_contact",
            Error::TwoFactorAlreadyEnabled => "two_factor_already_enabled",
            Error::CaptchaFailed => "captcha_failed",
            Error::CaptchaTooEasy { .. } => "captcha_too_easy",
            Error::CaptchaUnavailable => "captcha_unavailable",
            Error::UnsupportedRegion(_) => "unsupported_region",
            Error::RateLimited { .. } => "rate_limited",
            Error::Conflict => "conflict",
            Error::DeliveryFailed => "delivery_failed",
            Error::NotFound => "not_found",
            Error::Internal(_) => "internal_error",
        }
    }

    pub fn internal(context: &str, err: impl std::fmt::Display) -> Self {
        Error::Internal(format!("{context}: {err}"))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
