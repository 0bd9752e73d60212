//! Proof-of-work CAPTCHA in the ALTCHA v1 format, so the stock ALTCHA widget can solve it.
//!
//! Flow, with no server state between steps 1 and 3:
//! 1. [`create_challenge`] makes the JSON the widget fetches:
//!    `{"algorithm":"SHA-256","challenge","maxnumber","salt","signature"}` where
//!    `salt = <32 hex random>?expires=<unix seconds>&maxnumber=<maxnumber>&`,
//!    `challenge = hex(SHA-256(salt + decimal number))`
//!    for a secret random number in `0..=maxnumber`, and `signature = hex(HMAC-SHA256(key, challenge hex))`.
//! 2. The widget tries numbers until the hash matches and sends `base64(JSON {algorithm, challenge,
//!    number, salt, signature, took})`.
//! 3. [`parse_payload`] then [`verify_solution`] give a [`VerifiedCaptcha`]. The signature proves the
//!    challenge is ours and the signed salt carries its expiry, but a solution can be replayed until
//!    then: the caller must record [`VerifiedCaptcha::id`] with a conditional write (TTL
//!    [`VerifiedCaptcha::expires_at`]) and refuse ids already recorded.
//!
//! The signature covers the salt, so the difficulty written into it is the server's word: a destination
//! that is asked for often accepts only solutions of harder challenges ([`difficulty_for`] and its
//! inverse [`requests_allowed`]). Also: [`solve`] and [`payload_for`] (tests, local tooling). Every
//! [`CaptchaRejection`] is one 403 to the client.
//!
//! This is the format of `altcha-lib/v1` (the JS reference, `createChallenge` / `verifySolution`),
//! which widget v1/v2 speak natively and widget v3 still accepts: it converts a challenge that has a
//! `challenge` field and answers with the v1 payload. The key is raw bytes; altcha-lib takes the UTF-8
//! bytes of a string, so the two agree whenever the key is ASCII (the test vector below relies on it).

use std::time::Duration;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::{CryptoRng, Rng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::time::Timestamp;

/// The only algorithm issued or accepted. ALTCHA v1 also has SHA-1 and SHA-512, but every
/// challenge we sign is SHA-256, so accepting another could only ever fail later.
pub const ALGORITHM: &str = "SHA-256";

/// Longest payload text decoded. A real one is about 400 characters; the limit is checked
/// before decoding so that a huge body costs no allocation or JSON parsing.
pub const MAX_PAYLOAD_LEN: usize = 2048;

/// Random bytes in the salt: unguessable, so every challenge (and its id) is unique.
const NONCE_BYTES: usize = 16;

/// A challenge for the widget. Field names are the ones the widget reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptchaChallenge {
    pub algorithm: String,
    pub challenge: String,
    pub maxnumber: u64,
    pub salt: String,
    pub signature: String,
}

/// What the widget sends back, decoded but not yet checked. Other fields the widget adds
/// (`took`, `test`) are ignored: nothing the client reports about itself is trusted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaptchaSolution {
    pub algorithm: String,
    pub challenge: String,
    pub number: u64,
    pub salt: String,
    pub signature: String,
}

/// A solution that passed every check; what the caller needs to make it single use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCaptcha {
    /// The challenge hash as lowercase hex, recomputed here rather than copied from the client,
    /// so one issued challenge has exactly one id however its payload is spelled.
    pub id: String,
    /// When the challenge stops being accepted: the TTL for the single-use record. Records that
    /// DynamoDB deletes late or early after this instant are harmless, since expired solutions fail anyway.
    pub expires_at: Timestamp,
    /// The `maxnumber` the challenge was issued with, as signed into its salt; 0 for a salt that
    /// names none (the reference format), which buys no requests.
    pub difficulty: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CaptchaRejection {
    #[error("the CAPTCHA answer is not a well-formed ALTCHA payload")]
    Malformed,
    #[error("the CAPTCHA answer uses an algorithm other than SHA-256")]
    UnsupportedAlgorithm,
    #[error("the CAPTCHA challenge has no expiry, so it was not issued by this service")]
    MissingExpiry,
    #[error("the CAPTCHA challenge has expired; solve a new one")]
    Expired,
    #[error("the CAPTCHA answer does not solve its challenge")]
    WrongSolution,
    #[error("the CAPTCHA challenge was not issued by this service")]
    BadSignature,
}

/// A new challenge of `maxnumber` difficulty (on average the client hashes `maxnumber / 2` times),
/// accepted until `now + lifetime`.
pub fn create_challenge(
    hmac_key: &[u8; 32],
    maxnumber: u64,
    now: Timestamp,
    lifetime: Duration,
    rng: &mut (impl RngCore + CryptoRng),
) -> CaptchaChallenge {
    let mut nonce = [0u8; NONCE_BYTES];
    rng.fill_bytes(&mut nonce);
    // Same layout as altcha-lib: parameters as a query string after `?`, and a trailing `&` so
    // digits moved from the number onto the end of the salt cannot change `expires` (the hash
    // of salt + number would be unchanged, and so would the signature).
    let salt = format!("{}?expires={}&maxnumber={maxnumber}&", hex::encode(nonce), now.plus(lifetime).0);
    let number = rng.gen_range(0..=maxnumber);
    let challenge = challenge_hex(&salt, number);
    let signature = signature_hex(hmac_key, &challenge);
    CaptchaChallenge { algorithm: ALGORITHM.to_owned(), challenge, maxnumber, salt, signature }
}

/// Decodes the widget's payload: base64 (standard or URL-safe, padded or not) of a JSON object.
pub fn parse_payload(text: &str) -> Result<CaptchaSolution, CaptchaRejection> {
    const LENIENT: GeneralPurposeConfig =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
    const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

    if text.len() > MAX_PAYLOAD_LEN {
        return Err(CaptchaRejection::Malformed);
    }
    let text = text.trim();
    let json = STANDARD_LENIENT
        .decode(text)
        .or_else(|_| URL_SAFE_LENIENT.decode(text))
        .map_err(|_| CaptchaRejection::Malformed)?;
    serde_json::from_slice(&json).map_err(|_| CaptchaRejection::Malformed)
}

/// Checks a solution as altcha-lib's `verifySolution` does, but stricter: the expiry is
/// required, and the salt must have exactly the shape [`create_challenge`] gives it.
pub fn verify_solution(
    hmac_keys: &[[u8; 32]],
    solution: &CaptchaSolution,
    now: Timestamp,
) -> Result<VerifiedCaptcha, CaptchaRejection> {
    if solution.algorithm != ALGORITHM {
        return Err(CaptchaRejection::UnsupportedAlgorithm);
    }
    let (expires_at, difficulty) = salt_parameters(&solution.salt)?;
    if now >= expires_at {
        return Err(CaptchaRejection::Expired);
    }
    let challenge = challenge_hex(&solution.salt, solution.number);
    // Both comparisons are of lowercase hex text, as in altcha-lib, in constant time.
    if !same_text(&challenge, &solution.challenge) {
        return Err(CaptchaRejection::WrongSolution);
    }
    // Signed under any of the keys: a challenge issued just before a rotation still counts.
    if !hmac_keys.iter().any(|key| same_text(&signature_hex(key, &challenge), &solution.signature)) {
        return Err(CaptchaRejection::BadSignature);
    }
    Ok(VerifiedCaptcha { id: challenge, expires_at, difficulty })
}

/// Brute force, as the widget does: the number in `0..=maxnumber` whose hash is the challenge.
pub fn solve(challenge: &CaptchaChallenge) -> Option<u64> {
    let mut target = [0u8; 32];
    hex::decode_to_slice(&challenge.challenge, &mut target).ok()?;
    let salted = Sha256::new_with_prefix(challenge.salt.as_bytes());
    (0..=challenge.maxnumber).find(|n| salted.clone().chain_update(n.to_string()).finalize().as_slice() == target)
}

/// The payload a widget would send for `number` (standard base64 of JSON, like the widget's `btoa`).
pub fn payload_for(challenge: &CaptchaChallenge, number: u64) -> String {
    let solution = CaptchaSolution {
        algorithm: challenge.algorithm.clone(),
        challenge: challenge.challenge.clone(),
        number,
        salt: challenge.salt.clone(),
        signature: challenge.signature.clone(),
    };
    STANDARD.encode(serde_json::to_vec(&solution).expect("strings and a number always serialize"))
}

/// Requests at one difficulty before it doubles: a person who mistyped a number can ask again
/// a few times without noticing, a script asking over and over pays exponentially more.
pub const REQUESTS_PER_DOUBLING: u32 = 3;

/// Ceiling for [`difficulty_for`]: 10x ALTCHA's default `maxnumber` of 1,000,000, so that even
/// a slow phone should find the number well inside widget v3's 90-second solving timeout.
pub const MAX_DIFFICULTY: u64 = 10_000_000;

/// `maxnumber` for a client or destination with `recent_requests` requests in the current limit
/// window: `base` for the first [`REQUESTS_PER_DOUBLING`], doubled for each further group, capped at
/// [`MAX_DIFFICULTY`] (or at `base`, if that is higher).
pub fn difficulty_for(base: u64, recent_requests: u32) -> u64 {
    let doublings = (recent_requests / REQUESTS_PER_DOUBLING).min(63);
    base.saturating_mul(1 << doublings).min(max_difficulty(base))
}

/// The inverse of [`difficulty_for`]: how many requests a window may already hold for a solution of
/// `difficulty` to be accepted, i.e. `n < requests_allowed(base, d)` exactly when
/// `difficulty_for(base, n) <= d`. The hardest challenge is always enough.
pub fn requests_allowed(base: u64, difficulty: u64) -> u32 {
    if difficulty >= max_difficulty(base) {
        return u32::MAX;
    }
    match difficulty.checked_div(base) {
        // Base 0: every challenge is as hard as needed.
        None => u32::MAX,
        Some(0) => 0,
        // The doublings `difficulty` covers: the largest k with base * 2^k <= difficulty.
        Some(ratio) => (ratio.ilog2() + 1).saturating_mul(REQUESTS_PER_DOUBLING),
    }
}

/// The hardest challenge issued: [`MAX_DIFFICULTY`], or `base` if that is higher.
pub fn max_difficulty(base: u64) -> u64 {
    MAX_DIFFICULTY.max(base)
}

fn challenge_hex(salt: &str, number: u64) -> String {
    hex::encode(Sha256::new_with_prefix(salt.as_bytes()).chain_update(number.to_string()).finalize())
}

/// HMAC over the challenge's hex text, not its raw bytes: that is what ALTCHA signs.
fn signature_hex(hmac_key: &[u8; 32], challenge_hex: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(hmac_key).expect("HMAC takes any key length");
    mac.update(challenge_hex.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The expiry and difficulty in a salt of the form `<32 lowercase hex>?expires=<unix seconds>&`,
/// optionally followed by `maxnumber=<digits>&`. Salts we did not write, including spliced ones
/// that still hash to a signed challenge, are refused here.
fn salt_parameters(salt: &str) -> Result<(Timestamp, u64), CaptchaRejection> {
    let (nonce, params) = salt.split_once('?').ok_or(CaptchaRejection::MissingExpiry)?;
    let params = params.strip_prefix("expires=").ok_or(CaptchaRejection::MissingExpiry)?;
    let (seconds, rest) = params.split_once('&').ok_or(CaptchaRejection::Malformed)?;
    let maxnumber = match rest {
        "" => Some("0"),
        rest => rest.strip_prefix("maxnumber=").and_then(|rest| rest.strip_suffix('&')),
    };
    let maxnumber = maxnumber.ok_or(CaptchaRejection::Malformed)?;
    let digits = |text: &str, most: usize| (1..=most).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit());
    let well_formed = nonce.len() == 2 * NONCE_BYTES
        && nonce.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        && digits(seconds, 12)
        && digits(maxnumber, 19);
    if !well_formed {
        return Err(CaptchaRejection::Malformed);
    }
    let seconds = seconds.parse().map_err(|_| CaptchaRejection::Malformed)?;
    let maxnumber = maxnumber.parse().map_err(|_| CaptchaRejection::Malformed)?;
    Ok((Timestamp(seconds), maxnumber))
}

fn same_text(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    /// ASCII, so the reference library (which takes a string key) signs with the same bytes.
    const KEY: &[u8; 32] = b"altcha-test-key-0123456789abcdef";
    const NOW: Timestamp = Timestamp(1_700_000_000);
    const LIFETIME: Duration = Duration::from_secs(600);

    fn challenge(seed: u64) -> CaptchaChallenge {
        create_challenge(KEY, 2_000, NOW, LIFETIME, &mut StdRng::seed_from_u64(seed))
    }

    fn solved(seed: u64) -> CaptchaSolution {
        let challenge = challenge(seed);
        parse_payload(&payload_for(&challenge, solve(&challenge).unwrap())).unwrap()
    }

    /// Computed outside this crate, twice: by altcha-lib 2.3.1's `altcha-lib/v1` under Node
    /// (`createChallenge({hmacKey, salt: '00112233445566778899aabbccddeeff', number: 4242,
    /// maxnumber: 50000, expires: new Date(1700000600000)})`, then the widget's
    /// `btoa(JSON.stringify({algorithm, challenge, number, salt, signature, took: 17}))`, which
    /// its `verifySolution` accepts), and by Python's hashlib/hmac, which agree.
    const REF_SALT: &str = "00112233445566778899aabbccddeeff?expires=1700000600&";
    const REF_CHALLENGE: &str = "e7935db7c288db5819f905076a393341fc8efe7549296849f8fc0784466b9702";
    const REF_SIGNATURE: &str = "73e4405fc2179f742dd0fec4c9ed4804963e96f2e7bed64c9b23a64cafe1212f";
    const REF_PAYLOAD: &str = "eyJhbGdvcml0aG0iOiJTSEEtMjU2IiwiY2hhbGxlbmdlIjoiZTc5MzVkYjdjMjg4ZGI1ODE5ZjkwNTA3NmEzOTMzNDFmYzhlZmU3NTQ5Mjk2ODQ5ZjhmYzA3ODQ0NjZiOTcwMiIsIm51bWJlciI6NDI0Miwic2FsdCI6IjAwMTEyMjMzNDQ1NTY2Nzc4ODk5YWFiYmNjZGRlZWZmP2V4cGlyZXM9MTcwMDAwMDYwMCYiLCJzaWduYXR1cmUiOiI3M2U0NDA1ZmMyMTc5Zjc0MmRkMGZlYzRjOWVkNDgwNDk2M2U5NmYyZTdiZWQ2NGM5YjIzYTY0Y2FmZTEyMTJmIiwidG9vayI6MTd9";

    #[test]
    fn matches_the_altcha_reference_vector() {
        assert_eq!(challenge_hex(REF_SALT, 4242), REF_CHALLENGE);
        assert_eq!(signature_hex(KEY, REF_CHALLENGE), REF_SIGNATURE);

        let solution = parse_payload(REF_PAYLOAD).unwrap();
        assert_eq!(solution.number, 4242);
        assert_eq!(solution.salt, REF_SALT);
        let verified = verify_solution(&[*KEY], &solution, NOW).unwrap();
        let expected =
            VerifiedCaptcha { id: REF_CHALLENGE.to_owned(), expires_at: Timestamp(1_700_000_600), difficulty: 0 };
        assert_eq!(verified, expected);

        let reference = CaptchaChallenge {
            algorithm: "SHA-256".into(),
            challenge: REF_CHALLENGE.into(),
            maxnumber: 50_000,
            salt: REF_SALT.into(),
            signature: REF_SIGNATURE.into(),
        };
        assert_eq!(solve(&reference), Some(4242));
    }

    #[test]
    fn challenge_json_has_the_widget_field_names_and_salt_layout() {
        let challenge = challenge(1);
        let json = serde_json::to_value(&challenge).unwrap();
        let mut keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["algorithm", "challenge", "maxnumber", "salt", "signature"]);
        assert_eq!(json["algorithm"], "SHA-256");
        assert_eq!(json["maxnumber"], 2_000);
        let (nonce, params) = challenge.salt.split_once('?').unwrap();
        assert_eq!(nonce.len(), 32);
        assert_eq!(params, "expires=1700000600&maxnumber=2000&");
        assert_ne!(challenge.salt, self::challenge(2).salt);
    }

    #[test]
    fn round_trip_verifies_until_expiry() {
        let challenge = challenge(3);
        let number = solve(&challenge).unwrap();
        assert!(number <= challenge.maxnumber);
        let solution = parse_payload(&payload_for(&challenge, number)).unwrap();
        let verified = verify_solution(&[*KEY], &solution, NOW).unwrap();
        assert_eq!(verified.id, challenge.challenge);
        assert_eq!(verified.expires_at, NOW.plus(LIFETIME));
        assert_eq!(verified.difficulty, 2_000);
        assert!(verify_solution(&[*KEY], &solution, Timestamp(verified.expires_at.0 - 1)).is_ok());
        for late in [verified.expires_at, Timestamp(verified.expires_at.0 + 1)] {
            assert_eq!(verify_solution(&[*KEY], &solution, late), Err(CaptchaRejection::Expired));
        }
    }

    #[test]
    fn the_secret_number_spans_the_whole_range() {
        let mut rng = StdRng::seed_from_u64(4);
        let numbers: Vec<u64> =
            (0..200).map(|_| solve(&create_challenge(KEY, 9, NOW, LIFETIME, &mut rng)).unwrap()).collect();
        assert!((0..=9).all(|n| numbers.contains(&n)));
    }

    #[test]
    fn tampering_is_rejected() {
        let good = solved(5);

        let wrong_number = CaptchaSolution { number: good.number + 1, ..good.clone() };
        assert_eq!(verify_solution(&[*KEY], &wrong_number, NOW), Err(CaptchaRejection::WrongSolution));

        let mut bad_signature = good.clone();
        bad_signature.signature.replace_range(..1, if good.signature.starts_with('0') { "1" } else { "0" });
        assert_eq!(verify_solution(&[*KEY], &bad_signature, NOW), Err(CaptchaRejection::BadSignature));
        assert_eq!(verify_solution(&[[9; 32]], &good, NOW), Err(CaptchaRejection::BadSignature));

        // A challenge a client made up for itself, with a later expiry: the hash is right, the signature is not.
        let salt = good.salt.replace("1700000600", "1800000000");
        let forged = CaptchaSolution { challenge: challenge_hex(&salt, 1), number: 1, salt, ..good.clone() };
        assert_eq!(verify_solution(&[*KEY], &forged, NOW), Err(CaptchaRejection::BadSignature));

        let uppercase = CaptchaSolution { challenge: good.challenge.to_uppercase(), ..good.clone() };
        assert_eq!(verify_solution(&[*KEY], &uppercase, NOW), Err(CaptchaRejection::WrongSolution));
    }

    #[test]
    fn spliced_salts_are_refused() {
        // Moving the number's leading digits onto the salt leaves salt + number, so the hash and the
        // signature, unchanged; the trailing `&` keeps them off `expires`, and the strict shape refuses them.
        let good = solved(6);
        let digits = good.number.to_string();
        let split = (1..digits.len()).find(|&at| !digits[at..].starts_with('0')).expect("a number to split");
        let (head, tail) = digits.split_at(split);
        let spliced = CaptchaSolution { salt: format!("{}{head}", good.salt), number: tail.parse().unwrap(), ..good };
        assert_eq!(challenge_hex(&spliced.salt, spliced.number), spliced.challenge);
        assert_eq!(verify_solution(&[*KEY], &spliced, NOW), Err(CaptchaRejection::Malformed));
    }

    #[test]
    fn only_sha256_and_only_our_salts() {
        let good = solved(7);
        for algorithm in ["SHA-1", "SHA-512", "sha-256", ""] {
            let other = CaptchaSolution { algorithm: algorithm.into(), ..good.clone() };
            assert_eq!(verify_solution(&[*KEY], &other, NOW), Err(CaptchaRejection::UnsupportedAlgorithm));
        }
        let nonce = &good.salt[..32];
        for (salt, rejection) in [
            (nonce.to_owned(), CaptchaRejection::MissingExpiry),
            (format!("{nonce}?"), CaptchaRejection::MissingExpiry),
            (format!("{nonce}?expire=1700000600&"), CaptchaRejection::MissingExpiry),
            (format!("{nonce}?expires=1700000600"), CaptchaRejection::Malformed),
            (format!("{nonce}?expires=&"), CaptchaRejection::Malformed),
            (format!("{nonce}?expires=17e8&"), CaptchaRejection::Malformed),
            (format!("{nonce}?expires=1700000600&x=1&"), CaptchaRejection::Malformed),
            (format!("{nonce}?expires=1700000600&maxnumber=2000"), CaptchaRejection::Malformed),
            (format!("{nonce}?expires=1700000600&maxnumber=&"), CaptchaRejection::Malformed),
            (format!("{nonce}?expires=1700000600&maxnumber=2000&x=1&"), CaptchaRejection::Malformed),
            (format!("{nonce}?expires=1700000600&maxnumber=99999999999999999999&"), CaptchaRejection::Malformed),
            (format!("{nonce}?maxnumber=2000&expires=1700000600&"), CaptchaRejection::MissingExpiry),
            (format!("{nonce}?expires=9999999999999&"), CaptchaRejection::Malformed),
            (format!("{}?expires=1700000600&", &nonce[..24]), CaptchaRejection::Malformed),
            (format!("{}?expires=1700000600&", nonce.to_uppercase()), CaptchaRejection::Malformed),
        ] {
            let other = CaptchaSolution { salt: salt.clone(), ..good.clone() };
            assert_eq!(verify_solution(&[*KEY], &other, NOW), Err(rejection), "{salt:?}");
        }
    }

    #[test]
    fn payload_encodings_and_garbage() {
        let good = solved(8);
        let json = serde_json::to_vec(&good).unwrap();
        for text in [
            STANDARD.encode(&json),
            URL_SAFE_NO_PAD.encode(&json),
            format!(" {}\n", STANDARD.encode(&json)),
            // Fields the widget adds are ignored.
            STANDARD.encode(br#"{"algorithm":"SHA-256","challenge":"c","number":5,"salt":"s","signature":"x","took":1.5,"test":true}"#),
        ] {
            assert!(parse_payload(&text).is_ok(), "{text:?}");
        }
        // A valid payload that only the size limit refuses.
        let mut padded = serde_json::to_value(&good).unwrap();
        padded["pad"] = "a".repeat(MAX_PAYLOAD_LEN).into();
        let huge = STANDARD.encode(padded.to_string());
        assert!(parse_payload(&STANDARD.encode(padded.to_string().replace(&"a".repeat(1500), ""))).is_ok());
        for bad in [
            "".to_owned(),
            "not base64!".to_owned(),
            STANDARD.encode("not json"),
            STANDARD.encode(r#"{"algorithm":"SHA-256","challenge":"c","salt":"s","signature":"x"}"#),
            STANDARD.encode(r#"{"algorithm":"SHA-256","challenge":"c","number":-1,"salt":"s","signature":"x"}"#),
            STANDARD.encode(r#"{"algorithm":"SHA-256","challenge":"c","number":1.5,"salt":"s","signature":"x"}"#),
            STANDARD.encode(r#"[1,2,3]"#),
            huge,
        ] {
            assert_eq!(parse_payload(&bad), Err(CaptchaRejection::Malformed), "{bad:?}");
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

    #[test]
    fn a_signed_difficulty_cannot_be_raised_by_the_client() {
        let good = solved(9);
        let salt = good.salt.replace("maxnumber=2000&", "maxnumber=9000000&");
        let raised = CaptchaSolution { challenge: challenge_hex(&salt, good.number), salt, ..good };
        assert_eq!(verify_solution(&[*KEY], &raised, NOW), Err(CaptchaRejection::BadSignature));
    }
}
