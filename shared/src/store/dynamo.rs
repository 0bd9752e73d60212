//! The single-table DynamoDB implementation of `Store`.
//!
//! | item          | pk               | sk              |
//! |---------------|------------------|-----------------|
//! | verification  | `VER#<id>`       | `VER`           |
//! | cooldown      | `LIMIT#<key>`    | `COOLDOWN`      |
//! | window count  | `LIMIT#<key>`    | `W#<start>`     |
//! | contact owner | `ID#<contact>`   | `ID`            |
//! | account       | `ACC#<id>`       | `ACC`           |
//! | idempotency   | `IDEM#<hash>`    | `IDEM`          |
//!
//! Every item carries `ttl` (epoch seconds). TTL deletes lazily, so every read
//! still checks expiry itself.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, ConditionCheck, Put, ReturnValue, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;

use super::Store;
use crate::domain::account::{Account, TokenClaim};
use crate::domain::idempotency::IdempotencyRecord;
use crate::domain::limits::{Limit, LimitKey, Window};
use crate::domain::verification::{Purpose, Verification, VerificationState};
use crate::domain::{Channel, Contact, VerificationId};
use crate::error::{Error, Result};
use crate::secret::KeyedHash;
use crate::time::Timestamp;

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
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn key(pk: String, sk: &str) -> Item {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

fn verification_key(id: &VerificationId) -> Item {
    key(format!("VER#{}", id.as_str()), "VER")
}

fn cooldown_key(key_: &LimitKey) -> Item {
    key(format!("LIMIT#{}", key_.as_str()), "COOLDOWN")
}

fn window_key(key_: &LimitKey, window: Window) -> Item {
    key(format!("LIMIT#{}", key_.as_str()), &format!("W#{}", window.start.0))
}

fn contact_key(contact: &Contact) -> Item {
    key(format!("ID#{}", contact.canonical()), "ID")
}

fn account_key(id: &str) -> Item {
    key(format!("ACC#{id}"), "ACC")
}

fn idempotency_key(key_hash: &str) -> Item {
    key(format!("IDEM#{key_hash}"), "IDEM")
}

fn channel_name(channel: Channel) -> &'static str {
    match channel {
        Channel::Sms => "sms",
        Channel::Email => "email",
    }
}

fn channel_from(name: &str) -> Result<Channel> {
    match name {
        "sms" => Ok(Channel::Sms),
        "email" => Ok(Channel::Email),
        other => Err(Error::Internal(format!("stored channel {other}"))),
    }
}

fn get_s<'a>(item: &'a Item, name: &str) -> Result<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v),
        _ => Err(Error::Internal(format!("stored item lacks string {name}"))),
    }
}

fn get_n<T: std::str::FromStr>(item: &Item, name: &str) -> Result<T> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().map_err(|_| Error::Internal(format!("stored {name} is not a number"))),
        _ => Err(Error::Internal(format!("stored item lacks number {name}"))),
    }
}

fn dynamo_error(operation: &str, err: impl std::error::Error) -> Error {
    Error::Internal(format!("DynamoDB {operation}: {}", aws_sdk_dynamodb::error::DisplayErrorContext(err)))
}

/// Builders fail only when a required field is missing: a bug, never bad input.
fn build_error(err: aws_sdk_dynamodb::error::BuildError) -> Error {
    Error::internal("building a DynamoDB request", err)
}

fn state_name(state: VerificationState) -> &'static str {
    match state {
        VerificationState::Pending => "pending",
        VerificationState::Verified => "verified",
        VerificationState::Consumed => "consumed",
    }
}

fn purpose_name(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::SignUp => "sign_up",
        Purpose::AddContact => "add_contact",
    }
}

fn verification_item(v: &Verification) -> Item {
    let mut item = verification_key(&v.id);
    item.extend([
        ("channel".to_owned(), s(channel_name(v.contact.channel()))),
        ("contact".to_owned(), s(v.contact.stored())),
        ("purpose".to_owned(), s(purpose_name(v.purpose))),
        ("code_hash".to_owned(), s(v.code_hash.to_hex())),
        ("attempts".to_owned(), n(v.attempts)),
        ("state".to_owned(), s(state_name(v.state))),
        ("created_at".to_owned(), n(v.created_at.0)),
        ("expires_at".to_owned(), n(v.expires_at.0)),
        ("contact_key".to_owned(), s(v.contact_key.as_str())),
        ("ttl".to_owned(), n(v.expires_at.0 + TTL_GRACE_SECS)),
    ]);
    item
}

fn verification_from_item(item: &Item) -> Result<Verification> {
    let id = VerificationId::parse(get_s(item, "pk")?.trim_start_matches("VER#"))
        .ok_or_else(|| Error::Internal("stored verification id".into()))?;
    let channel = channel_from(get_s(item, "channel")?)?;
    let purpose = match get_s(item, "purpose")? {
        "sign_up" => Purpose::SignUp,
        "add_contact" => Purpose::AddContact,
        other => return Err(Error::Internal(format!("stored purpose {other}"))),
    };
    let state = match get_s(item, "state")? {
        "pending" => VerificationState::Pending,
        "verified" => VerificationState::Verified,
        "consumed" => VerificationState::Consumed,
        other => return Err(Error::Internal(format!("stored state {other}"))),
    };
    Ok(Verification {
        id,
        contact: Contact::from_stored(channel, get_s(item, "contact")?)?,
        purpose,
        code_hash: KeyedHash::from_hex(get_s(item, "code_hash")?)
            .ok_or_else(|| Error::Internal("stored code hash".into()))?,
        attempts: get_n(item, "attempts")?,
        state,
        created_at: Timestamp(get_n(item, "created_at")?),
        expires_at: Timestamp(get_n(item, "expires_at")?),
        contact_key: LimitKey::from_stored(get_s(item, "contact_key")?.to_owned()),
        token_hash: item
            .get("token_hash")
            .map(|_| get_s(item, "token_hash"))
            .transpose()?
            .and_then(KeyedHash::from_hex),
        token_expires_at: item
            .get("token_expires_at")
            .map(|_| get_n(item, "token_expires_at"))
            .transpose()?
            .map(Timestamp),
    })
}

fn account_item(account: &Account) -> Item {
    let mut item = account_key(&account.id);
    item.extend([
        ("password_hash".to_owned(), s(&account.password_hash)),
        ("primary_channel".to_owned(), s(channel_name(account.primary.channel()))),
        ("primary_contact".to_owned(), s(account.primary.stored())),
        ("created_at".to_owned(), n(account.created_at.0)),
        ("terms_version".to_owned(), s(&account.terms_version)),
        ("terms_accepted_at".to_owned(), n(account.terms_accepted_at.0)),
    ]);
    item
}

fn contact_owner_item(contact: &Contact, account_id: &str, role: &str, now: Timestamp) -> Item {
    let mut item = contact_key(contact);
    item.extend([
        ("account_id".to_owned(), s(account_id)),
        ("role".to_owned(), s(role)),
        ("created_at".to_owned(), n(now.0)),
    ]);
    item
}

/// The condition under which a verified token may be used, and the update that uses it.
fn consume_token(table: &str, claim: &TokenClaim) -> Result<Update> {
    Update::builder()
        .table_name(table)
        .set_key(Some(verification_key(&claim.verification.id)))
        .update_expression("SET #state = :consumed")
        .condition_expression("#state = :verified AND token_hash = :hash AND token_expires_at > :now")
        .expression_attribute_names("#state", "state")
        .expression_attribute_values(":consumed", s("consumed"))
        .expression_attribute_values(":verified", s("verified"))
        .expression_attribute_values(":hash", s(claim.token_hash.to_hex()))
        .expression_attribute_values(":now", n(claim.now.0))
        .build()
        .map_err(build_error)
}

fn put(table: &str, item: Item, condition: &str) -> Result<TransactWriteItem> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression(condition)
        .build()
        .map_err(build_error)?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// A cancelled transaction where no condition refused: DynamoDB saw a concurrent
/// transaction on the same items, which the client may simply retry.
fn cancelled_without_refusal(reasons: &[CancellationReason], err: &TransactWriteItemsError) -> Error {
    if reasons.iter().any(|r| r.code() == Some("TransactionConflict")) {
        Error::Conflict
    } else {
        dynamo_error("TransactWriteItems", err)
    }
}

impl DynamoStore {
    /// One transaction item per limit; the order matches `limits`, so a cancellation
    /// reason at index i names the limit that refused.
    fn limit_write(&self, limit: &Limit, now: Timestamp, keep_until: Timestamp) -> Result<TransactWriteItem> {
        let item = TransactWriteItem::builder();
        let built = match limit {
            Limit::Cooldown { key: k, until, latest } => item.update(
                Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(cooldown_key(k)))
                    .update_expression("SET #until = :until, #latest = :latest, #ttl = :ttl")
                    .condition_expression("attribute_not_exists(#until) OR #until <= :now")
                    .expression_attribute_names("#until", "until")
                    .expression_attribute_names("#latest", "latest")
                    .expression_attribute_names("#ttl", "ttl")
                    .expression_attribute_values(":until", n(until.0))
                    .expression_attribute_values(":latest", s(latest.as_str()))
                    .expression_attribute_values(":ttl", n(keep_until.0.max(until.0) + TTL_GRACE_SECS))
                    .expression_attribute_values(":now", n(now.0))
                    .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                    .build()
                    .map_err(build_error)?,
            ),
            Limit::Quota { key: k, window, max } => item.update(
                Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(window_key(k, *window)))
                    .update_expression("ADD #count :one SET #ttl = :ttl")
                    .condition_expression("attribute_not_exists(#count) OR #count < :max")
                    .expression_attribute_names("#count", "count")
                    .expression_attribute_names("#ttl", "ttl")
                    .expression_attribute_values(":one", n(1))
                    .expression_attribute_values(":max", n(max))
                    .expression_attribute_values(":ttl", n(window.end.0 + TTL_GRACE_SECS))
                    .build()
                    .map_err(build_error)?,
            ),
            Limit::Ceiling { key: k, window, max } => item.condition_check(
                ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(window_key(k, *window)))
                    .condition_expression("attribute_not_exists(#count) OR #count < :max")
                    .expression_attribute_names("#count", "count")
                    .expression_attribute_values(":max", n(max))
                    .build()
                    .map_err(build_error)?,
            ),
        };
        Ok(built.build())
    }
}

#[async_trait]
impl Store for DynamoStore {
    async fn create_verification(&self, verification: &Verification, limits: &[Limit], now: Timestamp) -> Result<()> {
        let mut items = limits
            .iter()
            .map(|limit| self.limit_write(limit, now, verification.expires_at))
            .collect::<Result<Vec<_>>>()?;
        items.push(put(&self.table, verification_item(verification), "attribute_not_exists(pk)")?);

        let result = self.client.transact_write_items().set_transact_items(Some(items)).send().await;
        let err = match result {
            Ok(_) => return Ok(()),
            Err(SdkError::ServiceError(e)) => e.into_err(),
            Err(e) => return Err(dynamo_error("TransactWriteItems", e)),
        };
        let TransactWriteItemsError::TransactionCanceledException(cancelled) = &err else {
            return Err(dynamo_error("TransactWriteItems", err));
        };
        let refused = cancelled
            .cancellation_reasons()
            .iter()
            .zip(limits)
            .find(|(reason, _)| reason.code() == Some("ConditionalCheckFailed"));
        match refused {
            Some((reason, limit)) => {
                let blocked_until = reason.item().and_then(|item| get_n(item, "until").ok()).map(Timestamp);
                Err(Error::RateLimited { retry_after: limit.retry_after(now, blocked_until) })
            }
            None => Err(cancelled_without_refusal(cancelled.cancellation_reasons(), &err)),
        }
    }

    async fn count_code_attempt(
        &self,
        id: &VerificationId,
        now: Timestamp,
        max_attempts: u32,
    ) -> Result<Option<Verification>> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(verification_key(id)))
            .update_expression("ADD attempts :one")
            .condition_expression("#state = :pending AND attempts < :max AND expires_at > :now")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":max", n(max_attempts))
            .expression_attribute_values(":now", n(now.0))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(output) => output.attributes().map(verification_from_item).transpose(),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), UpdateItemError::ConditionalCheckFailedException(_)) =>
            {
                Ok(None)
            }
            Err(e) => Err(dynamo_error("UpdateItem", e)),
        }
    }

    async fn mark_verified(
        &self,
        verification: &Verification,
        token_hash: &KeyedHash,
        token_expires_at: Timestamp,
    ) -> Result<bool> {
        let newest = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(cooldown_key(&verification.contact_key)))
            .condition_expression("#latest = :id")
            .expression_attribute_names("#latest", "latest")
            .expression_attribute_values(":id", s(verification.id.as_str()))
            .build()
            .map_err(build_error)?;
        let verify = Update::builder()
            .table_name(&self.table)
            .set_key(Some(verification_key(&verification.id)))
            .update_expression("SET #state = :verified, token_hash = :hash, token_expires_at = :exp, #ttl = :ttl")
            .condition_expression("#state = :pending")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":verified", s("verified"))
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":hash", s(token_hash.to_hex()))
            .expression_attribute_values(":exp", n(token_expires_at.0))
            .expression_attribute_values(":ttl", n(token_expires_at.0 + TTL_GRACE_SECS))
            .build()
            .map_err(build_error)?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().condition_check(newest).build())
            .transact_items(TransactWriteItem::builder().update(verify).build())
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(true),
            Err(SdkError::ServiceError(e)) => e.into_err(),
            Err(e) => return Err(dynamo_error("TransactWriteItems", e)),
        };
        match &err {
            TransactWriteItemsError::TransactionCanceledException(cancelled)
                if cancelled.cancellation_reasons().iter().any(|r| r.code() == Some("ConditionalCheckFailed")) =>
            {
                Ok(false)
            }
            TransactWriteItemsError::TransactionCanceledException(cancelled) => {
                Err(cancelled_without_refusal(cancelled.cancellation_reasons(), &err))
            }
            _ => Err(dynamo_error("TransactWriteItems", err)),
        }
    }

    async fn count_failure(&self, key_: &LimitKey, window: Window) -> Result<()> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(window_key(key_, window)))
            .update_expression("ADD #count :one SET #ttl = :ttl")
            .expression_attribute_names("#count", "count")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":ttl", n(window.end.0 + TTL_GRACE_SECS))
            .send()
            .await
            .map_err(|e| dynamo_error("UpdateItem", e))?;
        Ok(())
    }

    async fn verification(&self, id: &VerificationId) -> Result<Option<Verification>> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(verification_key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| dynamo_error("GetItem", e))?;
        output.item().map(verification_from_item).transpose()
    }

    async fn account_for_contact(&self, contact: &Contact) -> Result<Option<String>> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(contact_key(contact)))
            .send()
            .await
            .map_err(|e| dynamo_error("GetItem", e))?;
        output.item().map(|item| get_s(item, "account_id").map(str::to_owned)).transpose()
    }

    async fn create_account(
        &self,
        account: &Account,
        claim: &TokenClaim,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<()> {
        let mut items = vec![
            TransactWriteItem::builder().update(consume_token(&self.table, claim)?).build(),
            put(
                &self.table,
                contact_owner_item(&account.primary, &account.id, "primary", account.created_at),
                "attribute_not_exists(pk)",
            )?,
            put(&self.table, account_item(account), "attribute_not_exists(pk)")?,
        ];
        if let Some(record) = idempotency {
            items.push(put(&self.table, idempotency_item(record), "attribute_not_exists(pk)")?);
        }
        let result = self.client.transact_write_items().set_transact_items(Some(items)).send().await;
        let err = match result {
            Ok(_) => return Ok(()),
            Err(SdkError::ServiceError(e)) => e.into_err(),
            Err(e) => return Err(dynamo_error("TransactWriteItems", e)),
        };
        let TransactWriteItemsError::TransactionCanceledException(cancelled) = &err else {
            return Err(dynamo_error("TransactWriteItems", err));
        };
        let reasons = cancelled.cancellation_reasons();
        let refused = |i: usize| reasons.get(i).and_then(|r| r.code()) == Some("ConditionalCheckFailed");
        if refused(0) || refused(3) {
            Err(Error::VerificationExpired)
        } else if refused(1) {
            Err(Error::AlreadyRegistered)
        } else {
            Err(cancelled_without_refusal(reasons, &err))
        }
    }

    async fn idempotency_record(&self, key_hash: &str) -> Result<Option<IdempotencyRecord>> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(idempotency_key(key_hash)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| dynamo_error("GetItem", e))?;
        let Some(item) = output.item() else { return Ok(None) };
        Ok(Some(IdempotencyRecord {
            key_hash: key_hash.to_owned(),
            request_hash: KeyedHash::from_hex(get_s(item, "request_hash")?)
                .ok_or_else(|| Error::Internal("stored request hash".into()))?,
            response: get_s(item, "response")?.to_owned(),
            expires_at: Timestamp(get_n(item, "expires_at")?),
        }))
    }
}

fn idempotency_item(record: &IdempotencyRecord) -> Item {
    let mut item = idempotency_key(&record.key_hash);
    item.extend([
        ("request_hash".to_owned(), s(record.request_hash.to_hex())),
        ("response".to_owned(), s(&record.response)),
        ("expires_at".to_owned(), n(record.expires_at.0)),
        ("ttl".to_owned(), n(record.expires_at.0 + TTL_GRACE_SECS)),
    ]);
    item
}
