//! An HTTP client around the SDK's own that shows every request to an observer before sending
//! it: retries and redirects, if any, are requests too. `round_trips.rs` counts with it and
//! `policy` checks each request against `template.yaml`.

use std::sync::Arc;

use aws_sdk_dynamodb::config::ConfigBag;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
pub use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::{RuntimeComponents, RuntimeComponentsBuilder};
use aws_types::SdkConfig;

pub type Observer = Arc<dyn Fn(&HttpRequest) + Send + Sync>;
/// Decides what becomes of a request: `observed`'s pass everything, faults answer some.
pub type Interceptor = Arc<dyn Fn(&HttpRequest) -> Verdict + Send + Sync>;

pub enum Verdict {
    /// Sent to AWS, its answer returned.
    Pass,
    /// Answered here, in place of AWS.
    Answer(Box<HttpConnectorFuture>),
    /// Sent to AWS, which acts on it, but its answer is lost: the caller sees a timeout.
    LoseAnswer,
}

/// `sdk` with its HTTP client (the functions' own, `shared::sdk::https_client`, when it has
/// none) showing every request to `observer`.
pub fn observed(sdk: SdkConfig, observer: Observer) -> SdkConfig {
    intercepted(
        sdk,
        Arc::new(move |request: &HttpRequest| {
            observer(request);
            Verdict::Pass
        }),
    )
}

/// `sdk` with every request shown to `interceptor` first, which may answer it instead of AWS.
pub fn intercepted(sdk: SdkConfig, interceptor: Interceptor) -> SdkConfig {
    let inner = sdk.http_client().unwrap_or_else(shared::sdk::https_client);
    sdk.to_builder().http_client(ObservingClient { inner, observer: interceptor }).build()
}

struct ObservingClient {
    inner: SharedHttpClient,
    observer: Interceptor,
}

impl std::fmt::Debug for ObservingClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObservingClient").field("inner", &self.inner).finish_non_exhaustive()
    }
}

impl HttpClient for ObservingClient {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        let inner = self.inner.http_connector(settings, components);
        SharedHttpConnector::new(ObservingConnector { inner, observer: self.observer.clone() })
    }

    fn validate_base_client_config(
        &self,
        components: &RuntimeComponentsBuilder,
        cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        self.inner.validate_base_client_config(components, cfg)
    }

    fn validate_final_config(&self, components: &RuntimeComponents, cfg: &ConfigBag) -> Result<(), BoxError> {
        self.inner.validate_final_config(components, cfg)
    }

    fn connector_metadata(&self) -> Option<ConnectorMetadata> {
        self.inner.connector_metadata()
    }
}

struct ObservingConnector {
    inner: SharedHttpConnector,
    observer: Interceptor,
}

impl std::fmt::Debug for ObservingConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObservingConnector").field("inner", &self.inner).finish_non_exhaustive()
    }
}

impl HttpConnector for ObservingConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        match (self.observer)(&request) {
            Verdict::Pass => self.inner.call(request),
            Verdict::Answer(answer) => *answer,
            Verdict::LoseAnswer => {
                let sent = self.inner.call(request);
                HttpConnectorFuture::new(async move {
                    let _ = sent.await;
                    Err(ConnectorError::timeout("the answer was lost (injected)".into()))
                })
            }
        }
    }
}

/// Names a request by its service and operation: DynamoDB and Secrets Manager by
/// `X-Amz-Target`, SES v2 by its REST path, SNS (and any other query protocol) by the form
/// body's `Action`.
pub fn operation(request: &HttpRequest) -> String {
    if let Some(target) = request.headers().get("x-amz-target") {
        let services =
            [("DynamoDB_20120810.", "dynamodb"), ("secretsmanager.", "secretsmanager"), ("TrentService.", "kms")];
        return match services.iter().find_map(|(prefix, service)| Some((target.strip_prefix(prefix)?, service))) {
            Some((operation, service)) => format!("{service}:{operation}"),
            None => format!("unknown:{target}"),
        };
    }
    let uri = request.uri();
    let path = uri.split_once("://").map_or(uri, |(_, rest)| rest.find('/').map_or("/", |i| &rest[i..]));
    let path = path.split('?').next().unwrap_or(path);
    if path == "/v2/email/outbound-emails" {
        return "sesv2:SendEmail".to_owned();
    }
    if path.starts_with("/v2/email/") {
        return format!("sesv2:{} {path}", request.method());
    }
    match body_text(request).split('&').find_map(|pair| pair.strip_prefix("Action=")) {
        Some(action) => format!("sns:{action}"),
        None => format!("unknown:{} {path}", request.method()),
    }
}

/// The request's body as text (empty when streamed or not UTF-8).
pub fn body_text(request: &HttpRequest) -> String {
    request.body().bytes().map(String::from_utf8_lossy).unwrap_or_default().into_owned()
}
