//! The account page and its self-service: `GET /v1/account`, `PUT /v1/account/password`,
//! `DELETE /v1/account/recovery-contacts/{type}`, `DELETE /v1/account/two-factor`,
//! `POST /v1/account/two-factor/recovery-codes`, `GET /v1/account/sessions`,
//! `DELETE /v1/account/sessions/{id}` and `DELETE /v1/account`.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

use shared::domain::password::Password;
use shared::domain::self_service::{
    change_password, delete_account, disable_two_factor, list_sessions, regenerate_recovery_codes,
    remove_recovery_contact, revoke_session, Proof,
};
use shared::{http, App, Error, Result, Timestamp};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordBody {
    current_password: String,
    new_password: String,
}

/// `{"password"}` or `{"code"}`: what proves a change to two-factor authentication.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProofBody {
    password: Option<String>,
    code: Option<String>,
}

impl ProofBody {
    fn proof(self) -> Result<Proof> {
        match (self.password, self.code) {
            (Some(password), None) => Ok(Proof::Password(Password::new(&password))),
            (None, Some(code)) => Ok(Proof::Code(code)),
            _ => Err(Error::InvalidRequest("give either password or code".into())),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DeleteBody {
    password: String,
    code: Option<String>,
}

/// The last segment of the path: the `{type}` or `{id}` of a route.
fn last_segment(request: &Request) -> String {
    request.uri().path().trim_end_matches('/').rsplit('/').next().unwrap_or_default().to_owned()
}

pub async fn handle(app: &'static App, request: Request) -> Result<Response<Body>> {
    let now = Timestamp::now();
    let language = http::language(&request);
    let signed_in = http::signed_in(app, &request).await?;
    if http::is_route(&request, "GET", "/v1/account") {
        return Ok(http::json_response(StatusCode::OK, &signed_in.account.view()));
    }
    if http::is_route(&request, "PUT", "/v1/account/password") {
        let body: PasswordBody = http::json_body(&request)?;
        let (current, new) = (Password::new(&body.current_password), Password::new(&body.new_password));
        change_password(app, &signed_in, &current, &new, language, now).await?;
        return Ok(http::no_content());
    }
    if http::is_route(&request, "DELETE", "/v1/account/recovery-contacts/{type}") {
        remove_recovery_contact(app, &signed_in, &last_segment(&request), language).await?;
        return Ok(http::no_content());
    }
    if http::is_route(&request, "DELETE", "/v1/account/two-factor") {
        let proof = http::json_body::<ProofBody>(&request)?.proof()?;
        disable_two_factor(app, &signed_in, &proof, language, now).await?;
        return Ok(http::no_content());
    }
    if http::is_route(&request, "POST", "/v1/account/two-factor/recovery-codes") {
        let proof = http::json_body::<ProofBody>(&request)?.proof()?;
        let codes = regenerate_recovery_codes(app, &signed_in, &proof, language, now, &mut rand::rngs::OsRng).await?;
        return Ok(http::json_response(StatusCode::OK, &codes));
    }
    if http::is_route(&request, "GET", "/v1/account/sessions") {
        return Ok(http::json_response(StatusCode::OK, &list_sessions(app, &signed_in, now).await?));
    }
    if http::is_route(&request, "DELETE", "/v1/account/sessions/{id}") {
        revoke_session(app, &signed_in, &last_segment(&request)).await?;
        return Ok(http::no_content());
    }
    if http::is_route(&request, "DELETE", "/v1/account") {
        let body: DeleteBody = http::json_body(&request)?;
        delete_account(app, &signed_in, &Password::new(&body.password), body.code.as_deref(), language, now).await?;
        return Ok(http::no_content());
    }
    http::not_found()
}
