//! The built-in proof-of-work CAPTCHA, in ALTCHA's formats so its stock widget solves it:
//! Proof-of-Work v2 with Argon2id ([`v2`], made with ALTCHA's crate), and v1's SHA-256 ([`v1`])
//! for frontends built on it, only while `CAPTCHA_ALTCHA_V1` is on.
//!
//! Flow, with no server state between steps 1 and 3:
//! 1. [`create_challenge`] signs a challenge of some difficulty, which `GET /v1/captcha` answers:
//!    v2, or v1 while the setting is on (a solver then pays only v1's price anyway, so v2 would
//!    slow down people and not scripts).
//! 2. The widget solves it and sends base64 of JSON as `captcha`.
//! 3. [`verify`] checks that payload, of either version, and gives a [`VerifiedCaptcha`]. The
//!    signature proves the challenge is ours and carries its expiry, but a solution can be replayed
//!    until then: the caller must record [`VerifiedCaptcha::id`] with a conditional write (TTL
//!    [`VerifiedCaptcha::expires_at`]) and refuse ids already recorded.
//!
//! Difficulty is one scale for both versions, v1's `maxnumber` ([`v2::counters`] maps it to v2's
//! counter range). It is signed into the challenge, so it is the server's word: a destination that
//! is asked for often accepts only solutions of harder challenges ([`difficulty_for`] and its
//! inverse [`requests_allowed`]). Also: [`solve`] (tests, local tooling). Every
//! [`CaptchaRejection`] is one 403 to the client.

pub mod v1;
pub mod v2;

use std::time::Duration;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use rand::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::secret::{HashPurpose, ServiceSecret};
use crate::time::Timestamp;

/// Longest payload text decoded. A real one is about 400 (v1) or 800 (v2) characters; the limit is
/// checked before decoding so that a huge body costs no allocation or JSON parsing.
pub const MAX_PAYLOAD_LEN: usize = 2048;

/// The settings of the built-in CAPTCHA (`CAPTCHA_PROVIDER=altcha`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AltchaConfig {
    /// The base difficulty (`CAPTCHA_DIFFICULTY`), on v1's `maxnumber` scale.
    pub difficulty: u64,
    pub lifetime: Duration,
    /// `CAPTCHA_ALTCHA_V1`: issue v1 challenges, and accept v1 payloads.
    pub v1: bool,
}

/// A challenge for the widget, as `GET /v1/captcha` answers it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Challenge {
    V2(altcha::Challenge),
    V1(v1::Challenge),
}

/// A solution that passed every check; what the caller needs to make it single use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCaptcha {
    /// Recomputed or signed, never just copied from the client, so one issued challenge has
    /// exactly one id however its payload is spelled.
    pub id: String,
    /// When the challenge stops being accepted: the TTL for the single-use record. Records that
    /// DynamoDB deletes late or early after this instant are harmless, since expired solutions fail anyway.
    pub expires_at: Timestamp,
    /// The difficulty the challenge was issued with, as signed into it: 0 for a v1 salt that names
    /// none (the reference format), which buys no requests; `u64::MAX` for v2's widest range, which
    /// buys any number, as v1's hardest challenge does.
    pub difficulty: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CaptchaRejection {
    #[error("the CAPTCHA answer is not a well-formed ALTCHA payload")]
    Malformed,
    #[error("the CAPTCHA answer is an ALTCHA v1 payload, which CAPTCHA_ALTCHA_V1 does not allow")]
    V1Off,
    #[error("the CAPTCHA answer uses an algorithm this service does not issue")]
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

/// What the widget sends back, decoded but not yet checked.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Payload {
    V2(altcha::Payload),
    V1(v1::Solution),
}

/// v2's keys, one pair per keyring key, current first. v1 keeps the key it always had
/// (no parts), so its challenges issued before v2 still verify.
const V2_SIGNATURE: &[u8] = b"altcha v2 challenge";
const V2_DERIVED_KEY: &[u8] = b"altcha v2 derived key";

/// A new challenge of `difficulty` (see [`difficulty_for`]), accepted until `now + lifetime`.
pub fn create_challenge(
    edge_secret: &ServiceSecret,
    config: &AltchaConfig,
    difficulty: u64,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Challenge {
    let expires_at = now.plus(config.lifetime);
    if config.v1 {
        let key = edge_secret.keyed_hash(HashPurpose::Captcha, &[]).0;
        Challenge::V1(v1::create_challenge(&key, difficulty, expires_at, rng))
    } else {
        Challenge::V2(v2::create_challenge(&v2_keys(edge_secret)[0], difficulty, expires_at, rng))
    }
}

/// Checks the widget's payload at `now`; signed under any key of the keyring, so a challenge issued
/// just before a rotation still counts.
pub fn verify(
    edge_secret: &ServiceSecret,
    config: &AltchaConfig,
    payload: &str,
    now: Timestamp,
) -> Result<VerifiedCaptcha, CaptchaRejection> {
    match parse_payload(payload)? {
        Payload::V2(payload) => v2::verify(&v2_keys(edge_secret), &payload, now),
        Payload::V1(solution) if config.v1 => {
            let keys: Vec<[u8; 32]> =
                edge_secret.keyed_hashes(HashPurpose::Captcha, &[]).into_iter().map(|key| key.0).collect();
            v1::verify_solution(&keys, &solution, now)
        }
        Payload::V1(_) => Err(CaptchaRejection::V1Off),
    }
}

/// The payload the widget would send once it solved `challenge` (tests, local tooling).
pub fn solve(challenge: &Challenge) -> Option<String> {
    match challenge {
        Challenge::V2(challenge) => v2::solve(challenge).map(|solution| v2::payload(challenge, &solution)),
        Challenge::V1(challenge) => v1::solve(challenge).map(|number| v1::payload_for(challenge, number)),
    }
}

fn v2_keys(edge_secret: &ServiceSecret) -> Vec<v2::Keys> {
    let signatures = edge_secret.keyed_hashes(HashPurpose::Captcha, &[V2_SIGNATURE]);
    let derived_keys = edge_secret.keyed_hashes(HashPurpose::Captcha, &[V2_DERIVED_KEY]);
    signatures.iter().zip(&derived_keys).map(|(signature, key)| v2::Keys::new(&signature.0, &key.0)).collect()
}

/// Decodes the widget's payload: base64 (standard or URL-safe, padded or not) of a JSON object.
fn parse_payload(text: &str) -> Result<Payload, CaptchaRejection> {
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

/// Compares hex texts in constant time.
fn same_text(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Requests at one difficulty before it doubles: a person who mistyped a number can ask again
/// a few times without noticing, a script asking over and over pays exponentially more.
pub const REQUESTS_PER_DOUBLING: u32 = 3;

/// The hourly codes per client IP that [`REQUESTS_PER_DOUBLING`] is set for
/// (`CODES_PER_IP_PER_HOUR`'s default): seven doublings reach the hardest challenge inside it.
pub const DEFAULT_CODES_PER_IP_PER_HOUR: u32 = 30;

/// A client IP's code requests this hour on the scale of the default allowance, for
/// [`difficulty_for`]. An operator who raises `CODES_PER_IP_PER_HOUR` (many people behind one
/// carrier NAT or campus) moves with it the point where that IP's challenges harden, so they do
/// not reach the hardest long before the limit; one who lowers it hardens them sooner.
pub fn client_pressure(recent_requests: u32, codes_per_ip_per_hour: u32) -> u32 {
    let scaled =
        u64::from(recent_requests) * u64::from(DEFAULT_CODES_PER_IP_PER_HOUR) / u64::from(codes_per_ip_per_hour.max(1));
    u32::try_from(scaled).unwrap_or(u32::MAX)
}

/// Ceiling for [`difficulty_for`]: 10x ALTCHA's default `maxnumber` of 1,000,000, so that even
/// a slow phone should find v1's number well inside widget v3's 90-second solving timeout (v2's
/// range stops sooner: [`v2::MAX_COUNTER`]).
pub const MAX_DIFFICULTY: u64 = 10_000_000;

/// The difficulty for a client or destination with `recent_requests` requests in the current limit
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

#[cfg(test)]
mod tests;
