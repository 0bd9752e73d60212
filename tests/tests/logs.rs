//! What the service logs while a person signs up and in: never a phone number, an
//! email address, a code, a token or a password.

use std::io::Write;
use std::sync::{Arc, Mutex};

use integration_tests::outbox::last_code_to;
use integration_tests::{new_email, new_phone, Stack};
use serde_json::json;
use shared::domain::Contact;

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
        .with_env_filter(shared::http::log_filter("trace"))
        .with_writer(move || writer.clone())
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

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("\"event\":\"code_sent\""), "decisions are logged: {logs}");
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
