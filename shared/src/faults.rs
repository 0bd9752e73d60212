//! What an AWS error means for the caller. A dependency fault (throttled, timed out,
//! unreachable, failing on its side, after the SDK's own retries) is `ServiceUnavailable`: a 503
//! with `Retry-After`, logged with the AWS error code and counted as `DependencyFaults`. Anything
//! else (a request the service built wrong, a table that is not there) is a bug: a 500.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use domain::error::{Error, DEPENDENCY_RETRY_AFTER};
use domain::metrics;

/// The error codes AWS answers for "not now": throttling (DynamoDB, Secrets Manager, SES, SNS
/// each spell it their way), its own failures, and a transaction whose earlier attempt (timed
/// out on our side) is still running.
const FAULT_CODES: [&str; 14] = [
    "ThrottlingException",
    "Throttling",
    "Throttled",
    "TransactionInProgressException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "LimitExceededException",
    "InternalServerError",
    "InternalServerErrorException",
    "InternalServiceError",
    "InternalFailure",
    "ServiceUnavailable",
    "ServiceUnavailableException",
];

/// `err` of `service`'s `operation`, as the service's error.
pub fn aws_error<E>(service: &'static str, operation: &'static str, err: SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &err {
        SdkError::TimeoutError(_) => fault(service, operation, "timeout"),
        SdkError::DispatchFailure(_) => fault(service, operation, "unreachable"),
        SdkError::ResponseError(_) => fault(service, operation, "unreadable-response"),
        SdkError::ServiceError(e) => {
            let status = e.raw().status();
            match e.err().code() {
                Some(code) if FAULT_CODES.contains(&code) => fault(service, operation, code),
                // AWS failing on its side, whatever it calls it.
                _ if status.is_server_error() || status.as_u16() == 429 => fault(service, operation, "http-5xx"),
                _ => bug(service, operation, &err),
            }
        }
        _ => bug(service, operation, &err),
    }
}

/// An error already taken out of its `SdkError` (a transaction's), as the service's error.
pub fn service_error(
    service: &'static str,
    operation: &'static str,
    err: &(impl ProvideErrorMetadata + std::error::Error),
) -> Error {
    match err.code() {
        Some(code) if FAULT_CODES.contains(&code) => fault(service, operation, code),
        _ => bug(service, operation, err),
    }
}

/// A dependency fault, logged and counted: the code only, never a message (it can name a key).
pub fn fault(service: &'static str, operation: &'static str, error_code: &str) -> Error {
    tracing::warn!(service, operation, error_code, "dependency fault");
    metrics::count("DependencyFaults", &[("Service", service)]);
    Error::ServiceUnavailable { retry_after: DEPENDENCY_RETRY_AFTER }
}

fn bug(service: &str, operation: &str, err: &dyn std::error::Error) -> Error {
    Error::Internal(format!("{service} {operation}: {}", DisplayErrorContext(err)))
}
