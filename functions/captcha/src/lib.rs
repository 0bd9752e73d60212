//! `GET /v1/captcha`: the CAPTCHA to solve before asking for a code: a proof-of-work challenge
//! (ALTCHA), or which third-party widget to render with which site key.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

use shared::domain::verification::new_captcha;
use shared::{http, App, Result, Timestamp};

pub async fn handle(app: &'static App, request: Request) -> Result<Response<Body>> {
    let client_ip = http::client_ip(&request);
    let widget = new_captcha(app, client_ip.as_deref(), Timestamp::now(), &mut rand::rngs::OsRng).await?;
    Ok(http::json_response(StatusCode::OK, &widget))
}
