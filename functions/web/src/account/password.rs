//! `GET|POST /account/password`: a new password, given the current one. Other sessions and
//! remembered devices end; this one stays signed in.

use lambda_http::{Body, Response};
use serde::Deserialize;

use super::{done, posted, signed_in};
use crate::browser::Browser;
use crate::pages::{rules, Layout, Notice, PasswordPage};
use crate::problem::Problem;
use crate::{refused, render, reply};
use shared::domain::password::Password;
use shared::domain::self_service::change_password;
use shared::domain::session::Authenticated;
use shared::{App, Timestamp};

#[derive(Deserialize)]
struct PasswordForm {
    current: String,
    password: String,
    password_confirm: String,
}

fn password_page(app: &App, browser: &Browser, signed_in: &Authenticated, problem: Option<Problem>) -> Response<Body> {
    let t = browser.language;
    let (status, notice) = Notice::answer(problem, t);
    let broken = notice.as_ref().map(|n| n.violations.clone()).unwrap_or_default();
    let page = PasswordPage {
        layout: Layout::new(t, &app.config.service_name, "/account/password"),
        form: super::form_token(app, signed_in),
        rules: rules(app, t, &broken),
        min_chars: app.config.password_policy.min_chars,
        notice,
    };
    reply::html(status, render(&page))
}

/// `GET /account/password`.
pub async fn page(app: &App, browser: &Browser<'_>) -> Response<Body> {
    match signed_in(app, browser).await {
        Ok(signed_in) => password_page(app, browser, &signed_in, None),
        Err(response) => response,
    }
}

/// `POST /account/password`.
pub async fn submit(app: &App, browser: &Browser<'_>) -> Response<Body> {
    let (signed_in, form) = match posted::<PasswordForm>(app, browser).await {
        Ok(posted) => posted,
        Err(response) => return response,
    };
    if form.password != form.password_confirm {
        return password_page(app, browser, &signed_in, Some(Problem::PasswordsDiffer));
    }
    let (current, new) = (Password::new(&form.current), Password::new(&form.password));
    let (language, now) = (browser.language, Timestamp::now());
    match change_password(app, &signed_in, &current, &new, language, now, &mut rand::rngs::OsRng).await {
        Ok(()) => done("password_changed"),
        Err(error) => refused(app, browser, error, |problem| password_page(app, browser, &signed_in, Some(problem))),
    }
}
