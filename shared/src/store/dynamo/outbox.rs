//! `OutboxStore`, and the outbox items the writes that cause messages add to their transaction.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Update};

use domain::error::Result;
use domain::limits::LimitKey;
use domain::outbox::{Claimed, Mark, Resend, SealedMessage};
use domain::store::OutboxStore;
use domain::time::Timestamp;
use domain::MessageId;

use super::items::{get_n, get_s};
use super::keys::{account_key, challenge_key, cooldown_key, n, outbox_key, s};
use super::transaction::Transaction;
use super::{dynamo_error, DynamoStore, Item, TTL_GRACE_SECS};

fn outbox_item(message: &SealedMessage) -> Item {
    let mut item = outbox_key(&message.id);
    item.insert("sealed".into(), s(&message.sealed));
    item.insert("expires_at".into(), n(message.expires_at.0));
    item.insert("attempts".into(), n(0));
    item.insert("ttl".into(), n(message.expires_at.0 + TTL_GRACE_SECS));
    item
}

/// Adds the messages of a write to its transaction.
pub(super) fn add_outbox<'a, R: Send + 'a>(tx: &mut Transaction<'a, R>, outbox: &[SealedMessage]) -> Result<()> {
    outbox.iter().try_for_each(|message| tx.insert_fresh(outbox_item(message)))
}

#[async_trait]
impl OutboxStore for DynamoStore {
    async fn enqueue(&self, outbox: &[SealedMessage]) -> Result<()> {
        if outbox.is_empty() {
            return Ok(()); // DynamoDB refuses a transaction of no items
        }
        let mut tx = self.transaction();
        add_outbox(&mut tx, outbox)?;
        tx.commit(&self.client).await
    }

    async fn claim_message(&self, id: &MessageId) -> Result<Option<Claimed>> {
        let claim = Update::builder()
            .set_key(Some(outbox_key(id)))
            .update_expression("ADD attempts :one")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(sent)")
            .expression_attribute_values(":one", n(1));
        let Some(item) = self.update_returning(claim).await? else { return Ok(None) };
        let message = SealedMessage {
            id: id.clone(),
            sealed: get_s(&item, "sealed")?.to_owned(),
            expires_at: Timestamp(get_n(&item, "expires_at")?),
        };
        Ok(Some(Claimed { message, attempts: get_n(&item, "attempts")?, charged: item.contains_key("charged") }))
    }

    async fn mark_message(&self, id: &MessageId, mark: Mark) -> Result<()> {
        let attribute = match mark {
            Mark::Charged => "charged",
            Mark::Sent => "sent",
        };
        let update = Update::builder()
            .set_key(Some(outbox_key(id)))
            .update_expression("SET #mark = :yes")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#mark", attribute)
            .expression_attribute_values(":yes", AttributeValue::Bool(true));
        self.update_if(update).await.map(drop)
    }

    async fn delete_message(&self, id: &MessageId) -> Result<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(outbox_key(id)))
            .send()
            .await
            .map_err(|e| dynamo_error("DeleteItem", e))?;
        Ok(())
    }

    async fn free_resend(&self, resend: &Resend) -> Result<()> {
        let update = match resend {
            // `latest` stays: the verification stays the newest, only the wait ends.
            Resend::Destination { key, latest } => Update::builder()
                .set_key(Some(cooldown_key(&LimitKey::from_stored(key.clone()))))
                .update_expression("REMOVE #until")
                .condition_expression("#latest = :latest")
                .expression_attribute_names("#until", "until")
                .expression_attribute_names("#latest", "latest")
                .expression_attribute_values(":latest", s(latest.as_str())),
            Resend::Challenge { id, code_hash } => Update::builder()
                .set_key(Some(challenge_key(id)))
                .update_expression("REMOVE sms_sent_at")
                .condition_expression("sms_code_hash = :hash")
                .expression_attribute_values(":hash", s(code_hash)),
            Resend::SecondFactorSetup { account, nonce } => Update::builder()
                .set_key(Some(account_key(account)))
                .update_expression("SET pending_created_at = :zero")
                .condition_expression("pending_nonce = :nonce")
                .expression_attribute_values(":zero", n(0))
                .expression_attribute_values(":nonce", s(nonce)),
        };
        // Refused: a newer code holds the wait (or the challenge or setup is gone), which stays.
        self.update_if(update).await.map(drop)
    }
}
