//! Bounded waits on AWS (issue 16): every client has a per-attempt and a per-operation timeout
//! and standard retries with short backoff, so that a request answers well inside the function's
//! `Timeout` (10 s in `template.yaml`) even when a dependency hangs. The numbers:
//!
//! - DynamoDB answers single-digit milliseconds and a transaction tens: an attempt that takes
//!   a second is not coming back. 3 attempts, backoff from 25 ms, 2.5 s in all.
//! - Secrets Manager (one read per cold start and every 5 minutes): the same.
//! - SES and SNS take longer (a send is ~100 ms): 2 s an attempt, 4 s in all.
//!
//! And a deadline (8 s) over the whole request: several calls that each take nearly their
//! limit and succeed still end in a 503 before Lambda's timeout would end the process.

use std::time::Duration;

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_types::SdkConfig;
use domain::config::ConfigError;

/// How long one kind of AWS call may take.
#[derive(Debug, Clone, Copy)]
pub struct Waits {
    pub attempt: Duration,
    pub operation: Duration,
    pub max_attempts: u32,
}

/// Every wait of a function. AWS gets `Budget::default()`; tests and a local stack against moto,
/// which can take seconds per call on a loaded machine, raise it with `AWS_CALL_TIMEOUT_MS` (the
/// DynamoDB and Secrets Manager operation timeout; attempts get 40 % of it,
/// SES and SNS twice that) and `REQUEST_DEADLINE_MS`.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub dynamodb: Waits,
    pub secrets_manager: Waits,
    pub messages: Waits,
    /// The most a request may take before it answers 503 (the functions' `Timeout` is 10 s).
    pub deadline: Duration,
}

impl Default for Budget {
    fn default() -> Self {
        Budget::with(Duration::from_millis(2500), Duration::from_secs(8))
    }
}

impl Budget {
    fn with(call: Duration, deadline: Duration) -> Self {
        let store = Waits { attempt: call * 2 / 5, operation: call, max_attempts: 3 };
        Budget {
            dynamodb: store,
            secrets_manager: store,
            messages: Waits { attempt: call * 4 / 5, operation: call * 8 / 5, max_attempts: 2 },
            deadline,
        }
    }

    pub fn from_lookup(env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let millis =
            |name: &str, default: Duration| match env(name).filter(|v| !v.trim().is_empty()) {
                None => Ok(default),
                Some(text) => text.trim().parse().map(Duration::from_millis).map_err(|_| {
                    ConfigError::new(format!("{name} must be a whole number of milliseconds, got {text:?}"))
                }),
            };
        let default = Budget::default();
        Ok(Budget::with(
            millis("AWS_CALL_TIMEOUT_MS", default.dynamodb.operation)?,
            millis("REQUEST_DEADLINE_MS", default.deadline)?,
        ))
    }
}

/// Connecting to any AWS endpoint (TLS included); DNS and TCP within a region take milliseconds.
const CONNECT: Duration = Duration::from_millis(1000);

/// `sdk` with `waits`: the configuration of one kind of client.
pub fn bounded(sdk: &SdkConfig, waits: Waits) -> SdkConfig {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(CONNECT)
        .operation_attempt_timeout(waits.attempt)
        .operation_timeout(waits.operation)
        .build();
    let retries = RetryConfig::standard()
        .with_max_attempts(waits.max_attempts)
        .with_initial_backoff(Duration::from_millis(25))
        .with_max_backoff(Duration::from_millis(500));
    sdk.to_builder().timeout_config(timeouts).retry_config(retries).build()
}
