//! Turning on two-factor authentication:
//! `POST /v1/account/two-factor` (start) and `POST /v1/account/two-factor/confirm`.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

use shared::api::two_factor::{SetupStarted, StartBody, TwoFactorEnabled};
use shared::api::verification::CodeBody;
use shared::domain::two_factor::{confirm_two_factor, start_two_factor};
use shared::{http, App, Result, Timestamp};

pub async fn handle(app: &'static App, request: Request) -> Result<Response<Body>> {
    let mut rng = rand::rngs::OsRng;
    let now = Timestamp::now();
    if http::is_route(&request, "POST", "/v1/account/two-factor") {
        let signed_in = http::signed_in(app, &request).await?;
        let body: StartBody = http::json_body(&request)?;
        let language = http::language(&request);
        let proof = body.proof()?;
        let started = start_two_factor(app, &signed_in.account, body.method(), &proof, language, now, &mut rng).await?;
        return Ok(http::json_response(StatusCode::OK, &SetupStarted::from(started)));
    }
    if http::is_route(&request, "POST", "/v1/account/two-factor/confirm") {
        let signed_in = http::signed_in(app, &request).await?;
        let body: CodeBody = http::json_body(&request)?;
        let language = http::language(&request);
        let enabled = confirm_two_factor(app, &signed_in.account, &body.code, language, now, &mut rng).await?;
        return Ok(http::json_response(StatusCode::OK, &TwoFactorEnabled::from(enabled)));
    }
    http::not_found()
}
