//! "Forgot password?": `GET|POST /reset` sends a code to the phone or email (the answer is the
//! same whether or not it has an account), `GET|POST /reset/code` takes the code and the new
//! password, and with 2FA on `GET|POST /reset/verify` asks for the second factor.

use lambda_http::{Body, Response};
use serde::Deserialize;

use crate::browser::Browser;
use crate::countries::{countries, login_contact, DEFAULT_REGION};
use crate::pages::{rules, Captcha, Layout, Notice, ResetCodePage, ResetPage};
use crate::problem::Problem;
use crate::signin::{method_names, method_of, second_factor_page};
use crate::{anonymous_form, codes, failure, refused, render, reply, urlencode, with_form_cookie, CAPTCHA_URL};
use shared::domain::password::Password;
use shared::domain::recovery::{complete_reset, reset_password, ResetAnswer, ResetOutcome, ResetRequest};
use shared::domain::sign_in::send_challenge_sms;
use shared::domain::verification::{confirm_code, Purpose};
use shared::{App, Error, Timestamp};

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

fn login_page(app: &App, browser: &Browser, form: &LoginForm, problem: Option<Problem>) -> Response<Body> {
    let t = browser.language;
    let (token, cookie) = anonymous_form(app, browser);
    let chosen = form.country.clone().or_else(|| browser.region());
    let (status, notice) = Notice::answer(problem, t);
    let page = ResetPage {
        layout: Layout::new(t, &app.config.service_name, "/reset"),
        form: token,
        countries: countries(t, chosen.as_deref(), DEFAULT_REGION),
        login: form.login.clone(),
        captcha: Captcha::new(CAPTCHA_URL, t),
        notice,
    };
    with_form_cookie(reply::html(status, render(&page)), cookie)
}

/// `GET /reset`.
pub async fn form(app: &App, browser: &Browser<'_>) -> Response<Body> {
    login_page(app, browser, &LoginForm::default(), None)
}

/// `POST /reset`: a code to the contact, if it is an account's.
pub async fn send_code(app: &App, browser: &Browser<'_>) -> Response<Body> {
    let form: LoginForm = match browser.anonymous_form(app) {
        Ok(form) => form,
        Err(problem) => return login_page(app, browser, &LoginForm::default(), Some(problem)),
    };
    let contact = login_contact(&form.login, form.country.as_deref());
    match codes::send(app, browser, contact, form.altcha.clone(), Purpose::ResetPassword, "/reset/code").await {
        Ok(response) => response,
        Err(error) => refused(app, browser, error, |problem| login_page(app, browser, &form, Some(problem))),
    }
}

fn code_page(app: &App, browser: &Browser, id: &str, token: &str, problem: Option<Problem>) -> Response<Body> {
    let t = browser.language;
    let (form, cookie) = anonymous_form(app, browser);
    let (status, notice) = Notice::answer(problem, t);
    let broken = notice.as_ref().map(|n| n.violations.clone()).unwrap_or_default();
    let page = ResetCodePage {
        layout: Layout::new(t, &app.config.service_name, "/reset"),
        form,
        code_sent: codes::sent_text(browser, "reset.code_sent"),
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
    let form: NewPasswordForm = match browser.anonymous_form(app) {
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
        Err(error) => refused(app, browser, error, |problem| {
            code_page(app, browser, &form.verification_id, &token, Some(problem))
        }),
    }
}

fn verify_page(app: &App, browser: &Browser, challenge: &str, problem: Option<Problem>) -> Response<Body> {
    let (status, notice) = Notice::answer(problem, browser.language);
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
    let form: SecondFactorForm = match browser.anonymous_form(app) {
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
        Err(error) => {
            refused(app, browser, error, |problem| verify_page(app, browser, &form.challenge_id, Some(problem)))
        }
    }
}

/// `POST /reset/sms`: "Send a code by SMS" on the second-factor step.
pub async fn send_sms(app: &App, browser: &Browser<'_>) -> Response<Body> {
    let form: SmsForm = match browser.anonymous_form(app) {
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
        Err(error) => {
            refused(app, browser, error, |problem| verify_page(app, browser, &form.challenge_id, Some(problem)))
        }
    }
}
