//! The token endpoint (`authorization_code`, `refresh_token`) and revocation (RFC 7009). Each
//! exchange is one atomic store operation that also checks the account's session epoch, so a
//! grant never outlives signing out everywhere; a code or refresh token presented a second
//! time revokes the family its first use started (RFC 6749 4.1.2, RFC 9700 4.14.2).

use rand::{CryptoRng, RngCore};

use super::claims::{self, Grant};
use super::client::{Client, ClientCredentials, ClientId};
use super::error::{invalid_grant, invalid_request, OAuthCode, OAuthError};
use super::grant::{CodeExchange, RefreshFamily, MAX_USED_HASHES};
use super::jws;
use super::scope::Scopes;
use super::Provider;
use crate::secret::HashPurpose;
use crate::session::AccountToken;
use crate::time::Timestamp;
use crate::{CodeId, FamilyId};

/// The token response (RFC 6749 5.1, OIDC Core 3.1.3.3).
#[derive(Debug, Clone)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    pub expires_in: u64,
    pub refresh_token: String,
    pub id_token: String,
    /// What was granted, which may be less than was asked for.
    pub scope: String,
}

/// The client a token request comes from, authenticated as it must be: `invalid_client` for
/// an unknown client, a wrong secret, or a public client presenting one (and the reverse).
pub async fn authenticate_client(
    provider: Provider<'_>,
    credentials: &ClientCredentials,
) -> Result<Client, OAuthError> {
    let refused = || OAuthError::new(OAuthCode::InvalidClient, "client authentication failed");
    let (id, presented) = match credentials {
        ClientCredentials::Basic { client_id, secret } => (client_id, Some(secret.as_str())),
        ClientCredentials::None { client_id } => (client_id, None),
    };
    let Some(id) = ClientId::parse(id) else { return Err(refused()) };
    let client = provider.store.client(&id).await?.ok_or_else(refused)?;
    client.authenticates(presented, provider.secret).then_some(client).ok_or_else(refused)
}

/// `grant_type=authorization_code`.
pub async fn exchange_code(
    provider: Provider<'_>,
    credentials: &ClientCredentials,
    code: &str,
    redirect_uri: &str,
    code_verifier: &str,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<TokenResponse, OAuthError> {
    let client = authenticate_client(provider, credentials).await?;
    let bad_code = || invalid_grant("the code is not valid");
    let token = AccountToken::<CodeId>::parse(code).ok_or_else(bad_code)?;
    let stored = provider.store.code(&token.account_id, &token.id).await?;
    let code = stored
        .filter(|c| token.verify(provider.secret, HashPurpose::AuthorizationCode, &c.hash) && c.client_id == client.id)
        .ok_or_else(bad_code)?;
    if let Some(family) = &code.used_by {
        provider.store.revoke_family(code.account_id(), family).await?;
        return Err(invalid_grant("the code was already used; the tokens it gave are revoked"));
    }
    if code.expires_at <= now {
        return Err(invalid_grant("the code has expired"));
    }
    if code.redirect_uri.as_str() != redirect_uri {
        return Err(invalid_grant("the redirect_uri is not the one of the authorization request"));
    }
    if !code.code_challenge.verify(code_verifier) {
        return Err(invalid_grant("the code_verifier does not match the code_challenge"));
    }
    let account = provider.store.account(code.account_id()).await?.ok_or_else(bad_code)?;
    let auth = &code.authentication;
    let refresh = AccountToken::<FamilyId>::generate(&auth.account_id, rng);
    let family = RefreshFamily {
        id: refresh.id.clone(),
        client_id: client.id.clone(),
        scopes: code.scopes.clone(),
        authentication: auth.clone(),
        current_hash: refresh.hash(provider.secret, HashPurpose::RefreshToken),
        used_hashes: Vec::new(),
        created_at: now,
        expires_at: family_expiry(provider, now, now),
    };
    match provider.store.exchange_code(&code, &family, now).await? {
        CodeExchange::Exchanged => {}
        CodeExchange::Used(first) => {
            provider.store.revoke_family(code.account_id(), &first).await?;
            return Err(invalid_grant("the code was already used; the tokens it gave are revoked"));
        }
        CodeExchange::Refused => return Err(bad_code()),
    }
    let grant = Grant { client: &client, account: &account, authentication: auth, scopes: &code.scopes };
    respond(provider, &grant, code.nonce.as_deref(), refresh.reveal(), now, rng).await
}

/// `grant_type=refresh_token`: a new refresh token in place of the one presented, and new
/// access and ID tokens. `scope`, if given, may only narrow what the family was granted.
pub async fn refresh(
    provider: Provider<'_>,
    credentials: &ClientCredentials,
    refresh_token: &str,
    scope: Option<&str>,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<TokenResponse, OAuthError> {
    let client = authenticate_client(provider, credentials).await?;
    let bad_token = || invalid_grant("the refresh token is not valid");
    let token = AccountToken::<FamilyId>::parse(refresh_token).ok_or_else(bad_token)?;
    let (account, family) = provider.store.account_with_family(&token.account_id, &token.id).await?;
    let (Some(account), Some(family)) = (account, family) else { return Err(bad_token()) };
    if family.client_id != client.id {
        return Err(bad_token());
    }
    let presented = |hash| token.verify(provider.secret, HashPurpose::RefreshToken, hash);
    if !presented(&family.current_hash) {
        if family.used_hashes.iter().any(presented) {
            provider.store.revoke_family(family.account_id(), &family.id).await?;
            return Err(invalid_grant("the refresh token was already used; its family is revoked"));
        }
        return Err(bad_token());
    }
    if family.expires_at <= now || family.authentication.epoch != account.session_epoch {
        return Err(bad_token());
    }
    let scopes = match scope {
        Some(text) => Scopes::parse(text),
        None => family.scopes.clone(),
    };
    if !scopes.is_subset(&family.scopes) {
        return Err(OAuthError::new(OAuthCode::InvalidScope, "the scope is wider than the grant"));
    }
    let next_token = AccountToken::<FamilyId>::for_id(&token.account_id, family.id.clone(), rng);
    let mut used_hashes = family.used_hashes.clone();
    used_hashes.push(family.current_hash.clone());
    let excess = used_hashes.len().saturating_sub(MAX_USED_HASHES);
    used_hashes.drain(..excess);
    let next = RefreshFamily {
        current_hash: next_token.hash(provider.secret, HashPurpose::RefreshToken),
        used_hashes,
        expires_at: family_expiry(provider, family.created_at, now),
        ..family.clone()
    };
    if !provider.store.rotate_refresh(&family, &next, now).await? {
        // A concurrent refresh used this token first: it is a used token now (RFC 9700).
        provider.store.revoke_family(family.account_id(), &family.id).await?;
        return Err(invalid_grant("the refresh token was already used; its family is revoked"));
    }
    let grant = Grant { client: &client, account: &account, authentication: &family.authentication, scopes: &scopes };
    // No nonce on a refreshed ID token (OIDC Core 12.2).
    respond(provider, &grant, None, next_token.reveal(), now, rng).await
}

/// Revocation (RFC 7009): a refresh token of this client revokes its whole family. Anything
/// else, an access token (a short-lived JWT, which cannot be revoked) included, is answered
/// as a success, as 2.2 asks, without telling the client whether it meant anything.
pub async fn revoke(provider: Provider<'_>, credentials: &ClientCredentials, token: &str) -> Result<(), OAuthError> {
    let client = authenticate_client(provider, credentials).await?;
    if token.is_empty() {
        return Err(invalid_request("the token is required"));
    }
    let Some(token) = AccountToken::<FamilyId>::parse(token) else { return Ok(()) };
    let (_, family) = provider.store.account_with_family(&token.account_id, &token.id).await?;
    let Some(family) = family.filter(|f| f.client_id == client.id) else { return Ok(()) };
    let known = |hash| token.verify(provider.secret, HashPurpose::RefreshToken, hash);
    if known(&family.current_hash) || family.used_hashes.iter().any(known) {
        provider.store.revoke_family(family.account_id(), &family.id).await?;
    }
    Ok(())
}

/// Idle expiry from `now`, capped by the family's absolute lifetime from `created_at`.
fn family_expiry(provider: Provider<'_>, created_at: Timestamp, now: Timestamp) -> Timestamp {
    let config = provider.config;
    now.plus(config.refresh_idle_ttl).min(created_at.plus(config.refresh_max_ttl))
}

async fn respond(
    provider: Provider<'_>,
    grant: &Grant<'_>,
    nonce: Option<&str>,
    refresh_token: String,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<TokenResponse, OAuthError> {
    let config = provider.config;
    let access_claims = claims::access_token(config, provider.secret, grant, now, rng);
    let access_token = jws::sign(provider.signer, "at+jwt", &access_claims).await?;
    let id_claims = claims::id_token(config, grant, nonce, &access_token, now);
    let id_token = jws::sign(provider.signer, "JWT", &id_claims).await?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: config.access_token_ttl.as_secs(),
        refresh_token,
        id_token,
        scope: grant.scopes.to_string(),
    })
}
