//! `VerificationStore`: sign-up and recovery codes.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{ConditionCheck, Update};

use domain::error::Result;
use domain::limits::Limit;
use domain::outbox::SealedMessage;
use domain::secret::KeyedHash;
use domain::store::VerificationStore;
use domain::time::Timestamp;
use domain::verification::Verification;
use domain::VerificationId;

use super::items::{verification_from_item, verification_item};
use super::keys::{cooldown_key, n, s, verification_key};
use super::limits::add_limit;
use super::outbox::add_outbox;
use super::{DynamoStore, TTL_GRACE_SECS};

#[async_trait]
impl VerificationStore for DynamoStore {
    async fn create_verification(
        &self,
        verification: &Verification,
        limits: &[Limit],
        outbox: &[SealedMessage],
        now: Timestamp,
    ) -> Result<()> {
        let mut tx = self.transaction();
        for limit in limits {
            add_limit(&mut tx, limit, now, verification.expires_at)?;
        }
        tx.insert_fresh(verification_item(verification))?;
        add_outbox(&mut tx, outbox)?;
        tx.commit(&self.client).await
    }

    async fn count_code_attempt(
        &self,
        id: &VerificationId,
        now: Timestamp,
        max_attempts: u32,
    ) -> Result<Option<Verification>> {
        self.count_attempt(verification_key(id), "pending", now, max_attempts)
            .await?
            .as_ref()
            .map(verification_from_item)
            .transpose()
    }

    async fn mark_verified(
        &self,
        verification: &Verification,
        token_hash: &KeyedHash,
        token_expires_at: Timestamp,
    ) -> Result<bool> {
        // Either refusal means the same: this code is no longer one to verify.
        let mut tx = self.transaction();
        let newest = ConditionCheck::builder()
            .set_key(Some(cooldown_key(&verification.contact_key)))
            .condition_expression("#latest = :id")
            .expression_attribute_names("#latest", "latest")
            .expression_attribute_values(":id", s(verification.id.as_str()));
        tx.check(newest, ())?;
        let verify = Update::builder()
            .set_key(Some(verification_key(&verification.id)))
            .update_expression("SET #state = :verified, token_hash = :hash, token_expires_at = :exp, #ttl = :ttl")
            .condition_expression("#state = :pending")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":verified", s("verified"))
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":hash", s(token_hash.to_hex()))
            .expression_attribute_values(":exp", n(token_expires_at.0))
            .expression_attribute_values(":ttl", n(token_expires_at.0 + TTL_GRACE_SECS));
        tx.update(verify, ())?;
        Ok(tx.send(&self.client).await?.is_ok())
    }

    async fn verification(&self, id: &VerificationId) -> Result<Option<Verification>> {
        self.get(verification_key(id)).await?.as_ref().map(verification_from_item).transpose()
    }
}
