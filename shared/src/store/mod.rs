//! Persistence, as the operations the domain needs. Each one is a single atomic
//! DynamoDB request, so rules hold under concurrency without read-then-write.

mod dynamo;

pub use dynamo::DynamoStore;

use async_trait::async_trait;

use crate::domain::account::{Account, TokenClaim};
use crate::domain::idempotency::IdempotencyRecord;
use crate::domain::limits::{Limit, LimitKey, Window};
use crate::domain::verification::Verification;
use crate::domain::Contact;
use crate::domain::VerificationId;
use crate::error::Result;
use crate::secret::KeyedHash;
use crate::time::Timestamp;

#[async_trait]
pub trait Store: Send + Sync {
    /// Saves a new verification and applies every limit, all or nothing.
    /// A limit that refuses answers `Error::RateLimited` and nothing is written.
    async fn create_verification(&self, verification: &Verification, limits: &[Limit], now: Timestamp) -> Result<()>;

    /// Counts one attempt at the code of a verification that is pending, unexpired
    /// and under `max_attempts`, and returns it as counted; `None` when there is no such verification.
    async fn count_code_attempt(
        &self,
        id: &VerificationId,
        now: Timestamp,
        max_attempts: u32,
    ) -> Result<Option<Verification>>;

    /// Turns a pending verification into a verified one holding `token_hash`, provided
    /// it is still pending and still the newest code of its contact. `false` otherwise.
    async fn mark_verified(
        &self,
        verification: &Verification,
        token_hash: &KeyedHash,
        token_expires_at: Timestamp,
    ) -> Result<bool>;

    /// Adds one to a counter of `window` that a `Limit::Ceiling` reads.
    async fn count_failure(&self, key: &LimitKey, window: Window) -> Result<()>;

    /// A verification as stored, whatever its state; `None` when unknown.
    async fn verification(&self, id: &VerificationId) -> Result<Option<Verification>>;

    /// The id of the account that holds `contact` (as primary or recovery contact).
    async fn account_for_contact(&self, contact: &Contact) -> Result<Option<String>>;

    /// Creates `account` and claims its primary contact while consuming the token,
    /// all or nothing. `Error::VerificationExpired` when the token is no longer
    /// usable (or `idempotency` was recorded meanwhile), `Error::AlreadyRegistered`
    /// when the contact already belongs to an account.
    async fn create_account(
        &self,
        account: &Account,
        claim: &TokenClaim,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<()>;

    async fn idempotency_record(&self, key_hash: &str) -> Result<Option<IdempotencyRecord>>;
}
