//! The authorization endpoint and the login and consent interactions behind it. Without a
//! usable sign-in the browser goes to the login page with an interaction id; the page signs the
//! person in (second factor included) and completes the interaction; a third-party client then
//! gets a consent interaction, unless the person approved these scopes before.

use rand::{CryptoRng, RngCore};

use super::client::{Client, ClientId, Party, RedirectUri};
use super::decision::{decide, Authentication, Decision};
use super::error::OAuthCode;
use super::grant::{AuthorizationCode, Consent, Interaction, Stage};
use super::request::{validate, AuthorizationRequest, Params, Refusal};
use super::scope::Scopes;
use super::Provider;
use crate::error::Result;
use crate::secret::HashPurpose;
use crate::session::AccountToken;
use crate::time::Timestamp;
use crate::{CodeId, InteractionId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeOutcome {
    /// To the client's redirect URI, with a code or an error, `state` and `iss` (RFC 9207).
    Redirect(String),
    /// To the login page, with this login challenge.
    Login(InteractionId),
    /// To the consent page, with this consent challenge.
    Consent(InteractionId),
    /// An error page: no redirect URI can be trusted, or the interaction is over.
    ErrorPage(OAuthCode, &'static str),
}

/// Answers an authorization request (its query string's pairs, in order) for a browser that is
/// signed in as `signed_in`, or not at all.
pub async fn authorize(
    provider: Provider<'_>,
    params: &[(String, String)],
    signed_in: Option<&Authentication>,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<AuthorizeOutcome> {
    let params = Params(params);
    let client_id = params.one("client_id").ok().flatten().and_then(ClientId::parse);
    let client = match &client_id {
        Some(id) => provider.store.client(id).await?,
        None => None,
    };
    let request = match validate(&params, client.as_ref()) {
        Ok(request) => request,
        Err(Refusal::Page(code, description)) => return Ok(AuthorizeOutcome::ErrorPage(code, description)),
        Err(Refusal::Redirect { redirect_uri, state, code, description }) => {
            return Ok(error_redirect(provider, &redirect_uri, state.as_deref(), code, description));
        }
    };
    let client = client.expect("a valid request names a registered client");
    let consented = match signed_in {
        Some(auth) if client.party == Party::Third => provider.store.consent(&auth.account_id, &client.id).await?,
        _ => None,
    };
    let decision = decide(&request, &client, signed_in, None, consented.as_ref().map(|c| &c.scopes), now);
    proceed(provider, request, decision, now, now, rng).await
}

/// What a login or consent page shows.
#[derive(Debug, Clone)]
pub struct InteractionView {
    pub client_name: String,
    pub party: Party,
    pub scopes: Scopes,
    pub login_hint: Option<String>,
    pub ui_locales: Vec<String>,
    /// Whether the person must sign in again even with a session (`prompt=login`, `max_age`).
    pub reauthenticate: bool,
    /// Signed in, waiting for consent.
    pub consent: bool,
    /// Where the browser goes once the interaction is over, whatever the answer.
    pub redirect_uri: RedirectUri,
}

/// An interaction that is still open, for its page; `None` when it is unknown, taken or expired.
pub async fn interaction(provider: Provider<'_>, id: &str, now: Timestamp) -> Result<Option<InteractionView>> {
    let Some(id) = InteractionId::parse(id) else { return Ok(None) };
    let Some(interaction) = provider.store.interaction(&id).await?.filter(|i| i.expires_at > now) else {
        return Ok(None);
    };
    let Some(client) = provider.store.client(&interaction.request.client_id).await? else { return Ok(None) };
    let request = interaction.request;
    Ok(Some(InteractionView {
        client_name: client.name,
        party: client.party,
        scopes: request.scopes,
        login_hint: request.login_hint,
        ui_locales: request.ui_locales,
        reauthenticate: request.prompt.login || request.max_age.is_some(),
        consent: matches!(interaction.stage, Stage::Consent(_)),
        redirect_uri: request.redirect_uri,
    }))
}

const INTERACTION_OVER: (OAuthCode, &str) =
    (OAuthCode::InvalidRequest, "this sign-in request has expired or was completed; start again from the app");

/// Completes a login interaction with the sign-in that the login page just made (or found).
pub async fn accept_login(
    provider: Provider<'_>,
    id: &str,
    signed_in: &Authentication,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<AuthorizeOutcome> {
    let Some((interaction, client)) = take(provider, id, now).await? else { return Ok(over()) };
    if interaction.stage != Stage::Login {
        return Ok(over());
    }
    let consented = provider.store.consent(&signed_in.account_id, &client.id).await?;
    let scopes = consented.as_ref().map(|c| &c.scopes);
    let decision = decide(&interaction.request, &client, Some(signed_in), Some(interaction.created_at), scopes, now);
    proceed(provider, interaction.request, decision, interaction.created_at, now, rng).await
}

/// Completes a consent interaction: the person signed in as `signed_in` approved the client,
/// which is remembered until they revoke it.
pub async fn accept_consent(
    provider: Provider<'_>,
    id: &str,
    signed_in: &Authentication,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<AuthorizeOutcome> {
    let Some((interaction, client)) = take(provider, id, now).await? else { return Ok(over()) };
    let Stage::Consent(auth) = &interaction.stage else { return Ok(over()) };
    if auth.account_id != signed_in.account_id {
        return Ok(over());
    }
    let before = provider.store.consent(&auth.account_id, &client.id).await?;
    let scopes = interaction.request.scopes.iter().chain(before.iter().flat_map(|c| c.scopes.iter())).collect();
    let consent = Consent { account_id: auth.account_id.clone(), client_id: client.id, scopes, granted_at: now };
    provider.store.put_consent(&consent).await?;
    proceed(provider, interaction.request.clone(), Decision::Issue(auth.clone()), interaction.created_at, now, rng)
        .await
}

/// The person declined (at the login or the consent page): `access_denied` back to the client.
pub async fn reject(provider: Provider<'_>, id: &str, now: Timestamp) -> Result<AuthorizeOutcome> {
    let Some((interaction, _)) = take(provider, id, now).await? else { return Ok(over()) };
    let request = &interaction.request;
    let description = "the person declined the request";
    Ok(error_redirect(provider, &request.redirect_uri, request.state.as_deref(), OAuthCode::AccessDenied, description))
}

fn over() -> AuthorizeOutcome {
    AuthorizeOutcome::ErrorPage(INTERACTION_OVER.0, INTERACTION_OVER.1)
}

/// Takes an interaction, once, with its client (which may have been removed since).
async fn take(provider: Provider<'_>, id: &str, now: Timestamp) -> Result<Option<(Interaction, Client)>> {
    let Some(id) = InteractionId::parse(id) else { return Ok(None) };
    let Some(interaction) = provider.store.take_interaction(&id, now).await? else { return Ok(None) };
    let client = provider.store.client(&interaction.request.client_id).await?;
    Ok(client.map(|client| (interaction, client)))
}

/// Carries out a decision; `started` is when the authorization began, kept by a new interaction.
async fn proceed(
    provider: Provider<'_>,
    request: AuthorizationRequest,
    decision: Decision,
    started: Timestamp,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<AuthorizeOutcome> {
    let stage = match decision {
        Decision::Issue(auth) => return issue_code(provider, &request, auth, now, rng).await,
        Decision::Refuse(code) => {
            let description = match code {
                OAuthCode::LoginRequired => "the person is not signed in",
                _ => "the person has not approved this client",
            };
            return Ok(error_redirect(provider, &request.redirect_uri, request.state.as_deref(), code, description));
        }
        Decision::Login => Stage::Login,
        Decision::Consent(auth) => Stage::Consent(auth),
    };
    let login = stage == Stage::Login;
    let id = InteractionId::generate(rng);
    let expires_at = started.plus(provider.config.interaction_ttl);
    let interaction = Interaction { id: id.clone(), request, stage, created_at: started, expires_at };
    provider.store.put_interaction(&interaction).await?;
    Ok(if login { AuthorizeOutcome::Login(id) } else { AuthorizeOutcome::Consent(id) })
}

async fn issue_code(
    provider: Provider<'_>,
    request: &AuthorizationRequest,
    authentication: Authentication,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<AuthorizeOutcome> {
    let token = AccountToken::<CodeId>::generate(&authentication.account_id, rng);
    let code = AuthorizationCode {
        id: token.id.clone(),
        hash: token.hash(provider.secret, HashPurpose::AuthorizationCode),
        client_id: request.client_id.clone(),
        redirect_uri: request.redirect_uri.clone(),
        code_challenge: request.code_challenge.clone(),
        nonce: request.nonce.clone(),
        scopes: request.scopes.clone(),
        authentication,
        expires_at: now.plus(provider.config.code_ttl),
        used_by: None,
    };
    provider.store.put_code(&code).await?;
    let code = token.reveal();
    let mut params = vec![("code", code.as_str())];
    params.extend(request.state.as_deref().map(|state| ("state", state)));
    params.push(("iss", &provider.config.issuer));
    Ok(AuthorizeOutcome::Redirect(request.redirect_uri.with_query(&params)))
}

fn error_redirect(
    provider: Provider<'_>,
    redirect_uri: &RedirectUri,
    state: Option<&str>,
    code: OAuthCode,
    description: &str,
) -> AuthorizeOutcome {
    let mut params = vec![("error", code.as_str()), ("error_description", description)];
    params.extend(state.map(|state| ("state", state)));
    params.push(("iss", &provider.config.issuer));
    AuthorizeOutcome::Redirect(redirect_uri.with_query(&params))
}
