//! The security page: how the account is signed in to and recovered, with a link to each
//! change (`account/`), its sessions and remembered devices, and signing out here, of another
//! device, or everywhere.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Deserialize;

use crate::account::{form_token, posted, signed_in};
use crate::browser::{Browser, SESSION};
use crate::pages::{AppRow, Layout, RecoveryRow, SecurityPage, SessionRow};
use crate::problem::Problem;
use crate::{failure, render, reply};
use shared::domain::account::SecondFactor;
use shared::domain::oidc::apps::{apps_with_access, remove_access};
use shared::domain::self_service::{list_sessions, revoke_session, sign_out_everywhere, SessionView};
use shared::domain::session::{sign_out as end_this_session, Authenticated};
use shared::domain::{Channel, Language};
use shared::{App, Error, Timestamp};

#[derive(Deserialize)]
struct Empty {}

#[derive(Deserialize)]
struct SessionForm {
    id: String,
}

#[derive(Deserialize)]
struct AppForm {
    client_id: String,
}

/// What the page may say was just done (`?done=`): the `event.` texts of the changes.
const DONE: [&str; 6] = [
    "event.app_removed",
    "event.password_changed",
    "event.recovery_contact_added",
    "event.recovery_contact_removed",
    "event.two_factor_off",
    "event.two_factor_on",
];

fn session_row(t: Language, s: SessionView) -> SessionRow {
    SessionRow {
        label: match (s.current, s.kind, s.user_agent) {
            (true, ..) => t.text("security.this_device").to_owned(),
            (_, "device", _) => t.text("signin.remember").to_owned(),
            (_, _, agent) => agent.unwrap_or_default().chars().take(80).collect(),
        },
        detail: [s.client_network.unwrap_or_default(), date(s.created_at)].join(" · "),
        current: s.current,
        id: s.id,
    }
}

fn two_factor_text(t: Language, methods: &[SecondFactor]) -> String {
    if methods.is_empty() {
        return t.text("security.two_factor_off").to_owned();
    }
    let names: Vec<&str> = methods.iter().map(|m| t.text(method_key(*m))).collect();
    t.fill("security.two_factor_on", &[("method", &names.join(", "))])
}

fn method_key(method: SecondFactor) -> &'static str {
    match method {
        SecondFactor::Totp => "security.method_totp",
        SecondFactor::Sms => "security.method_sms",
    }
}

/// `GET /account/security[?done=…]`; to the sign-in page without a good session.
pub async fn page(app: &App, browser: &Browser<'_>) -> Response<Body> {
    let signed_in = match signed_in(app, browser).await {
        Ok(signed_in) => signed_in,
        Err(response) => return response,
    };
    let view = match list_sessions(app, &signed_in, Timestamp::now()).await {
        Ok(view) => view,
        Err(error) => return failure(app, browser, &error.into()),
    };
    let apps = match apps(app, &signed_in).await {
        Ok(apps) => apps,
        Err(error) => return failure(app, browser, &error.into()),
    };
    let t = browser.language;
    let account = &signed_in.account;
    let methods = &account.two_factor.methods;
    let recovery: Vec<RecoveryRow> = [(Channel::Sms, "remove_phone"), (Channel::Email, "remove_email")]
        .into_iter()
        .filter_map(|(channel, remove)| account.recovery(channel).map(|c| RecoveryRow { contact: c.masked(), remove }))
        .collect();
    let mut add_methods = Vec::new();
    if !methods.contains(&SecondFactor::Totp) {
        add_methods.push(("totp", t.text("security.use_totp")));
    }
    if !methods.contains(&SecondFactor::Sms) && account.phone().is_some() {
        add_methods.push(("sms", t.text("security.use_sms")));
    }
    let done = browser.query("done").and_then(|d| DONE.iter().find(|k| k.strip_prefix("event.") == Some(&d)));
    let page = SecurityPage {
        layout: Layout::new(t, &app.config.service_name, "/account/security"),
        form: form_token(app, &signed_in),
        signed_in_as: t.fill("security.signed_in_as", &[("login", &account.primary.masked())]),
        sign_in_with: account.primary.masked(),
        add_phone: account.recovery(Channel::Sms).is_none(),
        add_email: account.recovery(Channel::Email).is_none(),
        recovery,
        two_factor: two_factor_text(t, methods),
        add_methods,
        two_factor_on: account.two_factor_enabled(),
        sessions: view.sessions.into_iter().map(|s| session_row(t, s)).collect(),
        apps,
        done: done.map(|key| t.text(key)),
        notice: None,
    };
    reply::html(StatusCode::OK, render(&page))
}

/// The apps the person let in; `None` where this deployment is no OpenID Connect provider.
async fn apps(app: &App, signed_in: &Authenticated) -> Result<Option<Vec<AppRow>>, Error> {
    let oidc = match app.oidc().await {
        Ok(oidc) => oidc,
        Err(Error::NotFound) => return Ok(None),
        Err(error) => return Err(error),
    };
    let apps = apps_with_access(oidc.provider(&app.config.secret), &signed_in.account.id).await?;
    Ok(Some(apps.into_iter().map(|a| AppRow { client_id: a.client_id.as_str().to_owned(), name: a.name }).collect()))
}

/// `POST /account/apps/remove`: the app's access ends (its consent and its refresh tokens).
pub async fn remove_app(app: &App, browser: &Browser<'_>) -> Response<Body> {
    let (signed_in, form): (Authenticated, AppForm) = match posted(app, browser).await {
        Ok(posted) => posted,
        Err(response) => return response,
    };
    let removed = match app.oidc().await {
        Ok(oidc) => remove_access(oidc.provider(&app.config.secret), &signed_in.account.id, &form.client_id).await,
        Err(error) => Err(error),
    };
    match removed {
        Ok(()) => reply::redirect("/account/security?done=app_removed"),
        Err(error) => failure(app, browser, &Problem::from(error)),
    }
}

/// The day a session began, as `2026-12-02` (UTC).
fn date(epoch_seconds: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(epoch_seconds).map(|t| t.date().to_string()).unwrap_or_default()
}

/// `POST /signout` and `POST /signout/everywhere`: the session ends (or every session and
/// remembered device of the account), the cookie goes, and the sign-in page follows.
pub async fn sign_out(app: &App, browser: &Browser<'_>, everywhere: bool) -> Response<Body> {
    let (signed_in, Empty {}) = match posted::<Empty>(app, browser).await {
        Ok(posted) => posted,
        Err(response) => return response,
    };
    let ended: Result<(), _> =
        if everywhere { sign_out_everywhere(app, &signed_in).await } else { end_this_session(app, &signed_in).await };
    match ended {
        Ok(()) => reply::with_cookie(reply::redirect("/signin"), SESSION, "", Some(0)),
        Err(error) => failure(app, browser, &Problem::from(error)),
    }
}

/// `POST /account/sessions/end`: signs another device out (or forgets a remembered one).
pub async fn end_session(app: &App, browser: &Browser<'_>) -> Response<Body> {
    let (signed_in, form): (Authenticated, SessionForm) = match posted(app, browser).await {
        Ok(posted) => posted,
        Err(response) => return response,
    };
    match revoke_session(app, &signed_in, &form.id).await {
        Ok(()) => reply::redirect("/account/security"),
        Err(error) => failure(app, browser, &Problem::from(error)),
    }
}
