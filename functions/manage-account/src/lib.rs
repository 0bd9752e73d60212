//! The account page and its self-service: `GET /v1/account`, `PUT /v1/account/password`,
//! `DELETE /v1/account/recovery-contacts/{type}`, `DELETE /v1/account/two-factor`,
//! `POST /v1/account/two-factor/recovery-codes`, `GET /v1/account/sessions`,
//! `DELETE /v1/account/sessions/{id}` and `DELETE /v1/account`.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

use shared::api::account::{AccountView, DeleteBody, PasswordBody};
use shared::api::session::SessionsView;
use shared::api::two_factor::{NewRecoveryCodes, ProofBody};
use shared::domain::self_service::{
    change_password, delete_account, disable_two_factor, list_sessions, regenerate_recovery_codes,
    remove_recovery_contact, revoke_session, Proof,
};
use shared::{http, App, Result, Timestamp};

/// The last segment of the path: the `{type}` or `{id}` of a route.
fn last_segment(request: &Request) -> String {
    request.uri().path().trim_end_matches('/').rsplit('/').next().unwrap_or_default().to_owned()
}

pub async fn handle(app: &'static App, request: Request) -> Result<Response<Body>> {
    let now = Timestamp::now();
    let language = http::language(&request);
    let signed_in = http::signed_in(app, &request).await?;
    if http::is_route(&request, "GET", "/v1/account") {
        return Ok(http::json_response(StatusCode::OK, &AccountView::from(&signed_in.account)));
    }
    if http::is_route(&request, "PUT", "/v1/account/password") {
        let (current, new) = http::json_body::<PasswordBody>(&request)?.passwords();
        change_password(app, &signed_in, &current, &new, language, now).await?;
        return Ok(http::no_content());
    }
    if http::is_route(&request, "DELETE", "/v1/account/recovery-contacts/{type}") {
        remove_recovery_contact(app, &signed_in, &last_segment(&request), language).await?;
        return Ok(http::no_content());
    }
    if http::is_route(&request, "DELETE", "/v1/account/two-factor") {
        let proof: Proof = http::json_body::<ProofBody>(&request)?.try_into()?;
        disable_two_factor(app, &signed_in, &proof, language, now).await?;
        return Ok(http::no_content());
    }
    if http::is_route(&request, "POST", "/v1/account/two-factor/recovery-codes") {
        let proof: Proof = http::json_body::<ProofBody>(&request)?.try_into()?;
        let codes = regenerate_recovery_codes(app, &signed_in, &proof, language, now, &mut rand::rngs::OsRng).await?;
        return Ok(http::json_response(StatusCode::OK, &NewRecoveryCodes::from(codes)));
    }
    if http::is_route(&request, "GET", "/v1/account/sessions") {
        let sessions = list_sessions(app, &signed_in, now).await?;
        return Ok(http::json_response(StatusCode::OK, &SessionsView::from(sessions)));
    }
    if http::is_route(&request, "DELETE", "/v1/account/sessions/{id}") {
        revoke_session(app, &signed_in, &last_segment(&request)).await?;
        return Ok(http::no_content());
    }
    if http::is_route(&request, "DELETE", "/v1/account") {
        let body: DeleteBody = http::json_body(&request)?;
        delete_account(app, &signed_in, &body.password(), body.code.as_deref(), language, now).await?;
        return Ok(http::no_content());
    }
    http::not_found()
}
