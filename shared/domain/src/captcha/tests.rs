//! The two versions together: which is issued and accepted, the payload's decoding, the difficulty scale.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::*;

const NOW: Timestamp = Timestamp(1_700_000_000);
/// v2's cheapest range and v1's small `maxnumber`: the checks, not the work, are under test.
const DIFFICULTY: u64 = 2_000;

fn settings(v1: bool) -> AltchaConfig {
    AltchaConfig { difficulty: 1_000, lifetime: Duration::from_secs(300), v1 }
}

fn secret() -> ServiceSecret {
    ServiceSecret::new(vec![7; 32]).unwrap()
}

fn solved(v1: bool, seed: u64) -> (Challenge, String) {
    let challenge = create_challenge(&secret(), &settings(v1), DIFFICULTY, NOW, &mut StdRng::seed_from_u64(seed));
    let payload = solve(&challenge).expect("a solution in range");
    (challenge, payload)
}

#[test]
fn v2_is_issued_and_v1_only_with_the_setting() {
    assert!(matches!(solved(false, 1).0, Challenge::V2(_)));
    assert!(matches!(solved(true, 1).0, Challenge::V1(_)));
    // Either answers as the widget reads it, and reads back as what it is.
    for v1 in [false, true] {
        let (challenge, _) = solved(v1, 2);
        let read: Challenge = serde_json::from_value(serde_json::to_value(&challenge).unwrap()).unwrap();
        assert_eq!(matches!(read, Challenge::V1(_)), v1);
    }
}

#[test]
fn v1_payloads_are_accepted_only_with_the_setting() {
    let (_, v1_payload) = solved(true, 3);
    let accepted = verify(&secret(), &settings(true), &v1_payload, NOW).unwrap();
    assert_eq!(accepted.difficulty, DIFFICULTY);
    assert_eq!(verify(&secret(), &settings(false), &v1_payload, NOW), Err(CaptchaRejection::V1Off));

    // v2 payloads are accepted either way: the setting may be turned on while they are out.
    let (_, v2_payload) = solved(false, 4);
    for v1 in [false, true] {
        let verified = verify(&secret(), &settings(v1), &v2_payload, NOW).unwrap();
        assert_eq!((verified.difficulty, verified.expires_at), (DIFFICULTY, Timestamp(NOW.0 + 300)));
    }
}

#[test]
fn a_challenge_of_an_older_key_still_counts() {
    let (one, two) = ("1".repeat(32), "2".repeat(32));
    let before = ServiceSecret::parse(&format!(r#"{{"current": "a", "a": "{one}"}}"#)).unwrap();
    let after = ServiceSecret::parse(&format!(r#"{{"current": "b", "a": "{one}", "b": "{two}"}}"#)).unwrap();
    for v1 in [false, true] {
        let challenge = create_challenge(&before, &settings(v1), DIFFICULTY, NOW, &mut StdRng::seed_from_u64(5));
        let payload = solve(&challenge).unwrap();
        assert!(verify(&after, &settings(v1), &payload, NOW).is_ok(), "v1: {v1}");
        assert_eq!(verify(&secret(), &settings(v1), &payload, NOW), Err(CaptchaRejection::BadSignature));
    }
}

#[test]
fn payload_encodings_and_garbage() {
    let (_, payload) = solved(false, 6);
    let json = STANDARD.decode(&payload).unwrap();
    for text in [
        payload.clone(),
        URL_SAFE_NO_PAD.encode(&json),
        format!(" {payload}\n"),
        // Fields the widget adds are ignored.
        STANDARD.encode(
            br#"{"algorithm":"SHA-256","challenge":"c","number":5,"salt":"s","signature":"x","took":1.5,"test":true}"#,
        ),
    ] {
        assert!(parse_payload(&text).is_ok(), "{text:?}");
    }
    // A valid payload that only the size limit refuses.
    let mut padded: serde_json::Value = serde_json::from_slice(&json).unwrap();
    padded["solution"]["pad"] = "a".repeat(MAX_PAYLOAD_LEN).into();
    assert!(parse_payload(&STANDARD.encode(padded.to_string().replace(&"a".repeat(1200), ""))).is_ok());
    let huge = STANDARD.encode(padded.to_string());
    let v2 =
        |solution: &str| STANDARD.encode(format!(r#"{{"challenge":{{"parameters":{{}}}},"solution":{solution}}}"#));
    for bad in [
        "".to_owned(),
        "not base64!".to_owned(),
        STANDARD.encode("not json"),
        STANDARD.encode(r#"{"algorithm":"SHA-256","challenge":"c","salt":"s","signature":"x"}"#),
        STANDARD.encode(r#"{"algorithm":"SHA-256","challenge":"c","number":-1,"salt":"s","signature":"x"}"#),
        STANDARD.encode(r#"{"algorithm":"SHA-256","challenge":"c","number":1.5,"salt":"s","signature":"x"}"#),
        STANDARD.encode(r#"{"challenge":null,"solution":null,"test":true}"#),
        v2(r#"{"counter":1,"derivedKey":"00"}"#),
        STANDARD.encode(json.iter().map(|&b| b as char).collect::<String>().replace(r#""counter":"#, r#""counter":-"#)),
        STANDARD.encode(String::from_utf8(json.clone()).unwrap().replace(r#""cost":2"#, r#""cost":"2""#)),
        STANDARD.encode(r#"[1,2,3]"#),
        huge,
    ] {
        assert_eq!(parse_payload(&bad).map(|_| ()), Err(CaptchaRejection::Malformed), "{bad:?}");
        assert_eq!(verify(&secret(), &settings(true), &bad, NOW), Err(CaptchaRejection::Malformed), "{bad:?}");
    }
}

#[test]
fn difficulty_doubles_per_group_of_requests_up_to_the_cap() {
    let base = 100_000;
    assert_eq!(difficulty_for(base, 0), base);
    assert_eq!(difficulty_for(base, REQUESTS_PER_DOUBLING - 1), base);
    assert_eq!(difficulty_for(base, REQUESTS_PER_DOUBLING), 2 * base);
    assert_eq!(difficulty_for(base, 2 * REQUESTS_PER_DOUBLING), 4 * base);
    assert_eq!(difficulty_for(base, 20 * REQUESTS_PER_DOUBLING), MAX_DIFFICULTY);
    assert_eq!(difficulty_for(base, u32::MAX), MAX_DIFFICULTY);
    // A base above the cap is never lowered.
    assert_eq!(difficulty_for(2 * MAX_DIFFICULTY, 10), 2 * MAX_DIFFICULTY);
}

#[test]
fn a_client_hardens_at_the_same_share_of_its_hourly_allowance() {
    let base = 100_000;
    let default = DEFAULT_CODES_PER_IP_PER_HOUR;
    // At the default allowance the count is unchanged, and the hardest is reached before the limit.
    assert_eq!(client_pressure(7, default), 7);
    assert_eq!(difficulty_for(base, client_pressure(default - 1, default)), MAX_DIFFICULTY);
    // Ten times the allowance (a carrier NAT): ten times the requests for the same challenge.
    assert_eq!(difficulty_for(base, client_pressure(6, 10 * default)), base);
    assert_eq!(difficulty_for(base, client_pressure(60, 10 * default)), 4 * base);
    // A third of it: three times as fast.
    assert_eq!(difficulty_for(base, client_pressure(2, default / 3)), 4 * base);
    assert_eq!(client_pressure(u32::MAX, 1), u32::MAX);
    assert_eq!(client_pressure(5, 0), 150, "an allowance of 0 refuses every request anyway");
}

#[test]
fn requests_allowed_is_the_inverse_of_difficulty_for() {
    for base in [0, 1, 1_000, 100_000, 3 * MAX_DIFFICULTY] {
        let mut difficulties =
            vec![0, base.saturating_sub(1), base, base + 1, (2 * base).saturating_sub(1), 2 * base, 5 * base];
        difficulties.extend([MAX_DIFFICULTY - 1, MAX_DIFFICULTY, max_difficulty(base), u64::MAX]);
        for difficulty in difficulties {
            let allowed = requests_allowed(base, difficulty);
            for n in 0..200 {
                assert_eq!(
                    n < allowed,
                    difficulty_for(base, n) <= difficulty,
                    "base {base}, difficulty {difficulty}, {n} requests"
                );
            }
        }
    }
    assert_eq!(requests_allowed(100_000, 100_000), REQUESTS_PER_DOUBLING);
    assert_eq!(requests_allowed(100_000, 400_000), 3 * REQUESTS_PER_DOUBLING);
    assert_eq!(requests_allowed(100_000, MAX_DIFFICULTY), u32::MAX);
}
