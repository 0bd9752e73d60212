//! HTTP as OAuth 2.0 has it, for the provider's endpoints: form-encoded requests (RFC 6749
//! 3.2), client authentication (2.3.1: `client_secret_basic`, or `client_id` alone for a public
//! client), bearer tokens (RFC 6750) and errors as `{"error", "error_description"}` (5.2).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use lambda_http::http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;

use domain::oidc::client::ClientCredentials;
use domain::oidc::error::{OAuthCode, OAuthError};
use domain::oidc::request::Params;

use super::{error_response, json_response, MAX_BODY_BYTES};

/// The pairs of a form-encoded body, in order (a repeated parameter is refused where it is read).
pub fn form(request: &Request) -> Result<Vec<(String, String)>, OAuthError> {
    let bytes: &[u8] = request.body().as_ref();
    if bytes.len() > MAX_BODY_BYTES {
        return Err(OAuthError::new(OAuthCode::InvalidRequest, "the body is too large"));
    }
    let content_type = request.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(OAuthError::new(OAuthCode::InvalidRequest, "the body must be application/x-www-form-urlencoded"));
    }
    Ok(form_urlencoded::parse(bytes).into_owned().collect())
}

/// The query string's pairs, in order.
pub fn query(request: &Request) -> Vec<(String, String)> {
    form_urlencoded::parse(request.uri().query().unwrap_or("").as_bytes()).into_owned().collect()
}

/// A parameter given at most once (RFC 6749 3.1: "MUST NOT be included more than once").
pub fn one<'a>(params: &'a Params<'_>, name: &str) -> Result<Option<&'a str>, OAuthError> {
    params.one(name).map_err(|_| OAuthError::new(OAuthCode::InvalidRequest, "a parameter is repeated"))
}

/// A parameter that must be there.
pub fn required<'a>(params: &'a Params<'_>, name: &'static str) -> Result<&'a str, OAuthError> {
    let missing = || OAuthError::new(OAuthCode::InvalidRequest, "a required parameter is missing");
    one(params, name)?.filter(|v| !v.is_empty()).ok_or_else(missing)
}

/// Who the client says it is: HTTP Basic with the form-encoded id and secret, or `client_id`
/// in the body for a public client. Both at once, or a secret in the body
/// (`client_secret_post`, not offered), is refused.
pub fn client_credentials(request: &Request, params: &Params<'_>) -> Result<ClientCredentials, OAuthError> {
    let refused = || OAuthError::new(OAuthCode::InvalidClient, "client authentication failed");
    if one(params, "client_secret")?.is_some() {
        return Err(refused());
    }
    let basic = request.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    let in_body = one(params, "client_id")?;
    match (basic, in_body) {
        (Some(header), None) => {
            let encoded = header.strip_prefix("Basic ").ok_or_else(refused)?;
            let decoded = STANDARD.decode(encoded.trim()).ok().and_then(|b| String::from_utf8(b).ok());
            let (id, secret) = decoded.as_deref().and_then(|d| d.split_once(':')).ok_or_else(refused)?;
            let unescape =
                |text: &str| form_urlencoded::parse(format!("v={text}").as_bytes()).next().map(|(_, v)| v.into_owned());
            let (Some(client_id), Some(secret)) = (unescape(id), unescape(secret)) else { return Err(refused()) };
            Ok(ClientCredentials::Basic { client_id, secret })
        }
        (None, Some(client_id)) => Ok(ClientCredentials::None { client_id: client_id.to_owned() }),
        _ => Err(refused()),
    }
}

/// `Authorization: Bearer <token>`.
pub fn bearer(request: &Request) -> Option<&str> {
    let header = request.headers().get(AUTHORIZATION)?.to_str().ok()?;
    header.strip_prefix("Bearer ").or_else(|| header.strip_prefix("bearer ")).map(str::trim)
}

/// The answer to a refused OAuth request; a service error (a dependency failing) keeps the
/// API's own answer, a 503 with `Retry-After`.
pub fn error(error: &OAuthError) -> Response<Body> {
    let (code, description) = match error {
        OAuthError::Refused { code, description } => (*code, *description),
        OAuthError::Service(error) => return error_response(error),
    };
    let status = match code {
        OAuthCode::InvalidClient | OAuthCode::InvalidToken => StatusCode::UNAUTHORIZED,
        _ => StatusCode::BAD_REQUEST,
    };
    let mut response = json_response(status, &json!({ "error": code.as_str(), "error_description": description }));
    let challenge = match code {
        OAuthCode::InvalidClient => Some(r#"Basic realm="oauth2""#.to_owned()),
        OAuthCode::InvalidToken => Some(format!(r#"Bearer error="invalid_token", error_description="{description}""#)),
        _ => None,
    };
    if let Some(value) = challenge.and_then(|v| v.parse().ok()) {
        response.headers_mut().insert(WWW_AUTHENTICATE, value);
    }
    response
}
