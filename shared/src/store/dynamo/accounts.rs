//! `AccountStore`: accounts, the contacts they claim, their second factors and the
//! idempotency records of their creation.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::builders::{DeleteBuilder, UpdateBuilder};
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Update};

use domain::account::{Account, AccountChange, PendingSecondFactor, TokenClaim, TwoFactorChange};
use domain::error::{Error, Result};
use domain::idempotency::IdempotencyRecord;
use domain::outbox::SealedMessage;
use domain::second_factor::SecondFactorUse;
use domain::store::AccountStore;
use domain::two_factor::SecondFactorActivation;
use domain::{AccountId, Channel, Contact, DeviceId, SessionId};

use super::items::{
    account_from_item, account_item, contact_owner_item, factor_name, idempotency_from_item, idempotency_item,
    recovery_attribute, session_item, stored_owner,
};
use super::keys::{account_key, contact_key, device_key, idempotency_key, n, s, session_key, verification_key};
use super::outbox::add_outbox;
use super::sessions::close_challenge;
use super::{dynamo_error, DynamoStore};

/// The condition under which a verified token may be used, and the update that uses it.
fn consume_token(claim: &TokenClaim) -> UpdateBuilder {
    Update::builder()
        .set_key(Some(verification_key(&claim.verification.id)))
        .update_expression("SET #state = :consumed")
        .condition_expression("#state = :verified AND token_hash = :hash AND token_expires_at > :now")
        .expression_attribute_names("#state", "state")
        .expression_attribute_values(":consumed", s("consumed"))
        .expression_attribute_values(":verified", s("verified"))
        .expression_attribute_values(":hash", s(claim.token_hash.to_hex()))
        .expression_attribute_values(":now", n(claim.now.0))
}

/// Frees `contact`, provided it is still the account's.
fn free_contact(contact: &Contact, account_id: &AccountId) -> DeleteBuilder {
    Delete::builder()
        .set_key(Some(contact_key(contact)))
        .condition_expression("account_id = :me")
        .expression_attribute_values(":me", s(account_id.as_str()))
}

#[async_trait]
impl AccountStore for DynamoStore {
    async fn account_for_contact(&self, contact: &Contact) -> Result<Option<AccountId>> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(contact_key(contact)))
            .send()
            .await
            .map_err(|e| dynamo_error("GetItem", e))?;
        output.item().map(stored_owner).transpose()
    }

    async fn create_account(
        &self,
        account: &Account,
        claim: &TokenClaim,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<()> {
        let mut tx = self.transaction();
        tx.update(consume_token(claim), Error::VerificationExpired)?;
        // Before the contact: when a retry with the same key won the race, the contact is taken
        // too, and this request must hear that the token was used (it then replays the
        // winner's answer), not that the contact is registered.
        if let Some(record) = idempotency {
            tx.insert(idempotency_item(record), Error::VerificationExpired)?;
        }
        let owner = contact_owner_item(&account.primary, &account.id, "primary", account.created_at);
        tx.insert(owner, Error::AlreadyRegistered)?;
        tx.insert_fresh(account_item(account))?;
        tx.commit(&self.client).await
    }

    async fn idempotency_record(&self, key_hash: &str) -> Result<Option<IdempotencyRecord>> {
        let item = self.get(idempotency_key(key_hash)).await?;
        item.map(|item| idempotency_from_item(key_hash, &item)).transpose()
    }

    async fn account(&self, id: &AccountId) -> Result<Option<Account>> {
        self.get(account_key(id)).await?.as_ref().map(account_from_item).transpose()
    }

    async fn start_second_factor(
        &self,
        account_id: &AccountId,
        pending: &PendingSecondFactor,
        resend_after: Duration,
        outbox: &[SealedMessage],
    ) -> Result<bool> {
        let mut update = Update::builder()
            .set_key(Some(account_key(account_id)))
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(pending_created_at) OR pending_created_at <= :cutoff)",
            )
            .expression_attribute_values(":nonce", s(&pending.nonce))
            .expression_attribute_values(":method", s(factor_name(pending.method)))
            .expression_attribute_values(":created", n(pending.created_at.0))
            .expression_attribute_values(":expires", n(pending.expires_at.0))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":cutoff", n(pending.created_at.0 - resend_after.as_secs() as i64));
        let mut set = "SET pending_nonce = :nonce, pending_method = :method, pending_created_at = :created, \
                       pending_expires_at = :expires, pending_attempts = :zero"
            .to_owned();
        let mut remove = Vec::new();
        match &pending.sealed_totp_secret {
            Some(secret) => {
                set.push_str(", pending_totp_secret = :secret");
                update = update.expression_attribute_values(":secret", s(secret));
            }
            None => remove.push("pending_totp_secret"),
        }
        match &pending.code_hash {
            Some(hash) => {
                set.push_str(", pending_code_hash = :hash");
                update = update.expression_attribute_values(":hash", s(hash.to_hex()));
            }
            None => remove.push("pending_code_hash"),
        }
        let expression = format!("{set} REMOVE {}", remove.join(", "));
        self.update_with(update.update_expression(expression), outbox).await
    }

    async fn count_second_factor_attempt(
        &self,
        account_id: &AccountId,
        nonce: &str,
        max_attempts: u32,
    ) -> Result<bool> {
        let count = Update::builder()
            .set_key(Some(account_key(account_id)))
            .update_expression("ADD pending_attempts :one")
            .condition_expression("pending_nonce = :nonce AND pending_attempts < :max")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":nonce", s(nonce))
            .expression_attribute_values(":max", n(max_attempts));
        self.update_if(count).await
    }

    async fn activate_second_factor(
        &self,
        account_id: &AccountId,
        activation: &SecondFactorActivation,
        outbox: &[SealedMessage],
    ) -> Result<bool> {
        let mut set = vec!["recovery_codes = :codes"];
        let mut update = Update::builder()
            .set_key(Some(account_key(account_id)))
            .condition_expression("pending_nonce = :nonce")
            .expression_attribute_values(":nonce", s(&activation.nonce))
            .expression_attribute_values(":codes", AttributeValue::Ss(activation.recovery_code_hashes.clone()))
            .expression_attribute_values(
                ":method",
                AttributeValue::Ss(vec![factor_name(activation.method).to_owned()]),
            );
        if let Some(secret) = &activation.sealed_totp_secret {
            set.push("totp_secret = :secret");
            update = update.expression_attribute_values(":secret", s(secret));
        }
        if let Some(step) = activation.totp_step {
            set.push("totp_last_step = :step");
            update = update.expression_attribute_values(":step", n(step));
        }
        let expression = format!(
            "SET {} ADD mfa_methods :method REMOVE pending_nonce, pending_method, pending_created_at, \
             pending_expires_at, pending_attempts, pending_totp_secret, pending_code_hash",
            set.join(", ")
        );
        self.update_with(update.update_expression(expression), outbox).await
    }

    async fn add_recovery_contact(
        &self,
        account: &Account,
        claim: &TokenClaim,
        contact: &Contact,
        replaced: Option<&Contact>,
        outbox: &[SealedMessage],
    ) -> Result<()> {
        let mut link = Update::builder()
            .set_key(Some(account_key(&account.id)))
            .update_expression("SET #recovery = :new")
            .expression_attribute_names("#recovery", recovery_attribute(contact.channel()))
            .expression_attribute_values(":new", s(contact.stored()));
        // Guards against a concurrent change of the same recovery contact.
        link = match replaced {
            Some(old) => {
                link.condition_expression("#recovery = :old").expression_attribute_values(":old", s(old.stored()))
            }
            None => link.condition_expression("attribute_exists(pk) AND attribute_not_exists(#recovery)"),
        };
        let mut tx = self.transaction();
        tx.update(consume_token(claim), Error::VerificationExpired)?;
        tx.insert(contact_owner_item(contact, &account.id, "recovery", claim.now), Error::ContactInUse)?;
        tx.update(link, Error::Conflict)?;
        if let Some(old) = replaced {
            tx.delete(free_contact(old, &account.id), Error::Conflict)?;
        }
        add_outbox(&mut tx, outbox)?;
        tx.commit(&self.client).await
    }

    async fn change_account(&self, change: &AccountChange<'_>) -> Result<()> {
        let mut tx = self.transaction();
        for claim in &change.tokens {
            tx.update(consume_token(claim), Error::VerificationExpired)?;
        }
        if let Some(id) = change.challenge {
            tx.update(close_challenge(id), Error::ChallengeExpired)?;
        }
        // Its conditions guard the second factor used, if any, and the rest of the change.
        let refused = match change.factor {
            Some(_) => Error::InvalidCode { attempts_left: 0 },
            None => Error::Conflict,
        };
        tx.update(account_update(change), refused)?;
        if let Some(session) = change.keep_session {
            let mut kept = session.clone();
            kept.epoch = change.sign_out_everywhere.map_or(kept.epoch, |seen| seen + 1);
            tx.put(session_item(&kept))?;
        }
        if let Some(contact) = change.remove_recovery {
            tx.delete(free_contact(contact, change.account_id), Error::Conflict)?;
        }
        add_outbox(&mut tx, change.outbox)?;
        tx.commit(&self.client).await
    }

    async fn delete_account(
        &self,
        account: &Account,
        sessions: &[SessionId],
        devices: &[DeviceId],
        outbox: &[SealedMessage],
    ) -> Result<()> {
        let mut tx = self.transaction();
        add_outbox(&mut tx, outbox)?;
        // Only with the recovery contacts as read, so none added meanwhile stays claimed.
        let mut delete = Delete::builder().set_key(Some(account_key(&account.id)));
        let mut conditions = vec!["attribute_exists(pk)".to_owned()];
        for channel in [Channel::Sms, Channel::Email] {
            let name = recovery_attribute(channel);
            match account.recovery(channel) {
                Some(contact) => {
                    conditions.push(format!("{name} = :{name}"));
                    delete = delete.expression_attribute_values(format!(":{name}"), s(contact.stored()));
                }
                None => conditions.push(format!("attribute_not_exists({name})")),
            }
        }
        tx.delete(delete.condition_expression(conditions.join(" AND ")), Error::Conflict)?;
        for (contact, _) in account.contacts() {
            tx.delete(free_contact(&contact, &account.id), Error::Conflict)?;
        }
        let room = 100 - tx.len();
        let others = sessions
            .iter()
            .map(|id| session_key(&account.id, id))
            .chain(devices.iter().map(|id| device_key(&account.id, id)));
        for key in others.take(room) {
            tx.delete_any(key)?;
        }
        tx.commit(&self.client).await
    }
}

/// The one update of the account item an `AccountChange` makes, with every condition it needs.
fn account_update(change: &AccountChange<'_>) -> UpdateBuilder {
    let mut set = Vec::new();
    let mut add = Vec::new();
    let mut remove = Vec::new();
    let mut delete = Vec::new();
    let mut conditions = vec!["attribute_exists(pk)".to_owned()];
    let mut update = Update::builder().set_key(Some(account_key(change.account_id)));
    if let Some(hash) = &change.password_hash {
        set.push("password_hash = :password");
        update = update.expression_attribute_values(":password", s(hash.as_str()));
    }
    if let Some(seen) = change.sign_out_everywhere {
        set.push("session_epoch = :next_epoch");
        conditions.push("(attribute_not_exists(session_epoch) OR session_epoch = :seen_epoch)".into());
        update = update
            .expression_attribute_values(":next_epoch", n(seen + 1))
            .expression_attribute_values(":seen_epoch", n(seen));
    }
    if change.forget_devices {
        add.push("device_epoch :one");
        update = update.expression_attribute_values(":one", n(1));
    }
    // The factor is always checked; it is only written where the change keeps what it uses
    // (one update may not both set and remove an attribute: DynamoDB refuses it as malformed).
    let turns_off = matches!(change.two_factor, Some(TwoFactorChange::Off));
    match change.factor {
        Some(SecondFactorUse::TotpStep(step)) => {
            if !turns_off {
                set.push("totp_last_step = :step");
            }
            conditions.push("(attribute_not_exists(totp_last_step) OR totp_last_step < :step)".into());
            update = update.expression_attribute_values(":step", n(step));
        }
        Some(SecondFactorUse::RecoveryCode(hash)) => {
            // Turning 2FA off or new codes replace every code, the used one with them.
            if change.two_factor.is_none() {
                delete.push("recovery_codes :used_set");
                update = update.expression_attribute_values(":used_set", AttributeValue::Ss(vec![hash.clone()]));
            }
            conditions.push("contains(recovery_codes, :used)".into());
            update = update.expression_attribute_values(":used", s(hash));
        }
        _ => {}
    }
    match &change.two_factor {
        Some(TwoFactorChange::Off) => {
            remove.extend(["mfa_methods", "totp_secret", "totp_last_step", "recovery_codes"]);
        }
        Some(TwoFactorChange::NewRecoveryCodes(hashes)) => {
            set.push("recovery_codes = :codes");
            update = update.expression_attribute_values(":codes", AttributeValue::Ss(hashes.clone()));
        }
        None => {}
    }
    if let Some(contact) = change.remove_recovery {
        let attribute = recovery_attribute(contact.channel());
        remove.push(attribute);
        conditions.push(format!("{attribute} = :removed"));
        update = update.expression_attribute_values(":removed", s(contact.stored()));
    }
    let mut expression = String::new();
    for (keyword, parts) in [("SET", &set), ("ADD", &add), ("REMOVE", &remove), ("DELETE", &delete)] {
        if !parts.is_empty() {
            expression.push_str(&format!("{keyword} {} ", parts.join(", ")));
        }
    }
    if expression.is_empty() {
        // Nothing but conditions (a challenge answered by SMS): touch nothing, still check the account.
        expression.push_str("SET account_checked_at = :checked ");
        update = update.expression_attribute_values(":checked", n(0));
    }
    update.update_expression(expression.trim_end()).condition_expression(conditions.join(" AND "))
}
