//! The account page (`domain::self_service`): password, recovery contacts, 2FA, sessions and
//! deleting the account, on the in-memory store.
#![cfg(feature = "memory")]

mod common;

use common::*;
use domain::account_page::add_recovery_contact;
use domain::notify::SecurityEvent;
use domain::password::Password;
use domain::second_factor::MfaMethod;
use domain::self_service::{
    change_password, delete_account, disable_two_factor, list_sessions, regenerate_recovery_codes,
    remove_recovery_contact, revoke_session, sign_out_everywhere, Proof,
};
use domain::sign_in::{complete_sign_in, MfaAnswer, SignInOutcome};
use domain::verification::Purpose;
use domain::{Contact, Error, Language, Result, Timestamp};
use rand::rngs::OsRng;

/// A new account signed in: its login and session.
async fn signed_up(w: &World, login: Contact) -> (Contact, String) {
    w.sign_up(&login, T0).await;
    let session = w.session(&login, PASSWORD, T0).await;
    (login, session)
}

/// Answers a sign-in challenge with a recovery code.
async fn recover(w: &World, login: &Contact, code: &str, now: Timestamp) -> Result<()> {
    let (challenge_id, _) = challenge_of(w.sign_in(login, PASSWORD, now).await);
    let answer = MfaAnswer {
        language: Language::English,
        challenge_id,
        method: MfaMethod::RecoveryCode,
        code: code.to_owned(),
        remember_device: false,
    };
    complete_sign_in(&w.services, answer, now, &mut OsRng).await.map(|_| ())
}

#[tokio::test]
async fn a_new_password_keeps_this_session_and_ends_the_others() {
    let w = world();
    let (login, here) = signed_up(&w, email()).await;
    let elsewhere = w.session(&login, PASSWORD, at(1)).await;
    let signed_in = w.signed_in(&here, at(2)).await;
    let (current, wrong_current) = (Password::new(PASSWORD), Password::new("Not-The-Passw0rd"));
    let (new, weak) = (Password::new(NEW_PASSWORD), Password::new("short"));
    let refused =
        change_password(&w.services, &signed_in, &wrong_current, &new, Language::English, at(3), &mut OsRng).await;
    assert!(matches!(refused, Err(Error::InvalidCredentials)), "{refused:?}");
    let refused = change_password(&w.services, &signed_in, &current, &weak, Language::English, at(3), &mut OsRng).await;
    assert!(matches!(refused, Err(Error::WeakPassword { .. })), "{refused:?}");

    change_password(&w.services, &signed_in, &current, &new, Language::English, at(4), &mut OsRng).await.unwrap();
    w.signed_in(&here, at(5)).await;
    assert!(matches!(w.authenticate(&elsewhere, at(5)).await, Err(Error::Unauthorized)));
    assert!(matches!(w.sign_in(&login, PASSWORD, at(6)).await, Err(Error::InvalidCredentials)));
    w.session(&login, NEW_PASSWORD, at(7)).await;
    assert!(w.sent().await.told(&login, SecurityEvent::PasswordChanged));
}

#[tokio::test]
async fn guessing_the_current_password_is_throttled_like_sign_in() {
    let w = world_with(&[("SIGN_IN_FAILURES_PER_LOGIN", "3")]);
    let (_, session) = signed_up(&w, email()).await;
    let signed_in = w.signed_in(&session, at(60)).await;
    let change = |current: &'static str, now| {
        let signed_in = &signed_in;
        let services = &w.services;
        async move {
            let new = Password::new(NEW_PASSWORD);
            change_password(services, signed_in, &Password::new(current), &new, Language::English, now, &mut OsRng)
                .await
        }
    };
    for second in 0..3 {
        assert!(matches!(change("Not-The-Passw0rd", at(60 + second)).await, Err(Error::InvalidCredentials)));
    }
    assert!(matches!(change(PASSWORD, at(100)).await, Err(Error::RateLimited { .. })), "even the right one");
    change(PASSWORD, at(15 * 60)).await.expect("the next window");
}

#[tokio::test]
async fn a_removed_recovery_contact_is_free_for_another_account() {
    let w = world();
    let (login, session) = signed_up(&w, email()).await;
    let recovery = phone();
    let token = w.token(&recovery, Purpose::AddContact, at(10)).await;
    add_recovery_contact(
        &w.services,
        &w.signed_in(&session, at(10)).await.account,
        &token,
        &password_proof(),
        Language::English,
        at(10),
        &mut OsRng,
    )
    .await
    .unwrap();
    let signed_in = w.signed_in(&session, at(20)).await;
    let proof = password_proof();
    let remove = |kind: &'static str| {
        let (services, signed_in, proof) = (&w.services, &signed_in, &proof);
        async move { remove_recovery_contact(services, signed_in, kind, proof, Language::English, at(20), &mut OsRng).await }
    };
    assert!(matches!(remove("email").await, Err(Error::PrimaryContact)));
    assert!(matches!(remove("fax").await, Err(Error::NotFound)));
    remove("phone").await.expect("removed");
    assert!(w.sent().await.told(&login, SecurityEvent::RecoveryContactRemoved));
    let signed_in = w.signed_in(&session, at(30)).await;
    assert!(signed_in.account.recovery_phone.is_none());
    let again =
        remove_recovery_contact(&w.services, &signed_in, "phone", &proof, Language::English, at(30), &mut OsRng).await;
    assert!(matches!(again, Err(Error::NotFound)), "{again:?}");
    w.sign_up(&recovery, at(120)).await;
}

#[tokio::test]
async fn two_factor_is_turned_off_by_the_password_or_a_recovery_code() {
    let w = world();
    let (login, session) = signed_up(&w, email()).await;
    let (_, codes) = w.enable_totp(&session, T0).await;
    let signed_in = w.signed_in(&session, at(10)).await;
    let off = |proof: Proof, now| {
        let signed_in = &signed_in;
        let services = &w.services;
        async move { disable_two_factor(services, signed_in, &proof, Language::English, now, &mut OsRng).await }
    };
    let refused = off(Proof::Password(Password::new("Not-The-Passw0rd")), at(11)).await;
    assert!(matches!(refused, Err(Error::InvalidCredentials)), "{refused:?}");
    assert!(matches!(off(Proof::Code("000000".into()), at(12)).await, Err(Error::InvalidCode { .. })));
    assert!(w.signed_in(&session, at(13)).await.account.two_factor_enabled());

    off(Proof::Code(codes[0].clone()), at(14)).await.expect("off by a recovery code");
    assert!(matches!(w.sign_in(&login, PASSWORD, at(15)).await, Ok(SignInOutcome::SignedIn(_))), "no second factor");
    assert!(w.sent().await.told(&login, SecurityEvent::TwoFactorOff));

    let (_, again) = signed_up(&w, email()).await;
    w.enable_totp(&again, at(20)).await;
    let signed_in = w.signed_in(&again, at(21)).await;
    disable_two_factor(
        &w.services,
        &signed_in,
        &Proof::Password(Password::new(PASSWORD)),
        Language::English,
        at(22),
        &mut OsRng,
    )
    .await
    .expect("off by the password");
    assert!(!w.signed_in(&again, at(23)).await.account.two_factor_enabled());
}

#[tokio::test]
async fn new_recovery_codes_replace_the_old_ones() {
    let w = world();
    let (login, session) = signed_up(&w, email()).await;
    let before = regenerate_recovery_codes(
        &w.services,
        &w.signed_in(&session, T0).await,
        &Proof::Password(Password::new(PASSWORD)),
        Language::English,
        T0,
        &mut OsRng,
    )
    .await;
    assert!(matches!(before, Err(Error::InvalidRequest(_))), "2FA is off: {before:?}");

    let (_, old) = w.enable_totp(&session, T0).await;
    let signed_in = w.signed_in(&session, at(10)).await;
    let proof = Proof::Password(Password::new(PASSWORD));
    let fresh = regenerate_recovery_codes(&w.services, &signed_in, &proof, Language::English, at(10), &mut OsRng)
        .await
        .unwrap()
        .recovery_codes;
    assert_eq!(fresh.len(), 10);
    assert!(fresh.iter().all(|code| !old.contains(code)));
    assert!(w.sent().await.told(&login, SecurityEvent::RecoveryCodesRegenerated));
    assert!(matches!(recover(&w, &login, &old[0], at(20)).await, Err(Error::InvalidCode { .. })), "old codes are gone");
    recover(&w, &login, &fresh[0], at(21)).await.expect("a new code");
}

#[tokio::test]
async fn sessions_and_remembered_devices_are_listed_and_revoked() {
    let w = world();
    let (login, here) = signed_up(&w, email()).await;
    let other = w.session(&login, PASSWORD, at(1)).await;
    let signed_in = w.signed_in(&here, at(2)).await;
    let listed = list_sessions(&w.services, &signed_in, at(2)).await.unwrap().sessions;
    assert_eq!(listed.len(), 2);
    let current: Vec<_> = listed.iter().filter(|s| s.current).collect();
    assert_eq!((current.len(), current[0].id.as_str()), (1, signed_in.session.id.as_str()));
    assert!(listed.iter().all(|s| s.kind == "session" && s.client_network.as_deref() == Some("198.51.100.0/24")));

    let other_id = w.signed_in(&other, at(3)).await.session.id;
    revoke_session(&w.services, &signed_in, other_id.as_str()).await.unwrap();
    assert!(matches!(w.authenticate(&other, at(4)).await, Err(Error::Unauthorized)));
    let listed = list_sessions(&w.services, &signed_in, at(4)).await.unwrap().sessions;
    assert_eq!(listed.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), [signed_in.session.id.as_str()]);

    // A remembered device is listed beside the sessions; an expired session is not.
    let (secret, _) = w.enable_totp(&here, at(10)).await;
    let (challenge_id, _) = challenge_of(w.sign_in(&login, PASSWORD, at(40)).await);
    let remember = MfaAnswer {
        language: Language::English,
        challenge_id,
        method: MfaMethod::Totp,
        code: totp_code(&secret, at(40)),
        remember_device: true,
    };
    complete_sign_in(&w.services, remember, at(40), &mut OsRng).await.unwrap();
    let listed = list_sessions(&w.services, &signed_in, at(41)).await.unwrap().sessions;
    let kinds: Vec<&str> = listed.iter().map(|s| s.kind).collect();
    assert_eq!((kinds.iter().filter(|k| **k == "session").count(), kinds.contains(&"device")), (2, true));
    let later = list_sessions(&w.services, &signed_in, at(30 * 86_400 + 20)).await.unwrap().sessions;
    assert_eq!(later.len(), 2, "the first session expired: {later:?}");
}

#[tokio::test]
async fn signing_out_everywhere_ends_every_session_and_forgets_devices() {
    let w = world();
    let (login, here) = signed_up(&w, email()).await;
    let other = w.session(&login, PASSWORD, at(1)).await;
    let (secret, _) = w.enable_totp(&here, at(2)).await;
    let (challenge_id, _) = challenge_of(w.sign_in(&login, PASSWORD, at(40)).await);
    let remember = MfaAnswer {
        language: Language::English,
        challenge_id,
        method: MfaMethod::Totp,
        code: totp_code(&secret, at(40)),
        remember_device: true,
    };
    let device = complete_sign_in(&w.services, remember, at(40), &mut OsRng).await.unwrap().device_token.unwrap();

    sign_out_everywhere(&w.services, &w.signed_in(&here, at(50)).await).await.unwrap();
    for session in [&here, &other] {
        assert!(matches!(w.authenticate(session, at(51)).await, Err(Error::Unauthorized)));
    }
    let forgotten = w.sign_in_with(&login, PASSWORD, Some(&device), at(52)).await;
    assert!(matches!(forgotten, Ok(SignInOutcome::MfaRequired { .. })), "{forgotten:?}");
}

#[tokio::test]
async fn a_deleted_account_needs_its_password_and_second_factor_and_frees_its_contact() {
    let w = world();
    let (login, session) = signed_up(&w, phone()).await;
    let (_, codes) = w.enable_totp(&session, T0).await;
    let signed_in = w.signed_in(&session, at(10)).await;
    let delete = |password: &'static str, code: Option<&str>, now| {
        let (signed_in, services, code) = (&signed_in, &w.services, code.map(str::to_owned));
        async move {
            let password = Password::new(password);
            delete_account(services, signed_in, &password, code.as_deref(), Language::English, now, &mut OsRng).await
        }
    };
    assert!(matches!(delete("Not-The-Passw0rd", None, at(11)).await, Err(Error::InvalidCredentials)));
    assert!(matches!(delete(PASSWORD, None, at(12)).await, Err(Error::InvalidRequest(_))), "2FA is on");
    assert!(matches!(delete(PASSWORD, Some("000000"), at(13)).await, Err(Error::InvalidCode { .. })));
    w.signed_in(&session, at(14)).await;

    delete(PASSWORD, Some(&codes[0]), at(15)).await.expect("deleted");
    assert!(matches!(w.authenticate(&session, at(16)).await, Err(Error::Unauthorized)));
    assert!(matches!(w.sign_in(&login, PASSWORD, at(17)).await, Err(Error::InvalidCredentials)));
    assert!(w.sent().await.told(&login, SecurityEvent::AccountDeleted));
    w.sign_up(&login, at(60)).await;
}
