//! Signing in: login and password, then, on a browser the account does not know, a second
//! factor (authenticator app, SMS or a recovery code), with "remember this device". With an
//! app's `login_challenge` in the query, every step carries it, and the sign-in goes on to the
//! app (`oauth::continue_login`) instead of the security page.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Deserialize;

use crate::browser::{Browser, DEVICE, LANGUAGE, SESSION};
use crate::countries::{countries, login_contact, DEFAULT_REGION};
use crate::oauth::{self, LoginChallenge};
use crate::pages::{Layout, Notice, SecondFactorPage, SignInPage};
use crate::problem::Problem;
use crate::{anonymous_form, failure, refused, render, reply, urlencode, with_form_cookie};
use shared::domain::password::Password;
use shared::domain::second_factor::MfaMethod;
use shared::domain::session::{authenticate, SessionIssued};
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
fn sign_in_page(
    app: &App,
    browser: &Browser,
    challenge: Option<&LoginChallenge>,
    form: Option<&SignInForm>,
    problem: Option<Problem>,
) -> Response<Body> {
    let (token, cookie) = anonymous_form(app, browser);
    let hint = challenge.and_then(|c| c.view.login_hint.clone()).filter(|h| h.chars().count() <= 256);
    let chosen = form.and_then(|f| f.country.clone()).or_else(|| browser.region());
    let (status, notice) = Notice::answer(problem, browser.language);
    let page = SignInPage {
        layout: Layout::new(browser.language, &app.config.service_name, "/signin"),
        form: token,
        countries: countries(browser.language, chosen.as_deref(), DEFAULT_REGION),
        login: form.map(|f| f.login.clone()).or(hint).unwrap_or_default(),
        notice,
        done: (browser.query("done").as_deref() == Some("password_reset")).then(|| browser.language.text("reset.done")),
        action: match challenge {
            Some(challenge) => format!("/signin?{}", challenge.query()),
            None => "/signin".to_owned(),
        },
        continue_to: challenge.map(|c| c.continue_to(browser.language)),
    };
    for_challenge(with_form_cookie(reply::html(status, render(&page)), cookie), challenge)
}

/// A page of a sign-in for an app: its form's answer may redirect to the app.
fn for_challenge(response: Response<Body>, challenge: Option<&LoginChallenge>) -> Response<Body> {
    match challenge {
        Some(challenge) => oauth::posting_to(response, &challenge.view.redirect_uri),
        None => response,
    }
}

/// What `?login_challenge=` adds to the next step's address.
fn carried(browser: &Browser) -> String {
    match browser.query("login_challenge").filter(|id| id.len() <= 128) {
        Some(id) => format!("&login_challenge={}", urlencode(&id)),
        None => String::new(),
    }
}

/// `GET /signin[?login_challenge=…]`: a browser signed in well enough for the app goes
/// straight on to it; the page speaks the app's `ui_locales` when the person chose no language.
pub async fn form(app: &App, browser: &Browser<'_>) -> Response<Body> {
    let challenge = match oauth::login_challenge(app, browser).await {
        Ok(challenge) => challenge,
        Err(page) => return page,
    };
    let speaking = challenge.as_ref().and_then(LoginChallenge::language).filter(|_| browser.cookie(LANGUAGE).is_none());
    let browser = &browser.speaking(speaking.unwrap_or(browser.language));
    if let Some(signed_in) = browser.signed_in(app).await {
        match &challenge {
            None => return reply::redirect("/account/security"),
            Some(c) if !c.view.reauthenticate => {
                return oauth::continue_login(app, browser, &c.id, &signed_in.authentication()).await
            }
            Some(_) => {}
        }
    }
    let response = sign_in_page(app, browser, challenge.as_ref(), None, None);
    match &challenge {
        Some(challenge) => oauth::speaking_the_apps_language(response, browser, challenge),
        None => response,
    }
}

/// The session cookie, and the remembered device's when one was made; then the app of the
/// login challenge, or the security page.
async fn signed_in(
    app: &App,
    browser: &Browser<'_>,
    session: &SessionIssued,
    device: Option<(&str, u64)>,
) -> Response<Body> {
    let response = match browser.query("login_challenge") {
        Some(challenge) => match authenticate(app, Some(&session.session_token), Timestamp::now()).await {
            Ok(signed_in) => oauth::continue_login(app, browser, &challenge, &signed_in.authentication()).await,
            Err(error) => failure(app, browser, &error.into()),
        },
        None => reply::redirect("/account/security"),
    };
    let response = reply::with_cookie(response, SESSION, &session.session_token, Some(session.expires_in));
    match device {
        Some((token, lifetime)) => reply::with_cookie(response, DEVICE, token, Some(lifetime)),
        None => response,
    }
}

/// `POST /signin`.
pub async fn submit(app: &App, browser: &Browser<'_>) -> Response<Body> {
    let challenge = match oauth::login_challenge(app, browser).await {
        Ok(challenge) => challenge,
        Err(page) => return page,
    };
    let challenge = challenge.as_ref();
    let form: SignInForm = match browser.anonymous_form(app) {
        Ok(form) => form,
        Err(problem) => return refused_sign_in(app, browser, challenge, None, problem),
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
        Ok(SignInOutcome::SignedIn(session)) => signed_in(app, browser, &session, None).await,
        Ok(SignInOutcome::MfaRequired(required)) => reply::redirect(&format!(
            "/signin/code?challenge={}&methods={}{}",
            required.challenge_id.as_str(),
            method_names(&required.methods),
            carried(browser)
        )),
        Err(error) => refused_sign_in(app, browser, challenge, Some(&form), error.into()),
    }
}

fn refused_sign_in(
    app: &App,
    browser: &Browser,
    challenge: Option<&LoginChallenge>,
    form: Option<&SignInForm>,
    problem: Problem,
) -> Response<Body> {
    refused(app, browser, problem, |problem| sign_in_page(app, browser, challenge, form, Some(problem)))
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
        sms_action: format!("{base}/sms?methods={}{}", urlencode(&methods), carried(browser)),
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
    let login_challenge = match oauth::login_challenge(app, browser).await {
        Ok(login_challenge) => login_challenge,
        Err(page) => return page,
    };
    let (page, cookie) = second_factor_page(app, browser, &challenge, "/signin", None);
    for_challenge(with_form_cookie(reply::html(StatusCode::OK, render(&page)), cookie), login_challenge.as_ref())
}

/// `POST /signin/code`: the second factor.
pub async fn verify(app: &App, browser: &Browser<'_>) -> Response<Body> {
    let form: CodeForm = match browser.anonymous_form(app) {
        Ok(form) => form,
        Err(problem) => return failure(app, browser, &problem),
    };
    let Some(method) = method_of(&form.method) else {
        let problem = Problem::Domain(shared::Error::InvalidRequest("choose a way to confirm".into()));
        return refused_code(app, browser, &form.challenge_id, problem).await;
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
            signed_in(app, browser, &done.session, done.device_token.as_deref().map(|t| (t, lifetime))).await
        }
        Err(error) => refused_code(app, browser, &form.challenge_id, error.into()).await,
    }
}

async fn refused_code(app: &App, browser: &Browser<'_>, challenge: &str, problem: Problem) -> Response<Body> {
    // An app's challenge that is over by now is not this page's concern: the next step says so.
    let login_challenge = oauth::login_challenge(app, browser).await.ok().flatten();
    refused(app, browser, problem, |problem| {
        let (status, notice) = Notice::answer(Some(problem), browser.language);
        let (page, cookie) = second_factor_page(app, browser, challenge, "/signin", notice);
        for_challenge(with_form_cookie(reply::html(status, render(&page)), cookie), login_challenge.as_ref())
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
            "/signin/code?challenge={}&methods={}&sent={}{}",
            urlencode(&form.challenge_id),
            urlencode(&methods),
            urlencode(&sent.destination),
            carried(browser)
        )),
        Err(error) => refused_code(app, browser, &form.challenge_id, error.into()).await,
    }
}
