//! The signing keyring: one item of the table, `OIDC#KEYS` / `OIDC#KEYS`, naming the KMS keys
//! (never key material) that sign and that are published.
//!
//! | attribute  | type | what                                                              |
//! |------------|------|-------------------------------------------------------------------|
//! | `version`  | N    | 1 for the first write, then one more per rotation                 |
//! | `current`  | M    | the newest key: `kid` S, `arn` S, `signs_from` N                  |
//! | `previous` | L    | older keys, newest first, each M: `kid`, `arn`, `signs_from`, `retire_at` N |
//!
//! Times are epoch seconds. A key is published until its `retire_at` (the current key always),
//! and the key that signs at a time is the newest whose `signs_from` has come: a rotation
//! publishes its new key at once and has it sign only once every function has re-read the item.
//! No `ttl`: the item is never to expire.

use std::collections::HashMap;
use std::iter;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use domain::error::Error;
use domain::oidc::jws::Kid;
use domain::Timestamp;

use crate::faults;

type Item = HashMap<String, AttributeValue>;

/// The keyring item's partition and sort key.
pub const KEYRING_KEY: &str = "OIDC#KEYS";

/// A signing key as the keyring names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEntry {
    /// The KMS key id (the UUID of its ARN): see `signing` for why.
    pub kid: Kid,
    /// The KMS key's ARN, what `Sign` and `GetPublicKey` are called with.
    pub arn: String,
    pub signs_from: Timestamp,
    /// When it stops being published; `None` for the current key.
    pub retire_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyring {
    /// What the next write is conditional on, so two rotations cannot interleave.
    pub version: u64,
    pub current: KeyEntry,
    /// Newest first.
    pub previous: Vec<KeyEntry>,
}

impl Keyring {
    /// The current key, then the previous ones, newest first.
    pub fn keys(&self) -> impl Iterator<Item = &KeyEntry> {
        iter::once(&self.current).chain(&self.previous)
    }

    /// The key that signs at `now`: the newest whose `signs_from` has come (the current one on
    /// a clock before every key's, which only a wrong clock shows).
    pub fn signing_key(&self, now: Timestamp) -> &KeyEntry {
        self.keys().find(|key| key.signs_from <= now).unwrap_or(&self.current)
    }

    /// The keys published at `now`: every one not yet past its `retire_at`.
    pub fn published(&self, now: Timestamp) -> impl Iterator<Item = &KeyEntry> {
        self.keys().filter(move |key| key.retire_at.is_none_or(|at| now < at))
    }

    pub fn key(&self, kid: &Kid) -> Option<&KeyEntry> {
        self.keys().find(|key| key.kid == *kid)
    }
}

/// A failed read or write: the service's error (a dependency fault is `ServiceUnavailable`),
/// and the detail an operator or a log is told. Never a secret: the item holds none.
#[derive(Debug)]
pub struct Failure {
    pub error: Error,
    pub detail: String,
}

impl Failure {
    pub(super) fn aws<E>(service: &'static str, operation: &'static str, err: SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let detail = format!("{service} {operation}: {}", super::aws_detail(&err));
        Failure { error: faults::aws_error(service, operation, err), detail }
    }

    fn malformed(why: String) -> Self {
        let detail = format!("the signing keyring item is malformed: {why}");
        Failure { error: Error::Internal(detail.clone()), detail }
    }
}

fn item_key() -> Item {
    HashMap::from([("pk".into(), s(KEYRING_KEY)), ("sk".into(), s(KEYRING_KEY))])
}

/// The keyring, read consistently; `None` before the first rotation.
pub async fn read(dynamo: &aws_sdk_dynamodb::Client, table: &str) -> Result<Option<Keyring>, Failure> {
    let output = dynamo
        .get_item()
        .table_name(table)
        .set_key(Some(item_key()))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| Failure::aws("DynamoDB", "GetItem", e))?;
    output.item().map(from_item).transpose().map_err(Failure::malformed)
}

/// Writes `keyring` if the item is still at `keyring.version - 1` (absent for version 1):
/// `false` when another write came first.
pub async fn write(dynamo: &aws_sdk_dynamodb::Client, table: &str, keyring: &Keyring) -> Result<bool, Failure> {
    let mut put = dynamo.put_item().table_name(table).set_item(Some(to_item(keyring)));
    put = match keyring.version {
        1 => put.condition_expression("attribute_not_exists(pk)"),
        version => put.condition_expression("version = :read").expression_attribute_values(":read", n(version - 1)),
    };
    match put.send().await {
        Ok(_) => Ok(true),
        Err(SdkError::ServiceError(e)) if matches!(e.err(), PutItemError::ConditionalCheckFailedException(_)) => {
            Ok(false)
        }
        Err(e) => Err(Failure::aws("DynamoDB", "PutItem", e)),
    }
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn to_item(keyring: &Keyring) -> Item {
    let entry = |key: &KeyEntry| {
        let mut map = HashMap::from([
            ("kid".into(), s(&key.kid.0)),
            ("arn".into(), s(&key.arn)),
            ("signs_from".into(), n(key.signs_from.0)),
        ]);
        if let Some(at) = key.retire_at {
            map.insert("retire_at".into(), n(at.0));
        }
        AttributeValue::M(map)
    };
    let mut item = item_key();
    item.insert("version".into(), n(keyring.version));
    item.insert("current".into(), entry(&keyring.current));
    item.insert("previous".into(), AttributeValue::L(keyring.previous.iter().map(entry).collect()));
    item
}

fn from_item(item: &Item) -> Result<Keyring, String> {
    let number = |map: &Item, name: &str| -> Result<i64, String> {
        let text = map.get(name).and_then(|v| v.as_n().ok()).ok_or(format!("no number {name}"))?;
        text.parse().map_err(|_| format!("{name} is not a whole number"))
    };
    let entry = |value: &AttributeValue, previous: bool| -> Result<KeyEntry, String> {
        let map = value.as_m().map_err(|_| "a key is not a map".to_owned())?;
        let text =
            |name: &str| map.get(name).and_then(|v| v.as_s().ok()).cloned().ok_or(format!("a key has no {name}"));
        Ok(KeyEntry {
            kid: Kid(text("kid")?),
            arn: text("arn")?,
            signs_from: Timestamp(number(map, "signs_from")?),
            retire_at: if previous { Some(Timestamp(number(map, "retire_at")?)) } else { None },
        })
    };
    let version = u64::try_from(number(item, "version")?).map_err(|_| "version is negative".to_owned())?;
    let current = entry(item.get("current").ok_or("no current key")?, false)?;
    let previous = item.get("previous").and_then(|v| v.as_l().ok()).ok_or("no previous keys")?;
    let previous = previous.iter().map(|value| entry(value, true)).collect::<Result<_, _>>()?;
    Ok(Keyring { version, current, previous })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kid: &str, signs_from: i64, retire_at: Option<i64>) -> KeyEntry {
        KeyEntry {
            kid: Kid(kid.into()),
            arn: format!("arn:aws:kms:us-east-1:111122223333:key/{kid}"),
            signs_from: Timestamp(signs_from),
            retire_at: retire_at.map(Timestamp),
        }
    }

    fn keyring() -> Keyring {
        Keyring {
            version: 3,
            current: key("c", 1000, None),
            previous: vec![key("b", 500, Some(1600)), key("a", 100, Some(900))],
        }
    }

    #[test]
    fn the_newest_key_whose_time_has_come_signs_and_keys_are_published_until_they_retire() {
        let keyring = keyring();
        let signing = |at| keyring.signing_key(Timestamp(at)).kid.0.clone();
        assert_eq!((signing(600), signing(999), signing(1000)), ("b".into(), "b".into(), "c".into()));
        assert_eq!(signing(50), "c", "a clock before every key");
        let published = |at| keyring.published(Timestamp(at)).map(|k| k.kid.0.clone()).collect::<Vec<_>>();
        assert_eq!(published(899), ["c", "b", "a"]);
        assert_eq!(published(900), ["c", "b"]);
        assert_eq!(published(1600), ["c"]);
    }

    #[test]
    fn the_item_reads_back_as_written() {
        let keyring = keyring();
        let item = to_item(&keyring);
        assert_eq!(item["pk"], s("OIDC#KEYS"));
        assert_eq!(from_item(&item).unwrap(), keyring);
        let mut broken = item.clone();
        broken.remove("current");
        assert!(from_item(&broken).is_err());
    }
}
