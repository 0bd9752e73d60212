//! What the service logs while a person signs up and in (the courier delivering their codes
//! included): never a phone number, an email address, a code, a token or a password (nor a
//! CAPTCHA provider's token or secret key).

use std::io::Write;
use std::sync::{Arc, Mutex};

use integration_tests::fake_siteverify::{FakeVerifier, SECRET};
use integration_tests::outbox::last_code_to;
use integration_tests::{new_email, new_phone, random_hex, Stack, TestRequest};
use serde_json::{json, Value};
use shared::domain::Contact;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

const PASSWORD: &str = "Tr0ub4dor&3-horse";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn logs_hold_no_contact_code_token_or_password() {
    let captured = Captured::default();
    let writer = captured.clone();
    // The same JSON format and filter the functions log with, at the most verbose level.
    tracing_subscriber::fmt()
        .json()
        .with_writer(move || writer.clone())
        .finish()
        .with(shared::http::log_filter("trace"))
        .init();

    let stack = Stack::with_settings(&[("RESEND_COOLDOWN_SECONDS", "0")]).await;
    let phone = new_phone();
    let email = new_email();
    let mut secrets = vec![PASSWORD.to_owned()];
    for contact in [&phone, &email] {
        let token = stack.verified_token(contact, "sign_up").await;
        secrets.push(last_code_to(contact).unwrap());
        secrets.push(token.clone());
        assert_eq!(stack.create_account(&token, PASSWORD).await.status, 201);
    }
    // Refusals log too: a wrong code, a second code too soon, a wrong password, a premium number.
    let sent = stack.request_code(json!({"channel": "sms", "phone": phone.canonical(), "purpose": "sign_up"})).await;
    let _ = stack.confirm(sent.json["verification_id"].as_str().unwrap(), "000000").await;
    let _ = stack.sign_in(json!({"login": email.canonical(), "password": "Wrong-Pass-1"})).await;
    let session = stack.session(&email.canonical(), PASSWORD).await;
    secrets.push(session.clone());
    let _ = stack.request_code(json!({"channel": "sms", "phone": "+44 909 8790000", "purpose": "sign_up"})).await;

    third_party_captcha_decisions(&captured, &mut secrets).await;

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("\"event\":\"code_queued\""), "decisions are logged: {logs}");
    assert!(logs.contains("\"event\":\"message_sent\""), "and the courier's deliveries");
    assert!(logs.contains("\"country\":\"91\""), "with the country");
    let Contact::Phone(number) = &phone else { unreachable!() };
    let Contact::Email(address) = &email else { unreachable!() };
    for secret in
        secrets.iter().map(String::as_str).chain([number.national_digits(), address.local_part(), "9098790000"])
    {
        let line = logs.lines().find(|l| l.contains(secret));
        assert!(
            line.is_none(),
            "{secret} appears in the logs: {}",
            line.unwrap_or_default().chars().take(600).collect::<String>()
        );
    }
}

/// With a third-party CAPTCHA, each refusal is one line: `captcha_failed` at info,
/// `captcha_unavailable` at warn, or at error when the provider refuses our own keys.
async fn third_party_captcha_decisions(captured: &Captured, secrets: &mut Vec<String>) {
    let fake = FakeVerifier::start().await;
    let stack = fake.stack("turnstile", &[]).await;
    let misconfigured = fake.stack("turnstile", &[("CAPTCHA_SECRET_KEY", "rotated-away-0x4AAAA")]).await;
    let (wrong, good) = (format!("wrong-{}", random_hex(16)), format!("good-{}", random_hex(16)));
    let start = captured.0.lock().unwrap().len();
    assert_eq!(ask_with(&stack, &wrong).await, 403);
    assert_eq!(ask_with(&stack, "garbage").await, 503);
    assert_eq!(ask_with(&misconfigured, &good).await, 503);

    let logs = String::from_utf8(captured.0.lock().unwrap()[start..].to_vec()).unwrap();
    let decisions: Vec<Value> = logs
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["fields"]["event"].as_str().is_some_and(|e| e.starts_with("captcha_")))
        .collect();
    let summary: Vec<(&str, &str)> =
        decisions.iter().map(|l| (l["level"].as_str().unwrap(), l["fields"]["event"].as_str().unwrap())).collect();
    assert_eq!(
        summary,
        [("INFO", "captcha_failed"), ("WARN", "captcha_unavailable"), ("ERROR", "captcha_unavailable")],
        "{logs}"
    );
    for line in &decisions {
        assert_eq!(
            (line["fields"]["provider"].as_str(), line["fields"]["channel"].as_str()),
            (Some("turnstile"), Some("sms"))
        );
    }
    assert!(decisions[0]["fields"]["reason"].as_str().unwrap().contains("invalid-input-response"), "{logs}");
    assert!(decisions[2]["fields"]["reason"].as_str().unwrap().contains("invalid-input-secret"), "{logs}");
    secrets.extend([SECRET.to_owned(), "rotated-away-0x4AAAA".to_owned(), wrong, good]);
}

async fn ask_with(stack: &Stack, token: &str) -> u16 {
    let body = json!({"channel": "sms", "phone": new_phone().canonical(), "purpose": "sign_up", "captcha": token});
    stack.call(request_code::handle, TestRequest::post("/v1/verifications", body)).await.status
}
