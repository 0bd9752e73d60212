//! The only module that knows `lambda_http`: reading requests, writing responses,
//! and the `run` loop every function's `main` calls.

pub mod oauth;

use std::future::Future;

use lambda_http::http::header::{CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use lambda_http::http::StatusCode;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::time::Instant;

use crate::api::error::ErrorBody;
use crate::app::{App, ColdStart, Keyrings, NoMessages};
use crate::faults;
use domain::error::{Error, Result};
use domain::idempotency::Idempotency;
use domain::session::{authenticate, Authenticated, ClientInfo};
use domain::time::Timestamp;
use domain::Language;

/// Larger bodies are refused before parsing; no request of this API needs more.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Parses the JSON body into `T`, whose serde attributes say what is allowed.
pub fn json_body<T: DeserializeOwned>(request: &Request) -> Result<T> {
    let bytes: &[u8] = request.body().as_ref();
    if bytes.len() > MAX_BODY_BYTES {
        return Err(Error::PayloadTooLarge(format!("the body must be at most {MAX_BODY_BYTES} bytes")));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::InvalidRequest("a JSON body is required".into()));
    }
    serde_json::from_slice(bytes).map_err(|e| Error::InvalidRequest(format!("invalid JSON body: {e}")))
}

/// A path parameter of the route (`{verification_id}`).
pub fn path_parameter(request: &Request, name: &str) -> Option<String> {
    request.path_parameters_ref().and_then(|p| p.first(name)).map(str::to_owned)
}

/// The caller's IP address as API Gateway saw it (never a client-supplied header).
pub fn client_ip(request: &Request) -> Option<String> {
    match request.request_context_ref()? {
        RequestContext::ApiGatewayV2(context) => context.http.source_ip.clone(),
        _ => None,
    }
}

/// The `Idempotency-Key` header, bound to this route and body.
pub fn idempotency(app: &App, request: &Request) -> Result<Option<Idempotency>> {
    let Some(value) = request.headers().get("idempotency-key") else { return Ok(None) };
    let key = value.to_str().map_err(|_| Error::InvalidRequest("Idempotency-Key must be ASCII".into()))?;
    Idempotency::new(app, key, request.raw_http_path(), request.body().as_ref()).map(Some)
}

/// The client as the devices page shows it; the user agent is cut to a sane length.
pub fn client_info(request: &Request) -> ClientInfo {
    let user_agent = request
        .headers()
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .map(|agent| agent.chars().take(256).collect());
    ClientInfo { ip: client_ip(request), user_agent }
}

/// The signed-in account behind `Authorization: Bearer <session token>`; 401 otherwise.
pub async fn signed_in(app: &App, request: &Request) -> Result<Authenticated> {
    let bearer = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")));
    authenticate(app, bearer, Timestamp::now()).await
}

/// Whether the request is `method` on `pattern`, where `{name}` matches one path segment.
/// Functions that serve several routes dispatch with it, the same way locally and on AWS.
pub fn is_route(request: &Request, method: &str, pattern: &str) -> bool {
    let path = request.uri().path().trim_end_matches('/');
    let (mut segments, mut expected) = (path.split('/'), pattern.split('/'));
    request.method().as_str() == method
        && loop {
            match (segments.next(), expected.next()) {
                (None, None) => break true,
                (Some(segment), Some(part)) if part.starts_with('{') || part == segment => {}
                _ => break false,
            }
        }
}

/// The first of `routes`, `(method, pattern, route)` as for [`is_route`], that the request is.
/// A function that authenticates every route it serves matches the route first, so that a path
/// it does not serve is a 404 whether or not a session comes with it.
pub fn route<R: Copy>(request: &Request, routes: &[(&str, &str, R)]) -> Option<R> {
    routes.iter().find(|(method, pattern, _)| is_route(request, method, pattern)).map(|(_, _, route)| *route)
}

/// The answer to a route this function does not serve.
pub fn not_found() -> Result<Response<Body>> {
    Err(Error::NotFound)
}

pub fn no_content() -> Response<Body> {
    Response::builder()
        .status(StatusCode::NO_CONTENT)
        .header(CACHE_CONTROL, "no-store")
        .body(Body::Empty)
        .expect("static headers are valid")
}

pub fn language(request: &Request) -> Language {
    let header = request.headers().get("accept-language").and_then(|v| v.to_str().ok());
    Language::from_accept_language(header)
}

pub fn json_response(status: StatusCode, body: &impl Serialize) -> Response<Body> {
    let text = serde_json::to_string(body).expect("response types serialise");
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json")
        // Answers carry codes' ids and tokens: no cache may keep them.
        .header(CACHE_CONTROL, "no-store")
        .body(Body::Text(text))
        .expect("static headers are valid")
}

/// The HTTP status of an error, for the API and the pages alike.
pub fn status_of(error: &Error) -> StatusCode {
    match error {
        Error::InvalidRequest(_)
        | Error::InvalidPhone(_)
        | Error::InvalidEmail(_)
        | Error::InvalidCode { .. }
        | Error::TermsNotAccepted
        | Error::NoVerifiedPhone
        | Error::UnsupportedRegion(_) => StatusCode::BAD_REQUEST,
        Error::CaptchaFailed | Error::CaptchaTooEasy { .. } => StatusCode::FORBIDDEN,
        Error::InvalidCredentials | Error::Unauthorized | Error::ProofRequired => StatusCode::UNAUTHORIZED,
        Error::ChallengeExpired => StatusCode::GONE,
        Error::ContactInUse | Error::TwoFactorAlreadyEnabled | Error::PrimaryContact => StatusCode::CONFLICT,
        Error::WeakPassword { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        Error::AlreadyRegistered | Error::IdempotencyKeyReused => StatusCode::CONFLICT,
        Error::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        Error::VerificationExpired => StatusCode::GONE,
        Error::Conflict => StatusCode::CONFLICT,
        Error::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        Error::CaptchaUnavailable | Error::ServiceUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        Error::NotFound => StatusCode::NOT_FOUND,
        Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// `{"error": {"code", "message", ...details}}` (`api::error`), the shape of every failure.
pub fn error_response(error: &Error) -> Response<Body> {
    let mut response = json_response(status_of(error), &ErrorBody::from(error));
    if let Some(retry_after) = error.retry_after() {
        response.headers_mut().insert(RETRY_AFTER, retry_after.as_secs().into());
    }
    response
}

/// Runs one request through `handler` and turns its error into the JSON answer,
/// logging one line per request with no body, contact or code in it.
pub async fn respond<F, Fut>(app: &'static App, request: Request, handler: F) -> Response<Body>
where
    F: Fn(&'static App, Request) -> Fut,
    Fut: Future<Output = Result<Response<Body>>>,
{
    respond_since(Instant::now(), app, request, handler, error_response).await
}

/// How a function answers an error its handler returned (or the deadline, or a cold start that
/// failed): the API's JSON (`error_response`), or the hosted pages' HTML.
pub type ErrorAnswer = fn(&Error) -> Response<Body>;

/// `respond` to a request that `arrived` earlier (while the app was being built): its deadline
/// counts from then, and covers the keyrings' re-read too.
async fn respond_since<F, Fut>(
    arrived: Instant,
    app: &'static App,
    request: Request,
    handler: F,
    answer_error: ErrorAnswer,
) -> Response<Body>
where
    F: Fn(&'static App, Request) -> Fut,
    Fut: Future<Output = Result<Response<Body>>>,
{
    let method = request.method().to_string();
    let route = request.raw_http_path().to_owned();
    // Futures are lazy: the handler runs only after the re-read. Boxed, so that the handler's
    // (large) future is not held twice in this one's state.
    let handled = Box::pin(handler(app, request));
    let work = async {
        app.refresh_secret(Timestamp::now()).await;
        handled.await
    };
    let answer = tokio::time::timeout_at(arrived + app.deadline, work).await.unwrap_or_else(|_| {
        // Dropped between two of its calls: each write is one atomic request, made whole or not at all.
        Err(faults::fault("AWS", "request", "deadline"))
    });
    let response = match answer {
        Ok(response) => response,
        Err(error) => {
            if let Error::Internal(detail) = &error {
                tracing::error!(%detail, "internal error");
            }
            answer_error(&error)
        }
    };
    tracing::info!(
        method,
        route = route_template(&route),
        status = response.status().as_u16(),
        elapsed_ms = arrived.elapsed().as_millis() as u64,
        "request"
    );
    response
}

/// Ids in paths are replaced, so logs group by route and carry no ids.
fn route_template(path: &str) -> String {
    path.split('/').map(|segment| if segment.len() > 16 { "{id}" } else { segment }).collect::<Vec<_>>().join("/")
}

/// `RUST_LOG`-style `level` (`info`, or `warn,shared=debug`) with the AWS SDK's and HTTP stack's
/// logs capped at info: at debug and trace they print request and response bodies, which hold
/// phone numbers and emails, and no `RUST_LOG` should be able to turn that on in production, not
/// even for a module inside one of them. A `Targets` filter rather than `EnvFilter`: the per-span
/// and per-field directives it lacks were never used, and `EnvFilter`'s regex engine was a tenth
/// of each binary. An unreadable `level` logs at info.
pub fn log_filter(level: &str) -> tracing_subscriber::filter::Targets {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    const WIRE: [&str; 11] = [
        "aws_smithy_runtime",
        "aws_smithy_runtime_api",
        "aws_smithy_http_client",
        "aws_sdk_dynamodb",
        "aws_sdk_secretsmanager",
        "aws_sdk_sesv2",
        "aws_sdk_sns",
        "aws_config",
        "hyper",
        "hyper_util",
        "rustls",
    ];
    let asked: Targets = level.parse().unwrap_or_else(|_| Targets::new().with_default(LevelFilter::INFO));
    let under_wire = |target: &str| {
        WIRE.iter().any(|wire| target.strip_prefix(wire).is_some_and(|rest| rest.is_empty() || rest.starts_with("::")))
    };
    let default = asked.default_level().unwrap_or(LevelFilter::OFF);
    // The caps first: a directive the level names for the same target replaces its cap, capped.
    let capped =
        Targets::new().with_default(default).with_targets(WIRE.map(|wire| (wire, default.min(LevelFilter::INFO))));
    capped.with_targets(
        asked
            .iter()
            .map(|(target, level)| {
                (target.to_owned(), if under_wire(target) { level.min(LevelFilter::INFO) } else { level })
            })
            .collect::<Vec<_>>(),
    )
}

/// The `main` of every HTTP function: JSON logs, the app built once, then the Lambda loop. No
/// HTTP function sends a message itself (the courier does), so none links an SES or SNS client.
pub async fn run<F, Fut>(handler: F) -> std::result::Result<(), lambda_http::Error>
where
    F: Fn(&'static App, Request) -> Fut + Copy + Send + 'static,
    Fut: Future<Output = Result<Response<Body>>> + Send,
{
    serve(handler, Keyrings::Both, error_response).await
}

/// `run` for the hosted pages, whose errors are pages too (`answer_error`).
pub async fn run_pages<F, Fut>(handler: F, answer_error: ErrorAnswer) -> std::result::Result<(), lambda_http::Error>
where
    F: Fn(&'static App, Request) -> Fut + Copy + Send + 'static,
    Fut: Future<Output = Result<Response<Body>>> + Send,
{
    serve(handler, Keyrings::Both, answer_error).await
}

/// `run` for the captcha function, which is given only the edge secret.
pub async fn run_with_edge_secret_only<F, Fut>(handler: F) -> std::result::Result<(), lambda_http::Error>
where
    F: Fn(&'static App, Request) -> Fut + Copy + Send + 'static,
    Fut: Future<Output = Result<Response<Body>>> + Send,
{
    serve(handler, Keyrings::EdgeOnly, error_response).await
}

/// JSON log lines without time (CloudWatch adds it), at `RUST_LOG`'s level.
pub(crate) fn init_logs() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    tracing_subscriber::fmt()
        .json()
        .with_current_span(false)
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .finish()
        .with(log_filter(&std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned())))
        .init();
}

async fn serve<F, Fut>(
    handler: F,
    keyrings: Keyrings,
    answer_error: ErrorAnswer,
) -> std::result::Result<(), lambda_http::Error>
where
    F: Fn(&'static App, Request) -> Fut + Copy + Send + 'static,
    Fut: Future<Output = Result<Response<Body>>> + Send,
{
    init_logs();
    let start: &'static ColdStart = Box::leak(Box::new(ColdStart::new(App::from_env::<NoMessages>(keyrings).await)?));
    lambda_http::run(lambda_http::service_fn(move |request: Request| async move {
        let arrived = Instant::now();
        let response = match start.app(|| App::from_env::<NoMessages>(keyrings)).await {
            Ok(app) => respond_since(arrived, app, request, handler, answer_error).await,
            Err(error) => answer_error(&error),
        };
        Ok::<_, std::convert::Infallible>(response)
    }))
    .await
}

#[cfg(test)]
mod tests {
    use tracing::Level;

    use super::log_filter;

    #[test]
    fn no_level_opens_the_wire_logs_past_info() {
        for level in ["trace", "debug,aws_smithy_runtime=trace", "info,aws_smithy_runtime::client::orchestrator=trace"]
        {
            let filter = log_filter(level);
            assert!(!filter.would_enable("aws_smithy_runtime::client::orchestrator", &Level::DEBUG), "{level}");
            assert!(!filter.would_enable("hyper_util::client", &Level::DEBUG), "{level}");
            assert!(filter.would_enable("aws_smithy_runtime", &Level::INFO), "{level}");
        }
        assert!(log_filter("trace").would_enable("shared::courier", &Level::TRACE));
    }

    #[test]
    fn levels_below_the_cap_are_kept() {
        let filter = log_filter("warn,shared=debug");
        assert!(!filter.would_enable("aws_sdk_dynamodb", &Level::INFO));
        assert!(filter.would_enable("aws_sdk_dynamodb", &Level::WARN));
        assert!(filter.would_enable("shared::store", &Level::DEBUG));
        assert!(!filter.would_enable("lambda_runtime", &Level::INFO));
        assert!(!log_filter("error,aws_config=warn").would_enable("aws_config", &Level::INFO));
    }

    #[test]
    fn an_unreadable_level_logs_at_info() {
        let filter = log_filter("shared=loudest");
        assert!(filter.would_enable("shared", &Level::INFO));
        assert!(!filter.would_enable("shared", &Level::DEBUG));
    }
}
