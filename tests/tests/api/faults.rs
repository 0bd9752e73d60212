//! When AWS misbehaves (issue 16): a throttled, failing, unreachable or hanging DynamoDB or
//! Secrets Manager answers 503 `service_unavailable` with `Retry-After`, within the functions'
//! time budget, with nothing half-written, and the same request works once the fault clears; a
//! bug of ours (a request AWS calls invalid) stays a 500. SES or SNS failing never fails a
//! request: the courier tries again and the message arrives once the fault clears, once; a
//! message refused for good frees its resend wait. Every test ends with the table consistent.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use integration_tests::faults::{Fault, Faults};
use integration_tests::outbox::{last_code_to, messages_to};
use integration_tests::{
    new_email, new_phone, new_secret_arn, random_hex, sdk_config, Stack, TestRequest, TestResponse,
};
use serde_json::json;
use shared::app::{ColdStart, Keyrings, SesAndSns};
use shared::domain::Contact;
use shared::waits::Budget;
use shared::{App, Error};

const PASSWORD: &str = "Tr0ub4dor&3-horse";

/// Faults answer at once, so the tests' generous waits (for a slow moto) change nothing but
/// the hanging test, which runs with the waits a deployed function has.
async fn faulty_stack() -> (Stack, Faults) {
    faulty_stack_with(&[]).await
}

async fn faulty_stack_with(settings: &[(&str, &str)]) -> (Stack, Faults) {
    let faults = Faults::default();
    let stack = Stack::with_sdk(faults.inject(sdk_config().await), settings).await;
    (stack, faults)
}

fn assert_unavailable(answer: &TestResponse, what: &str) {
    assert_eq!((answer.status, answer.error_code()), (503, "service_unavailable"), "{what}: {:?}", answer.json);
    assert_eq!(answer.headers.get("retry-after").map(String::as_str), Some("2"), "{what}");
    assert_eq!(answer.json["error"]["retry_after"], 2, "{what}");
}

#[tokio::test]
async fn a_throttled_or_failing_dynamodb_is_a_503_that_writes_nothing_and_a_retry_works() {
    let (stack, faults) = faulty_stack().await;
    for fault in [Fault::Throttle, Fault::ServerError, Fault::Reset] {
        let before = stack.item_count().await;
        let body = stack
            .with_captcha(json!({"channel": "email", "email": new_email().canonical(), "purpose": "sign_up"}))
            .await;
        // The read before it answers; the write (the verification, its limits, the CAPTCHA's
        // single use, in one transaction) fails.
        faults.set("dynamodb:TransactWriteItems", fault);
        let answer = stack.call(request_code::handle, TestRequest::post("/v1/verifications", body)).await;
        faults.clear();
        assert_unavailable(&answer, &format!("{fault:?}"));
        assert_eq!(stack.item_count().await, before, "{fault:?}: nothing written");
    }
    let email = new_email();
    let sent = stack.request_code(json!({"channel": "email", "email": email.canonical(), "purpose": "sign_up"})).await;
    assert_eq!(sent.status, 202, "the fault cleared: {:?}", sent.json);
    stack.assert_consistent().await;
}

fn code_request(contact: &Contact) -> serde_json::Value {
    match contact {
        Contact::Phone(phone) => json!({"channel": "sms", "phone": phone.e164(), "purpose": "sign_up"}),
        Contact::Email(email) => json!({"channel": "email", "email": email.as_str(), "purpose": "sign_up"}),
    }
}

#[tokio::test]
async fn a_failing_ses_or_sns_delays_a_code_which_arrives_once_the_fault_clears_once() {
    let (stack, faults) = faulty_stack().await;
    for (contact, operation, fault) in [
        (new_email(), "sesv2:SendEmail", Fault::Throttle),
        (new_email(), "sesv2:SendEmail", Fault::Reset),
        (new_phone(), "sns:Publish", Fault::ServerError),
        (new_phone(), "sns:Publish", Fault::Throttle),
    ] {
        let what = format!("{operation} {fault:?}");
        faults.set(operation, fault);
        let sent = stack.request_code(code_request(&contact)).await;
        assert_eq!(sent.status, 202, "{what}: the request does not wait for the provider: {:?}", sent.json);
        assert!(messages_to(&contact).is_empty(), "{what}: not sent yet");
        assert_eq!(stack.deliver().await.batch_item_failures.len(), 1, "{what}: the courier asks again");
        assert_eq!(stack.waiting_messages().await.len(), 1, "{what}: the message waits");

        faults.clear();
        assert!(stack.deliver().await.batch_item_failures.is_empty(), "{what}");
        assert_eq!(messages_to(&contact).len(), 1, "{what}: arrived once the fault cleared");
        assert!(last_code_to(&contact).is_some(), "{what}");
        stack.deliver().await;
        assert_eq!(messages_to(&contact).len(), 1, "{what}: and only once");
        assert!(stack.waiting_messages().await.is_empty(), "{what}");
    }
    stack.assert_consistent().await;
}

#[tokio::test]
async fn a_message_refused_for_good_is_given_up_and_frees_the_resend_wait() {
    let (stack, faults) = faulty_stack().await;
    for (contact, operation) in [(new_phone(), "sns:Publish"), (new_email(), "sesv2:SendEmail")] {
        // The provider refuses the destination (as SES a rejected address, SNS an opted-out number).
        faults.set(operation, Fault::Invalid);
        assert_eq!(stack.request_code(code_request(&contact)).await.status, 202, "{operation}");
        faults.clear();
        assert!(messages_to(&contact).is_empty(), "{operation}");
        assert!(stack.waiting_messages().await.is_empty(), "{operation}: given up on, not left waiting");

        // Within the 60 s resend cooldown, a new code may be asked for at once, and it arrives.
        let again = stack.request_code(code_request(&contact)).await;
        assert_eq!(again.status, 202, "{operation}: the wait was freed: {:?}", again.json);
        assert_eq!(messages_to(&contact).len(), 1, "{operation}");
        // A code that did arrive keeps its wait.
        assert_eq!(stack.request_code(code_request(&contact)).await.status, 429, "{operation}");
    }
    stack.assert_consistent().await;
}

#[tokio::test]
async fn a_message_failing_every_attempt_is_given_up_after_the_last() {
    let (stack, faults) = faulty_stack().await;
    let contact = new_email();
    faults.set("sesv2:SendEmail", Fault::ServerError);
    assert_eq!(stack.request_code(code_request(&contact)).await.status, 202);
    for attempt in 2..shared::domain::courier::MAX_ATTEMPTS {
        assert_eq!(stack.deliver().await.batch_item_failures.len(), 1, "attempt {attempt}");
    }
    assert!(stack.deliver().await.batch_item_failures.is_empty(), "the last attempt gives up");
    assert!(stack.waiting_messages().await.is_empty());
    faults.clear();
    assert_eq!(stack.request_code(code_request(&contact)).await.status, 202, "the wait was freed");
    assert_eq!(messages_to(&contact).len(), 1);
    stack.assert_consistent().await;
}

#[tokio::test]
async fn a_hanging_dynamodb_answers_503_within_the_time_budget() {
    let budget = Budget::default();
    let (call, deadline) = (budget.dynamodb.operation.as_millis().to_string(), budget.deadline.as_millis().to_string());
    let (stack, faults) =
        faulty_stack_with(&[("AWS_CALL_TIMEOUT_MS", &call), ("REQUEST_DEADLINE_MS", &deadline)]).await;
    let sign_in = json!({"login": new_email().canonical(), "password": PASSWORD});
    faults.set("dynamodb:", Fault::Hang);
    let started = Instant::now();
    let answer = stack.sign_in(sign_in.clone()).await;
    let took = started.elapsed();
    faults.clear();
    assert_unavailable(&answer, "hang");
    // Bounded by the DynamoDB client's operation timeout, well inside the deadline and the
    // functions' 10 s Timeout: a behaviour (an answer before Lambda kills the process), not a speed.
    assert!(took < budget.deadline, "answered after {took:?}");
    assert_eq!(stack.sign_in(sign_in).await.error_code(), "invalid_credentials", "answered once it clears");
}

#[tokio::test]
async fn a_create_account_whose_transaction_failed_is_retried_with_the_same_token_and_key() {
    let (stack, faults) = faulty_stack().await;
    let email = new_email();
    let token = stack.verified_token(&email, "sign_up").await;
    let body = json!({"verification_token": token, "password": PASSWORD, "accept_terms": true});
    let request = || TestRequest::post("/v1/accounts", body.clone()).header("Idempotency-Key", "faults-1");
    faults.set("dynamodb:TransactWriteItems", Fault::Throttle);
    let refused = stack.call(create_account::handle, request()).await;
    faults.clear();
    assert_unavailable(&refused, "create account");
    assert_eq!(
        stack.sign_in(json!({"login": email.canonical(), "password": PASSWORD})).await.status,
        401,
        "no account yet"
    );

    let created = stack.call(create_account::handle, request()).await;
    assert_eq!(created.status, 201, "{:?}", created.json);
    let again = stack.call(create_account::handle, request()).await;
    assert_eq!((again.status, &again.json), (201, &created.json), "the retry gets the first answer");
    stack.assert_consistent().await;
}

/// An attempt DynamoDB applied but whose answer was lost (a timeout) is sent again by the SDK;
/// the second attempt must neither count twice nor be refused by the first one's effect.
#[tokio::test]
async fn a_write_whose_answer_was_lost_is_applied_once_and_answers_as_applied() {
    let (stack, faults) = faulty_stack().await;

    // A wrong code counted once, not twice: after it, max - 2 more wrong codes still leave
    // the right one its attempt.
    let email = new_email();
    let sent = stack.request_code(code_request(&email)).await;
    let id = sent.json["verification_id"].as_str().unwrap();
    let code = last_code_to(&email).unwrap();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    faults.set_once("dynamodb:UpdateItem", Fault::LoseAnswer);
    assert_eq!(stack.confirm(id, wrong).await.error_code(), "invalid_code");
    for _ in 0..3 {
        assert_eq!(stack.confirm(id, wrong).await.error_code(), "invalid_code");
    }
    let confirmed = stack.confirm(id, &code).await;
    assert_eq!(confirmed.status, 200, "the lost answer's attempt counted once: {:?}", confirmed.json);
    assert_eq!(faults.pending(), 0, "the fault met its write");

    // Starting TOTP set-up starts its resend wait: the retry is not refused by that wait. Its
    // UpdateItems are the password check's count and refund, then the start (round_trips.rs).
    let token = confirmed.json["verification_token"].as_str().unwrap();
    assert_eq!(stack.create_account(token, PASSWORD).await.status, 201);
    let session = stack.session(&email.canonical(), PASSWORD).await;
    let start =
        TestRequest::post("/v1/account/two-factor", json!({"method": "totp", "password": PASSWORD})).bearer(&session);
    faults.set_once_after("dynamodb:UpdateItem", Fault::LoseAnswer, 2);
    let started = stack.call(enable_2fa::handle, start).await;
    assert_eq!(started.status, 200, "{:?}", started.json);
    assert_eq!(faults.pending(), 0, "the fault met the start");
    let secret = started.json["secret"].as_str().unwrap();
    let confirm = TestRequest::post(
        "/v1/account/two-factor/confirm",
        json!({"code": super::recovery::authenticator_code(secret, super::recovery::now())}),
    )
    .bearer(&session);
    assert_eq!(stack.call(enable_2fa::handle, confirm).await.status, 200);

    // A new device's challenge, created with "not there yet": its retry is not a conflict.
    faults.set_once("dynamodb:PutItem", Fault::LoseAnswer);
    let challenge = stack.sign_in(json!({"login": email.canonical(), "password": PASSWORD})).await;
    assert_eq!((challenge.status, &challenge.json["mfa_required"]), (200, &json!(true)), "{:?}", challenge.json);
    assert_eq!(faults.pending(), 0, "the fault met the challenge's put");
    stack.assert_consistent().await;
}

/// A request the service built wrong is a bug, and says so: 500, not "try again".
#[tokio::test]
async fn a_request_aws_calls_invalid_stays_a_500() {
    let (stack, faults) = faulty_stack().await;
    let email = new_email();
    stack.sign_up(&email, PASSWORD).await;
    let session = stack.session(&email.canonical(), PASSWORD).await;
    faults.set("dynamodb:", Fault::Invalid);
    let answer = stack.account_page(&session).await;
    faults.clear();
    assert_eq!((answer.status, answer.error_code()), (500, "internal_error"), "{:?}", answer.json);
    assert!(!answer.headers.contains_key("retry-after"));
}

/// Secrets Manager throttled at a cold start: the start survives, requests answer 503 until the
/// keys can be read, then the next request builds the app.
#[tokio::test]
async fn a_cold_start_that_cannot_read_its_keys_answers_503_until_it_can() {
    let faults = Faults::default();
    let sdk = faults.inject(sdk_config().await);
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk_config().await);
    let name = format!("cold-start-{}", random_hex(8));
    let env: HashMap<String, String> = HashMap::from([
        ("TABLE_NAME".into(), "accounts-unused".into()),
        ("SENDER_EMAIL".into(), "no-reply@example.com".into()),
        ("SERVICE_SECRET_ARN".into(), new_secret_arn(&secrets, &name).await),
        ("EDGE_SECRET".into(), random_hex(32)),
        // The fault is injected, not waited for: a moto queueing the whole suite's requests
        // must not turn the read after it into a timeout (Stack::with_settings does the same).
        ("AWS_CALL_TIMEOUT_MS".into(), "30000".into()),
    ]);
    let load = || App::load::<SesAndSns>(|name| env.get(name).cloned(), &sdk, Keyrings::Both);

    faults.set("secretsmanager:GetSecretValue", Fault::Throttle);
    let start = ColdStart::new(load().await).expect("a fault of the moment does not stop the start");
    assert!(matches!(start.app(load).await, Err(Error::ServiceUnavailable { .. })));
    faults.clear();
    assert!(start.app(load).await.is_ok(), "read once the fault clears");
    secrets.delete_secret().secret_id(&name).force_delete_without_recovery(true).send().await.ok();
}

/// The deadline's bound holds for any sequence of calls: every request answers before it.
#[test]
fn the_request_deadline_is_inside_the_functions_timeout() {
    let template = std::fs::read_to_string(integration_tests::policy::template_path()).unwrap();
    let timeout: u64 = template.lines().find_map(|l| l.trim().strip_prefix("Timeout: ")).unwrap().parse().unwrap();
    assert!(Budget::default().deadline + Duration::from_secs(1) < Duration::from_secs(timeout));
}

/// A transaction whose answer was lost is sent again with the same `ClientRequestToken`, which
/// DynamoDB honours; moto does not, and the retry's refusal of the fresh key it wrote itself
/// says the same: applied. A code request answers 202 and its code arrives once.
#[tokio::test]
async fn a_transaction_whose_answer_was_lost_answers_as_applied() {
    let (stack, faults) = faulty_stack().await;
    let email = new_email();
    let body = stack.with_captcha(code_request(&email)).await;
    faults.set_once("dynamodb:TransactWriteItems", Fault::LoseAnswer);
    let sent = stack.call(request_code::handle, TestRequest::post("/v1/verifications", body)).await;
    assert_eq!(sent.status, 202, "{:?}", sent.json);
    assert_eq!(messages_to(&email).len(), 1, "the code arrived, once");
    let id = sent.json["verification_id"].as_str().unwrap();
    assert_eq!(stack.confirm(id, &last_code_to(&email).unwrap()).await.status, 200);
    stack.assert_consistent().await;
}
