//! Turning on two-factor authentication from the security page: after the proof
//! (`confirm.rs`), the QR code and key for the authenticator app, or the SMS code; then
//! `POST /account/two-factor` checks the first code and shows the recovery codes, once.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use qrcode::render::svg;
use qrcode::QrCode;
use serde::Deserialize;

use super::posted;
use crate::browser::Browser;
use crate::pages::{CodesPage, Layout, Notice, TwoFactorPage};
use crate::problem::Problem;
use crate::{refused, render, reply};
use shared::domain::session::Authenticated;
use shared::domain::two_factor::{confirm_two_factor, SetupStarted};
use shared::{App, Timestamp};

#[derive(Deserialize)]
struct CodeForm {
    code: String,
}

/// The `otpauth://` URI as an inline SVG QR code: drawn on the server, so no script and no
/// request leaves the page with the secret in it.
fn qr_svg(uri: &str) -> Option<String> {
    let code = QrCode::new(uri.as_bytes()).ok()?;
    let image = code.render::<svg::Color>().min_dimensions(200, 200).quiet_zone(true).build();
    // The renderer starts with an XML declaration, which has no place inside HTML.
    Some(image.split_once("?>").map_or(image.clone(), |(_, svg)| svg.to_owned()))
}

/// The key in groups of four, as authenticator apps show it when typed in by hand.
fn grouped(secret: &str) -> String {
    secret.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(" ")
}

/// The setup page: `started` shows the QR code and key (or where the SMS went); without it,
/// after a wrong code, only the code is asked for again.
pub fn setup_page(
    app: &App,
    browser: &Browser,
    signed_in: &Authenticated,
    started: Option<SetupStarted>,
    problem: Option<Problem>,
) -> Response<Body> {
    let t = browser.language;
    let (mut qr, mut key, mut sms_sent) = (None, None, None);
    match started {
        Some(SetupStarted::Totp { secret, otpauth_uri }) => {
            qr = qr_svg(&otpauth_uri);
            key = Some(grouped(&secret));
        }
        Some(SetupStarted::Sms { destination, .. }) => {
            sms_sent = Some(t.fill("signin.sms_sent", &[("destination", &destination)]));
        }
        None => {}
    }
    let (status, notice) = Notice::answer(problem, t);
    let page = TwoFactorPage {
        layout: Layout::new(t, &app.config.service_name, "/account/security"),
        form: super::form_token(app, signed_in),
        qr,
        key,
        sms_sent,
        notice,
    };
    reply::html(status, render(&page))
}

/// Recovery codes, shown this once (the page is `no-store`; only their hashes are kept).
pub fn codes_page(app: &App, browser: &Browser, title: &'static str, codes: Vec<String>) -> Response<Body> {
    let t = browser.language;
    let page = CodesPage {
        layout: Layout::new(t, &app.config.service_name, "/account/security"),
        title: t.text(title),
        codes,
    };
    reply::html(StatusCode::OK, render(&page))
}

/// `POST /account/two-factor`: the first code from the app (or the SMS) turns 2FA on.
pub async fn confirm(app: &App, browser: &Browser<'_>) -> Response<Body> {
    let (signed_in, form) = match posted::<CodeForm>(app, browser).await {
        Ok(posted) => posted,
        Err(response) => return response,
    };
    let (language, now) = (browser.language, Timestamp::now());
    match confirm_two_factor(app, &signed_in.account, form.code.trim(), language, now, &mut rand::rngs::OsRng).await {
        Ok(enabled) => codes_page(app, browser, "event.two_factor_on", enabled.recovery_codes),
        Err(error) => refused(app, browser, error, |problem| setup_page(app, browser, &signed_in, None, Some(problem))),
    }
}
