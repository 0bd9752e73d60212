//! `GET /v1/captcha`: a proof-of-work challenge (ALTCHA) to solve before asking for a code.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

use shared::domain::verification::new_captcha;
use shared::{http, App, Result, Timestamp};

pub async fn handle(app: &'static App, request: Request) -> Result<Response<Body>> {
    let client_ip = http::client_ip(&request);
    let challenge = new_captcha(app, client_ip.as_deref(), Timestamp::now(), &mut rand::rngs::OsRng).await?;
    Ok(http::json_response(StatusCode::OK, &challenge))
}
