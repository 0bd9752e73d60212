//! Creating an account, as the guide describes it: the phone tab first (country from a list,
//! number, CAPTCHA, "Get verification code"), then the code, the password twice and the terms.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Deserialize;

use crate::browser::{Browser, SESSION};
use crate::countries::{countries, DEFAULT_REGION};
use crate::pages::{rules, Captcha, Layout, Notice, SignUpCodePage, SignUpPage};
use crate::problem::Problem;
use crate::{anonymous_form, codes, failure, refused, render, reply, with_form_cookie, CAPTCHA_URL};
use shared::domain::password::Password;
use shared::domain::sign_up::{sign_up, CodeOrToken, SignUp};
use shared::domain::verification::Purpose;
use shared::{http, App, Timestamp};

#[derive(Deserialize)]
struct CodeForm {
    method: String,
    country: Option<String>,
    phone: Option<String>,
    email: Option<String>,
    altcha: Option<String>,
}

#[derive(Deserialize)]
struct CreateForm {
    verification_id: String,
    #[serde(default)]
    verification_token: String,
    #[serde(default)]
    code: String,
    password: String,
    password_confirm: String,
    terms: Option<String>,
}

fn code_page(
    app: &App,
    browser: &Browser,
    token: String,
    by_phone: bool,
    form: &CodeForm,
    notice: Option<Notice>,
) -> SignUpPage {
    let chosen = form.country.clone().or_else(|| browser.region());
    SignUpPage {
        layout: Layout::new(browser.language, &app.config.service_name, browser.request.uri().path()),
        form: token,
        by_phone,
        countries: countries(browser.language, chosen.as_deref(), DEFAULT_REGION),
        phone: form.phone.clone().unwrap_or_default(),
        email: form.email.clone().unwrap_or_default(),
        captcha: Captcha::new(CAPTCHA_URL, browser.language),
        notice,
    }
}

/// `GET /signup[?method=email]`.
pub async fn form(app: &App, browser: &Browser<'_>) -> Response<Body> {
    let by_phone = browser.query("method").as_deref() != Some("email");
    let (token, cookie) = anonymous_form(app, browser);
    let empty = CodeForm { method: String::new(), country: None, phone: None, email: None, altcha: None };
    let page = code_page(app, browser, token, by_phone, &empty, None);
    with_form_cookie(reply::html(StatusCode::OK, render(&page)), cookie)
}

/// `POST /signup`: "Get verification code".
pub async fn send_code(app: &App, browser: &Browser<'_>) -> Response<Body> {
    let form: CodeForm = match browser.anonymous_form(app) {
        Ok(form) => form,
        Err(problem) => return refused_code(app, browser, true, None, problem),
    };
    let by_phone = form.method != "email";
    let contact = codes::contact_of(by_phone, form.country.as_deref(), form.phone.as_deref(), form.email.as_deref());
    match codes::send(app, browser, contact, form.altcha.clone(), Purpose::SignUp, "/signup/code").await {
        Ok(response) => response,
        Err(error) => refused_code(app, browser, by_phone, Some(&form), error.into()),
    }
}

fn refused_code(
    app: &App,
    browser: &Browser,
    by_phone: bool,
    form: Option<&CodeForm>,
    problem: Problem,
) -> Response<Body> {
    refused(app, browser, problem, |problem| {
        let empty = CodeForm { method: String::new(), country: None, phone: None, email: None, altcha: None };
        let (status, notice) = Notice::answer(Some(problem), browser.language);
        let (token, cookie) = anonymous_form(app, browser);
        let page = code_page(app, browser, token, by_phone, form.unwrap_or(&empty), notice);
        with_form_cookie(reply::html(status, render(&page)), cookie)
    })
}

struct CodeStep {
    verification_id: String,
    verification_token: String,
    accepted: bool,
}

fn create_page(app: &App, browser: &Browser, step: CodeStep, notice: Option<Notice>) -> SignUpCodePage {
    let language = browser.language;
    let (token, _) = anonymous_form(app, browser);
    let code_sent = codes::sent_text(browser, "signup.code_sent");
    let marker = "\u{0}";
    let agree = language.fill("signup.agree", &[("terms", marker), ("privacy", marker)]);
    let mut parts = agree.splitn(3, marker).map(str::to_owned);
    let broken = notice.as_ref().map(|n| n.violations.clone()).unwrap_or_default();
    SignUpCodePage {
        layout: Layout::new(language, &app.config.service_name, "/signup"),
        form: token,
        verification_id: step.verification_id,
        verification_token: step.verification_token,
        code_sent,
        rules: rules(app, language, &broken),
        min_chars: app.config.password_policy.min_chars,
        terms_label_before: parts.next().unwrap_or_default(),
        terms_label_between: parts.next().unwrap_or_default(),
        terms_label_after: parts.next().unwrap_or_default(),
        accepted: step.accepted,
        notice,
        action: browser.own_url(),
    }
}

/// `GET /signup/code?id=…`: the code, the password and the terms.
pub async fn code_form(app: &App, browser: &Browser<'_>) -> Response<Body> {
    let Some(id) = browser.query("id").filter(|id| id.len() <= 64) else { return reply::redirect("/signup") };
    let (_, cookie) = anonymous_form(app, browser);
    let step = CodeStep { verification_id: id, verification_token: String::new(), accepted: false };
    with_form_cookie(reply::html(StatusCode::OK, render(&create_page(app, browser, step, None))), cookie)
}

/// `POST /signup/code`: "Create account". Signed in on success.
pub async fn create(app: &App, browser: &Browser<'_>) -> Response<Body> {
    let form: CreateForm = match browser.anonymous_form(app) {
        Ok(form) => form,
        Err(problem) => return refused_create(app, browser, CodeStep::empty(), problem),
    };
    let step = |token: Option<String>| CodeStep {
        verification_id: form.verification_id.clone(),
        verification_token: token.unwrap_or_else(|| form.verification_token.clone()),
        accepted: form.terms.is_some(),
    };
    if form.password != form.password_confirm {
        return refused_create(app, browser, step(None), Problem::PasswordsDiffer);
    }
    let proof = if form.verification_token.is_empty() {
        CodeOrToken::Code(form.code.trim().to_owned())
    } else {
        CodeOrToken::Token(form.verification_token.clone())
    };
    let request = SignUp {
        verification_id: form.verification_id.clone(),
        proof,
        password: Password::new(&form.password),
        accept_terms: form.terms.is_some(),
        client: http::client_info(browser.request),
        language: browser.language,
    };
    match sign_up(app, request, Timestamp::now(), &mut rand::rngs::OsRng).await {
        Ok(signed_up) => {
            let session = &signed_up.session;
            let response = reply::redirect("/account/security");
            reply::with_cookie(response, SESSION, &session.session_token, Some(session.expires_in))
        }
        Err(refused) => {
            let token = refused.verification_token.clone();
            refused_create(app, browser, step(token), refused.error.into())
        }
    }
}

impl CodeStep {
    fn empty() -> Self {
        CodeStep { verification_id: String::new(), verification_token: String::new(), accepted: false }
    }
}

fn refused_create(app: &App, browser: &Browser, step: CodeStep, problem: Problem) -> Response<Body> {
    if step.verification_id.is_empty() {
        return failure(app, browser, &problem);
    }
    refused(app, browser, problem, |problem| {
        let (status, notice) = Notice::answer(Some(problem), browser.language);
        reply::html(status, render(&create_page(app, browser, step, notice)))
    })
}
