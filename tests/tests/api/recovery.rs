//! Forgot password and account self-service over HTTP, against moto.

use std::sync::Arc;

use integration_tests::outbox::{code_in, messages_to};
use integration_tests::{new_email, new_phone, Stack, TestRequest, TestResponse};
use serde_json::{json, Value};
use shared::domain::Contact;
use shared::Timestamp;
use totp_rs::{Algorithm, Secret, TOTP};

pub(super) const PASSWORD: &str = "Tr0ub4dor&3-horse";
pub(super) const NEW_PASSWORD: &str = "Quartz-Lantern-77";

pub(super) fn settings() -> [(&'static str, &'static str); 2] {
    [("RESEND_COOLDOWN_SECONDS", "0"), ("CODES_PER_DESTINATION_PER_HOUR", "20")]
}

pub(super) async fn reset(stack: &Stack, token: &str, password: &str) -> TestResponse {
    let body = json!({"verification_token": token, "password": password});
    stack.call(reset_password::handle, TestRequest::post("/v1/password-resets", body)).await
}

pub(super) async fn reset_mfa(stack: &Stack, body: Value) -> TestResponse {
    stack.call(reset_password::handle, TestRequest::post("/v1/password-resets/mfa", body)).await
}

pub(super) async fn manage(stack: &Stack, request: TestRequest) -> TestResponse {
    stack.call(manage_account::handle, request).await
}

pub(super) fn with_body(method: &str, path: &str, session: &str, body: Value) -> TestRequest {
    let request = TestRequest::post(path, body).bearer(session);
    match method {
        "PUT" => request.method("PUT"),
        "DELETE" => request.method("DELETE"),
        _ => request,
    }
}

pub(super) fn authenticator_code(secret: &str, at: u64) -> String {
    let bytes = Secret::Encoded(secret.to_owned()).to_bytes().unwrap();
    TOTP::new_unchecked(Algorithm::SHA1, 6, 1, 30, bytes, None, String::new()).generate(at)
}

pub(super) fn now() -> u64 {
    Timestamp::now().0 as u64
}

/// Turns TOTP on for the signed-in account; the secret and the recovery codes.
pub(super) async fn enable_totp(stack: &Stack, session: &str) -> (String, Vec<String>) {
    let start =
        TestRequest::post("/v1/account/two-factor", json!({"method": "totp", "password": PASSWORD})).bearer(session);
    let secret = stack.call(enable_2fa::handle, start).await.json["secret"].as_str().unwrap().to_owned();
    let confirm =
        TestRequest::post("/v1/account/two-factor/confirm", json!({"code": authenticator_code(&secret, now())}))
            .bearer(session);
    let enabled = stack.call(enable_2fa::handle, confirm).await;
    assert_eq!(enabled.status, 200, "{:?}", enabled.json);
    let codes =
        enabled.json["recovery_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();
    (secret, codes)
}

pub(super) async fn add_recovery(stack: &Stack, session: &str, contact: &Contact) {
    let token = stack.verified_token(contact, "add_contact").await;
    let request =
        TestRequest::post("/v1/account/recovery-contacts", json!({"verification_token": token, "password": PASSWORD}))
            .bearer(session);
    assert_eq!(stack.call(add_recovery_contact::handle, request).await.status, 201);
}

#[tokio::test]
async fn forgot_password_through_the_primary_phone() {
    let stack = Stack::with_settings(&settings()).await;
    let phone = new_phone();
    stack.sign_up(&phone, PASSWORD).await;
    let old_session = stack.session(&phone.canonical(), PASSWORD).await;

    let token = stack.verified_token(&phone, "reset_password").await;
    let weak = reset(&stack, &token, "short").await;
    assert_eq!((weak.status, weak.error_code()), (422, "weak_password"));
    let done = reset(&stack, &token, NEW_PASSWORD).await;
    assert_eq!(done.status, 204, "{:?}", done.json);
    assert_eq!(reset(&stack, &token, NEW_PASSWORD).await.status, 410, "a token resets once");

    assert_eq!(stack.account_page(&old_session).await.status, 401, "old sessions are signed out");
    assert_eq!(stack.sign_in(json!({"login": phone.canonical(), "password": PASSWORD})).await.status, 401);
    stack.session(&phone.canonical(), NEW_PASSWORD).await;
    let notices = messages_to(&phone);
    let notice = notices.iter().rev().find(|m| m.contains("password was reset")).expect("the owner is told");
    assert_eq!(code_in(notice), None);
}

#[tokio::test]
async fn forgot_password_through_a_recovery_email_and_nothing_for_strangers() {
    let stack = Stack::with_settings(&settings()).await;
    let phone = new_phone();
    stack.sign_up(&phone, PASSWORD).await;
    let session = stack.session(&phone.canonical(), PASSWORD).await;
    let email = new_email();
    add_recovery(&stack, &session, &email).await;

    let token = stack.verified_token(&email, "reset_password").await;
    assert_eq!(reset(&stack, &token, NEW_PASSWORD).await.status, 204);
    stack.session(&phone.canonical(), NEW_PASSWORD).await;

    // A stranger's contact: the same answer, and nothing is sent.
    let stranger = new_email();
    let known =
        stack.request_code(json!({"channel": "email", "email": email.canonical(), "purpose": "reset_password"})).await;
    let unknown = stack
        .request_code(json!({"channel": "email", "email": stranger.canonical(), "purpose": "reset_password"}))
        .await;
    assert_eq!((unknown.status, known.status), (202, 202));
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&unknown.json), keys(&known.json));
    assert!(messages_to(&stranger).is_empty());
    let guess = stack.confirm(unknown.json["verification_id"].as_str().unwrap(), "123456").await;
    assert_eq!(guess.error_code(), "invalid_code", "confirming answers like any wrong code");
}

#[tokio::test]
async fn with_two_factor_on_one_stolen_contact_is_not_enough() {
    let stack = Stack::with_settings(&settings()).await;
    let phone = new_phone();
    stack.sign_up(&phone, PASSWORD).await;
    let session = stack.session(&phone.canonical(), PASSWORD).await;
    let email = new_email();
    add_recovery(&stack, &session, &email).await;
    let (secret, recovery_codes) = enable_totp(&stack, &session).await;

    // A remembered device, to show it is forgotten by the reset.
    let challenge = stack.sign_in(json!({"login": phone.canonical(), "password": PASSWORD})).await;
    let answer = json!({"challenge_id": challenge.json["challenge_id"], "method": "totp",
        "code": authenticator_code(&secret, now() + 30), "remember_device": true});
    let signed_in = stack.call(sign_in::handle, TestRequest::post("/v1/sessions/mfa", answer)).await;
    let device = signed_in.json["device_token"].as_str().unwrap().to_owned();

    let token = stack.verified_token(&phone, "reset_password").await;
    let pending = reset(&stack, &token, NEW_PASSWORD).await;
    assert_eq!(pending.status, 200, "{:?}", pending.json);
    assert_eq!(pending.json["methods"], json!(["totp", "recovery_code", "second_contact"]));
    let id = pending.json["challenge_id"].as_str().unwrap();

    // The first token alone changes nothing, and neither does a wrong code or the same contact again.
    let wrong = reset_mfa(&stack, json!({"challenge_id": id, "method": "totp", "code": "000000"})).await;
    assert_eq!(wrong.error_code(), "invalid_code");
    let same_contact = stack.verified_token(&phone, "reset_password").await;
    let refused =
        reset_mfa(&stack, json!({"challenge_id": id, "method": "second_contact", "verification_token": same_contact}))
            .await;
    assert_eq!(refused.error_code(), "invalid_code");
    let unchanged = stack.sign_in(json!({"login": phone.canonical(), "password": PASSWORD})).await;
    assert_eq!(unchanged.json["mfa_required"], true, "the old password still works");

    let second = stack.verified_token(&email, "reset_password").await;
    let done =
        reset_mfa(&stack, json!({"challenge_id": id, "method": "second_contact", "verification_token": second})).await;
    assert_eq!(done.status, 204, "{:?}", done.json);
    assert_eq!(stack.account_page(&session).await.status, 401);
    let forgotten =
        stack.sign_in(json!({"login": phone.canonical(), "password": NEW_PASSWORD, "device_token": device})).await;
    assert_eq!(forgotten.json["mfa_required"], true, "remembered devices are forgotten");

    // Again, with a recovery code this time.
    let token = stack.verified_token(&email, "reset_password").await;
    let pending = reset(&stack, &token, PASSWORD).await;
    let done = reset_mfa(
        &stack,
        json!({"challenge_id": pending.json["challenge_id"], "method": "recovery_code", "code": recovery_codes[0]}),
    )
    .await;
    assert_eq!(done.status, 204, "{:?}", done.json);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_concurrent_resets_with_one_token_reset_once() {
    let stack = Arc::new(Stack::with_settings(&settings()).await);
    let email = new_email();
    stack.sign_up(&email, PASSWORD).await;
    let token = stack.verified_token(&email, "reset_password").await;
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (stack, token) = (stack.clone(), token.clone());
            tokio::spawn(async move { reset(&stack, &token, NEW_PASSWORD).await.status })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 204).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 204 || *s == 410 || *s == 409), "{statuses:?}");
}

#[tokio::test]
async fn change_password_and_manage_sessions() {
    let stack = Stack::new().await;
    let email = new_email();
    stack.sign_up(&email, PASSWORD).await;
    let here = stack.session(&email.canonical(), PASSWORD).await;
    let elsewhere = stack.session(&email.canonical(), PASSWORD).await;

    let listed = manage(&stack, TestRequest::get("/v1/account/sessions").bearer(&here)).await;
    let sessions = listed.json["sessions"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    assert!(sessions.iter().all(|s| s["client_network"].as_str().unwrap().ends_with(".0/24")));

    let wrong = manage(
        &stack,
        with_body(
            "PUT",
            "/v1/account/password",
            &here,
            json!({"current_password": "nope", "new_password": NEW_PASSWORD}),
        ),
    )
    .await;
    assert_eq!((wrong.status, wrong.error_code()), (401, "invalid_credentials"));
    let changed = manage(
        &stack,
        with_body(
            "PUT",
            "/v1/account/password",
            &here,
            json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
        ),
    )
    .await;
    assert_eq!(changed.status, 204, "{:?}", changed.json);
    assert_eq!(stack.account_page(&here).await.status, 200, "this session stays");
    assert_eq!(stack.account_page(&elsewhere).await.status, 401, "other sessions end");
    assert!(messages_to(&email).last().unwrap().contains("password was changed"));

    let third = stack.session(&email.canonical(), NEW_PASSWORD).await;
    let third_id = manage(&stack, TestRequest::get("/v1/account/sessions").bearer(&third)).await.json["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoked = manage(&stack, TestRequest::delete(&format!("/v1/account/sessions/{third_id}")).bearer(&here)).await;
    assert_eq!(revoked.status, 204);
    assert_eq!(stack.account_page(&third).await.status, 401);

    let everywhere = stack.call(sign_in::handle, TestRequest::delete("/v1/sessions").bearer(&here)).await;
    assert_eq!(everywhere.status, 204);
    assert_eq!(stack.account_page(&here).await.status, 401);
}

#[tokio::test]
async fn an_account_path_that_is_no_route_is_not_found_with_or_without_a_session() {
    let stack = Stack::new().await;
    let unknown = || TestRequest::get("/v1/account/no-such-page");
    let anonymous = manage(&stack, unknown()).await;
    assert_eq!((anonymous.status, anonymous.error_code()), (404, "not_found"));
    let wrong_method = manage(&stack, TestRequest::post("/v1/account/sessions", json!({}))).await;
    assert_eq!((wrong_method.status, wrong_method.error_code()), (404, "not_found"));

    // Every route it serves asks for the session first.
    for request in [
        TestRequest::get("/v1/account"),
        TestRequest::post("/v1/account/password", json!({})).method("PUT"),
        TestRequest::post("/v1/account/recovery-contacts/email", json!({"password": PASSWORD})).method("DELETE"),
        TestRequest::post("/v1/account/two-factor", json!({})).method("DELETE"),
        TestRequest::post("/v1/account/two-factor/recovery-codes", json!({})),
        TestRequest::get("/v1/account/sessions"),
        TestRequest::delete("/v1/account/sessions/abc"),
        TestRequest::post("/v1/account", json!({})).method("DELETE"),
    ] {
        let refused = manage(&stack, request).await;
        assert_eq!((refused.status, refused.error_code()), (401, "unauthorized"), "{:?}", refused.json);
    }

    let email = new_email();
    stack.sign_up(&email, PASSWORD).await;
    let session = stack.session(&email.canonical(), PASSWORD).await;
    let signed_in = manage(&stack, unknown().bearer(&session)).await;
    assert_eq!((signed_in.status, signed_in.error_code()), (404, "not_found"));
}

#[tokio::test]
async fn recovery_contacts_and_two_factor_are_managed_with_proof() {
    let stack = Stack::with_settings(&settings()).await;
    let phone = new_phone();
    stack.sign_up(&phone, PASSWORD).await;
    let session = stack.session(&phone.canonical(), PASSWORD).await;
    let email = new_email();
    add_recovery(&stack, &session, &email).await;

    let primary = manage(
        &stack,
        TestRequest::post("/v1/account/recovery-contacts/phone", json!({"password": PASSWORD}))
            .method("DELETE")
            .bearer(&session),
    )
    .await;
    assert_eq!((primary.status, primary.error_code()), (409, "primary_contact"));
    let removed = manage(
        &stack,
        TestRequest::post("/v1/account/recovery-contacts/email", json!({"password": PASSWORD}))
            .method("DELETE")
            .bearer(&session),
    )
    .await;
    assert_eq!(removed.status, 204);
    stack.sign_up(&email, PASSWORD).await; // the email is free again

    let (secret, old_codes) = enable_totp(&stack, &session).await;
    let renew = |body: Value| with_body("POST", "/v1/account/two-factor/recovery-codes", &session, body);
    let wrong = manage(&stack, renew(json!({"code": "000000"}))).await;
    assert_eq!(wrong.status, 400);
    let renewed = manage(&stack, renew(json!({"code": authenticator_code(&secret, now() + 30)}))).await;
    assert_eq!(renewed.status, 200, "{:?}", renewed.json);
    assert_eq!(renewed.json["recovery_codes"].as_array().unwrap().len(), 10);
    let old = manage(&stack, renew(json!({"code": old_codes[0]}))).await;
    assert_eq!(old.status, 400, "old recovery codes stop working");

    let bad =
        manage(&stack, with_body("DELETE", "/v1/account/two-factor", &session, json!({"password": "nope"}))).await;
    assert_eq!(bad.status, 401);
    let off =
        manage(&stack, with_body("DELETE", "/v1/account/two-factor", &session, json!({"password": PASSWORD}))).await;
    assert_eq!(off.status, 204);
    assert_eq!(stack.account_page(&session).await.json["two_factor"], json!({"enabled": false, "methods": []}));
    assert_eq!(stack.sign_in(json!({"login": phone.canonical(), "password": PASSWORD})).await.status, 201);
}

/// A thief with a copied session token, and nothing else, tries to make the account theirs.
#[tokio::test]
async fn a_stolen_session_alone_changes_nothing_about_recovery() {
    let stack = Stack::with_settings(&settings()).await;
    let phone = new_phone();
    stack.sign_up(&phone, PASSWORD).await;
    let stolen = stack.session(&phone.canonical(), PASSWORD).await;
    let owners_email = new_email();
    add_recovery(&stack, &stolen, &owners_email).await;

    // Their own email as the recovery contact: refused at the first step, nothing written.
    let thiefs_email = new_email();
    let token = stack.verified_token(&thiefs_email, "add_contact").await;
    let add = |body: Value| TestRequest::post("/v1/account/recovery-contacts", body).bearer(&stolen);
    let refused = stack.call(add_recovery_contact::handle, add(json!({ "verification_token": token }))).await;
    assert_eq!((refused.status, refused.error_code()), (401, "proof_required"), "{:?}", refused.json);
    let guessed = json!({ "verification_token": token, "password": "Guess-Wrong-1" });
    let guessed = stack.call(add_recovery_contact::handle, add(guessed)).await;
    assert_eq!((guessed.status, guessed.error_code()), (401, "invalid_credentials"));
    let contacts = |page: &TestResponse| page.json["contacts"].as_array().unwrap().len();
    assert_eq!(contacts(&stack.account_page(&stolen).await), 2, "the primary phone and the owner's email");
    stack.sign_up(&thiefs_email, PASSWORD).await; // never claimed by the owner's account

    // Their own authenticator app, or removing the owner's recovery email: refused too.
    let start = TestRequest::post("/v1/account/two-factor", json!({"method": "totp"})).bearer(&stolen);
    let start = stack.call(enable_2fa::handle, start).await;
    assert_eq!((start.status, start.error_code()), (401, "proof_required"));
    let remove = TestRequest::delete("/v1/account/recovery-contacts/email").bearer(&stolen);
    let remove = manage(&stack, remove).await;
    assert_eq!((remove.status, remove.error_code()), (401, "proof_required"));
    let page = stack.account_page(&stolen).await;
    assert_eq!(page.json["two_factor"], json!({"enabled": false, "methods": []}));
    assert_eq!(contacts(&page), 2, "the owner's email is still there");

    // Wrong proofs count towards the account's limit: the password can't be guessed through them.
    let limited = Stack::with_settings(&[("SIGN_IN_FAILURES_PER_LOGIN", "2")]).await;
    let email = new_email();
    limited.sign_up(&email, PASSWORD).await;
    let session = limited.session(&email.canonical(), PASSWORD).await;
    let mut statuses = Vec::new();
    for password in ["Guess-Wrong-1", "Guess-Wrong-2", PASSWORD] {
        let start = json!({"method": "totp", "password": password});
        let start = TestRequest::post("/v1/account/two-factor", start).bearer(&session);
        statuses.push(limited.call(enable_2fa::handle, start).await.status);
    }
    assert_eq!(statuses, [401, 401, 429], "even the right password waits once the guesses are used up");
}

#[tokio::test]
async fn a_second_factor_proves_new_recovery_codes_and_turning_two_factor_off() {
    let stack = Stack::with_settings(&settings()).await;
    let email = new_email();
    stack.sign_up(&email, PASSWORD).await;
    let session = stack.session(&email.canonical(), PASSWORD).await;
    let (secret, codes) = enable_totp(&stack, &session).await;

    // A recovery code proves new recovery codes, and is used up with the old ones.
    let renew = |body: Value| with_body("POST", "/v1/account/two-factor/recovery-codes", &session, body);
    let renewed = manage(&stack, renew(json!({"code": codes[0]}))).await;
    assert_eq!(renewed.status, 200, "{:?}", renewed.json);
    let new_codes = renewed.json["recovery_codes"].as_array().unwrap();
    assert_eq!(new_codes.len(), 10);
    let again = manage(&stack, renew(json!({"code": codes[1]}))).await;
    assert_eq!(again.status, 400, "the old codes went with the renewal");

    // A current authenticator code proves turning 2FA off.
    // The next step's code: enabling used up the current one.
    let code = authenticator_code(&secret, now() + 30);
    let off = with_body("DELETE", "/v1/account/two-factor", &session, json!({ "code": code }));
    let off = manage(&stack, off).await;
    assert_eq!(off.status, 204, "{:?}", off.json);
    assert_eq!(stack.account_page(&session).await.json["two_factor"], json!({"enabled": false, "methods": []}));
    assert_eq!(stack.sign_in(json!({"login": email.canonical(), "password": PASSWORD})).await.status, 201);
}

#[tokio::test]
async fn deleting_the_account_frees_its_contacts() {
    let stack = Stack::with_settings(&settings()).await;
    let phone = new_phone();
    stack.sign_up(&phone, PASSWORD).await;
    let session = stack.session(&phone.canonical(), PASSWORD).await;
    let wrong = manage(&stack, with_body("DELETE", "/v1/account", &session, json!({"password": "nope"}))).await;
    assert_eq!(wrong.status, 401);
    let deleted = manage(&stack, with_body("DELETE", "/v1/account", &session, json!({"password": PASSWORD}))).await;
    assert_eq!(deleted.status, 204, "{:?}", deleted.json);
    assert!(messages_to(&phone).last().unwrap().contains("account was deleted"));
    assert_eq!(stack.account_page(&session).await.status, 401);
    assert_eq!(stack.sign_in(json!({"login": phone.canonical(), "password": PASSWORD})).await.status, 401);
    stack.sign_up(&phone, PASSWORD).await;
}
