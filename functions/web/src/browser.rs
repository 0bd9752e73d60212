//! What a browser's request says: its cookies, language, likely country, form and origin.

use std::sync::OnceLock;

use lambda_http::http::header::{ACCEPT_LANGUAGE, COOKIE, HOST, ORIGIN};
use lambda_http::{Request, RequestExt, RequestPayloadExt};
use rand::RngCore;
use serde::de::DeserializeOwned;

use crate::problem::Problem;
use shared::domain::forms::{form_token, form_token_is_valid, FormBinding};
use shared::domain::session::Authenticated;
use shared::domain::Language;
use shared::{http, App, Error};

/// The cookies of the pages. `__Host-` ones are only ever set by this origin over HTTPS, for
/// the whole site, so no subdomain or plain-HTTP page can plant or read them.
pub const SESSION: &str = "__Host-session";
pub const DEVICE: &str = "__Host-device";
pub const FORM: &str = "__Host-form";
pub const LANGUAGE: &str = "__Host-lang";

/// The origin the pages are served from (`PUBLIC_ORIGIN`, e.g. `https://account.example.com`):
/// a form posted from any other is refused. Unset, it is `https://` and the request's host.
fn public_origin() -> Option<&'static str> {
    static ORIGIN: OnceLock<Option<String>> = OnceLock::new();
    ORIGIN.get_or_init(|| std::env::var("PUBLIC_ORIGIN").ok().filter(|o| !o.is_empty())).as_deref()
}

pub struct Browser<'r> {
    pub request: &'r Request,
    pub language: Language,
    /// The form cookie's value this answer sets when the browser has none: one per request, so
    /// every token a page renders is bound to the cookie it sets.
    new_form_value: OnceLock<String>,
}

impl<'r> Browser<'r> {
    pub fn of(request: &'r Request) -> Self {
        let chosen = cookie(request, LANGUAGE).and_then(|tag| Language::from_tag(&tag));
        let header = request.headers().get(ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
        let language = chosen.unwrap_or_else(|| Language::from_accept_language(header));
        Browser { request, language, new_form_value: OnceLock::new() }
    }

    /// The same browser, answered in `language` (an app's `ui_locales`, when the person chose none).
    pub fn speaking(&self, language: Language) -> Browser<'r> {
        Browser { request: self.request, language, new_form_value: self.new_form_value.clone() }
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        cookie(self.request, name)
    }

    /// The country to list first: the region of the browser's preferred language, if any.
    pub fn region(&self) -> Option<String> {
        let header = self.request.headers().get(ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
        Language::region_of_accept_language(header)
    }

    /// The page's own address, query included, for a form that posts back to it.
    pub fn own_url(&self) -> String {
        self.request.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default()
    }

    pub fn query(&self, name: &str) -> Option<String> {
        self.request.query_string_parameters_ref().and_then(|q| q.first(name)).map(str::to_owned)
    }

    /// The signed-in account behind the session cookie, if it is still good.
    pub async fn signed_in(&self, app: &App) -> Option<Authenticated> {
        let token = self.cookie(SESSION)?;
        shared::domain::session::authenticate(app, Some(&token), shared::Timestamp::now()).await.ok()
    }

    /// A posted form, once its origin and token are checked against `binding`. A form from
    /// another site (no `Origin`, or another one) or without its token is `FormExpired`: the
    /// page is shown again with a fresh token, and nothing was changed.
    pub fn form<T: DeserializeOwned>(&self, app: &App, binding: &FormBinding) -> Result<T, Problem> {
        let body: &[u8] = self.request.body().as_ref();
        if body.len() > http::MAX_BODY_BYTES {
            return Err(
                Error::PayloadTooLarge(format!("the form must be at most {} bytes", http::MAX_BODY_BYTES)).into()
            );
        }
        if !self.same_origin() {
            tracing::info!(event = "form_refused", reason = "origin", "form refused");
            return Err(Problem::FormExpired);
        }
        let token = form_field(body, "form").unwrap_or_default();
        if !form_token_is_valid(&app.config.secret, binding, &token) {
            tracing::info!(event = "form_refused", reason = "token", "form refused");
            return Err(Problem::FormExpired);
        }
        match self.request.payload::<T>() {
            Ok(Some(form)) => Ok(form),
            Ok(None) => Err(Error::InvalidRequest("a form is required".into()).into()),
            Err(error) => Err(Error::InvalidRequest(format!("invalid form: {error}")).into()),
        }
    }

    /// A form posted before sign-in: its token is bound to the browser's form cookie.
    pub fn anonymous_form<T: DeserializeOwned>(&self, app: &App) -> Result<T, Problem> {
        self.form(app, &FormBinding::Browser(&self.cookie(FORM).unwrap_or_default()))
    }

    /// Whether the form was posted from a page of this site. The pages send no referrer
    /// (`Referrer-Policy: no-referrer`), so browsers post their forms with `Origin: null`; then
    /// the browser's own word decides (`Sec-Fetch-Site: same-origin`, which no page can set).
    fn same_origin(&self) -> bool {
        let header = |name| self.request.headers().get(name).and_then(|v| v.to_str().ok());
        let origin = match header(ORIGIN.as_str()) {
            None | Some("null") => return header("sec-fetch-site") == Some("same-origin"),
            Some(origin) => origin,
        };
        match public_origin() {
            Some(expected) => origin == expected,
            None => {
                let host = self.request.headers().get(HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
                !host.is_empty() && origin.strip_prefix("https://") == Some(host)
            }
        }
    }

    /// The browser's form binding before sign-in, and whether it is new: its form cookie, or
    /// else the value this answer sets as the cookie, the same however often it is asked for.
    pub fn form_value(&self) -> (String, bool) {
        match self.cookie(FORM).filter(|v| v.len() >= 32) {
            Some(value) => (value, false),
            None => {
                let fresh = self.new_form_value.get_or_init(|| {
                    let mut bytes = [0u8; 16];
                    rand::rngs::OsRng.fill_bytes(&mut bytes);
                    hex::encode(bytes)
                });
                (fresh.clone(), true)
            }
        }
    }

    pub fn token_for(app: &App, binding: &FormBinding) -> String {
        form_token(&app.config.secret, binding)
    }
}

fn cookie(request: &Request, name: &str) -> Option<String> {
    request
        .headers()
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

/// One field of a urlencoded body, read before the whole form is parsed into its type.
fn form_field(body: &[u8], name: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&').filter_map(|pair| pair.split_once('=')).find(|(key, _)| *key == name).map(|(_, v)| v.to_owned())
}
