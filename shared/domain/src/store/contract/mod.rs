//! The store contract: what every [`Store`] does, checked alike against each implementation, so
//! that the in-memory store cannot drift from DynamoDB's. Each check takes a fresh store and
//! panics on a breach; [`store_contract_tests!`](crate::store_contract_tests) makes one test of
//! each (`shared/domain/tests/store_contract.rs` for `MemoryStore`, `tests/tests/api/store_contract.rs`
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
use crate::account::{Account, PendingSecondFactor, SecondFactor, TokenClaim};
use crate::error::Result;
use crate::limits::{Limit, LimitKey, Window};
use crate::password::PasswordHash;
use crate::second_factor::{MfaChallenge, MfaMethod};
use crate::secret::KeyedHash;
use crate::session::{ClientInfo, DeviceRecord, SessionRecord};
use crate::time::Timestamp;
use crate::two_factor::SecondFactorActivation;
use crate::verification::{Purpose, Verification, VerificationState};
use crate::{random_text, AccountId, Contact, EmailAddress, PhoneNumber, RandomId, VerificationId};

/// One `#[tokio::test]` per check of the contract, each on a fresh store from `$fresh().await`
/// (any value that derefs to a `Store`). This is the list of checks: one missing here runs nowhere.
#[macro_export]
macro_rules! store_contract_tests {
    ($fresh:path) => {
        $crate::store_contract_tests!(@each $fresh;
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
            a_second_factor_proves_turning_two_factor_off_and_new_codes,
            requests_dynamodb_refuses_as_malformed_write_nothing,
            deleting_an_account_frees_its_contacts_and_sessions,
            a_stale_account_is_not_deleted,
            sign_in_lookup_reads_the_owner_and_the_device,
            sessions_are_kept_until_deleted,
            sessions_and_devices_are_listed_per_account,
            a_challenge_is_stored_open,
            challenge_attempts_end_at_the_max_or_expiry,
            a_challenge_sms_waits_before_it_is_sent_again,
            a_challenge_is_completed_once,
            completing_a_challenge_uses_up_its_factor,
            failures_are_counted_per_key_and_window,
            count_within_stops_at_its_max,
            refunds_give_back_one_and_never_go_below_zero,
            a_message_is_claimed_counting_attempts_until_deleted,
            a_message_is_written_with_its_change_or_not_at_all,
            freeing_a_resend_ends_only_the_wait_of_the_newest_code,
            freeing_a_resend_ends_a_challenge_or_setup_wait,
            // Concurrent requests: what the conditions hold when requests race.
            concurrent_code_attempts_never_pass_the_max,
            concurrent_confirmations_confirm_once,
            concurrent_requests_never_pass_a_quota,
            concurrent_sign_ups_for_one_contact_make_one_account,
            concurrent_uses_of_one_token_change_one_account,
            concurrent_answers_complete_a_challenge_once,
            concurrent_counts_never_pass_the_max,
        );
    };
    (@each $fresh:path; $($check:ident),* $(,)?) => {
        $(
        #[tokio::test]
        async fn $check() {
            let store = $fresh().await;
            $crate::store::contract::$check(&*store).await;
        }
        )*
    };
}

/// The same for [`OidcStore`](super::OidcStore), apart while it is not part of `Store`.
#[macro_export]
macro_rules! oidc_store_contract_tests {
    ($fresh:path) => {
        $crate::store_contract_tests!(@each $fresh;
            clients_are_stored_as_given,
            an_interaction_is_taken_once_before_it_expires,
            a_code_is_exchanged_once_and_then_names_its_family,
            a_code_from_before_signing_out_everywhere_is_not_exchanged,
            a_family_rotates_only_from_its_current_token,
            consents_are_kept_per_account_and_client,
            concurrent_exchanges_of_one_code_exchange_once,
            concurrent_rotations_of_one_token_rotate_once,
        );
    };
}

/// The start of an hour: every check's clock starts here.
pub const T0: Timestamp = Timestamp(1_800_000_000);
pub(super) const HOUR: Duration = Duration::from_secs(3600);
pub(super) const CODE_TTL: Duration = Duration::from_secs(600);
pub(super) const TOKEN_TTL: Duration = Duration::from_secs(900);
pub(super) const RESEND_AFTER: Duration = Duration::from_secs(60);

macro_rules! assert_refused {
    ($result:expr, $pattern:pat $(if $guard:expr)?) => {{
        let result = $result;
        assert!(matches!(result, Err($pattern) $(if $guard)?), "expected {}, got {result:?}", stringify!($pattern));
    }};
}

pub(super) fn at(seconds: i64) -> Timestamp {
    Timestamp(T0.0 + seconds)
}

pub(super) fn secs(seconds: u64) -> Duration {
    Duration::from_secs(seconds)
}

pub(super) fn hour(now: Timestamp) -> Window {
    Window::containing(now, HOUR)
}

pub(super) fn text() -> String {
    random_text(&mut rand::thread_rng(), 16)
}

/// A fresh id of any kind: of an account, session, device or challenge no one has.
pub(super) fn new_id<Id: RandomId>() -> Id {
    Id::generate(&mut rand::thread_rng())
}

pub(super) fn key(scope: &str) -> LimitKey {
    LimitKey::from_stored(format!("{scope}:{}", text()))
}

pub(super) fn hash() -> KeyedHash {
    KeyedHash(rand::thread_rng().gen())
}

/// With capitals in its local part, which the store keeps, and in its domain, which it does not.
pub fn email() -> Contact {
    let address = format!("Person.{:012x}@Example.COM", rand::thread_rng().gen::<u64>() >> 16);
    Contact::Email(EmailAddress::parse(&address).expect("an email address"))
}

pub(super) fn phone() -> Contact {
    loop {
        let national = format!("9{:09}", rand::thread_rng().gen_range(0..1_000_000_000u64));
        if let Ok(phone) = PhoneNumber::parse(Some("+91"), &national) {
            return Contact::Phone(phone);
        }
    }
}

pub(super) fn new_verification(contact: Contact, purpose: Purpose, now: Timestamp) -> Verification {
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
pub(super) fn cooldown(verification: &Verification, now: Timestamp) -> Limit {
    Limit::Cooldown {
        key: verification.contact_key.clone(),
        until: now.plus(RESEND_AFTER),
        latest: verification.id.clone(),
    }
}

/// Stores a new verification (of a new email) under `limits`.
pub(super) async fn request(store: &dyn Store, limits: Vec<Limit>, now: Timestamp) -> Result<Verification> {
    let verification = new_verification(email(), Purpose::SignUp, now);
    store.create_verification(&verification, &limits, &[], now).await.map(|()| verification)
}

/// A stored code, the newest of its contact.
pub(super) async fn pending(store: &dyn Store, contact: Contact, purpose: Purpose) -> Verification {
    let verification = new_verification(contact, purpose, T0);
    store
        .create_verification(&verification, &[cooldown(&verification, T0)], &[], T0)
        .await
        .expect("a new verification");
    verification
}

/// A confirmed code: the claim that uses its token at `T0`.
pub(super) async fn verified(store: &dyn Store, contact: Contact, purpose: Purpose) -> TokenClaim {
    let verification = pending(store, contact, purpose).await;
    let token_hash = hash();
    assert!(store.mark_verified(&verification, &token_hash, T0.plus(TOKEN_TTL)).await.unwrap());
    let verification = stored_verification(store, &verification.id).await;
    TokenClaim { verification, token_hash, now: T0 }
}

pub(super) async fn stored_verification(store: &dyn Store, id: &VerificationId) -> Verification {
    store.verification(id).await.unwrap().expect("a stored verification")
}

/// The state of the claim's verification, by name.
pub(super) async fn token_state(store: &dyn Store, claim: &TokenClaim) -> &'static str {
    match stored_verification(store, &claim.verification.id).await.state {
        VerificationState::Pending => "pending",
        VerificationState::Verified { .. } => "verified",
        VerificationState::Consumed => "consumed",
    }
}

pub(super) fn new_account(primary: Contact) -> Account {
    let hash = PasswordHash::stored(format!("$argon2id$stand-in${}", text()));
    Account::new(new_id(), hash, primary, "2026-11".into(), T0)
}

pub(super) async fn stored_account(store: &dyn Store, id: &AccountId) -> Account {
    store.account(id).await.unwrap().expect("a stored account")
}

/// A new account whose primary contact is `primary`, created as a sign-up creates one.
pub async fn account_of(store: &dyn Store, primary: Contact) -> Account {
    let account = new_account(primary.clone());
    let claim = verified(store, primary, Purpose::SignUp).await;
    store.create_account(&account, &claim, None).await.expect("a new account");
    stored_account(store, &account.id).await
}

pub async fn account(store: &dyn Store) -> Account {
    account_of(store, email()).await
}

pub(super) async fn owner(store: &dyn Store, contact: &Contact) -> Option<AccountId> {
    store.account_for_contact(contact).await.unwrap()
}

/// Adds `contact` (newly verified) as the account's recovery contact; the account as stored then.
pub(super) async fn with_recovery(store: &dyn Store, account: &Account, contact: &Contact) -> Account {
    let claim = verified(store, contact.clone(), Purpose::AddContact).await;
    let replaced = account.recovery(contact.channel());
    store.add_recovery_contact(account, &claim, contact, replaced.as_ref(), &[]).await.expect("a recovery contact");
    stored_account(store, &account.id).await
}

pub(super) fn pending_factor(method: SecondFactor, now: Timestamp) -> PendingSecondFactor {
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
pub(super) async fn with_totp(
    store: &dyn Store,
    account: &Account,
    sealed: &str,
    step: i64,
    codes: &[&str],
) -> Account {
    let pending = pending_factor(SecondFactor::Totp, T0);
    assert!(store.start_second_factor(&account.id, &pending, RESEND_AFTER, &[]).await.unwrap());
    let activation = SecondFactorActivation {
        nonce: pending.nonce,
        method: SecondFactor::Totp,
        sealed_totp_secret: Some(sealed.to_owned()),
        totp_step: Some(step),
        recovery_code_hashes: codes.iter().map(|c| c.to_string()).collect(),
    };
    assert!(store.activate_second_factor(&account.id, &activation, &[]).await.unwrap());
    stored_account(store, &account.id).await
}

pub(super) fn sorted<T: Ord + Clone>(values: &[T]) -> Vec<T> {
    let mut values = values.to_vec();
    values.sort();
    values
}

pub(super) fn strings(values: &[&str]) -> Vec<String> {
    sorted(&values.iter().map(|v| v.to_string()).collect::<Vec<_>>())
}

pub(super) fn session(account: &Account, now: Timestamp) -> SessionRecord {
    SessionRecord {
        account_id: account.id.clone(),
        id: new_id(),
        secret_hash: hash(),
        epoch: account.session_epoch,
        created_at: now,
        expires_at: now.plus(secs(30 * 86_400)),
        client: ClientInfo { ip: Some("198.51.100.7".into()), user_agent: Some("contract/1.0".into()) },
        amr: vec![crate::oidc::decision::Amr::Pwd, crate::oidc::decision::Amr::Otp, crate::oidc::decision::Amr::Mfa],
    }
}

pub(super) fn device(account: &Account, now: Timestamp) -> DeviceRecord {
    DeviceRecord {
        account_id: account.id.clone(),
        id: new_id(),
        secret_hash: hash(),
        epoch: account.device_epoch,
        created_at: now,
        expires_at: now.plus(secs(30 * 86_400)),
    }
}

pub(super) fn challenge(account: &Account) -> MfaChallenge {
    MfaChallenge {
        id: new_id(),
        account_id: account.id.clone(),
        methods: vec![MfaMethod::Totp, MfaMethod::Sms, MfaMethod::RecoveryCode],
        attempts: 0,
        epoch: account.session_epoch,
        expires_at: at(300),
        sms_code_hash: None,
        client: ClientInfo { ip: Some("2001:db8::7".into()), user_agent: None },
        reset: None,
    }
}

pub(super) async fn open_challenge(store: &dyn Store, account: &Account) -> MfaChallenge {
    let challenge = challenge(account);
    store.put_challenge(&challenge).await.expect("a new challenge");
    challenge
}

/// A device remembered for `account` by completing a challenge, as a sign-in does.
pub(super) async fn remembered_device(store: &dyn Store, account: &Account) -> DeviceRecord {
    let remembered = device(account, T0);
    let challenge = open_challenge(store, account).await;
    let signed_in = session(account, T0);
    let used = crate::second_factor::SecondFactorUse::Sms;
    store.complete_challenge(&challenge, &signed_in, &used, None, Some(&remembered), &[]).await.expect("completed");
    remembered
}

pub(super) async fn stored_device(store: &dyn Store, account: &Account, id: &crate::DeviceId) -> Option<DeviceRecord> {
    store.sign_in_lookup(&account.primary, Some((&account.id, id))).await.unwrap().1
}

pub(super) async fn stored_session(store: &dyn Store, session: &SessionRecord) -> Option<SessionRecord> {
    store.account_with_session(&session.account_id, &session.id).await.unwrap().1
}

/// Polls every future until all are done, so their requests are in flight at once.
pub(super) async fn all<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
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

pub(super) fn assert_same_verification(stored: &Verification, expected: &Verification) {
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

// The checks, by aggregate; after the macros above, which they use.
mod accounts;
mod limits;
mod oidc;
mod outbox;
mod sessions;
mod verifications;

pub use accounts::*;
pub use limits::*;
pub use oidc::*;
pub use outbox::*;
pub use sessions::*;
pub use verifications::*;
