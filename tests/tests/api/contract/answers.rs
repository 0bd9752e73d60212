//! The answers along the flows a frontend drives match the document.

use integration_tests::outbox::last_code_to;
use integration_tests::{new_email, new_phone, Stack, TestRequest, TestResponse};
use serde_json::{json, Value};
use shared::domain::Contact;
use shared::Timestamp;

use super::document::{check_documented, openapi, operation};
use super::handlers::handler;
use super::{add_recovery_email, authenticator_code, enable_totp, post, PASSWORD};

/// Calls operations by id and checks every answer against the document.
struct Client<'a> {
    doc: &'a Value,
    stack: &'a Stack,
}

impl Client<'_> {
    /// Sends `request` to the operation's handler; the answer must have `status` and error
    /// `code` ("" for success) and match what the document says of that status.
    async fn expect(&self, id: &str, request: TestRequest, status: u16, code: &str) -> TestResponse {
        let op = operation(self.doc, id);
        let answer = handler(id).call(self.stack, request).await;
        assert_eq!((answer.status, answer.error_code()), (status, code), "{id}: {}", answer.json);
        check_documented(self.doc, &op, &answer);
        answer
    }
}

fn confirm_request(id: &str, code: &str) -> TestRequest {
    post(&format!("/v1/verifications/{id}/confirm"), json!({ "code": code })).path_parameter("verification_id", id)
}

#[tokio::test]
async fn answers_along_a_sign_up_match_the_document() {
    let doc = openapi();
    let stack = Stack::with_settings(&[("RESEND_COOLDOWN_SECONDS", "0")]).await;
    let client = Client { doc: &doc, stack: &stack };

    let phone = new_phone();
    let Contact::Phone(number) = &phone else { unreachable!() };
    let ask = json!({"channel": "sms", "purpose": "sign_up", "phone": number.e164()});
    client.expect("captcha", TestRequest::get("/v1/captcha"), 200, "").await;
    client.expect("request-code", post("/v1/verifications", ask.clone()), 403, "captcha_failed").await;
    let solved = stack.with_captcha(ask.clone()).await;
    let sent = client.expect("request-code", post("/v1/verifications", solved.clone()), 202, "").await;
    client.expect("request-code", post("/v1/verifications", solved), 403, "captcha_failed").await;
    let id = sent.json["verification_id"].as_str().unwrap().to_owned();
    let code = last_code_to(&phone).expect("a code was sent");

    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    client.expect("verify-code", confirm_request(&id, &wrong), 400, "invalid_code").await;
    let confirmed = client.expect("verify-code", confirm_request(&id, &code), 200, "").await;
    client.expect("verify-code", confirm_request(&id, &code), 410, "verification_expired").await;
    let token = confirmed.json["verification_token"].as_str().unwrap();
    // A second token for the same phone while it has no account (afterwards no code is sent to it).
    let second = stack.verified_token(&phone, "sign_up").await;

    let create = |body: &Value, key: &str| post("/v1/accounts", body.clone()).header("Idempotency-Key", key);
    let weak = json!({"verification_token": token, "password": "password", "accept_terms": true});
    client.expect("create-account", create(&weak, "k-weak"), 422, "weak_password").await;
    let declined = json!({"verification_token": token, "password": PASSWORD, "accept_terms": false});
    client.expect("create-account", create(&declined, "k-declined"), 400, "terms_not_accepted").await;
    let body = json!({"verification_token": token, "password": PASSWORD, "accept_terms": true});
    let created = client.expect("create-account", create(&body, "k-1"), 201, "").await;
    let replayed = client.expect("create-account", create(&body, "k-1"), 201, "").await;
    assert_eq!(replayed.json, created.json);
    let mut changed = body.clone();
    changed["password"] = json!("Another-Pass-42");
    client.expect("create-account", create(&changed, "k-1"), 409, "idempotency_key_reused").await;
    client.expect("create-account", create(&body, "k-3"), 410, "verification_expired").await;

    // The same phone again: the same 202 as for a new one, and no second account.
    client.expect("request-code", post("/v1/verifications", stack.with_captcha(ask).await), 202, "").await;
    let duplicate = json!({"verification_token": second, "password": PASSWORD, "accept_terms": true});
    client.expect("create-account", create(&duplicate, "k-2"), 409, "already_registered").await;

    let huge = TestRequest::post_raw("/v1/verifications", &format!("{{\"pad\":\"{}\"}}", "x".repeat(17 * 1024)));
    client.expect("request-code", huge, 413, "payload_too_large").await;
}

#[tokio::test]
async fn answers_with_a_third_party_captcha_match_the_document() {
    let doc = openapi();
    // A provider nobody answers for: the port was free a moment ago.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/siteverify", closed.local_addr().unwrap());
    drop(closed);
    let stack = Stack::with_settings(&[
        ("CAPTCHA_PROVIDER", "turnstile"),
        ("CAPTCHA_SITE_KEY", "0x4AAAAAAADnPIDROrmt1Wwj"),
        ("CAPTCHA_SECRET_KEY", "0x4AAAAAAADnPIDROrmt1Wwj-secret"),
        ("CAPTCHA_VERIFY_URL", &url),
    ])
    .await;
    let client = Client { doc: &doc, stack: &stack };
    let widget = client.expect("captcha", TestRequest::get("/v1/captcha"), 200, "").await;
    assert_eq!(widget.json["provider"], "turnstile");
    let ask = json!({"channel": "email", "purpose": "sign_up", "email": "someone@example.com"});
    client.expect("request-code", post("/v1/verifications", ask.clone()), 403, "captcha_failed").await;
    let mut with_token = ask;
    with_token["captcha"] = json!("XXXX.DUMMY.TOKEN.XXXX");
    client.expect("request-code", post("/v1/verifications", with_token), 503, "captcha_unavailable").await;
}

#[tokio::test]
async fn a_rate_limited_answer_matches_the_document() {
    let doc = openapi();
    let stack = Stack::new().await;
    let client = Client { doc: &doc, stack: &stack };
    let Contact::Phone(number) = new_phone() else { unreachable!() };
    let ask = json!({"channel": "sms", "purpose": "sign_up", "phone": number.e164()});
    client.expect("request-code", post("/v1/verifications", stack.with_captcha(ask.clone()).await), 202, "").await;
    let again = post("/v1/verifications", stack.with_captcha(ask).await);
    let refused = client.expect("request-code", again, 429, "rate_limited").await;
    assert_eq!(refused.headers["retry-after"], refused.json["error"]["retry_after"].to_string());
}

#[tokio::test]
async fn answers_along_sign_in_and_the_account_routes_match_the_document() {
    let doc = openapi();
    let stack = Stack::with_settings(&[("RESEND_COOLDOWN_SECONDS", "0")]).await;
    let client = Client { doc: &doc, stack: &stack };
    let now = || Timestamp::now().0 as u64;

    let phone = new_phone();
    stack.sign_up(&phone, PASSWORD).await;
    let login = phone.canonical();
    let sign_in = |body: Value| post("/v1/sessions", body);
    client
        .expect("sign-in", sign_in(json!({"login": login, "password": "Wrong-Pass-123"})), 401, "invalid_credentials")
        .await;
    let signed_in = client.expect("sign-in", sign_in(json!({"login": login, "password": PASSWORD})), 201, "").await;
    let session = signed_in.json["session_token"].as_str().unwrap().to_owned();

    let page = || TestRequest::get("/v1/account");
    client.expect("manage-account", page(), 401, "unauthorized").await;
    client.expect("manage-account", page().bearer(&session), 200, "").await;

    // Recovery contacts.
    let add = |token: &str| {
        post("/v1/account/recovery-contacts", json!({ "verification_token": token, "password": PASSWORD }))
            .bearer(&session)
    };
    let token = stack.verified_token(&new_email(), "add_contact").await;
    client.expect("add-recovery-contact", add(&token), 201, "").await;
    client.expect("add-recovery-contact", add(&token), 410, "verification_expired").await;
    let own = stack.verified_token(&phone, "add_contact").await;
    client.expect("add-recovery-contact", add(&own), 409, "contact_in_use").await;

    // An authenticator app as second factor.
    let start = |method: &str| {
        post("/v1/account/two-factor", json!({ "method": method, "password": PASSWORD })).bearer(&session)
    };
    let confirm = |code: &str| post("/v1/account/two-factor/confirm", json!({ "code": code })).bearer(&session);
    client.expect("enable-2fa-confirm", confirm("123456"), 410, "challenge_expired").await;
    let setup = client.expect("enable-2fa", start("totp"), 200, "").await;
    let secret = setup.json["secret"].as_str().unwrap().to_owned();
    client.expect("enable-2fa", start("totp"), 429, "rate_limited").await;
    let wrong = format!("{:06}", (authenticator_code(&secret, now()).parse::<u32>().unwrap() + 1) % 1_000_000);
    client.expect("enable-2fa-confirm", confirm(&wrong), 400, "invalid_code").await;
    let enabled = client.expect("enable-2fa-confirm", confirm(&authenticator_code(&secret, now())), 200, "").await;
    assert_eq!(enabled.json["recovery_codes"].as_array().unwrap().len(), 10);
    client.expect("enable-2fa", start("totp"), 409, "two_factor_already_enabled").await;
    client.expect("manage-account", page().bearer(&session), 200, "").await;

    // Signing in now takes the second factor.
    let challenge = client.expect("sign-in", sign_in(json!({"login": login, "password": PASSWORD})), 200, "").await;
    let challenge_id = challenge.json["challenge_id"].as_str().unwrap().to_owned();
    let sms = post("/v1/sessions/mfa/sms", json!({ "challenge_id": challenge_id }));
    client.expect("sign-in-mfa-sms", sms, 400, "invalid_request").await;
    let answer = json!({
        "challenge_id": challenge_id, "method": "totp",
        "code": authenticator_code(&secret, now() + 30), "remember_device": true,
    });
    let second = client.expect("sign-in-mfa", post("/v1/sessions/mfa", answer.clone()), 201, "").await;
    client.expect("sign-in-mfa", post("/v1/sessions/mfa", answer), 410, "challenge_expired").await;
    let device = second.json["device_token"].as_str().unwrap();
    let remembered = json!({"login": login, "password": PASSWORD, "device_token": device});
    let trusted = client.expect("sign-in", sign_in(remembered), 201, "").await;

    let trusted_session = trusted.json["session_token"].as_str().unwrap();
    let sign_out = || TestRequest::delete("/v1/sessions/current");
    client.expect("sign-out", sign_out(), 401, "unauthorized").await;
    client.expect("sign-out", sign_out().bearer(trusted_session), 204, "").await;
    client.expect("manage-account", page().bearer(trusted_session), 401, "unauthorized").await;
}

#[tokio::test]
async fn answers_along_sms_two_factor_match_the_document() {
    let doc = openapi();
    let stack = Stack::new().await;
    let client = Client { doc: &doc, stack: &stack };

    // An account with only an email cannot use SMS.
    let email = new_email();
    stack.sign_up(&email, PASSWORD).await;
    let email_session = stack.session(&email.canonical(), PASSWORD).await;
    let sms_setup =
        |session: &str| post("/v1/account/two-factor", json!({"method": "sms", "password": PASSWORD})).bearer(session);
    client.expect("enable-2fa", sms_setup(&email_session), 400, "no_verified_phone").await;

    let phone = new_phone();
    stack.sign_up(&phone, PASSWORD).await;
    let session = stack.session(&phone.canonical(), PASSWORD).await;
    client.expect("enable-2fa", sms_setup(&session), 200, "").await;
    let setup_code = last_code_to(&phone).expect("a setup code was sent");
    let confirm = post("/v1/account/two-factor/confirm", json!({ "code": setup_code })).bearer(&session);
    client.expect("enable-2fa-confirm", confirm, 200, "").await;

    let body = json!({"login": phone.canonical(), "password": PASSWORD});
    let challenge = client.expect("sign-in", post("/v1/sessions", body), 200, "").await;
    let challenge_id = challenge.json["challenge_id"].as_str().unwrap().to_owned();
    let send =
        || post("/v1/sessions/mfa/sms", json!({ "challenge_id": challenge_id })).header("Accept-Language", "zh-CN");
    client.expect("sign-in-mfa-sms", send(), 202, "").await;
    client.expect("sign-in-mfa-sms", send(), 429, "rate_limited").await;
    let code = last_code_to(&phone).expect("a sign-in code was sent");
    let answer = json!({"challenge_id": challenge_id, "method": "sms", "code": code});
    client.expect("sign-in-mfa", post("/v1/sessions/mfa", answer), 201, "").await;
    let gone = post("/v1/sessions/mfa/sms", json!({ "challenge_id": challenge_id }));
    client.expect("sign-in-mfa-sms", gone, 410, "challenge_expired").await;
}

#[tokio::test]
async fn answers_along_password_reset_and_self_service_match_the_document() {
    let doc = openapi();
    let stack = Stack::with_settings(&[("RESEND_COOLDOWN_SECONDS", "0")]).await;
    let client = Client { doc: &doc, stack: &stack };
    const NEW_PASSWORD: &str = "Velvet-Harbor-2049";

    let phone = new_phone();
    stack.sign_up(&phone, PASSWORD).await;
    let login = phone.canonical();
    let old_session = stack.session(&login, PASSWORD).await;
    let page = |session: &str| TestRequest::get("/v1/account").bearer(session);
    let reset = |token: &str, password: &str| {
        post("/v1/password-resets", json!({ "verification_token": token, "password": password }))
    };

    // Forgot password, no 2FA: done at once, and every session is signed out.
    let token = stack.verified_token(&phone, "reset_password").await;
    client.expect("reset-password", reset(&token, "password"), 422, "weak_password").await;
    client.expect("reset-password", reset(&token, NEW_PASSWORD), 204, "").await;
    client.expect("reset-password", reset(&token, NEW_PASSWORD), 410, "verification_expired").await;
    client.expect("manage-account", page(&old_session), 401, "unauthorized").await;
    let session = stack.session(&login, NEW_PASSWORD).await;

    // Self-service.
    let manage = |request: TestRequest| request.bearer(&session);
    let change = |current: &str| {
        manage(post("/v1/account/password", json!({"current_password": current, "new_password": PASSWORD})))
            .method("PUT")
    };
    client.expect("change-password", change("Wrong-Pass-123"), 401, "invalid_credentials").await;
    client.expect("change-password", change(NEW_PASSWORD), 204, "").await;
    let listed = client.expect("list-sessions", manage(TestRequest::get("/v1/account/sessions")), 200, "").await;
    assert!(listed.json["sessions"].as_array().unwrap().iter().any(|s| s["current"] == true));
    let other = stack.session(&login, PASSWORD).await;
    let other_id = other.split('.').nth(1).unwrap();
    let revoke = manage(TestRequest::delete(&format!("/v1/account/sessions/{other_id}")));
    client.expect("revoke-session", revoke, 204, "").await;
    client.expect("manage-account", page(&other), 401, "unauthorized").await;
    let remove = |kind: &str| {
        manage(
            TestRequest::post(&format!("/v1/account/recovery-contacts/{kind}"), json!({ "password": PASSWORD }))
                .method("DELETE"),
        )
    };
    client.expect("remove-recovery-contact", remove("phone"), 409, "primary_contact").await;
    client.expect("remove-recovery-contact", remove("email"), 404, "not_found").await;
    add_recovery_email(&stack, &session).await;
    client.expect("remove-recovery-contact", remove("email"), 204, "").await;

    // With 2FA on, proof is needed, and a reset waits for a second factor.
    let (secret, recovery_codes) = enable_totp(&stack, &session).await;
    let regenerate = |proof: Value| manage(post("/v1/account/two-factor/recovery-codes", proof));
    client.expect("regenerate-recovery-codes", regenerate(json!({"code": "000000"})), 400, "invalid_code").await;
    let fresh = client.expect("regenerate-recovery-codes", regenerate(json!({ "password": PASSWORD })), 200, "").await;
    let fresh_code = fresh.json["recovery_codes"][0].as_str().unwrap().to_owned();
    assert!(!recovery_codes.contains(&fresh_code));

    let token = stack.verified_token(&phone, "reset_password").await;
    let challenge = client.expect("reset-password", reset(&token, NEW_PASSWORD), 200, "").await;
    let challenge_id = challenge.json["challenge_id"].as_str().unwrap().to_owned();
    let sms = post("/v1/password-resets/mfa/sms", json!({ "challenge_id": challenge_id }));
    client.expect("reset-password-mfa-sms", sms, 400, "invalid_request").await;
    let answer = |code: &str| {
        post("/v1/password-resets/mfa", json!({"challenge_id": challenge_id, "method": "recovery_code", "code": code}))
    };
    client.expect("reset-password-mfa", answer("aaaaa-aaaaa"), 400, "invalid_code").await;
    client.expect("reset-password-mfa", answer(&fresh_code), 204, "").await;
    client.expect("reset-password-mfa", answer(&fresh_code), 410, "challenge_expired").await;

    // Turning 2FA off (the reset signed every session out: sign in with the second factor),
    // signing out everywhere, deleting the account.
    let body = json!({"login": login, "password": NEW_PASSWORD});
    let mfa = client.expect("sign-in", post("/v1/sessions", body), 200, "").await;
    let code = authenticator_code(&secret, Timestamp::now().0 as u64 + 30);
    let answer = json!({"challenge_id": mfa.json["challenge_id"], "method": "totp", "code": code});
    let signed_in = client.expect("sign-in-mfa", post("/v1/sessions/mfa", answer), 201, "").await;
    let session = signed_in.json["session_token"].as_str().unwrap().to_owned();
    let signed_in = |request: TestRequest| request.bearer(&session);
    let off = |proof: Value| signed_in(post("/v1/account/two-factor", proof).method("DELETE"));
    client.expect("disable-2fa", off(json!({})), 401, "proof_required").await;
    client.expect("disable-2fa", off(json!({ "password": NEW_PASSWORD })), 204, "").await;
    let everywhere = signed_in(TestRequest::delete("/v1/sessions"));
    client.expect("sign-out-everywhere", everywhere, 204, "").await;
    client.expect("manage-account", page(&session), 401, "unauthorized").await;

    let session = stack.session(&login, NEW_PASSWORD).await;
    let delete =
        |password: &str| post("/v1/account", json!({ "password": password })).method("DELETE").bearer(&session);
    client.expect("delete-account", delete(PASSWORD), 401, "invalid_credentials").await;
    client.expect("delete-account", delete(NEW_PASSWORD), 204, "").await;
    let gone = post("/v1/sessions", json!({"login": login, "password": NEW_PASSWORD}));
    client.expect("sign-in", gone, 401, "invalid_credentials").await;
}
