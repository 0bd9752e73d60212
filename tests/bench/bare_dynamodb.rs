//! Size and cold-start reference: a `lambda_http` function that links only `aws-sdk-dynamodb`,
//! builds its client at start as `shared::App::from_env` does, and reads one item per request.
//!
//! `BENCH_SDK` picks how the SDK configuration is built, to find what aws-config costs at start:
//! - `defaults` (the default): `aws_config::defaults(..).load()`, as the functions do;
//! - `explicit`: the same loader, told the region and the environment's credentials, so the
//!   region and credential provider chains are never built;
//! - `builder`: `SdkConfig::builder()` from the Lambda environment, no aws-config loading at all.
//!
//! With `BENCH_PHASES=1` it prints one JSON line to stderr after the first request:
//! microseconds from `main` to the SDK config, to the client, and to the first answer.

use std::time::Instant;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::{Credentials, SharedCredentialsProvider};
use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::{service_fn, Body, Error, Request, Response};

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn environment_credentials() -> Result<Credentials, Error> {
    let key = env("AWS_ACCESS_KEY_ID").ok_or("AWS_ACCESS_KEY_ID is not set")?;
    let secret = env("AWS_SECRET_ACCESS_KEY").ok_or("AWS_SECRET_ACCESS_KEY is not set")?;
    Ok(Credentials::new(key, secret, env("AWS_SESSION_TOKEN"), None, "lambda-environment"))
}

async fn sdk_config(mode: &str) -> Result<SdkConfig, Error> {
    let region = || env("AWS_REGION").map(Region::new).ok_or("AWS_REGION is not set");
    Ok(match mode {
        "defaults" => aws_config::defaults(BehaviorVersion::latest()).load().await,
        "explicit" => {
            aws_config::defaults(BehaviorVersion::latest())
                .region(region()?)
                .credentials_provider(environment_credentials()?)
                .load()
                .await
        }
        "builder" => {
            let mut builder = SdkConfig::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(region()?)
                .credentials_provider(SharedCredentialsProvider::new(environment_credentials()?));
            if let Some(url) = env("AWS_ENDPOINT_URL") {
                builder = builder.endpoint_url(url);
            }
            builder.build()
        }
        other => return Err(format!("BENCH_SDK={other}: use defaults, explicit or builder").into()),
    })
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let started = Instant::now();
    let mode: &'static str = Box::leak(env("BENCH_SDK").unwrap_or_else(|| "defaults".to_owned()).into_boxed_str());
    let sdk = sdk_config(mode).await?;
    let loaded = started.elapsed();
    let client: &'static aws_sdk_dynamodb::Client = Box::leak(Box::new(aws_sdk_dynamodb::Client::new(&sdk)));
    let built = started.elapsed();
    let table: &'static str = Box::leak(env("TABLE_NAME").ok_or("TABLE_NAME is not set")?.into_boxed_str());
    let phases = env("BENCH_PHASES").is_some();
    let first = std::sync::atomic::AtomicBool::new(true);
    let first: &'static std::sync::atomic::AtomicBool = Box::leak(Box::new(first));

    lambda_http::run(service_fn(move |_request: Request| async move {
        let output = client
            .get_item()
            .table_name(table)
            .key("pk", AttributeValue::S("BENCH#item".into()))
            .key("sk", AttributeValue::S("BENCH".into()))
            .consistent_read(true)
            .send()
            .await?;
        if phases && first.swap(false, std::sync::atomic::Ordering::Relaxed) {
            eprintln!(
                r#"{{"mode":"{mode}","sdk_config_us":{},"client_us":{},"first_answer_us":{}}}"#,
                loaded.as_micros(),
                built.as_micros(),
                started.elapsed().as_micros()
            );
        }
        let body = format!(r#"{{"found":{}}}"#, output.item().is_some());
        Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(Body::from(body))
            .map_err(Error::from)
    }))
    .await
}
