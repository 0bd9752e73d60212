//! Asking for a code and confirming it (`domain::verification`), on the in-memory store.
#![cfg(feature = "memory")]

mod common;

use std::time::Duration;

use common::*;
use domain::captcha;
use domain::verification::{new_captcha, request_code, CaptchaWidget, CodeRequest, Purpose};
use domain::{Contact, Error, Language, PhoneNumber};
use rand::rngs::OsRng;

#[tokio::test]
async fn a_code_confirms_once_for_a_token_that_is_used_once() {
    let w = world();
    let contact = email();
    let sent = w.request(&contact, Purpose::SignUp, T0).await.unwrap();
    assert_eq!((sent.destination.as_str(), sent.expires_in, sent.resend_after), (contact.masked().as_str(), 600, 60));
    let code = w.sent().await.last_code_to(&contact).expect("a code arrived");
    let token = w.confirm(&sent, &code, at(30)).await.expect("the right code");
    assert!(matches!(w.confirm(&sent, &code, at(31)).await, Err(Error::VerificationExpired)), "a code confirms once");

    w.create(&token, PASSWORD, at(40)).await.expect("the token makes an account");
    assert!(matches!(w.create(&token, PASSWORD, at(41)).await, Err(Error::VerificationExpired)), "and only one");
}

#[tokio::test]
async fn wrong_codes_count_down_the_attempts_and_then_even_the_right_one_fails() {
    let w = world();
    let contact = phone();
    let sent = w.request(&contact, Purpose::SignUp, T0).await.unwrap();
    let code = w.sent().await.last_code_to(&contact).unwrap();
    for left in (0..5).rev() {
        let answer = w.confirm(&sent, &wrong(&code), at(10)).await;
        assert!(matches!(answer, Err(Error::InvalidCode { attempts_left }) if attempts_left == left), "{answer:?}");
    }
    assert!(matches!(w.confirm(&sent, &code, at(20)).await, Err(Error::VerificationExpired)));
}

#[tokio::test]
async fn codes_and_tokens_expire() {
    let w = world();
    let (late, in_time) = (email(), email());
    let sent = w.request(&late, Purpose::SignUp, T0).await.unwrap();
    let code = w.sent().await.last_code_to(&late).unwrap();
    assert!(matches!(w.confirm(&sent, &code, at(600)).await, Err(Error::VerificationExpired)), "after 10 minutes");

    let sent = w.request(&in_time, Purpose::SignUp, T0).await.unwrap();
    let code = w.sent().await.last_code_to(&in_time).unwrap();
    let confirmed = 599;
    let token = w.confirm(&sent, &code, at(confirmed)).await.expect("just in time");
    // The token lasts 15 minutes from the confirmation.
    assert!(matches!(w.create(&token, PASSWORD, at(confirmed + 900)).await, Err(Error::VerificationExpired)));
    w.create(&token, PASSWORD, at(confirmed + 899)).await.expect("the token in time");
}

#[tokio::test]
async fn asking_again_waits_for_the_cooldown_and_retires_the_earlier_code() {
    let w = world();
    let contact = email();
    let first = w.request(&contact, Purpose::SignUp, T0).await.unwrap();
    let first_code = w.sent().await.last_code_to(&contact).unwrap();
    let early = w.request(&contact, Purpose::SignUp, at(45)).await;
    assert!(
        matches!(early, Err(Error::RateLimited { retry_after }) if retry_after == Duration::from_secs(15)),
        "{early:?}"
    );
    assert_eq!(w.sent().await.to(&contact).len(), 1, "nothing sent");

    let second = w.request(&contact, Purpose::SignUp, at(60)).await.expect("after the cooldown");
    let second_code = w.sent().await.last_code_to(&contact).unwrap();
    let retired = w.confirm(&first, &first_code, at(70)).await;
    assert!(matches!(retired, Err(Error::VerificationExpired)), "the earlier code is retired: {retired:?}");
    w.confirm(&second, &second_code, at(71)).await.expect("the newest code");
}

#[tokio::test]
async fn a_destination_gets_five_codes_an_hour() {
    let w = world();
    let contact = phone();
    for minute in 0..5 {
        w.request(&contact, Purpose::SignUp, at(minute * 60)).await.expect("within the hour's quota");
    }
    let sixth = w.request(&contact, Purpose::SignUp, at(300)).await;
    let retry = Duration::from_secs(3600 - 300);
    assert!(matches!(sixth, Err(Error::RateLimited { retry_after }) if retry_after == retry), "{sixth:?}");
    w.request(&contact, Purpose::SignUp, at(3600)).await.expect("the next hour");
}

#[tokio::test]
async fn wrong_codes_across_requests_close_the_destination_for_the_hour() {
    let w = world_with(&[("FAILED_CODES_PER_DESTINATION_PER_HOUR", "3")]);
    let contact = email();
    let sent = w.request(&contact, Purpose::SignUp, T0).await.unwrap();
    let code = w.sent().await.last_code_to(&contact).unwrap();
    for _ in 0..3 {
        assert!(matches!(w.confirm(&sent, &wrong(&code), at(10)).await, Err(Error::InvalidCode { .. })));
    }
    // A fresh code would bring fresh guesses: refused until the hour is over.
    assert!(matches!(w.request(&contact, Purpose::SignUp, at(60)).await, Err(Error::RateLimited { .. })));
    let sent = w.request(&contact, Purpose::SignUp, at(3600)).await.expect("the next hour");
    let code = w.sent().await.last_code_to(&contact).unwrap();
    w.confirm(&sent, &code, at(3601)).await.expect("the right code");
}

#[tokio::test]
async fn the_answer_does_not_tell_who_has_an_account() {
    let w = world();
    let registered = email();
    w.sign_up(&registered, T0).await;
    let before = w.sent().await.to(&registered).len();
    let sent = w.request(&registered, Purpose::SignUp, at(60)).await.expect("answered as for anyone");
    assert_eq!(sent.destination, registered.masked());
    let notice = w.sent().await.to(&registered);
    assert_eq!(notice.len(), before + 1);
    let told = notice.last().unwrap();
    assert!(told.subject.contains("already have") && code_in(&told.text).is_none(), "a notice, no code: {told:?}");

    let stranger = email();
    w.request(&stranger, Purpose::ResetPassword, T0).await.expect("answered as for an account");
    assert!(w.sent().await.to(&stranger).is_empty(), "no reset code for a contact without an account");
    w.request(&registered, Purpose::ResetPassword, at(120)).await.unwrap();
    assert!(w.sent().await.last_code_to(&registered).is_some(), "a reset code for the account's contact");
}

#[tokio::test]
async fn sms_goes_to_allowed_countries_within_the_country_ceiling() {
    let w = world_with(&[("SMS_ALLOWED_COUNTRY_CODES", "91"), ("SMS_PER_COUNTRY_PER_HOUR", "2")]);
    let abroad = Contact::Phone(PhoneNumber::parse(Some("+1"), "201 555 0123").unwrap());
    assert!(matches!(w.request(&abroad, Purpose::SignUp, T0).await, Err(Error::UnsupportedRegion(_))));
    assert!(w.sent().await.to(&abroad).is_empty());
    for _ in 0..2 {
        w.request(&phone(), Purpose::SignUp, T0).await.expect("under the ceiling");
    }
    let over = phone();
    assert!(matches!(w.request(&over, Purpose::SignUp, at(1)).await, Err(Error::RateLimited { .. })));
    assert!(w.sent().await.to(&over).is_empty());
    w.request(&over, Purpose::SignUp, at(3600)).await.expect("the next hour");
}

#[tokio::test]
async fn a_solved_proof_of_work_pays_for_one_code() {
    let w = world_with(&[("CAPTCHA_PROVIDER", "altcha"), ("CAPTCHA_DIFFICULTY", "1000")]);
    let ask = |captcha: Option<String>, contact: Contact| CodeRequest {
        captcha,
        contact,
        purpose: Purpose::SignUp,
        client_ip: None,
        language: Language::English,
    };
    let refused = request_code(&w.services, ask(None, email()), T0, &mut OsRng).await;
    assert!(matches!(refused, Err(Error::CaptchaFailed)), "{refused:?}");

    let CaptchaWidget::ProofOfWork(challenge) = new_captcha(&w.services, None, None, T0, &mut OsRng).await.unwrap()
    else {
        panic!("an ALTCHA challenge")
    };
    let solved = captcha::solve(&challenge).unwrap();
    let first = email();
    request_code(&w.services, ask(Some(solved.clone()), first.clone()), at(5), &mut OsRng).await.expect("solved");
    assert!(w.sent().await.last_code_to(&first).is_some());
    let replay = request_code(&w.services, ask(Some(solved), email()), at(6), &mut OsRng).await;
    assert!(matches!(replay, Err(Error::CaptchaFailed)), "the same solution again: {replay:?}");
}

#[tokio::test]
async fn a_third_party_captcha_token_is_checked_and_used_once() {
    let w = world_with(&[
        ("CAPTCHA_PROVIDER", "turnstile"),
        ("CAPTCHA_SITE_KEY", "site-key"),
        ("CAPTCHA_SECRET_KEY", "secret-key"),
    ]);
    let ask = |token: &str| CodeRequest {
        captcha: Some(token.to_owned()),
        contact: email(),
        purpose: Purpose::SignUp,
        client_ip: Some("198.51.100.7".into()),
        language: Language::English,
    };
    request_code(&w.services, ask("good"), T0, &mut OsRng).await.expect("the provider said yes");
    let replay = request_code(&w.services, ask("good"), at(1), &mut OsRng).await;
    assert!(matches!(replay, Err(Error::CaptchaFailed)), "a token is used once: {replay:?}");
    let refused = request_code(&w.services, ask("forged"), at(2), &mut OsRng).await;
    assert!(matches!(refused, Err(Error::CaptchaFailed)), "{refused:?}");
    let down = request_code(&w.services, ask("down"), at(3), &mut OsRng).await;
    assert!(matches!(down, Err(Error::CaptchaUnavailable)), "{down:?}");
}
