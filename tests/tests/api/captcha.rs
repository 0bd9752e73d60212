//! The CAPTCHA before every code, and the protections against SMS pumping, against moto.

use std::sync::Arc;

use base64::Engine;
use integration_tests::outbox::sms_to;
use integration_tests::{new_email, new_phone, random_ip, random_phone, Stack, TestRequest, TestResponse};
use serde_json::{json, Value};
use shared::domain::captcha::{create_challenge, solve, v1, v2, Challenge};
use shared::domain::config::CaptchaConfig;
use shared::domain::secret::HashPurpose;
use shared::domain::verification::{request_code, CodeRequest, Purpose};
use shared::domain::{Contact, Language};
use shared::Timestamp;

async fn post(stack: &Stack, body: Value) -> TestResponse {
    stack.call(request_code::handle, TestRequest::post("/v1/verifications", body)).await
}

async fn challenge(stack: &Stack, ip: &str) -> Challenge {
    serde_json::from_value(issued(stack, TestRequest::get("/v1/captcha").from_ip(ip)).await).unwrap()
}

/// The challenge `request` gets; 200 or the test fails.
async fn issued(stack: &Stack, request: TestRequest) -> Value {
    let answer = stack.call(captcha::handle, request).await;
    assert_eq!(answer.status, 200, "{:?}", answer.json);
    answer.json
}

/// The difficulty signed into a challenge: v2's `data.difficulty`, v1's `maxnumber`.
async fn difficulty_of(stack: &Stack, request: TestRequest) -> u64 {
    let challenge = issued(stack, request).await;
    challenge["parameters"]["data"]["difficulty"].as_u64().or(challenge["maxnumber"].as_u64()).unwrap()
}

fn sms_body(phone: &Contact) -> Value {
    json!({"channel": "sms", "phone": phone.canonical(), "purpose": "sign_up"})
}

/// A sign-up code request for the domain function, as the handler would build it.
fn code_request(captcha: String, contact: Contact) -> CodeRequest {
    CodeRequest {
        captcha: Some(captcha),
        contact,
        purpose: Purpose::SignUp,
        client_ip: None,
        language: Language::English,
    }
}

#[tokio::test]
async fn no_code_without_a_solved_captcha() {
    let stack = Stack::new().await;
    let phone = new_phone();
    let missing = post(&stack, sms_body(&phone)).await;
    assert_eq!((missing.status, missing.error_code()), (403, "captcha_failed"));

    let Challenge::V2(puzzle) = challenge(&stack, &random_ip()).await else { panic!("a v2 challenge by default") };
    let parameters = &puzzle.parameters;
    assert_eq!((parameters.algorithm.as_str(), parameters.cost, parameters.memory_cost), ("ARGON2ID", 2, Some(16_384)));
    assert!(parameters.expires_at.is_some());
    let solution = v2::solve(&puzzle).unwrap();
    let wrong_number = v2::payload(&puzzle, &v2::solution_for(&puzzle, solution.counter + 1));
    let mut forged = puzzle.clone();
    forged.signature = Some("0".repeat(64));
    let forged = v2::payload(&forged, &solution);
    // A right v1 solution of a challenge signed with our key: CAPTCHA_ALTCHA_V1 is off.
    let key = stack.app.config.edge_secret.keyed_hash(HashPurpose::Captcha, &[]).0;
    let expires = Timestamp(Timestamp::now().0 + 300);
    let old = v1::create_challenge(&key, 1_000, expires, &mut rand::rngs::OsRng);
    let v1 = v1::payload_for(&old, v1::solve(&old).unwrap());
    for payload in
        [wrong_number, forged, v1, "not base64!".to_owned(), base64::engine::general_purpose::STANDARD.encode("{}")]
    {
        let mut body = sms_body(&phone);
        body["captcha"] = json!(payload);
        let refused = post(&stack, body).await;
        assert_eq!((refused.status, refused.error_code()), (403, "captcha_failed"), "{payload}");
    }
    assert!(sms_to(&phone.canonical()).is_empty(), "nothing was sent");
    assert_eq!(stack.item_count().await, 0, "nothing was stored");

    let mut body = sms_body(&phone);
    body["captcha"] = json!(v2::payload(&puzzle, &solution));
    assert_eq!(post(&stack, body.clone()).await.status, 202);
    // The same solution a second time, for another number: a replay.
    let other = new_phone();
    body["phone"] = json!(other.canonical());
    let replay = post(&stack, body).await;
    assert_eq!((replay.status, replay.error_code()), (403, "captcha_failed"));
    assert!(sms_to(&other.canonical()).is_empty());
}

#[tokio::test]
async fn a_captcha_expires_after_five_minutes() {
    let stack = Stack::new().await;
    let request = |captcha: String| code_request(captcha, new_phone());
    let now = Timestamp::now();
    let late =
        request_code(stack.app, request(stack.solved_captcha().await), Timestamp(now.0 + 301), &mut rand::rngs::OsRng)
            .await;
    assert!(matches!(late, Err(shared::Error::CaptchaFailed)), "{late:?}");
    let in_time =
        request_code(stack.app, request(stack.solved_captcha().await), Timestamp(now.0 + 290), &mut rand::rngs::OsRng)
            .await;
    assert!(in_time.is_ok(), "{in_time:?}");
}

/// Six codes asked for from one IP, then the difficulty of the next challenge it is given.
async fn difficulty_after_six_codes(stack: &Stack, ip: &str) -> u64 {
    for _ in 0..6 {
        let body = stack.with_captcha(sms_body(&new_phone())).await;
        let sent = stack.call(request_code::handle, TestRequest::post("/v1/verifications", body).from_ip(ip)).await;
        assert_eq!(sent.status, 202);
    }
    difficulty_of(stack, TestRequest::get("/v1/captcha").from_ip(ip)).await
}

#[tokio::test]
async fn difficulty_rises_for_a_client_that_asks_for_many_codes() {
    let stack = Stack::new().await;
    let ip = random_ip();
    let first = difficulty_of(&stack, TestRequest::get("/v1/captcha").from_ip(&ip)).await;
    let later = difficulty_after_six_codes(&stack, &ip).await;
    assert_eq!(later, 4 * first, "two doublings at the default allowance of 30 an hour");
    let other = difficulty_of(&stack, TestRequest::get("/v1/captcha").from_ip(&random_ip())).await;
    assert_eq!(other, first, "other clients are not affected");

    // An IP allowed ten times as many codes (many people behind one NAT) hardens ten times slower.
    let shared_ip = Stack::with_settings(&[("CODES_PER_IP_PER_HOUR", "300")]).await;
    assert_eq!(difficulty_after_six_codes(&shared_ip, &random_ip()).await, first);
}

fn with(mut body: Value, captcha: String) -> Value {
    body["captcha"] = json!(captcha);
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn difficulty_rises_for_a_number_range_that_gets_many_codes() {
    let stack = Arc::new(Stack::new().await);
    let (_, national) = random_phone();
    let number = |last: usize| format!("+91{}{last:04}", &national[..national.len() - 4]);
    let body = |last: usize| json!({"channel": "sms", "phone": number(last), "purpose": "sign_up"});

    // Six clients at once, each with a base-difficulty solution, each for another number of the range:
    // the range's count in the request's transaction lets exactly three through.
    let mut tasks = Vec::new();
    for last in 1..=6 {
        let (stack, mut body) = (stack.clone(), body(last));
        body["captcha"] = json!(stack.solved_captcha().await);
        tasks.push(tokio::spawn(async move { post(&stack, body).await }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    let accepted = answers.iter().filter(|a| a.status == 202).count();
    let too_easy: Vec<_> = answers.iter().filter(|a| a.error_code() == "captcha_too_easy").collect();
    assert_eq!((accepted, too_easy.len()), (3, 3), "{answers:?}");
    for refused in &too_easy {
        assert_eq!(refused.status, 403);
        assert_eq!(refused.json["error"]["difficulty"], 2_000, "twice the base of 1000");
    }
    let texted = (1..=6).filter(|last| !sms_to(&number(*last)).is_empty()).count();
    assert_eq!(texted, 3, "no SMS for a refused request");
    let items = stack.item_count().await;

    // The named difficulty gets the code; an easier challenge does not, and writes nothing.
    let refused = post(&stack, with(body(7), stack.solved_captcha().await)).await;
    assert_eq!((refused.status, refused.error_code()), (403, "captcha_too_easy"));
    assert_eq!(stack.item_count().await, items, "nothing was stored");
    assert_eq!(difficulty_of(&stack, TestRequest::get("/v1/captcha?difficulty=2000")).await, 2_000);
    let hard = stack.solved_captcha_of("/v1/captcha?difficulty=2000").await;
    assert_eq!(post(&stack, with(body(7), hard)).await.status, 202);

    // Another range is not affected.
    let other = stack.request_code(sms_body(&new_phone())).await;
    assert_eq!(other.status, 202, "{:?}", other.json);
}

#[tokio::test]
async fn difficulty_rises_for_an_email_address_that_gets_many_codes() {
    let stack = Stack::new().await;
    let email = new_email();
    let now = Timestamp::now();
    // Early in an hour, so the four requests (a minute apart, after the resend cooldown) share one window.
    let start = now.0 - now.0 % 3600 + 60;
    let mut outcomes = Vec::new();
    for (i, captcha) in [None, None, None, None, Some(2_000)].into_iter().enumerate() {
        let at = Timestamp(start + 61 * i as i64);
        let request = code_request(stack.solved_captcha_at(at, captcha).await, email.clone());
        outcomes.push(match request_code(stack.app, request, at, &mut rand::rngs::OsRng).await {
            Ok(_) => "sent".to_owned(),
            Err(e) => e.code().to_owned(),
        });
    }
    assert_eq!(outcomes, ["sent", "sent", "sent", "captcha_too_easy", "sent"]);
}

#[tokio::test]
async fn a_challenge_easier_than_the_base_pays_for_nothing() {
    // As one issued before CAPTCHA_DIFFICULTY was raised: signed by the service, but below the base.
    let stack = Stack::new().await;
    let CaptchaConfig::Altcha(altcha) = &stack.app.config.captcha else { panic!("an ALTCHA stack") };
    let now = Timestamp::now();
    let puzzle = create_challenge(&stack.app.config.edge_secret, altcha, 999, now, &mut rand::rngs::OsRng);
    let request = code_request(solve(&puzzle).unwrap(), new_phone());
    let refused = request_code(stack.app, request, now, &mut rand::rngs::OsRng).await;
    assert!(matches!(refused, Err(shared::Error::CaptchaTooEasy { difficulty: 1_000 })), "{refused:?}");
    assert_eq!(stack.item_count().await, 0, "nothing was stored");
}

#[tokio::test]
async fn a_harder_captcha_is_asked_for_with_a_whole_number() {
    let stack = Stack::new().await;
    for bad in ["-1", "2e5", "lots", "", "18446744073709551616"] {
        let answer = stack.call(captcha::handle, TestRequest::get(&format!("/v1/captcha?difficulty={bad}"))).await;
        assert_eq!((answer.status, answer.error_code()), (400, "invalid_request"), "{bad:?}");
    }
    // Asking for more than the hardest challenge gets the hardest; less than the base changes nothing.
    for v1 in ["false", "true"] {
        let stack = Stack::with_settings(&[("CAPTCHA_ALTCHA_V1", v1)]).await;
        let hardest = difficulty_of(&stack, TestRequest::get("/v1/captcha?difficulty=99999999999")).await;
        assert_eq!(hardest, 10_000_000, "v1: {v1}");
        assert_eq!(difficulty_of(&stack, TestRequest::get("/v1/captcha?difficulty=5")).await, 1_000, "v1: {v1}");
    }
}

#[tokio::test]
async fn frontends_built_on_altcha_v1_work_while_the_setting_is_on() {
    let stack = Stack::with_settings(&[("CAPTCHA_ALTCHA_V1", "true")]).await;
    let Challenge::V1(puzzle) = challenge(&stack, &random_ip()).await else { panic!("a v1 challenge") };
    assert_eq!((puzzle.algorithm.as_str(), puzzle.maxnumber), ("SHA-256", 1000));
    let sent = stack.request_code(sms_body(&new_phone())).await;
    assert_eq!(sent.status, 202, "{:?}", sent.json);
}

#[tokio::test]
async fn premium_rate_toll_free_and_landline_numbers_get_no_sms() {
    let stack = Stack::new().await;
    for (number, why) in
        [("+44 909 8790000", "premium-rate"), ("+44 800 1234567", "toll-free"), ("+44 20 7946 0000", "landline")]
    {
        let answer = stack.request_code(json!({"channel": "sms", "phone": number, "purpose": "sign_up"})).await;
        assert_eq!((answer.status, answer.error_code()), (400, "invalid_phone"), "{number}");
        assert!(answer.json["error"]["message"].as_str().unwrap().contains(why), "{:?}", answer.json);
    }
    assert_eq!(stack.item_count().await, 0);
}

#[tokio::test]
async fn sms_goes_only_to_allowed_countries() {
    let stack = Stack::with_settings(&[("SMS_ALLOWED_COUNTRY_CODES", "86,1")]).await;
    let refused = stack.request_code(sms_body(&new_phone())).await;
    assert_eq!((refused.status, refused.error_code()), (400, "unsupported_region"));
    let allowed =
        stack.request_code(json!({"channel": "sms", "phone": "+86 138 0013 8000", "purpose": "sign_up"})).await;
    assert_eq!(allowed.status, 202, "{:?}", allowed.json);
    let email = stack.request_code(json!({"channel": "email", "email": "a.b@example.com", "purpose": "sign_up"})).await;
    assert_eq!(email.status, 202, "email is not limited by country");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_per_country_sms_ceiling_holds_under_concurrency() {
    let stack = Arc::new(Stack::with_settings(&[("SMS_PER_COUNTRY_PER_HOUR", "3")]).await);
    let phones: Vec<Contact> = (0..10).map(|_| new_phone()).collect();
    let mut bodies = Vec::new();
    for phone in &phones {
        bodies.push(stack.with_captcha(sms_body(phone)).await);
    }
    let tasks: Vec<_> = bodies
        .into_iter()
        .map(|body| {
            let stack = stack.clone();
            tokio::spawn(async move { post(&stack, body).await.status })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 202).count(), 3, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 7, "{statuses:?}");
    let sent: usize = phones.iter().map(|p| sms_to(&p.canonical()).len()).sum();
    assert_eq!(sent, 3);
}

#[tokio::test]
async fn one_number_range_cannot_be_walked() {
    let stack = Stack::with_settings(&[("SMS_PER_RANGE_PER_HOUR", "2")]).await;
    let (cc, national) = random_phone();
    let range = &national[..national.len() - 4];
    let mut statuses = Vec::new();
    for last in ["0001", "0002", "0003"] {
        let body =
            json!({"channel": "sms", "country_code": cc, "phone": format!("{range}{last}"), "purpose": "sign_up"});
        statuses.push(stack.request_code(body).await.status);
    }
    assert_eq!(statuses, vec![202, 202, 429]);
}
