//! ALTCHA v1 (SHA-256), kept only for frontends built on it while `CAPTCHA_ALTCHA_V1` is on. ALTCHA's
//! crate speaks only v2 (its `CounterMode::String` is v1's counter encoding, not its signature), so
//! this format stays written out here.
//!
//! 1. [`create_challenge`] makes the JSON the widget fetches:
//!    `{"algorithm":"SHA-256","challenge","maxnumber","salt","signature"}` where
//!    `salt = <32 hex random>?expires=<unix seconds>&maxnumber=<maxnumber>&`,
//!    `challenge = hex(SHA-256(salt + decimal number))`
//!    for a secret random number in `0..=maxnumber`, and `signature = hex(HMAC-SHA256(key, challenge hex))`.
//! 2. The widget tries numbers until the hash matches and sends `base64(JSON {algorithm, challenge,
//!    number, salt, signature, took})`.
//! 3. [`verify_solution`] checks the decoded [`Solution`]. The signature proves the challenge is ours
//!    and the signed salt carries its expiry and difficulty (`maxnumber`).
//!
//! This is the format of `altcha-lib/v1` (the JS reference, `createChallenge` / `verifySolution`),
//! which widget v1/v2 speak natively and widget v3 still accepts: it converts a challenge that has a
//! `challenge` field and answers with the v1 payload. The key is raw bytes; altcha-lib takes the UTF-8
//! bytes of a string, so the two agree whenever the key is ASCII (the test vector below relies on it).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::{CryptoRng, Rng, RngCore};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{same_text, CaptchaRejection, VerifiedCaptcha};
use crate::time::Timestamp;

/// The only algorithm issued or accepted. ALTCHA v1 also has SHA-1 and SHA-512, but every
/// challenge we sign is SHA-256, so accepting another could only ever fail later.
pub const ALGORITHM: &str = "SHA-256";

/// Random bytes in the salt: unguessable, so every challenge (and its id) is unique.
const NONCE_BYTES: usize = 16;

/// A challenge for the widget. Field names are the ones the widget reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge {
    pub algorithm: String,
    pub challenge: String,
    pub maxnumber: u64,
    pub salt: String,
    pub signature: String,
}

/// What the widget sends back, decoded but not yet checked. Other fields the widget adds
/// (`took`, `test`) are ignored: nothing the client reports about itself is trusted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Solution {
    pub algorithm: String,
    pub challenge: String,
    pub number: u64,
    pub salt: String,
    pub signature: String,
}

/// A new challenge of `maxnumber` difficulty (on average the client hashes `maxnumber / 2` times),
/// accepted until `expires_at`.
pub fn create_challenge(
    hmac_key: &[u8; 32],
    maxnumber: u64,
    expires_at: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Challenge {
    let mut nonce = [0u8; NONCE_BYTES];
    rng.fill_bytes(&mut nonce);
    // Same layout as altcha-lib: parameters as a query string after `?`, and a trailing `&` so
    // digits moved from the number onto the end of the salt cannot change `expires` (the hash
    // of salt + number would be unchanged, and so would the signature).
    let salt = format!("{}?expires={}&maxnumber={maxnumber}&", hex::encode(nonce), expires_at.0);
    let number = rng.gen_range(0..=maxnumber);
    let challenge = challenge_hex(&salt, number);
    let signature = signature_hex(hmac_key, &challenge);
    Challenge { algorithm: ALGORITHM.to_owned(), challenge, maxnumber, salt, signature }
}

/// Checks a solution as altcha-lib's `verifySolution` does, but stricter: the expiry is
/// required, and the salt must have exactly the shape [`create_challenge`] gives it. The id is the
/// challenge hash as lowercase hex, recomputed here rather than copied from the client.
pub fn verify_solution(
    hmac_keys: &[[u8; 32]],
    solution: &Solution,
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
pub fn solve(challenge: &Challenge) -> Option<u64> {
    let mut target = [0u8; 32];
    hex::decode_to_slice(&challenge.challenge, &mut target).ok()?;
    let salted = Sha256::new_with_prefix(challenge.salt.as_bytes());
    (0..=challenge.maxnumber).find(|n| salted.clone().chain_update(n.to_string()).finalize().as_slice() == target)
}

/// The payload a widget would send for `number` (standard base64 of JSON, like the widget's `btoa`).
pub fn payload_for(challenge: &Challenge, number: u64) -> String {
    let solution = Solution {
        algorithm: challenge.algorithm.clone(),
        challenge: challenge.challenge.clone(),
        number,
        salt: challenge.salt.clone(),
        signature: challenge.signature.clone(),
    };
    STANDARD.encode(serde_json::to_vec(&solution).expect("strings and a number always serialize"))
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

#[cfg(test)]
mod tests {
    use super::super::{parse_payload, Payload};
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    /// ASCII, so the reference library (which takes a string key) signs with the same bytes.
    const KEY: &[u8; 32] = b"altcha-test-key-0123456789abcdef";
    const NOW: Timestamp = Timestamp(1_700_000_000);
    const EXPIRES: Timestamp = Timestamp(1_700_000_600);

    fn challenge(seed: u64) -> Challenge {
        create_challenge(KEY, 2_000, EXPIRES, &mut StdRng::seed_from_u64(seed))
    }

    fn decoded(payload: &str) -> Solution {
        match parse_payload(payload) {
            Ok(Payload::V1(solution)) => solution,
            other => panic!("not a v1 payload: {other:?}"),
        }
    }

    fn solved(seed: u64) -> Solution {
        let challenge = challenge(seed);
        decoded(&payload_for(&challenge, solve(&challenge).unwrap()))
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

        let solution = decoded(REF_PAYLOAD);
        assert_eq!(solution.number, 4242);
        assert_eq!(solution.salt, REF_SALT);
        let verified = verify_solution(&[*KEY], &solution, NOW).unwrap();
        let expected = VerifiedCaptcha { id: REF_CHALLENGE.to_owned(), expires_at: EXPIRES, difficulty: 0 };
        assert_eq!(verified, expected);

        let reference = Challenge {
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
        let solution = decoded(&payload_for(&challenge, number));
        let verified = verify_solution(&[*KEY], &solution, NOW).unwrap();
        assert_eq!(verified.id, challenge.challenge);
        assert_eq!(verified.expires_at, EXPIRES);
        assert_eq!(verified.difficulty, 2_000);
        assert!(verify_solution(&[*KEY], &solution, Timestamp(EXPIRES.0 - 1)).is_ok());
        for late in [EXPIRES, Timestamp(EXPIRES.0 + 1)] {
            assert_eq!(verify_solution(&[*KEY], &solution, late), Err(CaptchaRejection::Expired));
        }
    }

    #[test]
    fn the_secret_number_spans_the_whole_range() {
        let mut rng = StdRng::seed_from_u64(4);
        let numbers: Vec<u64> =
            (0..200).map(|_| solve(&create_challenge(KEY, 9, EXPIRES, &mut rng)).unwrap()).collect();
        assert!((0..=9).all(|n| numbers.contains(&n)));
    }

    #[test]
    fn tampering_is_rejected() {
        let good = solved(5);

        let wrong_number = Solution { number: good.number + 1, ..good.clone() };
        assert_eq!(verify_solution(&[*KEY], &wrong_number, NOW), Err(CaptchaRejection::WrongSolution));

        let mut bad_signature = good.clone();
        bad_signature.signature.replace_range(..1, if good.signature.starts_with('0') { "1" } else { "0" });
        assert_eq!(verify_solution(&[*KEY], &bad_signature, NOW), Err(CaptchaRejection::BadSignature));
        assert_eq!(verify_solution(&[[9; 32]], &good, NOW), Err(CaptchaRejection::BadSignature));

        // A challenge a client made up for itself, with a later expiry: the hash is right, the signature is not.
        let salt = good.salt.replace("1700000600", "1800000000");
        let forged = Solution { challenge: challenge_hex(&salt, 1), number: 1, salt, ..good.clone() };
        assert_eq!(verify_solution(&[*KEY], &forged, NOW), Err(CaptchaRejection::BadSignature));

        let uppercase = Solution { challenge: good.challenge.to_uppercase(), ..good.clone() };
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
        let spliced = Solution { salt: format!("{}{head}", good.salt), number: tail.parse().unwrap(), ..good };
        assert_eq!(challenge_hex(&spliced.salt, spliced.number), spliced.challenge);
        assert_eq!(verify_solution(&[*KEY], &spliced, NOW), Err(CaptchaRejection::Malformed));
    }

    #[test]
    fn only_sha256_and_only_our_salts() {
        let good = solved(7);
        for algorithm in ["SHA-1", "SHA-512", "sha-256", ""] {
            let other = Solution { algorithm: algorithm.into(), ..good.clone() };
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
            let other = Solution { salt: salt.clone(), ..good.clone() };
            assert_eq!(verify_solution(&[*KEY], &other, NOW), Err(rejection), "{salt:?}");
        }
    }

    #[test]
    fn a_signed_difficulty_cannot_be_raised_by_the_client() {
        let good = solved(9);
        let salt = good.salt.replace("maxnumber=2000&", "maxnumber=9000000&");
        let raised = Solution { challenge: challenge_hex(&salt, good.number), salt, ..good };
        assert_eq!(verify_solution(&[*KEY], &raised, NOW), Err(CaptchaRejection::BadSignature));
    }
}
