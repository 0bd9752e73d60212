//! Signing in: sessions, devices and challenges.

use crate::error::Error;
use crate::password::PasswordHash;
use crate::second_factor::{MfaChallenge, PendingReset, SecondFactorUse};
use crate::secret::KeyedHash;
use crate::session::{ClientInfo, SessionRecord};
use crate::store::Store;
use crate::{SessionId, VerificationId};

use super::*;

pub async fn sign_in_lookup_reads_the_owner_and_the_device(store: &dyn Store) {
    let account = account(store).await;
    let remembered = remembered_device(store, &account).await;
    let named = (&account.id, &remembered.id);
    let (owner, device) = store.sign_in_lookup(&account.primary, Some(named)).await.unwrap();
    assert_eq!(owner, Some(account.id.clone()));
    let device = device.expect("stored");
    assert_eq!(
        (&device.account_id, &device.id, &device.secret_hash),
        (&account.id, &remembered.id, &remembered.secret_hash)
    );
    assert_eq!((device.epoch, device.expires_at), (remembered.epoch, remembered.expires_at));
    assert!(matches!(store.sign_in_lookup(&account.primary, None).await.unwrap(), (Some(_), None)));
    let (nobody, device) = store.sign_in_lookup(&phone(), Some(named)).await.unwrap();
    assert!(nobody.is_none() && device.is_some(), "the device is read whoever the login is");
    let unknown = new_id();
    assert!(store.sign_in_lookup(&account.primary, Some((&account.id, &unknown))).await.unwrap().1.is_none());
}

pub async fn sessions_are_kept_until_deleted(store: &dyn Store) {
    let account = account(store).await;
    let first = session(&account, T0);
    store.put_session(&first, &[]).await.unwrap();
    let (found_account, found) = store.account_with_session(&account.id, &first.id).await.unwrap();
    assert_eq!(found_account.map(|a| a.id), Some(account.id.clone()));
    let found = found.expect("stored");
    assert_eq!((&found.account_id, &found.id, &found.secret_hash), (&first.account_id, &first.id, &first.secret_hash));
    assert_eq!((found.epoch, found.created_at, found.expires_at), (first.epoch, first.created_at, first.expires_at));
    assert_eq!((found.client.ip, found.client.user_agent), (first.client.ip.clone(), first.client.user_agent.clone()));

    let replaced = SessionRecord { epoch: 4, expires_at: at(60), client: ClientInfo::default(), ..first.clone() };
    store.put_session(&replaced, &[]).await.unwrap();
    let found = stored_session(store, &first).await.expect("stored");
    assert_eq!((found.epoch, found.expires_at, found.client.ip, found.client.user_agent), (4, at(60), None, None));

    let (found_account, none) = store.account_with_session(&account.id, &new_id()).await.unwrap();
    assert!(found_account.is_some() && none.is_none());
    assert!(matches!(store.account_with_session(&new_id(), &first.id).await.unwrap(), (None, None)));
    store.delete_session(&account.id, &first.id).await.unwrap();
    assert!(stored_session(store, &first).await.is_none());
    store.delete_session(&account.id, &first.id).await.expect("deleting what is gone");

    // Revoking by an id ends the session or forgets the device it names, whichever it is.
    let (second, remembered) = (session(&account, at(2)), remembered_device(store, &account).await);
    store.put_session(&second, &[]).await.unwrap();
    store.revoke(&account.id, &second.id, &new_id()).await.unwrap();
    assert!(stored_session(store, &second).await.is_none());
    assert!(stored_device(store, &account, &remembered.id).await.is_some(), "another id");
    store.revoke(&account.id, &new_id(), &remembered.id).await.unwrap();
    assert!(stored_device(store, &account, &remembered.id).await.is_none());
}

pub async fn sessions_and_devices_are_listed_per_account(store: &dyn Store) {
    let (one, two) = (account(store).await, account(store).await);
    let sessions = [session(&one, T0), SessionRecord { epoch: 5, ..session(&one, at(1)) }, session(&two, T0)];
    for session in &sessions {
        store.put_session(session, &[]).await.unwrap();
    }
    let remembered = device(&one, T0);
    let challenge = open_challenge(store, &one).await;
    let signed_in = session(&one, at(2));
    store
        .complete_challenge(&challenge, &signed_in, &SecondFactorUse::Sms, None, Some(&remembered), &[])
        .await
        .unwrap();

    let (listed, devices) = store.sessions_and_devices(&one.id).await.unwrap();
    let mut ids: Vec<SessionId> = listed.iter().map(|s| s.id.clone()).collect();
    ids.sort();
    assert_eq!(ids, sorted(&[sessions[0].id.clone(), sessions[1].id.clone(), signed_in.id.clone()]), "every epoch");
    assert_eq!(devices.len(), 1);
    let found = stored_device(store, &one, &remembered.id).await.expect("stored");
    for device in [&devices[0], &found] {
        assert_eq!(
            (&device.account_id, &device.id, &device.secret_hash),
            (&one.id, &remembered.id, &remembered.secret_hash)
        );
        assert_eq!((device.epoch, device.created_at, device.expires_at), (0, T0, remembered.expires_at));
    }
    let (listed, devices) = store.sessions_and_devices(&two.id).await.unwrap();
    assert_eq!((listed.len(), devices.len()), (1, 0));
    assert!(stored_device(store, &two, &remembered.id).await.is_none());
    assert!(stored_device(store, &one, &new_id()).await.is_none());
    let (listed, devices) = store.sessions_and_devices(&new_id()).await.unwrap();
    assert!(listed.is_empty() && devices.is_empty());
}

pub async fn a_challenge_is_stored_open(store: &dyn Store) {
    let account = account(store).await;
    let reset = PendingReset {
        verification_id: VerificationId::generate(&mut rand::thread_rng()),
        token_hash: hash(),
        password_hash: PasswordHash::stored("new-hash".into()),
    };
    let given = MfaChallenge {
        sms_code_hash: Some(hash()),
        attempts: 1,
        epoch: 7,
        reset: Some(reset.clone()),
        ..challenge(&account)
    };
    store.put_challenge(&given).await.unwrap();
    let found = store.challenge(&given.id).await.unwrap().expect("open");
    assert_eq!((&found.id, &found.account_id, &found.methods), (&given.id, &given.account_id, &given.methods));
    assert_eq!((found.attempts, found.epoch, found.expires_at), (1, 7, given.expires_at));
    assert_eq!(found.sms_code_hash, None, "no code is sent yet");
    assert_eq!((found.client.ip, found.client.user_agent), (given.client.ip.clone(), None));
    let found_reset = found.reset.expect("a reset");
    assert_eq!((&found_reset.verification_id, &found_reset.token_hash), (&reset.verification_id, &reset.token_hash));
    assert_eq!(found_reset.password_hash, reset.password_hash);
    assert!(store.put_challenge(&challenge(&account)).await.is_ok());
    assert!(store.put_challenge(&given).await.is_err(), "an id is stored once");
    assert!(store.challenge(&new_id()).await.unwrap().is_none());
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
    assert!(store.count_challenge_attempt(&new_id(), at(1), 5).await.unwrap().is_none());
}

pub async fn a_challenge_sms_waits_before_it_is_sent_again(store: &dyn Store) {
    let account = account(store).await;
    let challenge = open_challenge(store, &account).await;
    let (first, second) = (hash(), hash());
    let send = |code: &KeyedHash, now| {
        let (id, code) = (challenge.id.clone(), code.clone());
        async move { store.set_challenge_sms(&id, &code, now, RESEND_AFTER, &[]).await }
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
    assert!(!store.set_challenge_sms(&new_id(), &second, T0, RESEND_AFTER, &[]).await.unwrap());
    let closed = open_challenge(store, &account).await;
    store.complete_challenge(&closed, &session(&account, T0), &SecondFactorUse::Sms, None, None, &[]).await.unwrap();
    assert!(!store.set_challenge_sms(&closed.id, &second, T0, RESEND_AFTER, &[]).await.unwrap());
}

pub async fn a_challenge_is_completed_once(store: &dyn Store) {
    let account = account(store).await;
    let challenge = open_challenge(store, &account).await;
    let (signed_in, remembered) = (session(&account, at(5)), device(&account, at(5)));
    store
        .complete_challenge(&challenge, &signed_in, &SecondFactorUse::Sms, None, Some(&remembered), &[])
        .await
        .unwrap();
    assert!(store.challenge(&challenge.id).await.unwrap().is_none());
    assert_eq!(stored_session(store, &signed_in).await.map(|s| s.secret_hash), Some(signed_in.secret_hash.clone()));
    assert!(stored_device(store, &account, &remembered.id).await.is_some());

    let (again, another) = (session(&account, at(6)), device(&account, at(6)));
    let replay = store.complete_challenge(&challenge, &again, &SecondFactorUse::Sms, None, Some(&another), &[]).await;
    assert_refused!(replay, Error::ChallengeExpired);
    assert!(stored_session(store, &again).await.is_none());
    assert!(stored_device(store, &account, &another.id).await.is_none());
    let unknown = MfaChallenge { id: new_id(), ..challenge };
    let result = store.complete_challenge(&unknown, &again, &SecondFactorUse::Sms, None, None, &[]).await;
    assert_refused!(result, Error::ChallengeExpired);
}

pub async fn completing_a_challenge_uses_up_its_factor(store: &dyn Store) {
    let account = with_totp(store, &account(store).await, "sealed-1", 100, &["code-1", "code-2"]).await;
    let complete = |used: SecondFactorUse, resealed: Option<(&'static str, &'static str)>| {
        let account = account.clone();
        async move {
            let challenge = open_challenge(store, &account).await;
            let (signed_in, remembered) = (session(&account, T0), device(&account, T0));
            let result =
                store.complete_challenge(&challenge, &signed_in, &used, resealed, Some(&remembered), &[]).await;
            if result.is_err() {
                assert!(store.challenge(&challenge.id).await.unwrap().is_some(), "a refusal leaves it open");
                assert!(stored_session(store, &signed_in).await.is_none());
                assert!(stored_device(store, &account, &remembered.id).await.is_none());
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
        all(sessions.iter().map(|s| store.complete_challenge(&challenge, s, &SecondFactorUse::Sms, None, None, &[])))
            .await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    assert!(results.iter().all(|r| matches!(r, Ok(()) | Err(Error::ChallengeExpired | Error::Conflict))));
    let (listed, _) = store.sessions_and_devices(&account.id).await.unwrap();
    assert_eq!(listed.len(), 1, "one sign-in");
}
