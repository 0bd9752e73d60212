//! Signing in (`domain::sign_in`): password, second factor, remembered devices, on the in-memory store.
#![cfg(feature = "memory")]

mod common;

use std::time::Duration;

use common::*;
use domain::account::SecondFactor;
use domain::notify::SecurityEvent;
use domain::oidc::decision::Amr;
use domain::second_factor::MfaMethod;
use domain::self_service::sign_out_everywhere;
use domain::session::sign_out;
use domain::sign_in::{complete_sign_in, send_challenge_sms, MfaAnswer, MfaSignedIn, SignInOutcome};
use domain::two_factor::{confirm_two_factor, start_two_factor};
use domain::{Error, Language, Result, Timestamp};
use rand::rngs::OsRng;

async fn answer(w: &World, challenge_id: &str, method: MfaMethod, code: &str, now: Timestamp) -> Result<MfaSignedIn> {
    answer_remembering(w, challenge_id, method, code, false, now).await
}

async fn answer_remembering(
    w: &World,
    challenge_id: &str,
    method: MfaMethod,
    code: &str,
    remember_device: bool,
    now: Timestamp,
) -> Result<MfaSignedIn> {
    let answer = MfaAnswer {
        language: Language::English,
        challenge_id: challenge_id.to_owned(),
        method,
        code: code.to_owned(),
        remember_device,
    };
    complete_sign_in(&w.services, answer, now, &mut OsRng).await
}

/// An account with an authenticator app on: its login, the app's secret and the recovery codes.
async fn with_totp(w: &World) -> (domain::Contact, String, Vec<String>) {
    let login = email();
    w.sign_up(&login, T0).await;
    let session = w.session(&login, PASSWORD, T0).await;
    let (secret, codes) = w.enable_totp(&session, T0).await;
    (login, secret, codes)
}

#[tokio::test]
async fn the_right_password_signs_in_and_the_owner_is_told() {
    let w = world();
    let login = email();
    let account_id = w.sign_up(&login, T0).await;
    let SignInOutcome::SignedIn(issued) = w.sign_in(&login, PASSWORD, at(100)).await.unwrap() else {
        panic!("no second factor is on")
    };
    assert_eq!(issued.expires_in, 30 * 86_400);
    let signed_in = w.signed_in(&issued.session_token, at(101)).await;
    assert_eq!(signed_in.account.id, account_id);
    // What an app's ID token will say of this sign-in: a password, at the session's start.
    let how = signed_in.authentication();
    assert_eq!((how.amr.clone(), how.auth_time, how.acr()), (vec![Amr::Pwd], at(100), "aal1"));
    assert!(w.sent().await.told(&login, SecurityEvent::NewDeviceSignIn));
    let notice = w.sent().await.to(&login).pop().unwrap();
    assert!(notice.text.contains("198.51.100.0/24"), "the network, not the address: {notice:?}");
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_login_get_the_same_answer() {
    let w = world();
    let login = phone();
    w.sign_up(&login, T0).await;
    assert!(matches!(w.sign_in(&login, "Wrong-Password-1", at(1)).await, Err(Error::InvalidCredentials)));
    assert!(matches!(w.sign_in(&phone(), PASSWORD, at(2)).await, Err(Error::InvalidCredentials)));
    assert!(!w.sent().await.told(&login, SecurityEvent::NewDeviceSignIn), "nobody signed in");
}

#[tokio::test]
async fn failed_sign_ins_lock_the_login_until_the_window_ends() {
    let w = world_with(&[("SIGN_IN_FAILURES_PER_LOGIN", "3")]);
    let login = email();
    w.sign_up(&login, T0).await;
    for second in 0..3 {
        assert!(matches!(w.sign_in(&login, "Wrong-Password-1", at(60 + second)).await, Err(Error::InvalidCredentials)));
    }
    let locked = w.sign_in(&login, PASSWORD, at(100)).await;
    let rest = Duration::from_secs(15 * 60 - 100);
    assert!(matches!(locked, Err(Error::RateLimited { retry_after }) if retry_after == rest), "{locked:?}");
    w.session(&login, PASSWORD, at(15 * 60)).await;
}

#[tokio::test]
async fn failed_sign_ins_from_one_address_lock_it_for_every_login() {
    let w = world_with(&[("SIGN_IN_FAILURES_PER_IP", "2")]);
    let (first, second, third) = (email(), email(), email());
    w.sign_up(&third, T0).await;
    for login in [&first, &second] {
        assert!(matches!(w.sign_in(login, PASSWORD, at(1)).await, Err(Error::InvalidCredentials)));
    }
    // Every sign-in of these tests comes from 198.51.100.7.
    assert!(matches!(w.sign_in(&third, PASSWORD, at(2)).await, Err(Error::RateLimited { .. })));
}

#[tokio::test]
async fn with_an_authenticator_app_the_password_alone_is_not_enough_and_a_code_works_once() {
    let w = world();
    let (login, secret, _) = with_totp(&w).await;
    let (challenge, methods) = challenge_of(w.sign_in(&login, PASSWORD, at(90)).await);
    assert_eq!(methods, [MfaMethod::Totp, MfaMethod::RecoveryCode]);
    let code = totp_code(&secret, at(90));
    let signed_in = answer(&w, &challenge, MfaMethod::Totp, &code, at(91)).await.expect("the app's code");
    let how = w.signed_in(&signed_in.session.session_token, at(92)).await.authentication();
    assert_eq!((how.amr.clone(), how.acr()), (vec![Amr::Pwd, Amr::Otp, Amr::Mfa], "aal2"), "two factors");
    assert!(signed_in.device_token.is_none());

    let (again, _) = challenge_of(w.sign_in(&login, PASSWORD, at(95)).await);
    let replay = answer(&w, &again, MfaMethod::Totp, &code, at(96)).await;
    assert!(matches!(replay, Err(Error::InvalidCode { attempts_left: 4 })), "a code is accepted once: {replay:?}");
    answer(&w, &again, MfaMethod::Totp, &totp_code(&secret, at(120)), at(120)).await.expect("the next code");
}

#[tokio::test]
async fn a_challenge_takes_five_answers_expires_and_is_used_once() {
    let w = world();
    let (login, secret, _) = with_totp(&w).await;
    let (challenge, _) = challenge_of(w.sign_in(&login, PASSWORD, at(60)).await);
    let right = totp_code(&secret, at(60));
    for left in (0..5).rev() {
        let wrong_answer = answer(&w, &challenge, MfaMethod::Totp, &wrong(&right), at(61)).await;
        assert!(matches!(wrong_answer, Err(Error::InvalidCode { attempts_left }) if attempts_left == left));
    }
    assert!(matches!(answer(&w, &challenge, MfaMethod::Totp, &right, at(62)).await, Err(Error::ChallengeExpired)));

    let (late, _) = challenge_of(w.sign_in(&login, PASSWORD, at(100)).await);
    let code = totp_code(&secret, at(400));
    assert!(matches!(answer(&w, &late, MfaMethod::Totp, &code, at(400)).await, Err(Error::ChallengeExpired)));

    let (used, _) = challenge_of(w.sign_in(&login, PASSWORD, at(500)).await);
    answer(&w, &used, MfaMethod::Totp, &totp_code(&secret, at(500)), at(500)).await.unwrap();
    let again = answer(&w, &used, MfaMethod::Totp, &totp_code(&secret, at(530)), at(530)).await;
    assert!(matches!(again, Err(Error::ChallengeExpired)), "{again:?}");
}

#[tokio::test]
async fn a_recovery_code_signs_in_once() {
    let w = world();
    let (login, _, codes) = with_totp(&w).await;
    let (challenge, _) = challenge_of(w.sign_in(&login, PASSWORD, at(60)).await);
    // As a person might type it.
    let typed = format!(" {} ", codes[0].to_uppercase().replace('-', " - "));
    answer(&w, &challenge, MfaMethod::RecoveryCode, &typed, at(61)).await.expect("a recovery code");
    let (again, _) = challenge_of(w.sign_in(&login, PASSWORD, at(70)).await);
    let replay = answer(&w, &again, MfaMethod::RecoveryCode, &codes[0], at(71)).await;
    assert!(matches!(replay, Err(Error::InvalidCode { .. })), "{replay:?}");
    answer(&w, &again, MfaMethod::RecoveryCode, &codes[1], at(72)).await.expect("another code");
}

#[tokio::test]
async fn a_remembered_device_skips_the_second_factor_until_it_expires_or_is_forgotten() {
    let w = world();
    let (login, secret, _) = with_totp(&w).await;
    let (challenge, _) = challenge_of(w.sign_in(&login, PASSWORD, at(60)).await);
    let code = totp_code(&secret, at(60));
    let signed_in = answer_remembering(&w, &challenge, MfaMethod::Totp, &code, true, at(60)).await.unwrap();
    let device = signed_in.device_token.expect("a device token");

    let remembered = w.sign_in_with(&login, PASSWORD, Some(&device), at(120)).await;
    assert!(matches!(remembered, Ok(SignInOutcome::SignedIn(_))), "{remembered:?}");
    let expired = w.sign_in_with(&login, PASSWORD, Some(&device), at(60 + 30 * 86_400)).await;
    assert!(matches!(expired, Ok(SignInOutcome::MfaRequired { .. })), "{expired:?}");

    let current = w.signed_in(&signed_in.session.session_token, at(130)).await;
    sign_out_everywhere(&w.services, &current).await.unwrap();
    let forgotten = w.sign_in_with(&login, PASSWORD, Some(&device), at(140)).await;
    assert!(matches!(forgotten, Ok(SignInOutcome::MfaRequired { .. })), "{forgotten:?}");
}

#[tokio::test]
async fn an_sms_code_goes_to_the_verified_phone_at_most_once_a_minute() {
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
    confirm_two_factor(&w.services, &account, &setup, Language::English, T0, &mut OsRng).await.unwrap();

    let (challenge, methods) = challenge_of(w.sign_in(&login, PASSWORD, at(100)).await);
    assert_eq!(methods, [MfaMethod::Sms, MfaMethod::RecoveryCode]);
    let sent = send_challenge_sms(&w.services, &challenge, Language::English, at(101), &mut OsRng).await.unwrap();
    assert_eq!(sent.destination, login.masked());
    let code = w.sent().await.last_code_to(&login).unwrap();
    let soon = send_challenge_sms(&w.services, &challenge, Language::English, at(130), &mut OsRng).await;
    assert!(matches!(soon, Err(Error::RateLimited { .. })), "{soon:?}");
    assert!(matches!(answer(&w, &challenge, MfaMethod::Totp, &code, at(131)).await, Err(Error::InvalidRequest(_))));
    answer(&w, &challenge, MfaMethod::Sms, &code, at(132)).await.expect("the texted code");
}

#[tokio::test]
async fn signing_out_ends_the_session_and_a_session_ends_by_itself() {
    let w = world();
    let login = email();
    w.sign_up(&login, T0).await;
    let (first, second) = (w.session(&login, PASSWORD, T0).await, w.session(&login, PASSWORD, T0).await);
    sign_out(&w.services, &w.signed_in(&first, at(1)).await).await.unwrap();
    assert!(matches!(w.authenticate(&first, at(2)).await, Err(Error::Unauthorized)));
    w.signed_in(&second, at(30 * 86_400 - 1)).await;
    assert!(matches!(w.authenticate(&second, at(30 * 86_400)).await, Err(Error::Unauthorized)), "after 30 days");
}
