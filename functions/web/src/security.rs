//! The security page: how the account is signed in to and recovered, its sessions and
//! remembered devices, and signing out here or everywhere.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Deserialize;

use crate::browser::{Browser, SESSION};
use crate::pages::{Layout, SecurityPage, SessionRow};
use crate::problem::Problem;
use crate::{failure, render, reply};
use shared::domain::account::SecondFactor;
use shared::domain::forms::FormBinding;
use shared::domain::self_service::{list_sessions, sign_out_everywhere};
use shared::domain::session::{sign_out as end_session, Authenticated};
use shared::{App, Timestamp};

#[derive(Deserialize)]
struct Empty {}

/// `GET /account/security`; to the sign-in page without a good session.
pub async fn page(app: &App, browser: &Browser<'_>) -> Response<Body> {
    let Some(signed_in) = browser.signed_in(app).await else { return reply::redirect("/signin") };
    match list_sessions(app, &signed_in, Timestamp::now()).await {
        Ok(view) => {
            let t = browser.language;
            let account = &signed_in.account;
            let two_factor = if account.two_factor_enabled() {
                let methods: Vec<&str> = account
                    .two_factor
                    .methods
                    .iter()
                    .map(|m| match m {
                        SecondFactor::Totp => t.text("security.method_totp"),
                        SecondFactor::Sms => t.text("security.method_sms"),
                    })
                    .collect();
                t.fill("security.two_factor_on", &[("method", &methods.join(", "))])
            } else {
                t.text("security.two_factor_off").to_owned()
            };
            let sessions = view
                .sessions
                .into_iter()
                .map(|s| SessionRow {
                    label: match (s.current, s.kind, s.user_agent) {
                        (true, ..) => t.text("security.this_device").to_owned(),
                        (_, "device", _) => t.text("signin.remember").to_owned(),
                        (_, _, agent) => agent.unwrap_or_default().chars().take(80).collect(),
                    },
                    detail: [s.client_network.unwrap_or_default(), date(s.created_at)].join(" · "),
                    current: s.current,
                })
                .collect();
            let page = SecurityPage {
                layout: Layout::new(t, &app.config.service_name, "/account/security"),
                form: form_token(app, &signed_in),
                signed_in_as: t.fill("security.signed_in_as", &[("login", &account.primary.masked())]),
                sign_in_with: account.primary.masked(),
                recovery: account.contacts().into_iter().skip(1).map(|(c, _)| c.masked()).collect(),
                two_factor,
                sessions,
                notice: None,
            };
            reply::html(StatusCode::OK, render(&page))
        }
        Err(error) => failure(app, browser, &error.into()),
    }
}

fn form_token(app: &App, signed_in: &Authenticated) -> String {
    Browser::token_for(app, &FormBinding::Session(&signed_in.session))
}

/// The day a session began, as `2026-12-02` (UTC).
fn date(epoch_seconds: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(epoch_seconds).map(|t| t.date().to_string()).unwrap_or_default()
}

/// `POST /signout` and `POST /signout/everywhere`: the session ends (or every session and
/// remembered device of the account), the cookie goes, and the sign-in page follows.
pub async fn sign_out(app: &App, browser: &Browser<'_>, everywhere: bool) -> Response<Body> {
    let Some(signed_in) = browser.signed_in(app).await else { return reply::redirect("/signin") };
    if let Err(problem) = browser.form::<Empty>(app, &FormBinding::Session(&signed_in.session)) {
        return failure(app, browser, &problem);
    }
    let ended =
        if everywhere { sign_out_everywhere(app, &signed_in).await } else { end_session(app, &signed_in).await };
    match ended {
        Ok(()) => reply::with_cookie(reply::redirect("/signin"), SESSION, "", Some(0)),
        Err(error) => failure(app, browser, &Problem::from(error)),
    }
}
