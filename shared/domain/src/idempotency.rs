//! `Idempotency-Key`: a retried request (same key, same body) gets the first answer.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::secret::{HashPurpose, KeyedHash};
use crate::time::Timestamp;
use crate::Services;

/// The client's key and a keyed hash of the request it came with. Both are hashed:
/// the body may hold a password.
#[derive(Debug, Clone)]
pub struct Idempotency {
    pub key_hash: String,
    pub request_hash: KeyedHash,
}

impl Idempotency {
    /// `route` and `body` together identify the request; keys are 1 to 255 visible ASCII characters.
    pub fn new(services: &Services, key: &str, route: &str, body: &[u8]) -> Result<Self> {
        if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::InvalidRequest("Idempotency-Key must be 1 to 255 visible ASCII characters".into()));
        }
        let secret = &services.config.secret;
        Ok(Idempotency {
            key_hash: secret.keyed_hash(HashPurpose::IdempotencyKey, &[route.as_bytes(), key.as_bytes()]).to_hex(),
            request_hash: secret.keyed_hash(HashPurpose::IdempotencyRequest, &[route.as_bytes(), body]),
        })
    }

    /// What to write beside the operation, in its transaction.
    pub fn record(&self, response: &impl Serialize, now: Timestamp, services: &Services) -> IdempotencyRecord {
        IdempotencyRecord {
            key_hash: self.key_hash.clone(),
            request_hash: self.request_hash.clone(),
            response: serde_json::to_string(response).expect("responses serialise"),
            expires_at: now.plus(services.config.idempotency_ttl),
        }
    }

    /// The first answer, when this key was already used for this very request.
    pub async fn replay<T: DeserializeOwned>(&self, services: &Services, now: Timestamp) -> Result<Option<T>> {
        let Some(record) = services.store.idempotency_record(&self.key_hash).await? else { return Ok(None) };
        if record.expires_at <= now {
            return Ok(None);
        }
        if !record.request_hash.matches(&self.request_hash) {
            return Err(Error::IdempotencyKeyReused);
        }
        serde_json::from_str(&record.response).map(Some).map_err(|e| Error::internal("stored idempotent response", e))
    }
}

#[derive(Debug, Clone)]
pub struct IdempotencyRecord {
    pub key_hash: String,
    pub request_hash: KeyedHash,
    pub response: String,
    pub expires_at: Timestamp,
}
