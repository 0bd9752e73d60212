//! The OpenID Connect items of [`MemoryStore`], with the conditions DynamoStore's transactions
//! will have: the account's epoch checked with every grant, codes used once, refresh tokens
//! rotated only from the current one.

use std::collections::HashMap;

use async_trait::async_trait;

use super::{insert_new, taken, MemoryStore, State};
use crate::account::Account;
use crate::error::Result;
use crate::oidc::client::{Client, ClientId};
use crate::oidc::grant::{AuthorizationCode, CodeExchange, Consent, Interaction, RefreshFamily};
use crate::store::OidcStore;
use crate::time::Timestamp;
use crate::{AccountId, CodeId, FamilyId, InteractionId};

#[derive(Clone, Default)]
pub(super) struct OidcState {
    clients: HashMap<ClientId, Client>,
    interactions: HashMap<InteractionId, Interaction>,
    /// Codes, families and consents under their account's partition.
    codes: HashMap<(AccountId, CodeId), AuthorizationCode>,
    families: HashMap<(AccountId, FamilyId), RefreshFamily>,
    consents: HashMap<(AccountId, ClientId), Consent>,
}

impl State {
    /// The condition check on the account item: it exists, at this session epoch.
    fn at_epoch(&self, account_id: &AccountId, epoch: u64) -> bool {
        self.accounts.get(account_id).is_some_and(|account| account.session_epoch == epoch)
    }
}

#[async_trait]
impl OidcStore for MemoryStore {
    async fn client(&self, id: &ClientId) -> Result<Option<Client>> {
        Ok(self.state().oidc.clients.get(id).cloned())
    }

    async fn put_client(&self, client: &Client) -> Result<()> {
        self.state().oidc.clients.insert(client.id.clone(), client.clone());
        Ok(())
    }

    async fn put_interaction(&self, interaction: &Interaction) -> Result<()> {
        let new = insert_new(&mut self.state().oidc.interactions, interaction.id.clone(), interaction.clone());
        new.then_some(()).ok_or_else(|| taken("interaction"))
    }

    async fn interaction(&self, id: &InteractionId) -> Result<Option<Interaction>> {
        Ok(self.state().oidc.interactions.get(id).cloned())
    }

    async fn take_interaction(&self, id: &InteractionId, now: Timestamp) -> Result<Option<Interaction>> {
        let interactions = &mut self.state().oidc.interactions;
        let open = interactions.get(id).is_some_and(|i| i.expires_at > now);
        Ok(if open { interactions.remove(id) } else { None })
    }

    async fn put_code(&self, code: &AuthorizationCode) -> Result<()> {
        let key = (code.account_id().clone(), code.id.clone());
        let new = insert_new(&mut self.state().oidc.codes, key, AuthorizationCode { used_by: None, ..code.clone() });
        new.then_some(()).ok_or_else(|| taken("code"))
    }

    async fn code(&self, account_id: &AccountId, id: &CodeId) -> Result<Option<AuthorizationCode>> {
        Ok(self.state().oidc.codes.get(&(account_id.clone(), id.clone())).cloned())
    }

    async fn exchange_code(
        &self,
        code: &AuthorizationCode,
        family: &RefreshFamily,
        now: Timestamp,
    ) -> Result<CodeExchange> {
        self.transact(|state| {
            let signed_in = state.at_epoch(code.account_id(), code.authentication.epoch);
            let oidc = &mut state.oidc;
            let Some(stored) = oidc.codes.get_mut(&(code.account_id().clone(), code.id.clone())) else {
                return Ok(CodeExchange::Refused);
            };
            if let Some(first) = &stored.used_by {
                return Ok(CodeExchange::Used(first.clone()));
            }
            if stored.hash != code.hash || stored.expires_at <= now || !signed_in {
                return Ok(CodeExchange::Refused);
            }
            stored.used_by = Some(family.id.clone());
            let key = (family.account_id().clone(), family.id.clone());
            let new = insert_new(&mut oidc.families, key, family.clone());
            new.then_some(CodeExchange::Exchanged).ok_or_else(|| taken("refresh family"))
        })
    }

    async fn account_with_family(
        &self,
        account_id: &AccountId,
        id: &FamilyId,
    ) -> Result<(Option<Account>, Option<RefreshFamily>)> {
        let state = self.state();
        let family = state.oidc.families.get(&(account_id.clone(), id.clone())).cloned();
        Ok((state.accounts.get(account_id).cloned(), family))
    }

    async fn rotate_refresh(&self, current: &RefreshFamily, next: &RefreshFamily, now: Timestamp) -> Result<bool> {
        let mut state = self.state();
        let signed_in = state.at_epoch(next.account_id(), next.authentication.epoch);
        let key = (current.account_id().clone(), current.id.clone());
        let stored = state.oidc.families.get_mut(&key);
        let Some(stored) = stored.filter(|f| f.current_hash == current.current_hash && f.expires_at > now) else {
            return Ok(false);
        };
        if signed_in {
            *stored = next.clone();
        }
        Ok(signed_in)
    }

    async fn revoke_family(&self, account_id: &AccountId, id: &FamilyId) -> Result<()> {
        self.state().oidc.families.remove(&(account_id.clone(), id.clone()));
        Ok(())
    }

    async fn put_consent(&self, consent: &Consent) -> Result<()> {
        let key = (consent.account_id.clone(), consent.client_id.clone());
        self.state().oidc.consents.insert(key, consent.clone());
        Ok(())
    }

    async fn consent(&self, account_id: &AccountId, client_id: &ClientId) -> Result<Option<Consent>> {
        Ok(self.state().oidc.consents.get(&(account_id.clone(), client_id.clone())).cloned())
    }

    async fn consents(&self, account_id: &AccountId) -> Result<Vec<Consent>> {
        let state = self.state();
        let mut consents: Vec<Consent> =
            state.oidc.consents.values().filter(|c| c.account_id == *account_id).cloned().collect();
        consents.sort_by(|a, b| a.client_id.cmp(&b.client_id));
        Ok(consents)
    }

    async fn delete_consent(&self, account_id: &AccountId, client_id: &ClientId) -> Result<()> {
        let oidc = &mut self.state().oidc;
        oidc.consents.remove(&(account_id.clone(), client_id.clone()));
        oidc.families.retain(|(account, _), family| account != account_id || family.client_id != *client_id);
        Ok(())
    }
}
