//! What the provider answers about its own tokens: the userinfo endpoint (OIDC Core 5.3),
//! which takes an access token, and RP-initiated logout (OpenID Connect RP-Initiated Logout
//! 1.0), which takes an ID token as a hint of who is signing out of which client.

use serde_json::{Map, Value};

use super::claims::{contact_claims, open_account, ACCOUNT_CLAIM};
use super::client::ClientId;
use super::error::{OAuthCode, OAuthError};
use super::jws::KeySet;
use super::scope::{Scope, Scopes};
use super::Provider;
use crate::error::Result;
use crate::time::Timestamp;

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
    /// End the browser's session (after asking the person, as the specification advises),
    /// then send the browser to `redirect` if there is one, else show that they are signed out.
    SignOut { client_id: Option<ClientId>, redirect: Option<String> },
    /// A hint or redirect URI that cannot be trusted: an error page, no redirect.
    ErrorPage(OAuthCode, &'static str),
}

/// `id_token_hint` must be an ID token of this provider (expired ones too: logging out is
/// what comes after expiry); `post_logout_redirect_uri` must be registered, exactly, for the
/// client it names (or `client_id` names).
pub async fn end_session(
    provider: Provider<'_>,
    keys: &KeySet,
    id_token_hint: Option<&str>,
    client_id: Option<&str>,
    post_logout_redirect_uri: Option<&str>,
    state: Option<&str>,
) -> Result<EndSession> {
    let page = |description| Ok(EndSession::ErrorPage(OAuthCode::InvalidRequest, description));
    let hinted = match id_token_hint {
        Some(hint) => {
            let claims = keys.verify(hint, "JWT");
            let claims = claims.filter(|c| c.get("iss").and_then(Value::as_str) == Some(&provider.config.issuer));
            let Some(claims) = claims else { return page("the id_token_hint is not an ID token of this provider") };
            claims.get("aud").and_then(Value::as_str).map(str::to_owned)
        }
        None => None,
    };
    let named = match (hinted.as_deref(), client_id) {
        (Some(hinted), Some(given)) if hinted != given => return page("the client_id is not the ID token's audience"),
        (hinted, given) => hinted.or(given).and_then(ClientId::parse),
    };
    let client = match &named {
        Some(id) => provider.store.client(id).await?,
        None => None,
    };
    let Some(uri) = post_logout_redirect_uri else {
        return Ok(EndSession::SignOut { client_id: client.map(|c| c.id), redirect: None });
    };
    let registered = client.as_ref().and_then(|c| c.post_logout_redirect_uris.iter().find(|u| u.as_str() == uri));
    let Some(registered) = registered else {
        return page("the post_logout_redirect_uri is not registered for this client");
    };
    let redirect = registered.with_query(&state.map(|state| ("state", state)).into_iter().collect::<Vec<_>>());
    Ok(EndSession::SignOut { client_id: client.map(|c| c.id), redirect: Some(redirect) })
}
