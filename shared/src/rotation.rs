//! Rotating the service secret without signing anyone out, in three steps an operator runs
//! with `cargo run -p shared --bin rotate-service-secret` (README.md, Operations):
//!
//! 1. `add`: a new random key joins the keyring, not yet current. Functions re-read the
//!    keyring every `SECRET_REFRESH`, so within minutes all of them accept what it makes.
//! 2. `promote`, refused until every function has had time to re-read: the new key becomes
//!    current and makes every new hash and sealed secret. Older ones still verify.
//! 3. `retire <id>`, only when an old key must stop working (it leaked), and refused until
//!    the promotion has reached every function: what was made under it stops verifying
//!    (sessions, remembered devices, recovery codes, TOTP secrets not re-sealed since).

use std::time::Duration;

use aws_sdk_secretsmanager::error::DisplayErrorContext;
use aws_sdk_secretsmanager::Client;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::{CryptoRng, RngCore};

use domain::secret::{Document, ServiceSecret};
use domain::Timestamp;

/// How often a warm function re-reads the service secret (`App::refresh_secret`).
pub const SECRET_REFRESH: Duration = Duration::from_secs(300);

/// What `promote` and `retire` wait for after the last change, so that every function has
/// re-read the keyring: two intervals, so a function whose first re-read failed (and was
/// retried 30 s later, `App::refresh_secret`) has it too.
pub const SETTLE: Duration = Duration::from_secs(2 * SECRET_REFRESH.as_secs());

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Add,
    Promote,
    Retire(String),
    /// The key ids and which is current; never a key.
    Show,
}

/// `rotate-service-secret`'s arguments: `<secret-id> show | add | promote | retire <key-id>`.
pub fn parse_args(args: &[String]) -> Option<(&str, Step)> {
    let step = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [_, "show"] => Step::Show,
        [_, "add"] => Step::Add,
        [_, "promote"] => Step::Promote,
        [_, "retire", id] => Step::Retire(id.to_owned()),
        _ => return None,
    };
    Some((&args[0], step))
}

/// An id as `add` writes them: a number, without leading zeros.
fn number(id: &str) -> Option<u64> {
    id.parse().ok().filter(|n: &u64| n.to_string() == id)
}

/// The highest numeric id: `add` takes the next one, `promote` makes it current.
fn newest(document: &Document) -> Option<u64> {
    document.keys.keys().filter_map(|id| number(id)).max()
}

/// Applies `step` to the keyring text; returns the new text (None for `Show`) and what it did.
pub fn apply(
    step: &Step,
    text: &str,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<(Option<String>, String), String> {
    let mut document = Document::parse(text)?;
    let summary = match step {
        Step::Show => return Ok((None, describe(&document))),
        Step::Add => {
            let id = newest(&document).unwrap_or(0).checked_add(1).ok_or("no key id is left")?.to_string();
            let mut key = [0u8; 48];
            rng.fill_bytes(&mut key);
            document.keys.insert(id.clone(), URL_SAFE_NO_PAD.encode(key));
            format!(
                "added key {id}; promote it after {} minutes, once every function has re-read the keyring",
                SETTLE.as_secs() / 60
            )
        }
        Step::Promote => match newest(&document) {
            Some(id) if Some(id) > number(&document.current) => {
                let summary = format!("key {id} is current; key {} still verifies", document.current);
                document.current = id.to_string();
                summary
            }
            _ => return Err(format!("nothing to promote: key {} is the newest; run add first", document.current)),
        },
        Step::Retire(id) if *id == document.current => {
            return Err(format!("key {id} is current: promote another key first"))
        }
        Step::Retire(id) => {
            document.keys.remove(id).ok_or_else(|| format!("there is no key {id}"))?;
            format!("key {id} is retired: what was made under it no longer verifies")
        }
    };
    let text = document.to_text();
    ServiceSecret::parse(&text)?;
    Ok((Some(text), format!("{summary}\n{}", describe(&document))))
}

fn describe(document: &Document) -> String {
    let ids: Vec<&str> = document.keys.keys().map(String::as_str).collect();
    format!("keys: {}; current: {}", ids.join(", "), document.current)
}

/// Reads the secret, applies `step` and stores the result as the secret's new current version.
/// `promote` and `retire` are refused while the last change is younger than `SETTLE` at `now`.
pub async fn rotate(
    client: &Client,
    secret_id: &str,
    step: &Step,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<String, String> {
    let current = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| format!("cannot read {secret_id}: {}", DisplayErrorContext(&e)))?;
    let text = current.secret_string().ok_or_else(|| format!("{secret_id} has no string value"))?;
    if matches!(step, Step::Promote | Step::Retire(_)) {
        let changed = current.created_date().map_or(0, |date| date.secs());
        let ready = Timestamp(changed).plus(SETTLE);
        if now < ready {
            return Err(format!(
                "the keyring changed {} s ago and functions re-read it every {} s: try again in {} s",
                now.0 - changed,
                SECRET_REFRESH.as_secs(),
                ready.0 - now.0
            ));
        }
    }
    let (text, summary) = apply(step, text, rng)?;
    if let Some(text) = text {
        client
            .put_secret_value()
            .secret_id(secret_id)
            .secret_string(text)
            .send()
            .await
            .map_err(|e| format!("cannot write {secret_id}: {}", DisplayErrorContext(&e)))?;
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::secret::HashPurpose;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn probe(secret: &ServiceSecret) -> domain::secret::KeyedHash {
        secret.keyed_hash(HashPurpose::SessionToken, &[b"probe"])
    }

    #[test]
    fn add_promote_retire_keeps_what_was_made_verifiable_until_retired() {
        let rng = &mut StdRng::seed_from_u64(7);
        let plain = "a-single-key-secret-of-forty-bytes-000000";
        let before = probe(&ServiceSecret::parse(plain).unwrap());

        let (added, _) = apply(&Step::Add, plain, rng).unwrap();
        let added = added.unwrap();
        let secret = ServiceSecret::parse(&added).unwrap();
        assert!(probe(&secret).matches(&before), "adding a key changes nothing that is made");

        let (promoted, summary) = apply(&Step::Promote, &added, rng).unwrap();
        let promoted = promoted.unwrap();
        assert!(summary.contains("key 2 is current"), "{summary}");
        let secret = ServiceSecret::parse(&promoted).unwrap();
        let after = probe(&secret);
        assert!(!after.matches(&before), "the new key makes new hashes");
        assert!(secret.verify(&before, HashPurpose::SessionToken, &[b"probe"]), "the old key still verifies");

        let (retired, _) = apply(&Step::Retire("1".into()), &promoted, rng).unwrap();
        let secret = ServiceSecret::parse(&retired.unwrap()).unwrap();
        assert!(!secret.verify(&before, HashPurpose::SessionToken, &[b"probe"]));
        assert!(secret.verify(&after, HashPurpose::SessionToken, &[b"probe"]));
    }

    #[test]
    fn arguments_name_the_secret_and_one_step() {
        let args = |text: &str| text.split(' ').map(String::from).collect::<Vec<_>>();
        assert_eq!(parse_args(&args("arn:x add")), Some(("arn:x", Step::Add)));
        assert_eq!(parse_args(&args("arn:x retire 1")), Some(("arn:x", Step::Retire("1".into()))));
        for wrong in ["arn:x", "add", "arn:x retire", "arn:x promote now", "arn:x rotate"] {
            assert_eq!(parse_args(&args(wrong)), None, "{wrong}");
        }
    }

    #[test]
    fn refusals_name_the_reason_and_never_a_key() {
        let rng = &mut StdRng::seed_from_u64(8);
        let plain = "another-single-key-secret-of-40-bytes-xx";
        let error = apply(&Step::Promote, plain, rng).unwrap_err();
        assert!(error.contains("nothing to promote"), "{error}");
        let error = apply(&Step::Retire("1".into()), plain, rng).unwrap_err();
        assert!(error.contains("is current"), "{error}");
        let (added, _) = apply(&Step::Add, plain, rng).unwrap();
        let error = apply(&Step::Retire("9".into()), &added.unwrap(), rng).unwrap_err();
        assert!(error.contains("no key 9"), "{error}");
        // Only ids as `add` writes them count: "01" is not newer than "1".
        let odd = format!(r#"{{"current": "1", "1": "{plain}", "01": "{plain}"}}"#);
        assert!(apply(&Step::Promote, &odd, rng).unwrap_err().contains("nothing to promote"));
        let (_, shown) = apply(&Step::Show, plain, rng).unwrap();
        assert_eq!(shown, "keys: 1; current: 1");
        for error in [&error, &shown] {
            assert!(!error.contains(plain));
        }
    }
}
