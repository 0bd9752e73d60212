//! The table's stream, as the tests drive it: after each request, every message waiting in the
//! outbox is handed to the real courier (`shared::courier::handle`) in a stream event of the
//! shape Lambda delivers, so codes reach moto's SES and SNS record before the test reads them.
//! Deterministic where the stream is not: the courier runs to completion before the next step,
//! one delivery at a time (as one stream shard is worked), each message at the time it was
//! written, so a test that calls the domain at a time of its choosing gets its messages too.

use std::collections::BTreeMap;

use serde_json::json;

use aws_sdk_dynamodb::types::AttributeValue;
use shared::courier::{BatchResponse, ItemFailure, StreamEvent};
use shared::domain::outbox::MESSAGE_TTL;
use shared::Timestamp;

use crate::{policy, Stack};

impl Stack {
    /// Delivers every message waiting, once, as its function (held to the courier's grants); the
    /// records the courier asked to have again, which stay waiting for the next delivery.
    pub async fn deliver(&self) -> BatchResponse {
        let _one_at_a_time = self.delivering.lock().await;
        let mut by_time: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        for (pk, expires_at) in self.waiting_messages_with_expiry().await {
            by_time.entry(expires_at - MESSAGE_TTL.as_secs() as i64).or_default().push(pk);
        }
        let mut failures: Vec<ItemFailure> = Vec::new();
        for (written, keys) in by_time {
            failures.extend(self.deliver_batch(&keys, Timestamp(written)).await.batch_item_failures);
        }
        BatchResponse { batch_item_failures: failures }
    }

    async fn deliver_batch(&self, keys: &[String], now: Timestamp) -> BatchResponse {
        let records: Vec<_> = keys
            .iter()
            .enumerate()
            .map(|(sequence, pk)| {
                json!({
                    "eventName": "INSERT",
                    "eventSource": "aws:dynamodb",
                    "dynamodb": {
                        "Keys": { "pk": { "S": pk }, "sk": { "S": "OUT" } },
                        "SequenceNumber": format!("{:021}", sequence + 1),
                        "StreamViewType": "KEYS_ONLY",
                    },
                })
            })
            .collect();
        let event: StreamEvent = serde_json::from_value(json!({ "Records": records })).expect("a stream event");
        let work = shared::courier::handle(self.courier_app, event, now);
        let (answer, refused) = policy::as_function(self.policies.clone(), "courier".into(), work).await;
        assert!(refused.is_empty(), "template.yaml does not allow courier {}", refused.join(", "));
        answer
    }

    /// The keys of the outbox items in this test's table.
    pub async fn waiting_messages(&self) -> Vec<String> {
        self.waiting_messages_with_expiry().await.into_iter().map(|(pk, _)| pk).collect()
    }

    async fn waiting_messages_with_expiry(&self) -> Vec<(String, i64)> {
        // The harness's own client: no fault a test injects stops it from looking.
        let scan = self
            .harness
            .scan()
            .table_name(&self.table)
            .consistent_read(true)
            .filter_expression("begins_with(pk, :out)")
            .expression_attribute_values(":out", AttributeValue::S("OUT#".into()))
            .send()
            .await
            .expect("scan the outbox");
        let mut keys: Vec<(String, i64)> = scan
            .items()
            .iter()
            .filter_map(|item| {
                let expires = item.get("expires_at")?.as_n().ok()?.parse().ok()?;
                Some((item.get("pk")?.as_s().ok()?.clone(), expires))
            })
            .collect();
        keys.sort();
        keys
    }
}
