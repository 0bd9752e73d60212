//! Turning two-factor authentication on (`domain::two_factor`), on the in-memory store.
#![cfg(feature = "memory")]

mod common;

use common::*;
use domain::account::{Account, SecondFactor};
use domain::account_page::add_recovery_contact;
use domain::notify::SecurityEvent;
use domain::second_factor::MfaMethod;
use domain::sign_in::{complete_sign_in, MfaAnswer};
use domain::two_factor::{confirm_two_factor, start_two_factor, SetupStarted, TwoFactorEnabled};
use domain::verification::Purpose;
use domain::{Contact, Error, Language, Result, Timestamp};
use rand::rngs::OsRng;

/// A new account signed in: its login and session.
async fn signed_up(w: &World, login: Contact) -> (Contact, String) {
    w.sign_up(&login, T0).await;
    let session = w.session(&login, PASSWORD, T0).await;
    (login, session)
}

/// The account as the next request would see it.
async fn account(w: &World, session: &str) -> Account {
    w.signed_in(session, T0).await.account
}

async fn start(w: &World, session: &str, method: SecondFactor, now: Timestamp) -> Result<SetupStarted> {
    start_two_factor(
        &w.services,
        &account(w, session).await,
        method,
        &password_proof(),
        Language::English,
        now,
        &mut OsRng,
    )
    .await
}

async fn confirm(w: &World, session: &str, code: &str, now: Timestamp) -> Result<TwoFactorEnabled> {
    confirm_two_factor(&w.services, &account(w, session).await, code, Language::English, now, &mut OsRng).await
}

fn totp_secret(started: Result<SetupStarted>) -> String {
    match started {
        Ok(SetupStarted::Totp { secret, .. }) => secret,
        other => panic!("a TOTP setup, got {other:?}"),
    }
}

#[tokio::test]
async fn an_authenticator_app_is_on_once_its_first_code_is_confirmed() {
    let w = world();
    let (login, session) = signed_up(&w, email()).await;
    let started = start(&w, &session, SecondFactor::Totp, at(10)).await;
    let Ok(SetupStarted::Totp { secret, otpauth_uri }) = started else { panic!("{started:?}") };
    assert!(otpauth_uri.starts_with("otpauth://totp/Mi%20Account:") && otpauth_uri.contains(&secret), "{otpauth_uri}");
    assert!(!account(&w, &session).await.two_factor_enabled(), "not on before a code is confirmed");
    assert!(matches!(w.sign_in(&login, PASSWORD, at(20)).await, Ok(domain::sign_in::SignInOutcome::SignedIn(_))));

    let enabled = confirm(&w, &session, &totp_code(&secret, at(30)), at(30)).await.expect("on");
    assert!(enabled.enabled);
    let mut codes = enabled.recovery_codes.clone();
    codes.sort();
    codes.dedup();
    assert_eq!(codes.len(), 10, "ten different recovery codes");
    for code in &enabled.recovery_codes {
        assert!(code.len() == 11 && code.as_bytes()[5] == b'-', "{code}");
    }
    assert_eq!(account(&w, &session).await.two_factor.methods, [SecondFactor::Totp]);
    assert!(w.sent().await.told(&login, SecurityEvent::TwoFactorOn));
    let (_, methods) = challenge_of(w.sign_in(&login, PASSWORD, at(40)).await);
    assert_eq!(methods, [MfaMethod::Totp, MfaMethod::RecoveryCode]);
}

#[tokio::test]
async fn wrong_codes_count_down_and_then_close_the_setup() {
    let w = world();
    let (_, session) = signed_up(&w, email()).await;
    let secret = totp_secret(start(&w, &session, SecondFactor::Totp, T0).await);
    let right = totp_code(&secret, at(1));
    for left in (0..5).rev() {
        let refused = confirm(&w, &session, &wrong(&right), at(1)).await;
        assert!(matches!(refused, Err(Error::InvalidCode { attempts_left }) if attempts_left == left), "{refused:?}");
    }
    assert!(matches!(confirm(&w, &session, &right, at(2)).await, Err(Error::ChallengeExpired)));
    assert!(!account(&w, &session).await.two_factor_enabled());
}

#[tokio::test]
async fn a_setup_lasts_ten_minutes() {
    let w = world();
    let (_, session) = signed_up(&w, email()).await;
    let secret = totp_secret(start(&w, &session, SecondFactor::Totp, T0).await);
    let late = confirm(&w, &session, &totp_code(&secret, at(600)), at(600)).await;
    assert!(matches!(late, Err(Error::ChallengeExpired)), "{late:?}");
    assert!(!account(&w, &session).await.two_factor_enabled());
}

#[tokio::test]
async fn starting_again_waits_a_minute_and_then_replaces_the_setup() {
    let w = world();
    let (_, session) = signed_up(&w, email()).await;
    let first = totp_secret(start(&w, &session, SecondFactor::Totp, T0).await);
    assert!(matches!(start(&w, &session, SecondFactor::Totp, at(30)).await, Err(Error::RateLimited { .. })));
    let second = totp_secret(start(&w, &session, SecondFactor::Totp, at(60)).await);
    assert_ne!(first, second);
    let stale = confirm(&w, &session, &totp_code(&first, at(70)), at(70)).await;
    assert!(matches!(stale, Err(Error::InvalidCode { .. })), "the first secret is gone: {stale:?}");
    confirm(&w, &session, &totp_code(&second, at(71)), at(71)).await.expect("the second secret");
    let again = start(&w, &session, SecondFactor::Totp, at(200)).await;
    assert!(matches!(again, Err(Error::TwoFactorAlreadyEnabled)), "{again:?}");
}

#[tokio::test]
async fn sms_codes_need_a_verified_phone() {
    let w = world();
    let (_, session) = signed_up(&w, email()).await;
    assert!(matches!(start(&w, &session, SecondFactor::Sms, T0).await, Err(Error::NoVerifiedPhone)));

    let phone = phone();
    let token = w.token(&phone, Purpose::AddContact, at(10)).await;
    add_recovery_contact(
        &w.services,
        &account(&w, &session).await,
        &token,
        &password_proof(),
        Language::English,
        at(10),
        &mut OsRng,
    )
    .await
    .unwrap();
    let started = start(&w, &session, SecondFactor::Sms, at(20)).await;
    assert!(matches!(&started, Ok(SetupStarted::Sms { destination, .. }) if *destination == phone.masked()));
    let code = w.sent().await.last_code_to(&phone).expect("a code by SMS");
    confirm(&w, &session, &code, at(30)).await.expect("on");
    assert_eq!(account(&w, &session).await.two_factor.methods, [SecondFactor::Sms]);
}

#[tokio::test]
async fn the_code_that_turned_it_on_does_not_also_sign_in() {
    let w = world();
    let (login, session) = signed_up(&w, email()).await;
    let secret = totp_secret(start(&w, &session, SecondFactor::Totp, T0).await);
    let code = totp_code(&secret, at(5));
    confirm(&w, &session, &code, at(5)).await.unwrap();
    let (challenge, _) = challenge_of(w.sign_in(&login, PASSWORD, at(10)).await);
    let answer = |code: String| MfaAnswer {
        language: Language::English,
        challenge_id: challenge.clone(),
        method: MfaMethod::Totp,
        code,
        remember_device: false,
    };
    let replay = complete_sign_in(&w.services, answer(code), at(10), &mut OsRng).await;
    assert!(matches!(replay, Err(Error::InvalidCode { .. })), "{replay:?}");
    let next = totp_code(&secret, at(30));
    complete_sign_in(&w.services, answer(next), at(30), &mut OsRng).await.expect("the next step's code");
}
