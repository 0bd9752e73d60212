//! Time as domain functions see it: passed in, never read from the clock inside a rule.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch; the unit DynamoDB TTL uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn now() -> Self {
        let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Timestamp(since.as_secs() as i64)
    }

    pub fn plus(self, duration: Duration) -> Self {
        Timestamp(self.0 + duration.as_secs() as i64)
    }

    /// Time left until `self`, zero when it has passed.
    pub fn remaining_from(self, now: Timestamp) -> Duration {
        Duration::from_secs((self.0 - now.0).max(0) as u64)
    }

    /// Start of the fixed window of `length` that contains `self`.
    pub fn window_start(self, length: Duration) -> Timestamp {
        let len = length.as_secs().max(1) as i64;
        Timestamp(self.0 - self.0.rem_euclid(len))
    }
}
