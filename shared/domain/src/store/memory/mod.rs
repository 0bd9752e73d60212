//! An in-memory [`Store`](super::Store) for tests, with the conditional semantics of
//! `shared::store::DynamoStore`: the same conditions, the same errors for the same refusals,
//! and every transaction all or nothing. One mutex over the whole state makes each operation
//! atomic; a transaction works on a copy that replaces the state only when nothing refused.
//!
//! It keeps what a DynamoDB item keeps, no more (a new account has no second factor, a new
//! challenge no SMS code), and expires nothing: where DynamoStore's conditions check an expiry,
//! so does this store, and reads return expired items as a TTL that has not yet run would.
//! `store::contract` holds both stores to this.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;

use super::{LimitStore, SessionStore, VerificationStore};
use crate::account::{Account, TokenClaim};
use crate::error::{Error, Result};
use crate::idempotency::IdempotencyRecord;
use crate::limits::{Found, Limit, LimitKey, Window};
use crate::outbox::SealedMessage;
use crate::second_factor::{MfaChallenge, SecondFactorUse};
use crate::secret::KeyedHash;
use crate::session::{DeviceRecord, SessionRecord};
use crate::time::Timestamp;
use crate::verification::{Verification, VerificationState};
use crate::{AccountId, ChallengeId, Contact, DeviceId, MessageId, SessionId, VerificationId};

mod accounts;
mod oidc;
mod outbox;

/// Clones share one state: a test keeps a clone to see what the courier has yet to deliver.
#[derive(Clone, Default)]
pub struct MemoryStore(Arc<Mutex<State>>);

#[derive(Clone, Default)]
struct State {
    verifications: HashMap<VerificationId, Verification>,
    /// A contact's cooldown: when it ends, and the newest verification of the contact.
    cooldowns: HashMap<LimitKey, (Timestamp, VerificationId)>,
    /// Window counters, by key and window start.
    counters: HashMap<(LimitKey, Timestamp), u32>,
    used_captchas: HashSet<String>,
    /// A contact (canonical form) and the account that holds it.
    owners: HashMap<String, AccountId>,
    accounts: HashMap<AccountId, Account>,
    idempotency: HashMap<String, IdempotencyRecord>,
    /// By account id and session id.
    sessions: HashMap<(AccountId, SessionId), SessionRecord>,
    devices: HashMap<(AccountId, DeviceId), DeviceRecord>,
    challenges: HashMap<ChallengeId, Challenge>,
    /// Messages waiting for the courier.
    outbox: HashMap<MessageId, outbox::Waiting>,
    /// Messages written so far.
    written: u64,
    oidc: oidc::OidcState,
}

#[derive(Clone)]
struct Challenge {
    record: MfaChallenge,
    open: bool,
    sms_sent_at: Option<Timestamp>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `transaction` on a copy of the state, which replaces the state only if it succeeds.
    /// DynamoDB refuses a transaction that names one item twice, so checking and writing its
    /// items one after the other decides as checking them all first would.
    fn transact<T>(&self, transaction: impl FnOnce(&mut State) -> Result<T>) -> Result<T> {
        let mut state = self.state();
        let mut next = state.clone();
        let result = transaction(&mut next)?;
        *state = next;
        Ok(result)
    }
}

/// A put under `attribute_not_exists(pk)`: `false`, and nothing written, when the key is taken.
fn insert_new<K: Eq + Hash, V>(map: &mut HashMap<K, V>, key: K, value: V) -> bool {
    !map.contains_key(&key) && map.insert(key, value).is_none()
}

fn taken(what: &str) -> Error {
    Error::Internal(format!("memory store: {what} already exists"))
}

/// A request DynamoDB refuses as malformed (a `ValidationException`), whatever the items hold.
fn invalid(why: &str) -> Error {
    Error::Internal(format!("memory store: DynamoDB refuses this request: {why}"))
}

impl State {
    fn counter(&self, key: &LimitKey, window: Window) -> Option<u32> {
        self.counters.get(&(key.clone(), window.start)).copied()
    }

    /// `ADD count 1` under `attribute_not_exists(count) OR count < max`: the first event of a
    /// window is counted whatever `max` is.
    fn count_within(&mut self, key: &LimitKey, window: Window, max: u32) -> bool {
        let count = self.counter(key, window);
        let within = count.is_none_or(|count| count < max);
        if within {
            self.counters.insert((key.clone(), window.start), count.unwrap_or(0) + 1);
        }
        within
    }

    /// A limit of `create_verification`: `None` when it passes (and is written), else what a
    /// refusal reads back (a cooldown's or counter's old item; nothing for a condition check or put).
    fn apply_limit(&mut self, limit: &Limit, now: Timestamp) -> Option<Found> {
        match limit {
            Limit::Cooldown { key, until, latest } => match self.cooldowns.get(key) {
                Some((ends, _)) if *ends > now => Some(Found { until: Some(*ends), count: None }),
                _ => {
                    self.cooldowns.insert(key.clone(), (*until, latest.clone()));
                    None
                }
            },
            Limit::Quota { key, window, max } | Limit::Difficulty { key, window, max, .. } => {
                let count = self.counter(key, *window);
                (!self.count_within(key, *window, *max)).then_some(Found { until: None, count })
            }
            Limit::Ceiling { key, window, max } => {
                self.counter(key, *window).filter(|count| count >= max).map(|_| Found::default())
            }
            Limit::SingleUse { id, .. } => (!self.used_captchas.insert(id.clone())).then(Found::default),
        }
    }

    /// Uses up a verified token that holds `claim`'s hash and has not expired.
    fn consume_token(&mut self, claim: &TokenClaim) -> bool {
        let usable = |v: &&mut Verification| {
            matches!(&v.state, VerificationState::Verified { token_hash, token_expires_at }
                if *token_hash == claim.token_hash && *token_expires_at > claim.now)
        };
        let verification = self.verifications.get_mut(&claim.verification.id).filter(usable);
        verification.map(|v| v.state = VerificationState::Consumed).is_some()
    }

    fn close_challenge(&mut self, id: &ChallengeId) -> bool {
        self.challenges.get_mut(id).filter(|c| c.open).map(|c| c.open = false).is_some()
    }

    /// Deletes the owner item of `contact` under `account_id = :me`.
    fn free(&mut self, contact: &Contact, account_id: &AccountId) -> bool {
        let key = contact.canonical();
        self.owners.get(&key).is_some_and(|owner| owner == account_id) && self.owners.remove(&key).is_some()
    }
}

#[async_trait]
impl VerificationStore for MemoryStore {
    async fn create_verification(
        &self,
        verification: &Verification,
        limits: &[Limit],
        outbox: &[SealedMessage],
        now: Timestamp,
    ) -> Result<()> {
        self.transact(|state| {
            state.enqueue(outbox)?;
            let refusals: Vec<Option<Found>> = limits.iter().map(|limit| state.apply_limit(limit, now)).collect();
            // The item holds no token: `mark_verified` adds one.
            let stored = Verification { state: VerificationState::Pending, ..verification.clone() };
            let new = insert_new(&mut state.verifications, verification.id.clone(), stored);
            if let Some((limit, found)) = limits.iter().zip(refusals).find_map(|(l, found)| Some((l, found?))) {
                return Err(limit.refusal(now, found));
            }
            new.then_some(()).ok_or_else(|| taken("verification"))
        })
    }

    async fn count_code_attempt(
        &self,
        id: &VerificationId,
        now: Timestamp,
        max_attempts: u32,
    ) -> Result<Option<Verification>> {
        let mut state = self.state();
        let open = |v: &&mut Verification| {
            v.state == VerificationState::Pending && v.attempts < max_attempts && v.expires_at > now
        };
        Ok(state.verifications.get_mut(id).filter(open).map(|v| {
            v.attempts += 1;
            v.clone()
        }))
    }

    async fn mark_verified(
        &self,
        verification: &Verification,
        token_hash: &KeyedHash,
        token_expires_at: Timestamp,
    ) -> Result<bool> {
        let mut state = self.state();
        let newest =
            state.cooldowns.get(&verification.contact_key).is_some_and(|(_, latest)| *latest == verification.id);
        let pending = state.verifications.get_mut(&verification.id).filter(|v| v.state == VerificationState::Pending);
        let Some(stored) = pending.filter(|_| newest) else { return Ok(false) };
        stored.state = VerificationState::Verified { token_hash: token_hash.clone(), token_expires_at };
        Ok(true)
    }

    async fn verification(&self, id: &VerificationId) -> Result<Option<Verification>> {
        Ok(self.state().verifications.get(id).cloned())
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn sign_in_lookup(
        &self,
        login: &Contact,
        device: Option<(&AccountId, &DeviceId)>,
    ) -> Result<(Option<AccountId>, Option<DeviceRecord>)> {
        let state = self.state();
        let device = device.and_then(|(account, id)| state.devices.get(&(account.clone(), id.clone())).cloned());
        Ok((state.owners.get(&login.canonical()).cloned(), device))
    }

    async fn account_with_session(
        &self,
        account_id: &AccountId,
        session_id: &SessionId,
    ) -> Result<(Option<Account>, Option<SessionRecord>)> {
        let state = self.state();
        let session = state.sessions.get(&(account_id.to_owned(), session_id.to_owned())).cloned();
        Ok((state.accounts.get(account_id).cloned(), session))
    }

    async fn put_session(&self, session: &SessionRecord, outbox: &[SealedMessage]) -> Result<()> {
        self.transact(|state| {
            state.sessions.insert((session.account_id.clone(), session.id.clone()), session.clone());
            state.enqueue(outbox)
        })
    }

    async fn delete_session(&self, account_id: &AccountId, session_id: &SessionId) -> Result<()> {
        self.state().sessions.remove(&(account_id.to_owned(), session_id.to_owned()));
        Ok(())
    }

    async fn revoke(&self, account_id: &AccountId, session: &SessionId, device: &DeviceId) -> Result<()> {
        let mut state = self.state();
        state.sessions.remove(&(account_id.clone(), session.clone()));
        state.devices.remove(&(account_id.clone(), device.clone()));
        Ok(())
    }

    async fn put_challenge(&self, challenge: &MfaChallenge) -> Result<()> {
        // The item holds no SMS code: `set_challenge_sms` adds one.
        let record = MfaChallenge { sms_code_hash: None, ..challenge.clone() };
        let new = Challenge { record, open: true, sms_sent_at: None };
        let stored = insert_new(&mut self.state().challenges, challenge.id.clone(), new);
        stored.then_some(()).ok_or_else(|| taken("challenge"))
    }

    async fn challenge(&self, id: &ChallengeId) -> Result<Option<MfaChallenge>> {
        Ok(self.state().challenges.get(id).filter(|c| c.open).map(|c| c.record.clone()))
    }

    async fn count_challenge_attempt(
        &self,
        id: &ChallengeId,
        now: Timestamp,
        max_attempts: u32,
    ) -> Result<Option<MfaChallenge>> {
        let mut state = self.state();
        let open = |c: &&mut Challenge| c.open && c.record.attempts < max_attempts && c.record.expires_at > now;
        Ok(state.challenges.get_mut(id).filter(open).map(|c| {
            c.record.attempts += 1;
            c.record.clone()
        }))
    }

    async fn set_challenge_sms(
        &self,
        id: &ChallengeId,
        code_hash: &KeyedHash,
        now: Timestamp,
        resend_after: Duration,
        outbox: &[SealedMessage],
    ) -> Result<bool> {
        self.transact(|state| {
            let cutoff = now.0 - resend_after.as_secs() as i64;
            let may_send = |c: &&mut Challenge| {
                c.open && c.record.expires_at > now && c.sms_sent_at.is_none_or(|sent| sent.0 <= cutoff)
            };
            let Some(challenge) = state.challenges.get_mut(id).filter(may_send) else { return Ok(false) };
            challenge.record.sms_code_hash = Some(code_hash.clone());
            challenge.sms_sent_at = Some(now);
            state.enqueue(outbox).map(|()| true)
        })
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
        self.transact(|state| {
            state.enqueue(outbox)?;
            let closed = state.close_challenge(&challenge.id);
            let key = (session.account_id.clone(), session.id.clone());
            let session_new = insert_new(&mut state.sessions, key, session.clone());
            let account = state.accounts.get_mut(&challenge.account_id);
            let factor_unused = match (used, account) {
                (SecondFactorUse::Sms, _) => true,
                // DynamoDB's update passes on a missing item unless it names the sealed secret.
                (SecondFactorUse::TotpStep(_), None) => resealed_totp.is_none(),
                (SecondFactorUse::TotpStep(step), Some(account)) => {
                    let two_factor = &mut account.two_factor;
                    let unchanged = resealed_totp.is_none_or(|(was, _)| two_factor.totp_secret.as_deref() == Some(was));
                    let unused = two_factor.totp_last_step < *step && unchanged;
                    if unused {
                        two_factor.totp_last_step = *step;
                        if let Some((_, resealed)) = resealed_totp {
                            two_factor.totp_secret = Some(resealed.to_owned());
                        }
                    }
                    unused
                }
                (SecondFactorUse::RecoveryCode(hash), account) => account.is_some_and(|a| {
                    let known = a.two_factor.recovery_codes.contains(hash);
                    a.two_factor.recovery_codes.retain(|code| code != hash);
                    known
                }),
            };
            let device_new =
                device.is_none_or(|d| insert_new(&mut state.devices, (d.account_id.clone(), d.id.clone()), d.clone()));
            if !closed {
                Err(Error::ChallengeExpired)
            } else if !factor_unused {
                Err(Error::InvalidCode { attempts_left: 0 })
            } else if !(session_new && device_new) {
                Err(taken("session or device"))
            } else {
                Ok(())
            }
        })
    }

    async fn sessions_and_devices(&self, account_id: &AccountId) -> Result<(Vec<SessionRecord>, Vec<DeviceRecord>)> {
        let state = self.state();
        let mut sessions: Vec<SessionRecord> =
            state.sessions.values().filter(|s| s.account_id == *account_id).cloned().collect();
        let mut devices: Vec<DeviceRecord> =
            state.devices.values().filter(|d| d.account_id == *account_id).cloned().collect();
        // As a query returns them: by sort key.
        sessions.sort_by(|a, b| a.id.cmp(&b.id));
        devices.sort_by(|a, b| a.id.cmp(&b.id));
        Ok((sessions, devices))
    }
}

#[async_trait]
impl LimitStore for MemoryStore {
    async fn count_failure(&self, key: &LimitKey, window: Window) -> Result<()> {
        *self.state().counters.entry((key.clone(), window.start)).or_insert(0) += 1;
        Ok(())
    }

    async fn count_within(&self, key: &LimitKey, window: Window, max: u32) -> Result<Option<u32>> {
        let mut state = self.state();
        Ok(state.count_within(key, window, max).then(|| state.counter(key, window).unwrap_or(0)))
    }

    async fn refund(&self, keys: &[LimitKey], window: Window) {
        let mut state = self.state();
        for key in keys {
            if let Some(count) = state.counters.get_mut(&(key.clone(), window.start)) {
                *count = count.saturating_sub(1);
            }
        }
    }

    async fn window_count(&self, key: &LimitKey, window: Window) -> Result<u32> {
        Ok(self.state().counter(key, window).unwrap_or(0))
    }
}
