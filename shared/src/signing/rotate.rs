//! What `rotate-signing-key` does: a new signing key (created, or an existing one checked),
//! current in the keyring; the replaced key published until its last tokens expire, and keys
//! past their `retire_at` dropped. One conditional write: a rotation that lost a race to
//! another changes nothing.

use aws_sdk_kms::types::{KeySpec, KeyState, KeyUsageType, Tag};

use domain::oidc::jws::Kid;
use domain::Timestamp;

use super::flags::Flags;
use super::keyring::{self, KeyEntry, Keyring};
use super::{aws_detail, retire_after, SIGNS_AFTER};

pub const USAGE: &str = "usage: rotate-signing-key <TABLE_NAME> --stack <stack name> [--key-id <key ARN or id>]";

/// The tag whose value names the stack a signing key belongs to; the functions' KMS grants
/// (`template.yaml`) are conditional on it.
pub const TAG: &str = "oidc-signing";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    pub table: String,
    pub stack: String,
    /// An existing key to make current (the one `template.yaml` creates); `None` creates one.
    pub key_id: Option<String>,
}

/// `rotate-signing-key`'s arguments; `None` prints `USAGE`.
pub fn parse_args(args: &[String]) -> Option<Rotation> {
    let flags = Flags::parse(args, &["--stack", "--key-id"], &[])?;
    Some(Rotation {
        table: flags.positional.to_owned(),
        stack: flags.one("--stack").ok()??.to_owned(),
        key_id: flags.one("--key-id").ok()?.map(str::to_owned),
    })
}

/// Rotates the keyring of `rotation.table` at `now`; what it did, for the operator.
pub async fn rotate(
    kms: &aws_sdk_kms::Client,
    dynamo: &aws_sdk_dynamodb::Client,
    rotation: &Rotation,
    now: Timestamp,
) -> Result<String, String> {
    let old = keyring::read(dynamo, &rotation.table).await.map_err(|failure| failure.detail)?;
    let mut done = Vec::new();
    let (kid, arn) = match &rotation.key_id {
        Some(id) => {
            let (kid, arn) = existing_key(kms, id, &rotation.stack).await?;
            if let Some(listed) = old.as_ref().and_then(|old| old.key(&kid)) {
                return Err(format!("key {} is already in the keyring: nothing changed", listed.kid.0));
            }
            (kid, arn)
        }
        None => {
            let (kid, arn) = create_key(kms, &rotation.stack).await?;
            done.push(format!("created KMS key {arn}: ECC_NIST_P256, SIGN_VERIFY, tagged {TAG}={}", rotation.stack));
            (kid, arn)
        }
    };
    let (next, dropped) = next_keyring(old.as_ref(), kid, arn.clone(), now);
    let unused = || match rotation.key_id {
        None => format!("; KMS key {arn} is unused: run again with --key-id {arn}, or schedule its deletion"),
        Some(_) => String::new(),
    };
    match keyring::write(dynamo, &rotation.table, &next).await {
        Ok(true) => {}
        Ok(false) => {
            return Err(format!("another rotation changed the keyring since it was read: nothing changed{}", unused()))
        }
        Err(failure) => return Err(format!("{}: the keyring may be unchanged{}", failure.detail, unused())),
    }
    done.extend(describe(old.as_ref(), &next, &dropped, now));
    Ok(done.join("\n"))
}

/// The keyring once `kid` is its current key. The first key signs at once (nothing signs yet);
/// a later one from `SIGNS_AFTER` on, and the key it replaces until then and is published
/// `retire_after()` longer. Keys retired by `now` are dropped, and returned.
pub fn next_keyring(old: Option<&Keyring>, kid: Kid, arn: String, now: Timestamp) -> (Keyring, Vec<KeyEntry>) {
    let Some(old) = old else {
        let current = KeyEntry { kid, arn, signs_from: now, retire_at: None };
        return (Keyring { version: 1, current, previous: Vec::new() }, Vec::new());
    };
    let signs_from = now.plus(SIGNS_AFTER);
    let replaced = KeyEntry { retire_at: Some(signs_from.plus(retire_after())), ..old.current.clone() };
    let (kept, dropped): (Vec<KeyEntry>, Vec<KeyEntry>) =
        old.previous.iter().cloned().partition(|key| key.retire_at.is_some_and(|at| now < at));
    let keyring = Keyring {
        version: old.version + 1,
        current: KeyEntry { kid, arn, signs_from, retire_at: None },
        previous: [vec![replaced], kept].concat(),
    };
    (keyring, dropped)
}

fn describe(old: Option<&Keyring>, next: &Keyring, dropped: &[KeyEntry], now: Timestamp) -> Vec<String> {
    let at = |time: Timestamp| format!("{} (in {} minutes)", time.0, (time.0 - now.0 + 59) / 60);
    let current = &next.current;
    let mut lines = match (old, next.previous.first()) {
        (Some(_), Some(replaced)) => vec![
            format!(
                "key {} is current: published now, signs from {}, once every function has re-read the keyring",
                current.kid.0,
                at(current.signs_from)
            ),
            format!(
                "key {} signs until then and stays published until {}, when its last tokens have expired",
                replaced.kid.0,
                at(replaced.retire_at.unwrap_or(now))
            ),
        ],
        _ => vec![format!("key {} is current and signs from now: OpenID Connect is set up", current.kid.0)],
    };
    for key in dropped {
        lines.push(format!("dropped key {}, retired at {}", key.kid.0, key.retire_at.unwrap_or(now).0));
    }
    let published: Vec<&str> = next.published(now).map(|key| key.kid.0.as_str()).collect();
    lines.push(format!("keyring version {}; published: {}", next.version, published.join(", ")));
    lines
}

/// `id`'s kid and ARN, if it is an enabled ES256 key of `stack`.
async fn existing_key(kms: &aws_sdk_kms::Client, id: &str, stack: &str) -> Result<(Kid, String), String> {
    let described = kms
        .describe_key()
        .key_id(id)
        .send()
        .await
        .map_err(|e| format!("cannot describe KMS key {id}: {}", aws_detail(&e)))?;
    let key = described.key_metadata().ok_or_else(|| format!("KMS described no key {id}"))?;
    let arn = key.arn().ok_or_else(|| format!("KMS key {id} has no ARN"))?;
    let (spec, usage) = (key.key_spec(), key.key_usage());
    if spec != Some(&KeySpec::EccNistP256) || usage != Some(&KeyUsageType::SignVerify) {
        let show = |value: Option<&str>| value.unwrap_or("unknown").to_owned();
        return Err(format!(
            "KMS key {arn} is {} {}, not ECC_NIST_P256 SIGN_VERIFY: it cannot sign ES256 tokens; nothing changed",
            show(spec.map(KeySpec::as_str)),
            show(usage.map(KeyUsageType::as_str))
        ));
    }
    if key.key_state() != Some(&KeyState::Enabled) {
        let state = key.key_state().map_or("unknown", KeyState::as_str);
        return Err(format!("KMS key {arn} is {state}, not Enabled: nothing changed"));
    }
    let tagged = tag_of(kms, key.key_id()).await?;
    if tagged.as_deref() != Some(stack) {
        let why = match tagged {
            Some(other) => format!("is tagged {TAG}={other}: it belongs to another stack"),
            None => format!("is not tagged {TAG}={stack}: the stack's functions may not use it"),
        };
        return Err(format!("KMS key {arn} {why}; nothing changed"));
    }
    Ok((Kid(key.key_id().to_owned()), arn.to_owned()))
}

/// The value of `key_id`'s `TAG` tag, if it has one.
async fn tag_of(kms: &aws_sdk_kms::Client, key_id: &str) -> Result<Option<String>, String> {
    let mut marker = None;
    loop {
        let page = kms
            .list_resource_tags()
            .key_id(key_id)
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| format!("cannot list the tags of KMS key {key_id}: {}", aws_detail(&e)))?;
        if let Some(tag) = page.tags().iter().find(|tag| tag.tag_key() == TAG) {
            return Ok(Some(tag.tag_value().to_owned()));
        }
        match page.next_marker().filter(|_| page.truncated()) {
            Some(next) => marker = Some(next.to_owned()),
            None => return Ok(None),
        }
    }
}

/// A new ES256 key of `stack`: its kid and ARN.
async fn create_key(kms: &aws_sdk_kms::Client, stack: &str) -> Result<(Kid, String), String> {
    let tag = Tag::builder().tag_key(TAG).tag_value(stack).build().map_err(|e| e.to_string())?;
    let created = kms
        .create_key()
        .key_spec(KeySpec::EccNistP256)
        .key_usage(KeyUsageType::SignVerify)
        .description(format!("ES256 signing key of the account service's OpenID Connect provider ({stack})"))
        .tags(tag)
        .send()
        .await
        .map_err(|e| format!("cannot create a KMS key: {}", aws_detail(&e)))?;
    let key = created.key_metadata().ok_or("KMS created a key but described none")?;
    let arn = key.arn().ok_or("KMS created a key without an ARN")?;
    Ok((Kid(key.key_id().to_owned()), arn.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rotated(old: Option<&Keyring>, kid: &str, now: i64) -> (Keyring, Vec<KeyEntry>) {
        next_keyring(old, Kid(kid.into()), format!("arn:aws:kms:us-east-1:111122223333:key/{kid}"), Timestamp(now))
    }

    #[test]
    fn the_first_key_signs_at_once_and_a_later_one_after_every_function_has_it() {
        let (first, _) = rotated(None, "a", 1000);
        assert_eq!((first.version, first.signing_key(Timestamp(1000)).kid.0.as_str()), (1, "a"));

        let (second, dropped) = rotated(Some(&first), "b", 2000);
        assert!(dropped.is_empty());
        assert_eq!(second.version, 2);
        let signs_from = 2000 + SIGNS_AFTER.as_secs() as i64;
        assert_eq!(second.signing_key(Timestamp(signs_from - 1)).kid.0, "a");
        assert_eq!(second.signing_key(Timestamp(signs_from)).kid.0, "b");
        let retire_at = signs_from + retire_after().as_secs() as i64;
        assert_eq!(second.previous[0].retire_at, Some(Timestamp(retire_at)));
        assert_eq!(second.published(Timestamp(retire_at - 1)).count(), 2);
        assert_eq!(second.published(Timestamp(retire_at)).count(), 1);

        // A rotation after that drops the retired key and keeps the one still published.
        let (third, dropped) = rotated(Some(&second), "c", retire_at);
        assert_eq!(dropped.iter().map(|k| k.kid.0.as_str()).collect::<Vec<_>>(), ["a"]);
        assert_eq!(third.keys().map(|k| k.kid.0.as_str()).collect::<Vec<_>>(), ["c", "b"]);
    }

    #[test]
    fn arguments_need_a_table_and_a_stack() {
        let args = |text: &str| text.split(' ').map(str::to_owned).collect::<Vec<_>>();
        let parsed = parse_args(&args("accounts --stack prod --key-id arn:k")).unwrap();
        assert_eq!(
            (parsed.table.as_str(), parsed.stack.as_str(), parsed.key_id.as_deref()),
            ("accounts", "prod", Some("arn:k"))
        );
        assert_eq!(parse_args(&args("accounts --stack prod")).unwrap().key_id, None);
        assert!(parse_args(&args("accounts")).is_none());
        assert!(parse_args(&args("accounts --stack a --stack b")).is_none());
    }
}
