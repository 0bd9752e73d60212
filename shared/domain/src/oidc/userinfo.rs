//! What the provider answers about its own tokens: the userinfo endpoint (OIDC Core 5.3),
//! which takes an access token, and RP-initiated logout (OpenID Connect RP-Initiated Logout
//! 1.0), which takes an ID token as a hint of who is signing out of which client.

use serde_json::{Map, Value};

use super::claims::{contact_claims, open_account, subject, ACCOUNT_CLAIM};
use super::client::ClientId;
use super::error::{OAuthCode, OAuthError};
use super::jws::KeySet;
use super::scope::{Scope, Scopes};
use super::Provider;
use crate::error::Result;
use crate::time::Timestamp;
use crate::AccountId;

/// The claims of the person an access token is for: `sub`, and the contacts its scopes grant.
/// `keys` are the published keys (the handler keeps them between requests). The token must be
/// one of this provider's (`typ: at+jwt`, `iss`, `aud`, unexpired), and the account must still
/// be signed in at the epoch the token was issued in.
pub async fn userinfo(
    provider: Provider<'_>,
    keys: &KeySet,
    access_token: &str,
    now: Timestamp,
) -> Result<Map<String, Value>, OAuthError> {
    let refused = || OAuthError::new(OAuthCode::InvalidToken, "the access token is not valid");
    let claims = keys.verify(access_token, "at+jwt").ok_or_else(refused)?;
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    let expires = claims.get("exp").and_then(Value::as_i64);
    let ours = text("iss") == Some(&provider.config.issuer)
        && text("aud") == Some(&provider.config.access_token_audience)
        && expires.is_some_and(|exp| exp > now.0);
    if !ours {
        return Err(refused());
    }
    let scopes = Scopes::parse(text("scope").unwrap_or(""));
    if !scopes.contains(Scope::OpenId) {
        return Err(OAuthError::new(OAuthCode::InvalidToken, "the access token was not issued for openid"));
    }
    let (account_id, epoch) =
        text(ACCOUNT_CLAIM).and_then(|sealed| open_account(provider.secret, sealed)).ok_or_else(refused)?;
    let account =
        provider.store.account(&account_id).await?.filter(|a| a.session_epoch == epoch).ok_or_else(refused)?;
    let sub = text("sub").ok_or_else(refused)?;
    let mut answer = Map::from_iter([("sub".to_owned(), Value::from(sub))]);
    answer.extend(contact_claims(&account, &scopes));
    Ok(answer)
}

/// What the logout endpoint does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndSession {
    /// End the browser's session, then send the browser to `redirect` if there is one, else
    /// show that they are signed out. `confirm`: ask the person first (the specification's
    /// advice), since the request may not come from their app: they are signed in and no ID
    /// token of theirs came with it.
    SignOut { client_id: Option<ClientId>, redirect: Option<String>, confirm: bool },
    /// A hint or redirect URI that cannot be trusted: an error page, no redirect.
    ErrorPage(OAuthCode, &'static str),
}

/// An RP-initiated logout request (OpenID Connect RP-Initiated Logout 1.0, section 2).
#[derive(Debug, Clone, Copy, Default)]
pub struct Logout<'a> {
    pub id_token_hint: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub post_logout_redirect_uri: Option<&'a str>,
    pub state: Option<&'a str>,
}

/// `id_token_hint` must be an ID token of this provider (expired ones too: logging out is
/// what comes after expiry); `post_logout_redirect_uri` must be registered, exactly, for the
/// client it names (or `client_id` names). `signed_in` is the browser's account, if any.
pub async fn end_session(
    provider: Provider<'_>,
    keys: &KeySet,
    logout: Logout<'_>,
    signed_in: Option<&AccountId>,
) -> Result<EndSession> {
    let page = |description| Ok(EndSession::ErrorPage(OAuthCode::InvalidRequest, description));
    let hinted = match logout.id_token_hint {
        Some(hint) => {
            let claims = keys.verify(hint, "JWT");
            let claims = claims.filter(|c| c.get("iss").and_then(Value::as_str) == Some(&provider.config.issuer));
            let Some(claims) = claims else { return page("the id_token_hint is not an ID token of this provider") };
            let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
            Some((text("aud"), text("sub")))
        }
        None => None,
    };
    let hinted_client = hinted.as_ref().and_then(|(aud, _)| aud.as_deref());
    let named = match (hinted_client, logout.client_id) {
        (Some(hinted), Some(given)) if hinted != given => return page("the client_id is not the ID token's audience"),
        (hinted, given) => hinted.or(given).and_then(ClientId::parse),
    };
    let client = match &named {
        Some(id) => provider.store.client(id).await?,
        None => None,
    };
    // Their own app logs them out without a question: the hint is an ID token of theirs.
    let theirs = match (signed_in, &client, hinted.as_ref().and_then(|(_, sub)| sub.as_deref())) {
        (Some(account), Some(client), Some(sub)) => subject(&provider.config.pairwise_key, client, account) == sub,
        _ => false,
    };
    let confirm = signed_in.is_some() && !theirs;
    let Some(uri) = logout.post_logout_redirect_uri else {
        return Ok(EndSession::SignOut { client_id: client.map(|c| c.id), redirect: None, confirm });
    };
    let registered = client.as_ref().and_then(|c| c.post_logout_redirect_uris.iter().find(|u| u.as_str() == uri));
    let Some(registered) = registered else {
        return page("the post_logout_redirect_uri is not registered for this client");
    };
    let state = logout.state.map(|state| ("state", state));
    let redirect = registered.with_query(&state.into_iter().collect::<Vec<_>>());
    Ok(EndSession::SignOut { client_id: client.map(|c| c.id), redirect: Some(redirect), confirm })
}
