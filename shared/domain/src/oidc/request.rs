//! The authorization request (RFC 6749 4.1.1, OpenID Connect Core 3.1.2.1): the code flow
//! only, PKCE S256 always, and an exact redirect URI. A request whose client or redirect URI
//! is unknown or wrong is answered with an error page, never a redirect (RFC 6749 4.1.2.1):
//! redirecting there would make the provider an open redirector. Every other error goes back
//! to the client's redirect URI, with its `state`.

use super::client::{Client, ClientId, RedirectUri};
use super::error::OAuthCode;
use super::pkce::CodeChallenge;
use super::scope::{Scope, Scopes};

/// The `prompt` values asked for: `none` alone, or any of `login` and `consent`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
}

/// A valid authorization request, as an interaction holds it until the person is through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRequest {
    pub client_id: ClientId,
    pub redirect_uri: RedirectUri,
    /// What was asked for and the client may have; unknown and disallowed scopes are dropped.
    pub scopes: Scopes,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: CodeChallenge,
    pub prompt: Prompt,
    /// Seconds since the person last signed in beyond which they must sign in again.
    pub max_age: Option<u64>,
    /// For the sign-in page to fill in.
    pub login_hint: Option<String>,
    /// The languages the client would like the pages in, best first (BCP 47 tags).
    pub ui_locales: Vec<String>,
}

/// Why a request is not valid, and whom the error goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No trustworthy redirect URI: the person sees an error page.
    Page(OAuthCode, &'static str),
    /// Back to the client: the redirect URI with `error`, `error_description` and `state`.
    Redirect { redirect_uri: RedirectUri, state: Option<String>, code: OAuthCode, description: &'static str },
}

/// The request's parameters, as the query string gave them (in order, repeats kept).
pub struct Params<'a>(pub &'a [(String, String)]);

impl Params<'_> {
    /// A parameter's value: `Err` when it is given more than once (RFC 6749 3.1), and an
    /// empty value is an absent one.
    pub fn one(&self, name: &str) -> Result<Option<&str>, Repeated> {
        let mut values = self.0.iter().filter(|(key, _)| key == name).map(|(_, value)| value.as_str());
        let value = values.next();
        match values.next() {
            Some(_) => Err(Repeated),
            None => Ok(value.filter(|v| !v.is_empty())),
        }
    }
}

/// A parameter given more than once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repeated;

/// `client` is the client the request's `client_id` names, if it is registered.
pub fn validate(params: &Params<'_>, client: Option<&Client>) -> Result<AuthorizationRequest, Refusal> {
    let page = |description| Refusal::Page(OAuthCode::InvalidRequest, description);
    let client = client.ok_or(page("the client_id is missing or unknown"))?;
    let redirect_uri = match params.one("redirect_uri") {
        Ok(Some(text)) => {
            client.redirect_uri(text).ok_or(page("the redirect_uri is not registered for this client"))?
        }
        _ => return Err(page("one redirect_uri is required")),
    };
    // Past this point the redirect URI is trusted: errors go back to it.
    let state = params.one("state").ok().flatten().map(str::to_owned);
    let back = |code, description| Refusal::Redirect {
        redirect_uri: redirect_uri.clone(),
        state: state.clone(),
        code,
        description,
    };
    let invalid = |description| back(OAuthCode::InvalidRequest, description);
    let one = |name| params.one(name).map_err(|Repeated| invalid("a parameter is repeated"));
    let bounded = |name, max: usize| match one(name)? {
        Some(value) if value.len() > max => Err(invalid("a parameter is too long")),
        value => Ok(value.map(str::to_owned)),
    };

    if state.as_ref().is_some_and(|s| s.len() > 2048) {
        let (code, description) = (OAuthCode::InvalidRequest, "the state is too long");
        return Err(Refusal::Redirect { redirect_uri: redirect_uri.clone(), state: None, code, description });
    }
    match one("response_type")? {
        Some("code") => {}
        Some(_) => return Err(back(OAuthCode::UnsupportedResponseType, "only response_type=code is supported")),
        None => return Err(invalid("response_type is required")),
    }
    if one("response_mode")?.is_some_and(|mode| mode != "query") {
        return Err(invalid("only response_mode=query is supported"));
    }
    let asked = Scopes::parse(one("scope")?.unwrap_or(""));
    if !asked.contains(Scope::OpenId) {
        return Err(back(OAuthCode::InvalidScope, "the scope must include openid"));
    }
    let challenge = one("code_challenge")?.ok_or_else(|| invalid("PKCE is required: send a code_challenge"))?;
    let code_challenge = CodeChallenge::parse(challenge, one("code_challenge_method")?).map_err(invalid)?;
    let prompt = prompt(one("prompt")?.unwrap_or("")).ok_or_else(|| invalid("prompt is not valid"))?;
    let max_age = match one("max_age")? {
        Some(text) => Some(text.parse::<u64>().map_err(|_| invalid("max_age must be a number of seconds"))?),
        None => None,
    };
    let ui_locales: Vec<String> = bounded("ui_locales", 200)?
        .unwrap_or_default()
        .split(' ')
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    Ok(AuthorizationRequest {
        client_id: client.id.clone(),
        redirect_uri: redirect_uri.clone(),
        scopes: asked.intersection(&client.allowed_scopes),
        nonce: bounded("nonce", 512)?,
        login_hint: bounded("login_hint", 320)?,
        state,
        code_challenge,
        prompt,
        max_age,
        ui_locales,
    })
}

/// `none` must stand alone (OIDC Core 3.1.2.1); `select_account` asks nothing here, where a
/// browser has one account signed in.
fn prompt(text: &str) -> Option<Prompt> {
    let mut prompt = Prompt::default();
    for value in text.split(' ').filter(|v| !v.is_empty()) {
        match value {
            "none" => prompt.none = true,
            "login" => prompt.login = true,
            "consent" => prompt.consent = true,
            "select_account" => {}
            _ => return None,
        }
    }
    let alone = !prompt.none || text.split(' ').filter(|v| !v.is_empty()).count() == 1;
    alone.then_some(prompt)
}
