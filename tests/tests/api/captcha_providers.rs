//! Turnstile, hCaptcha and reCAPTCHA against a fake siteverify served by the test itself on
//! 127.0.0.1, with moto behind the rest: a good token sends a code; a bad, missing or replayed one
//! is 403 `captcha_failed`; a provider that is slow, failing, unreadable or refuses our keys is
//! 503 `captcha_unavailable`. A refused request stores and sends nothing.

use std::time::{Duration, Instant};

use integration_tests::fake_siteverify::{FakeVerifier, SECRET, SITE_KEY};
use integration_tests::outbox::{last_code_to, messages_to};
use integration_tests::{new_email, new_phone, random_ip, Stack, TestRequest, TestResponse};
use serde_json::{json, Value};
use shared::domain::Contact;
use tokio::net::TcpListener;

fn body_for(contact: &Contact, captcha: Option<&str>) -> Value {
    let mut body = match contact {
        Contact::Phone(phone) => json!({"channel": "sms", "phone": phone.e164(), "purpose": "sign_up"}),
        Contact::Email(email) => json!({"channel": "email", "email": email.as_str(), "purpose": "sign_up"}),
    };
    if let Some(token) = captcha {
        body["captcha"] = json!(token);
    }
    body
}

async fn ask(stack: &Stack, contact: &Contact, captcha: Option<&str>, ip: &str) -> TestResponse {
    let request = TestRequest::post("/v1/verifications", body_for(contact, captcha)).from_ip(ip);
    stack.call(request_code::handle, request).await
}

/// Refused with `status`/`code`, and nothing stored or sent for `contact`.
async fn assert_refused(stack: &Stack, contact: &Contact, captcha: Option<&str>, status: u16, code: &str) {
    let answer = ask(stack, contact, captcha, &random_ip()).await;
    assert_eq!((answer.status, answer.error_code()), (status, code), "{captcha:?}: {:?}", answer.json);
    assert_eq!(stack.item_count().await, 0, "{captcha:?}: nothing is stored");
    assert!(messages_to(contact).is_empty(), "{captcha:?}: nothing is sent");
}

/// A right token sends a code that confirms; the fake saw our secret, the token and the
/// client's address (and, for hCaptcha, our site key).
async fn a_right_token_sends_a_code(provider: &str, contact: Contact) {
    let fake = FakeVerifier::start().await;
    let stack = fake.stack(provider, &[]).await;
    let ip = random_ip();
    let token = format!("good-{}", integration_tests::random_hex(16));
    let sent = ask(&stack, &contact, Some(&token), &ip).await;
    assert_eq!(sent.status, 202, "{:?}", sent.json);
    let code = last_code_to(&contact).expect("a code arrived");
    let confirmed = stack.confirm(sent.json["verification_id"].as_str().unwrap(), &code).await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.json);

    let forms = fake.forms();
    assert_eq!(forms.len(), 1);
    assert_eq!(forms[0]["secret"], SECRET);
    assert_eq!(forms[0]["response"], token);
    assert_eq!(forms[0]["remoteip"], ip);
    let sitekey = forms[0].get("sitekey").map(String::as_str);
    assert_eq!(sitekey, (provider == "hcaptcha").then_some(SITE_KEY), "{provider}");
}

#[tokio::test]
async fn turnstile_a_right_token_sends_a_code() {
    a_right_token_sends_a_code("turnstile", new_phone()).await;
}

#[tokio::test]
async fn hcaptcha_a_right_token_sends_a_code() {
    a_right_token_sends_a_code("hcaptcha", new_email()).await;
}

#[tokio::test]
async fn recaptcha_a_right_token_sends_a_code() {
    a_right_token_sends_a_code("recaptcha", new_phone()).await;
}

/// Wrong, missing, oversized and replayed tokens: 403, nothing stored or sent. A missing or
/// oversized one is refused without asking the provider.
async fn wrong_tokens_are_refused(provider: &str) {
    let fake = FakeVerifier::start().await;
    let stack = fake.stack(provider, &[]).await;
    let contact = new_phone();
    for token in [None, Some(""), Some(&*"x".repeat(5000))] {
        assert_refused(&stack, &contact, token, 403, "captcha_failed").await;
    }
    assert!(fake.forms().is_empty(), "no call for a missing token");
    for token in ["wrong", "duplicate"] {
        assert_refused(&stack, &contact, Some(token), 403, "captcha_failed").await;
    }
    assert_eq!(fake.forms().len(), 2);
}

#[tokio::test]
async fn turnstile_wrong_missing_and_duplicate_tokens_are_refused() {
    wrong_tokens_are_refused("turnstile").await;
}

#[tokio::test]
async fn hcaptcha_wrong_missing_and_duplicate_tokens_are_refused() {
    wrong_tokens_are_refused("hcaptcha").await;
}

/// Every way of not getting a clear answer: 503 `captcha_unavailable`, never a pass.
async fn no_answer_is_never_a_pass(provider: &str) {
    let fake = FakeVerifier::start().await;
    let stack = fake.stack(provider, &[]).await;
    let contact = new_email();
    let started = Instant::now();
    // The request alone: the courier's pass after it is no part of the answer's wait.
    let request = TestRequest::post("/v1/verifications", body_for(&contact, Some("slow"))).from_ip(&random_ip());
    let slow = stack.call_only(request_code::handle, request).await;
    let waited = started.elapsed();
    assert_eq!((slow.status, slow.error_code()), (503, "captcha_unavailable"), "{:?}", slow.json);
    assert!(waited < Duration::from_secs(4), "the timeout cut the call short: {waited:?}");
    for token in ["slow", "server-error", "garbage", "provider-trouble"] {
        assert_refused(&stack, &contact, Some(token), 503, "captcha_unavailable").await;
    }

    // Our secret is wrong: the provider says so, and every token fails until it is fixed.
    let misconfigured = fake.stack(provider, &[("CAPTCHA_SECRET_KEY", "rotated-away")]).await;
    assert_refused(&misconfigured, &contact, Some("good-token"), 503, "captcha_unavailable").await;

    // Nobody listens.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/siteverify", closed.local_addr().unwrap());
    drop(closed);
    let down = fake.stack(provider, &[("CAPTCHA_VERIFY_URL", &url)]).await;
    assert_refused(&down, &contact, Some("good-token"), 503, "captcha_unavailable").await;
}

#[tokio::test]
async fn turnstile_timeout_and_provider_failures_are_unavailable() {
    no_answer_is_never_a_pass("turnstile").await;
}

#[tokio::test]
async fn hcaptcha_timeout_and_provider_failures_are_unavailable() {
    no_answer_is_never_a_pass("hcaptcha").await;
}

#[tokio::test]
async fn a_token_the_provider_accepts_twice_still_works_once() {
    let fake = FakeVerifier::start().await;
    let stack = fake.stack("turnstile", &[]).await;
    let sent = ask(&stack, &new_phone(), Some("good-again"), &random_ip()).await;
    assert_eq!(sent.status, 202, "{:?}", sent.json);
    let other = new_phone();
    let replay = ask(&stack, &other, Some("good-again"), &random_ip()).await;
    assert_eq!((replay.status, replay.error_code()), (403, "captcha_failed"), "{:?}", replay.json);
    assert!(messages_to(&other).is_empty());
    assert_eq!(fake.forms().len(), 2, "the provider said yes both times");
}

#[tokio::test]
async fn a_token_solved_on_another_site_is_refused_when_the_hostname_is_set() {
    let fake = FakeVerifier::start().await;
    let pinned = fake.stack("turnstile", &[("CAPTCHA_HOSTNAME", "accounts.example.com")]).await;
    assert_refused(&pinned, &new_phone(), Some("elsewhere"), 403, "captcha_failed").await;
    assert_eq!(ask(&pinned, &new_phone(), Some("good-here"), &random_ip()).await.status, 202);
}

#[tokio::test]
async fn recaptcha_scores_below_the_minimum_are_refused() {
    let fake = FakeVerifier::start().await;
    let stack = fake.stack("recaptcha", &[("CAPTCHA_MIN_SCORE", "0.5")]).await;
    assert_refused(&stack, &new_phone(), Some("bot"), 403, "captcha_failed").await;
    assert_eq!(ask(&stack, &new_phone(), Some("human"), &random_ip()).await.status, 202);
    let strict = fake.stack("recaptcha", &[("CAPTCHA_MIN_SCORE", "0.95")]).await;
    assert_refused(&strict, &new_phone(), Some("human"), 403, "captcha_failed").await;
}

#[tokio::test]
async fn the_frontend_is_told_which_widget_to_render() {
    let fake = FakeVerifier::start().await;
    for provider in ["turnstile", "hcaptcha", "recaptcha"] {
        let stack = fake.stack(provider, &[]).await;
        let answer = stack.call(captcha::handle, TestRequest::get("/v1/captcha")).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.json, json!({"provider": provider, "site_key": SITE_KEY}));
    }
    assert!(fake.forms().is_empty());
}
