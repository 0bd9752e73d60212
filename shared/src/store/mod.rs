//! Persistence, as the operations the domain needs. Each one is a single atomic
//! DynamoDB request, so rules hold under concurrency without read-then-write.

mod dynamo;

pub use dynamo::DynamoStore;

use async_trait::async_trait;

use crate::domain::limits::{Limit, LimitKey, Window};
use crate::domain::verification::Verification;
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
}
