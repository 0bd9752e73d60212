//! The one error type of the service. `http::error_response` maps it to a status and JSON body.

use std::time::Duration;

use crate::password::Violation;

#[derive(Debug, Clone, thiserror::Error)]
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
    #[error("confirm it is you: give your password, or a code from your authenticator app or a recovery code")]
    ProofRequired,
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
    #[error("no such route")]
    NotFound,
    /// AWS throttled, timed out, could not be reached or failed on its side, after the SDK's
    /// retries: neither the caller's fault nor a bug. Every write is one atomic request, so a
    /// change is made whole or not at all (a timed-out one may have been made); the request may be
    /// sent again after `retry_after`.
    #[error("the service is busy right now; try again in a few seconds")]
    ServiceUnavailable { retry_after: Duration },
    /// Anything that is the service's fault. The detail is logged, never shown.
    #[error("internal error")]
    Internal(String),
}

/// Each variant's code, the stable, machine-readable string a client branches on, with a sample of
/// the variant: the one list that `Error::code`, [`ALL_CODES`] and `Error::one_of_each` are made
/// from. `code` is a match on these patterns, so a new variant does not compile until it has its
/// row here, and so its code and its sample (whose row the unit test below checks).
macro_rules! codes {
    ($($pattern:pat => $code:literal, $sample:expr;)+) => {
        /// Every code the service answers with, as `infra/openapi.yaml` must list them.
        pub const ALL_CODES: &[&str] = &[$($code),+];

        impl Error {
            /// The stable, machine-readable code a client branches on.
            pub fn code(&self) -> &'static str {
                match self {
                    $($pattern => $code,)+
                }
            }

            /// One error of each variant, in the order of [`ALL_CODES`], with details such as
            /// a client might see: what the contract test holds every answer against.
            pub fn one_of_each() -> Vec<Error> {
                vec![$($sample),+]
            }
        }
    };
}

codes! {
    Error::InvalidRequest(_) => "invalid_request", Error::InvalidRequest("a JSON body is required".into());
    Error::PayloadTooLarge(_) => "payload_too_large",
        Error::PayloadTooLarge("the body must be at most 16384 bytes".into());
    Error::InvalidPhone(_) => "invalid_phone", Error::InvalidPhone("this is not a phone number".into());
    Error::InvalidEmail(_) => "invalid_email", Error::InvalidEmail("this is not an email address".into());
    Error::InvalidCode { .. } => "invalid_code", Error::InvalidCode { attempts_left: 3 };
    Error::VerificationExpired => "verification_expired", Error::VerificationExpired;
    Error::TermsNotAccepted => "terms_not_accepted", Error::TermsNotAccepted;
    Error::WeakPassword { .. } => "weak_password",
        Error::WeakPassword { violations: vec![Violation::TooShort, Violation::CommonPassword] };
    Error::AlreadyRegistered => "already_registered", Error::AlreadyRegistered;
    Error::IdempotencyKeyReused => "idempotency_key_reused", Error::IdempotencyKeyReused;
    Error::InvalidCredentials => "invalid_credentials", Error::InvalidCredentials;
    Error::Unauthorized => "unauthorized", Error::Unauthorized;
    Error::ProofRequired => "proof_required", Error::ProofRequired;
    Error::ChallengeExpired => "challenge_expired", Error::ChallengeExpired;
    Error::ContactInUse => "contact_in_use", Error::ContactInUse;
    Error::NoVerifiedPhone => "no_verified_phone", Error::NoVerifiedPhone;
    Error::PrimaryContact => "primary_contact", Error::PrimaryContact;
    Error::TwoFactorAlreadyEnabled => "two_factor_already_enabled", Error::TwoFactorAlreadyEnabled;
    Error::CaptchaFailed => "captcha_failed", Error::CaptchaFailed;
    Error::CaptchaTooEasy { .. } => "captcha_too_easy", Error::CaptchaTooEasy { difficulty: 400_000 };
    Error::CaptchaUnavailable => "captcha_unavailable", Error::CaptchaUnavailable;
    Error::UnsupportedRegion(_) => "unsupported_region",
        Error::UnsupportedRegion("codes cannot be sent by SMS to +1 numbers".into());
    Error::RateLimited { .. } => "rate_limited", Error::RateLimited { retry_after: Duration::from_secs(42) };
    Error::Conflict => "conflict", Error::Conflict;
    Error::NotFound => "not_found", Error::NotFound;
    Error::ServiceUnavailable { .. } => "service_unavailable",
        Error::ServiceUnavailable { retry_after: Duration::from_secs(2) };
    Error::Internal(_) => "internal_error", Error::Internal("DynamoDB GetItem: timeout".into());
}

impl Error {
    /// How long a client should wait before sending the request again, for the answers that say so.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::RateLimited { retry_after } | Error::ServiceUnavailable { retry_after } => Some(*retry_after),
            // A dependency that is failing now (the provider, SES or SNS) is worth a retry soon.
            Error::CaptchaUnavailable => Some(DEPENDENCY_RETRY_AFTER),
            _ => None,
        }
    }

    pub fn internal(context: &str, err: impl std::fmt::Display) -> Self {
        Error::Internal(format!("{context}: {err}"))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a 503 asks a client to wait: long enough for the SDK's own retries to have been the
/// short ones, short enough that a person retrying by hand is not kept waiting.
pub const DEPENDENCY_RETRY_AFTER: Duration = Duration::from_secs(2);

#[cfg(test)]
mod tests {
    use super::{Error, ALL_CODES};

    #[test]
    fn each_sample_is_of_the_variant_of_its_row_and_codes_are_unique() {
        let samples = Error::one_of_each();
        assert_eq!(samples.len(), ALL_CODES.len());
        for (sample, code) in samples.iter().zip(ALL_CODES) {
            assert_eq!(sample.code(), *code, "the sample of {code} is {sample:?}");
        }
        let mut unique = ALL_CODES.to_vec();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ALL_CODES.len(), "a code is listed twice");
    }
}
