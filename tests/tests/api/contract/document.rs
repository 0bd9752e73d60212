//! The OpenAPI document: reading it, its operations, and checking answers against its schemas.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, LazyLock, Mutex};

use integration_tests::TestResponse;
use jsonschema::Validator;
use serde_json::{json, Value};

pub const OPENAPI: &str = "infra/openapi.yaml";

pub fn repo_file(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The OpenAPI document as JSON values, so that schemas, examples and answers compare alike.
pub fn openapi() -> Value {
    let yaml: serde_yaml::Value =
        serde_yaml::from_str(&repo_file(OPENAPI)).unwrap_or_else(|e| panic!("{OPENAPI} does not parse: {e}"));
    serde_json::to_value(yaml).unwrap_or_else(|e| panic!("{OPENAPI} is not JSON-compatible: {e}"))
}

/// Follows local `$ref`s (`#/components/...`).
pub fn resolve<'a>(doc: &'a Value, mut node: &'a Value) -> &'a Value {
    while let Some(reference) = node.get("$ref").and_then(Value::as_str) {
        let pointer =
            reference.strip_prefix('#').unwrap_or_else(|| panic!("only local $refs are supported: {reference}"));
        node = doc.pointer(pointer).unwrap_or_else(|| panic!("{OPENAPI}: dangling $ref {reference}"));
    }
    node
}

pub struct Operation {
    pub id: String,
    /// The Lambda function (cargo binary) serving it: `x-function`, else the operationId.
    pub function: String,
    pub method: String,
    pub path: String,
    pub path_item: Value,
    pub spec: Value,
}

/// The media types of request bodies the harness sends.
pub const JSON: &str = "application/json";
pub const FORM: &str = "application/x-www-form-urlencoded";

impl Operation {
    /// Whether the operation takes an API session (`sessionToken`); the OAuth endpoints take
    /// other credentials (an access token, the client's), which their examples are given.
    pub fn needs_session(&self) -> bool {
        self.takes("sessionToken")
    }

    /// Whether `scheme` is one of the operation's security schemes.
    pub fn takes(&self, scheme: &str) -> bool {
        self.spec["security"].as_array().into_iter().flatten().any(|s| s.get(scheme).is_some())
    }

    /// The media type of the request body (JSON, or a form for the OAuth endpoints).
    pub fn media(&self) -> &'static str {
        match self.spec["requestBody"]["content"].get(FORM) {
            Some(_) => FORM,
            None => JSON,
        }
    }

    /// The schema of the request body.
    pub fn body_schema(&self) -> &Value {
        &self.spec["requestBody"]["content"][self.media()]["schema"]
    }
}

pub fn operations(doc: &Value) -> Vec<Operation> {
    const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap_or_else(|| panic!("{OPENAPI} has no paths")) {
        let item = resolve(doc, item);
        for (method, spec) in item.as_object().into_iter().flatten().filter(|(m, _)| METHODS.contains(&m.as_str())) {
            let id = spec["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{OPENAPI}: {method} {path} has no operationId"))
                .to_owned();
            let mut spec = spec.clone();
            if let Some(body) = spec.get("requestBody").map(|body| resolve(doc, body).clone()) {
                spec["requestBody"] = body;
            }
            found.push(Operation {
                function: spec["x-function"].as_str().unwrap_or(&id).to_owned(),
                id,
                method: method.to_ascii_uppercase(),
                path: path.clone(),
                path_item: item.clone(),
                spec,
            });
        }
    }
    found
}

pub fn operation(doc: &Value, id: &str) -> Operation {
    operations(doc).into_iter().find(|op| op.id == id).unwrap_or_else(|| panic!("{OPENAPI} has no operation {id}"))
}

/// Checks that the status is documented for the operation, and that body and headers match it.
pub fn check_documented(doc: &Value, op: &Operation, answer: &TestResponse) {
    let status = answer.status.to_string();
    let response = op.spec["responses"]
        .get(&status)
        .map(|r| resolve(doc, r))
        .unwrap_or_else(|| panic!("{} answered {status}, which {OPENAPI} does not document: {}", op.id, answer.json));
    match response["content"]["application/json"].get("schema") {
        Some(schema) => {
            if let Err(e) = validate(doc, schema, &answer.json) {
                panic!("{} {status}: the answer does not match the documented schema: {e}\n{}", op.id, answer.json);
            }
        }
        None => assert!(answer.json.is_null(), "{} {status}: documented without a body, got {}", op.id, answer.json),
    }
    for (name, header) in response["headers"].as_object().into_iter().flatten() {
        let schema = &resolve(doc, header)["schema"];
        let actual = answer
            .headers
            .get(&name.to_ascii_lowercase())
            .unwrap_or_else(|| panic!("{} {status}: documented header {name} is missing", op.id));
        let value = if schema["type"] == "integer" {
            actual.parse::<u64>().map(Value::from).unwrap_or_else(|_| Value::String(actual.clone()))
        } else {
            Value::String(actual.clone())
        };
        if let Err(e) = validate(doc, schema, &value) {
            panic!("{} {status}: header {name}: {e}", op.id);
        }
    }
}

/// Checks `value` against `schema`, a schema of the document whose `$ref`s
/// (`#/components/schemas/...`) point into the document.
pub fn validate(doc: &Value, schema: &Value, value: &Value) -> Result<(), String> {
    // Compiled once a schema: the answers of a flow are checked against the same few.
    static COMPILED: LazyLock<Mutex<HashMap<String, Arc<Validator>>>> = LazyLock::new(Default::default);
    let key = schema.to_string();
    let cached = COMPILED.lock().unwrap().get(&key).cloned();
    let validator = match cached {
        Some(validator) => validator,
        None => {
            let compiled = Arc::new(compile(doc, schema)?);
            COMPILED.lock().unwrap().insert(key, compiled.clone());
            compiled
        }
    };
    let errors: Vec<String> =
        validator.iter_errors(value).map(|error| format!("${}: {error}", error.instance_path())).collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

/// `schema` under a root that holds the document's components, so that its `#/...` references
/// resolve as they do in the document.
fn compile(doc: &Value, schema: &Value) -> Result<Validator, String> {
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": doc["components"],
        "allOf": [schema],
    });
    jsonschema::draft202012::options()
        .build(&root)
        .map_err(|e| format!("{OPENAPI}: the schema does not compile: {e}: {schema}"))
}

#[test]
fn the_schema_check_refuses_what_a_schema_forbids() {
    let doc = openapi();
    let schema = json!({
        "type": "object",
        "required": ["code"],
        "additionalProperties": false,
        "properties": {
            "code": {"$ref": "#/components/schemas/ErrorCode"},
            "id": {"type": "string", "pattern": "^[0-9]{6}$"},
            "left": {"type": "integer", "minimum": 0},
        },
    });
    assert_eq!(validate(&doc, &schema, &json!({"code": "not_found", "id": "123456", "left": 1})), Ok(()));
    for wrong in [
        json!({}),
        json!({"code": "no_such_code"}),
        json!({"code": "not_found", "extra": 1}),
        json!({"code": "not_found", "id": "12345"}),
        json!({"code": "not_found", "left": -1}),
        json!({"code": "not_found", "left": "1"}),
        json!([]),
    ] {
        assert!(validate(&doc, &schema, &wrong).is_err(), "{wrong} passed");
    }
    let dangling = json!({"$ref": "#/components/schemas/NoSuchSchema"});
    assert!(validate(&doc, &dangling, &json!({})).is_err(), "a dangling $ref passed");
}
