//! Least privilege, checked on the wire: every AWS request a function makes in a test (through
//! `Stack::call`) must be one `template.yaml` grants that function, action by action and, for
//! DynamoDB, key by key (`dynamodb:LeadingKeys`). So a permission missing from the template fails
//! the test that needs it, as it would fail in the deployed stack, and a function whose key
//! prefixes are narrowed too far is caught the same way.
//!
//! How AWS authorises what is checked here: a `TransactWriteItems` item as its own action
//! (`Put` as `dynamodb:PutItem`, `ConditionCheck` as `dynamodb:ConditionCheckItem`, ...), and
//! `dynamodb:LeadingKeys` is the partition key of every item a request touches (each key of a
//! batch, each item of a transaction, a query's key condition).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value as Json;
use serde_yaml::Value as Yaml;

use crate::observe::{body_text, operation, HttpRequest};

/// Each function's grants, by its binary's name.
#[derive(Debug, Default)]
pub struct Policies(HashMap<String, Vec<Grant>>);

/// One `Allow` statement.
#[derive(Debug)]
pub struct Grant {
    pub sid: String,
    pub actions: Vec<String>,
    /// Whether its resource is the table.
    pub on_table: bool,
    /// The `ForAllValues:StringLike` patterns of `dynamodb:LeadingKeys`; None without the condition.
    pub leading_keys: Option<Vec<String>>,
    /// The logical ids its `!Ref` resources name (the secrets).
    pub refs: Vec<String>,
}

impl Policies {
    pub fn of_repository() -> Self {
        Self::parse(&std::fs::read_to_string(template_path()).expect("template.yaml"))
    }

    pub fn parse(template: &str) -> Self {
        let template: Yaml = serde_yaml::from_str(template).expect("template parses");
        let mut policies = Policies::default();
        for resource in template["Resources"].as_mapping().expect("Resources").values() {
            if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
                continue;
            }
            let binary = resource["Metadata"]["BuildProperties"]["Binary"].as_str().expect("a Binary").to_owned();
            let statements = resource["Properties"]["Policies"]
                .as_sequence()
                .into_iter()
                .flatten()
                .flat_map(|policy| policy["Statement"].as_sequence().cloned().unwrap_or_default());
            let grants = statements.filter(|s| s["Effect"].as_str() == Some("Allow")).map(|s| grant(&s)).collect();
            policies.0.insert(binary, grants);
        }
        policies
    }

    /// The binaries of every function in the template.
    pub fn binaries(&self) -> Vec<&str> {
        let mut binaries: Vec<&str> = self.0.keys().map(String::as_str).collect();
        binaries.sort_unstable();
        binaries
    }

    pub fn of(&self, binary: &str) -> &[Grant] {
        self.0.get(binary).unwrap_or_else(|| panic!("template.yaml has no function with Binary: {binary}"))
    }

    /// What of `request` the grants of `binary` do not allow, one line per refused action and key.
    pub fn refusals(&self, binary: &str, request: &HttpRequest) -> Vec<String> {
        let grants = self.of(binary);
        let allows = |action: &str, key: Option<&str>| {
            grants.iter().any(|grant| {
                grant.actions.iter().any(|a| a == action)
                    && match (key, &grant.leading_keys) {
                        (Some(key), Some(patterns)) => grant.on_table && patterns.iter().any(|p| string_like(p, key)),
                        (Some(_), None) => grant.on_table,
                        // A table request whose key this check cannot read is refused, not waved through.
                        (None, _) => !action.starts_with("dynamodb:"),
                    }
            })
        };
        authorised_as(request)
            .into_iter()
            .filter(|(action, key)| !allows(action, key.as_deref()))
            .map(|(action, key)| format!("{action} on {}", key.as_deref().unwrap_or("its resource")))
            .collect()
    }
}

fn grant(statement: &Yaml) -> Grant {
    let strings = |value: &Yaml| match value {
        Yaml::String(one) => vec![one.clone()],
        Yaml::Sequence(many) => many.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
        _ => vec![],
    };
    let resources = match &statement["Resource"] {
        Yaml::Sequence(many) => many.clone(),
        one => vec![one.clone()],
    };
    let tagged = |tag: &str| {
        resources
            .iter()
            .filter_map(|r| match r {
                Yaml::Tagged(t) if t.tag == tag => t.value.as_str().map(str::to_owned),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    let leading_keys = statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"].clone();
    Grant {
        sid: statement["Sid"].as_str().unwrap_or_default().to_owned(),
        actions: strings(&statement["Action"]),
        on_table: tagged("!GetAtt").iter().any(|r| r == "AccountsTable.Arn"),
        leading_keys: (!leading_keys.is_null()).then(|| strings(&leading_keys)),
        refs: tagged("!Ref"),
    }
}

/// The IAM actions `request` is authorised as, each with the partition key it touches (DynamoDB).
fn authorised_as(request: &HttpRequest) -> Vec<(String, Option<String>)> {
    let operation = operation(request);
    let Some(dynamodb) = operation.strip_prefix("dynamodb:") else {
        // SES v2's SendEmail is the IAM action ses:SendEmail.
        return vec![(operation.replace("sesv2:", "ses:"), None)];
    };
    let body: Json = serde_json::from_str(&body_text(request)).unwrap_or(Json::Null);
    let pk = |item: &Json| item["pk"]["S"].as_str().map(str::to_owned);
    let action = |name: &str| format!("dynamodb:{name}");
    match dynamodb {
        "GetItem" | "UpdateItem" | "DeleteItem" => vec![(action(dynamodb), pk(&body["Key"]))],
        "PutItem" => vec![(action(dynamodb), pk(&body["Item"]))],
        "Query" => {
            let condition = body["KeyConditionExpression"].as_str().unwrap_or_default();
            let placeholder = condition.strip_prefix("pk = ").unwrap_or_default().split(' ').next().unwrap_or_default();
            vec![(action(dynamodb), body["ExpressionAttributeValues"][placeholder]["S"].as_str().map(str::to_owned))]
        }
        "BatchGetItem" => body["RequestItems"]
            .as_object()
            .into_iter()
            .flat_map(|tables| tables.values())
            .flat_map(|table| table["Keys"].as_array().cloned().unwrap_or_default())
            .map(|key| (action(dynamodb), pk(&key)))
            .collect(),
        "TransactWriteItems" => body["TransactItems"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| {
                [("Put", "PutItem", "Item"), ("Update", "UpdateItem", "Key"), ("Delete", "DeleteItem", "Key")]
                    .into_iter()
                    .chain([("ConditionCheck", "ConditionCheckItem", "Key")])
                    .find(|(kind, _, _)| item.get(kind).is_some())
                    .map(|(kind, name, key)| (action(name), pk(&item[kind][key])))
            })
            .collect(),
        _ => vec![(action(dynamodb), None)],
    }
}

/// IAM's `StringLike`: `*` is any run of characters, `?` any one.
fn string_like(pattern: &str, text: &str) -> bool {
    match pattern.chars().next() {
        None => text.is_empty(),
        Some('*') => {
            (0..=text.len()).filter(|i| text.is_char_boundary(*i)).any(|i| string_like(&pattern[1..], &text[i..]))
        }
        Some(p) => text
            .chars()
            .next()
            .is_some_and(|t| (p == '?' || p == t) && string_like(&pattern[p.len_utf8()..], &text[t.len_utf8()..])),
    }
}

pub fn template_path() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")
}

/// The binary a handler belongs to, from its path (`enable_2fa::handle` is `enable-2fa`'s).
pub fn binary_of<F>() -> String {
    let path = std::any::type_name::<F>();
    let krate = path.split("::").next().unwrap_or(path);
    krate.replace('_', "-")
}

tokio::task_local! {
    static CALLER: Caller;
}

struct Caller {
    binary: String,
    policies: Arc<Policies>,
    refusals: Mutex<Vec<String>>,
}

/// Runs `work` as `binary`: every AWS request made while it runs is checked against that
/// function's grants. Returns its output and what the template would have refused.
pub async fn as_function<T>(
    policies: Arc<Policies>,
    binary: String,
    work: impl std::future::Future<Output = T>,
) -> (T, Vec<String>) {
    let caller = Caller { binary, policies, refusals: Mutex::new(Vec::new()) };
    CALLER
        .scope(caller, async move {
            let output = work.await;
            let refusals = CALLER.with(|caller| std::mem::take(&mut *caller.refusals.lock().unwrap()));
            (output, refusals)
        })
        .await
}

/// The function whose work is running (inside `as_function`), if any.
pub fn current_binary() -> Option<String> {
    CALLER.try_with(|caller| caller.binary.clone()).ok()
}

/// The observer (`observe::observed`) that checks requests made inside `as_function`.
pub fn checker() -> crate::observe::Observer {
    Arc::new(|request: &HttpRequest| {
        let _ = CALLER.try_with(|caller| {
            let refused = caller.policies.refusals(&caller.binary, request);
            caller.refusals.lock().unwrap().extend(refused);
        });
    })
}

#[cfg(test)]
mod tests {
    use super::string_like;

    #[test]
    fn string_like_is_iam_s() {
        assert!(string_like("LIMIT#*", "LIMIT#ip:ab"));
        assert!(string_like("LIMIT#*", "LIMIT#"));
        assert!(!string_like("LIMIT#*", "ACC#1"));
        assert!(!string_like("LIMIT#", "LIMIT#x"));
        assert!(string_like("A?C#*", "ABC#1"));
        assert!(string_like("*#x", "ab#x"));
    }
}
