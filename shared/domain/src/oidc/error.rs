//! OAuth 2.0 errors, kept apart from [`crate::Error`]: their codes are another standard's
//! namespace (RFC 6749 5.2 and 4.1.2.1, OpenID Connect Core 3.1.2.6, RFC 6750 3.1), on another
//! wire shape (`error`, `error_description`), and some collide with the service's own codes
//! (`invalid_request`), which `ALL_CODES` and the OpenAPI contract hold to one meaning each.

use crate::error::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthCode {
    InvalidRequest,
    /// Client authentication failed: the token endpoint answers 401.
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    InvalidScope,
    AccessDenied,
    LoginRequired,
    ConsentRequired,
    /// A bearer token that is not (or no longer) good, at userinfo.
    InvalidToken,
}

impl OAuthCode {
    pub fn as_str(self) -> &'static str {
        match self {
            OAuthCode::InvalidRequest => "invalid_request",
            OAuthCode::InvalidClient => "invalid_client",
            OAuthCode::InvalidGrant => "invalid_grant",
            OAuthCode::UnauthorizedClient => "unauthorized_client",
            OAuthCode::UnsupportedGrantType => "unsupported_grant_type",
            OAuthCode::UnsupportedResponseType => "unsupported_response_type",
            OAuthCode::InvalidScope => "invalid_scope",
            OAuthCode::AccessDenied => "access_denied",
            OAuthCode::LoginRequired => "login_required",
            OAuthCode::ConsentRequired => "consent_required",
            OAuthCode::InvalidToken => "invalid_token",
        }
    }
}

/// What an OAuth endpoint answers when it does not answer with tokens.
#[derive(Debug, Clone, thiserror::Error)]
pub enum OAuthError {
    /// The client's or the person's request, refused. `description` is ASCII without `"` or `\`,
    /// as `error_description` must be, and never names what it would help an attacker to know.
    #[error("{}: {description}", code.as_str())]
    Refused { code: OAuthCode, description: &'static str },
    /// The service failed (the store, the signer): a 5xx, as `crate::Error` maps it.
    #[error(transparent)]
    Service(#[from] Error),
}

impl OAuthError {
    pub fn new(code: OAuthCode, description: &'static str) -> Self {
        OAuthError::Refused { code, description }
    }

    /// The refusal's code; `None` for a failure of the service.
    pub fn code(&self) -> Option<OAuthCode> {
        match self {
            OAuthError::Refused { code, .. } => Some(*code),
            OAuthError::Service(_) => None,
        }
    }
}

pub(crate) fn invalid_grant(description: &'static str) -> OAuthError {
    OAuthError::new(OAuthCode::InvalidGrant, description)
}

pub(crate) fn invalid_request(description: &'static str) -> OAuthError {
    OAuthError::new(OAuthCode::InvalidRequest, description)
}
