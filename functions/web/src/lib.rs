//! The hosted pages: sign-up (by phone, as the guide does it, or by email), sign-in with the
//! second factor on a new browser, and the security page. Server-rendered HTML that works
//! without script; each form calls the domain in process, as the API's handlers do, and shows
//! the domain's errors by their stable codes, translated. Sessions ride in `__Host-` cookies;
//! every form carries a token bound to the session or the browser, and its `Origin` is checked.

mod account;
mod assets;
mod browser;
mod codes;
mod compress;
mod countries;
mod oauth;
mod pages;
mod problem;
mod reply;
mod reset;
mod security;
mod signin;
mod signup;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

use browser::{Browser, FORM, LANGUAGE};
use pages::{Layout, MessagePage};
use problem::Problem;
use shared::domain::forms::FormBinding;
use shared::domain::Language;
use shared::{http, App, Error, Result};

/// Where the CAPTCHA widget fetches its challenge: the API's own route, on this origin.
const CAPTCHA_URL: &str = "/v1/captcha";

#[derive(Clone, Copy)]
enum Route {
    Home,
    SignUp,
    SendCode,
    SignUpCode,
    CreateAccount,
    SignIn,
    SubmitSignIn,
    SecondFactor,
    SubmitSecondFactor,
    SendSignInSms,
    Security,
    EndSession,
    PasswordForm,
    ChangePassword,
    ConfirmForm,
    Confirm,
    ConfirmTwoFactor,
    ContactForm,
    SendContactCode,
    ContactCodeForm,
    AddContact,
    ResetForm,
    SendResetCode,
    ResetCodeForm,
    SubmitResetCode,
    ResetSecondFactor,
    SubmitResetSecondFactor,
    SendResetSms,
    SignOut,
    SignOutEverywhere,
    Terms,
    Privacy,
    ChooseLanguage,
    Authorize,
    ConsentForm,
    Consent,
    Logout,
    ConfirmLogout,
    RemoveApp,
    Asset,
}

const ROUTES: [(&str, &str, Route); 40] = [
    ("GET", "/", Route::Home),
    ("GET", "/signup", Route::SignUp),
    ("POST", "/signup", Route::SendCode),
    ("GET", "/signup/code", Route::SignUpCode),
    ("POST", "/signup/code", Route::CreateAccount),
    ("GET", "/signin", Route::SignIn),
    ("POST", "/signin", Route::SubmitSignIn),
    ("GET", "/signin/code", Route::SecondFactor),
    ("POST", "/signin/code", Route::SubmitSecondFactor),
    ("POST", "/signin/sms", Route::SendSignInSms),
    ("GET", "/account/security", Route::Security),
    ("POST", "/account/sessions/end", Route::EndSession),
    ("GET", "/account/password", Route::PasswordForm),
    ("POST", "/account/password", Route::ChangePassword),
    ("GET", "/account/confirm", Route::ConfirmForm),
    ("POST", "/account/confirm", Route::Confirm),
    ("POST", "/account/two-factor", Route::ConfirmTwoFactor),
    ("GET", "/account/recovery", Route::ContactForm),
    ("POST", "/account/recovery", Route::SendContactCode),
    ("GET", "/account/recovery/code", Route::ContactCodeForm),
    ("POST", "/account/recovery/code", Route::AddContact),
    ("GET", "/reset", Route::ResetForm),
    ("POST", "/reset", Route::SendResetCode),
    ("GET", "/reset/code", Route::ResetCodeForm),
    ("POST", "/reset/code", Route::SubmitResetCode),
    ("GET", "/reset/verify", Route::ResetSecondFactor),
    ("POST", "/reset/verify", Route::SubmitResetSecondFactor),
    ("POST", "/reset/sms", Route::SendResetSms),
    ("POST", "/signout", Route::SignOut),
    ("POST", "/signout/everywhere", Route::SignOutEverywhere),
    ("GET", "/terms", Route::Terms),
    ("GET", "/privacy", Route::Privacy),
    ("GET", "/language", Route::ChooseLanguage),
    ("GET", "/oauth2/authorize", Route::Authorize),
    ("GET", "/oauth2/consent", Route::ConsentForm),
    ("POST", "/oauth2/consent", Route::Consent),
    ("GET", "/oauth2/logout", Route::Logout),
    ("POST", "/oauth2/logout", Route::ConfirmLogout),
    ("POST", "/account/apps/remove", Route::RemoveApp),
    ("GET", "/assets/{file}", Route::Asset),
];

pub async fn handle(app: &'static App, request: Request) -> Result<Response<Body>> {
    let accepted = compress::Accepted::of(request.headers());
    Ok(compress::encoded(answer(app, &request, accepted).await?, accepted))
}

async fn answer(app: &'static App, request: &Request, accepted: compress::Accepted) -> Result<Response<Body>> {
    let browser = Browser::of(request);
    let Some(route) = http::route(request, &ROUTES) else {
        return Ok(not_found(app, &browser));
    };
    Ok(match route {
        Route::Home => match browser.signed_in(app).await {
            Some(_) => reply::redirect("/account/security"),
            None => reply::redirect("/signup"),
        },
        Route::SignUp => signup::form(app, &browser).await,
        Route::SendCode => signup::send_code(app, &browser).await,
        Route::SignUpCode => signup::code_form(app, &browser).await,
        Route::CreateAccount => signup::create(app, &browser).await,
        Route::SignIn => signin::form(app, &browser).await,
        Route::SubmitSignIn => signin::submit(app, &browser).await,
        Route::SecondFactor => signin::code_form(app, &browser).await,
        Route::SubmitSecondFactor => signin::verify(app, &browser).await,
        Route::SendSignInSms => signin::send_sms(app, &browser).await,
        Route::Security => security::page(app, &browser).await,
        Route::EndSession => security::end_session(app, &browser).await,
        Route::PasswordForm => account::password::page(app, &browser).await,
        Route::ChangePassword => account::password::submit(app, &browser).await,
        Route::ConfirmForm => account::confirm::page(app, &browser).await,
        Route::Confirm => account::confirm::submit(app, &browser).await,
        Route::ConfirmTwoFactor => account::two_factor::confirm(app, &browser).await,
        Route::ContactForm => account::contact::page(app, &browser).await,
        Route::SendContactCode => account::contact::send_code(app, &browser).await,
        Route::ContactCodeForm => account::contact::code_form(app, &browser).await,
        Route::AddContact => account::contact::add(app, &browser).await,
        Route::ResetForm => reset::form(app, &browser).await,
        Route::SendResetCode => reset::send_code(app, &browser).await,
        Route::ResetCodeForm => reset::code_form(app, &browser).await,
        Route::SubmitResetCode => reset::submit_code(app, &browser).await,
        Route::ResetSecondFactor => reset::verify_form(app, &browser).await,
        Route::SubmitResetSecondFactor => reset::verify(app, &browser).await,
        Route::SendResetSms => reset::send_sms(app, &browser).await,
        Route::SignOut => security::sign_out(app, &browser, false).await,
        Route::SignOutEverywhere => security::sign_out(app, &browser, true).await,
        Route::Terms => message(app, &browser, StatusCode::OK, "terms.title", "terms.body"),
        Route::Privacy => message(app, &browser, StatusCode::OK, "privacy.title", "privacy.body"),
        Route::ChooseLanguage => choose_language(&browser),
        Route::Authorize => oauth::authorize(app, &browser).await,
        Route::ConsentForm => oauth::consent_form(app, &browser).await,
        Route::Consent => oauth::consent(app, &browser).await,
        Route::Logout => oauth::logout(app, &browser, false).await,
        Route::ConfirmLogout => oauth::logout(app, &browser, true).await,
        Route::RemoveApp => security::remove_app(app, &browser).await,
        Route::Asset => match assets::find(request.uri().path()) {
            Some(asset) => reply::asset(asset, accepted),
            None => not_found(app, &browser),
        },
    })
}

/// The language link: remembered for a year, then back to the page it was chosen on.
fn choose_language(browser: &Browser) -> Response<Body> {
    let back = browser.query("back").filter(|b| is_local_path(b)).unwrap_or_else(|| "/".to_owned());
    match browser.query("to").and_then(|tag| Language::from_tag(&tag)) {
        Some(language) => reply::with_cookie(reply::redirect(&back), LANGUAGE, language.tag(), Some(365 * 24 * 3600)),
        None => reply::redirect(&back),
    }
}

/// A path on this site, never `//elsewhere` or a URL: where a redirect may send a person.
fn is_local_path(path: &str) -> bool {
    path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') && path.len() <= 512
}

/// The answer when even the pages cannot be made (the deadline passed, the app did not start):
/// a page in English, with `Retry-After` when trying again will help.
pub fn error_page(error: &Error) -> Response<Body> {
    let problem = Problem::Domain(error.clone());
    let layout = Layout::new(Language::English, "", "/");
    let page = MessagePage {
        title: layout.t.get("page.error_title").to_owned(),
        body: problem.message(Language::English),
        layout,
        link: None,
    };
    with_retry_after(reply::html(problem.status(), render(&page)), error)
}

fn with_retry_after(mut response: Response<Body>, error: &Error) -> Response<Body> {
    if let Some(wait) = error.retry_after() {
        response.headers_mut().insert(lambda_http::http::header::RETRY_AFTER, wait.as_secs().into());
    }
    response
}

/// A page that could not do what was asked for a reason the form cannot fix (the service is
/// busy, something broke): its status, `Retry-After` when it applies.
fn failure(app: &App, browser: &Browser, problem: &Problem) -> Response<Body> {
    if let Problem::Domain(Error::Internal(detail)) = problem {
        tracing::error!(%detail, "internal error");
    }
    let layout = Layout::new(browser.language, &app.config.service_name, browser.request.uri().path());
    let page = MessagePage {
        title: layout.t.get("page.error_title").to_owned(),
        body: problem.message(browser.language),
        layout,
        link: Some(("/", browser.language.text("page.back").to_owned())),
    };
    let response = reply::html(problem.status(), render(&page));
    match problem {
        Problem::Domain(error) => with_retry_after(response, error),
        _ => response,
    }
}

/// A refused form: shown again by `again`, with why, when the person can fix it; else a page
/// of its own (the service is busy or broken).
fn refused(
    app: &App,
    browser: &Browser,
    problem: impl Into<Problem>,
    again: impl FnOnce(Problem) -> Response<Body>,
) -> Response<Body> {
    let problem = problem.into();
    if problem.belongs_on_form() {
        again(problem)
    } else {
        failure(app, browser, &problem)
    }
}

fn not_found(app: &App, browser: &Browser) -> Response<Body> {
    message(app, browser, StatusCode::NOT_FOUND, "page.error_title", "error.not_found")
}

fn message(
    app: &App,
    browser: &Browser,
    status: StatusCode,
    title: &'static str,
    body: &'static str,
) -> Response<Body> {
    let layout = Layout::new(browser.language, &app.config.service_name, browser.request.uri().path());
    let page = MessagePage {
        title: browser.language.text(title).to_owned(),
        body: browser.language.text(body).to_owned(),
        layout,
        link: Some(("/signup", browser.language.text("signup.title").to_owned())),
    };
    reply::html(status, render(&page))
}

fn render(page: &impl askama::Template) -> String {
    page.render().expect("templates render: every value they show is a string")
}

/// The form token of a page before sign-in, and the browser's form cookie to set when it has
/// none yet.
fn anonymous_form(app: &App, browser: &Browser) -> (String, Option<String>) {
    let (value, new) = browser.form_value();
    let token = Browser::token_for(app, &FormBinding::Browser(&value));
    (token, new.then_some(value))
}

/// `response` with the form cookie a page's token was bound to, when it is new.
fn with_form_cookie(response: Response<Body>, cookie: Option<String>) -> Response<Body> {
    match cookie {
        Some(value) => reply::with_cookie(response, FORM, &value, None),
        None => response,
    }
}

/// `text` as a query parameter value.
pub(crate) fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
