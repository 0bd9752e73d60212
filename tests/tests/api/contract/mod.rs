//! The API contract, `infra/openapi.yaml`, held against the code:
//!
//! - `routes`: the routes of `template.yaml` (HttpApi events), of the document and of Cargo.toml's
//!   `cargo lambda watch` router are the same (method, path, function) triples, and every
//!   operation maps to a real handler (`handlers`);
//! - `examples`: every request example of the document is accepted by its handler (not refused
//!   as malformed), with a real session where the operation needs one;
//! - `errors`: every error code of `shared/domain/src/error.rs` is documented, under the status
//!   that `shared/src/http.rs` gives it, with the body it really has; the document's enums are
//!   the API's (`shared::api`);
//! - `ids`: a 3,000-character id or token anywhere a route takes one is refused by the schema
//!   and answered with a documented 4xx;
//! - `answers`: the answers along a sign-up, a sign-in with two-factor authentication and the
//!   account routes match the documented status, schema and headers.
//!
//! `document` reads the document and checks values against its schemas with the `jsonschema`
//! crate (JSON Schema 2020-12, the dialect of OpenAPI 3.1); formats are not asserted.

mod answers;
mod document;
mod errors;
mod examples;
mod handlers;
mod ids;
mod routes;

use integration_tests::{new_email, Stack, TestRequest};
use serde_json::{json, Value};
use shared::Timestamp;
use totp_rs::{Algorithm, Secret, TOTP};

const PASSWORD: &str = "Tr0ub4dor&3-horse";

fn post(path: &str, body: Value) -> TestRequest {
    TestRequest::post(path, body)
}

/// What an authenticator app shows for `secret` at `at` (Unix seconds).
fn authenticator_code(secret: &str, at: u64) -> String {
    let bytes = Secret::Encoded(secret.to_owned()).to_bytes().expect("base32 secret");
    TOTP::new_unchecked(Algorithm::SHA1, 6, 1, 30, bytes, None, String::new()).generate(at)
}

/// Turns on an authenticator app for the session's account: (its secret, the recovery codes).
async fn enable_totp(stack: &Stack, session: &str) -> (String, Vec<String>) {
    let start =
        TestRequest::post("/v1/account/two-factor", json!({"method": "totp", "password": PASSWORD})).bearer(session);
    let started = stack.call(enable_2fa::handle, start).await;
    assert_eq!(started.status, 200, "{}", started.json);
    let secret = started.json["secret"].as_str().unwrap().to_owned();
    let code = authenticator_code(&secret, Timestamp::now().0 as u64);
    let confirm = TestRequest::post("/v1/account/two-factor/confirm", json!({ "code": code })).bearer(session);
    let enabled = stack.call(enable_2fa::handle, confirm).await;
    assert_eq!(enabled.status, 200, "{}", enabled.json);
    let codes = enabled.json["recovery_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned());
    (secret, codes.collect())
}

/// The session of a person just signed up by phone.
async fn new_session(stack: &Stack) -> String {
    let contact = integration_tests::new_phone();
    stack.sign_up(&contact, PASSWORD).await;
    stack.session(&contact.canonical(), PASSWORD).await
}

async fn add_recovery_email(stack: &Stack, session: &str) {
    let token = stack.verified_token(&new_email(), "add_contact").await;
    let request = TestRequest::post(
        "/v1/account/recovery-contacts",
        json!({ "verification_token": token, "password": PASSWORD }),
    )
    .bearer(session);
    let added = stack.call(add_recovery_contact::handle, request).await;
    assert_eq!(added.status, 201, "{}", added.json);
}
