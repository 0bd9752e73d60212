//! Every error code is documented under the status it is answered with, with the body it has,
//! and the document's enums are the API's.

use std::collections::{BTreeMap, BTreeSet};

use integration_tests::TestResponse;
use serde_json::{json, Value};
use shared::api;
use shared::domain::error::ALL_CODES;
use shared::Error;

use super::document::{check_documented, openapi, operation, operations, resolve, validate, OPENAPI};

/// Every error code each operation documents, with the status it is documented under.
fn documented_error_codes(doc: &Value) -> BTreeMap<String, Vec<(String, u16)>> {
    fn code_enums(node: &Value, doc: &Value, found: &mut Vec<String>) {
        match node {
            Value::Object(map) => {
                if let Some(codes) = map.get("code").and_then(|c| c["enum"].as_array()) {
                    found.extend(codes.iter().filter_map(Value::as_str).map(str::to_owned));
                }
                for (key, value) in map {
                    // Follow refs to responses, not to the shared Error schema (its enum lists every code).
                    if key == "$ref" && value.as_str().is_some_and(|r| r.starts_with("#/components/responses/")) {
                        code_enums(resolve(doc, node), doc, found);
                    } else if key != "examples" {
                        code_enums(value, doc, found);
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|item| code_enums(item, doc, found)),
            _ => {}
        }
    }
    let mut documented: BTreeMap<String, Vec<(String, u16)>> = BTreeMap::new();
    for op in operations(doc) {
        for (status, response) in op.spec["responses"].as_object().into_iter().flatten() {
            let mut codes = Vec::new();
            code_enums(response, doc, &mut codes);
            let status: u16 = status.parse().unwrap_or_else(|_| panic!("{}: status {status:?} is not a number", op.id));
            for code in codes {
                documented.entry(code).or_default().push((op.id.clone(), status));
            }
        }
    }
    documented
}

#[test]
fn every_error_code_is_documented_under_its_status() {
    let doc = openapi();
    let in_source: BTreeSet<String> = ALL_CODES.iter().map(|&code| code.to_owned()).collect();
    assert!(!in_source.is_empty(), "ALL_CODES of shared/domain/src/error.rs is empty");
    let samples = Error::one_of_each();
    let sampled: BTreeSet<String> = samples.iter().map(|e| e.code().to_owned()).collect();
    assert_eq!(
        sampled, in_source,
        "Error::one_of_each() must hold one sample of each Error variant of shared/domain/src/error.rs"
    );

    let enumerated: BTreeSet<String> = doc["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .expect("components.schemas.ErrorCode.enum")
        .iter()
        .map(|c| c.as_str().expect("codes are strings").to_owned())
        .collect();
    assert_eq!(
        enumerated, in_source,
        "{OPENAPI} ErrorCode.enum must list exactly the codes of Error::code() (ALL_CODES)"
    );

    let documented = documented_error_codes(&doc);
    let unknown: Vec<&String> = documented.keys().filter(|code| !in_source.contains(*code)).collect();
    assert!(unknown.is_empty(), "{OPENAPI} documents error codes the service never returns: {unknown:?}");

    for error in &samples {
        let code = error.code();
        let answer = TestResponse::from(shared::http::error_response(error));
        if let Err(e) = validate(&doc, &json!({"$ref": "#/components/schemas/Error"}), &answer.json) {
            panic!("{code}: the error body does not match components.schemas.Error: {e}\n{}", answer.json);
        }
        let places = documented.get(code).unwrap_or_else(|| {
            panic!("{code} ({}) is listed under no operation's responses in {OPENAPI}", answer.status)
        });
        for (operation_id, status) in places {
            assert_eq!(
                *status, answer.status,
                "{operation_id} documents {code} under {status}, but shared/src/http.rs answers {}",
                answer.status
            );
            check_documented(&doc, &operation(&doc, operation_id), &answer);
        }
    }
}

/// The Rust enum of the API and the JSON names of its values, as its `ALL` lists them and
/// `to_json` (serde) writes them.
fn wire_names<T: Copy>(all: &[T], to_json: fn(T) -> serde_json::Result<Value>) -> (&'static str, BTreeSet<String>) {
    let name = |value| match to_json(value) {
        Ok(Value::String(name)) => name,
        other => panic!("{} serialises to {other:?}, not a string", std::any::type_name::<T>()),
    };
    (std::any::type_name::<T>(), all.iter().copied().map(name).collect())
}

#[test]
fn documented_enums_match_the_rust_enums() {
    let doc = openapi();
    for (schema, (rust_enum, names)) in [
        ("PasswordViolation", wire_names(api::error::Violation::ALL, serde_json::to_value)),
        ("Purpose", wire_names(api::verification::Purpose::ALL, serde_json::to_value)),
        ("Channel", wire_names(api::verification::Channel::ALL, serde_json::to_value)),
        ("MfaMethod", wire_names(api::session::MfaMethod::ALL, serde_json::to_value)),
        ("SecondFactor", wire_names(api::two_factor::SecondFactor::ALL, serde_json::to_value)),
    ] {
        let documented: BTreeSet<String> = doc["components"]["schemas"][schema]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{OPENAPI}: components.schemas.{schema}.enum"))
            .iter()
            .map(|v| v.as_str().expect("strings").to_owned())
            .collect();
        assert_eq!(documented, names, "{OPENAPI} {schema} against {rust_enum}");
    }
}
