//! Sign-in and sign-out:
//! `POST /v1/sessions`, `POST /v1/sessions/mfa`, `POST /v1/sessions/mfa/sms`,
//! `DELETE /v1/sessions/current` (sign out) and `DELETE /v1/sessions` (sign out everywhere).

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

use shared::api::session::{ChallengeBody, MfaBody, MfaSignedIn, SignInBody, SignInOutcome, SmsCodeSent};
use shared::domain::self_service::sign_out_everywhere;
use shared::domain::session::sign_out;
use shared::domain::sign_in::{complete_sign_in, send_challenge_sms, sign_in};
use shared::{http, App, Result, Timestamp};

pub async fn handle(app: &'static App, request: Request) -> Result<Response<Body>> {
    let mut rng = rand::rngs::OsRng;
    let now = Timestamp::now();
    if http::is_route(&request, "POST", "/v1/sessions") {
        let body: SignInBody = http::json_body(&request)?;
        let sign_in_request = body.into_request(http::client_info(&request), http::language(&request))?;
        let outcome = SignInOutcome::from(sign_in(app, sign_in_request, now, &mut rng).await?);
        let status = match outcome {
            SignInOutcome::SignedIn(_) => StatusCode::CREATED,
            SignInOutcome::MfaRequired(_) => StatusCode::OK,
        };
        return Ok(http::json_response(status, &outcome));
    }
    if http::is_route(&request, "POST", "/v1/sessions/mfa") {
        let body: MfaBody = http::json_body(&request)?;
        let signed_in = complete_sign_in(app, body.into_answer(http::language(&request)), now, &mut rng).await?;
        return Ok(http::json_response(StatusCode::CREATED, &MfaSignedIn::from(signed_in)));
    }
    if http::is_route(&request, "POST", "/v1/sessions/mfa/sms") {
        let body: ChallengeBody = http::json_body(&request)?;
        let sent = send_challenge_sms(app, &body.challenge_id, http::language(&request), now, &mut rng).await?;
        return Ok(http::json_response(StatusCode::ACCEPTED, &SmsCodeSent::from(sent)));
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
