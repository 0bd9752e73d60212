//! The OpenID Connect provider's JSON endpoints: discovery, the JWKS, userinfo, revocation
//! (RFC 7009), and the login and consent challenges for an integrator's own frontend (the
//! JSON twin of what the hosted pages do). The browser redirects (`authorize`, consent,
//! logout) are the web function's; tokens are the oidc-token function's.

use lambda_http::http::header::CACHE_CONTROL;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;
use serde_json::{json, Value};

use shared::domain::oidc::authorize::{accept_consent, accept_login, interaction, reject, AuthorizeOutcome};
use shared::domain::oidc::client::Party;
use shared::domain::oidc::request::Params;
use shared::domain::oidc::token::revoke;
use shared::domain::oidc::userinfo::userinfo;
use shared::domain::oidc::OidcConfig;
use shared::domain::Language;
use shared::http::{self, oauth};
use shared::oidc::Oidc;
use shared::{App, Error, Result, Timestamp};

#[derive(Clone, Copy)]
enum Route {
    Discovery,
    Jwks,
    UserInfo,
    Revoke,
    Interaction,
    Login,
    Consent,
    Reject,
}

const ROUTES: [(&str, &str, Route); 9] = [
    ("GET", "/.well-known/openid-configuration", Route::Discovery),
    ("GET", "/oauth2/jwks", Route::Jwks),
    ("GET", "/oauth2/userinfo", Route::UserInfo),
    ("POST", "/oauth2/userinfo", Route::UserInfo),
    ("POST", "/oauth2/revoke", Route::Revoke),
    ("GET", "/v1/oauth2/interactions/{id}", Route::Interaction),
    ("POST", "/v1/oauth2/interactions/{id}/login", Route::Login),
    ("POST", "/v1/oauth2/interactions/{id}/consent", Route::Consent),
    ("POST", "/v1/oauth2/interactions/{id}/reject", Route::Reject),
];

pub async fn handle(app: &'static App, request: Request) -> Result<Response<Body>> {
    let Some(route) = http::route(&request, &ROUTES) else { return http::not_found() };
    let oidc = app.oidc().await?;
    let provider = oidc.provider(&app.config.secret);
    let now = Timestamp::now();
    let id = http::path_parameter(&request, "id").unwrap_or_default();
    match route {
        Route::Discovery => Ok(public(http::json_response(StatusCode::OK, &discovery(&oidc.config)), 3600)),
        Route::Jwks => Ok(public(http::json_response(StatusCode::OK, &oidc.keys(now).await?.jwks()), 300)),
        Route::UserInfo => {
            let keys = oidc.keys(now).await?;
            let token = oauth::bearer(&request).unwrap_or("");
            Ok(match userinfo(provider, &keys, token, now).await {
                Ok(claims) => http::json_response(StatusCode::OK, &claims),
                Err(error) => oauth::error(&error),
            })
        }
        Route::Revoke => {
            let revoked = async {
                let pairs = oauth::form(&request)?;
                let params = Params(&pairs);
                let credentials = oauth::client_credentials(&request, &params)?;
                revoke(provider, &credentials, oauth::one(&params, "token")?.unwrap_or("")).await
            };
            Ok(match revoked.await {
                Ok(()) => http::json_response(StatusCode::OK, &json!({})),
                Err(error) => oauth::error(&error),
            })
        }
        Route::Interaction => {
            let view = interaction(provider, &id, now).await?.ok_or(Error::ChallengeExpired)?;
            let scopes: Vec<&str> = view.scopes.iter().map(|scope| scope.as_str()).collect();
            let body = json!({
                "client_name": view.client_name,
                "third_party": view.party == Party::Third,
                "scopes": scopes,
                "login_hint": view.login_hint,
                "ui_locales": view.ui_locales,
                "reauthenticate": view.reauthenticate,
                "stage": if view.consent { "consent" } else { "login" },
            });
            Ok(http::json_response(StatusCode::OK, &body))
        }
        Route::Login | Route::Consent => {
            let _: Empty = http::json_body(&request)?;
            let signed_in = http::signed_in(app, &request).await?.authentication();
            let mut rng = rand::rngs::OsRng;
            let outcome = match route {
                Route::Login => accept_login(provider, &id, &signed_in, now, &mut rng).await?,
                _ => accept_consent(provider, &id, &signed_in, now, &mut rng).await?,
            };
            redirect_to(oidc, outcome)
        }
        Route::Reject => {
            let _: Empty = http::json_body(&request)?;
            redirect_to(oidc, reject(provider, &id, now).await?)
        }
    }
}

/// The body of the interaction routes, `{}`: nothing yet, and room for fields later.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

/// Where the integrator's frontend sends the browser next: back to the app, or on to consent.
fn redirect_to(oidc: &Oidc, outcome: AuthorizeOutcome) -> Result<Response<Body>> {
    match oidc.next_step(outcome) {
        Ok(url) => Ok(http::json_response(StatusCode::OK, &json!({ "redirect_to": url }))),
        Err(_) => Err(Error::ChallengeExpired),
    }
}

/// The same for everyone, and cached by clients and CDNs for `seconds`: a rotated key is
/// published `SIGNS_AFTER` (10 minutes) before it signs, longer than the JWKS is kept.
fn public(mut response: Response<Body>, seconds: u32) -> Response<Body> {
    let value = format!("public, max-age={seconds}").parse().expect("a valid header");
    response.headers_mut().insert(CACHE_CONTROL, value);
    response
}

/// The discovery document (OpenID Connect Discovery 1.0, section 3; RFC 8414).
fn discovery(config: &OidcConfig) -> Value {
    let url = |path: &str| format!("{}{path}", config.issuer);
    let languages: Vec<&str> = Language::ALL.iter().map(|language| language.tag()).collect();
    json!({
        "issuer": config.issuer,
        "authorization_endpoint": url("/oauth2/authorize"),
        "token_endpoint": url("/oauth2/token"),
        "userinfo_endpoint": url("/oauth2/userinfo"),
        "jwks_uri": url("/oauth2/jwks"),
        "revocation_endpoint": url("/oauth2/revoke"),
        "end_session_endpoint": url("/oauth2/logout"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public", "pairwise"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "none"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "email", "phone"],
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp",
            "email", "email_verified", "phone_number", "phone_number_verified"
        ],
        "prompt_values_supported": ["none", "login", "consent"],
        "ui_locales_supported": languages,
        "authorization_response_iss_parameter_supported": true,
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
    })
}
