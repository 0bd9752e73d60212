//! Accounts, their contacts, second factors and changes.

use crate::account::{Account, AccountChange, SecondFactor, TokenClaim, TwoFactorChange};
use crate::error::{Error, Result};
use crate::idempotency::IdempotencyRecord;
use crate::password::PasswordHash;
use crate::second_factor::SecondFactorUse;
use crate::store::Store;
use crate::two_factor::SecondFactorActivation;
use crate::verification::Purpose;
use crate::{AccountId, Contact, EmailAddress, SessionId};

use super::*;

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
    assert!(store.account(&new_id()).await.unwrap().is_none());
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
    assert!(store.start_second_factor(&account.id, &first, RESEND_AFTER, &[]).await.unwrap());
    let stored = stored_account(store, &account.id).await.two_factor.pending.expect("a setup");
    assert_eq!((&stored.nonce, stored.method, stored.attempts), (&first.nonce, SecondFactor::Sms, 0));
    assert_eq!((&stored.sealed_totp_secret, &stored.code_hash), (&None, &first.code_hash));
    assert_eq!((stored.created_at, stored.expires_at), (first.created_at, first.expires_at));

    let early = pending_factor(SecondFactor::Totp, at(59));
    assert!(!store.start_second_factor(&account.id, &early, RESEND_AFTER, &[]).await.unwrap());
    assert_eq!(stored_account(store, &account.id).await.two_factor.pending.unwrap().nonce, first.nonce);
    let later = pending_factor(SecondFactor::Totp, at(60));
    assert!(store.start_second_factor(&account.id, &later, RESEND_AFTER, &[]).await.unwrap());
    let stored = stored_account(store, &account.id).await.two_factor.pending.expect("a setup");
    assert_eq!((&stored.nonce, stored.method), (&later.nonce, SecondFactor::Totp));
    assert_eq!((&stored.sealed_totp_secret, &stored.code_hash), (&later.sealed_totp_secret, &None));
    assert!(!store.start_second_factor(&new_id(), &later, RESEND_AFTER, &[]).await.unwrap(), "no such account");
}

pub async fn second_factor_attempts_count_per_setup(store: &dyn Store) {
    let account = account(store).await;
    let first = pending_factor(SecondFactor::Totp, T0);
    assert!(store.start_second_factor(&account.id, &first, RESEND_AFTER, &[]).await.unwrap());
    let id = &account.id;
    let count = |nonce: String| async move { store.count_second_factor_attempt(id, &nonce, 2).await.unwrap() };
    assert!(count(first.nonce.clone()).await && count(first.nonce.clone()).await);
    assert!(!count(first.nonce.clone()).await, "out of attempts");
    assert!(!count(text()).await, "another setup");
    assert_eq!(stored_account(store, &account.id).await.two_factor.pending.unwrap().attempts, 2);
    let second = pending_factor(SecondFactor::Totp, at(60));
    assert!(store.start_second_factor(&account.id, &second, RESEND_AFTER, &[]).await.unwrap());
    assert!(!count(first.nonce).await, "the earlier setup is gone");
    assert!(count(second.nonce).await, "a new setup has its own attempts");
    assert!(!store.count_second_factor_attempt(&new_id(), &text(), 2).await.unwrap());
}

pub async fn a_second_factor_is_activated_once(store: &dyn Store) {
    let account = account(store).await;
    let totp = pending_factor(SecondFactor::Totp, T0);
    assert!(store.start_second_factor(&account.id, &totp, RESEND_AFTER, &[]).await.unwrap());
    let activation = SecondFactorActivation {
        nonce: totp.nonce.clone(),
        method: SecondFactor::Totp,
        sealed_totp_secret: Some("sealed-a".into()),
        totp_step: Some(7),
        recovery_code_hashes: strings(&["code-1", "code-2"]),
    };
    let elsewhere = SecondFactorActivation { nonce: text(), ..activation.clone() };
    assert!(!store.activate_second_factor(&account.id, &elsewhere, &[]).await.unwrap());
    assert!(!stored_account(store, &account.id).await.two_factor_enabled());
    assert!(store.activate_second_factor(&account.id, &activation, &[]).await.unwrap());
    let on = stored_account(store, &account.id).await.two_factor;
    assert_eq!((on.methods.as_slice(), on.totp_secret.as_deref()), ([SecondFactor::Totp].as_slice(), Some("sealed-a")));
    assert_eq!((on.totp_last_step, sorted(&on.recovery_codes)), (7, strings(&["code-1", "code-2"])));
    assert!(on.pending.is_none());
    assert!(!store.activate_second_factor(&account.id, &activation, &[]).await.unwrap(), "once");

    // A second method joins the first; its recovery codes replace the earlier ones.
    let sms = pending_factor(SecondFactor::Sms, T0);
    assert!(store.start_second_factor(&account.id, &sms, RESEND_AFTER, &[]).await.unwrap());
    let activation = SecondFactorActivation {
        nonce: sms.nonce,
        method: SecondFactor::Sms,
        sealed_totp_secret: None,
        totp_step: None,
        recovery_code_hashes: strings(&["code-3"]),
    };
    assert!(store.activate_second_factor(&account.id, &activation, &[]).await.unwrap());
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
    store.add_recovery_contact(&account, &claim, &first, None, &[]).await.expect("added");
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
    assert_refused!(store.add_recovery_contact(&account, &taken, &other.primary, None, &[]).await, Error::ContactInUse);
    assert_eq!(owner(store, &other.primary).await, Some(other.id.clone()));
    assert_eq!(token_state(store, &taken).await, "verified");
    unchanged("in use").await;

    let stale = phone();
    let result = store.add_recovery_contact(&account, &claim, &contact, Some(&stale), &[]).await;
    assert_refused!(result, Error::Conflict);
    unchanged("replacing a contact the account does not have").await;

    let expired = TokenClaim { now: at(900), ..claim.clone() };
    assert_refused!(
        store.add_recovery_contact(&account, &expired, &contact, None, &[]).await,
        Error::VerificationExpired
    );
    unchanged("expired token").await;
    let forged = TokenClaim { token_hash: hash(), ..claim.clone() };
    assert_refused!(
        store.add_recovery_contact(&account, &forged, &contact, None, &[]).await,
        Error::VerificationExpired
    );
    unchanged("another token").await;

    // Meanwhile another request gave the account a recovery phone.
    let meanwhile = with_recovery(store, &account, &phone()).await;
    assert_refused!(store.add_recovery_contact(&account, &claim, &contact, None, &[]).await, Error::Conflict);
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
    store.put_session(&current, &[]).await.unwrap();
    let change = AccountChange {
        tokens: vec![&reset, &second],
        challenge: Some(&challenge.id),
        password_hash: Some(PasswordHash::stored("new-hash".into())),
        sign_out_everywhere: Some(0),
        forget_devices: true,
        keep_session: Some(&current),
        ..AccountChange::of(&account.id)
    };
    store.change_account(&change).await.expect("changed");
    let stored = stored_account(store, &account.id).await;
    assert_eq!((stored.password_hash.as_str(), stored.session_epoch, stored.device_epoch), ("new-hash", 1, 1));
    assert_eq!(token_state(store, &reset).await, "consumed");
    assert_eq!(token_state(store, &second).await, "consumed");
    assert!(store.challenge(&challenge.id).await.unwrap().is_none(), "closed");
    assert!(store.count_challenge_attempt(&challenge.id, at(1), 5).await.unwrap().is_none());
    assert_eq!(stored_session(store, &current).await.expect("kept").epoch, 1, "kept in the new epoch");

    let again = AccountChange { sign_out_everywhere: Some(1), forget_devices: true, ..AccountChange::of(&account.id) };
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
    store.change_account(&AccountChange { tokens: vec![&used], ..AccountChange::of(&account.id) }).await.unwrap();
    let claim = verified(store, account.primary.clone(), Purpose::ResetPassword).await;
    let challenge = open_challenge(store, &account).await;
    let closed = open_challenge(store, &account).await;
    store
        .change_account(&AccountChange { challenge: Some(&closed.id), ..AccountChange::of(&account.id) })
        .await
        .unwrap();
    let current = session(&account, T0);
    let stranger = phone();

    let cases: Vec<(&str, AccountChange<'_>, Expected)> = vec![
        (
            "a used token",
            AccountChange {
                tokens: vec![&claim, &used],
                challenge: Some(&challenge.id),
                ..AccountChange::of(&account.id)
            },
            |r| matches!(r, Err(Error::VerificationExpired)),
        ),
        (
            "a closed challenge",
            AccountChange { tokens: vec![&claim], challenge: Some(&closed.id), ..AccountChange::of(&account.id) },
            |r| matches!(r, Err(Error::ChallengeExpired)),
        ),
        (
            "an epoch that is not the account's",
            AccountChange { tokens: vec![&claim], sign_out_everywhere: Some(3), ..AccountChange::of(&account.id) },
            |r| matches!(r, Err(Error::Conflict)),
        ),
        (
            "a recovery contact the account does not have",
            AccountChange { tokens: vec![&claim], remove_recovery: Some(&stranger), ..AccountChange::of(&account.id) },
            |r| matches!(r, Err(Error::Conflict)),
        ),
    ];
    // The epoch check needs a stored epoch: sign out everywhere once.
    store
        .change_account(&AccountChange { sign_out_everywhere: Some(0), ..AccountChange::of(&account.id) })
        .await
        .unwrap();
    for (label, parts, expected) in cases {
        let change = AccountChange {
            password_hash: Some(PasswordHash::stored("changed".into())),
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
    let nobody_id = AccountId::stored("nobody".into());
    let nobody = AccountChange { tokens: vec![&claim], ..AccountChange::of(&nobody_id) };
    assert_refused!(store.change_account(&nobody).await, Error::Conflict);
    assert_eq!(token_state(store, &claim).await, "verified");
    assert!(store.account(&nobody_id).await.unwrap().is_none());
}

pub async fn an_account_change_uses_up_its_second_factor(store: &dyn Store) {
    let account = with_totp(store, &account(store).await, "sealed", 100, &["code-1", "code-2", "code-3"]).await;
    let using = |factor: &SecondFactorUse| {
        let factor = factor.clone();
        let id = account.id.clone();
        async move {
            let change = AccountChange {
                factor: Some(&factor),
                password_hash: Some(PasswordHash::stored(format!("proved-by-{factor:?}"))),
                ..AccountChange::of(&id)
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
        AccountChange { factor, two_factor: Some(TwoFactorChange::Off), ..AccountChange::of(&account.id) }
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
    let by_password = AccountChange { two_factor: Some(TwoFactorChange::Off), ..AccountChange::of(&other.id) };
    store.change_account(&by_password).await.expect("off by password");
    assert!(!stored_account(store, &other.id).await.two_factor_enabled());
}

pub async fn new_recovery_codes_replace_the_old(store: &dyn Store) {
    let account = with_totp(store, &account(store).await, "sealed", 100, &["code-1", "code-2"]).await;
    let renew = AccountChange {
        two_factor: Some(TwoFactorChange::NewRecoveryCodes(strings(&["code-3", "code-4"]))),
        ..AccountChange::of(&account.id)
    };
    store.change_account(&renew).await.expect("renewed");
    let stored = stored_account(store, &account.id).await.two_factor;
    assert_eq!(sorted(&stored.recovery_codes), strings(&["code-3", "code-4"]));
    assert_eq!((stored.totp_secret.as_deref(), stored.methods.len()), (Some("sealed"), 1), "2FA stays on");
}

pub async fn removing_a_recovery_contact_frees_it(store: &dyn Store) {
    let contact = phone();
    let account = with_recovery(store, &account(store).await, &contact).await;
    let remove = AccountChange { remove_recovery: Some(&contact), ..AccountChange::of(&account.id) };
    store.change_account(&remove).await.expect("removed");
    assert!(stored_account(store, &account.id).await.recovery_phone.is_none());
    assert_eq!(owner(store, &contact).await, None);
    assert_refused!(store.change_account(&remove).await, Error::Conflict);
}

/// Requests DynamoDB refuses as malformed (a `ValidationException`, so `Error::Internal`) before it
/// reads an item, so nothing is written: an update that sets and removes one attribute, a
/// transaction that names one item twice. Domain flows send each of them today (see each case).
pub async fn a_second_factor_proves_turning_two_factor_off_and_new_codes(store: &dyn Store) {
    let totp =
        |store| async move { with_totp(store, &account(store).await, "sealed", 100, &["code-1", "code-2"]).await };
    // Turning 2FA off proved by a TOTP code (`self_service::disable_two_factor`): a used step is refused.
    let account = totp(store).await;
    let used = SecondFactorUse::TotpStep(100);
    let replayed =
        AccountChange { factor: Some(&used), two_factor: Some(TwoFactorChange::Off), ..AccountChange::of(&account.id) };
    assert_refused!(store.change_account(&replayed).await, Error::InvalidCode { .. });
    assert_eq!(stored_account(store, &account.id).await.two_factor.methods, [SecondFactor::Totp]);
    let step = SecondFactorUse::TotpStep(101);
    let off =
        AccountChange { factor: Some(&step), two_factor: Some(TwoFactorChange::Off), ..AccountChange::of(&account.id) };
    store.change_account(&off).await.expect("2FA off by a TOTP code");
    let stored = stored_account(store, &account.id).await.two_factor;
    assert!(stored.methods.is_empty() && stored.recovery_codes.is_empty() && stored.totp_secret.is_none());
    // New recovery codes proved by a recovery code (`self_service::regenerate_recovery_codes`).
    let account = totp(store).await;
    let unknown = SecondFactorUse::RecoveryCode("code-9".into());
    let new_codes = || Some(TwoFactorChange::NewRecoveryCodes(strings(&["code-3", "code-4"])));
    let guessed = AccountChange { factor: Some(&unknown), two_factor: new_codes(), ..AccountChange::of(&account.id) };
    assert_refused!(store.change_account(&guessed).await, Error::InvalidCode { .. });
    let code = SecondFactorUse::RecoveryCode("code-1".into());
    let renew = AccountChange { factor: Some(&code), two_factor: new_codes(), ..AccountChange::of(&account.id) };
    store.change_account(&renew).await.expect("new codes by a recovery code");
    let stored = stored_account(store, &account.id).await.two_factor;
    assert_eq!(sorted(&stored.recovery_codes), strings(&["code-3", "code-4"]));
}

pub async fn requests_dynamodb_refuses_as_malformed_write_nothing(store: &dyn Store) {
    let account = account(store).await;
    // The same token twice in one change.
    let claim = verified(store, account.primary.clone(), Purpose::ResetPassword).await;
    let twice = AccountChange { tokens: vec![&claim, &claim], ..AccountChange::of(&account.id) };
    assert_refused!(store.change_account(&twice).await, Error::Internal(_));
    assert_eq!(token_state(store, &claim).await, "verified");
    // Adding again the recovery contact the account has (`account_page::add_recovery_contact`
    // answers `contact_in_use` before it asks).
    let contact = phone();
    let account = with_recovery(store, &account, &contact).await;
    let claim = verified(store, contact.clone(), Purpose::AddContact).await;
    assert_refused!(
        store.add_recovery_contact(&account, &claim, &contact, Some(&contact), &[]).await,
        Error::Internal(_)
    );
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
            tokens: vec![&claim],
            password_hash: Some(PasswordHash::stored("changed".into())),
            ..AccountChange::of(&a.id)
        })
        .collect();
    let results = all(changes.iter().map(|change| store.change_account(change))).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    assert!(results.iter().all(|r| matches!(r, Ok(()) | Err(Error::VerificationExpired | Error::Conflict))));
    let mut changed = 0;
    for account in &accounts {
        changed += usize::from(stored_account(store, &account.id).await.password_hash.as_str() == "changed");
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
        store.put_session(session, &[]).await.unwrap();
    }
    let challenge = open_challenge(store, &account).await;
    let signed_in = session(&account, T0);
    store
        .complete_challenge(&challenge, &signed_in, &SecondFactorUse::Sms, None, Some(&remembered), &[])
        .await
        .unwrap();
    let (listed, devices) = store.sessions_and_devices(&account.id).await.unwrap();
    let ids: Vec<SessionId> = listed.iter().map(|s| s.id.clone()).collect();
    assert_eq!((ids.len(), devices.len()), (3, 1));

    store.delete_account(&account, &ids, std::slice::from_ref(&remembered.id), &[]).await.expect("deleted");
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
    store.put_session(&current, &[]).await.unwrap();
    // A recovery email the account no longer holds (another request removed it meanwhile).
    let mut stale = account.clone();
    let Contact::Email(gone) = email() else { unreachable!() };
    stale.recovery_email = Some(gone);
    assert_refused!(store.delete_account(&stale, std::slice::from_ref(&current.id), &[], &[]).await, Error::Conflict);
    assert!(store.account(&account.id).await.unwrap().is_some());
    assert_eq!(owner(store, &account.primary).await, Some(account.id.clone()));
    assert!(stored_session(store, &current).await.is_some());

    // A recovery phone added since the account was read, by a concurrent request: deleting the
    // account as read would leave it claimed by no account, for good.
    let added = phone();
    with_recovery(store, &account, &added).await;
    assert_refused!(store.delete_account(&account, &[], &[], &[]).await, Error::Conflict);
    assert!(store.account(&account.id).await.unwrap().is_some());
    assert_eq!(owner(store, &added).await, Some(account.id.clone()));
}
