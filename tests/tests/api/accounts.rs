//! Create account over HTTP, against moto.

use std::sync::Arc;

use integration_tests::outbox::{code_in, messages_to};
use integration_tests::{new_email, new_phone, Stack, TestRequest};
use serde_json::json;
use shared::domain::Contact;

const PASSWORD: &str = "Tr0ub4dor&3-horse";

#[tokio::test]
async fn sign_up_by_phone() {
    let stack = Stack::new().await;
    let phone = new_phone();
    let token = stack.verified_token(&phone, "sign_up").await;
    let created = stack.create_account(&token, PASSWORD).await;
    assert_eq!(created.status, 201, "{:?}", created.json);
    assert_eq!(created.json["login"], phone.canonical());
    assert_eq!(created.json["account_id"].as_str().unwrap().len(), 22);
}

#[tokio::test]
async fn sign_up_by_email_stores_terms_and_never_the_password() {
    let stack = Stack::new().await;
    let email = new_email();
    let token = stack.verified_token(&email, "sign_up").await;
    let created = stack.create_account(&token, PASSWORD).await;
    assert_eq!(created.status, 201, "{:?}", created.json);
    assert_eq!(created.json["login"], email.canonical());

    let items = stack.dynamo.scan().table_name(&stack.table).send().await.unwrap();
    let account = items.items().iter().find(|i| i["pk"].as_s().unwrap().starts_with("ACC#")).expect("the account item");
    assert_eq!(account["terms_version"].as_s().unwrap(), "2026-11");
    assert!(account["terms_accepted_at"].as_n().is_ok());
    assert!(account["password_hash"].as_s().unwrap().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    let everything = format!("{:?}", items.items());
    assert!(!everything.contains(PASSWORD), "the password is stored nowhere in plain text");
}

#[tokio::test]
async fn a_token_creates_at_most_one_account() {
    let stack = Stack::new().await;
    let token = stack.verified_token(&new_phone(), "sign_up").await;
    assert_eq!(stack.create_account(&token, PASSWORD).await.status, 201);
    let again = stack.create_account(&token, PASSWORD).await;
    assert_eq!((again.status, again.error_code()), (410, "verification_expired"));
}

#[tokio::test]
async fn a_token_for_another_purpose_cannot_create_an_account() {
    let stack = Stack::new().await;
    let token = stack.verified_token(&new_phone(), "add_contact").await;
    let refused = stack.create_account(&token, PASSWORD).await;
    assert_eq!((refused.status, refused.error_code()), (410, "verification_expired"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_concurrent_sign_ups_of_one_phone_make_one_account() {
    let stack = Arc::new(
        Stack::with_settings(&[("RESEND_COOLDOWN_SECONDS", "0"), ("CODES_PER_DESTINATION_PER_HOUR", "20")]).await,
    );
    let phone = new_phone();
    let mut tokens = Vec::new();
    for _ in 0..10 {
        tokens.push(stack.verified_token(&phone, "sign_up").await);
    }
    let tasks: Vec<_> = tokens
        .into_iter()
        .map(|token| {
            let stack = stack.clone();
            tokio::spawn(async move { stack.create_account(&token, PASSWORD).await })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        let answer = task.await.unwrap();
        answers.push((answer.status, answer.error_code().to_owned()));
    }
    assert_eq!(answers.iter().filter(|(s, _)| *s == 201).count(), 1, "{answers:?}");
    assert!(answers.iter().all(|(s, c)| *s == 201 || (*s == 409 && c == "already_registered")), "{answers:?}");
}

#[tokio::test]
async fn a_weak_password_lists_every_violation_and_keeps_the_token() {
    let stack = Stack::new().await;
    let phone = new_phone();
    let Contact::Phone(number) = &phone else { unreachable!() };
    let token = stack.verified_token(&phone, "sign_up").await;

    let weak = stack.create_account(&token, &format!("x{}", number.national_digits())).await;
    assert_eq!((weak.status, weak.error_code()), (422, "weak_password"));
    assert_eq!(weak.json["error"]["violations"], json!(["missing_uppercase", "missing_symbol", "contains_login"]));
    let common = stack.create_account(&token, "password").await;
    assert!(common.json["error"]["violations"].as_array().unwrap().contains(&json!("common_password")));
    let short = stack.create_account(&token, "Aa1!").await;
    assert_eq!(short.json["error"]["violations"], json!(["too_short"]));

    assert_eq!(stack.create_account(&token, PASSWORD).await.status, 201, "refusals did not use the token up");
}

#[tokio::test]
async fn terms_must_be_accepted() {
    let stack = Stack::new().await;
    let token = stack.verified_token(&new_phone(), "sign_up").await;
    let call = |body: serde_json::Value| stack.call(create_account::handle, TestRequest::post("/v1/accounts", body));

    let declined = call(json!({"verification_token": token, "password": PASSWORD, "accept_terms": false})).await;
    assert_eq!((declined.status, declined.error_code()), (400, "terms_not_accepted"));
    let missing = call(json!({"verification_token": token, "password": PASSWORD})).await;
    assert_eq!((missing.status, missing.error_code()), (400, "invalid_request"));
    let stale = call(
        json!({"verification_token": token, "password": PASSWORD, "accept_terms": true, "terms_version": "2019-01"}),
    )
    .await;
    assert_eq!((stale.status, stale.error_code()), (400, "invalid_request"));
    let current = call(
        json!({"verification_token": token, "password": PASSWORD, "accept_terms": true, "terms_version": "2026-11"}),
    )
    .await;
    assert_eq!(current.status, 201);
}

#[tokio::test]
async fn signing_up_again_tells_the_owner_and_nobody_else() {
    let stack = Stack::with_settings(&[("RESEND_COOLDOWN_SECONDS", "0")]).await;
    let phone = new_phone();
    let token = stack.verified_token(&phone, "sign_up").await;
    assert_eq!(stack.create_account(&token, PASSWORD).await.status, 201);
    let fresh =
        stack.request_code(json!({"channel": "sms", "phone": new_phone().canonical(), "purpose": "sign_up"})).await;
    let again = stack.request_code(json!({"channel": "sms", "phone": phone.canonical(), "purpose": "sign_up"})).await;
    assert_eq!(again.status, fresh.status);
    let keys = |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&again.json), keys(&fresh.json));
    assert_eq!(again.json["expires_in"], fresh.json["expires_in"]);

    let messages = messages_to(&phone);
    let last = messages.last().unwrap();
    assert!(last.contains("already belongs to an account"), "{last}");
    assert_eq!(code_in(last), None, "no code in the notice");

    // Confirming that verification answers like any wrong code.
    let id = again.json["verification_id"].as_str().unwrap();
    let guess = stack.confirm(id, "000000").await;
    assert_eq!((guess.status, guess.error_code()), (400, "invalid_code"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_idempotent_retry_gets_the_first_answer() {
    let stack = Arc::new(Stack::new().await);
    let token = stack.verified_token(&new_email(), "sign_up").await;
    let body = json!({"verification_token": token, "password": PASSWORD, "accept_terms": true});
    let send = |key: &str, body: serde_json::Value| {
        let stack = stack.clone();
        let request = TestRequest::post("/v1/accounts", body).header("Idempotency-Key", key);
        async move { stack.call(create_account::handle, request).await }
    };

    let (first, second) = tokio::join!(send("k-1", body.clone()), send("k-1", body.clone()));
    assert_eq!((first.status, second.status), (201, 201), "{:?} {:?}", first.json, second.json);
    assert_eq!(first.json, second.json);
    let third = send("k-1", body.clone()).await;
    assert_eq!((third.status, &third.json), (201, &first.json));

    let mut changed = body.clone();
    changed["password"] = json!("Another-Pass-42");
    let reused = send("k-1", changed).await;
    assert_eq!((reused.status, reused.error_code()), (409, "idempotency_key_reused"));
    let other_key = send("k-2", body).await;
    assert_eq!((other_key.status, other_key.error_code()), (410, "verification_expired"));
}

#[tokio::test]
async fn malformed_create_requests_are_refused() {
    let stack = Stack::new().await;
    for (body, status, code) in [
        ("{".to_owned(), 400, "invalid_request"),
        (json!({"verification_token": 1, "password": PASSWORD, "accept_terms": true}).to_string(), 400, "invalid_request"),
        (json!({"verification_token": "abc", "password": PASSWORD, "accept_terms": true}).to_string(), 400, "invalid_request"),
        (json!({"verification_token": "AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "password": PASSWORD, "accept_terms": true}).to_string(), 410, "verification_expired"),
        (json!({"verification_token": "x", "password": PASSWORD, "accept_terms": "yes"}).to_string(), 400, "invalid_request"),
    ] {
        let answer = stack.call(create_account::handle, TestRequest::post_raw("/v1/accounts", &body)).await;
        assert_eq!((answer.status, answer.error_code()), (status, code), "{body}");
    }
    let bad_key = TestRequest::post("/v1/accounts", json!({})).header("Idempotency-Key", "");
    assert_eq!(stack.call(create_account::handle, bad_key).await.status, 400);
    assert_eq!(stack.item_count().await, 0);
}
