//! `LimitStore`, and the writes that apply a `Limit` within another transaction.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::builders::UpdateBuilder;
use aws_sdk_dynamodb::types::{ConditionCheck, ReturnValue, Update};

use domain::error::Result;
use domain::limits::{Found, Limit, LimitKey, Window};
use domain::store::LimitStore;
use domain::time::Timestamp;

use super::items::{get_n, opt_n};
use super::keys::{captcha_key, cooldown_key, n, s, window_key};
use super::transaction::Transaction;
use super::{DynamoStore, Item, TTL_GRACE_SECS};

/// The condition of a window counter that refuses at `:max`.
const UNDER_MAX: &str = "attribute_not_exists(#count) OR #count < :max";

/// Counts one event in the window counter of `key`, unless `max` are counted already.
fn count_in_window(key: &LimitKey, window: Window, max: Option<u32>) -> UpdateBuilder {
    let update = Update::builder()
        .set_key(Some(window_key(key, window)))
        .update_expression("ADD #count :one SET #ttl = :ttl")
        .expression_attribute_names("#count", "count")
        .expression_attribute_names("#ttl", "ttl")
        .expression_attribute_values(":one", n(1))
        .expression_attribute_values(":ttl", n(window.end.0 + TTL_GRACE_SECS));
    match max {
        None => update,
        Some(max) => update.condition_expression(UNDER_MAX).expression_attribute_values(":max", n(max)),
    }
}

/// Adds the write that applies `limit` to `tx`, refused with the error the limit names.
/// A cooldown is kept until `keep_until` at least: it names the newest verification.
pub(super) fn add_limit<'a>(
    tx: &mut Transaction<'a>,
    limit: &'a Limit,
    now: Timestamp,
    keep_until: Timestamp,
) -> Result<()> {
    let refusal = move |old: Option<&Item>| {
        let found = Found {
            until: old.and_then(|item| get_n(item, "until").ok()).map(Timestamp),
            count: old.and_then(|item| get_n(item, "count").ok()),
        };
        limit.refusal(now, found)
    };
    match limit {
        Limit::Cooldown { key, until, latest } => tx.update_reading_old(
            Update::builder()
                .set_key(Some(cooldown_key(key)))
                .update_expression("SET #until = :until, #latest = :latest, #ttl = :ttl")
                .condition_expression("attribute_not_exists(#until) OR #until <= :now")
                .expression_attribute_names("#until", "until")
                .expression_attribute_names("#latest", "latest")
                .expression_attribute_names("#ttl", "ttl")
                .expression_attribute_values(":until", n(until.0))
                .expression_attribute_values(":latest", s(latest.as_str()))
                .expression_attribute_values(":ttl", n(keep_until.0.max(until.0) + TTL_GRACE_SECS))
                .expression_attribute_values(":now", n(now.0)),
            refusal,
        ),
        // A refused difficulty names the difficulty its count needs, so it reads the count back.
        Limit::Quota { key, window, max } | Limit::Difficulty { key, window, max, .. } => {
            tx.update_reading_old(count_in_window(key, *window, Some(*max)), refusal)
        }
        Limit::Ceiling { key, window, max } => tx.check(
            ConditionCheck::builder()
                .set_key(Some(window_key(key, *window)))
                .condition_expression(UNDER_MAX)
                .expression_attribute_names("#count", "count")
                .expression_attribute_values(":max", n(max)),
            refusal(None),
        ),
        Limit::SingleUse { id, until } => {
            let mut record = captcha_key(id);
            record.insert("ttl".to_owned(), n(until.0 + TTL_GRACE_SECS));
            tx.insert(record, refusal(None))
        }
    }
}

#[async_trait]
impl LimitStore for DynamoStore {
    async fn count_failure(&self, key: &LimitKey, window: Window) -> Result<()> {
        self.update_if(count_in_window(key, window, None)).await.map(drop)
    }

    async fn count_within(&self, key: &LimitKey, window: Window, max: u32) -> Result<Option<u32>> {
        let counted = self.update_once(count_in_window(key, window, Some(max)), ReturnValue::UpdatedNew).await?;
        counted.map(|counted| get_n(&counted, "count")).transpose()
    }

    async fn refund(&self, keys: &[LimitKey], window: Window) {
        // One update per key, never in a transaction: a hot counter must not make it conflict.
        for key in keys {
            let refund = Update::builder()
                .set_key(Some(window_key(key, window)))
                .update_expression("ADD #count :minus_one")
                .condition_expression("#count > :zero")
                .expression_attribute_names("#count", "count")
                .expression_attribute_values(":minus_one", n(-1))
                .expression_attribute_values(":zero", n(0));
            let sent = self.update_if(refund).await;
            // Refused: the window ended and expired meanwhile. Failed: the count stays.
            if let Err(error) = sent {
                tracing::warn!(%error, "a counted attempt was not given back");
            }
        }
    }

    async fn window_count(&self, key: &LimitKey, window: Window) -> Result<u32> {
        Ok(self.get(window_key(key, window)).await?.and_then(|item| opt_n(&item, "count")).unwrap_or(0))
    }
}
