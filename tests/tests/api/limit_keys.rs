//! Limits keyed by what they protect: an email's mailbox rather than each `+tag` variant of it,
//! an IPv6 client's /64 rather than each of its addresses, and a destination that keeps failing
//! codes stopped for the day as well as for the hour.

use std::time::Duration;

use integration_tests::{random_hex, random_phone, Stack, TestRequest};
use serde_json::{json, Value};
use shared::domain::verification::{confirm_code, request_code};
use shared::Timestamp;

use super::verification::{e164, last_sms_code, phone_request, wrong};

async fn ask(stack: &Stack, body: Value, ip: &str) -> u16 {
    let request = TestRequest::post("/v1/verifications", stack.with_captcha(body).await).from_ip(ip);
    stack.call(request_code::handle, request).await.status
}

fn email_body(address: &str) -> Value {
    json!({"channel": "email", "email": address, "purpose": "sign_up"})
}

#[tokio::test]
async fn tagged_and_dotted_variants_of_a_mailbox_share_its_budget() {
    let stack =
        Stack::with_settings(&[("CODES_PER_DESTINATION_PER_HOUR", "2"), ("RESEND_COOLDOWN_SECONDS", "0")]).await;
    let name = format!("ann{}", random_hex(4));
    let ip = || format!("198.51.100.{}", rand::random::<u8>());
    assert_eq!(ask(&stack, email_body(&format!("{name}.lee+1@gmail.com")), &ip()).await, 202);
    assert_eq!(ask(&stack, email_body(&format!("{name}lee+shop@googlemail.com")), &ip()).await, 202);
    let third = format!("{}.LEE@Gmail.com", name.to_uppercase());
    assert_eq!(ask(&stack, email_body(&third), &ip()).await, 429, "one mailbox, one budget");
    assert_eq!(ask(&stack, email_body(&format!("{name}.lee@example.org")), &ip()).await, 202, "another mailbox");
}

#[tokio::test]
async fn the_addresses_of_one_ipv6_64_share_its_budget() {
    let stack = Stack::with_settings(&[("CODES_PER_IP_PER_HOUR", "2")]).await;
    let prefix = format!("2001:db8:{}:1", random_hex(2));
    let phone = || {
        let (cc, national) = random_phone();
        json!({"channel": "sms", "country_code": cc, "phone": national, "purpose": "sign_up"})
    };
    assert_eq!(ask(&stack, phone(), &format!("{prefix}::1")).await, 202);
    assert_eq!(ask(&stack, phone(), &format!("{prefix}:ffff:ffff:ffff:fffe")).await, 202);
    assert_eq!(ask(&stack, phone(), &format!("{prefix}:abcd::9")).await, 429, "the same /64");
    let next = format!("2001:db8:{}:2::1", random_hex(2));
    assert_eq!(ask(&stack, phone(), &next).await, 202, "another /64");
}

// Time is a parameter of the domain functions: hours and days are crossed without sleeping.
#[tokio::test]
async fn a_destination_that_keeps_failing_codes_is_stopped_for_the_day() {
    let stack = Stack::with_settings(&[
        ("FAILED_CODES_PER_DESTINATION_PER_HOUR", "3"),
        ("FAILED_CODES_PER_DESTINATION_PER_DAY", "5"),
        ("RESEND_COOLDOWN_SECONDS", "0"),
    ])
    .await;
    let (cc, national) = random_phone();
    let day = Timestamp::now().window_start(Duration::from_secs(24 * 3600));
    let mut rng = rand::rngs::OsRng;
    let hour = |n: i64| Timestamp(day.0 + n * 3600);
    let ask_at = |at: Timestamp| {
        let stack = &stack;
        let national = national.clone();
        async move {
            let request = phone_request(stack, &national, "198.51.100.9", at).await;
            request_code(stack.app, request, at, &mut rand::rngs::OsRng).await
        }
    };
    // Three wrong codes in the first hour, two in the second: five today.
    for (at, wrong_codes) in [(hour(0), 3), (hour(1), 2)] {
        let sent = ask_at(at).await.expect("a code");
        let code = last_sms_code(&stack, &e164(&cc, &national)).await;
        for _ in 0..wrong_codes {
            let guess =
                confirm_code(stack.app, &sent.verification_id, &wrong(&code), Timestamp(at.0 + 1), &mut rng).await;
            assert!(matches!(guess, Err(shared::Error::InvalidCode { .. })), "{guess:?}");
        }
    }
    // Two failures this hour, under its three; but five today.
    for at in [Timestamp(hour(1).0 + 60), hour(2), hour(23)] {
        let refused = ask_at(at).await;
        assert!(matches!(refused, Err(shared::Error::RateLimited { .. })), "{refused:?}");
    }
    ask_at(hour(24)).await.expect("a new day");
}
