//! Request code and verify code over HTTP, against moto.

use std::time::Duration;

use integration_tests::outbox::{code_in, emails_to, sms_to};
use integration_tests::{random_email, random_ip, random_phone, Stack, TestRequest, TestResponse};
use serde_json::{json, Value};
use shared::domain::verification::{confirm_code, request_code, CodeRequest, Purpose};
use shared::domain::{Contact, Language, PhoneNumber};
use shared::Timestamp;

async fn ask(stack: &Stack, body: Value) -> TestResponse {
    stack.request_code(body).await
}

async fn confirm(stack: &Stack, id: &str, code: &str) -> TestResponse {
    let path = format!("/v1/verifications/{id}/confirm");
    let request = TestRequest::post(&path, json!({ "code": code })).path_parameter("verification_id", id);
    stack.call(verify_code::handle, request).await
}

pub(super) fn e164(country_code: &str, national: &str) -> String {
    PhoneNumber::parse(Some(country_code), national).unwrap().e164().to_owned()
}

/// The code of the newest SMS to `e164`, once the courier has delivered what waits.
pub(super) async fn last_sms_code(stack: &Stack, e164: &str) -> String {
    stack.deliver().await;
    let messages = sms_to(e164);
    code_in(messages.last().expect("an SMS was sent")).expect("the SMS holds a code")
}

/// A code that is surely wrong.
pub(super) fn wrong(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000)
}

#[tokio::test]
async fn phone_code_arrives_by_sms_and_confirms_once() {
    let stack = Stack::new().await;
    let (cc, national) = random_phone();
    let number = e164(&cc, &national);

    let sent =
        ask(&stack, json!({"channel": "sms", "country_code": cc, "phone": national, "purpose": "sign_up"})).await;
    assert_eq!(sent.status, 202, "{:?}", sent.json);
    assert_eq!(sent.json["channel"], "sms");
    assert_eq!(sent.json["destination"], format!("+91 ******{}", &national[national.len() - 4..]));
    assert_eq!(sent.json["expires_in"], 600);
    assert_eq!(sent.json["resend_after"], 60);
    assert_eq!(sent.headers["cache-control"], "no-store");

    let messages = sms_to(&number);
    assert_eq!(messages.len(), 1);
    assert!(messages[0].contains("Mi Account") && messages[0].contains("10 minutes"), "{}", messages[0]);
    let code = last_sms_code(&stack, &number).await;

    let id = sent.json["verification_id"].as_str().unwrap();
    let confirmed = confirm(&stack, id, &code).await;
    assert_eq!(confirmed.status, 200, "{:?}", confirmed.json);
    assert_eq!(confirmed.json["expires_in"], 900);
    let token = confirmed.json["verification_token"].as_str().unwrap();
    assert!(token.starts_with(&format!("{id}.")));

    let again = confirm(&stack, id, &code).await;
    assert_eq!((again.status, again.error_code()), (410, "verification_expired"));
}

#[tokio::test]
async fn full_international_number_is_accepted() {
    let stack = Stack::new().await;
    let (cc, national) = random_phone();
    let sent =
        ask(&stack, json!({"channel": "sms", "phone": format!("{cc} {national}"), "purpose": "add_contact"})).await;
    assert_eq!(sent.status, 202, "{:?}", sent.json);
    assert_eq!(sms_to(&e164(&cc, &national)).len(), 1);
}

#[tokio::test]
async fn email_code_arrives_in_chinese_when_preferred() {
    let stack = Stack::new().await;
    let typed = random_email().replace("example.com", "Example.COM");
    let address = typed.replace("Example.COM", "example.com");
    let body = stack.with_captcha(json!({"channel": "email", "email": typed, "purpose": "sign_up"})).await;
    let request = TestRequest::post("/v1/verifications", body).header("Accept-Language", "zh-CN,zh;q=0.9,en;q=0.8");
    let sent = stack.call(request_code::handle, request).await;
    assert_eq!(sent.status, 202, "{:?}", sent.json);
    assert_eq!(sent.json["channel"], "email");
    assert!(sent.json["destination"].as_str().unwrap().ends_with("***@example.com"));

    let emails = emails_to(&address);
    assert_eq!(emails.len(), 1, "sent to the address with its domain lower-cased");
    let (subject, body) = &emails[0];
    assert!(subject.contains("验证码"), "{subject}");
    assert!(body.contains("10分钟"), "{body}");
    let code = code_in(body).unwrap();
    let confirmed = confirm(&stack, sent.json["verification_id"].as_str().unwrap(), &code).await;
    assert_eq!(confirmed.status, 200);
}

#[tokio::test]
async fn wrong_codes_count_down_then_the_verification_is_gone() {
    let stack = Stack::new().await;
    let (cc, national) = random_phone();
    let sent =
        ask(&stack, json!({"channel": "sms", "country_code": cc, "phone": national, "purpose": "sign_up"})).await;
    let id = sent.json["verification_id"].as_str().unwrap();
    let code = last_sms_code(&stack, &e164(&cc, &national)).await;

    for left in (0..5).rev() {
        let answer = confirm(&stack, id, &wrong(&code)).await;
        assert_eq!((answer.status, answer.error_code()), (400, "invalid_code"));
        assert_eq!(answer.json["error"]["attempts_left"], left);
    }
    let too_late = confirm(&stack, id, &code).await;
    assert_eq!((too_late.status, too_late.error_code()), (410, "verification_expired"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_confirms_give_exactly_one_token() {
    let stack = Stack::new().await;
    let (cc, national) = random_phone();
    let sent =
        ask(&stack, json!({"channel": "sms", "country_code": cc, "phone": national, "purpose": "sign_up"})).await;
    let id = sent.json["verification_id"].as_str().unwrap().to_owned();
    let code = last_sms_code(&stack, &e164(&cc, &national)).await;

    let stack = std::sync::Arc::new(stack);
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (stack, id, code) = (stack.clone(), id.clone(), code.clone());
            tokio::spawn(async move { confirm(&stack, &id, &code).await })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap().status);
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200 || *s == 410), "{statuses:?}");
}

#[tokio::test]
async fn a_second_code_within_a_minute_is_refused_with_retry_after() {
    let stack = Stack::new().await;
    let (cc, national) = random_phone();
    let body = json!({"channel": "sms", "country_code": cc, "phone": national, "purpose": "sign_up"});
    assert_eq!(ask(&stack, body.clone()).await.status, 202);
    let items = stack.item_count().await;

    let refused = ask(&stack, body).await;
    assert_eq!((refused.status, refused.error_code()), (429, "rate_limited"));
    let retry: u64 = refused.headers["retry-after"].parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(sms_to(&e164(&cc, &national)).len(), 1, "nothing more was sent");
    assert_eq!(stack.item_count().await, items, "nothing was stored");
}

/// A request made at `at`, with a CAPTCHA solved at that time. Four times the base difficulty,
/// so that up to 9 requests an hour for one number pass the destination's rising difficulty and
/// meet the limits these tests are about.
pub(super) async fn phone_request(stack: &Stack, national: &str, ip: &str, at: Timestamp) -> CodeRequest {
    CodeRequest {
        captcha: Some(stack.solved_captcha_at(at, Some(4_000)).await),
        contact: Contact::Phone(PhoneNumber::parse(Some("+91"), national).unwrap()),
        purpose: Purpose::SignUp,
        client_ip: Some(ip.to_owned()),
        language: Language::English,
    }
}

// Time is a parameter of the domain functions: windows are crossed without sleeping.
#[tokio::test]
async fn five_codes_per_destination_per_hour() {
    let stack = Stack::new().await;
    let (_, national) = random_phone();
    let start = Timestamp::now().window_start(Duration::from_secs(3600));
    let mut rng = rand::rngs::OsRng;
    for i in 0..5 {
        let at = Timestamp(start.0 + i * 61);
        request_code(stack.app, phone_request(&stack, &national, &random_ip(), at).await, at, &mut rng).await.unwrap();
    }
    let sixth = request_code(
        stack.app,
        phone_request(&stack, &national, &random_ip(), Timestamp(start.0 + 5 * 61)).await,
        Timestamp(start.0 + 5 * 61),
        &mut rng,
    )
    .await;
    match sixth {
        Err(shared::Error::RateLimited { retry_after }) => {
            assert_eq!(retry_after, Duration::from_secs(3600 - 5 * 61));
        }
        other => panic!("expected rate_limited, got {other:?}"),
    }
    // The next hour starts a new window.
    request_code(
        stack.app,
        phone_request(&stack, &national, &random_ip(), Timestamp(start.0 + 3600)).await,
        Timestamp(start.0 + 3600),
        &mut rng,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn codes_per_client_ip_are_limited() {
    let stack = Stack::with_settings(&[("CODES_PER_IP_PER_HOUR", "3")]).await;
    let ip = random_ip();
    for _ in 0..3 {
        let (cc, national) = random_phone();
        let body = json!({"channel": "sms", "country_code": cc, "phone": national, "purpose": "sign_up"});
        let request = TestRequest::post("/v1/verifications", stack.with_captcha(body).await);
        assert_eq!(stack.call(request_code::handle, request.from_ip(&ip)).await.status, 202);
    }
    let (cc, national) = random_phone();
    let body = json!({"channel": "sms", "country_code": cc, "phone": national, "purpose": "sign_up"});
    let request = TestRequest::post("/v1/verifications", stack.with_captcha(body).await);
    let refused = stack.call(request_code::handle, request.from_ip(&ip)).await;
    assert_eq!((refused.status, refused.error_code()), (429, "rate_limited"));
    assert!(sms_to(&e164(&cc, &national)).is_empty());
}

#[tokio::test]
async fn a_code_expires_after_ten_minutes() {
    let stack = Stack::new().await;
    let (cc, national) = random_phone();
    let now = Timestamp::now();
    let mut rng = rand::rngs::OsRng;
    let sent = request_code(stack.app, phone_request(&stack, &national, &random_ip(), now).await, now, &mut rng)
        .await
        .unwrap();
    let code = last_sms_code(&stack, &e164(&cc, &national)).await;
    let late = confirm_code(stack.app, &sent.verification_id, &code, Timestamp(now.0 + 600), &mut rng).await;
    assert!(matches!(late, Err(shared::Error::VerificationExpired)), "{late:?}");
    let in_time = confirm_code(stack.app, &sent.verification_id, &code, Timestamp(now.0 + 599), &mut rng).await;
    assert!(in_time.is_ok(), "{in_time:?}");
}

#[tokio::test]
async fn a_new_code_retires_the_previous_one() {
    let stack = Stack::new().await;
    let (cc, national) = random_phone();
    let now = Timestamp::now();
    let mut rng = rand::rngs::OsRng;
    let first = request_code(stack.app, phone_request(&stack, &national, &random_ip(), now).await, now, &mut rng)
        .await
        .unwrap();
    let first_code = last_sms_code(&stack, &e164(&cc, &national)).await;
    let second = request_code(
        stack.app,
        phone_request(&stack, &national, &random_ip(), Timestamp(now.0 + 61)).await,
        Timestamp(now.0 + 61),
        &mut rng,
    )
    .await
    .unwrap();
    let second_code = last_sms_code(&stack, &e164(&cc, &national)).await;

    let old = confirm_code(stack.app, &first.verification_id, &first_code, Timestamp(now.0 + 62), &mut rng).await;
    assert!(matches!(old, Err(shared::Error::VerificationExpired)), "{old:?}");
    let new = confirm_code(stack.app, &second.verification_id, &second_code, Timestamp(now.0 + 62), &mut rng).await;
    assert!(new.is_ok(), "{new:?}");
}

/// A fresh code must not buy a fresh set of guesses (NIST SP 800-63B): wrong codes
/// are counted per destination across codes.
#[tokio::test]
async fn failed_guesses_are_capped_per_destination_across_codes() {
    let stack = Stack::with_settings(&[("FAILED_CODES_PER_DESTINATION_PER_HOUR", "7")]).await;
    let (cc, national) = random_phone();
    let start = Timestamp::now().window_start(Duration::from_secs(3600));
    let mut rng = rand::rngs::OsRng;
    let mut at = start.0;
    for _ in 0..2 {
        let sent = request_code(
            stack.app,
            phone_request(&stack, &national, &random_ip(), Timestamp(at)).await,
            Timestamp(at),
            &mut rng,
        )
        .await
        .unwrap();
        let code = last_sms_code(&stack, &e164(&cc, &national)).await;
        for _ in 0..5 {
            let guess =
                confirm_code(stack.app, &sent.verification_id, &wrong(&code), Timestamp(at + 1), &mut rng).await;
            assert!(matches!(guess, Err(shared::Error::InvalidCode { .. }) | Err(shared::Error::VerificationExpired)));
        }
        at += 61;
    }
    let third = request_code(
        stack.app,
        phone_request(&stack, &national, &random_ip(), Timestamp(at)).await,
        Timestamp(at),
        &mut rng,
    )
    .await;
    assert!(matches!(third, Err(shared::Error::RateLimited { .. })), "{third:?}");
}

#[tokio::test]
async fn bad_input_gets_a_clear_error_and_writes_nothing() {
    let stack = Stack::new().await;
    let (cc, national) = random_phone();
    let huge = format!(
        "{{\"channel\":\"email\",\"purpose\":\"sign_up\",\"email\":\"{}@example.com\"}}",
        "a".repeat(17 * 1024)
    );
    let cases: Vec<(String, u16, &str)> = vec![
        ("{not json".into(), 400, "invalid_request"),
        ("".into(), 400, "invalid_request"),
        ("[]".into(), 400, "invalid_request"),
        (json!({"channel": "sms", "purpose": "sign_up"}).to_string(), 400, "invalid_request"),
        (
            json!({"channel": "fax", "phone": national, "country_code": cc, "purpose": "sign_up"}).to_string(),
            400,
            "invalid_request",
        ),
        (
            json!({"channel": "sms", "phone": national, "country_code": cc, "purpose": "hack"}).to_string(),
            400,
            "invalid_request",
        ),
        (
            json!({"channel": "sms", "phone": 9812345678u64, "country_code": cc, "purpose": "sign_up"}).to_string(),
            400,
            "invalid_request",
        ),
        (
            json!({"channel": "sms", "phone": national, "country_code": cc, "purpose": "sign_up", "extra": 1})
                .to_string(),
            400,
            "invalid_request",
        ),
        (json!({"channel": "sms", "email": "a@example.com", "purpose": "sign_up"}).to_string(), 400, "invalid_request"),
        (json!({"channel": "email", "phone": national, "purpose": "sign_up"}).to_string(), 400, "invalid_request"),
        (
            json!({"channel": "sms", "phone": "12", "country_code": cc, "purpose": "sign_up"}).to_string(),
            400,
            "invalid_phone",
        ),
        (
            json!({"channel": "sms", "phone": "98\u{202e}12345678", "country_code": cc, "purpose": "sign_up"})
                .to_string(),
            400,
            "invalid_phone",
        ),
        (json!({"channel": "email", "email": "not-an-email", "purpose": "sign_up"}).to_string(), 400, "invalid_email"),
        (
            json!({"channel": "email", "email": "ｕser@example.com", "purpose": "sign_up"}).to_string(),
            400,
            "invalid_email",
        ),
        (r#"{"channel":"email","purpose":"sign_up","email":"\ud800@example.com"}"#.into(), 400, "invalid_request"),
        (huge, 413, "payload_too_large"),
    ];
    for (body, status, code) in cases {
        let answer = stack.call(request_code::handle, TestRequest::post_raw("/v1/verifications", &body)).await;
        assert_eq!((answer.status, answer.error_code()), (status, code), "{}", &body[..body.len().min(120)]);
        assert!(answer.json["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    assert_eq!(stack.item_count().await, 0, "no bad request wrote anything");
    assert!(sms_to(&e164(&cc, &national)).is_empty());

    for (id, body, status, code) in [
        ("nonexistent-id-000000", json!({"code": "123456"}), 410, "verification_expired"),
        ("AAAAAAAAAAAAAAAAAAAAAA", json!({"code": "123456"}), 410, "verification_expired"),
        ("AAAAAAAAAAAAAAAAAAAAAA", json!({"code": "12345"}), 400, "invalid_request"),
        ("AAAAAAAAAAAAAAAAAAAAAA", json!({"code": 123456}), 400, "invalid_request"),
        ("AAAAAAAAAAAAAAAAAAAAAA", json!({}), 400, "invalid_request"),
    ] {
        let answer = confirm_raw(&stack, id, &body.to_string()).await;
        assert_eq!((answer.status, answer.error_code()), (status, code), "{id} {body}");
    }
    assert_eq!(stack.item_count().await, 0);
}

async fn confirm_raw(stack: &Stack, id: &str, body: &str) -> TestResponse {
    let path = format!("/v1/verifications/{id}/confirm");
    stack.call(verify_code::handle, TestRequest::post_raw(&path, body).path_parameter("verification_id", id)).await
}
