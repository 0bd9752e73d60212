//! Revoking revokes everything: a password change, turning 2FA off or revoking a device by its
//! listed id leaves no remembered device that skips the second factor; a sign-in or reset
//! challenge dies with the sessions; and deleting an account leaves no contact claimed.

use std::sync::Arc;

use integration_tests::{new_email, Stack, TestRequest, TestResponse};
use serde_json::json;
use shared::domain::Contact;

use super::guessing::{account_with_totp, challenge_with, mfa};
use super::recovery::{authenticator_code, enable_totp, manage, now, reset, reset_mfa, settings, with_body};
use super::recovery::{NEW_PASSWORD, PASSWORD};

/// Signs in with an authenticator code and remembers the device; its token.
async fn remember_device(stack: &Stack, email: &Contact, secret: &str) -> String {
    let id = challenge_with(stack, email, PASSWORD).await;
    let code = authenticator_code(secret, now() + 30);
    let answer = mfa(stack, json!({"challenge_id": id, "method": "totp", "code": code, "remember_device": true})).await;
    assert_eq!(answer.status, 201, "{:?}", answer.json);
    answer.json["device_token"].as_str().unwrap().to_owned()
}

/// Whether signing in with `device` skips the second factor.
async fn skips_second_factor(stack: &Stack, email: &Contact, password: &str, device: &str) -> bool {
    let body = json!({"login": email.canonical(), "password": password, "device_token": device});
    let answer = stack.sign_in(body).await;
    assert!(answer.status == 200 || answer.status == 201, "{:?}", answer.json);
    answer.status == 201
}

async fn change_password(stack: &Stack, session: &str) {
    let body = json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD});
    let changed = manage(stack, with_body("PUT", "/v1/account/password", session, body)).await;
    assert_eq!(changed.status, 204, "{:?}", changed.json);
}

#[tokio::test]
async fn a_password_change_forgets_remembered_devices() {
    let stack = Stack::new().await;
    let (email, session, secret, _) = account_with_totp(&stack).await;
    let device = remember_device(&stack, &email, &secret).await;
    assert!(skips_second_factor(&stack, &email, PASSWORD, &device).await);
    change_password(&stack, &session).await;
    assert!(!skips_second_factor(&stack, &email, NEW_PASSWORD, &device).await);
}

#[tokio::test]
async fn a_device_is_forgotten_by_the_id_the_list_shows() {
    let stack = Stack::new().await;
    let (email, session, secret, _) = account_with_totp(&stack).await;
    let device = remember_device(&stack, &email, &secret).await;
    let devices = |listed: TestResponse| -> Vec<String> {
        let sessions = listed.json["sessions"].as_array().unwrap().clone();
        sessions.iter().filter(|s| s["kind"] == "device").map(|s| s["id"].as_str().unwrap().to_owned()).collect()
    };
    let listed = devices(manage(&stack, TestRequest::get("/v1/account/sessions").bearer(&session)).await);
    assert_eq!(listed.len(), 1);

    let revoke = TestRequest::delete(&format!("/v1/account/sessions/{}", listed[0])).bearer(&session);
    assert_eq!(manage(&stack, revoke).await.status, 204);
    assert!(devices(manage(&stack, TestRequest::get("/v1/account/sessions").bearer(&session)).await).is_empty());
    assert!(!skips_second_factor(&stack, &email, PASSWORD, &device).await);
    assert_eq!(stack.account_page(&session).await.status, 200, "the session that revoked it stays");
}

#[tokio::test]
async fn turning_two_factor_off_and_on_again_revives_no_device() {
    let stack = Stack::new().await;
    let (email, session, secret, _) = account_with_totp(&stack).await;
    let device = remember_device(&stack, &email, &secret).await;
    let off = manage(&stack, with_body("DELETE", "/v1/account/two-factor", &session, json!({"password": PASSWORD})));
    assert_eq!(off.await.status, 204);
    enable_totp(&stack, &session).await;
    assert!(!skips_second_factor(&stack, &email, PASSWORD, &device).await);
}

#[tokio::test]
async fn an_open_challenge_dies_with_a_password_change_a_reset_or_signing_out_everywhere() {
    let stack = Stack::with_settings(&settings()).await;
    let (email, session, _, codes) = account_with_totp(&stack).await;
    let answer = |id: &str, code: &str| json!({"challenge_id": id, "method": "recovery_code", "code": code});

    // Someone who has the password waits at the second factor; the owner changes the password.
    let waiting = challenge_with(&stack, &email, PASSWORD).await;
    change_password(&stack, &session).await;
    let late = mfa(&stack, answer(&waiting, &codes[0])).await;
    assert_eq!((late.status, late.error_code()), (410, "challenge_expired"));

    let waiting = challenge_with(&stack, &email, NEW_PASSWORD).await;
    let everywhere = stack.call(sign_in::handle, TestRequest::delete("/v1/sessions").bearer(&session)).await;
    assert_eq!(everywhere.status, 204);
    assert_eq!(mfa(&stack, answer(&waiting, &codes[0])).await.status, 410);

    // A reset completed by the owner ends both a waiting sign-in and another waiting reset.
    let waiting = challenge_with(&stack, &email, NEW_PASSWORD).await;
    let other_reset =
        reset(&stack, &stack.verified_token(&email, "reset_password").await, "Quiet-Harbor-Mosaic-58").await;
    let owners_reset = reset(&stack, &stack.verified_token(&email, "reset_password").await, PASSWORD).await;
    let done = reset_mfa(&stack, answer(owners_reset.json["challenge_id"].as_str().unwrap(), &codes[0])).await;
    assert_eq!(done.status, 204, "{:?}", done.json);
    assert_eq!(mfa(&stack, answer(&waiting, &codes[1])).await.status, 410);
    let other = reset_mfa(&stack, answer(other_reset.json["challenge_id"].as_str().unwrap(), &codes[1])).await;
    assert_eq!((other.status, other.error_code()), (410, "challenge_expired"));
    // The codes the dead challenges were given are still the owner's.
    let id = challenge_with(&stack, &email, PASSWORD).await;
    assert_eq!(mfa(&stack, answer(&id, &codes[1])).await.status, 201);
}

// The interleaving of the two requests is up to the scheduler; the store contract's
// `a_stale_account_is_not_deleted` pins the refusal itself, on DynamoStore in moto too.
#[tokio::test]
async fn an_account_deleted_while_a_recovery_contact_is_added_leaves_it_claimable() {
    let stack = Arc::new(Stack::with_settings(&settings()).await);
    for _ in 0..4 {
        let email = new_email();
        stack.sign_up(&email, PASSWORD).await;
        let session = stack.session(&email.canonical(), PASSWORD).await;
        let recovery = new_email();
        let token = stack.verified_token(&recovery, "add_contact").await;
        let add = TestRequest::post(
            "/v1/account/recovery-contacts",
            json!({"verification_token": token, "password": PASSWORD}),
        )
        .bearer(&session);
        let delete = with_body("DELETE", "/v1/account", &session, json!({"password": PASSWORD}));
        let (adding, deleting) = (stack.clone(), stack.clone());
        let added = tokio::spawn(async move { adding.call(add_recovery_contact::handle, add).await.status });
        let deleted = tokio::spawn(async move { manage(&deleting, delete).await.status });
        let (added, deleted) = (added.await.unwrap(), deleted.await.unwrap());
        match deleted {
            // Nothing of the account is left: the recovery email can start an account of its own.
            204 => drop(stack.sign_up(&recovery, PASSWORD).await),
            // The contact came in between: the account stays, with it.
            409 => {
                assert_eq!(added, 201);
                assert_eq!(stack.account_page(&session).await.status, 200);
            }
            other => panic!("delete answered {other}, add {added}"),
        }
    }
}
