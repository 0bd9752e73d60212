//! The store contract: what every [`Store`] does, checked alike against each implementation, so
//! that the in-memory store cannot drift from DynamoDB's. Each check takes a fresh store and
//! panics on a breach; [`store_contract_tests!`](crate::store_contract_tests) makes one test of
//! each (`shared/domain/tests/store_contract.rs` for `MemoryStore`, `tests/tests/store_contract.rs`
//! for `DynamoStore` in moto).
//!
//! Times are given as `now` parameters from [`T0`]; ids are random, so a check never depends on
//! what else a store holds. A race check's refusals may be `Error::Conflict` besides the refusal
//! itself: DynamoDB cancels a transaction that meets a concurrent one on the same item.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use rand::Rng;

use super::Store;
use crate::account::{Account, AccountChange, PendingSecondFactor, SecondFactor, TokenClaim, TwoFactorChange};
use crate::captcha;
use crate::error::{Error, Result};
use crate::idempotency::IdempotencyRecord;
use crate::limits::{Limit, LimitKey, Window};
use crate::second_factor::{MfaChallenge, MfaMethod, PendingReset, SecondFactorUse};
use crate::secret::KeyedHash;
use crate::session::{ClientInfo, DeviceRecord, SessionRecord};
use crate::time::Timestamp;
use crate::two_factor::SecondFactorActivation;
use crate::verification::{Purpose, Verification, VerificationState};
use crate::{random_text, Contact, EmailAddress, PhoneNumber, VerificationId};

/// One `#[tokio::test]` per check of the contract, each on a fresh store from `$fresh().await`
/// (any value that derefs to a `Store`). This is the list of checks: one missing here runs nowhere.
/// `races: #[attribute]` marks the checks of concurrent requests, e.g. `#[ignore = "..."]` for an
/// emulator that does not serialise concurrent writes.
#[macro_export]
macro_rules! store_contract_tests {
    ($fresh:path $(, races: #[$race:meta])*) => {
        $crate::store_contract_tests!(@each $fresh; [];
            verifications_are_stored_as_given,
            a_cooldown_refuses_until_it_ends,
            a_quota_counts_up_to_its_max_per_window,
            a_fresh_window_counts_its_first_event_whatever_the_max,
            a_ceiling_refuses_at_a_count_it_does_not_add_to,
            a_captcha_is_accepted_once,
            a_refused_difficulty_names_what_its_count_needs,
            a_refused_limit_writes_nothing,
            the_first_limit_that_refuses_answers,
            code_attempts_are_counted_up_to_the_max,
            code_attempts_end_when_the_code_expires,
            a_code_is_confirmed_once_and_then_takes_no_attempts,
            a_newer_code_retires_the_older,
            an_account_is_created_with_its_contact_and_token,
            an_account_needs_a_usable_token,
            a_registered_contact_gets_no_second_account,
            an_idempotency_key_is_recorded_once,
            a_second_factor_setup_waits_before_it_restarts,
            second_factor_attempts_count_per_setup,
            a_second_factor_is_activated_once,
            a_recovery_contact_is_claimed_linked_and_replaced,
            a_refused_recovery_contact_changes_nothing,
            an_account_change_writes_every_part,
            a_refused_account_change_writes_nothing,
            an_account_change_uses_up_its_second_factor,
            turning_two_factor_off_clears_it,
            new_recovery_codes_replace_the_old,
            removing_a_recovery_contact_frees_it,
            requests_dynamodb_refuses_as_malformed_write_nothing,
            deleting_an_account_frees_its_contacts_and_sessions,
            a_stale_account_is_not_deleted,
            sign_in_lookup_reads_the_owner_and_failures,
            sessions_are_kept_until_deleted,
            sessions_and_devices_are_listed_per_account,
            a_challenge_is_stored_open,
            challenge_attempts_end_at_the_max_or_expiry,
            a_challenge_sms_waits_before_it_is_sent_again,
            a_challenge_is_completed_once,
            completing_a_challenge_uses_up_its_factor,
            failures_are_counted_per_key_and_window,
            count_within_stops_at_its_max,
        );
        $crate::store_contract_tests!(@each $fresh; [$(#[$race])*];
            concurrent_code_attempts_never_pass_the_max,
            concurrent_confirmations_confirm_once,
            concurrent_requests_never_pass_a_quota,
            concurrent_sign_ups_for_one_contact_make_one_account,
            concurrent_uses_of_one_token_change_one_account,
            concurrent_answers_complete_a_challenge_once,
            concurrent_counts_never_pass_the_max,
        );
    };
    (@each $fresh:path; $attributes:tt; $($check:ident),* $(,)?) => {
        $($crate::store_contract_tests!(@one $fresh; $attributes; $check);)*
    };
    (@one $fresh:path; [$(#[$attribute:meta])*]; $check:ident) => {
        #[tokio::test]
        $(#[$attribute])*
        async fn $check() {
            let store = $fresh().await;
            $crate::store::contract::$check(&*store).await;
        }
    };
}

/// The start of an hour: every check's clock starts here.
pub const T0: Timestamp = Timestamp(1_800_000_000);
const HOUR: Duration = Duration::from_secs(3600);
const CODE_TTL: Duration = Duration::from_secs(600);
const TOKEN_TTL: Duration = Duration::from_secs(900);
const RESEND_AFTER: Duration = Duration::from_secs(60);

macro_rules! assert_refused {
    ($result:expr, $pattern:pat $(if $guard:expr)?) => {{
        let result = $result;
        assert!(matches!(result, Err($pattern) $(if $guard)?), "expected {}, got {result:?}", stringify!($pattern));
    }};
}

fn at(seconds: i64) -> Timestamp {
    Timestamp(T0.0 + seconds)
}

fn secs(seconds: u64) -> Duration {
    Duration::from_secs(seconds)
}

fn hour(now: Timestamp) -> Window {
    Window::containing(now, HOUR)
}

fn text() -> String {
    random_text(&mut rand::thread_rng(), 16)
}

fn key(scope: &str) -> LimitKey {
    LimitKey::from_stored(format!("{scope}:{}", text()))
}

fn hash() -> KeyedHash {
    KeyedHash(rand::thread_rng().gen())
}

/// With capitals in its local part, which the store keeps, and in its domain, which it does not.
fn email() -> Contact {
    let address = format!("Person.{:012x}@Example.COM", rand::thread_rng().gen::<u64>() >> 16);
    Contact::Email(EmailAddress::parse(&address).expect("an email address"))
}

fn phone() -> Contact {
    loop {
        let national = format!("9{:09}", rand::thread_rng().gen_range(0..1_000_000_000u64));
        if let Ok(phone) = PhoneNumber::parse(Some("+91"), &national) {
            return Contact::Phone(phone);
        }
    }
}

fn new_verification(contact: Contact, purpose: Purpose, now: Timestamp) -> Verification {
    Verification {
        id: VerificationId::generate(&mut rand::thread_rng()),
        contact,
        purpose,
        code_hash: hash(),
        attempts: 0,
        state: VerificationState::Pending,
        created_at: now,
        expires_at: now.plus(CODE_TTL),
        contact_key: key("contact"),
    }
}

/// The cooldown every code request writes: it names `verification` the newest code of its contact.
fn cooldown(verification: &Verification, now: Timestamp) -> Limit {
    Limit::Cooldown {
        key: verification.contact_key.clone(),
        until: now.plus(RESEND_AFTER),
        latest: verification.id.clone(),
    }
}

/// Stores a new verification (of a new email) under `limits`.
async fn request(store: &dyn Store, limits: Vec<Limit>, now: Timestamp) -> Result<Verification> {
    let verification = new_verification(email(), Purpose::SignUp, now);
    store.create_verification(&verification, &limits, now).await.map(|()| verification)
}

/// A stored code, the newest of its contact.
async fn pending(store: &dyn Store, contact: Contact, purpose: Purpose) -> Verification {
    let verification = new_verification(contact, purpose, T0);
    store.create_verification(&verification, &[cooldown(&verification, T0)], T0).await.expect("a new verification");
    verification
}

/// A confirmed code: the claim that uses its token at `T0`.
async fn verified(store: &dyn Store, contact: Contact, purpose: Purpose) -> TokenClaim {
    let verification = pending(store, contact, purpose).await;
    let token_hash = hash();
    assert!(store.mark_verified(&verification, &token_hash, T0.plus(TOKEN_TTL)).await.unwrap());
    let verification = stored_verification(store, &verification.id).await;
    TokenClaim { verification, token_hash, now: T0 }
}

async fn stored_verification(store: &dyn Store, id: &VerificationId) -> Verification {
    store.verification(id).await.unwrap().expect("a stored verification")
}

/// The state of the claim's verification, by name.
async fn token_state(store: &dyn Store, claim: &TokenClaim) -> &'static str {
    match stored_verification(store, &claim.verification.id).await.state {
        VerificationState::Pending => "pending",
        VerificationState::Verified { .. } => "verified",
        VerificationState::Consumed => "consumed",
    }
}

fn new_account(primary: Contact) -> Account {
    Account::new(text(), format!("$argon2id$stand-in${}", text()), primary, "2026-11".into(), T0)
}

async fn stored_account(store: &dyn Store, id: &str) -> Account {
    store.account(id).await.unwrap().expect("a stored account")
}

/// A new account whose primary contact is `primary`, created as a sign-up creates one.
async fn account_of(store: &dyn Store, primary: Contact) -> Account {
    let account = new_account(primary.clone());
    let claim = verified(store, primary, Purpose::SignUp).await;
    store.create_account(&account, &claim, None).await.expect("a new account");
    stored_account(store, &account.id).await
}

async fn account(store: &dyn Store) -> Account {
    account_of(store, email()).await
}

async fn owner(store: &dyn Store, contact: &Contact) -> Option<String> {
    store.account_for_contact(contact).await.unwrap()
}

/// Adds `contact` (newly verified) as the account's recovery contact; the account as stored then.
async fn with_recovery(store: &dyn Store, account: &Account, contact: &Contact) -> Account {
    let claim = verified(store, contact.clone(), Purpose::AddContact).await;
    let replaced = account.recovery_of_kind(contact);
    store.add_recovery_contact(account, &claim, contact, replaced.as_ref()).await.expect("a recovery contact");
    stored_account(store, &account.id).await
}

fn pending_factor(method: SecondFactor, now: Timestamp) -> PendingSecondFactor {
    PendingSecondFactor {
        nonce: text(),
        method,
        sealed_totp_secret: (method == SecondFactor::Totp).then(text),
        code_hash: (method == SecondFactor::Sms).then(hash),
        created_at: now,
        expires_at: now.plus(CODE_TTL),
        // The store starts every setup at none.
        attempts: 3,
    }
}

/// Turns TOTP on, sealed as `sealed`, last used at `step`, with `codes` as recovery codes.
async fn with_totp(store: &dyn Store, account: &Account, sealed: &str, step: i64, codes: &[&str]) -> Account {
    let pending = pending_factor(SecondFactor::Totp, T0);
    assert!(store.start_second_factor(&account.id, &pending, RESEND_AFTER).await.unwrap());
    let activation = SecondFactorActivation {
        nonce: pending.nonce,
        method: SecondFactor::Totp,
        sealed_totp_secret: Some(sealed.to_owned()),
        totp_step: Some(step),
        recovery_code_hashes: codes.iter().map(|c| c.to_string()).collect(),
    };
    assert!(store.activate_second_factor(&account.id, &activation).await.unwrap());
    stored_account(store, &account.id).await
}

fn sorted(values: &[String]) -> Vec<String> {
    let mut values = values.to_vec();
    values.sort();
    values
}

fn strings(values: &[&str]) -> Vec<String> {
    sorted(&values.iter().map(|v| v.to_string()).collect::<Vec<_>>())
}

fn session(account: &Account, now: Timestamp) -> SessionRecord {
    SessionRecord {
        account_id: account.id.clone(),
        id: text(),
        secret_hash: hash(),
        epoch: account.session_epoch,
        created_at: now,
        expires_at: now.plus(secs(30 * 86_400)),
        client: ClientInfo { ip: Some("198.51.100.7".into()), user_agent: Some("contract/1.0".into()) },
    }
}

fn device(account: &Account, now: Timestamp) -> DeviceRecord {
    DeviceRecord {
        account_id: account.id.clone(),
        id: text(),
        secret_hash: hash(),
        epoch: account.device_epoch,
        created_at: now,
        expires_at: now.plus(secs(30 * 86_400)),
    }
}

fn challenge(account: &Account) -> MfaChallenge {
    MfaChallenge {
        id: text(),
        account_id: account.id.clone(),
        methods: vec![MfaMethod::Totp, MfaMethod::Sms, MfaMethod::RecoveryCode],
        attempts: 0,
        expires_at: at(300),
        sms_code_hash: None,
        client: ClientInfo { ip: Some("2001:db8::7".into()), user_agent: None },
        reset: None,
    }
}

async fn open_challenge(store: &dyn Store, account: &Account) -> MfaChallenge {
    let challenge = challenge(account);
    store.put_challenge(&challenge).await.expect("a new challenge");
    challenge
}

async fn stored_session(store: &dyn Store, session: &SessionRecord) -> Option<SessionRecord> {
    store.account_with_session(&session.account_id, &session.id).await.unwrap().1
}

/// Polls every future until all are done, so their requests are in flight at once.
async fn all<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => done = false,
                }
            }
        }
        if done {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    outputs.into_iter().map(|output| output.expect("every future is done")).collect()
}

fn assert_same_verification(stored: &Verification, expected: &Verification) {
    assert_eq!(stored.id, expected.id);
    assert_eq!(stored.contact, expected.contact);
    assert_eq!(stored.contact.stored(), expected.contact.stored());
    assert_eq!(stored.purpose, expected.purpose);
    assert_eq!(stored.code_hash, expected.code_hash);
    assert_eq!(stored.attempts, expected.attempts);
    assert_eq!(stored.state, expected.state);
    assert_eq!((stored.created_at, stored.expires_at), (expected.created_at, expected.expires_at));
    assert_eq!(stored.contact_key, expected.contact_key);
}

// ---------------------------------------------------------------------------------------------
// Verifications and the limits of a code request

pub async fn verifications_are_stored_as_given(store: &dyn Store) {
    for (contact, purpose) in
        [(email(), Purpose::SignUp), (phone(), Purpose::ResetPassword), (email(), Purpose::AddContact)]
    {
        let verification = new_verification(contact, purpose, T0);
        store.create_verification(&verification, &[], T0).await.unwrap();
        assert_same_verification(&stored_verification(store, &verification.id).await, &verification);
        // An id is stored once.
        let again = Verification { code_hash: hash(), ..verification.clone() };
        assert!(store.create_verification(&again, &[], T0).await.is_err());
        assert_same_verification(&stored_verification(store, &verification.id).await, &verification);
    }
    let unknown = VerificationId::generate(&mut rand::thread_rng());
    assert!(store.verification(&unknown).await.unwrap().is_none());
}

pub async fn a_cooldown_refuses_until_it_ends(store: &dyn Store) {
    let first = pending(store, email(), Purpose::SignUp).await;
    let mut second = new_verification(first.contact.clone(), Purpose::SignUp, at(45));
    second.contact_key = first.contact_key.clone();
    let refused = store.create_verification(&second, &[cooldown(&second, at(45))], at(45)).await;
    // Until the stored cooldown ends, not the one this request would have set.
    assert!(matches!(refused, Err(Error::RateLimited { retry_after }) if retry_after == secs(15)), "{refused:?}");
    assert!(store.verification(&second.id).await.unwrap().is_none(), "a refused code is not stored");
    store.create_verification(&second, &[cooldown(&second, at(60))], at(60)).await.expect("when the cooldown ends");
}

pub async fn a_quota_counts_up_to_its_max_per_window(store: &dyn Store) {
    let counter = key("destination");
    let quota = |now| Limit::Quota { key: counter.clone(), window: hour(now), max: 2 };
    for now in [T0, at(10)] {
        request(store, vec![quota(now)], now).await.expect("within the quota");
    }
    let refused = request(store, vec![quota(at(20))], at(20)).await;
    assert!(matches!(refused, Err(Error::RateLimited { retry_after }) if retry_after == secs(3580)), "{refused:?}");
    assert_eq!(store.window_count(&counter, hour(T0)).await.unwrap(), 2, "a refusal is not counted");
    request(store, vec![quota(at(3600))], at(3600)).await.expect("in the next window");
    assert_eq!(store.window_count(&counter, hour(at(3600))).await.unwrap(), 1);
}

/// The condition is `attribute_not_exists(count) OR count < max`: a rule that means "none at
/// all" refuses before it asks the store (`captcha::requests_allowed` of 0).
pub async fn a_fresh_window_counts_its_first_event_whatever_the_max(store: &dyn Store) {
    let counter = key("pow");
    let quota = Limit::Quota { key: counter.clone(), window: hour(T0), max: 0 };
    request(store, vec![quota.clone()], T0).await.expect("the first of the window");
    assert_refused!(request(store, vec![quota], T0).await, Error::RateLimited { .. });
    let hot = key("sms-country");
    assert!(store.count_within(&hot, hour(T0), 0).await.unwrap());
    assert!(!store.count_within(&hot, hour(T0), 0).await.unwrap());
    assert_eq!(store.window_count(&hot, hour(T0)).await.unwrap(), 1);
}

pub async fn a_ceiling_refuses_at_a_count_it_does_not_add_to(store: &dyn Store) {
    let failures = key("failures");
    let ceiling = Limit::Ceiling { key: failures.clone(), window: hour(T0), max: 2 };
    request(store, vec![ceiling.clone()], T0).await.expect("no failures yet");
    store.count_failure(&failures, hour(T0)).await.unwrap();
    request(store, vec![ceiling.clone()], at(1)).await.expect("one failure");
    assert_eq!(store.window_count(&failures, hour(T0)).await.unwrap(), 1, "a ceiling only reads");
    store.count_failure(&failures, hour(T0)).await.unwrap();
    let refused = request(store, vec![ceiling.clone()], at(600)).await;
    assert!(matches!(refused, Err(Error::RateLimited { retry_after }) if retry_after == secs(3000)), "{refused:?}");
    let next_hour = Limit::Ceiling { key: failures, window: hour(at(3600)), max: 2 };
    request(store, vec![next_hour], at(3600)).await.expect("failures of the last hour do not count");
}

pub async fn a_captcha_is_accepted_once(store: &dyn Store) {
    let solved = Limit::SingleUse { id: text(), until: at(300) };
    request(store, vec![solved.clone()], T0).await.expect("the first use");
    assert_refused!(request(store, vec![solved], at(1)).await, Error::CaptchaFailed);
    request(store, vec![Limit::SingleUse { id: text(), until: at(300) }], at(1)).await.expect("another solution");
}

pub async fn a_refused_difficulty_names_what_its_count_needs(store: &dyn Store) {
    let counter = key("pow");
    let base = 1_000;
    let difficulty = |max| Limit::Difficulty { key: counter.clone(), window: hour(T0), max, base };
    for _ in 0..6 {
        request(store, vec![difficulty(10)], T0).await.expect("paid for");
    }
    // Six requests in the window: the difficulty doubles twice (`captcha::difficulty_for`).
    let needed = captcha::difficulty_for(base, 6);
    assert_eq!(needed, 4_000);
    assert_refused!(request(store, vec![difficulty(2)], T0).await, Error::CaptchaTooEasy { difficulty } if difficulty == needed);
    assert_eq!(store.window_count(&counter, hour(T0)).await.unwrap(), 6);
}

pub async fn a_refused_limit_writes_nothing(store: &dyn Store) {
    let newest = pending(store, email(), Purpose::SignUp).await;
    let (destination, ip, pow, solved) = (key("destination"), key("ip"), key("pow"), text());
    let mut refused = new_verification(newest.contact.clone(), Purpose::SignUp, at(10));
    refused.contact_key = newest.contact_key.clone();
    let limits = [
        Limit::Quota { key: destination.clone(), window: hour(T0), max: 5 },
        Limit::SingleUse { id: solved.clone(), until: at(300) },
        cooldown(&refused, at(10)),
        Limit::Quota { key: ip.clone(), window: hour(T0), max: 5 },
        Limit::Difficulty { key: pow.clone(), window: hour(T0), max: 5, base: 1_000 },
    ];
    assert_refused!(store.create_verification(&refused, &limits, at(10)).await, Error::RateLimited { .. });
    assert!(store.verification(&refused.id).await.unwrap().is_none());
    for counter in [&destination, &ip, &pow] {
        assert_eq!(store.window_count(counter, hour(T0)).await.unwrap(), 0, "{counter:?} was counted");
    }
    request(store, vec![Limit::SingleUse { id: solved, until: at(300) }], at(10)).await.expect("still unused");
    assert!(store.mark_verified(&newest, &hash(), at(900)).await.unwrap(), "still the newest code");
}

pub async fn the_first_limit_that_refuses_answers(store: &dyn Store) {
    let full = Limit::Quota { key: key("destination"), window: hour(T0), max: 1 };
    let used = Limit::SingleUse { id: text(), until: at(300) };
    request(store, vec![full.clone(), used.clone()], T0).await.unwrap();
    assert_refused!(request(store, vec![full.clone(), used.clone()], T0).await, Error::RateLimited { .. });
    assert_refused!(request(store, vec![used, full], T0).await, Error::CaptchaFailed);
}

pub async fn code_attempts_are_counted_up_to_the_max(store: &dyn Store) {
    let verification = pending(store, phone(), Purpose::SignUp).await;
    for attempt in 1..=3 {
        let counted = store.count_code_attempt(&verification.id, at(1), 3).await.unwrap().expect("counted");
        assert_same_verification(&counted, &Verification { attempts: attempt, ..verification.clone() });
    }
    assert!(store.count_code_attempt(&verification.id, at(1), 3).await.unwrap().is_none());
    assert_eq!(stored_verification(store, &verification.id).await.attempts, 3);
    let unknown = VerificationId::generate(&mut rand::thread_rng());
    assert!(store.count_code_attempt(&unknown, at(1), 3).await.unwrap().is_none());
}

pub async fn code_attempts_end_when_the_code_expires(store: &dyn Store) {
    let verification = pending(store, email(), Purpose::SignUp).await;
    assert!(store.count_code_attempt(&verification.id, at(599), 5).await.unwrap().is_some());
    assert!(store.count_code_attempt(&verification.id, at(600), 5).await.unwrap().is_none(), "expired at 600");
    assert_eq!(stored_verification(store, &verification.id).await.attempts, 1);
}

pub async fn a_code_is_confirmed_once_and_then_takes_no_attempts(store: &dyn Store) {
    let verification = pending(store, email(), Purpose::SignUp).await;
    let token = hash();
    assert!(store.mark_verified(&verification, &token, at(900)).await.unwrap());
    let expected = Verification {
        state: VerificationState::Verified { token_hash: token, token_expires_at: at(900) },
        ..verification.clone()
    };
    assert_same_verification(&stored_verification(store, &verification.id).await, &expected);
    assert!(!store.mark_verified(&verification, &hash(), at(1000)).await.unwrap(), "confirmed once");
    assert_same_verification(&stored_verification(store, &verification.id).await, &expected);
    assert!(store.count_code_attempt(&verification.id, at(1), 5).await.unwrap().is_none());
}

pub async fn a_newer_code_retires_the_older(store: &dyn Store) {
    let older = pending(store, email(), Purpose::SignUp).await;
    let mut newer = new_verification(older.contact.clone(), Purpose::SignUp, at(60));
    newer.contact_key = older.contact_key.clone();
    store.create_verification(&newer, &[cooldown(&newer, at(60))], at(60)).await.unwrap();
    assert!(!store.mark_verified(&older, &hash(), at(900)).await.unwrap(), "retired");
    assert_eq!(stored_verification(store, &older.id).await.state, VerificationState::Pending);
    assert!(store.mark_verified(&newer, &hash(), at(960)).await.unwrap());
    // A code no cooldown names was never the newest.
    let unnamed = new_verification(email(), Purpose::SignUp, T0);
    store.create_verification(&unnamed, &[], T0).await.unwrap();
    assert!(!store.mark_verified(&unnamed, &hash(), at(900)).await.unwrap());
}

pub async fn concurrent_code_attempts_never_pass_the_max(store: &dyn Store) {
    let verification = pending(store, email(), Purpose::SignUp).await;
    let counted = all((0..8).map(|_| store.count_code_attempt(&verification.id, at(1), 3))).await;
    let mut seen: Vec<u32> = counted.iter().filter_map(|c| c.as_ref().unwrap().as_ref()).map(|v| v.attempts).collect();
    seen.sort();
    assert_eq!(seen, [1, 2, 3], "each counted attempt has its own number");
    assert_eq!(stored_verification(store, &verification.id).await.attempts, 3);
}

pub async fn concurrent_confirmations_confirm_once(store: &dyn Store) {
    let verification = pending(store, email(), Purpose::SignUp).await;
    let tokens: Vec<KeyedHash> = (0..4).map(|_| hash()).collect();
    let results = all(tokens.iter().map(|token| store.mark_verified(&verification, token, at(900)))).await;
    let won: Vec<usize> = (0..results.len()).filter(|i| matches!(results[*i], Ok(true))).collect();
    assert_eq!(won.len(), 1, "{results:?}");
    assert!(results.iter().all(|r| matches!(r, Ok(_) | Err(Error::Conflict))), "{results:?}");
    let stored = stored_verification(store, &verification.id).await.state;
    assert!(
        matches!(&stored, VerificationState::Verified { token_hash, .. } if *token_hash == tokens[won[0]]),
        "{stored:?}"
    );
}

pub async fn concurrent_requests_never_pass_a_quota(store: &dyn Store) {
    let counter = key("ip");
    let quota = Limit::Quota { key: counter.clone(), window: hour(T0), max: 3 };
    let results = all((0..8).map(|_| request(store, vec![quota.clone()], T0))).await;
    let passed = results.iter().filter(|r| r.is_ok()).count();
    assert!((1..=3).contains(&passed), "{passed} passed a quota of 3");
    assert!(results.iter().all(|r| matches!(r, Ok(_) | Err(Error::RateLimited { .. } | Error::Conflict))));
    assert_eq!(store.window_count(&counter, hour(T0)).await.unwrap(), passed as u32);
}

// ---------------------------------------------------------------------------------------------
// Accounts

pub async fn an_account_is_created_with_its_contact_and_token(store: &dyn Store) {
    let contact = email();
    let claim = verified(store, contact.clone(), Purpose::SignUp).await;
    let account = new_account(contact.clone());
    let record = IdempotencyRecord {
        key_hash: text(),
        request_hash: hash(),
        response: r#"{"account_id":"a"}"#.into(),
        expires_at: at(86_400),
    };
    store.create_account(&account, &claim, Some(&record)).await.expect("created");
    let stored = stored_account(store, &account.id).await;
    assert_eq!((&stored.id, &stored.password_hash), (&account.id, &account.password_hash));
    assert_eq!((&stored.primary, stored.primary.stored()), (&contact, contact.stored()));
    assert_eq!((stored.created_at, &stored.terms_version, stored.terms_accepted_at), (T0, &account.terms_version, T0));
    assert_eq!((&stored.recovery_phone, &stored.recovery_email), (&None, &None));
    assert_eq!((stored.session_epoch, stored.device_epoch), (0, 0));
    assert!(!stored.two_factor_enabled() && stored.two_factor.totp_secret.is_none());
    assert!(stored.two_factor.recovery_codes.is_empty() && stored.two_factor.pending.is_none());

    assert_eq!(owner(store, &contact).await, Some(account.id.clone()));
    let shouted = Contact::Email(EmailAddress::parse(&contact.stored().to_uppercase()).unwrap());
    assert_eq!(owner(store, &shouted).await, Some(account.id.clone()), "contacts are held in canonical form");
    assert_eq!(token_state(store, &claim).await, "consumed");
    let kept = store.idempotency_record(&record.key_hash).await.unwrap().expect("recorded");
    assert_eq!((&kept.key_hash, &kept.request_hash), (&record.key_hash, &record.request_hash));
    assert_eq!((&kept.response, kept.expires_at), (&record.response, record.expires_at));

    assert!(store.idempotency_record(&text()).await.unwrap().is_none());
    assert!(store.account(&text()).await.unwrap().is_none());
    assert_eq!(owner(store, &email()).await, None);
}

pub async fn an_account_needs_a_usable_token(store: &dyn Store) {
    let contact = phone();
    let claim = verified(store, contact.clone(), Purpose::SignUp).await;
    let unconfirmed = pending(store, contact.clone(), Purpose::SignUp).await;
    let refused = [
        TokenClaim { token_hash: hash(), ..claim.clone() },
        TokenClaim { now: at(900), ..claim.clone() },
        TokenClaim { verification: unconfirmed.clone(), token_hash: hash(), now: T0 },
    ];
    for bad in &refused {
        let account = new_account(contact.clone());
        assert_refused!(store.create_account(&account, bad, None).await, Error::VerificationExpired);
        assert!(store.account(&account.id).await.unwrap().is_none());
        assert_eq!(owner(store, &contact).await, None);
    }
    assert_eq!(token_state(store, &claim).await, "verified");
    let in_time = TokenClaim { now: at(899), ..claim.clone() };
    store.create_account(&new_account(contact.clone()), &in_time, None).await.expect("the token in time");
    // Used, and its contact taken: the token is the answer.
    let again = new_account(contact);
    assert_refused!(store.create_account(&again, &claim, None).await, Error::VerificationExpired);
}

pub async fn a_registered_contact_gets_no_second_account(store: &dyn Store) {
    let contact = phone();
    let first = account_of(store, contact.clone()).await;
    let claim = verified(store, contact.clone(), Purpose::SignUp).await;
    let second = new_account(contact.clone());
    assert_refused!(store.create_account(&second, &claim, None).await, Error::AlreadyRegistered);
    assert!(store.account(&second.id).await.unwrap().is_none());
    assert_eq!(owner(store, &contact).await, Some(first.id));
    assert_eq!(token_state(store, &claim).await, "verified", "the token is not used up");
}

pub async fn an_idempotency_key_is_recorded_once(store: &dyn Store) {
    let key_hash = text();
    let record = |response: &str| IdempotencyRecord {
        key_hash: key_hash.clone(),
        request_hash: hash(),
        response: response.into(),
        expires_at: at(86_400),
    };
    let first = record("first");
    store
        .create_account(&new_account(email()), &verified(store, email(), Purpose::SignUp).await, Some(&first))
        .await
        .unwrap();
    let contact = email();
    let claim = verified(store, contact.clone(), Purpose::SignUp).await;
    let account = new_account(contact.clone());
    assert_refused!(store.create_account(&account, &claim, Some(&record("second"))).await, Error::VerificationExpired);
    assert!(store.account(&account.id).await.unwrap().is_none());
    assert_eq!(owner(store, &contact).await, None);
    assert_eq!(token_state(store, &claim).await, "verified");
    assert_eq!(store.idempotency_record(&key_hash).await.unwrap().unwrap().response, "first");
}

pub async fn concurrent_sign_ups_for_one_contact_make_one_account(store: &dyn Store) {
    let contact = email();
    let mut claims = Vec::new();
    for _ in 0..3 {
        claims.push(verified(store, contact.clone(), Purpose::SignUp).await);
    }
    let accounts: Vec<Account> = claims.iter().map(|_| new_account(contact.clone())).collect();
    let results = all(accounts.iter().zip(&claims).map(|(a, claim)| store.create_account(a, claim, None))).await;
    let won: Vec<&Account> = accounts.iter().zip(&results).filter(|(_, r)| r.is_ok()).map(|(a, _)| a).collect();
    assert_eq!(won.len(), 1, "{results:?}");
    assert!(results.iter().all(|r| matches!(r, Ok(()) | Err(Error::AlreadyRegistered | Error::Conflict))));
    assert_eq!(owner(store, &contact).await.as_ref(), Some(&won[0].id));
    for account in accounts.iter().filter(|a| a.id != won[0].id) {
        assert!(store.account(&account.id).await.unwrap().is_none());
    }
}

pub async fn a_second_factor_setup_waits_before_it_restarts(store: &dyn Store) {
    let account = account(store).await;
    let first = pending_factor(SecondFactor::Sms, T0);
    assert!(store.start_second_factor(&account.id, &first, RESEND_AFTER).await.unwrap());
    let stored = stored_account(store, &account.id).await.two_factor.pending.expect("a setup");
    assert_eq!((&stored.nonce, stored.method, stored.attempts), (&first.nonce, SecondFactor::Sms, 0));
    assert_eq!((&stored.sealed_totp_secret, &stored.code_hash), (&None, &first.code_hash));
    assert_eq!((stored.created_at, stored.expires_at), (first.created_at, first.expires_at));

    let early = pending_factor(SecondFactor::Totp, at(59));
    assert!(!store.start_second_factor(&account.id, &early, RESEND_AFTER).await.unwrap());
    assert_eq!(stored_account(store, &account.id).await.two_factor.pending.unwrap().nonce, first.nonce);
    let later = pending_factor(SecondFactor::Totp, at(60));
    assert!(store.start_second_factor(&account.id, &later, RESEND_AFTER).await.unwrap());
    let stored = stored_account(store, &account.id).await.two_factor.pending.expect("a setup");
    assert_eq!((&stored.nonce, stored.method), (&later.nonce, SecondFactor::Totp));
    assert_eq!((&stored.sealed_totp_secret, &stored.code_hash), (&later.sealed_totp_secret, &None));
    assert!(!store.start_second_factor(&text(), &later, RESEND_AFTER).await.unwrap(), "no such account");
}

pub async fn second_factor_attempts_count_per_setup(store: &dyn Store) {
    let account = account(store).await;
    let first = pending_factor(SecondFactor::Totp, T0);
    assert!(store.start_second_factor(&account.id, &first, RESEND_AFTER).await.unwrap());
    let id = &account.id;
    let count = |nonce: String| async move { store.count_second_factor_attempt(id, &nonce, 2).await.unwrap() };
    assert!(count(first.nonce.clone()).await && count(first.nonce.clone()).await);
    assert!(!count(first.nonce.clone()).await, "out of attempts");
    assert!(!count(text()).await, "another setup");
    assert_eq!(stored_account(store, &account.id).await.two_factor.pending.unwrap().attempts, 2);
    let second = pending_factor(SecondFactor::Totp, at(60));
    assert!(store.start_second_factor(&account.id, &second, RESEND_AFTER).await.unwrap());
    assert!(!count(first.nonce).await, "the earlier setup is gone");
    assert!(count(second.nonce).await, "a new setup has its own attempts");
    assert!(!store.count_second_factor_attempt(&text(), &text(), 2).await.unwrap());
}

pub async fn a_second_factor_is_activated_once(store: &dyn Store) {
    let account = account(store).await;
    let totp = pending_factor(SecondFactor::Totp, T0);
    assert!(store.start_second_factor(&account.id, &totp, RESEND_AFTER).await.unwrap());
    let activation = SecondFactorActivation {
        nonce: totp.nonce.clone(),
        method: SecondFactor::Totp,
        sealed_totp_secret: Some("sealed-a".into()),
        totp_step: Some(7),
        recovery_code_hashes: strings(&["code-1", "code-2"]),
    };
    let elsewhere = SecondFactorActivation { nonce: text(), ..activation.clone() };
    assert!(!store.activate_second_factor(&account.id, &elsewhere).await.unwrap());
    assert!(!stored_account(store, &account.id).await.two_factor_enabled());
    assert!(store.activate_second_factor(&account.id, &activation).await.unwrap());
    let on = stored_account(store, &account.id).await.two_factor;
    assert_eq!((on.methods.as_slice(), on.totp_secret.as_deref()), ([SecondFactor::Totp].as_slice(), Some("sealed-a")));
    assert_eq!((on.totp_last_step, sorted(&on.recovery_codes)), (7, strings(&["code-1", "code-2"])));
    assert!(on.pending.is_none());
    assert!(!store.activate_second_factor(&account.id, &activation).await.unwrap(), "once");

    // A second method joins the first; its recovery codes replace the earlier ones.
    let sms = pending_factor(SecondFactor::Sms, T0);
    assert!(store.start_second_factor(&account.id, &sms, RESEND_AFTER).await.unwrap());
    let activation = SecondFactorActivation {
        nonce: sms.nonce,
        method: SecondFactor::Sms,
        sealed_totp_secret: None,
        totp_step: None,
        recovery_code_hashes: strings(&["code-3"]),
    };
    assert!(store.activate_second_factor(&account.id, &activation).await.unwrap());
    let on = stored_account(store, &account.id).await.two_factor;
    let mut methods = on.methods.iter().map(|m| format!("{m:?}")).collect::<Vec<_>>();
    methods.sort();
    assert_eq!(methods, ["Sms", "Totp"]);
    assert_eq!((on.totp_secret.as_deref(), on.totp_last_step), (Some("sealed-a"), 7));
    assert_eq!(on.recovery_codes, strings(&["code-3"]));
}

pub async fn a_recovery_contact_is_claimed_linked_and_replaced(store: &dyn Store) {
    let account = account(store).await;
    let first = phone();
    let claim = verified(store, first.clone(), Purpose::AddContact).await;
    store.add_recovery_contact(&account, &claim, &first, None).await.expect("added");
    let stored = stored_account(store, &account.id).await;
    assert_eq!(stored.recovery_phone.map(Contact::Phone), Some(first.clone()));
    assert_eq!(owner(store, &first).await, Some(account.id.clone()));
    assert_eq!(token_state(store, &claim).await, "consumed");

    let second = phone();
    let account = with_recovery(store, &stored_account(store, &account.id).await, &second).await;
    assert_eq!(account.recovery_phone.clone().map(Contact::Phone), Some(second.clone()));
    assert_eq!(owner(store, &second).await, Some(account.id.clone()));
    assert_eq!(owner(store, &first).await, None, "the replaced contact is free");

    let mail = email();
    let account = with_recovery(store, &account, &mail).await;
    assert_eq!(account.recovery_email.clone().map(Contact::Email), Some(mail.clone()));
    assert_eq!(account.recovery_phone.map(Contact::Phone), Some(second), "one of each kind");
}

pub async fn a_refused_recovery_contact_changes_nothing(store: &dyn Store) {
    let account = account(store).await;
    let other = self::account(store).await;
    let contact = phone();
    let claim = verified(store, contact.clone(), Purpose::AddContact).await;
    let unchanged = |label: &'static str| {
        let (account, contact, claim) = (&account, &contact, &claim);
        async move {
            let stored = stored_account(store, &account.id).await;
            assert!(stored.recovery_phone.is_none() && stored.recovery_email.is_none(), "{label}");
            assert_eq!(owner(store, contact).await, None, "{label}");
            assert_eq!(token_state(store, claim).await, "verified", "{label}");
        }
    };

    let taken = verified(store, other.primary.clone(), Purpose::AddContact).await;
    assert_refused!(store.add_recovery_contact(&account, &taken, &other.primary, None).await, Error::ContactInUse);
    assert_eq!(owner(store, &other.primary).await, Some(other.id.clone()));
    assert_eq!(token_state(store, &taken).await, "verified");
    unchanged("in use").await;

    let stale = phone();
    let result = store.add_recovery_contact(&account, &claim, &contact, Some(&stale)).await;
    assert_refused!(result, Error::Conflict);
    unchanged("replacing a contact the account does not have").await;

    let expired = TokenClaim { now: at(900), ..claim.clone() };
    assert_refused!(store.add_recovery_contact(&account, &expired, &contact, None).await, Error::VerificationExpired);
    unchanged("expired token").await;
    let forged = TokenClaim { token_hash: hash(), ..claim.clone() };
    assert_refused!(store.add_recovery_contact(&account, &forged, &contact, None).await, Error::VerificationExpired);
    unchanged("another token").await;

    // Meanwhile another request gave the account a recovery phone.
    let meanwhile = with_recovery(store, &account, &phone()).await;
    assert_refused!(store.add_recovery_contact(&account, &claim, &contact, None).await, Error::Conflict);
    assert_eq!(owner(store, &contact).await, None);
    assert_eq!(token_state(store, &claim).await, "verified");
    assert_eq!(stored_account(store, &account.id).await.recovery_phone, meanwhile.recovery_phone);
}

pub async fn an_account_change_writes_every_part(store: &dyn Store) {
    let account = account(store).await;
    let reset = verified(store, account.primary.clone(), Purpose::ResetPassword).await;
    let second = verified(store, phone(), Purpose::ResetPassword).await;
    let challenge = open_challenge(store, &account).await;
    let current = session(&account, T0);
    store.put_session(&current).await.unwrap();
    let change = AccountChange {
        account_id: &account.id,
        tokens: vec![&reset, &second],
        challenge: Some(&challenge.id),
        password_hash: Some("new-hash".into()),
        sign_out_everywhere: Some(0),
        forget_devices: true,
        keep_session: Some(&current),
        ..Default::default()
    };
    store.change_account(&change).await.expect("changed");
    let stored = stored_account(store, &account.id).await;
    assert_eq!((stored.password_hash.as_str(), stored.session_epoch, stored.device_epoch), ("new-hash", 1, 1));
    assert_eq!(token_state(store, &reset).await, "consumed");
    assert_eq!(token_state(store, &second).await, "consumed");
    assert!(store.challenge(&challenge.id).await.unwrap().is_none(), "closed");
    assert!(store.count_challenge_attempt(&challenge.id, at(1), 5).await.unwrap().is_none());
    assert_eq!(stored_session(store, &current).await.expect("kept").epoch, 1, "kept in the new epoch");

    let again = AccountChange {
        account_id: &account.id,
        sign_out_everywhere: Some(1),
        forget_devices: true,
        ..Default::default()
    };
    store.change_account(&again).await.expect("changed again");
    let stored = stored_account(store, &account.id).await;
    assert_eq!((stored.password_hash.as_str(), stored.session_epoch, stored.device_epoch), ("new-hash", 2, 2));
    assert_eq!(stored_session(store, &current).await.unwrap().epoch, 1, "not kept this time");
}

/// What a refused case must answer.
type Expected = fn(&Result<()>) -> bool;

pub async fn a_refused_account_change_writes_nothing(store: &dyn Store) {
    let account = account(store).await;
    let used = verified(store, email(), Purpose::ResetPassword).await;
    store
        .change_account(&AccountChange { account_id: &account.id, tokens: vec![&used], ..Default::default() })
        .await
        .unwrap();
    let claim = verified(store, account.primary.clone(), Purpose::ResetPassword).await;
    let challenge = open_challenge(store, &account).await;
    let closed = open_challenge(store, &account).await;
    store
        .change_account(&AccountChange { account_id: &account.id, challenge: Some(&closed.id), ..Default::default() })
        .await
        .unwrap();
    let current = session(&account, T0);
    let stranger = phone();

    let cases: Vec<(&str, AccountChange<'_>, Expected)> = vec![
        (
            "a used token",
            AccountChange { tokens: vec![&claim, &used], challenge: Some(&challenge.id), ..Default::default() },
            |r| matches!(r, Err(Error::VerificationExpired)),
        ),
        (
            "a closed challenge",
            AccountChange { tokens: vec![&claim], challenge: Some(&closed.id), ..Default::default() },
            |r| matches!(r, Err(Error::ChallengeExpired)),
        ),
        (
            "an epoch that is not the account's",
            AccountChange { tokens: vec![&claim], sign_out_everywhere: Some(3), ..Default::default() },
            |r| matches!(r, Err(Error::Conflict)),
        ),
        (
            "a recovery contact the account does not have",
            AccountChange { tokens: vec![&claim], remove_recovery: Some(&stranger), ..Default::default() },
            |r| matches!(r, Err(Error::Conflict)),
        ),
    ];
    // The epoch check needs a stored epoch: sign out everywhere once.
    store
        .change_account(&AccountChange { account_id: &account.id, sign_out_everywhere: Some(0), ..Default::default() })
        .await
        .unwrap();
    for (label, parts, expected) in cases {
        let change = AccountChange {
            account_id: &account.id,
            password_hash: Some("changed".into()),
            forget_devices: true,
            keep_session: Some(&current),
            ..parts
        };
        let result = store.change_account(&change).await;
        assert!(expected(&result), "{label}: {result:?}");
        let stored = stored_account(store, &account.id).await;
        assert_eq!((&stored.password_hash, stored.device_epoch), (&account.password_hash, 0), "{label}");
        assert_eq!(token_state(store, &claim).await, "verified", "{label}");
        assert!(store.challenge(&challenge.id).await.unwrap().is_some(), "{label}");
        assert!(stored_session(store, &current).await.is_none(), "{label}");
    }
    let nobody = AccountChange { account_id: "nobody", tokens: vec![&claim], ..Default::default() };
    assert_refused!(store.change_account(&nobody).await, Error::Conflict);
    assert_eq!(token_state(store, &claim).await, "verified");
    assert!(store.account("nobody").await.unwrap().is_none());
}

pub async fn an_account_change_uses_up_its_second_factor(store: &dyn Store) {
    let account = with_totp(store, &account(store).await, "sealed", 100, &["code-1", "code-2", "code-3"]).await;
    let using = |factor: &SecondFactorUse| {
        let factor = factor.clone();
        let id = account.id.clone();
        async move {
            let change = AccountChange {
                account_id: &id,
                factor: Some(&factor),
                password_hash: Some(format!("proved-by-{factor:?}")),
                ..Default::default()
            };
            store.change_account(&change).await
        }
    };
    using(&SecondFactorUse::TotpStep(101)).await.expect("a newer step");
    assert_eq!(stored_account(store, &account.id).await.two_factor.totp_last_step, 101);
    for step in [101, 100] {
        assert_refused!(using(&SecondFactorUse::TotpStep(step)).await, Error::InvalidCode { attempts_left: 0 });
    }
    using(&SecondFactorUse::RecoveryCode("code-1".into())).await.expect("an unused code");
    let stored = stored_account(store, &account.id).await;
    assert_eq!(sorted(&stored.two_factor.recovery_codes), strings(&["code-2", "code-3"]));
    for code in ["code-1", "code-9"] {
        assert_refused!(using(&SecondFactorUse::RecoveryCode(code.into())).await, Error::InvalidCode { .. });
    }
    let after = stored_account(store, &account.id).await;
    assert_eq!(after.password_hash, stored.password_hash, "a refused change writes nothing");
    assert_eq!((after.two_factor.totp_last_step, after.two_factor.recovery_codes.len()), (101, 2));
}

pub async fn turning_two_factor_off_clears_it(store: &dyn Store) {
    let account = with_totp(store, &account(store).await, "sealed", 100, &["code-1", "code-2"]).await;
    fn off<'a>(account: &'a Account, factor: Option<&'a SecondFactorUse>) -> AccountChange<'a> {
        AccountChange { account_id: &account.id, factor, two_factor: Some(TwoFactorChange::Off), ..Default::default() }
    }
    let unknown = SecondFactorUse::RecoveryCode("code-9".into());
    assert_refused!(store.change_account(&off(&account, Some(&unknown))).await, Error::InvalidCode { .. });
    assert!(stored_account(store, &account.id).await.two_factor_enabled());
    // The recovery code that proves it is checked, and goes with all the others.
    let known = SecondFactorUse::RecoveryCode("code-1".into());
    store.change_account(&off(&account, Some(&known))).await.expect("off");
    let stored = stored_account(store, &account.id).await.two_factor;
    assert!(stored.methods.is_empty() && stored.totp_secret.is_none() && stored.recovery_codes.is_empty());

    let other = with_totp(store, &self::account(store).await, "sealed", 100, &["code-1"]).await;
    let by_password =
        AccountChange { account_id: &other.id, two_factor: Some(TwoFactorChange::Off), ..Default::default() };
    store.change_account(&by_password).await.expect("off by password");
    assert!(!stored_account(store, &other.id).await.two_factor_enabled());
}

pub async fn new_recovery_codes_replace_the_old(store: &dyn Store) {
    let account = with_totp(store, &account(store).await, "sealed", 100, &["code-1", "code-2"]).await;
    let renew = AccountChange {
        account_id: &account.id,
        two_factor: Some(TwoFactorChange::NewRecoveryCodes(strings(&["code-3", "code-4"]))),
        ..Default::default()
    };
    store.change_account(&renew).await.expect("renewed");
    let stored = stored_account(store, &account.id).await.two_factor;
    assert_eq!(sorted(&stored.recovery_codes), strings(&["code-3", "code-4"]));
    assert_eq!((stored.totp_secret.as_deref(), stored.methods.len()), (Some("sealed"), 1), "2FA stays on");
}

pub async fn removing_a_recovery_contact_frees_it(store: &dyn Store) {
    let contact = phone();
    let account = with_recovery(store, &account(store).await, &contact).await;
    let remove = AccountChange { account_id: &account.id, remove_recovery: Some(&contact), ..Default::default() };
    store.change_account(&remove).await.expect("removed");
    assert!(stored_account(store, &account.id).await.recovery_phone.is_none());
    assert_eq!(owner(store, &contact).await, None);
    assert_refused!(store.change_account(&remove).await, Error::Conflict);
}

/// Requests DynamoDB refuses as malformed (a `ValidationException`, so `Error::Internal`) before it
/// reads an item, so nothing is written: an update that sets and removes one attribute, a
/// transaction that names one item twice. Domain flows send each of them today (see each case).
pub async fn requests_dynamodb_refuses_as_malformed_write_nothing(store: &dyn Store) {
    let account = with_totp(store, &account(store).await, "sealed", 100, &["code-1", "code-2"]).await;
    let unchanged = |label: &'static str| {
        let account = &account;
        async move {
            let stored = stored_account(store, &account.id).await.two_factor;
            assert!(stored.methods == [SecondFactor::Totp] && stored.totp_last_step == 100, "{label}");
            assert_eq!(sorted(&stored.recovery_codes), strings(&["code-1", "code-2"]), "{label}");
        }
    };
    // Turning 2FA off proved by a TOTP code (`self_service::disable_two_factor`).
    let step = SecondFactorUse::TotpStep(101);
    let off = AccountChange {
        account_id: &account.id,
        factor: Some(&step),
        two_factor: Some(TwoFactorChange::Off),
        ..Default::default()
    };
    assert_refused!(store.change_account(&off).await, Error::Internal(_));
    unchanged("2FA off by a TOTP step").await;
    // New recovery codes proved by a recovery code (`self_service::regenerate_recovery_codes`).
    let code = SecondFactorUse::RecoveryCode("code-1".into());
    let renew = AccountChange {
        account_id: &account.id,
        factor: Some(&code),
        two_factor: Some(TwoFactorChange::NewRecoveryCodes(strings(&["code-3"]))),
        ..Default::default()
    };
    assert_refused!(store.change_account(&renew).await, Error::Internal(_));
    unchanged("new codes proved by a recovery code").await;
    // The same token twice in one change.
    let claim = verified(store, account.primary.clone(), Purpose::ResetPassword).await;
    let twice = AccountChange { account_id: &account.id, tokens: vec![&claim, &claim], ..Default::default() };
    assert_refused!(store.change_account(&twice).await, Error::Internal(_));
    assert_eq!(token_state(store, &claim).await, "verified");
    // Adding again the recovery contact the account has (`contacts::add_recovery_contact`).
    let contact = phone();
    let account = with_recovery(store, &account, &contact).await;
    let claim = verified(store, contact.clone(), Purpose::AddContact).await;
    assert_refused!(store.add_recovery_contact(&account, &claim, &contact, Some(&contact)).await, Error::Internal(_));
    assert_eq!(token_state(store, &claim).await, "verified");
    assert_eq!(owner(store, &contact).await, Some(account.id.clone()));
    assert_eq!(stored_account(store, &account.id).await.recovery_phone.map(Contact::Phone), Some(contact));
}

pub async fn concurrent_uses_of_one_token_change_one_account(store: &dyn Store) {
    let claim = verified(store, email(), Purpose::ResetPassword).await;
    let accounts = [account(store).await, account(store).await, account(store).await];
    let changes: Vec<AccountChange<'_>> = accounts
        .iter()
        .map(|a| AccountChange {
            account_id: &a.id,
            tokens: vec![&claim],
            password_hash: Some("changed".into()),
            ..Default::default()
        })
        .collect();
    let results = all(changes.iter().map(|change| store.change_account(change))).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    assert!(results.iter().all(|r| matches!(r, Ok(()) | Err(Error::VerificationExpired | Error::Conflict))));
    let mut changed = 0;
    for account in &accounts {
        changed += usize::from(stored_account(store, &account.id).await.password_hash == "changed");
    }
    assert_eq!(changed, 1);
}

pub async fn deleting_an_account_frees_its_contacts_and_sessions(store: &dyn Store) {
    let recovery = phone();
    let account = with_recovery(store, &account(store).await, &recovery).await;
    let other = self::account(store).await;
    let sessions = [session(&account, T0), session(&account, at(1))];
    let remembered = device(&account, T0);
    let others = session(&other, T0);
    for session in sessions.iter().chain([&others]) {
        store.put_session(session).await.unwrap();
    }
    let challenge = open_challenge(store, &account).await;
    let signed_in = session(&account, T0);
    store.complete_challenge(&challenge, &signed_in, &SecondFactorUse::Sms, None, Some(&remembered)).await.unwrap();
    let (listed, devices) = store.sessions_and_devices(&account.id).await.unwrap();
    let ids: Vec<String> = listed.iter().map(|s| s.id.clone()).collect();
    assert_eq!((ids.len(), devices.len()), (3, 1));

    store.delete_account(&account, &ids, std::slice::from_ref(&remembered.id)).await.expect("deleted");
    assert!(store.account(&account.id).await.unwrap().is_none());
    assert_eq!((owner(store, &account.primary).await, owner(store, &recovery).await), (None, None));
    let (listed, devices) = store.sessions_and_devices(&account.id).await.unwrap();
    assert!(listed.is_empty() && devices.is_empty());
    assert!(stored_session(store, &others).await.is_some(), "another account's session stays");
    assert_eq!(owner(store, &other.primary).await, Some(other.id));
    account_of(store, account.primary.clone()).await;
}

pub async fn a_stale_account_is_not_deleted(store: &dyn Store) {
    let account = account(store).await;
    let current = session(&account, T0);
    store.put_session(&current).await.unwrap();
    // A recovery email the account no longer holds (another request removed it meanwhile).
    let mut stale = account.clone();
    let Contact::Email(gone) = email() else { unreachable!() };
    stale.recovery_email = Some(gone);
    assert_refused!(store.delete_account(&stale, std::slice::from_ref(&current.id), &[]).await, Error::Conflict);
    assert!(store.account(&account.id).await.unwrap().is_some());
    assert_eq!(owner(store, &account.primary).await, Some(account.id.clone()));
    assert!(stored_session(store, &current).await.is_some());
}

// ---------------------------------------------------------------------------------------------
// Signing in

pub async fn sign_in_lookup_reads_the_owner_and_failures(store: &dyn Store) {
    let account = account(store).await;
    let (login, ip) = (key("sign-in"), key("sign-in-ip"));
    for _ in 0..2 {
        store.count_failure(&login, hour(T0)).await.unwrap();
    }
    store.count_failure(&ip, hour(at(3600))).await.unwrap();
    let keys = [login.clone(), ip.clone()];
    let found = store.sign_in_lookup(&account.primary, &keys, hour(T0)).await.unwrap();
    assert_eq!(found, (Some(account.id.clone()), vec![2, 0]));
    assert_eq!(store.sign_in_lookup(&account.primary, &keys, hour(at(3600))).await.unwrap().1, vec![0, 1]);
    assert_eq!(store.sign_in_lookup(&phone(), &keys[..1], hour(T0)).await.unwrap(), (None, vec![2]));
    assert_eq!(store.sign_in_lookup(&account.primary, &[], hour(T0)).await.unwrap(), (Some(account.id), vec![]));
}

pub async fn sessions_are_kept_until_deleted(store: &dyn Store) {
    let account = account(store).await;
    let first = session(&account, T0);
    store.put_session(&first).await.unwrap();
    let (found_account, found) = store.account_with_session(&account.id, &first.id).await.unwrap();
    assert_eq!(found_account.map(|a| a.id), Some(account.id.clone()));
    let found = found.expect("stored");
    assert_eq!((&found.account_id, &found.id, &found.secret_hash), (&first.account_id, &first.id, &first.secret_hash));
    assert_eq!((found.epoch, found.created_at, found.expires_at), (first.epoch, first.created_at, first.expires_at));
    assert_eq!((found.client.ip, found.client.user_agent), (first.client.ip.clone(), first.client.user_agent.clone()));

    let replaced = SessionRecord { epoch: 4, expires_at: at(60), client: ClientInfo::default(), ..first.clone() };
    store.put_session(&replaced).await.unwrap();
    let found = stored_session(store, &first).await.expect("stored");
    assert_eq!((found.epoch, found.expires_at, found.client.ip, found.client.user_agent), (4, at(60), None, None));

    let (found_account, none) = store.account_with_session(&account.id, &text()).await.unwrap();
    assert!(found_account.is_some() && none.is_none());
    assert!(matches!(store.account_with_session(&text(), &first.id).await.unwrap(), (None, None)));
    store.delete_session(&account.id, &first.id).await.unwrap();
    assert!(stored_session(store, &first).await.is_none());
    store.delete_session(&account.id, &first.id).await.expect("deleting what is gone");
}

pub async fn sessions_and_devices_are_listed_per_account(store: &dyn Store) {
    let (one, two) = (account(store).await, account(store).await);
    let sessions = [session(&one, T0), SessionRecord { epoch: 5, ..session(&one, at(1)) }, session(&two, T0)];
    for session in &sessions {
        store.put_session(session).await.unwrap();
    }
    let remembered = device(&one, T0);
    let challenge = open_challenge(store, &one).await;
    let signed_in = session(&one, at(2));
    store.complete_challenge(&challenge, &signed_in, &SecondFactorUse::Sms, None, Some(&remembered)).await.unwrap();

    let (listed, devices) = store.sessions_and_devices(&one.id).await.unwrap();
    let mut ids: Vec<String> = listed.iter().map(|s| s.id.clone()).collect();
    ids.sort();
    assert_eq!(ids, sorted(&[sessions[0].id.clone(), sessions[1].id.clone(), signed_in.id.clone()]), "every epoch");
    assert_eq!(devices.len(), 1);
    let found = store.device(&one.id, &remembered.id).await.unwrap().expect("stored");
    for device in [&devices[0], &found] {
        assert_eq!(
            (&device.account_id, &device.id, &device.secret_hash),
            (&one.id, &remembered.id, &remembered.secret_hash)
        );
        assert_eq!((device.epoch, device.created_at, device.expires_at), (0, T0, remembered.expires_at));
    }
    let (listed, devices) = store.sessions_and_devices(&two.id).await.unwrap();
    assert_eq!((listed.len(), devices.len()), (1, 0));
    assert!(store.device(&two.id, &remembered.id).await.unwrap().is_none());
    assert!(store.device(&one.id, &text()).await.unwrap().is_none());
    let (listed, devices) = store.sessions_and_devices(&text()).await.unwrap();
    assert!(listed.is_empty() && devices.is_empty());
}

pub async fn a_challenge_is_stored_open(store: &dyn Store) {
    let account = account(store).await;
    let reset = PendingReset {
        verification_id: VerificationId::generate(&mut rand::thread_rng()),
        token_hash: hash(),
        password_hash: "new-hash".into(),
    };
    let given =
        MfaChallenge { sms_code_hash: Some(hash()), attempts: 1, reset: Some(reset.clone()), ..challenge(&account) };
    store.put_challenge(&given).await.unwrap();
    let found = store.challenge(&given.id).await.unwrap().expect("open");
    assert_eq!((&found.id, &found.account_id, &found.methods), (&given.id, &given.account_id, &given.methods));
    assert_eq!((found.attempts, found.expires_at), (1, given.expires_at));
    assert_eq!(found.sms_code_hash, None, "no code is sent yet");
    assert_eq!((found.client.ip, found.client.user_agent), (given.client.ip.clone(), None));
    let found_reset = found.reset.expect("a reset");
    assert_eq!((&found_reset.verification_id, &found_reset.token_hash), (&reset.verification_id, &reset.token_hash));
    assert_eq!(found_reset.password_hash, reset.password_hash);
    assert!(store.put_challenge(&challenge(&account)).await.is_ok());
    assert!(store.put_challenge(&given).await.is_err(), "an id is stored once");
    assert!(store.challenge(&text()).await.unwrap().is_none());
}

pub async fn challenge_attempts_end_at_the_max_or_expiry(store: &dyn Store) {
    let account = account(store).await;
    let first = open_challenge(store, &account).await;
    for attempt in 1..=2 {
        let counted = store.count_challenge_attempt(&first.id, at(1), 2).await.unwrap().expect("counted");
        assert_eq!((counted.attempts, &counted.account_id, &counted.methods), (attempt, &account.id, &first.methods));
    }
    assert!(store.count_challenge_attempt(&first.id, at(1), 2).await.unwrap().is_none());
    assert_eq!(store.challenge(&first.id).await.unwrap().unwrap().attempts, 2);

    let second = open_challenge(store, &account).await;
    assert!(store.count_challenge_attempt(&second.id, at(299), 5).await.unwrap().is_some());
    assert!(store.count_challenge_attempt(&second.id, at(300), 5).await.unwrap().is_none(), "expired at 300");
    assert!(store.count_challenge_attempt(&text(), at(1), 5).await.unwrap().is_none());
}

pub async fn a_challenge_sms_waits_before_it_is_sent_again(store: &dyn Store) {
    let account = account(store).await;
    let challenge = open_challenge(store, &account).await;
    let (first, second) = (hash(), hash());
    let send = |code: &KeyedHash, now| {
        let (id, code) = (challenge.id.clone(), code.clone());
        async move { store.set_challenge_sms(&id, &code, now, RESEND_AFTER).await }
    };
    assert!(send(&first, T0).await.unwrap());
    assert_eq!(store.challenge(&challenge.id).await.unwrap().unwrap().sms_code_hash, Some(first.clone()));
    assert!(!send(&second, at(59)).await.unwrap());
    assert_eq!(store.challenge(&challenge.id).await.unwrap().unwrap().sms_code_hash, Some(first));
    assert!(send(&second, at(60)).await.unwrap());
    assert_eq!(
        store.count_challenge_attempt(&challenge.id, at(61), 5).await.unwrap().unwrap().sms_code_hash,
        Some(second.clone())
    );
    assert!(!send(&second, at(300)).await.unwrap(), "expired");
    assert!(!store.set_challenge_sms(&text(), &second, T0, RESEND_AFTER).await.unwrap());
    let closed = open_challenge(store, &account).await;
    store.complete_challenge(&closed, &session(&account, T0), &SecondFactorUse::Sms, None, None).await.unwrap();
    assert!(!store.set_challenge_sms(&closed.id, &second, T0, RESEND_AFTER).await.unwrap());
}

pub async fn a_challenge_is_completed_once(store: &dyn Store) {
    let account = account(store).await;
    let challenge = open_challenge(store, &account).await;
    let (signed_in, remembered) = (session(&account, at(5)), device(&account, at(5)));
    store.complete_challenge(&challenge, &signed_in, &SecondFactorUse::Sms, None, Some(&remembered)).await.unwrap();
    assert!(store.challenge(&challenge.id).await.unwrap().is_none());
    assert_eq!(stored_session(store, &signed_in).await.map(|s| s.secret_hash), Some(signed_in.secret_hash.clone()));
    assert!(store.device(&account.id, &remembered.id).await.unwrap().is_some());

    let (again, another) = (session(&account, at(6)), device(&account, at(6)));
    let replay = store.complete_challenge(&challenge, &again, &SecondFactorUse::Sms, None, Some(&another)).await;
    assert_refused!(replay, Error::ChallengeExpired);
    assert!(stored_session(store, &again).await.is_none());
    assert!(store.device(&account.id, &another.id).await.unwrap().is_none());
    let unknown = MfaChallenge { id: text(), ..challenge };
    let result = store.complete_challenge(&unknown, &again, &SecondFactorUse::Sms, None, None).await;
    assert_refused!(result, Error::ChallengeExpired);
}

pub async fn completing_a_challenge_uses_up_its_factor(store: &dyn Store) {
    let account = with_totp(store, &account(store).await, "sealed-1", 100, &["code-1", "code-2"]).await;
    let complete = |used: SecondFactorUse, resealed: Option<(&'static str, &'static str)>| {
        let account = account.clone();
        async move {
            let challenge = open_challenge(store, &account).await;
            let (signed_in, remembered) = (session(&account, T0), device(&account, T0));
            let result = store.complete_challenge(&challenge, &signed_in, &used, resealed, Some(&remembered)).await;
            if result.is_err() {
                assert!(store.challenge(&challenge.id).await.unwrap().is_some(), "a refusal leaves it open");
                assert!(stored_session(store, &signed_in).await.is_none());
                assert!(store.device(&account.id, &remembered.id).await.unwrap().is_none());
            }
            result
        }
    };
    complete(SecondFactorUse::TotpStep(101), None).await.expect("a newer step");
    assert_eq!(stored_account(store, &account.id).await.two_factor.totp_last_step, 101);
    assert_refused!(complete(SecondFactorUse::TotpStep(101), None).await, Error::InvalidCode { attempts_left: 0 });

    complete(SecondFactorUse::RecoveryCode("code-1".into()), None).await.expect("an unused code");
    assert_eq!(stored_account(store, &account.id).await.two_factor.recovery_codes, strings(&["code-2"]));
    assert_refused!(complete(SecondFactorUse::RecoveryCode("code-1".into()), None).await, Error::InvalidCode { .. });

    // A secret sealed under an old key moves to the new one, unless 2FA changed meanwhile.
    complete(SecondFactorUse::TotpStep(102), Some(("sealed-1", "sealed-2"))).await.expect("resealed");
    let stored = stored_account(store, &account.id).await.two_factor;
    assert_eq!((stored.totp_secret.as_deref(), stored.totp_last_step), (Some("sealed-2"), 102));
    let stale = complete(SecondFactorUse::TotpStep(103), Some(("sealed-1", "sealed-3"))).await;
    assert_refused!(stale, Error::InvalidCode { .. });
    let stored = stored_account(store, &account.id).await.two_factor;
    assert_eq!((stored.totp_secret.as_deref(), stored.totp_last_step), (Some("sealed-2"), 102));
}

pub async fn concurrent_answers_complete_a_challenge_once(store: &dyn Store) {
    let account = account(store).await;
    let challenge = open_challenge(store, &account).await;
    let sessions: Vec<SessionRecord> = (0..3).map(|_| session(&account, T0)).collect();
    let results =
        all(sessions.iter().map(|s| store.complete_challenge(&challenge, s, &SecondFactorUse::Sms, None, None))).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    assert!(results.iter().all(|r| matches!(r, Ok(()) | Err(Error::ChallengeExpired | Error::Conflict))));
    let (listed, _) = store.sessions_and_devices(&account.id).await.unwrap();
    assert_eq!(listed.len(), 1, "one sign-in");
}

// ---------------------------------------------------------------------------------------------
// Counters

pub async fn failures_are_counted_per_key_and_window(store: &dyn Store) {
    let counter = key("password-check");
    for _ in 0..3 {
        store.count_failure(&counter, hour(at(10))).await.unwrap();
    }
    assert_eq!(store.window_count(&counter, hour(at(3599))).await.unwrap(), 3, "one window");
    assert_eq!(store.window_count(&counter, hour(at(3600))).await.unwrap(), 0);
    assert_eq!(store.window_count(&key("password-check"), hour(T0)).await.unwrap(), 0);
    let short = Window::containing(at(10), secs(900));
    assert_eq!(store.window_count(&counter, short).await.unwrap(), 3, "windows are told apart by their start");
}

pub async fn count_within_stops_at_its_max(store: &dyn Store) {
    let counter = key("sms-country");
    let mut seen = Vec::new();
    for now in [T0, at(1), at(2), at(3)] {
        seen.push(store.count_within(&counter, hour(now), 2).await.unwrap());
    }
    assert_eq!(seen, [true, true, false, false]);
    assert_eq!(store.window_count(&counter, hour(T0)).await.unwrap(), 2, "a refusal is not counted");
    assert!(store.count_within(&counter, hour(at(3600)), 2).await.unwrap(), "a new window");
}

pub async fn concurrent_counts_never_pass_the_max(store: &dyn Store) {
    let counter = key("sms-country");
    let counted = all((0..10).map(|_| store.count_within(&counter, hour(T0), 4))).await;
    assert_eq!(counted.iter().filter(|c| matches!(c, Ok(true))).count(), 4, "{counted:?}");
    assert!(counted.iter().all(|c| c.is_ok()));
    assert_eq!(store.window_count(&counter, hour(T0)).await.unwrap(), 4);
}
