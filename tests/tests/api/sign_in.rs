//! Sign-in, sign-out, recovery contacts and two-factor authentication over HTTP, against moto.

use std::time::Duration;

use integration_tests::outbox::{last_code_to, messages_to};
use integration_tests::{new_email, new_phone, random_ip, Stack, TestRequest, TestResponse};
use serde_json::{json, Value};
use shared::domain::password::Password;
use shared::domain::second_factor::MfaMethod;
use shared::domain::sign_in::{complete_sign_in, sign_in, MfaAnswer, SignInOutcome, SignInRequest};
use shared::domain::Contact;
use shared::rotation::{self, Step};
use shared::Timestamp;
use totp_rs::{Algorithm, Secret, TOTP};

const PASSWORD: &str = "Tr0ub4dor&3-horse";

async fn mfa(stack: &Stack, body: Value) -> TestResponse {
    stack.call(sign_in::handle, TestRequest::post("/v1/sessions/mfa", body)).await
}

async fn start_2fa(stack: &Stack, session: &str, method: &str) -> TestResponse {
    let request =
        TestRequest::post("/v1/account/two-factor", json!({ "method": method, "password": PASSWORD })).bearer(session);
    stack.call(enable_2fa::handle, request).await
}

async fn confirm_2fa(stack: &Stack, session: &str, code: &str) -> TestResponse {
    let request = TestRequest::post("/v1/account/two-factor/confirm", json!({ "code": code })).bearer(session);
    stack.call(enable_2fa::handle, request).await
}

async fn add_recovery(stack: &Stack, session: &str, token: &str) -> TestResponse {
    let request = TestRequest::post(
        "/v1/account/recovery-contacts",
        json!({ "verification_token": token, "password": PASSWORD }),
    )
    .bearer(session);
    stack.call(add_recovery_contact::handle, request).await
}

/// What an authenticator app shows for `secret` at `at`.
fn authenticator_code(secret: &str, at: u64) -> String {
    let bytes = Secret::Encoded(secret.to_owned()).to_bytes().unwrap();
    TOTP::new_unchecked(Algorithm::SHA1, 6, 1, 30, bytes, None, String::new()).generate(at)
}

fn now() -> u64 {
    Timestamp::now().0 as u64
}

/// A new account with TOTP 2FA on: its email, a session, the authenticator secret and the
/// recovery codes.
async fn account_with_totp(stack: &Stack) -> (Contact, String, String, Vec<String>) {
    let email = new_email();
    stack.sign_up(&email, PASSWORD).await;
    let session = stack.session(&email.canonical(), PASSWORD).await;
    let secret = start_2fa(stack, &session, "totp").await.json["secret"].as_str().unwrap().to_owned();
    let enabled = confirm_2fa(stack, &session, &authenticator_code(&secret, now())).await;
    assert_eq!(enabled.status, 200, "{:?}", enabled.json);
    let codes = enabled.json["recovery_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().into()).collect();
    (email, session, secret, codes)
}

#[tokio::test]
async fn sign_in_by_phone_in_any_form_and_by_email() {
    let stack = Stack::new().await;
    let phone = new_phone();
    let account_id = stack.sign_up(&phone, PASSWORD).await;
    let Contact::Phone(number) = &phone else { unreachable!() };

    for body in [
        json!({"login": number.e164(), "password": PASSWORD}),
        json!({"login": format!("+91 {}", number.national_digits()), "password": PASSWORD}),
        json!({"login": number.national_digits(), "country_code": "+91", "password": PASSWORD}),
    ] {
        let answer = stack.sign_in(body.clone()).await;
        assert_eq!(answer.status, 201, "{body} {:?}", answer.json);
        assert_eq!(answer.json["expires_in"], 30 * 24 * 3600);
        let page = stack.account_page(answer.json["session_token"].as_str().unwrap()).await;
        assert_eq!(page.status, 200);
        assert_eq!(page.json["account_id"], account_id.as_str());
        assert_eq!(page.json["terms_version"], "2026-11");
        assert_eq!(
            page.json["contacts"],
            json!([{"type": "phone", "value": number.masked(), "role": "primary", "verified": true}])
        );
        assert_eq!(page.json["two_factor"], json!({"enabled": false, "methods": []}));
    }

    let email = new_email();
    stack.sign_up(&email, PASSWORD).await;
    let shouted = email.canonical().to_uppercase();
    assert_eq!(stack.sign_in(json!({"login": shouted, "password": PASSWORD})).await.status, 201);
}

#[tokio::test]
async fn wrong_password_and_unknown_login_answer_alike() {
    let stack = Stack::new().await;
    let email = new_email();
    stack.sign_up(&email, PASSWORD).await;
    let wrong = stack.sign_in(json!({"login": email.canonical(), "password": "Wrong-Pass-123"})).await;
    let unknown = stack.sign_in(json!({"login": new_email().canonical(), "password": PASSWORD})).await;
    let malformed = stack.sign_in(json!({"login": "not a login", "password": PASSWORD})).await;
    assert_eq!((wrong.status, wrong.error_code()), (401, "invalid_credentials"));
    assert_eq!((unknown.status, &unknown.json), (wrong.status, &wrong.json));
    assert_eq!((malformed.status, &malformed.json), (wrong.status, &wrong.json));
}

#[tokio::test]
async fn repeated_failures_are_throttled_per_login_and_per_ip() {
    let stack = Stack::with_settings(&[("SIGN_IN_FAILURES_PER_LOGIN", "3"), ("SIGN_IN_FAILURES_PER_IP", "5")]).await;
    // Failures count in 15-minute windows of the clock: a run that crosses into the next window
    // starts its counts again, so it is run once more, wholly inside one window.
    let window = || Timestamp::now().window_start(Duration::from_secs(15 * 60));
    for _ in 0..2 {
        let started = window();
        let (login, ip) = (throttled_login(&stack).await, throttled_ip(&stack).await);
        if window() == started {
            assert_eq!((login.status, login.error_code()), (429, "rate_limited"));
            assert!(login.headers["retry-after"].parse::<u64>().unwrap() <= 15 * 60);
            assert_eq!(ip.status, 429);
            return;
        }
    }
    panic!("two runs crossed a window boundary");
}

/// The right password after three wrong ones for the login.
async fn throttled_login(stack: &Stack) -> TestResponse {
    let email = new_email();
    stack.sign_up(&email, PASSWORD).await;
    for _ in 0..3 {
        let answer = stack.sign_in(json!({"login": email.canonical(), "password": "Wrong-Pass-123"})).await;
        assert_eq!(answer.status, 401);
    }
    stack.sign_in(json!({"login": email.canonical(), "password": PASSWORD})).await
}

/// A right password from an address that failed five times, on other logins.
async fn throttled_ip(stack: &Stack) -> TestResponse {
    let ip = random_ip();
    for _ in 0..5 {
        let request = TestRequest::post("/v1/sessions", json!({"login": new_email().canonical(), "password": "x"}));
        assert_eq!(stack.call(sign_in::handle, request.from_ip(&ip)).await.status, 401);
    }
    let other = new_email();
    stack.sign_up(&other, PASSWORD).await;
    let request = TestRequest::post("/v1/sessions", json!({"login": other.canonical(), "password": PASSWORD}));
    stack.call(sign_in::handle, request.from_ip(&ip)).await
}

#[tokio::test]
async fn signing_out_ends_the_session_and_bad_tokens_are_refused() {
    let stack = Stack::new().await;
    let email = new_email();
    stack.sign_up(&email, PASSWORD).await;
    let session = stack.session(&email.canonical(), PASSWORD).await;
    assert_eq!(stack.account_page(&session).await.status, 200);

    let out = stack.call(sign_in::handle, TestRequest::delete("/v1/sessions/current").bearer(&session)).await;
    assert_eq!(out.status, 204);
    let after = stack.account_page(&session).await;
    assert_eq!((after.status, after.error_code()), (401, "unauthorized"));

    let tampered = format!("{}{}", &session[..session.len() - 1], if session.ends_with('A') { "B" } else { "A" });
    for token in ["", "garbage", tampered.as_str()] {
        assert_eq!(stack.account_page(token).await.status, 401, "{token}");
    }
    let none = stack.call(manage_account::handle, TestRequest::get("/v1/account")).await;
    assert_eq!((none.status, none.error_code()), (401, "unauthorized"));
}

#[tokio::test]
async fn recovery_contacts_are_added_replaced_and_unique() {
    let stack = Stack::with_settings(&[("RESEND_COOLDOWN_SECONDS", "0")]).await;
    let phone = new_phone();
    stack.sign_up(&phone, PASSWORD).await;
    let session = stack.session(&phone.canonical(), PASSWORD).await;

    let first_email = new_email();
    let token = stack.verified_token(&first_email, "add_contact").await;
    let added = add_recovery(&stack, &session, &token).await;
    assert_eq!(added.status, 201, "{:?}", added.json);
    assert_eq!(
        added.json,
        json!({"type": "email", "value": first_email.masked(), "role": "recovery", "verified": true})
    );
    assert!(messages_to(&phone).last().unwrap().contains("recovery contact"), "the owner is told");

    let recovery_phone = new_phone();
    let token = stack.verified_token(&recovery_phone, "add_contact").await;
    assert_eq!(add_recovery(&stack, &session, &token).await.status, 201);
    let page = stack.account_page(&session).await;
    let roles: Vec<(&str, &str)> = page.json["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["type"].as_str().unwrap(), c["role"].as_str().unwrap()))
        .collect();
    assert_eq!(roles, vec![("phone", "primary"), ("phone", "recovery"), ("email", "recovery")]);

    // Another account's contact, and this account's own primary, are in use.
    let other = new_email();
    stack.sign_up(&other, PASSWORD).await;
    for taken in [&other, &phone] {
        let token = stack.verified_token(taken, "add_contact").await;
        let refused = add_recovery(&stack, &session, &token).await;
        assert_eq!((refused.status, refused.error_code()), (409, "contact_in_use"));
    }

    // The recovery phone it has, proven again, is already held: in use, not a 500.
    let token = stack.verified_token(&recovery_phone, "add_contact").await;
    let again = add_recovery(&stack, &session, &token).await;
    assert_eq!((again.status, again.error_code()), (409, "contact_in_use"));

    // A second recovery email replaces the first, which is free again at once.
    let second_email = new_email();
    let token = stack.verified_token(&second_email, "add_contact").await;
    assert_eq!(add_recovery(&stack, &session, &token).await.status, 201);
    let page = stack.account_page(&session).await;
    assert!(page.json["contacts"].as_array().unwrap().iter().any(|c| c["value"] == second_email.masked()));
    stack.sign_up(&first_email, PASSWORD).await;

    // Signing in works with a recovery contact too.
    assert_eq!(stack.sign_in(json!({"login": second_email.canonical(), "password": PASSWORD})).await.status, 201);
}

#[tokio::test]
async fn adding_a_contact_needs_a_session_and_an_add_contact_token() {
    let stack = Stack::new().await;
    let email = new_email();
    stack.sign_up(&email, PASSWORD).await;
    let session = stack.session(&email.canonical(), PASSWORD).await;
    let sign_up_token = stack.verified_token(&new_phone(), "sign_up").await;
    let wrong_purpose = add_recovery(&stack, &session, &sign_up_token).await;
    assert_eq!((wrong_purpose.status, wrong_purpose.error_code()), (410, "verification_expired"));
    let token = stack.verified_token(&new_phone(), "add_contact").await;
    assert_eq!(add_recovery(&stack, "not-a-session", &token).await.status, 401);
    assert_eq!(add_recovery(&stack, &session, &token).await.status, 201, "the refusal did not use the token");
    assert_eq!(add_recovery(&stack, &session, &token).await.status, 410);
}

#[tokio::test]
async fn totp_two_factor_from_setup_to_sign_in() {
    let stack = Stack::new().await;
    let email = new_email();
    stack.sign_up(&email, PASSWORD).await;
    let session = stack.session(&email.canonical(), PASSWORD).await;

    let started = start_2fa(&stack, &session, "totp").await;
    assert_eq!(started.status, 200, "{:?}", started.json);
    let secret = started.json["secret"].as_str().unwrap().to_owned();
    assert!(started.json["otpauth_uri"].as_str().unwrap().starts_with("otpauth://totp/Mi%20Account:"));

    let wrong = confirm_2fa(&stack, &session, "000000").await;
    assert_eq!(wrong.error_code(), "invalid_code");
    let enabled = confirm_2fa(&stack, &session, &authenticator_code(&secret, now())).await;
    assert_eq!(enabled.status, 200, "{:?}", enabled.json);
    assert_eq!(enabled.json["enabled"], true);
    let recovery_codes: Vec<String> =
        enabled.json["recovery_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();
    assert_eq!(recovery_codes.len(), 10);
    let page = stack.account_page(&session).await;
    assert_eq!(page.json["two_factor"], json!({"enabled": true, "methods": ["totp"]}));
    assert_eq!(start_2fa(&stack, &session, "totp").await.error_code(), "two_factor_already_enabled");

    // A new device: the password alone is not enough.
    let challenge = stack.sign_in(json!({"login": email.canonical(), "password": PASSWORD})).await;
    assert_eq!(challenge.status, 200);
    assert_eq!(challenge.json["mfa_required"], true);
    assert_eq!(challenge.json["methods"], json!(["totp", "recovery_code"]));
    assert!(challenge.json.get("session_token").is_none());
    let id = challenge.json["challenge_id"].as_str().unwrap();

    // The next step's code (one step of drift) signs in; it is never accepted again.
    let code = authenticator_code(&secret, now() + 30);
    let signed_in = mfa(&stack, json!({"challenge_id": id, "method": "totp", "code": code})).await;
    assert_eq!(signed_in.status, 201, "{:?}", signed_in.json);
    assert!(signed_in.json.get("device_token").is_none());
    assert_eq!(stack.account_page(signed_in.json["session_token"].as_str().unwrap()).await.status, 200);

    let again = stack.sign_in(json!({"login": email.canonical(), "password": PASSWORD})).await;
    let replay = mfa(&stack, json!({"challenge_id": again.json["challenge_id"], "method": "totp", "code": code})).await;
    assert_eq!((replay.status, replay.error_code()), (400, "invalid_code"));
    assert_eq!(replay.json["error"]["attempts_left"], 4);

    // A recovery code works once, in any case and with or without its dash.
    let typed = recovery_codes[3].to_uppercase().replace('-', " ");
    let by_code =
        mfa(&stack, json!({"challenge_id": again.json["challenge_id"], "method": "recovery_code", "code": typed}))
            .await;
    assert_eq!(by_code.status, 201, "{:?}", by_code.json);
    let third = stack.sign_in(json!({"login": email.canonical(), "password": PASSWORD})).await;
    let reused = mfa(
        &stack,
        json!({"challenge_id": third.json["challenge_id"], "method": "recovery_code", "code": recovery_codes[3]}),
    )
    .await;
    assert_eq!((reused.status, reused.error_code()), (400, "invalid_code"));
}

#[tokio::test]
async fn a_challenge_allows_five_attempts() {
    let stack = Stack::new().await;
    let (email, _, secret, _) = account_with_totp(&stack).await;

    let challenge = stack.sign_in(json!({"login": email.canonical(), "password": PASSWORD})).await;
    let id = challenge.json["challenge_id"].as_str().unwrap();
    for left in (0..5).rev() {
        let answer = mfa(&stack, json!({"challenge_id": id, "method": "totp", "code": "000000"})).await;
        assert_eq!(answer.json["error"]["attempts_left"], left);
    }
    let code = authenticator_code(&secret, now() + 30);
    let late = mfa(&stack, json!({"challenge_id": id, "method": "totp", "code": code})).await;
    assert_eq!((late.status, late.error_code()), (410, "challenge_expired"));
    let unknown = mfa(&stack, json!({"challenge_id": "nope", "method": "totp", "code": code})).await;
    assert_eq!(unknown.status, 410);
}

#[tokio::test]
async fn sms_two_factor_and_a_remembered_device() {
    let stack = Stack::new().await;
    let phone = new_phone();
    stack.sign_up(&phone, PASSWORD).await;
    let session = stack.session(&phone.canonical(), PASSWORD).await;

    let started = start_2fa(&stack, &session, "sms").await;
    assert_eq!(started.status, 200, "{:?}", started.json);
    let setup_code = last_code_to(&phone).unwrap();
    let enabled = confirm_2fa(&stack, &session, &setup_code).await;
    assert_eq!(enabled.status, 200, "{:?}", enabled.json);

    let challenge = stack.sign_in(json!({"login": phone.canonical(), "password": PASSWORD})).await;
    assert_eq!(challenge.json["methods"], json!(["sms", "recovery_code"]));
    let id = challenge.json["challenge_id"].as_str().unwrap();
    let sent =
        stack.call(sign_in::handle, TestRequest::post("/v1/sessions/mfa/sms", json!({"challenge_id": id}))).await;
    assert_eq!(sent.status, 202, "{:?}", sent.json);
    let code = last_code_to(&phone).unwrap();
    assert_ne!(code, setup_code);
    let signed_in =
        mfa(&stack, json!({"challenge_id": id, "method": "sms", "code": code, "remember_device": true})).await;
    assert_eq!(signed_in.status, 201, "{:?}", signed_in.json);
    let device = signed_in.json["device_token"].as_str().unwrap().to_owned();

    // The remembered device skips the second factor; a forged one does not.
    let trusted =
        stack.sign_in(json!({"login": phone.canonical(), "password": PASSWORD, "device_token": device})).await;
    assert_eq!(trusted.status, 201, "{:?}", trusted.json);
    let forged = format!("{}{}", &device[..device.len() - 2], "AA");
    let refused =
        stack.sign_in(json!({"login": phone.canonical(), "password": PASSWORD, "device_token": forged})).await;
    assert_eq!(refused.json["mfa_required"], true);

    // Thirty days later the device is a new device again.
    let later = Timestamp(Timestamp::now().0 + 30 * 24 * 3600 + 1);
    let request = SignInRequest {
        language: shared::domain::Language::English,
        login: phone.clone(),
        password: Password::new(PASSWORD),
        device_token: Some(device),
        client: Default::default(),
    };
    let outcome = sign_in(stack.app, request, later, &mut rand::rngs::OsRng).await.unwrap();
    assert!(matches!(outcome, SignInOutcome::MfaRequired { .. }), "{outcome:?}");
}

#[tokio::test]
async fn sms_two_factor_needs_a_verified_phone() {
    let stack = Stack::new().await;
    let email = new_email();
    stack.sign_up(&email, PASSWORD).await;
    let session = stack.session(&email.canonical(), PASSWORD).await;
    let refused = start_2fa(&stack, &session, "sms").await;
    assert_eq!((refused.status, refused.error_code()), (400, "no_verified_phone"));
}

/// A rotation through Secrets Manager, as `rotate-service-secret` runs it, with the function
/// re-reading the keyring as a warm one does every 5 minutes (time passed in, no sleeping).
async fn rotate(stack: &Stack, step: Step, at: Timestamp) -> Result<String, String> {
    let secrets = aws_sdk_secretsmanager::Client::new(&integration_tests::sdk_config().await);
    let result = rotation::rotate(&secrets, &stack.table, &step, at, &mut rand::rngs::OsRng).await;
    stack.app.refresh_secret(at.plus(rotation::SECRET_REFRESH)).await;
    result
}

#[tokio::test]
async fn a_secret_rotation_signs_nobody_out_and_retiring_the_old_key_ends_only_what_it_made() {
    let stack = Stack::new().await;
    let (email, old_session, secret, recovery_codes) = account_with_totp(&stack).await;
    let other = new_email();
    let token_before = stack.verified_token(&other, "sign_up").await;

    // Add, then promote once every function has had time to re-read the keyring.
    let mut at = Timestamp::now();
    assert!(rotate(&stack, Step::Add, at).await.unwrap().contains("added key 2"));
    at = at.plus(rotation::SECRET_REFRESH);
    let early = rotate(&stack, Step::Promote, Timestamp::now()).await.unwrap_err();
    assert!(early.contains("try again in"), "{early}");
    at = at.plus(rotation::SETTLE);
    assert!(rotate(&stack, Step::Promote, at).await.unwrap().contains("key 2 is current"));

    // Everything made under the old key still works: session, token, recovery code, TOTP.
    assert_eq!(stack.account_page(&old_session).await.status, 200);
    assert_eq!(stack.create_account(&token_before, PASSWORD).await.status, 201);
    let mfa_sign_in = |method: &'static str, code: String| {
        let stack = &stack;
        let login = email.canonical();
        async move {
            let challenge = stack.sign_in(json!({"login": login, "password": PASSWORD})).await;
            let id = challenge.json["challenge_id"].as_str().unwrap().to_owned();
            mfa(stack, json!({"challenge_id": id, "method": method, "code": code})).await
        }
    };
    assert_eq!(mfa_sign_in("recovery_code", recovery_codes[0].clone()).await.status, 201);
    // This sign-in also re-seals the TOTP secret under the new key.
    let by_totp = mfa_sign_in("totp", authenticator_code(&secret, now() + 30)).await;
    assert_eq!(by_totp.status, 201, "{:?}", by_totp.json);
    let new_session = by_totp.json["session_token"].as_str().unwrap().to_owned();

    // Retiring the old key waits for the promotion to reach every function, then ends what
    // only the old key verifies; the re-sealed TOTP secret still works.
    let early = rotate(&stack, Step::Retire("1".into()), Timestamp::now()).await.unwrap_err();
    assert!(early.contains("try again in"), "{early}");
    at = at.plus(rotation::SETTLE);
    assert!(rotate(&stack, Step::Retire("1".into()), at).await.unwrap().contains("key 1 is retired"));
    assert_eq!(stack.account_page(&old_session).await.status, 401);
    assert_eq!(stack.account_page(&new_session).await.status, 200);
    let old_code = mfa_sign_in("recovery_code", recovery_codes[1].clone()).await;
    assert_eq!(old_code.error_code(), "invalid_code");
    // Two minutes on (the last TOTP step is used up), as the domain function takes time.
    let later = Timestamp::now().plus(std::time::Duration::from_secs(120));
    let challenge = stack.sign_in(json!({"login": email.canonical(), "password": PASSWORD})).await;
    let answer = MfaAnswer {
        language: Default::default(),
        challenge_id: challenge.json["challenge_id"].as_str().unwrap().into(),
        method: MfaMethod::Totp,
        code: authenticator_code(&secret, later.0 as u64),
        remember_device: false,
    };
    assert!(complete_sign_in(stack.app, answer, later, &mut rand::rngs::OsRng).await.is_ok());
}
