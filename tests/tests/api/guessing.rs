//! Guessing a way in: wrong second-factor answers share one budget per account across every
//! flow, and failed passwords are counted before the password is checked, so neither fresh
//! challenges nor a burst of concurrent requests buys more guesses; a remembered device keeps
//! a budget of its own.

use std::sync::Arc;

use integration_tests::outbox::messages_to;
use integration_tests::{new_email, random_ip, Stack, TestRequest, TestResponse};
use serde_json::{json, Value};
use shared::domain::Contact;

use super::recovery::{authenticator_code, enable_totp, manage, now, reset, reset_mfa, settings, with_body};
use super::recovery::{NEW_PASSWORD, PASSWORD};

pub(super) async fn mfa(stack: &Stack, body: Value) -> TestResponse {
    stack.call(sign_in::handle, TestRequest::post("/v1/sessions/mfa", body)).await
}

/// An account with TOTP on: its email, a session, the authenticator secret and the recovery codes.
pub(super) async fn account_with_totp(stack: &Stack) -> (Contact, String, String, Vec<String>) {
    let email = new_email();
    stack.sign_up(&email, PASSWORD).await;
    let session = stack.session(&email.canonical(), PASSWORD).await;
    let (secret, codes) = enable_totp(stack, &session).await;
    (email, session, secret, codes)
}

/// A six-digit code the authenticator does not show now.
fn wrong_code(secret: &str) -> String {
    let shown: Vec<String> = [now() - 30, now(), now() + 30].iter().map(|at| authenticator_code(secret, *at)).collect();
    (0..10).map(|d| d.to_string().repeat(6)).find(|code| !shown.contains(code)).unwrap()
}

/// Waits out the last minute of a 15-minute window: the budgets these tests spend are counted in
/// aligned windows, and a test that straddled an edge would see its counts start again.
async fn clear_of_a_window_edge() {
    let into = now() % 900;
    if into > 900 - 60 {
        tokio::time::sleep(std::time::Duration::from_secs(900 - into + 1)).await;
    }
}

/// The challenge the right `password` opens.
pub(super) async fn challenge_with(stack: &Stack, email: &Contact, password: &str) -> String {
    let challenge = stack.sign_in(json!({"login": email.canonical(), "password": password})).await;
    assert_eq!(challenge.status, 200, "{:?}", challenge.json);
    challenge.json["challenge_id"].as_str().unwrap().to_owned()
}

fn guessing_notices(email: &Contact) -> usize {
    messages_to(email).iter().filter(|m| m.contains("wrong verification codes")).count()
}

#[tokio::test]
async fn twenty_five_wrong_codes_across_five_fresh_challenges_reach_the_limit() {
    clear_of_a_window_edge().await;
    let stack = Stack::new().await; // SECOND_FACTOR_FAILURES_PER_ACCOUNT: 10
    let (email, _, secret, _) = account_with_totp(&stack).await;
    let wrong = wrong_code(&secret);
    // Six open at once: five to guess on, one kept for the right code.
    let mut challenges = Vec::new();
    for _ in 0..6 {
        challenges.push(challenge_with(&stack, &email, PASSWORD).await);
    }

    let mut answers = Vec::new();
    for id in &challenges[..5] {
        for _ in 0..5 {
            let answer = mfa(&stack, json!({"challenge_id": id, "method": "totp", "code": wrong})).await;
            answers.push((answer.status, answer.error_code().to_owned()));
            if answer.status == 429 {
                assert!(answer.headers["retry-after"].parse::<u64>().unwrap() <= 15 * 60);
            }
        }
    }
    let refused = answers.iter().position(|(status, _)| *status == 429).expect("a limit");
    assert_eq!(refused, 10, "{answers:?}");
    assert!(answers[..10].iter().all(|(status, code)| (*status, code.as_str()) == (400, "invalid_code")));
    assert!(answers[10..].iter().all(|(status, code)| (*status, code.as_str()) == (429, "rate_limited")));

    // Even the right code waits, and the right password opens no new challenge.
    let right = authenticator_code(&secret, now() + 30);
    let answer = mfa(&stack, json!({"challenge_id": challenges[5], "method": "totp", "code": right})).await;
    assert_eq!((answer.status, answer.error_code()), (429, "rate_limited"));
    let again = stack.sign_in(json!({"login": email.canonical(), "password": PASSWORD})).await;
    assert_eq!((again.status, again.error_code()), (429, "rate_limited"));
    assert_eq!(guessing_notices(&email), 1, "the owner is told once");
}

#[tokio::test]
async fn sign_in_reset_and_self_service_answers_share_one_budget() {
    clear_of_a_window_edge().await;
    let mut settings = settings().to_vec();
    settings.push(("SECOND_FACTOR_FAILURES_PER_ACCOUNT", "6"));
    let stack = Stack::with_settings(&settings).await;
    let (email, session, secret, _) = account_with_totp(&stack).await;
    let wrong = wrong_code(&secret);

    // A right answer is not a guess: it gives its count back.
    let id = challenge_with(&stack, &email, PASSWORD).await;
    let right = json!({"challenge_id": id, "method": "totp", "code": authenticator_code(&secret, now() + 30)});
    assert_eq!(mfa(&stack, right).await.status, 201);

    let id = challenge_with(&stack, &email, PASSWORD).await;
    for _ in 0..2 {
        let answer = mfa(&stack, json!({"challenge_id": id, "method": "totp", "code": wrong})).await;
        assert_eq!(answer.error_code(), "invalid_code");
    }
    let token = stack.verified_token(&email, "reset_password").await;
    let opened = reset(&stack, &token, NEW_PASSWORD).await;
    assert_eq!(opened.status, 200, "{:?}", opened.json);
    for _ in 0..2 {
        let body = json!({"challenge_id": opened.json["challenge_id"], "method": "totp", "code": wrong});
        assert_eq!(reset_mfa(&stack, body).await.error_code(), "invalid_code");
    }
    for _ in 0..2 {
        let off = with_body("DELETE", "/v1/account/two-factor", &session, json!({"code": wrong}));
        assert_eq!(manage(&stack, off).await.error_code(), "invalid_code");
    }
    assert_eq!(guessing_notices(&email), 1);

    let off = with_body("DELETE", "/v1/account/two-factor", &session, json!({"code": wrong}));
    assert_eq!(manage(&stack, off).await.status, 429);
    let code = authenticator_code(&secret, now() + 30);
    let answer = mfa(&stack, json!({"challenge_id": id, "method": "totp", "code": code})).await;
    assert_eq!((answer.status, answer.error_code()), (429, "rate_limited"), "the sign-in challenge too");
    assert_eq!(reset(&stack, &stack.verified_token(&email, "reset_password").await, NEW_PASSWORD).await.status, 429);
}

/// `count` sign-ins sent at once, each from its own address; their answers.
async fn concurrent_sign_ins(stack: &Arc<Stack>, count: usize, body: Value) -> Vec<TestResponse> {
    let tasks: Vec<_> = (0..count)
        .map(|_| {
            let (stack, body) = (stack.clone(), body.clone());
            let request = TestRequest::post("/v1/sessions", body).from_ip(&random_ip());
            tokio::spawn(async move { stack.call(sign_in::handle, request).await })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    answers
}

#[tokio::test]
async fn thirty_concurrent_wrong_passwords_get_at_most_the_limit_of_checks() {
    clear_of_a_window_edge().await;
    let stack = Arc::new(Stack::new().await); // SIGN_IN_FAILURES_PER_LOGIN: 10
    let email = new_email();
    stack.sign_up(&email, PASSWORD).await;
    let answers =
        concurrent_sign_ins(&stack, 30, json!({"login": email.canonical(), "password": "Wrong-Pass-123"})).await;
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    // Exactly the limit here, as moto answers one request at a time; DynamoDB may refuse a few
    // more as concurrent (429 too), never fewer.
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 10, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 20, "{statuses:?}");
    let locked = stack.sign_in(json!({"login": email.canonical(), "password": PASSWORD})).await;
    assert_eq!(locked.status, 429, "the right password waits too");
}

#[tokio::test]
async fn a_remembered_device_still_signs_in_while_its_login_is_locked() {
    clear_of_a_window_edge().await;
    let stack = Arc::new(Stack::new().await);
    let (email, _, secret, _) = account_with_totp(&stack).await;
    let id = challenge_with(&stack, &email, PASSWORD).await;
    let code = authenticator_code(&secret, now() + 30);
    let remembered = mfa(&stack, json!({"challenge_id": id, "method": "totp", "code": code, "remember_device": true}));
    let device = remembered.await.json["device_token"].as_str().unwrap().to_owned();

    // A stranger locks the login from many addresses.
    let wrong = json!({"login": email.canonical(), "password": "Wrong-Pass-123"});
    let answers = concurrent_sign_ins(&stack, 12, wrong).await;
    assert!(answers.iter().all(|a| a.status == 401 || a.status == 429));
    assert_eq!(stack.sign_in(json!({"login": email.canonical(), "password": PASSWORD})).await.status, 429);

    // The owner's device has its own budget, and still skips the second factor.
    let body = json!({"login": email.canonical(), "password": PASSWORD, "device_token": device});
    let owner = stack.sign_in(body).await;
    assert_eq!(owner.status, 201, "{:?}", owner.json);
    assert!(owner.json["session_token"].is_string());
    // A forged device token is not a device: it shares the locked login's budget.
    let tail = if device.ends_with("AA") { "BB" } else { "AA" };
    let forged = format!("{}{tail}", &device[..device.len() - 2]);
    let body = json!({"login": email.canonical(), "password": PASSWORD, "device_token": forged});
    assert_eq!(stack.sign_in(body).await.status, 429);
}
