//! `OidcStore`: clients, interactions, authorization codes, refresh-token families and consents.
//! Every grant is written with a condition on the account item's session epoch in the same
//! transaction, so none outlives signing out everywhere or the account's deletion.

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::builders::{ConditionCheckBuilder, UpdateBuilder};
use aws_sdk_dynamodb::types::{ConditionCheck, ReturnValue, Update};

use domain::account::Account;
use domain::error::Result;
use domain::oidc::client::{Client, ClientId};
use domain::oidc::grant::{AuthorizationCode, CodeExchange, Consent, Interaction, RefreshFamily};
use domain::store::OidcStore;
use domain::time::Timestamp;
use domain::{AccountId, CodeId, FamilyId, InteractionId};

use super::items::{account_from_item, get_s, opt_s};
use super::keys::{account_key, client_key, code_key, consent_key, family_key, interaction_key, n, s};
use super::oidc_items::{
    client_from_item, client_item, code_from_item, code_item, consent_from_item, consent_item, family_from_item,
    family_item, interaction_from_item, interaction_item, CONSENT_PREFIX, FAMILY_PREFIX,
};
use super::stamp;
use super::{dynamo_error, DynamoStore, Item};

/// The most items DynamoDB takes in one transaction.
const MAX_TRANSACTION_ITEMS: usize = 100;

/// The condition that the account is still at the session epoch `epoch`: it exists, and no sign
/// out everywhere, password change or reset raised the epoch since.
fn at_epoch(account_id: &AccountId, epoch: u64) -> ConditionCheckBuilder {
    // An account never signed out everywhere holds no `session_epoch`: it reads as 0.
    let condition = match epoch {
        0 => "attribute_exists(pk) AND (attribute_not_exists(session_epoch) OR session_epoch = :epoch)",
        _ => "session_epoch = :epoch",
    };
    ConditionCheck::builder()
        .set_key(Some(account_key(account_id)))
        .condition_expression(condition)
        .expression_attribute_values(":epoch", n(epoch))
}

/// An update that makes the item at `key` hold every attribute of `item` (the family has no
/// optional attributes, so none of the old item's is left over).
fn replace(key: Item, item: Item) -> UpdateBuilder {
    let mut update = Update::builder();
    let mut set = Vec::new();
    // Placeholders for every name: some attributes (`ttl`) are reserved words.
    let attributes = item.into_iter().filter(|(name, _)| !key.contains_key(name));
    for (i, (name, value)) in attributes.enumerate() {
        set.push(format!("#a{i} = :a{i}"));
        update = update
            .expression_attribute_names(format!("#a{i}"), name)
            .expression_attribute_values(format!(":a{i}"), value);
    }
    update.set_key(Some(key)).update_expression(format!("SET {}", set.join(", ")))
}

impl DynamoStore {
    /// Puts `item` unless one has its key; the retry of an applied attempt is written again
    /// (`stamp`), so only another writer's item refuses it, as an internal error: ids are random.
    async fn insert_new(&self, item: Item) -> Result<()> {
        let put = self.client.put_item().table_name(&self.table);
        stamp::stamped_put(put, item, "attribute_not_exists(pk)", &stamp::fresh())
            .send()
            .await
            .map_err(|e| dynamo_error("PutItem", e))?;
        Ok(())
    }

    async fn put(&self, item: Item) -> Result<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| dynamo_error("PutItem", e))?;
        Ok(())
    }

    /// The items of the account's partition whose sort key starts with `prefix` and that match
    /// `filter` (an attribute and its value), every page of them. Strongly consistent: revoking
    /// must find a family an exchange just wrote.
    async fn account_items(
        &self,
        account_id: &AccountId,
        prefix: &str,
        filter: Option<(&str, &str)>,
    ) -> Result<Vec<Item>> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", s(format!("ACC#{account_id}")))
                .expression_attribute_values(":prefix", s(prefix))
                .consistent_read(true)
                .set_exclusive_start_key(start);
            if let Some((name, value)) = filter {
                query = query
                    .filter_expression("#filter = :filter")
                    .expression_attribute_names("#filter", name)
                    .expression_attribute_values(":filter", s(value));
            }
            let output = query.send().await.map_err(|e| dynamo_error("Query", e))?;
            found.extend(output.items().iter().cloned());
            start = output.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok(found);
            }
        }
    }
}

#[async_trait]
impl OidcStore for DynamoStore {
    async fn client(&self, id: &ClientId) -> Result<Option<Client>> {
        self.get(client_key(id)).await?.as_ref().map(client_from_item).transpose()
    }

    async fn put_client(&self, client: &Client) -> Result<()> {
        self.put(client_item(client)).await
    }

    async fn put_interaction(&self, interaction: &Interaction) -> Result<()> {
        self.insert_new(interaction_item(interaction)).await
    }

    async fn interaction(&self, id: &InteractionId) -> Result<Option<Interaction>> {
        self.get(interaction_key(id)).await?.as_ref().map(interaction_from_item).transpose()
    }

    async fn take_interaction(&self, id: &InteractionId, now: Timestamp) -> Result<Option<Interaction>> {
        // No stamp can mark a deleted item: when the answer to an applied attempt is lost, its
        // retry finds nothing and the interaction counts as taken by another, which is safe (the
        // person starts again); DynamoDB's condition keeps two takers from both having it.
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(interaction_key(id)))
            .condition_expression("attribute_exists(pk) AND expires_at > :now")
            .expression_attribute_values(":now", n(now.0))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => output.attributes().map(interaction_from_item).transpose(),
            Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => Ok(None),
            Err(e) => Err(dynamo_error("DeleteItem", e)),
        }
    }

    async fn put_code(&self, code: &AuthorizationCode) -> Result<()> {
        self.insert_new(code_item(code)).await
    }

    async fn code(&self, account_id: &AccountId, id: &CodeId) -> Result<Option<AuthorizationCode>> {
        self.get(code_key(account_id, id)).await?.as_ref().map(code_from_item).transpose()
    }

    async fn exchange_code(
        &self,
        code: &AuthorizationCode,
        family: &RefreshFamily,
        now: Timestamp,
    ) -> Result<CodeExchange> {
        let mut tx = self.transaction();
        let use_code = Update::builder()
            .set_key(Some(code_key(code.account_id(), &code.id)))
            .update_expression("SET used_by = :family")
            .condition_expression("code_hash = :hash AND attribute_not_exists(used_by) AND expires_at > :now")
            .expression_attribute_values(":family", s(family.id.as_str()))
            .expression_attribute_values(":hash", s(code.hash.to_hex()))
            .expression_attribute_values(":now", n(now.0));
        // First, so that a used code answers `Used` whatever else refused the exchange (the
        // first refused item names the outcome): the caller then revokes the first family.
        tx.update_reading_old(use_code, |old| match old.and_then(|item| opt_s(item, "used_by")) {
            Some(first) => CodeExchange::Used(FamilyId::stored(first)),
            None => CodeExchange::Refused,
        })?;
        tx.check(at_epoch(code.account_id(), code.authentication.epoch), CodeExchange::Refused)?;
        // The family id was drawn for this exchange: found holding our stamp, we wrote it.
        tx.insert_fresh(family_item(family))?;
        Ok(match tx.send(&self.client).await? {
            Ok(()) => CodeExchange::Exchanged,
            Err(refused) => refused,
        })
    }

    async fn account_with_family(
        &self,
        account_id: &AccountId,
        id: &FamilyId,
    ) -> Result<(Option<Account>, Option<RefreshFamily>)> {
        let (account_key, family_key) = (account_key(account_id), family_key(account_id, id));
        let items = self.batch_get(vec![account_key.clone(), family_key.clone()]).await?;
        // Batch reads answer in any order: each item is told by its sort key.
        let find = |key: &Item| items.iter().find(|item| item.get("sk") == key.get("sk"));
        let account = find(&account_key).map(account_from_item).transpose()?;
        let family = find(&family_key).map(family_from_item).transpose()?;
        Ok((account, family))
    }

    async fn rotate_refresh(&self, current: &RefreshFamily, next: &RefreshFamily, now: Timestamp) -> Result<bool> {
        let key = family_key(current.account_id(), &current.id);
        let rotate = replace(key, family_item(next))
            .condition_expression("current_hash = :current AND expires_at > :now")
            .expression_attribute_values(":current", s(current.current_hash.to_hex()))
            .expression_attribute_values(":now", n(now.0));
        let mut tx = self.transaction();
        tx.update(rotate, ())?;
        tx.check(at_epoch(next.account_id(), next.authentication.epoch), ())?;
        Ok(tx.send(&self.client).await?.is_ok())
    }

    async fn revoke_family(&self, account_id: &AccountId, id: &FamilyId) -> Result<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(family_key(account_id, id)))
            .send()
            .await
            .map_err(|e| dynamo_error("DeleteItem", e))?;
        Ok(())
    }

    async fn put_consent(&self, consent: &Consent) -> Result<()> {
        self.put(consent_item(consent)).await
    }

    async fn consent(&self, account_id: &AccountId, client_id: &ClientId) -> Result<Option<Consent>> {
        self.get(consent_key(account_id, client_id)).await?.as_ref().map(consent_from_item).transpose()
    }

    async fn consents(&self, account_id: &AccountId) -> Result<Vec<Consent>> {
        // By sort key, `CONSENT#<client id>`: by client id, as the trait promises.
        let items = self.account_items(account_id, CONSENT_PREFIX, None).await?;
        items.iter().map(consent_from_item).collect()
    }

    async fn delete_consent(&self, account_id: &AccountId, client_id: &ClientId) -> Result<()> {
        let families = self.account_items(account_id, FAMILY_PREFIX, Some(("client_id", client_id.as_str()))).await?;
        let mut keys = Vec::with_capacity(families.len() + 1);
        for family in &families {
            let id = FamilyId::stored(get_s(family, "sk")?.trim_start_matches(FAMILY_PREFIX).to_owned());
            keys.push(family_key(account_id, &id));
        }
        // The consent last: should a later transaction of a client with over 99 families fail,
        // the consent is still there to revoke again, and the retry finds the families left,
        // rather than the person seeing it gone while some of the client's tokens still work.
        keys.push(consent_key(account_id, client_id));
        for chunk in keys.chunks(MAX_TRANSACTION_ITEMS) {
            let mut tx = self.transaction();
            for key in chunk {
                tx.delete_any(key.clone())?;
            }
            tx.commit(&self.client).await?;
        }
        Ok(())
    }
}
