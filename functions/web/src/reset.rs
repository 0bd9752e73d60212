//! "Forgot password?": `GET|POST /reset` sends a code to the phone or email (the answer is the
//! same whether or not it has an account), `GET|POST /reset/code` takes the code and the new
//! password, and with 2FA on `GET|POST /reset/verify` asks for the second factor.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Deserialize;

use crate::browser::{Browser, FORM};
use crate::countries::{countries, login_contact, DEFAULT_REGION};
use crate::pages::{rules, Captcha, Layout, Notice, ResetCodePage, ResetPage};
use crate::problem::Problem;
use crate::signin::{method_names, method_of, second_factor_page};
use crate::{anonymous_form, failure, render, reply, urlencode, with_form_cookie, CAPTCHA_URL};
use shared::domain::forms::FormBinding;
use shared::domain::password::Password;
use shared::domain::recovery::{complete_reset, reset_password, ResetAnswer, ResetOutcome, ResetRequest};
use shared::domain::sign_in::send_challenge_sms;
use shared::domain::verification::{confirm_code, request_code, CodeRequest, Purpose};
use shared::{http, App, Error, Timestamp};

#[derive(Deserialize, Default)]
struct LoginForm {
    country: Option<String>,
    login: String,
    altcha: Option<String>,
}

#[derive(Deserialize)]
struct NewPasswordForm {
    verification_id: String,
    #[serde(default)]
    verification_token: String,
    #[serde(default)]
    code: String,
    password: String,
    password_confirm: String,
}

#[derive(Deserialize)]
struct SecondFactorForm {
    challenge_id: String,
    method: String,
    code: String,
}

#[derive(Deserialize)]
struct SmsForm {
    challenge_id: String,
}

fn binding(browser: &Browser) -> String {
    browser.cookie(FORM).unwrap_or_default()
}

fn login_page(app: &App, browser: &Browser, form: &LoginForm, problem: Option<Problem>) -> Response<Body> {
    let t = browser.language;
    let (token, cookie) = anonymous_form(app, browser);
    let chosen = form.country.clone().or_else(|| browser.region());
    let status = problem.as_ref().map_or(StatusCode::OK, Problem::status);
    let page = ResetPage {
        layout: Layout::new(t, &app.config.service_name, "/reset"),
        form: token,
        countries: countries(t, chosen.as_deref(), DEFAULT_REGION),
        login: form.login.clone(),
        captcha: Captcha::new(CAPTCHA_URL, t),
        notice: problem.map(|p| Notice::of(&p, t)),
    };
    with_form_cookie(reply::html(status, render(&page)), cookie)
}

/// `GET /reset`.
pub async fn form(app: &App, browser: &Browser<'_>) -> Response<Body> {
    login_page(app, browser, &LoginForm::default(), None)
}

/// `POST /reset`: a code to the contact, if it is an account's.
pub async fn send_code(app: &App, browser: &Browser<'_>) -> Response<Body> {
    let form: LoginForm = match browser.form(app, &FormBinding::Browser(&binding(browser))) {
        Ok(form) => form,
        Err(problem) => return login_page(app, browser, &LoginForm::default(), Some(problem)),
    };
    let request = login_contact(&form.login, form.country.as_deref()).map(|contact| CodeRequest {
        captcha: form.altcha.clone(),
        contact,
        purpose: Purpose::ResetPassword,
        client_ip: http::client_ip(browser.request),
        language: browser.language,
    });
    let sent = match request {
        Ok(request) => request_code(app, request, Timestamp::now(), &mut rand::rngs::OsRng).await,
        Err(error) => Err(error),
    };
    match sent {
        Ok(sent) => reply::redirect(&format!(
            "/reset/code?id={}&to={}&minutes={}",
            sent.verification_id,
            urlencode(&sent.destination),
            sent.expires_in.div_ceil(60)
        )),
        Err(error) => match Problem::from(error) {
            problem if problem.belongs_on_form() => login_page(app, browser, &form, Some(problem)),
            problem => failure(app, browser, &problem),
        },
    }
}

fn code_page(app: &App, browser: &Browser, id: &str, token: &str, problem: Option<Problem>) -> Response<Body> {
    let t = browser.language;
    let (form, cookie) = anonymous_form(app, browser);
    let status = problem.as_ref().map_or(StatusCode::OK, Problem::status);
    let notice = problem.map(|p| Notice::of(&p, t));
    let broken = notice.as_ref().map(|n| n.violations.clone()).unwrap_or_default();
    let to = browser.query("to").unwrap_or_default();
    let minutes = browser.query("minutes").filter(|m| m.len() <= 3 && m.bytes().all(|b| b.is_ascii_digit()));
    let page = ResetCodePage {
        layout: Layout::new(t, &app.config.service_name, "/reset"),
        form,
        code_sent: t.fill("reset.code_sent", &[("destination", &to), ("minutes", minutes.as_deref().unwrap_or("10"))]),
        verification_id: id.to_owned(),
        verification_token: token.to_owned(),
        rules: rules(app, t, &broken),
        min_chars: app.config.password_policy.min_chars,
        action: browser.own_url(),
        notice,
    };
    with_form_cookie(reply::html(status, render(&page)), cookie)
}

/// `GET /reset/code?id=…&to=…`.
pub async fn code_form(app: &App, browser: &Browser<'_>) -> Response<Body> {
    let Some(id) = browser.query("id").filter(|id| id.len() <= 64) else { return reply::redirect("/reset") };
    code_page(app, browser, &id, "", None)
}

/// `POST /reset/code`: the code and the new password; done, or on to the second factor.
pub async fn submit_code(app: &App, browser: &Browser<'_>) -> Response<Body> {
    let form: NewPasswordForm = match browser.form(app, &FormBinding::Browser(&binding(browser))) {
        Ok(form) => form,
        Err(problem) => return failure(app, browser, &problem),
    };
    if form.password != form.password_confirm {
        let problem = Problem::PasswordsDiffer;
        return code_page(app, browser, &form.verification_id, &form.verification_token, Some(problem));
    }
    let (language, now, rng) = (browser.language, Timestamp::now(), &mut rand::rngs::OsRng);
    let mut token = form.verification_token.clone();
    let outcome = async {
        if token.is_empty() {
            token = confirm_code(app, &form.verification_id, form.code.trim(), now, rng).await?.verification_token;
        }
        let request = ResetRequest { verification_token: token.clone(), password: Password::new(&form.password) };
        reset_password(app, request, language, now, rng).await
    }
    .await;
    match outcome {
        Ok(ResetOutcome::Done) => reply::redirect("/signin?done=password_reset"),
        Ok(ResetOutcome::MfaRequired(required)) => reply::redirect(&format!(
            "/reset/verify?challenge={}&methods={}",
            required.challenge_id.as_str(),
            method_names(&required.methods)
        )),
        Err(error) => match Problem::from(error) {
            problem if problem.belongs_on_form() => {
                code_page(app, browser, &form.verification_id, &token, Some(problem))
            }
            problem => failure(app, browser, &problem),
        },
    }
}

fn verify_page(app: &App, browser: &Browser, challenge: &str, problem: Option<Problem>) -> Response<Body> {
    let status = problem.as_ref().map_or(StatusCode::OK, Problem::status);
    let notice = problem.map(|p| Notice::of(&p, browser.language));
    let (page, cookie) = second_factor_page(app, browser, challenge, "/reset", notice);
    with_form_cookie(reply::html(status, render(&page)), cookie)
}

/// `GET /reset/verify?challenge=…&methods=…`.
pub async fn verify_form(app: &App, browser: &Browser<'_>) -> Response<Body> {
    match browser.query("challenge").filter(|c| c.len() <= 64) {
        Some(challenge) => verify_page(app, browser, &challenge, None),
        None => reply::redirect("/reset"),
    }
}

/// `POST /reset/verify`: the second factor; the new password then holds.
pub async fn verify(app: &App, browser: &Browser<'_>) -> Response<Body> {
    let form: SecondFactorForm = match browser.form(app, &FormBinding::Browser(&binding(browser))) {
        Ok(form) => form,
        Err(problem) => return failure(app, browser, &problem),
    };
    let answer = method_of(&form.method)
        .map(|method| ResetAnswer {
            challenge_id: form.challenge_id.clone(),
            method,
            code: Some(form.code.trim().to_owned()),
            verification_token: None,
        })
        .ok_or_else(|| Error::InvalidRequest("choose a way to confirm".into()));
    let done = match answer {
        Ok(answer) => complete_reset(app, answer, browser.language, Timestamp::now(), &mut rand::rngs::OsRng).await,
        Err(error) => Err(error),
    };
    match done {
        Ok(()) => reply::redirect("/signin?done=password_reset"),
        Err(error) => match Problem::from(error) {
            problem if problem.belongs_on_form() => verify_page(app, browser, &form.challenge_id, Some(problem)),
            problem => failure(app, browser, &problem),
        },
    }
}

/// `POST /reset/sms`: "Send a code by SMS" on the second-factor step.
pub async fn send_sms(app: &App, browser: &Browser<'_>) -> Response<Body> {
    let form: SmsForm = match browser.form(app, &FormBinding::Browser(&binding(browser))) {
        Ok(form) => form,
        Err(problem) => return failure(app, browser, &problem),
    };
    let (language, now) = (browser.language, Timestamp::now());
    match send_challenge_sms(app, &form.challenge_id, language, now, &mut rand::rngs::OsRng).await {
        Ok(sent) => reply::redirect(&format!(
            "/reset/verify?challenge={}&methods={}&sent={}",
            urlencode(&form.challenge_id),
            urlencode(&browser.query("methods").unwrap_or_default()),
            urlencode(&sent.destination)
        )),
        Err(error) => match Problem::from(error) {
            problem if problem.belongs_on_form() => verify_page(app, browser, &form.challenge_id, Some(problem)),
            problem => failure(app, browser, &problem),
        },
    }
}
