//! The accounts of [`MemoryStore`]: DynamoStore's account item, contact owners and idempotency records.

use std::collections::HashSet;
use std::time::Duration;

use async_trait::async_trait;

use super::{insert_new, invalid, taken, MemoryStore};
use crate::account::{Account, AccountChange, PendingSecondFactor, TokenClaim, TwoFactor, TwoFactorChange};
use crate::error::{Error, Result};
use crate::idempotency::IdempotencyRecord;
use crate::outbox::SealedMessage;
use crate::second_factor::SecondFactorUse;
use crate::session::SessionRecord;
use crate::store::AccountStore;
use crate::two_factor::SecondFactorActivation;
use crate::{AccountId, Channel, Contact, DeviceId, SessionId, VerificationId};

/// The most items one DynamoDB transaction may write (`delete_account` stops there).
const MAX_TRANSACTION_ITEMS: usize = 100;

/// The recovery contact of `channel`, as the account item stores it.
fn recovery(account: &Account, channel: Channel) -> Option<&str> {
    match channel {
        Channel::Sms => account.recovery_phone.as_ref().map(|p| p.e164()),
        Channel::Email => account.recovery_email.as_ref().map(|e| e.as_str()),
    }
}

/// A string set: no duplicates, and no order to rely on.
fn string_set(values: &[String]) -> Vec<String> {
    let mut set = values.to_vec();
    set.sort();
    set.dedup();
    set
}

/// `account_update` of DynamoStore: checks every condition of `change` on the account item,
/// then writes it; `false` (and a partly written copy, which the transaction drops) when one refused.
fn update_account(account: &mut Account, change: &AccountChange<'_>) -> bool {
    let factor_unused = match change.factor {
        Some(SecondFactorUse::TotpStep(step)) => account.two_factor.totp_last_step < *step,
        Some(SecondFactorUse::RecoveryCode(hash)) => account.two_factor.recovery_codes.contains(hash),
        _ => true,
    };
    // No stored epoch reads as 0, and a stored one is at least 1.
    let epoch_seen =
        change.sign_out_everywhere.is_none_or(|seen| account.session_epoch == 0 || account.session_epoch == seen);
    let recovery_held = change.remove_recovery.is_none_or(|c| recovery(account, c.channel()) == Some(c.stored()));
    if !(factor_unused && epoch_seen && recovery_held) {
        return false;
    }
    if let Some(hash) = &change.password_hash {
        account.password_hash = hash.clone();
    }
    if let Some(seen) = change.sign_out_everywhere {
        account.session_epoch = seen + 1;
    }
    if change.forget_devices {
        account.device_epoch += 1;
    }
    let two_factor = &mut account.two_factor;
    match change.factor {
        Some(SecondFactorUse::TotpStep(step)) => two_factor.totp_last_step = *step,
        Some(SecondFactorUse::RecoveryCode(hash)) => two_factor.recovery_codes.retain(|code| code != hash),
        _ => {}
    }
    match &change.two_factor {
        Some(TwoFactorChange::Off) => {
            *two_factor = TwoFactor { pending: two_factor.pending.take(), ..no_second_factor() };
        }
        Some(TwoFactorChange::NewRecoveryCodes(hashes)) => two_factor.recovery_codes = string_set(hashes),
        None => {}
    }
    match change.remove_recovery {
        Some(Contact::Phone(_)) => account.recovery_phone = None,
        Some(Contact::Email(_)) => account.recovery_email = None,
        None => {}
    }
    true
}

/// What an account item without second-factor attributes reads as.
fn no_second_factor() -> TwoFactor {
    TwoFactor { totp_last_step: -1, ..TwoFactor::default() }
}

#[async_trait]
impl AccountStore for MemoryStore {
    async fn account_for_contact(&self, contact: &Contact) -> Result<Option<AccountId>> {
        Ok(self.state().owners.get(&contact.canonical()).cloned())
    }

    async fn create_account(
        &self,
        account: &Account,
        claim: &TokenClaim,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<()> {
        self.transact(|state| {
            let consumed = state.consume_token(claim);
            let claimed = insert_new(&mut state.owners, account.primary.canonical(), account.id.clone());
            // What DynamoStore's account item holds of a new account.
            let created = Account {
                recovery_phone: None,
                recovery_email: None,
                session_epoch: 0,
                device_epoch: 0,
                two_factor: no_second_factor(),
                ..account.clone()
            };
            let new = insert_new(&mut state.accounts, account.id.clone(), created);
            let recorded =
                idempotency.is_none_or(|r| insert_new(&mut state.idempotency, r.key_hash.clone(), r.clone()));
            match (consumed && recorded, claimed, new) {
                (false, _, _) => Err(Error::VerificationExpired),
                (_, false, _) => Err(Error::AlreadyRegistered),
                (_, _, false) => Err(taken("account")),
                _ => Ok(()),
            }
        })
    }

    async fn idempotency_record(&self, key_hash: &str) -> Result<Option<IdempotencyRecord>> {
        Ok(self.state().idempotency.get(key_hash).cloned())
    }

    async fn account(&self, id: &AccountId) -> Result<Option<Account>> {
        Ok(self.state().accounts.get(id).cloned())
    }

    async fn start_second_factor(
        &self,
        account_id: &AccountId,
        pending: &PendingSecondFactor,
        resend_after: Duration,
        outbox: &[SealedMessage],
    ) -> Result<bool> {
        self.transact(|state| {
            let Some(account) = state.accounts.get_mut(account_id) else { return Ok(false) };
            let cutoff = pending.created_at.0 - resend_after.as_secs() as i64;
            if account.two_factor.pending.as_ref().is_some_and(|p| p.created_at.0 > cutoff) {
                return Ok(false);
            }
            account.two_factor.pending = Some(PendingSecondFactor { attempts: 0, ..pending.clone() });
            state.enqueue(outbox).map(|()| true)
        })
    }

    async fn count_second_factor_attempt(
        &self,
        account_id: &AccountId,
        nonce: &str,
        max_attempts: u32,
    ) -> Result<bool> {
        let mut state = self.state();
        let pending = state.accounts.get_mut(account_id).and_then(|a| a.two_factor.pending.as_mut());
        let counted = pending.filter(|p| p.nonce == nonce && p.attempts < max_attempts).map(|p| p.attempts += 1);
        Ok(counted.is_some())
    }

    async fn activate_second_factor(
        &self,
        account_id: &AccountId,
        activation: &SecondFactorActivation,
        outbox: &[SealedMessage],
    ) -> Result<bool> {
        self.transact(|state| {
            let answers = |a: &&mut Account| a.two_factor.pending.as_ref().is_some_and(|p| p.nonce == activation.nonce);
            let Some(account) = state.accounts.get_mut(account_id).filter(answers) else { return Ok(false) };
            let two_factor = &mut account.two_factor;
            two_factor.recovery_codes = string_set(&activation.recovery_code_hashes);
            if let Some(secret) = &activation.sealed_totp_secret {
                two_factor.totp_secret = Some(secret.clone());
            }
            if let Some(step) = activation.totp_step {
                two_factor.totp_last_step = step;
            }
            if !two_factor.methods.contains(&activation.method) {
                two_factor.methods.push(activation.method);
            }
            two_factor.pending = None;
            state.enqueue(outbox).map(|()| true)
        })
    }

    async fn add_recovery_contact(
        &self,
        account: &Account,
        claim: &TokenClaim,
        contact: &Contact,
        replaced: Option<&Contact>,
        outbox: &[SealedMessage],
    ) -> Result<()> {
        if replaced.is_some_and(|old| old.canonical() == contact.canonical()) {
            return Err(invalid("one transaction claims and frees the same contact"));
        }
        self.transact(|state| {
            state.enqueue(outbox)?;
            let consumed = state.consume_token(claim);
            let claimed = insert_new(&mut state.owners, contact.canonical(), account.id.clone());
            // Only over the recovery contact this request replaces (none: only on an account with none).
            let linked = state.accounts.get_mut(&account.id).is_some_and(|stored| {
                let unchanged = recovery(stored, contact.channel()) == replaced.map(Contact::stored);
                match contact {
                    Contact::Phone(phone) if unchanged => stored.recovery_phone = Some(phone.clone()),
                    Contact::Email(email) if unchanged => stored.recovery_email = Some(email.clone()),
                    _ => {}
                }
                unchanged
            });
            let freed = replaced.is_none_or(|old| state.free(old, &account.id));
            match (consumed, claimed, linked && freed) {
                (false, _, _) => Err(Error::VerificationExpired),
                (_, false, _) => Err(Error::ContactInUse),
                (_, _, false) => Err(Error::Conflict),
                _ => Ok(()),
            }
        })
    }

    async fn change_account(&self, change: &AccountChange<'_>) -> Result<()> {
        let ids: HashSet<&VerificationId> = change.tokens.iter().map(|claim| &claim.verification.id).collect();
        if ids.len() < change.tokens.len() {
            return Err(invalid("one transaction uses the same token twice"));
        }
        self.transact(|state| {
            state.enqueue(change.outbox)?;
            let consumed: Vec<bool> = change.tokens.iter().map(|claim| state.consume_token(claim)).collect();
            let closed = change.challenge.is_none_or(|id| state.close_challenge(id));
            let updated = state.accounts.get_mut(change.account_id).is_some_and(|a| update_account(a, change));
            if let Some(session) = change.keep_session {
                let epoch = change.sign_out_everywhere.map_or(session.epoch, |seen| seen + 1);
                let key = (session.account_id.clone(), session.id.clone());
                state.sessions.insert(key, SessionRecord { epoch, ..session.clone() });
            }
            let freed = change.remove_recovery.is_none_or(|contact| state.free(contact, change.account_id));
            if consumed.contains(&false) {
                Err(Error::VerificationExpired)
            } else if !closed {
                Err(Error::ChallengeExpired)
            } else if change.factor.is_some() && !updated {
                Err(Error::InvalidCode { attempts_left: 0 })
            } else if !(updated && freed) {
                Err(Error::Conflict)
            } else {
                Ok(())
            }
        })
    }

    async fn delete_account(
        &self,
        account: &Account,
        sessions: &[SessionId],
        devices: &[DeviceId],
        outbox: &[SealedMessage],
    ) -> Result<()> {
        self.transact(|state| {
            state.enqueue(outbox)?;
            // Only with the recovery contacts as read, so none added meanwhile stays claimed.
            let stored = state.accounts.remove(&account.id);
            let as_read =
                |a: &Account| a.recovery_phone == account.recovery_phone && a.recovery_email == account.recovery_email;
            if stored.as_ref().is_some_and(|stored| !as_read(stored)) {
                return Err(Error::Conflict);
            }
            let contacts = account.contacts();
            if !contacts.iter().all(|(contact, _)| state.free(contact, &account.id)) {
                return Err(Error::Conflict);
            }
            let room = MAX_TRANSACTION_ITEMS - 1 - contacts.len() - outbox.len();
            let others = sessions.iter().map(Ok).chain(devices.iter().map(Err));
            for other in others.take(room) {
                match other {
                    Ok(session) => state.sessions.remove(&(account.id.clone(), session.clone())).map(drop),
                    Err(device) => state.devices.remove(&(account.id.clone(), device.clone())).map(drop),
                };
            }
            Ok(())
        })
    }
}
