//! "Sign in with Mi Account" in the browser: the authorization endpoint, the login challenge
//! that the sign-in pages complete (`signin.rs` calls `continue_login`), the consent page, and
//! RP-initiated logout. The provider's rules are the domain's (`domain::oidc`); this module
//! turns its outcomes into redirects and pages.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Deserialize;

use crate::account::{form_token, posted};
use crate::browser::{Browser, LANGUAGE, SESSION};
use crate::pages::{ConsentPage, Layout, LogoutPage, MessagePage};
use crate::problem::Problem;
use crate::{failure, render, reply};
use shared::domain::oidc::authorize::{
    accept_consent, accept_login, authorize as decide, interaction, reject, AuthorizeOutcome, InteractionView,
};
use shared::domain::oidc::client::{Party, RedirectUri};
use shared::domain::oidc::scope::Scope;
use shared::domain::oidc::userinfo::{end_session, EndSession, Logout};
use shared::domain::session::{sign_out, Authenticated};
use shared::domain::Language;
use shared::http::oauth;
use shared::oidc::Oidc;
use shared::{App, Result, Timestamp};

/// `GET /oauth2/authorize`: a code for a browser signed in well enough, else the login page
/// (or the consent page) with a challenge, else an error back to the app or, when no redirect
/// URI can be trusted, an error page.
pub async fn authorize(app: &App, browser: &Browser<'_>) -> Response<Body> {
    let oidc = match app.oidc().await {
        Ok(oidc) => oidc,
        Err(error) => return failure(app, browser, &error.into()),
    };
    let signed_in = browser.signed_in(app).await.map(|s| s.authentication());
    let params = oauth::query(browser.request);
    let provider = oidc.provider(&app.config.secret);
    let outcome = decide(provider, &params, signed_in.as_ref(), Timestamp::now(), &mut rand::rngs::OsRng).await;
    go(app, browser, oidc, outcome)
}

/// The browser sent where an interaction goes next.
fn go(app: &App, browser: &Browser, oidc: &Oidc, outcome: Result<AuthorizeOutcome>) -> Response<Body> {
    match outcome.map(|outcome| oidc.next_step(outcome)) {
        Ok(Ok(url)) => reply::redirect(&url),
        Ok(Err((_, description))) => refused(app, browser, description),
        Err(error) => failure(app, browser, &error.into()),
    }
}

/// An authorization that cannot go back to its app: why, in the person's language, and the
/// technical reason for the app's developer.
fn refused(app: &App, browser: &Browser, description: &str) -> Response<Body> {
    let t = browser.language;
    let layout = Layout::new(t, &app.config.service_name, browser.request.uri().path());
    let body = format!("{} ({description})", t.text("oauth.refused"));
    let page = MessagePage { title: t.text("oauth.refused_title").to_owned(), body, layout, link: None };
    reply::html(StatusCode::BAD_REQUEST, render(&page))
}

/// The open login challenge a sign-in page carries (`?login_challenge=`), if any.
pub struct LoginChallenge {
    pub id: String,
    pub view: InteractionView,
}

impl LoginChallenge {
    /// What the sign-in page says and does for it: "to continue to <app>", the app's
    /// `login_hint`, its `ui_locales`' first language the pages speak.
    pub fn continue_to(&self, t: Language) -> String {
        t.fill("oauth.continue_to", &[("app", &self.view.client_name)])
    }

    pub fn language(&self) -> Option<Language> {
        self.view.ui_locales.iter().find_map(|tag| Language::from_tag(tag))
    }

    /// The query that carries the challenge from page to page.
    pub fn query(&self) -> String {
        format!("login_challenge={}", crate::urlencode(&self.id))
    }
}

/// `Ok(None)` without a challenge; the page to show instead when it is over or unknown.
pub async fn login_challenge(app: &App, browser: &Browser<'_>) -> Result<Option<LoginChallenge>, Response<Body>> {
    let Some(id) = browser.query("login_challenge").filter(|id| id.len() <= 128) else { return Ok(None) };
    let found = match app.oidc().await {
        Ok(oidc) => interaction(oidc.provider(&app.config.secret), &id, Timestamp::now()).await,
        Err(error) => Err(error),
    };
    match found {
        Ok(Some(view)) if !view.consent => Ok(Some(LoginChallenge { id, view })),
        Ok(_) => Err(over(app, browser)),
        Err(error) => Err(failure(app, browser, &error.into())),
    }
}

fn over(app: &App, browser: &Browser) -> Response<Body> {
    let t = browser.language;
    let layout = Layout::new(t, &app.config.service_name, browser.request.uri().path());
    let body = t.text("oauth.over").to_owned();
    let page = MessagePage { title: t.text("oauth.refused_title").to_owned(), body, layout, link: None };
    reply::html(StatusCode::GONE, render(&page))
}

/// The person just signed in (or was, on a page that asks nothing more) for `challenge`: the
/// interaction is completed with that sign-in, and the browser goes on to the app.
pub async fn continue_login(
    app: &App,
    browser: &Browser<'_>,
    challenge: &str,
    signed_in: &shared::domain::oidc::decision::Authentication,
) -> Response<Body> {
    let oidc = match app.oidc().await {
        Ok(oidc) => oidc,
        Err(error) => return failure(app, browser, &error.into()),
    };
    let provider = oidc.provider(&app.config.secret);
    let outcome = accept_login(provider, challenge, signed_in, Timestamp::now(), &mut rand::rngs::OsRng).await;
    go(app, browser, oidc, outcome)
}

/// A page whose forms' answers may redirect to `uri`'s app: browsers hold a form's redirects
/// to the page's `form-action`.
pub fn posting_to(response: Response<Body>, uri: &RedirectUri) -> Response<Body> {
    reply::with_form_target(response, &uri.csp_source())
}

/// A sign-in page in the challenge's language when the person chose none: the app knows it
/// (`ui_locales`), and it stays for the rest of this browser session.
pub fn speaking_the_apps_language(
    response: Response<Body>,
    browser: &Browser,
    challenge: &LoginChallenge,
) -> Response<Body> {
    match challenge.language().filter(|_| browser.cookie(LANGUAGE).is_none()) {
        Some(language) => reply::with_cookie(response, LANGUAGE, language.tag(), None),
        None => response,
    }
}

#[derive(Deserialize)]
struct ConsentForm {
    decision: String,
}

/// The consent challenge of `?consent_challenge=`, for the signed-in person it was made for.
async fn consent_challenge<'a>(
    app: &'a App,
    browser: &Browser<'_>,
) -> Result<(&'a Oidc, String, InteractionView), Response<Body>> {
    let oidc = app.oidc().await.map_err(|error| failure(app, browser, &error.into()))?;
    let id = browser.query("consent_challenge").filter(|id| id.len() <= 128).unwrap_or_default();
    match interaction(oidc.provider(&app.config.secret), &id, Timestamp::now()).await {
        Ok(Some(view)) if view.consent => Ok((oidc, id, view)),
        Ok(_) => Err(over(app, browser)),
        Err(error) => Err(failure(app, browser, &error.into())),
    }
}

/// `GET /oauth2/consent?consent_challenge=…`: what a third-party app asks for, to allow or deny.
pub async fn consent_form(app: &App, browser: &Browser<'_>) -> Response<Body> {
    let signed_in = match crate::account::signed_in(app, browser).await {
        Ok(signed_in) => signed_in,
        Err(response) => return response,
    };
    let (_, _, view) = match consent_challenge(app, browser).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let t = browser.language;
    let page = ConsentPage {
        layout: Layout::new(t, &app.config.service_name, "/oauth2/consent"),
        form: form_token(app, &signed_in),
        action: browser.own_url(),
        asks: t.fill("oauth.consent_asks", &[("app", &view.client_name)]),
        third_party: view.party == Party::Third,
        scopes: view.scopes.iter().map(|scope| t.text(scope_key(scope)).to_owned()).collect(),
    };
    posting_to(reply::html(StatusCode::OK, render(&page)), &view.redirect_uri)
}

fn scope_key(scope: Scope) -> &'static str {
    match scope {
        Scope::OpenId => "oauth.scope_openid",
        Scope::Email => "oauth.scope_email",
        Scope::Phone => "oauth.scope_phone",
    }
}

/// `POST /oauth2/consent?consent_challenge=…`: allowed (and remembered) or denied.
pub async fn consent(app: &App, browser: &Browser<'_>) -> Response<Body> {
    let (signed_in, form): (Authenticated, ConsentForm) = match posted(app, browser).await {
        Ok(posted) => posted,
        Err(response) => return response,
    };
    let (oidc, id, _) = match consent_challenge(app, browser).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let (provider, now, mut rng) = (oidc.provider(&app.config.secret), Timestamp::now(), rand::rngs::OsRng);
    let outcome = match form.decision.as_str() {
        "allow" => accept_consent(provider, &id, &signed_in.authentication(), now, &mut rng).await,
        _ => reject(provider, &id, now).await,
    };
    go(app, browser, oidc, outcome)
}

/// `GET /oauth2/logout` and, once the person confirmed, `POST /oauth2/logout`: the browser's
/// session ends, and it goes back to the app's registered address if it named one.
pub async fn logout(app: &App, browser: &Browser<'_>, confirmed: bool) -> Response<Body> {
    let signed_in = if confirmed {
        match posted::<Empty>(app, browser).await {
            Ok((signed_in, Empty {})) => Some(signed_in),
            Err(response) => return response,
        }
    } else {
        browser.signed_in(app).await
    };
    let oidc = match app.oidc().await {
        Ok(oidc) => oidc,
        Err(error) => return failure(app, browser, &error.into()),
    };
    let q = |name| browser.query(name);
    let (hint, client_id, uri, state) = (q("id_token_hint"), q("client_id"), q("post_logout_redirect_uri"), q("state"));
    let request = Logout {
        id_token_hint: hint.as_deref(),
        client_id: client_id.as_deref(),
        post_logout_redirect_uri: uri.as_deref(),
        state: state.as_deref(),
    };
    let account = signed_in.as_ref().map(|s| &s.account.id);
    let ended = match oidc.keys(Timestamp::now()).await {
        Ok(keys) => end_session(oidc.provider(&app.config.secret), &keys, request, account).await,
        Err(error) => Err(error),
    };
    let (redirect, confirm) = match ended {
        Ok(EndSession::SignOut { redirect, confirm, .. }) => (redirect, confirm && !confirmed),
        Ok(EndSession::ErrorPage(_, description)) => return refused(app, browser, description),
        Err(error) => return failure(app, browser, &error.into()),
    };
    let target = redirect.as_deref().and_then(RedirectUri::parse);
    if let (true, Some(signed_in)) = (confirm, &signed_in) {
        let t = browser.language;
        let page = LogoutPage {
            layout: Layout::new(t, &app.config.service_name, "/oauth2/logout"),
            form: form_token(app, signed_in),
            action: browser.own_url(),
        };
        let response = reply::html(StatusCode::OK, render(&page));
        return match &target {
            Some(uri) => posting_to(response, uri),
            None => response,
        };
    }
    if let Some(signed_in) = &signed_in {
        if let Err(error) = sign_out(app, signed_in).await {
            return failure(app, browser, &Problem::from(error));
        }
    }
    let response = match redirect {
        Some(url) => reply::redirect(&url),
        None => crate::message(app, browser, StatusCode::OK, "oauth.signed_out_title", "oauth.signed_out"),
    };
    reply::with_cookie(response, SESSION, "", Some(0))
}

#[derive(Deserialize)]
struct Empty {}
