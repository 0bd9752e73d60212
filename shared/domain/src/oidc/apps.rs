//! The apps a person let in: listed on their security page, each removable there. Removing
//! one forgets the consent and ends every refresh token the app holds for them; the app's
//! next authorization asks again.

use super::client::ClientId;
use super::scope::Scopes;
use super::Provider;
use crate::error::{Error, Result};
use crate::AccountId;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppAccess {
    pub client_id: ClientId,
    pub name: String,
    pub scopes: Scopes,
}

/// The apps with the person's consent, by name; one whose registration was removed since is
/// left out (it can no longer be given tokens).
pub async fn apps_with_access(provider: Provider<'_>, account_id: &AccountId) -> Result<Vec<AppAccess>> {
    let mut apps = Vec::new();
    for consent in provider.store.consents(account_id).await? {
        if let Some(client) = provider.store.client(&consent.client_id).await? {
            apps.push(AppAccess { client_id: client.id, name: client.name, scopes: consent.scopes });
        }
    }
    apps.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(apps)
}

/// Forgets the consent and revokes the app's refresh tokens for the person.
pub async fn remove_access(provider: Provider<'_>, account_id: &AccountId, client_id: &str) -> Result<()> {
    let client_id = ClientId::parse(client_id).ok_or_else(|| Error::InvalidRequest("unknown app".into()))?;
    provider.store.delete_consent(account_id, &client_id).await
}
