//! The courier function's Lambda glue. The table's stream hands it batches of records, which the
//! event source's filter narrows to inserted outbox items, keys only; each is delivered by
//! `domain::courier::deliver`. Records to try again are reported back (`ReportBatchItemFailures`).
//! Lambda then hands over again every record from the first of them on; those already delivered
//! are gone (deleted or marked sent) and skipped, so one failing message never resends the rest.

use futures_util::future::join_all;
use lambda_http::lambda_runtime::{self, service_fn, LambdaEvent};
use serde::{Deserialize, Serialize};

use crate::app::{App, ColdStart, Keyrings, SesAndSns};
use domain::courier::{deliver, Outcome};
use domain::time::Timestamp;
use domain::MessageId;

/// A DynamoDB stream event as Lambda delivers it, as far as the courier reads it.
#[derive(Debug, Deserialize)]
pub struct StreamEvent {
    #[serde(rename = "Records", default)]
    records: Vec<StreamRecord>,
}

#[derive(Debug, Deserialize)]
struct StreamRecord {
    #[serde(rename = "eventName", default)]
    event_name: String,
    dynamodb: StreamData,
}

#[derive(Debug, Deserialize)]
struct StreamData {
    #[serde(rename = "Keys")]
    keys: Keys,
    #[serde(rename = "SequenceNumber")]
    sequence_number: String,
}

#[derive(Debug, Deserialize)]
struct Keys {
    pk: StringValue,
}

#[derive(Debug, Deserialize)]
struct StringValue {
    #[serde(rename = "S")]
    s: String,
}

/// The records Lambda is to hand over again: it retries from the first of them.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct BatchResponse {
    #[serde(rename = "batchItemFailures")]
    pub batch_item_failures: Vec<ItemFailure>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct ItemFailure {
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

/// Delivers every message a batch names, at once, at `now`; the records whose message waits for
/// another try.
pub async fn handle(app: &App, event: StreamEvent, now: Timestamp) -> BatchResponse {
    let deliveries = event.records.iter().map(|record| async move {
        let id = record.dynamodb.keys.pk.s.strip_prefix("OUT#").and_then(MessageId::parse);
        let retry = match id {
            // Not an insert of an outbox item: the filter should not have let it through.
            None => false,
            Some(_) if record.event_name != "INSERT" => false,
            Some(id) => match deliver(app, &id, now).await {
                Ok(Outcome::Retry) => true,
                Ok(_) => false,
                Err(error) => {
                    tracing::warn!(error = error.code(), "outbox message to try again");
                    true
                }
            },
        };
        retry.then(|| ItemFailure { item_identifier: record.dynamodb.sequence_number.clone() })
    });
    BatchResponse { batch_item_failures: join_all(deliveries).await.into_iter().flatten().collect() }
}

/// The courier's `main`: JSON logs, the app built once (with SES and SNS, and the service secret
/// alone), then the Lambda loop.
/// A cold start that cannot read its keyring fails the batch, which the stream hands over again.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    crate::http::init_logs();
    let load = || App::from_env::<SesAndSns>(Keyrings::ServiceOnly);
    let start: &'static ColdStart = Box::leak(Box::new(ColdStart::new(load().await)?));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<StreamEvent>| async move {
        let app = start.app(load).await.map_err(|error| lambda_runtime::Diagnostic::from(error.code()))?;
        app.refresh_secret(Timestamp::now()).await;
        Ok::<_, lambda_runtime::Diagnostic>(handle(app, event.payload, Timestamp::now()).await)
    }))
    .await
}
