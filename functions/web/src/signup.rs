//! Creating an account, as the guide describes it: the phone tab first (country from a list,
//! number, CAPTCHA, "Get verification code"), then the code, the password twice and the terms.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Deserialize;

use crate::browser::{Browser, FORM, SESSION};
use crate::countries::{calling_code, countries, DEFAULT_REGION};
use crate::pages::{rules, Captcha, Layout, Notice, SignUpCodePage, SignUpPage};
use crate::problem::Problem;
use crate::{anonymous_form, failure, render, reply, urlencode, with_form_cookie, CAPTCHA_URL};
use shared::domain::forms::FormBinding;
use shared::domain::password::Password;
use shared::domain::sign_up::{sign_up, CodeOrToken, SignUp};
use shared::domain::verification::{request_code, CodeRequest, Purpose};
use shared::domain::{Contact, EmailAddress, PhoneNumber};
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
    let binding_value = browser.cookie(FORM).unwrap_or_default();
    let form: CodeForm = match browser.form(app, &FormBinding::Browser(&binding_value)) {
        Ok(form) => form,
        Err(problem) => return refused_code(app, browser, true, None, problem),
    };
    let by_phone = form.method != "email";
    let contact = if by_phone {
        let code = form.country.as_deref().and_then(calling_code);
        PhoneNumber::parse(code.as_deref(), form.phone.as_deref().unwrap_or_default()).map(Contact::Phone)
    } else {
        EmailAddress::parse(form.email.as_deref().unwrap_or_default()).map(Contact::Email)
    };
    let request = contact.map(|contact| CodeRequest {
        captcha: form.altcha.clone(),
        contact,
        purpose: Purpose::SignUp,
        client_ip: http::client_ip(browser.request),
        language: browser.language,
    });
    let sent = match request {
        Ok(request) => request_code(app, request, Timestamp::now(), &mut rand::rngs::OsRng).await,
        Err(error) => Err(error),
    };
    match sent {
        Ok(sent) => {
            let minutes = sent.expires_in.div_ceil(60);
            let to = urlencode(&sent.destination);
            reply::redirect(&format!("/signup/code?id={}&to={to}&minutes={minutes}", sent.verification_id))
        }
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
    if !problem.belongs_on_form() {
        return failure(app, browser, &problem);
    }
    let empty = CodeForm { method: String::new(), country: None, phone: None, email: None, altcha: None };
    let notice = Notice { message: problem.message(browser.language), violations: Vec::new() };
    let (token, _) = anonymous_form(app, browser);
    let page = code_page(app, browser, token, by_phone, form.unwrap_or(&empty), Some(notice));
    reply::html(problem.status(), render(&page))
}

struct CodeStep {
    verification_id: String,
    verification_token: String,
    accepted: bool,
}

fn create_page(app: &App, browser: &Browser, step: CodeStep, notice: Option<Notice>) -> SignUpCodePage {
    let language = browser.language;
    let (token, _) = anonymous_form(app, browser);
    let to = browser.query("to").unwrap_or_default();
    let minutes = browser.query("minutes").filter(|m| m.len() <= 3 && m.bytes().all(|b| b.is_ascii_digit()));
    let code_sent =
        language.fill("signup.code_sent", &[("destination", &to), ("minutes", minutes.as_deref().unwrap_or("10"))]);
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
    let binding_value = browser.cookie(FORM).unwrap_or_default();
    let form: CreateForm = match browser.form(app, &FormBinding::Browser(&binding_value)) {
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
    if !problem.belongs_on_form() || step.verification_id.is_empty() {
        return failure(app, browser, &problem);
    }
    let notice = Notice { message: problem.message(browser.language), violations: problem.violations() };
    reply::html(problem.status(), render(&create_page(app, browser, step, Some(notice))))
}
