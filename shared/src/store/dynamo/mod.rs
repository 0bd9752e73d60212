//! The single-table DynamoDB implementation of `Store` and `OidcStore`: one file per sub-trait
//! (`verifications`, `accounts`, `sessions`, `limits`, `outbox`, `oidc`) over the keys (`keys`),
//! the item formats (`items`, `oidc_items`) and the transactions (`transaction`) they share.
//!
//! | item              | pk             | sk          | `ttl`: an hour after                 |
//! |-------------------|----------------|-------------|--------------------------------------|
//! | verification      | `VER#<id>`     | `VER`       | its code expires, once verified its token |
//! | cooldown          | `LIMIT#<key>`  | `COOLDOWN`  | it ends or its verification expires, the later |
//! | window count      | `LIMIT#<key>`  | `W#<start>` | its window ends                      |
//! | contact owner     | `ID#<contact>` | `ID`        | none: kept while the account has it  |
//! | account           | `ACC#<id>`     | `ACC`       | none                                 |
//! | idempotency       | `IDEM#<hash>`  | `IDEM`      | the record expires                   |
//! | session           | `ACC#<id>`     | `SES#<id>`  | the session expires                  |
//! | remembered device | `ACC#<id>`     | `DEV#<id>`  | the device expires                   |
//! | MFA challenge     | `MFA#<id>`     | `MFA`       | the challenge expires                |
//! | used CAPTCHA      | `CAPTCHA#<id>` | `CAPTCHA`   | the solved challenge expires         |
//! | outbox message    | `OUT#<id>`     | `OUT`       | it is too old to send (15 minutes)   |
//! | OIDC client       | `CLIENT#<id>`  | `CLIENT`    | none: kept until replaced            |
//! | OIDC interaction  | `INT#<id>`     | `INT`       | the interaction expires              |
//! | OIDC code         | `ACC#<id>`     | `CODE#<id>` | the code expires                     |
//! | refresh family    | `ACC#<id>`     | `FAM#<id>`  | the family expires                   |
//! | OIDC consent      | `ACC#<id>`     | `CONSENT#<client id>` | none: kept until revoked |
//!
//! Every item but accounts, contact owners, clients and consents carries `ttl` (epoch seconds).
//! TTL deletes lazily, so every read still checks expiry itself. An item a single-item write
//! touched carries the stamp of the last such write (`write_stamp`), and one a transaction created
//! under a fresh key that transaction's (`created_by`): how a retried attempt knows it was
//! applied (`stamp`).

mod accounts;
mod items;
mod keys;
mod limits;
mod oidc;
mod oidc_items;
mod outbox;
mod sessions;
mod stamp;
mod transaction;
mod verifications;

use std::collections::HashMap;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::builders::UpdateBuilder;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, ReturnValue, ReturnValuesOnConditionCheckFailure, Update,
};
use aws_sdk_dynamodb::Client;

use domain::error::{Error, Result};
use domain::outbox::SealedMessage;
use domain::time::Timestamp;

use keys::{n, s};

type Item = HashMap<String, AttributeValue>;

/// How long an item outlives the moment it stops mattering, so an operator can still look at it.
const TTL_GRACE_SECS: i64 = 3600;

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore { client, table: table.into() }
    }

    /// Counts one attempt at an item that is in `state`, unexpired and under `max_attempts`,
    /// returning it as counted; `None` when it is not. Counting comes before checking, so
    /// concurrent guesses cannot get past the limit.
    async fn count_attempt(&self, key: Item, state: &str, now: Timestamp, max_attempts: u32) -> Result<Option<Item>> {
        let update = Update::builder()
            .set_key(Some(key))
            .update_expression("ADD attempts :one")
            .condition_expression("#state = :state AND attempts < :max AND expires_at > :now")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":state", s(state))
            .expression_attribute_values(":max", n(max_attempts))
            .expression_attribute_values(":now", n(now.0));
        self.update_returning(update).await
    }

    /// `update` under its condition: the item as updated (on the retry of an applied attempt,
    /// as it is now), `None` when the condition refused it.
    async fn update_returning(&self, update: UpdateBuilder) -> Result<Option<Item>> {
        self.update_once(update, ReturnValue::AllNew).await
    }

    /// `update` under its condition: `false` when the condition refused it.
    async fn update_if(&self, update: UpdateBuilder) -> Result<bool> {
        Ok(self.update_once(update, ReturnValue::None).await?.is_some())
    }

    /// `update` as one UpdateItem that is safe to send again (`stamp`): the attributes
    /// `returning` asks for (none for NONE), or `None` when its condition refused it.
    async fn update_once(&self, update: UpdateBuilder, returning: ReturnValue) -> Result<Option<Item>> {
        let stamp = stamp::fresh();
        let result = self
            .update_item(stamp::stamped(update, &stamp))?
            .return_values(returning)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => Ok(Some(output.attributes().cloned().unwrap_or_default())),
            Err(SdkError::ServiceError(e)) => match e.err() {
                UpdateItemError::ConditionalCheckFailedException(refused) => {
                    let applied = stamp::applied_before(refused.item(), &stamp);
                    Ok(applied.then(|| refused.item().cloned().unwrap_or_default()))
                }
                _ => Err(dynamo_error("UpdateItem", SdkError::ServiceError(e))),
            },
            Err(e) => Err(dynamo_error("UpdateItem", e)),
        }
    }

    /// `update` under its condition, with the messages it causes: one UpdateItem when there are
    /// none, else one transaction. `false` when the condition refused it.
    async fn update_with(&self, update: UpdateBuilder, outbox: &[SealedMessage]) -> Result<bool> {
        if outbox.is_empty() {
            return self.update_if(update).await;
        }
        let mut tx = self.transaction();
        tx.update(update, ())?;
        outbox::add_outbox(&mut tx, outbox)?;
        Ok(tx.send(&self.client).await?.is_ok())
    }

    /// A new transaction, with a stamp of its own.
    fn transaction<'a, R: Send + 'a>(&'a self) -> transaction::Transaction<'a, R> {
        transaction::Transaction::new(&self.table, stamp::fresh())
    }

    /// `update` on its own, as one UpdateItem.
    fn update_item(&self, update: UpdateBuilder) -> Result<UpdateItemFluentBuilder> {
        let update = update.table_name(&self.table).build().map_err(build_error)?;
        Ok(self
            .client
            .update_item()
            .table_name(update.table_name)
            .set_key(Some(update.key))
            .update_expression(update.update_expression)
            .set_condition_expression(update.condition_expression)
            .set_expression_attribute_names(update.expression_attribute_names)
            .set_expression_attribute_values(update.expression_attribute_values))
    }

    async fn get(&self, key: Item) -> Result<Option<Item>> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| dynamo_error("GetItem", e))?;
        Ok(output.item().cloned())
    }

    /// Several items in one round trip; keys DynamoDB leaves unprocessed are asked again.
    async fn batch_get(&self, keys: Vec<Item>) -> Result<Vec<Item>> {
        let mut wanted =
            Some(KeysAndAttributes::builder().set_keys(Some(keys)).consistent_read(true).build().map_err(build_error)?);
        let mut found = Vec::new();
        while let Some(request) = wanted.take() {
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(|e| dynamo_error("BatchGetItem", e))?;
            if let Some(items) = output.responses().and_then(|r| r.get(&self.table)) {
                found.extend(items.iter().cloned());
            }
            wanted =
                output.unprocessed_keys().and_then(|u| u.get(&self.table)).filter(|k| !k.keys().is_empty()).cloned();
        }
        Ok(found)
    }
}

fn dynamo_error<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> Error
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    crate::faults::aws_error("DynamoDB", operation, err)
}

/// Builders fail only when a required field is missing: a bug, never bad input.
fn build_error(err: aws_sdk_dynamodb::error::BuildError) -> Error {
    Error::internal("building a DynamoDB request", err)
}
