//! Forgot password: `POST /v1/password-resets`, then with 2FA on `POST /v1/password-resets/mfa`
//! (and `POST /v1/password-resets/mfa/sms` to get the SMS code).

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

use shared::domain::password::Password;
use shared::domain::recovery::{complete_reset, reset_password, ResetAnswer, ResetOutcome, ResetRequest};
use shared::domain::sign_in::send_challenge_sms;
use shared::{http, App, Result, Timestamp};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResetBody {
    verification_token: String,
    password: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SmsBody {
    challenge_id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AnswerBody {
    challenge_id: String,
    method: shared::domain::second_factor::MfaMethod,
    code: Option<String>,
    verification_token: Option<String>,
}

pub async fn handle(app: &'static App, request: Request) -> Result<Response<Body>> {
    let now = Timestamp::now();
    let language = http::language(&request);
    if http::is_route(&request, "POST", "/v1/password-resets") {
        let body: ResetBody = http::json_body(&request)?;
        let reset =
            ResetRequest { verification_token: body.verification_token, password: Password::new(&body.password) };
        return Ok(match reset_password(app, reset, language, now, &mut rand::rngs::OsRng).await? {
            ResetOutcome::Done => http::no_content(),
            outcome => http::json_response(StatusCode::OK, &outcome),
        });
    }
    if http::is_route(&request, "POST", "/v1/password-resets/mfa") {
        let body: AnswerBody = http::json_body(&request)?;
        let answer = ResetAnswer {
            challenge_id: body.challenge_id,
            method: body.method,
            code: body.code,
            verification_token: body.verification_token,
        };
        complete_reset(app, answer, language, now).await?;
        return Ok(http::no_content());
    }
    if http::is_route(&request, "POST", "/v1/password-resets/mfa/sms") {
        let body: SmsBody = http::json_body(&request)?;
        let sent = send_challenge_sms(app, &body.challenge_id, language, now, &mut rand::rngs::OsRng).await?;
        return Ok(http::json_response(StatusCode::ACCEPTED, &sent));
    }
    http::not_found()
}
