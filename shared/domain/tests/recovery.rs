//! Forgot password (`domain::recovery`), with and without a second factor, on the in-memory store.
#![cfg(feature = "memory")]

mod common;

use common::*;
use domain::account::SecondFactor;
use domain::account_page::add_recovery_contact;
use domain::notify::SecurityEvent;
use domain::password::Password;
use domain::recovery::{complete_reset, reset_password, ResetAnswer, ResetOutcome, ResetRequest};
use domain::second_factor::MfaMethod;
use domain::sign_in::{complete_sign_in, MfaAnswer, SecondFactorRequired, SignInOutcome};
use domain::two_factor::{confirm_two_factor, start_two_factor};
use domain::verification::Purpose;
use domain::{Contact, Error, Language, Result, Timestamp};
use rand::rngs::OsRng;

async fn reset(w: &World, token: &str, password: &str, now: Timestamp) -> Result<ResetOutcome> {
    let request = ResetRequest { verification_token: token.to_owned(), password: Password::new(password) };
    reset_password(&w.services, request, Language::English, now, &mut OsRng).await
}

/// The challenge a reset with 2FA on asks to answer.
fn reset_challenge(outcome: Result<ResetOutcome>) -> (String, Vec<MfaMethod>) {
    match outcome {
        Ok(ResetOutcome::MfaRequired(SecondFactorRequired { challenge_id, methods })) => {
            (challenge_id.to_string(), methods)
        }
        other => panic!("expected a second-factor challenge, got {other:?}"),
    }
}

async fn answer(w: &World, challenge: &str, method: MfaMethod, code: &str, now: Timestamp) -> Result<()> {
    let answer = ResetAnswer {
        challenge_id: challenge.to_owned(),
        method,
        code: Some(code.to_owned()),
        verification_token: None,
    };
    complete_reset(&w.services, answer, Language::English, now, &mut OsRng).await
}

async fn answer_by_contact(w: &World, challenge: &str, token: &str, now: Timestamp) -> Result<()> {
    let answer = ResetAnswer {
        challenge_id: challenge.to_owned(),
        method: MfaMethod::SecondContact,
        code: None,
        verification_token: Some(token.to_owned()),
    };
    complete_reset(&w.services, answer, Language::English, now, &mut OsRng).await
}

/// Which password signs in now: `Some(true)` for the old one, `Some(false)` for the new one.
async fn password_in_use(w: &World, login: &Contact, now: Timestamp) -> Option<bool> {
    let accepted = |outcome: Result<SignInOutcome>| outcome.is_ok();
    match (accepted(w.sign_in(login, PASSWORD, now).await), accepted(w.sign_in(login, NEW_PASSWORD, now).await)) {
        (true, false) => Some(true),
        (false, true) => Some(false),
        _ => None,
    }
}

/// An account with TOTP on: its login, session, the app's secret and the recovery codes.
async fn with_totp(w: &World, login: Contact) -> (Contact, String, String, Vec<String>) {
    w.sign_up(&login, T0).await;
    let session = w.session(&login, PASSWORD, T0).await;
    let (secret, codes) = w.enable_totp(&session, T0).await;
    (login, session, secret, codes)
}

#[tokio::test]
async fn a_reset_sets_the_password_signs_out_everywhere_and_tells_the_owner_by_email() {
    let w = world();
    let login = email();
    w.sign_up(&login, T0).await;
    let session = w.session(&login, PASSWORD, T0).await;
    let recovery = phone();
    let token = w.token(&recovery, Purpose::AddContact, at(10)).await;
    let account = w.signed_in(&session, at(10)).await.account;
    add_recovery_contact(&w.services, &account, &token, &password_proof(), Language::English, at(10), &mut OsRng)
        .await
        .unwrap();

    let token = w.token(&recovery, Purpose::ResetPassword, at(100)).await;
    assert!(matches!(reset(&w, &token, NEW_PASSWORD, at(110)).await, Ok(ResetOutcome::Done)));
    assert_eq!(password_in_use(&w, &login, at(120)).await, Some(false));
    assert!(matches!(w.authenticate(&session, at(121)).await, Err(Error::Unauthorized)), "signed out");
    // By email, where the account has one: an SMS costs, and may be what a fraudster farms.
    assert!(w.sent().await.told(&login, SecurityEvent::PasswordReset));
    assert!(!w.sent().await.told(&recovery, SecurityEvent::PasswordReset));
}

#[tokio::test]
async fn a_reset_token_resets_once_and_only_resets() {
    let w = world();
    let login = phone();
    w.sign_up(&login, T0).await;
    let token = w.token(&login, Purpose::ResetPassword, at(60)).await;
    reset(&w, &token, NEW_PASSWORD, at(70)).await.unwrap();
    assert!(matches!(reset(&w, &token, "Another-Passw0rd!", at(71)).await, Err(Error::VerificationExpired)));
    assert_eq!(password_in_use(&w, &login, at(72)).await, Some(false));

    let late = w.token(&login, Purpose::ResetPassword, at(120)).await;
    assert!(matches!(reset(&w, &late, PASSWORD, at(120 + 900)).await, Err(Error::VerificationExpired)));
    // A token for another purpose proves the contact, but not for a reset.
    let stranger = email();
    let sign_up = w.token(&stranger, Purpose::SignUp, T0).await;
    assert!(matches!(reset(&w, &sign_up, NEW_PASSWORD, at(1)).await, Err(Error::VerificationExpired)));
    let add_contact = w.token(&login, Purpose::AddContact, at(180)).await;
    assert!(matches!(reset(&w, &add_contact, PASSWORD, at(181)).await, Err(Error::VerificationExpired)));
    assert_eq!(password_in_use(&w, &login, at(182)).await, Some(false));
}

#[tokio::test]
async fn a_weak_password_changes_nothing() {
    let w = world();
    let login = email();
    w.sign_up(&login, T0).await;
    let session = w.session(&login, PASSWORD, T0).await;
    let token = w.token(&login, Purpose::ResetPassword, at(60)).await;
    assert!(matches!(reset(&w, &token, "password", at(61)).await, Err(Error::WeakPassword { .. })));
    assert_eq!(password_in_use(&w, &login, at(62)).await, Some(true));
    w.signed_in(&session, at(63)).await;
    reset(&w, &token, NEW_PASSWORD, at(64)).await.expect("the token is still good");
}

#[tokio::test]
async fn with_an_authenticator_app_a_reset_needs_its_code_and_forgets_remembered_devices() {
    let w = world();
    let (login, _, secret, _) = with_totp(&w, email()).await;
    // A device remembered at sign-in.
    let (challenge, _) = challenge_of(w.sign_in(&login, PASSWORD, at(30)).await);
    let remember = MfaAnswer {
        language: Language::English,
        challenge_id: challenge,
        method: MfaMethod::Totp,
        code: totp_code(&secret, at(30)),
        remember_device: true,
    };
    let device = complete_sign_in(&w.services, remember, at(30), &mut OsRng).await.unwrap().device_token.unwrap();

    let token = w.token(&login, Purpose::ResetPassword, at(60)).await;
    let (challenge, methods) = reset_challenge(reset(&w, &token, NEW_PASSWORD, at(61)).await);
    assert_eq!(methods, [MfaMethod::Totp, MfaMethod::RecoveryCode]);
    let right = totp_code(&secret, at(62));
    let refused = answer(&w, &challenge, MfaMethod::Totp, &wrong(&right), at(62)).await;
    assert!(matches!(refused, Err(Error::InvalidCode { attempts_left: 4 })), "{refused:?}");
    assert!(matches!(w.sign_in(&login, NEW_PASSWORD, at(62)).await, Err(Error::InvalidCredentials)), "not yet");

    answer(&w, &challenge, MfaMethod::Totp, &right, at(63)).await.expect("the app's code");
    let forgotten = w.sign_in_with(&login, NEW_PASSWORD, Some(&device), at(64)).await;
    assert!(matches!(forgotten, Ok(SignInOutcome::MfaRequired { .. })), "{forgotten:?}");
    let again = answer(&w, &challenge, MfaMethod::Totp, &totp_code(&secret, at(90)), at(90)).await;
    assert!(matches!(again, Err(Error::ChallengeExpired)), "a reset completes once: {again:?}");
}

#[tokio::test]
async fn a_code_confirmed_on_a_second_contact_completes_a_reset() {
    let w = world();
    let (login, session, _, _) = with_totp(&w, email()).await;
    let recovery = email();
    let token = w.token(&recovery, Purpose::AddContact, at(10)).await;
    let account = w.signed_in(&session, at(10)).await.account;
    add_recovery_contact(&w.services, &account, &token, &password_proof(), Language::English, at(10), &mut OsRng)
        .await
        .unwrap();

    let token = w.token(&login, Purpose::ResetPassword, at(60)).await;
    let (challenge, methods) = reset_challenge(reset(&w, &token, NEW_PASSWORD, at(61)).await);
    assert!(methods.contains(&MfaMethod::SecondContact), "{methods:?}");
    let same = w.token(&login, Purpose::ResetPassword, at(120)).await;
    let refused = answer_by_contact(&w, &challenge, &same, at(121)).await;
    assert!(matches!(refused, Err(Error::InvalidCode { .. })), "the same contact twice: {refused:?}");
    let other_account = email();
    w.sign_up(&other_account, at(100)).await;
    let foreign = w.token(&other_account, Purpose::ResetPassword, at(160)).await;
    let refused = answer_by_contact(&w, &challenge, &foreign, at(161)).await;
    assert!(matches!(refused, Err(Error::InvalidCode { .. })), "another account's contact: {refused:?}");

    let second = w.token(&recovery, Purpose::ResetPassword, at(130)).await;
    answer_by_contact(&w, &challenge, &second, at(170)).await.expect("a second contact");
    assert!(matches!(w.sign_in(&login, NEW_PASSWORD, at(171)).await, Ok(SignInOutcome::MfaRequired { .. })));
}

#[tokio::test]
async fn a_reset_challenge_expires_and_is_no_sign_in() {
    let w = world();
    let (login, _, secret, _) = with_totp(&w, phone()).await;
    let token = w.token(&login, Purpose::ResetPassword, at(60)).await;
    let (challenge, _) = reset_challenge(reset(&w, &token, NEW_PASSWORD, at(60)).await);
    let as_sign_in = MfaAnswer {
        language: Language::English,
        challenge_id: challenge.clone(),
        method: MfaMethod::Totp,
        code: totp_code(&secret, at(61)),
        remember_device: false,
    };
    let signed_in = complete_sign_in(&w.services, as_sign_in, at(61), &mut OsRng).await;
    assert!(matches!(signed_in, Err(Error::InvalidRequest(_))), "{signed_in:?}");
    let late = answer(&w, &challenge, MfaMethod::Totp, &totp_code(&secret, at(360)), at(360)).await;
    assert!(matches!(late, Err(Error::ChallengeExpired)), "after 5 minutes: {late:?}");
    assert_eq!(password_in_use(&w, &login, at(361)).await, Some(true), "an expired reset changes nothing");

    let (sign_in, _) = challenge_of(w.sign_in(&login, PASSWORD, at(400)).await);
    let refused = answer(&w, &sign_in, MfaMethod::Totp, &totp_code(&secret, at(400)), at(400)).await;
    assert!(matches!(refused, Err(Error::ChallengeExpired)), "a sign-in challenge resets nothing: {refused:?}");
}

#[tokio::test]
async fn the_phone_that_proved_a_reset_is_not_also_its_second_factor() {
    let w = world();
    let login = phone();
    w.sign_up(&login, T0).await;
    let session = w.session(&login, PASSWORD, T0).await;
    let account = w.signed_in(&session, T0).await.account;
    start_two_factor(&w.services, &account, SecondFactor::Sms, &password_proof(), Language::English, T0, &mut OsRng)
        .await
        .unwrap();
    let account = w.signed_in(&session, T0).await.account;
    let setup = w.sent().await.last_code_to(&login).unwrap();
    let codes = confirm_two_factor(&w.services, &account, &setup, Language::English, T0, &mut OsRng).await.unwrap();

    let token = w.token(&login, Purpose::ResetPassword, at(60)).await;
    let (challenge, methods) = reset_challenge(reset(&w, &token, NEW_PASSWORD, at(61)).await);
    assert_eq!(methods, [MfaMethod::RecoveryCode]);
    let refused = answer(&w, &challenge, MfaMethod::Sms, "123456", at(62)).await;
    assert!(matches!(refused, Err(Error::InvalidRequest(_))), "{refused:?}");
    answer(&w, &challenge, MfaMethod::RecoveryCode, &codes.recovery_codes[0], at(63)).await.expect("a recovery code");

    let (sign_in, _) = challenge_of(w.sign_in(&login, NEW_PASSWORD, at(64)).await);
    let used = MfaAnswer {
        language: Language::English,
        challenge_id: sign_in,
        method: MfaMethod::RecoveryCode,
        code: codes.recovery_codes[0].clone(),
        remember_device: false,
    };
    let replay = complete_sign_in(&w.services, used, at(65), &mut OsRng).await;
    assert!(matches!(replay, Err(Error::InvalidCode { .. })), "the code was used up by the reset: {replay:?}");
}
