//! Signing in: login and password, then, on a browser the account does not know, a second
//! factor (authenticator app, SMS or a recovery code), with "remember this device".

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Deserialize;

use crate::browser::{Browser, DEVICE, SESSION};
use crate::countries::{countries, login_contact, DEFAULT_REGION};
use crate::pages::{Layout, Notice, SecondFactorPage, SignInPage};
use crate::problem::Problem;
use crate::{anonymous_form, failure, refused, render, reply, urlencode, with_form_cookie};
use shared::domain::password::Password;
use shared::domain::second_factor::MfaMethod;
use shared::domain::session::SessionIssued;
use shared::domain::sign_in::{complete_sign_in, send_challenge_sms, sign_in, MfaAnswer, SignInOutcome, SignInRequest};
use shared::{http, App, Timestamp};

#[derive(Deserialize)]
struct SignInForm {
    login: String,
    country: Option<String>,
    password: String,
}

#[derive(Deserialize)]
struct CodeForm {
    challenge_id: String,
    method: String,
    code: String,
    remember: Option<String>,
}

#[derive(Deserialize)]
struct SmsForm {
    challenge_id: String,
}

/// The sign-in page, with the form cookie its token is bound to when the browser has none.
fn sign_in_page(app: &App, browser: &Browser, form: Option<&SignInForm>, problem: Option<Problem>) -> Response<Body> {
    let (token, cookie) = anonymous_form(app, browser);
    let chosen = form.and_then(|f| f.country.clone()).or_else(|| browser.region());
    let (status, notice) = Notice::answer(problem, browser.language);
    let page = SignInPage {
        layout: Layout::new(browser.language, &app.config.service_name, "/signin"),
        form: token,
        countries: countries(browser.language, chosen.as_deref(), DEFAULT_REGION),
        login: form.map(|f| f.login.clone()).unwrap_or_default(),
        notice,
        done: (browser.query("done").as_deref() == Some("password_reset")).then(|| browser.language.text("reset.done")),
    };
    with_form_cookie(reply::html(status, render(&page)), cookie)
}

/// `GET /signin`.
pub async fn form(app: &App, browser: &Browser<'_>) -> Response<Body> {
    if browser.signed_in(app).await.is_some() {
        return reply::redirect("/account/security");
    }
    sign_in_page(app, browser, None, None)
}

/// The session cookie, and the remembered device's when one was made; then the security page.
fn signed_in(session: &SessionIssued, device: Option<(&str, u64)>) -> Response<Body> {
    let response = reply::redirect("/account/security");
    let response = reply::with_cookie(response, SESSION, &session.session_token, Some(session.expires_in));
    match device {
        Some((token, lifetime)) => reply::with_cookie(response, DEVICE, token, Some(lifetime)),
        None => response,
    }
}

/// `POST /signin`.
pub async fn submit(app: &App, browser: &Browser<'_>) -> Response<Body> {
    let form: SignInForm = match browser.anonymous_form(app) {
        Ok(form) => form,
        Err(problem) => return refused_sign_in(app, browser, None, problem),
    };
    let outcome = match login_contact(&form.login, form.country.as_deref()) {
        Ok(login) => {
            let request = SignInRequest {
                language: browser.language,
                login,
                password: Password::new(&form.password),
                device_token: browser.cookie(DEVICE),
                client: http::client_info(browser.request),
            };
            sign_in(app, request, Timestamp::now(), &mut rand::rngs::OsRng).await
        }
        Err(error) => Err(error),
    };
    match outcome {
        Ok(SignInOutcome::SignedIn(session)) => signed_in(&session, None),
        Ok(SignInOutcome::MfaRequired(required)) => reply::redirect(&format!(
            "/signin/code?challenge={}&methods={}",
            required.challenge_id.as_str(),
            method_names(&required.methods)
        )),
        Err(error) => refused_sign_in(app, browser, Some(&form), error.into()),
    }
}

fn refused_sign_in(app: &App, browser: &Browser, form: Option<&SignInForm>, problem: Problem) -> Response<Body> {
    refused(app, browser, problem, |problem| sign_in_page(app, browser, form, Some(problem)))
}

fn method_name(method: MfaMethod) -> &'static str {
    match method {
        MfaMethod::Totp => "totp",
        MfaMethod::Sms => "sms",
        MfaMethod::RecoveryCode => "recovery_code",
        MfaMethod::SecondContact => "second_contact",
    }
}

/// The methods of a challenge as the second-factor page's query carries them: `totp.sms`.
pub fn method_names(methods: &[MfaMethod]) -> String {
    methods.iter().map(|m| method_name(*m)).collect::<Vec<_>>().join(".")
}

/// The methods a second-factor page accepts.
pub fn method_of(name: &str) -> Option<MfaMethod> {
    [MfaMethod::Totp, MfaMethod::Sms, MfaMethod::RecoveryCode].into_iter().find(|m| method_name(*m) == name)
}

/// The second-factor step of signing in or of a reset (`base` is `/signin` or `/reset`), and
/// the form cookie to set when the browser has none.
pub fn second_factor_page(
    app: &App,
    browser: &Browser,
    challenge: &str,
    base: &str,
    notice: Option<Notice>,
) -> (SecondFactorPage, Option<String>) {
    let (token, cookie) = anonymous_form(app, browser);
    let methods = browser.query("methods").unwrap_or_default();
    let has = |name| methods.split('.').any(|m| m == name);
    let sent = browser.query("sent").filter(|s| s.len() <= 64);
    let page = SecondFactorPage {
        layout: Layout::new(browser.language, &app.config.service_name, base),
        form: token,
        challenge_id: challenge.to_owned(),
        totp: has("totp"),
        sms: has("sms"),
        sms_sent: sent.map(|to| browser.language.fill("signin.sms_sent", &[("destination", &to)])),
        sms_action: format!("{base}/sms?methods={}", urlencode(&methods)),
        // A remembered device skips the second factor when signing in; a reset makes none.
        remember: base == "/signin",
        notice,
        action: browser.own_url(),
    };
    (page, cookie)
}

/// `GET /signin/code?challenge=…&methods=…`.
pub async fn code_form(app: &App, browser: &Browser<'_>) -> Response<Body> {
    let Some(challenge) = browser.query("challenge").filter(|c| c.len() <= 64) else {
        return reply::redirect("/signin");
    };
    let (page, cookie) = second_factor_page(app, browser, &challenge, "/signin", None);
    with_form_cookie(reply::html(StatusCode::OK, render(&page)), cookie)
}

/// `POST /signin/code`: the second factor.
pub async fn verify(app: &App, browser: &Browser<'_>) -> Response<Body> {
    let form: CodeForm = match browser.anonymous_form(app) {
        Ok(form) => form,
        Err(problem) => return failure(app, browser, &problem),
    };
    let Some(method) = method_of(&form.method) else {
        let problem = Problem::Domain(shared::Error::InvalidRequest("choose a way to confirm".into()));
        return refused_code(app, browser, &form.challenge_id, problem);
    };
    let answer = MfaAnswer {
        language: browser.language,
        challenge_id: form.challenge_id.clone(),
        method,
        code: form.code.trim().to_owned(),
        remember_device: form.remember.is_some(),
    };
    match complete_sign_in(app, answer, Timestamp::now(), &mut rand::rngs::OsRng).await {
        Ok(done) => {
            let lifetime = app.config.remembered_device_ttl.as_secs();
            signed_in(&done.session, done.device_token.as_deref().map(|t| (t, lifetime)))
        }
        Err(error) => refused_code(app, browser, &form.challenge_id, error.into()),
    }
}

fn refused_code(app: &App, browser: &Browser, challenge: &str, problem: Problem) -> Response<Body> {
    refused(app, browser, problem, |problem| {
        let (status, notice) = Notice::answer(Some(problem), browser.language);
        let (page, cookie) = second_factor_page(app, browser, challenge, "/signin", notice);
        with_form_cookie(reply::html(status, render(&page)), cookie)
    })
}

/// `POST /signin/sms`: "Send a code by SMS", then the code page again.
pub async fn send_sms(app: &App, browser: &Browser<'_>) -> Response<Body> {
    let form: SmsForm = match browser.anonymous_form(app) {
        Ok(form) => form,
        Err(problem) => return failure(app, browser, &problem),
    };
    let methods = browser.query("methods").unwrap_or_default();
    match send_challenge_sms(app, &form.challenge_id, browser.language, Timestamp::now(), &mut rand::rngs::OsRng).await
    {
        Ok(sent) => reply::redirect(&format!(
            "/signin/code?challenge={}&methods={}&sent={}",
            urlencode(&form.challenge_id),
            urlencode(&methods),
            urlencode(&sent.destination)
        )),
        Err(error) => refused_code(app, browser, &form.challenge_id, error.into()),
    }
}
