//! Adding a recovery phone or email: `GET|POST /account/recovery?type=phone|email` sends a code
//! to it (after the CAPTCHA, as sign-up does); `GET|POST /account/recovery/code?id=…` takes the
//! code and the proof, and adds it.

use lambda_http::{Body, Response};
use serde::Deserialize;

use super::{done, posted, proof, signed_in};
use crate::browser::Browser;
use crate::countries::{countries, DEFAULT_REGION};
use crate::pages::{Captcha, ContactCodePage, ContactPage, Layout, Notice};
use crate::problem::Problem;
use crate::{codes, refused, render, reply, CAPTCHA_URL};
use shared::domain::account_page::add_recovery_contact;
use shared::domain::session::Authenticated;
use shared::domain::verification::{confirm_code, Purpose};
use shared::{App, Timestamp};

#[derive(Deserialize, Default)]
struct ContactForm {
    country: Option<String>,
    phone: Option<String>,
    email: Option<String>,
    altcha: Option<String>,
}

#[derive(Deserialize)]
struct CodeForm {
    verification_id: String,
    #[serde(default)]
    verification_token: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    second_factor: String,
}

fn by_phone(browser: &Browser) -> bool {
    browser.query("type").as_deref() != Some("email")
}

fn contact_page(
    app: &App,
    browser: &Browser,
    signed_in: &Authenticated,
    form: &ContactForm,
    problem: Option<Problem>,
) -> Response<Body> {
    let t = browser.language;
    let (status, notice) = Notice::answer(problem, t);
    let chosen = form.country.clone().or_else(|| browser.region());
    let by_phone = by_phone(browser);
    let page = ContactPage {
        layout: Layout::new(t, &app.config.service_name, &browser.own_url()),
        form: super::form_token(app, signed_in),
        title: t.text(if by_phone { "contact.phone_title" } else { "contact.email_title" }),
        by_phone,
        countries: countries(t, chosen.as_deref(), DEFAULT_REGION),
        phone: form.phone.clone().unwrap_or_default(),
        email: form.email.clone().unwrap_or_default(),
        captcha: Captcha::new(CAPTCHA_URL, t),
        action: browser.own_url(),
        notice,
    };
    reply::html(status, render(&page))
}

/// `GET /account/recovery?type=phone|email`.
pub async fn page(app: &App, browser: &Browser<'_>) -> Response<Body> {
    match signed_in(app, browser).await {
        Ok(signed_in) => contact_page(app, browser, &signed_in, &ContactForm::default(), None),
        Err(response) => response,
    }
}

/// `POST /account/recovery?type=…`: the code goes to the new contact.
pub async fn send_code(app: &App, browser: &Browser<'_>) -> Response<Body> {
    let (signed_in, form) = match posted::<ContactForm>(app, browser).await {
        Ok(posted) => posted,
        Err(response) => return response,
    };
    let contact =
        codes::contact_of(by_phone(browser), form.country.as_deref(), form.phone.as_deref(), form.email.as_deref());
    let next = "/account/recovery/code";
    match codes::send(app, browser, contact, form.altcha.clone(), Purpose::AddContact, next).await {
        Ok(response) => response,
        Err(error) => {
            refused(app, browser, error, |problem| contact_page(app, browser, &signed_in, &form, Some(problem)))
        }
    }
}

fn code_page(
    app: &App,
    browser: &Browser,
    signed_in: &Authenticated,
    verification_id: &str,
    verification_token: &str,
    problem: Option<Problem>,
) -> Response<Body> {
    let (status, notice) = Notice::answer(problem, browser.language);
    let page = ContactCodePage {
        layout: Layout::new(browser.language, &app.config.service_name, "/account/security"),
        form: super::form_token(app, signed_in),
        code_sent: codes::sent_text(browser, "signup.code_sent"),
        verification_id: verification_id.to_owned(),
        verification_token: verification_token.to_owned(),
        two_factor: signed_in.account.two_factor_enabled(),
        action: browser.own_url(),
        notice,
    };
    reply::html(status, render(&page))
}

/// `GET /account/recovery/code?id=…&to=…`.
pub async fn code_form(app: &App, browser: &Browser<'_>) -> Response<Body> {
    let signed_in = match signed_in(app, browser).await {
        Ok(signed_in) => signed_in,
        Err(response) => return response,
    };
    let Some(id) = browser.query("id").filter(|id| id.len() <= 64) else { return reply::redirect("/account/security") };
    code_page(app, browser, &signed_in, &id, "", None)
}

/// `POST /account/recovery/code`: the code proves the contact, the password (or a second
/// factor) proves the person. A code once confirmed is not asked for again on this page.
pub async fn add(app: &App, browser: &Browser<'_>) -> Response<Body> {
    let (signed_in, form) = match posted::<CodeForm>(app, browser).await {
        Ok(posted) => posted,
        Err(response) => return response,
    };
    let (language, now, rng) = (browser.language, Timestamp::now(), &mut rand::rngs::OsRng);
    let mut token = form.verification_token.clone();
    let added = async {
        let proof = proof(&form.password, &form.second_factor)?;
        if token.is_empty() {
            token = confirm_code(app, &form.verification_id, form.code.trim(), now, rng).await?.verification_token;
        }
        add_recovery_contact(app, &signed_in.account, &token, &proof, language, now, rng).await
    }
    .await;
    match added {
        Ok(_) => done("recovery_contact_added"),
        Err(error) => refused(app, browser, error, |problem| {
            code_page(app, browser, &signed_in, &form.verification_id, &token, Some(problem))
        }),
    }
}
