//! Every SMS under the cost controls: codes for a challenge or a 2FA setup and security notices
//! count on the same per-country ceiling as code requests; notices go by email where there is
//! one and by SMS at most once an hour; and a refused CAPTCHA moves no counter at all.

use std::collections::BTreeMap;
use std::time::Duration;

use integration_tests::outbox::{messages_to, sms_to};
use integration_tests::{new_email, new_phone, Stack, TestRequest};
use serde_json::json;
use shared::domain::{Contact, Timestamp};

use super::recovery::{add_recovery, settings, PASSWORD};

/// Every window counter and cooldown in the table, by key, with what it holds.
async fn counters(stack: &Stack) -> BTreeMap<String, String> {
    let scanned = stack.dynamo.scan().table_name(&stack.table).send().await.expect("scan");
    scanned
        .items()
        .iter()
        .filter(|item| item["pk"].as_s().is_ok_and(|pk| pk.starts_with("LIMIT#")))
        // A counter given back to zero holds nothing.
        .filter(|item| item.get("count").is_none_or(|count| count.as_n().is_ok_and(|n| n != "0")))
        .map(|item| {
            let key = format!("{} {}", item["pk"].as_s().unwrap(), item["sk"].as_s().unwrap());
            let held = ["count", "until"].iter().filter_map(|name| item.get(*name)).map(|v| format!("{v:?}"));
            (key, held.collect::<Vec<_>>().join(" "))
        })
        .collect()
}

fn sign_ins_told(contact: &Contact) -> usize {
    messages_to(contact).iter().filter(|m| m.contains("New sign-in")).count()
}

#[tokio::test]
async fn eight_sign_ins_on_a_phone_only_account_send_one_sms_notice() {
    let stack = Stack::new().await;
    let phone = new_phone();
    stack.sign_up(&phone, PASSWORD).await;
    for _ in 0..8 {
        stack.session(&phone.canonical(), PASSWORD).await;
    }
    assert_eq!(sign_ins_told(&phone), 1);
    // Another kind of notice has its own allowance: a password change is still told.
    let session = stack.session(&phone.canonical(), PASSWORD).await;
    let body = json!({"current_password": PASSWORD, "new_password": "Quartz-Lantern-77"});
    let change = TestRequest::post("/v1/account/password", body).method("PUT").bearer(&session);
    assert_eq!(stack.call(manage_account::handle, change).await.status, 204);
    assert!(messages_to(&phone).last().unwrap().contains("password was changed"));
}

#[tokio::test]
async fn an_account_with_an_email_is_told_by_email_only() {
    let stack = Stack::with_settings(&settings()).await;
    let (phone, email) = (new_phone(), new_email());
    stack.sign_up(&phone, PASSWORD).await;
    let session = stack.session(&phone.canonical(), PASSWORD).await;
    add_recovery(&stack, &session, &email).await;
    let sent_before = sms_to(&phone.canonical()).len();
    stack.session(&phone.canonical(), PASSWORD).await;
    assert_eq!(sign_ins_told(&email), 1);
    assert_eq!(sms_to(&phone.canonical()).len(), sent_before, "no SMS for the notice");
}

#[tokio::test]
async fn codes_of_a_2fa_setup_and_a_challenge_and_notices_count_on_the_country_ceiling() {
    // The ceiling counts in hours of the clock: a run that crosses into the next hour starts
    // its count again, so it is run once more (a new stack: its own table), wholly inside one.
    let hour = || Timestamp::now().window_start(Duration::from_secs(3600));
    for _ in 0..2 {
        let stack = Stack::with_settings(&[("SMS_PER_COUNTRY_PER_HOUR", "3")]).await;
        let started = hour();
        let phone = new_phone();
        stack.sign_up(&phone, PASSWORD).await; // 1: the sign-up code
        let session = stack.session(&phone.canonical(), PASSWORD).await; // 2: the new-device notice
        let start = TestRequest::post("/v1/account/two-factor", json!({"method": "sms", "password": PASSWORD}));
        let started_2fa = stack.call(enable_2fa::handle, start.bearer(&session)).await; // 3: the setup code
        assert_eq!(started_2fa.status, 200, "{:?}", started_2fa.json);
        let code = integration_tests::outbox::last_code_to(&phone).unwrap();
        let confirm = TestRequest::post("/v1/account/two-factor/confirm", json!({"code": code})).bearer(&session);
        assert_eq!(stack.call(enable_2fa::handle, confirm).await.status, 200); // its notice: over the ceiling

        let challenge = stack.sign_in(json!({"login": phone.canonical(), "password": PASSWORD})).await;
        let body = json!({"challenge_id": challenge.json["challenge_id"]});
        let sms = stack.call(sign_in::handle, TestRequest::post("/v1/sessions/mfa/sms", body)).await;
        if hour() == started {
            assert_eq!((sms.status, sms.error_code()), (429, "rate_limited"), "{:?}", sms.json);
            assert_eq!(sms_to(&phone.canonical()).len(), 3, "{:?}", sms_to(&phone.canonical()));
            return;
        }
    }
    panic!("two runs crossed an hour");
}

#[tokio::test]
async fn a_replayed_captcha_leaves_every_counter_as_it_was() {
    let stack = Stack::new().await;
    let captcha = stack.solved_captcha().await;
    let body = |phone: &Contact| json!({"channel": "sms", "phone": phone.canonical(), "purpose": "sign_up", "captcha": captcha});
    let first = stack.call(request_code::handle, TestRequest::post("/v1/verifications", body(&new_phone()))).await;
    assert_eq!(first.status, 202, "{:?}", first.json);
    let before = counters(&stack).await;
    assert!(before.keys().any(|key| key.contains("sms-country")), "{before:?}");

    let other = new_phone();
    let replay = stack.call(request_code::handle, TestRequest::post("/v1/verifications", body(&other))).await;
    assert_eq!((replay.status, replay.error_code()), (403, "captcha_failed"));
    assert_eq!(counters(&stack).await, before);
    assert!(sms_to(&other.canonical()).is_empty());
}
