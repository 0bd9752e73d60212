//! The OpenID Connect provider's ES256 keys in AWS KMS (`KmsSigner`, the production
//! `TokenSigner`), the keyring item that names them (`keyring`), and what the operator commands
//! `rotate-signing-key` (`rotate`) and `register-client` (`clients`) do.
//!
//! A key's `kid` is its KMS key id (the UUID at the end of its ARN): stable for the key's life,
//! one per key (KMS never changes an asymmetric key's material), known from `CreateKey` or
//! `DescribeKey` with no hashing, and what an operator finds in the KMS console and CloudTrail
//! when a token names it. It names no account or region, as the ARN would, and is no secret:
//! using the key takes IAM permissions on it.
//!
//! A rotation makes its new key current at once but has it sign only from `SIGNS_AFTER` on:
//! every function re-reads the keyring every `KEYRING_REFRESH` (`KmsSigner::refresh`), so by
//! then every one publishes the new key and can check tokens made with it. The old key keeps
//! signing until then and stays published `retire_after()` longer, until its last tokens expire.

pub mod clients;
mod flags;
pub mod keyring;
pub mod rotate;

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{MessageType, SigningAlgorithmSpec};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use domain::error::{Error, Result};
use domain::oidc::jws::{DerSignature, Kid, PublicKeyDer, TokenSigner};
use domain::oidc::OidcConfig;
use domain::Timestamp;

use crate::faults;
use crate::rotation::{SECRET_REFRESH, SETTLE};
use keyring::Keyring;

/// How often a warm function re-reads the keyring: as often as the service secret.
pub const KEYRING_REFRESH: Duration = SECRET_REFRESH;

/// How long after a rotation its new key signs: two re-reads, so a function whose first
/// re-read failed (retried 30 s later) has the new key too.
pub const SIGNS_AFTER: Duration = SETTLE;

/// How long a replaced key stays published after it last signs: the longest token lifetime
/// (`longest_token_ttl`), plus 5 minutes for a function whose re-reads kept failing and for the
/// clock leeway relying parties allow on `exp`.
pub fn retire_after() -> Duration {
    longest_token_ttl() + Duration::from_secs(300)
}

/// The longest lifetime of a signed token (access and ID tokens), as `OidcConfig::new` sets them.
fn longest_token_ttl() -> Duration {
    let key = domain::oidc::claims::PairwiseKey::new([0u8; 32]).expect("32 bytes are a pairwise key");
    let config = OidcConfig::new("", "", key);
    config.access_token_ttl.max(config.id_token_ttl)
}

/// Signs with KMS (`Sign`, `ECDSA_SHA_256`, `RAW`) and publishes the keyring's unretired keys
/// (`GetPublicKey`, once per key per process). The private keys never leave KMS.
pub struct KmsSigner {
    kms: aws_sdk_kms::Client,
    dynamo: aws_sdk_dynamodb::Client,
    table: String,
    state: Mutex<State>,
    /// Each key's SPKI by kid: a key's public half never changes, and the JWKS route is hot.
    spki: tokio::sync::Mutex<HashMap<String, Vec<u8>>>,
}

struct State {
    keyring: Keyring,
    /// The time of the latest `load` or `refresh`: what says which key signs and which are published.
    now: Timestamp,
    next_read: Timestamp,
}

impl KmsSigner {
    /// The cold start: one GetItem of the keyring. `Error::NotFound` when there is none yet
    /// (OpenID Connect not set up: run `rotate-signing-key`); `ServiceUnavailable` when
    /// DynamoDB could not be read just now. Give it clients with bounded waits
    /// (`waits::bounded`; KMS answers in milliseconds, as DynamoDB does).
    pub async fn load(
        kms: aws_sdk_kms::Client,
        dynamo: aws_sdk_dynamodb::Client,
        table: &str,
        now: Timestamp,
    ) -> Result<Self> {
        let Some(keyring) = keyring::read(&dynamo, table).await.map_err(|failure| failure.error)? else {
            tracing::error!(table, "no OpenID Connect signing keyring: run rotate-signing-key");
            return Err(Error::NotFound);
        };
        let state = State { keyring, now, next_read: now.plus(KEYRING_REFRESH) };
        Ok(KmsSigner { kms, dynamo, table: table.to_owned(), state: Mutex::new(state), spki: Default::default() })
    }

    /// To be called at the start of every request, with its time: moves the signer's clock
    /// (which key signs, which are published) and re-reads the keyring once `KEYRING_REFRESH`
    /// has passed since the last read, so a rotation reaches warm functions. A failed read
    /// never fails the request: the keyring in use stays and is read again 30 s later.
    pub async fn refresh(&self, now: Timestamp) {
        const FAILED_READ_RETRY: Duration = Duration::from_secs(30);
        {
            let mut state = self.state();
            state.now = now;
            if now < state.next_read {
                return;
            }
            state.next_read = now.plus(KEYRING_REFRESH);
        }
        let why = match keyring::read(&self.dynamo, &self.table).await {
            Ok(Some(keyring)) => {
                self.state().keyring = keyring;
                return;
            }
            Ok(None) => "the item is gone".to_owned(),
            Err(failure) => failure.detail,
        };
        tracing::warn!(%why, "signing keyring not re-read; the keys in use stay");
        self.state().next_read = now.plus(FAILED_READ_RETRY);
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn fetch_spki(&self, arn: &str) -> Result<Vec<u8>> {
        let output = self
            .kms
            .get_public_key()
            .key_id(arn)
            .send()
            .await
            .map_err(|e| faults::aws_error("KMS", "GetPublicKey", e))?;
        let spki = output.public_key().ok_or_else(|| Error::internal("KMS GetPublicKey", "no public key"))?;
        Ok(spki.as_ref().to_vec())
    }
}

#[async_trait]
impl TokenSigner for KmsSigner {
    fn current_key(&self) -> Kid {
        let state = self.state();
        state.keyring.signing_key(state.now).kid.clone()
    }

    async fn sign(&self, kid: &Kid, signing_input: &[u8]) -> Result<DerSignature> {
        let arn = self.state().keyring.key(kid).map(|key| key.arn.clone());
        let arn = arn.ok_or_else(|| Error::internal("KmsSigner", format!("no key {} in the keyring", kid.0)))?;
        let output = self
            .kms
            .sign()
            .key_id(arn)
            .message(Blob::new(signing_input))
            .message_type(MessageType::Raw)
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await
            .map_err(|e| faults::aws_error("KMS", "Sign", e))?;
        let signature = output.signature().ok_or_else(|| Error::internal("KMS Sign", "no signature"))?;
        Ok(DerSignature(signature.as_ref().to_vec()))
    }

    async fn public_keys(&self) -> Result<Vec<PublicKeyDer>> {
        let published: Vec<(Kid, String)> = {
            let state = self.state();
            state.keyring.published(state.now).map(|key| (key.kid.clone(), key.arn.clone())).collect()
        };
        // Held across the fetches: concurrent first requests fetch each key once.
        let mut cache = self.spki.lock().await;
        let missing: Vec<&(Kid, String)> = published.iter().filter(|(kid, _)| !cache.contains_key(&kid.0)).collect();
        let fetched = futures_util::future::join_all(missing.iter().map(|(_, arn)| self.fetch_spki(arn))).await;
        for ((kid, _), spki) in missing.into_iter().zip(fetched) {
            cache.insert(kid.0.clone(), spki?);
        }
        Ok(published.into_iter().map(|(kid, _)| PublicKeyDer { spki: cache[&kid.0].clone(), kid }).collect())
    }
}

/// What an operator is told of a failed AWS call: AWS's error code and message, or the SDK's
/// whole error when AWS never answered (the whole one of an answer also dumps its headers).
pub(crate) fn aws_detail<E>(err: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match err {
        SdkError::ServiceError(e) => {
            let (code, message) = (e.err().code().unwrap_or("an error"), e.err().message().unwrap_or(""));
            format!("{code}: {message} (HTTP {})", e.raw().status().as_u16())
        }
        _ => DisplayErrorContext(err).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replaced_key_outlives_the_longest_token_by_the_margin() {
        assert_eq!(longest_token_ttl(), Duration::from_secs(300));
        assert_eq!(retire_after(), Duration::from_secs(600));
        assert_eq!(SIGNS_AFTER, Duration::from_secs(600));
    }
}
