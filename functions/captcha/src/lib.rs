//! `GET /v1/captcha[?difficulty=N]`: the CAPTCHA to solve before asking for a code: a proof-of-work
//! challenge (ALTCHA Proof-of-Work v2 with Argon2id, or v1 with CAPTCHA_ALTCHA_V1), at least as hard
//! as `N` when a `captcha_too_easy` answer asked for that, or which third-party widget to render
//! with which site key.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};

use shared::api::captcha::{min_difficulty, CaptchaWidget};
use shared::domain::verification::new_captcha;
use shared::{http, App, Result, Timestamp};

pub async fn handle(app: &'static App, request: Request) -> Result<Response<Body>> {
    let client_ip = http::client_ip(&request);
    let min_difficulty = min_difficulty(request.query_string_parameters_ref().and_then(|q| q.first("difficulty")))?;
    let now = Timestamp::now();
    let widget = new_captcha(app, client_ip.as_deref(), min_difficulty, now, &mut rand::rngs::OsRng).await?;
    Ok(http::json_response(StatusCode::OK, &CaptchaWidget::from(widget)))
}
