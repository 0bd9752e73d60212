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

#[derive(Clone, Copy)]
enum Route {
    Page,
    Password,
    RemoveContact,
    TwoFactorOff,
    RecoveryCodes,
    Sessions,
    RevokeSession,
    Delete,
}

/// Every route of this function; each needs a session.
const ROUTES: [(&str, &str, Route); 8] = [
    ("GET", "/v1/account", Route::Page),
    ("PUT", "/v1/account/password", Route::Password),
    ("DELETE", "/v1/account/recovery-contacts/{type}", Route::RemoveContact),
    ("DELETE", "/v1/account/two-factor", Route::TwoFactorOff),
    ("POST", "/v1/account/two-factor/recovery-codes", Route::RecoveryCodes),
    ("GET", "/v1/account/sessions", Route::Sessions),
    ("DELETE", "/v1/account/sessions/{id}", Route::RevokeSession),
    ("DELETE", "/v1/account", Route::Delete),
];

/// The last segment of the path: the `{type}` or `{id}` of a route.
fn last_segment(request: &Request) -> String {
    request.uri().path().trim_end_matches('/').rsplit('/').next().unwrap_or_default().to_owned()
}

/// The proof in the body; no body at all is no proof (401 `proof_required`), as `{}` is.
fn proof(request: &Request) -> Result<Proof> {
    let empty = request.body().iter().all(u8::is_ascii_whitespace);
    let body: ProofBody = if empty { ProofBody::default() } else { http::json_body(request)? };
    body.try_into()
}

pub async fn handle(app: &'static App, request: Request) -> Result<Response<Body>> {
    // A path this function does not serve is a 404, with or without a session.
    let Some(route) = http::route(&request, &ROUTES) else { return http::not_found() };
    let now = Timestamp::now();
    let language = http::language(&request);
    let signed_in = http::signed_in(app, &request).await?;
    match route {
        Route::Page => Ok(http::json_response(StatusCode::OK, &AccountView::from(&signed_in.account))),
        Route::Password => {
            let (current, new) = http::json_body::<PasswordBody>(&request)?.passwords();
            change_password(app, &signed_in, &current, &new, language, now, &mut rand::rngs::OsRng).await?;
            Ok(http::no_content())
        }
        Route::RemoveContact => {
            remove_recovery_contact(
                app,
                &signed_in,
                &last_segment(&request),
                &proof(&request)?,
                language,
                now,
                &mut rand::rngs::OsRng,
            )
            .await?;
            Ok(http::no_content())
        }
        Route::TwoFactorOff => {
            disable_two_factor(app, &signed_in, &proof(&request)?, language, now, &mut rand::rngs::OsRng).await?;
            Ok(http::no_content())
        }
        Route::RecoveryCodes => {
            let codes =
                regenerate_recovery_codes(app, &signed_in, &proof(&request)?, language, now, &mut rand::rngs::OsRng)
                    .await?;
            Ok(http::json_response(StatusCode::OK, &NewRecoveryCodes::from(codes)))
        }
        Route::Sessions => {
            let sessions = list_sessions(app, &signed_in, now).await?;
            Ok(http::json_response(StatusCode::OK, &SessionsView::from(sessions)))
        }
        Route::RevokeSession => {
            revoke_session(app, &signed_in, &last_segment(&request)).await?;
            Ok(http::no_content())
        }
        Route::Delete => {
            let body: DeleteBody = http::json_body(&request)?;
            delete_account(
                app,
                &signed_in,
                &body.password(),
                body.code.as_deref(),
                language,
                now,
                &mut rand::rngs::OsRng,
            )
            .await?;
            Ok(http::no_content())
        }
    }
}
