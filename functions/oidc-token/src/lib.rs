//! The OpenID Connect token endpoint, `POST /oauth2/token` (`authorization_code` and
//! `refresh_token`): the only function that may sign with the provider's KMS keys.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;

use shared::domain::oidc::error::{OAuthCode, OAuthError};
use shared::domain::oidc::request::Params;
use shared::domain::oidc::token::{exchange_code, refresh, TokenResponse};
use shared::http::{self, oauth};
use shared::{App, Result, Timestamp};

pub async fn handle(app: &'static App, request: Request) -> Result<Response<Body>> {
    if !http::is_route(&request, "POST", "/oauth2/token") {
        return http::not_found();
    }
    let oidc = app.oidc().await?;
    let provider = oidc.provider(&app.config.secret);
    let answer = async {
        let pairs = oauth::form(&request)?;
        let params = Params(&pairs);
        let credentials = oauth::client_credentials(&request, &params)?;
        let (now, mut rng) = (Timestamp::now(), rand::rngs::OsRng);
        match oauth::required(&params, "grant_type")? {
            "authorization_code" => {
                let code = oauth::required(&params, "code")?;
                let redirect_uri = oauth::required(&params, "redirect_uri")?;
                let verifier = oauth::one(&params, "code_verifier")?.unwrap_or("");
                exchange_code(provider, &credentials, code, redirect_uri, verifier, now, &mut rng).await
            }
            "refresh_token" => {
                let token = oauth::required(&params, "refresh_token")?;
                refresh(provider, &credentials, token, oauth::one(&params, "scope")?, now, &mut rng).await
            }
            _ => Err(OAuthError::new(OAuthCode::UnsupportedGrantType, "the grant type is not supported")),
        }
    };
    Ok(match answer.await {
        Ok(tokens) => http::json_response(StatusCode::OK, &TokenBody::from(tokens)),
        Err(error) => oauth::error(&error),
    })
}

/// The token response's JSON (RFC 6749 5.1).
#[derive(Serialize)]
struct TokenBody {
    access_token: String,
    token_type: &'static str,
    expires_in: u64,
    refresh_token: String,
    id_token: String,
    scope: String,
}

impl From<TokenResponse> for TokenBody {
    fn from(t: TokenResponse) -> Self {
        TokenBody {
            access_token: t.access_token,
            token_type: t.token_type,
            expires_in: t.expires_in,
            refresh_token: t.refresh_token,
            id_token: t.id_token,
            scope: t.scope,
        }
    }
}
