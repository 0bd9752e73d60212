//! Sign-in and sign-out:
//! `POST /v1/sessions`, `POST /v1/sessions/mfa`, `POST /v1/sessions/mfa/sms`,
//! `DELETE /v1/sessions/current` (sign out) and `DELETE /v1/sessions` (sign out everywhere).

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

use shared::domain::password::Password;
use shared::domain::second_factor::MfaMethod;
use shared::domain::self_service::sign_out_everywhere;
use shared::domain::session::sign_out;
use shared::domain::sign_in::{complete_sign_in, send_challenge_sms, sign_in, MfaAnswer, SignInOutcome, SignInRequest};
use shared::domain::{Contact, EmailAddress, PhoneNumber};
use shared::{http, App, Error, Result, Timestamp};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignInBody {
    login: String,
    country_code: Option<String>,
    password: String,
    device_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MfaBody {
    challenge_id: String,
    method: MfaMethod,
    code: String,
    #[serde(default)]
    remember_device: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SmsBody {
    challenge_id: String,
}

/// A login is an email when it has an `@`, else a phone number in the forms request-code takes.
/// A malformed login is simply not an account: the same 401 as a wrong password.
fn login(body: &SignInBody) -> Result<Contact> {
    let parsed = if body.login.contains('@') {
        EmailAddress::parse(&body.login).map(Contact::Email)
    } else {
        PhoneNumber::parse(body.country_code.as_deref(), &body.login).map(Contact::Phone)
    };
    parsed.map_err(|_| Error::InvalidCredentials)
}

pub async fn handle(app: &'static App, request: Request) -> Result<Response<Body>> {
    let mut rng = rand::rngs::OsRng;
    let now = Timestamp::now();
    if http::is_route(&request, "POST", "/v1/sessions") {
        let body: SignInBody = http::json_body(&request)?;
        let sign_in_request = SignInRequest {
            language: http::language(&request),
            login: login(&body)?,
            password: Password::new(&body.password),
            device_token: body.device_token,
            client: http::client_info(&request),
        };
        return Ok(match sign_in(app, sign_in_request, now, &mut rng).await? {
            outcome @ SignInOutcome::SignedIn(_) => http::json_response(StatusCode::CREATED, &outcome),
            outcome @ SignInOutcome::MfaRequired { .. } => http::json_response(StatusCode::OK, &outcome),
        });
    }
    if http::is_route(&request, "POST", "/v1/sessions/mfa") {
        let body: MfaBody = http::json_body(&request)?;
        let answer = MfaAnswer {
            language: http::language(&request),
            challenge_id: body.challenge_id,
            method: body.method,
            code: body.code,
            remember_device: body.remember_device,
        };
        let signed_in = complete_sign_in(app, answer, now, &mut rng).await?;
        return Ok(http::json_response(StatusCode::CREATED, &signed_in));
    }
    if http::is_route(&request, "POST", "/v1/sessions/mfa/sms") {
        let body: SmsBody = http::json_body(&request)?;
        let sent = send_challenge_sms(app, &body.challenge_id, http::language(&request), now, &mut rng).await?;
        return Ok(http::json_response(StatusCode::ACCEPTED, &sent));
    }
    if http::is_route(&request, "DELETE", "/v1/sessions/current") {
        let signed_in = http::signed_in(app, &request).await?;
        sign_out(app, &signed_in).await?;
        return Ok(http::no_content());
    }
    if http::is_route(&request, "DELETE", "/v1/sessions") {
        let signed_in = http::signed_in(app, &request).await?;
        sign_out_everywhere(app, &signed_in).await?;
        return Ok(http::no_content());
    }
    http::not_found()
}
