//! `SessionStore`: sessions, remembered devices and second-factor challenges.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::builders::UpdateBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, Update};

use domain::account::Account;
use domain::error::{Error, Result};
use domain::outbox::SealedMessage;
use domain::second_factor::{MfaChallenge, SecondFactorUse};
use domain::secret::KeyedHash;
use domain::session::{DeviceRecord, SessionRecord};
use domain::store::SessionStore;
use domain::time::Timestamp;
use domain::{AccountId, ChallengeId, Contact, DeviceId, SessionId};

use super::items::{
    account_from_item, challenge_from_item, challenge_item, device_from_item, device_item, get_s, session_from_item,
    session_item, stored_owner,
};
use super::keys::{account_key, challenge_key, contact_key, device_key, n, s, session_key};
use super::outbox::add_outbox;
use super::stamp;
use super::{dynamo_error, DynamoStore, Item};

/// What tells apart the items a batch read returns (they come back in any order).
fn sort_key(item: &Item) -> &str {
    item.get("sk").and_then(|v| v.as_s().ok()).map_or("", String::as_str)
}

/// Closes an open challenge, so it is answered once.
pub(super) fn close_challenge(id: &ChallengeId) -> UpdateBuilder {
    Update::builder()
        .set_key(Some(challenge_key(id)))
        .update_expression("SET #state = :done")
        .condition_expression("#state = :open")
        .expression_attribute_names("#state", "state")
        .expression_attribute_values(":done", s("done"))
        .expression_attribute_values(":open", s("open"))
}

#[async_trait]
impl SessionStore for DynamoStore {
    async fn sign_in_lookup(
        &self,
        login: &Contact,
        device: Option<(&AccountId, &DeviceId)>,
    ) -> Result<(Option<AccountId>, Option<DeviceRecord>)> {
        let mut keys = vec![contact_key(login)];
        keys.extend(device.map(|(account, id)| device_key(account, id)));
        let items = self.batch_get(keys).await?;
        let owner = items.iter().find(|i| sort_key(i) == "ID").map(stored_owner).transpose()?;
        let device = match device {
            Some((account, id)) => items
                .iter()
                .find(|i| sort_key(i).starts_with("DEV#"))
                .map(|i| device_from_item(account, id, i))
                .transpose()?,
            None => None,
        };
        Ok((owner, device))
    }

    async fn account_with_session(
        &self,
        account_id: &AccountId,
        session_id: &SessionId,
    ) -> Result<(Option<Account>, Option<SessionRecord>)> {
        let items = self.batch_get(vec![account_key(account_id), session_key(account_id, session_id)]).await?;
        let account = items.iter().find(|i| sort_key(i) == "ACC").map(account_from_item).transpose()?;
        let session = items.iter().find(|i| sort_key(i).starts_with("SES#")).map(session_from_item).transpose()?;
        Ok((account, session))
    }

    async fn put_session(&self, session: &SessionRecord, outbox: &[SealedMessage]) -> Result<()> {
        if !outbox.is_empty() {
            let mut tx = self.transaction();
            tx.put(session_item(session))?;
            add_outbox(&mut tx, outbox)?;
            return tx.commit(&self.client).await;
        }
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(session_item(session)))
            .send()
            .await
            .map_err(|e| dynamo_error("PutItem", e))?;
        Ok(())
    }

    async fn delete_session(&self, account_id: &AccountId, session_id: &SessionId) -> Result<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(session_key(account_id, session_id)))
            .send()
            .await
            .map_err(|e| dynamo_error("DeleteItem", e))?;
        Ok(())
    }

    async fn revoke(&self, account_id: &AccountId, session: &SessionId, device: &DeviceId) -> Result<()> {
        let mut tx = self.transaction();
        tx.delete_any(session_key(account_id, session))?;
        tx.delete_any(device_key(account_id, device))?;
        tx.commit(&self.client).await
    }

    async fn put_challenge(&self, challenge: &MfaChallenge) -> Result<()> {
        let put = self.client.put_item().table_name(&self.table);
        stamp::stamped_put(put, challenge_item(challenge), "attribute_not_exists(pk)", &stamp::fresh())
            .send()
            .await
            .map_err(|e| dynamo_error("PutItem", e))?;
        Ok(())
    }

    async fn challenge(&self, id: &ChallengeId) -> Result<Option<MfaChallenge>> {
        let item = self.get(challenge_key(id)).await?;
        match item {
            Some(item) if get_s(&item, "state")? == "open" => challenge_from_item(&item).map(Some),
            _ => Ok(None),
        }
    }

    async fn count_challenge_attempt(
        &self,
        id: &ChallengeId,
        now: Timestamp,
        max_attempts: u32,
    ) -> Result<Option<MfaChallenge>> {
        self.count_attempt(challenge_key(id), "open", now, max_attempts)
            .await?
            .as_ref()
            .map(challenge_from_item)
            .transpose()
    }

    async fn set_challenge_sms(
        &self,
        id: &ChallengeId,
        code_hash: &KeyedHash,
        now: Timestamp,
        resend_after: Duration,
        outbox: &[SealedMessage],
    ) -> Result<bool> {
        let update = Update::builder()
            .set_key(Some(challenge_key(id)))
            .update_expression("SET sms_code_hash = :hash, sms_sent_at = :now")
            .condition_expression(
                "#state = :open AND expires_at > :now AND (attribute_not_exists(sms_sent_at) OR sms_sent_at <= :cutoff)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":hash", s(code_hash.to_hex()))
            .expression_attribute_values(":now", n(now.0))
            .expression_attribute_values(":open", s("open"))
            .expression_attribute_values(":cutoff", n(now.0 - resend_after.as_secs() as i64));
        self.update_with(update, outbox).await
    }

    async fn complete_challenge(
        &self,
        challenge: &MfaChallenge,
        session: &SessionRecord,
        used: &SecondFactorUse,
        resealed_totp: Option<(&str, &str)>,
        device: Option<&DeviceRecord>,
        outbox: &[SealedMessage],
    ) -> Result<()> {
        let mut tx = self.transaction();
        add_outbox(&mut tx, outbox)?;
        tx.update(close_challenge(&challenge.id), Error::ChallengeExpired)?;
        tx.insert_fresh(session_item(session))?;
        let use_factor = Update::builder().set_key(Some(account_key(&challenge.account_id)));
        let use_factor = match used {
            SecondFactorUse::TotpStep(step) => {
                let step_unused = "(attribute_not_exists(totp_last_step) OR totp_last_step < :step)";
                // Only over the sealed secret this sign-in opened: never brings back a TOTP that was
                // turned off or replaced meanwhile (two such sign-ins at once: the second is refused).
                let use_factor = use_factor.expression_attribute_values(":step", n(step));
                Some(match resealed_totp {
                    None => {
                        use_factor.update_expression("SET totp_last_step = :step").condition_expression(step_unused)
                    }
                    Some((was, resealed)) => use_factor
                        .update_expression("SET totp_last_step = :step, totp_secret = :resealed")
                        .condition_expression(format!("{step_unused} AND totp_secret = :was"))
                        .expression_attribute_values(":was", s(was))
                        .expression_attribute_values(":resealed", s(resealed)),
                })
            }
            SecondFactorUse::RecoveryCode(hash) => Some(
                use_factor
                    .update_expression("DELETE recovery_codes :set")
                    .condition_expression("contains(recovery_codes, :hash)")
                    .expression_attribute_values(":set", AttributeValue::Ss(vec![hash.clone()]))
                    .expression_attribute_values(":hash", s(hash)),
            ),
            SecondFactorUse::Sms => None,
        };
        if let Some(update) = use_factor {
            tx.update(update, Error::InvalidCode { attempts_left: 0 })?;
        }
        if let Some(device) = device {
            tx.insert_fresh(device_item(device))?;
        }
        tx.commit(&self.client).await
    }

    async fn sessions_and_devices(&self, account_id: &AccountId) -> Result<(Vec<SessionRecord>, Vec<DeviceRecord>)> {
        let mut sessions = Vec::new();
        let mut devices = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(format!("ACC#{account_id}")))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| dynamo_error("Query", e))?;
            for item in output.items() {
                let sk = get_s(item, "sk")?;
                if sk.starts_with("SES#") {
                    sessions.push(session_from_item(item)?);
                } else if let Some(id) = sk.strip_prefix("DEV#") {
                    devices.push(device_from_item(account_id, &DeviceId::stored(id.to_owned()), item)?);
                }
            }
            start = output.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok((sessions, devices));
            }
        }
    }
}
