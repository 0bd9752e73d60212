//! ALTCHA Proof-of-Work v2 with Argon2id, made and checked with ALTCHA's own crate (`altcha`), in
//! its deterministic mode: the server draws the secret counter, derives that counter's key once and
//! signs it (`keySignature`), and shows the client only the key's first half (`keyPrefix`). The
//! widget derives the keys of counters 0, 1, 2, ... until one starts with the prefix and sends that
//! key back. Checking it is a few HMACs, never an Argon2id, so wrong answers cost us nothing.
//!
//! `GET /v1/captcha` answers the challenge as the crate serialises it:
//! `{"parameters":{"algorithm":"ARGON2ID","cost":2,"data":{"difficulty":100000},"expiresAt",
//! "keyLength":32,"keyPrefix","keySignature","memoryCost":16384,"nonce","salt"},"signature"}`, and
//! the widget sends `base64(JSON {"challenge": {parameters, signature}, "solution": {counter,
//! derivedKey, time}})`. `data.difficulty` is the signed difficulty ([`super::difficulty_for`]).
//!
//! The crate's `create_challenge` draws its own nonce and salt and its `verify_solution` reads the
//! system clock, while time and randomness here are the caller's; so both are made of the crate's
//! parts: its key derivation (through `solve_challenge`) and its signing (`sign_challenge`).

use std::collections::BTreeMap;

use altcha::{Challenge, ChallengeParameters, HmacAlgorithm, Payload, Solution, SolveChallengeOptions};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::{CryptoRng, Rng, RngCore};

use super::{same_text, CaptchaRejection, VerifiedCaptcha};
use crate::time::Timestamp;

pub const ALGORITHM: &str = "ARGON2ID";

/// Argon2id's cost of each key the client derives: 16 MiB, 2 passes, one lane (the widget's
/// default). Memory-hard, so a GPU or a native solver gains far less over a phone than with v1's
/// SHA-256. Measured on one AMD EPYC core: 19 ms a key natively (release build), so 0.5 s for a
/// base challenge (26 keys on average) where v1's hardest takes well under a second; 80 ms a key in
/// the widget's own WebAssembly worker (under Node). A budget phone's core is some 4 times slower,
/// about 300 ms a key, and the widget runs 4 workers there (its most with 4 GB or less: 64 MiB in
/// all): about 2 s at the base, 4 s at worst.
pub const MEMORY_KIB: u32 = 16_384;
pub const ITERATIONS: u32 = 2;

/// What each counter in a challenge's range stands for on the difficulty scale, which is v1's
/// `maxnumber`: the default base (`CAPTCHA_DIFFICULTY` 100000) draws the counter from `0..=50`.
pub const DIFFICULTY_PER_COUNTER: u64 = 2_000;

/// The widest range, 16 times the default base's: some 30 s on average for the phone above, 60 s
/// at worst, inside the widget's 90 s; 8 s on average for the native solver.
pub const MAX_COUNTER: u32 = 800;

const KEY_LENGTH: usize = 32;
const RANDOM_BYTES: usize = 16;
/// The signed difficulty's name in `data`.
const DIFFICULTY: &str = "difficulty";

/// The two HMAC keys of one keyring key: the challenge's signature, and the derived key's. The
/// crate takes keys as text, so they are the hex of our 32 bytes.
pub struct Keys {
    signature: String,
    derived_key: String,
}

impl Keys {
    pub fn new(signature: &[u8; 32], derived_key: &[u8; 32]) -> Self {
        Keys { signature: hex::encode(signature), derived_key: hex::encode(derived_key) }
    }
}

/// The counter range for `difficulty`: `0..=counters(difficulty)`.
pub fn counters(difficulty: u64) -> u32 {
    u32::try_from(difficulty.div_ceil(DIFFICULTY_PER_COUNTER)).map_or(MAX_COUNTER, |n| n.min(MAX_COUNTER))
}

/// A new challenge of `difficulty`, accepted until `expires_at`. Costs one Argon2id.
pub fn create_challenge(
    keys: &Keys,
    difficulty: u64,
    expires_at: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Challenge {
    let [nonce, salt] = [(); 2].map(|_| {
        let mut bytes = [0u8; RANDOM_BYTES];
        rng.fill_bytes(&mut bytes);
        hex::encode(bytes)
    });
    let mut parameters = ChallengeParameters {
        algorithm: ALGORITHM.to_owned(),
        cost: ITERATIONS,
        data: Some(BTreeMap::from([(DIFFICULTY.to_owned(), difficulty.into())])),
        expires_at: Some(expires_at.0),
        key_length: KEY_LENGTH,
        key_prefix: String::new(),
        key_signature: None,
        memory_cost: Some(MEMORY_KIB),
        nonce,
        parallelism: None,
        salt,
    };
    let key = derived_key(&parameters, rng.gen_range(0..=counters(difficulty)));
    // Half the key, as the crate's own deterministic mode gives: the rest is what proves the work.
    parameters.key_prefix = hex::encode(&key[..KEY_LENGTH / 2]);
    sign(&parameters, Some(&key), keys).expect("our own parameters always sign")
}

/// Checks a decoded payload at `now` against every keyring key. The id is the challenge's nonce,
/// which its signature covers: one issued challenge has one id however its payload is spelled.
pub fn verify(keys: &[Keys], payload: &Payload, now: Timestamp) -> Result<VerifiedCaptcha, CaptchaRejection> {
    let Payload { challenge, solution } = payload;
    let parameters = &challenge.parameters;
    if parameters.algorithm != ALGORITHM {
        return Err(CaptchaRejection::UnsupportedAlgorithm);
    }
    let expires_at = Timestamp(parameters.expires_at.ok_or(CaptchaRejection::MissingExpiry)?);
    let difficulty = parameters.data.as_ref().and_then(|data| data.get(DIFFICULTY)?.as_u64());
    let difficulty = difficulty.ok_or(CaptchaRejection::Malformed)?;
    if now >= expires_at {
        return Err(CaptchaRejection::Expired);
    }
    let signature = challenge.signature.as_deref().unwrap_or_default();
    // Re-signing the parameters as sent gives back their signature only under the key that made it.
    let keys = keys
        .iter()
        .find(|keys| {
            sign(parameters, None, keys).is_ok_and(|ours| ours.signature.is_some_and(|s| same_text(&s, signature)))
        })
        .ok_or(CaptchaRejection::BadSignature)?;
    // And re-signing them with the client's key in place of ours gives them back unchanged only
    // if it is the key we derived, whose HMAC `keySignature` is.
    let key = hex::decode(&solution.derived_key).map_err(|_| CaptchaRejection::WrongSolution)?;
    let unsigned = ChallengeParameters { key_signature: None, ..parameters.clone() };
    let resigned = sign(&unsigned, Some(&key), keys)?;
    if !resigned.signature.is_some_and(|s| same_text(&s, signature)) {
        return Err(CaptchaRejection::WrongSolution);
    }
    Ok(VerifiedCaptcha { id: parameters.nonce.clone(), expires_at, difficulty: worth(difficulty) })
}

/// What a solved challenge of `difficulty` pays for: the widest range, like v1's hardest
/// challenge, for any number of requests.
fn worth(difficulty: u64) -> u64 {
    if counters(difficulty) == MAX_COUNTER {
        u64::MAX
    } else {
        difficulty
    }
}

/// Searches as the widget does, from counter 0 (tests, local tooling).
pub fn solve(challenge: &Challenge) -> Option<Solution> {
    altcha::solve_challenge(SolveChallengeOptions::new(challenge)).ok().flatten()
}

/// The solution of `counter`, right or not: its derived key (tests).
pub fn solution_for(challenge: &Challenge, counter: u32) -> Solution {
    let key = derived_key(&challenge.parameters, counter);
    Solution { counter, derived_key: hex::encode(key), time: None }
}

/// The payload the widget sends (standard base64 of JSON, like its `btoa`).
pub fn payload(challenge: &Challenge, solution: &Solution) -> String {
    let payload = Payload { challenge: challenge.clone(), solution: solution.clone() };
    STANDARD.encode(serde_json::to_vec(&payload).expect("the crate's payload always serializes"))
}

/// `counter`'s key, as the crate derives it: solving from `counter` for the empty prefix, which
/// every key has, stops at that first key.
fn derived_key(parameters: &ChallengeParameters, counter: u32) -> Vec<u8> {
    let any_key = Challenge {
        parameters: ChallengeParameters { key_prefix: String::new(), ..parameters.clone() },
        signature: None,
    };
    let options =
        SolveChallengeOptions { counter_start: counter, timeout_ms: 0, ..SolveChallengeOptions::new(&any_key) };
    let solution = altcha::solve_challenge(options).ok().flatten().expect("a hex nonce and salt and a valid cost");
    hex::decode(solution.derived_key).expect("the crate's keys are hex")
}

/// `parameters` signed by `keys`; with `key`, its `keySignature` made (or replaced) first.
fn sign(parameters: &ChallengeParameters, key: Option<&[u8]>, keys: &Keys) -> Result<Challenge, CaptchaRejection> {
    let mut parameters = parameters.clone();
    altcha::sign_challenge(&HmacAlgorithm::Sha256, &mut parameters, key, &keys.signature, Some(&keys.derived_key))
        .map_err(|_| CaptchaRejection::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    /// In the past of any clock that runs these tests: only our `now` makes them unexpired, which
    /// the crate's own `verify_solution` (the system clock) would not.
    const NOW: Timestamp = Timestamp(1_700_000_000);
    const EXPIRES: Timestamp = Timestamp(1_700_000_300);
    /// The cheapest range, `0..=1`, for the tests of the checks.
    const CHEAP: u64 = DIFFICULTY_PER_COUNTER;

    fn keys() -> Keys {
        Keys::new(&[1; 32], &[2; 32])
    }

    fn challenge(difficulty: u64, seed: u64) -> Challenge {
        create_challenge(&keys(), difficulty, EXPIRES, &mut StdRng::seed_from_u64(seed))
    }

    fn solved(challenge: &Challenge) -> Payload {
        Payload { challenge: challenge.clone(), solution: solve(challenge).expect("a solution in range") }
    }

    fn check(payload: &Payload, now: Timestamp) -> Result<VerifiedCaptcha, CaptchaRejection> {
        verify(&[keys()], payload, now)
    }

    #[test]
    fn the_production_default_is_solved_as_the_widget_reads_it() {
        // Seeded to a counter near the middle of 0..=50, so this costs about an average solve.
        let challenge = challenge(100_000, 10);
        let json = serde_json::to_value(&challenge).unwrap();
        let parameters = &json["parameters"];
        assert_eq!((parameters["algorithm"].as_str(), parameters["cost"].as_u64()), (Some("ARGON2ID"), Some(2)));
        assert_eq!((parameters["memoryCost"].as_u64(), parameters["keyLength"].as_u64()), (Some(16_384), Some(32)));
        assert_eq!(parameters["data"], serde_json::json!({"difficulty": 100_000}));
        assert_eq!(parameters["expiresAt"], EXPIRES.0);
        for (field, length) in [("keyPrefix", 32), ("keySignature", 64), ("nonce", 32), ("salt", 32)] {
            let text = parameters[field].as_str().unwrap();
            assert!(text.len() == length && text.bytes().all(|b| b.is_ascii_hexdigit()), "{field}: {text}");
        }
        assert_eq!(json["signature"].as_str().map(str::len), Some(64));

        let payload = solved(&challenge);
        assert!(payload.solution.counter <= 50, "{}", payload.solution.counter);
        let verified = check(&payload, NOW).unwrap();
        let expected =
            VerifiedCaptcha { id: challenge.parameters.nonce.clone(), expires_at: EXPIRES, difficulty: 100_000 };
        assert_eq!(verified, expected);
    }

    #[test]
    fn counters_follow_the_difficulty_up_to_the_widest_range() {
        assert_eq!([1, 2_000, 2_001, 100_000, 200_000].map(counters), [1, 1, 2, 50, 100]);
        assert_eq!([1_600_000, 1_600_001, u64::MAX].map(counters), [MAX_COUNTER; 3]);
        assert_eq!([100_000, 1_598_000, 1_600_000, 10_000_000].map(worth), [100_000, 1_598_000, u64::MAX, u64::MAX]);
    }

    #[test]
    fn the_secret_counter_spans_its_range() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut found = [false; 2];
        for _ in 0..12 {
            let challenge = create_challenge(&keys(), CHEAP, EXPIRES, &mut rng);
            found[solve(&challenge).unwrap().counter as usize] = true;
        }
        assert_eq!(found, [true; 2]);
    }

    #[test]
    fn verifies_by_our_clock_until_expiry() {
        let payload = solved(&challenge(CHEAP, 4));
        assert!(check(&payload, Timestamp(EXPIRES.0 - 1)).is_ok());
        for late in [EXPIRES, Timestamp(EXPIRES.0 + 1)] {
            assert_eq!(check(&payload, late), Err(CaptchaRejection::Expired));
        }
    }

    #[test]
    fn a_wrong_key_or_signature_is_refused() {
        let challenge = challenge(CHEAP, 5);
        let good = solved(&challenge);

        let counter = good.solution.counter + 1;
        let wrong_number = Payload { solution: solution_for(&challenge, counter), ..good.clone() };
        assert_eq!(check(&wrong_number, NOW), Err(CaptchaRejection::WrongSolution));
        for key in ["", "zz", &"0".repeat(64), &good.solution.derived_key[..62]] {
            let bad =
                Payload { solution: Solution { derived_key: key.into(), ..good.solution.clone() }, ..good.clone() };
            assert_eq!(check(&bad, NOW), Err(CaptchaRejection::WrongSolution), "{key:?}");
        }

        let mut forged = good.clone();
        forged.challenge.signature = Some("0".repeat(64));
        assert_eq!(check(&forged, NOW), Err(CaptchaRejection::BadSignature));
        forged.challenge.signature = None;
        assert_eq!(check(&forged, NOW), Err(CaptchaRejection::BadSignature));
        assert_eq!(verify(&[Keys::new(&[9; 32], &[2; 32])], &good, NOW), Err(CaptchaRejection::BadSignature));
        // The right challenge key with another derived-key key: its keySignature is not ours.
        assert_eq!(verify(&[Keys::new(&[1; 32], &[9; 32])], &good, NOW), Err(CaptchaRejection::WrongSolution));
    }

    #[test]
    fn every_signed_parameter_is_the_servers_word() {
        let good = solved(&challenge(CHEAP, 6));
        let tampered = |change: fn(&mut ChallengeParameters)| {
            let mut payload = good.clone();
            change(&mut payload.challenge.parameters);
            check(&payload, NOW)
        };
        let bad_signature = Err(CaptchaRejection::BadSignature);
        assert_eq!(tampered(|p| p.cost = 1), bad_signature, "a cheaper Argon2id");
        assert_eq!(tampered(|p| p.memory_cost = Some(8)), bad_signature);
        assert_eq!(tampered(|p| p.data = Some(BTreeMap::from([(DIFFICULTY.into(), 9_000_000.into())]))), bad_signature);
        assert_eq!(tampered(|p| p.expires_at = Some(1_800_000_000)), bad_signature);
        assert_eq!(tampered(|p| p.key_prefix = "00".into()), bad_signature);
        assert_eq!(tampered(|p| p.nonce = p.nonce.to_uppercase()), bad_signature);
        assert_eq!(tampered(|p| p.algorithm = "SHA-256".into()), Err(CaptchaRejection::UnsupportedAlgorithm));
        assert_eq!(tampered(|p| p.expires_at = None), Err(CaptchaRejection::MissingExpiry));
        assert_eq!(tampered(|p| p.data = None), Err(CaptchaRejection::Malformed));
        assert_eq!(
            tampered(|p| p.data = Some(BTreeMap::from([(DIFFICULTY.into(), "high".into())]))),
            Err(CaptchaRejection::Malformed)
        );
    }

    #[test]
    fn the_id_is_one_per_challenge_however_the_payload_is_spelled() {
        let challenge = challenge(CHEAP, 7);
        let good = solved(&challenge);
        let id = check(&good, NOW).unwrap().id;
        let mut respelled = good.clone();
        respelled.solution.derived_key = respelled.solution.derived_key.to_uppercase();
        respelled.solution.time = Some(1234.5);
        assert_eq!(check(&respelled, NOW).unwrap().id, id);
        assert_ne!(check(&solved(&self::challenge(CHEAP, 8)), NOW).unwrap().id, id);
    }
}
