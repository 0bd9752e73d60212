//! CloudWatch metrics in Embedded Metric Format: one JSON line on stdout per count,
//! which Lambda's log pipeline turns into metrics with no API call and no extra latency.

use serde_json::{json, Map, Value};

use crate::time::Timestamp;

const NAMESPACE: &str = "AccountService";

/// Counts one `metric` with `dimensions` (e.g. channel and country; never a contact or code).
/// It is counted per all the dimensions, per the first one alone and with none, so an
/// alarm can watch a total (all SMS) as well as a breakdown (SMS per country).
pub fn count(metric: &str, dimensions: &[(&str, &str)]) {
    println!("{}", emf_line(metric, dimensions, Timestamp::now()));
}

fn emf_line(metric: &str, dimensions: &[(&str, &str)], now: Timestamp) -> String {
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": now.0 * 1000,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": dimension_sets(dimensions),
                "Metrics": [{ "Name": metric, "Unit": "Count" }],
            }],
        }),
    );
    for (name, value) in dimensions {
        root.insert((*name).into(), Value::from(*value));
    }
    root.insert(metric.into(), Value::from(1));
    Value::Object(root).to_string()
}

fn dimension_sets<'a>(dimensions: &[(&'a str, &str)]) -> Vec<Vec<&'a str>> {
    let names: Vec<&str> = dimensions.iter().map(|(name, _)| *name).collect();
    let mut sets = vec![names.clone(), names.iter().take(1).copied().collect(), Vec::new()];
    sets.dedup();
    sets
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_follow_the_embedded_metric_format() {
        let line: Value =
            serde_json::from_str(&emf_line("CodesSent", &[("Channel", "sms"), ("Country", "91")], Timestamp(10)))
                .unwrap();
        assert_eq!(line["_aws"]["Timestamp"], 10_000);
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], "AccountService");
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Channel", "Country"], ["Channel"], []])
        );
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"], "CodesSent");
        assert_eq!(
            (line["Channel"].as_str(), line["Country"].as_str(), line["CodesSent"].as_i64()),
            (Some("sms"), Some("91"), Some(1))
        );
    }
}
