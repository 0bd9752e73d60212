//! Forgot password: `POST /v1/password-resets`, then with 2FA on `POST /v1/password-resets/mfa`
//! (and `POST /v1/password-resets/mfa/sms` to get the SMS code).

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

use shared::api::recovery::{reset_answer, AnswerBody, ResetBody};
use shared::api::session::{ChallengeBody, SmsCodeSent};
use shared::domain::recovery::{complete_reset, reset_password};
use shared::domain::sign_in::send_challenge_sms;
use shared::{http, App, Result, Timestamp};

pub async fn handle(app: &'static App, request: Request) -> Result<Response<Body>> {
    let now = Timestamp::now();
    let language = http::language(&request);
    if http::is_route(&request, "POST", "/v1/password-resets") {
        let body: ResetBody = http::json_body(&request)?;
        let outcome = reset_password(app, body.into(), language, now, &mut rand::rngs::OsRng).await?;
        return Ok(match reset_answer(outcome) {
            None => http::no_content(),
            Some(challenge) => http::json_response(StatusCode::OK, &challenge),
        });
    }
    if http::is_route(&request, "POST", "/v1/password-resets/mfa") {
        let body: AnswerBody = http::json_body(&request)?;
        complete_reset(app, body.into(), language, now, &mut rand::rngs::OsRng).await?;
        return Ok(http::no_content());
    }
    if http::is_route(&request, "POST", "/v1/password-resets/mfa/sms") {
        let body: ChallengeBody = http::json_body(&request)?;
        let sent = send_challenge_sms(app, &body.challenge_id, language, now, &mut rand::rngs::OsRng).await?;
        return Ok(http::json_response(StatusCode::ACCEPTED, &SmsCodeSent::from(sent)));
    }
    http::not_found()
}
