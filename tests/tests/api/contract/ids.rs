//! Bad ids are a 4xx: every id or token an operation takes (path and header parameters, body
//! fields named `id`, `*_id` or `*_token`, and the session token) is checked for length and
//! alphabet before it reaches DynamoDB, and the document's schema states the same limits. Each
//! of them in every request example is made 3,000 characters long in turn: the schema refuses
//! it, and so does the handler, with a documented 4xx. The inputs come from the document, so a
//! new route's ids are covered through its examples.

use std::fmt;

use integration_tests::oidc::{RelyingParty, SETTINGS};
use integration_tests::{Stack, TestRequest};
use serde_json::Value;

use super::document::{check_documented, openapi, operations, resolve, validate, Operation};
use super::examples::{parameters, request_examples, request_with};
use super::handlers::handler;
use super::new_session;

fn is_id(name: &str) -> bool {
    name == "id" || name.ends_with("_id") || name.ends_with("_token") || name.eq_ignore_ascii_case("idempotency-key")
}

enum Place {
    Parameter(String),
    Body(String),
    SessionToken,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Parameter(name) | Place::Body(name) => f.write_str(name),
            Place::SessionToken => f.write_str("session token"),
        }
    }
}

/// Where an example of `op` takes an id.
fn places(doc: &Value, op: &Operation, body: Option<&Value>) -> Vec<Place> {
    let mut places: Vec<Place> = parameters(doc, op)
        .into_iter()
        .filter(|p| p["in"] == "path" || p["name"].as_str().is_some_and(is_id))
        .map(|p| Place::Parameter(p["name"].as_str().unwrap().to_owned()))
        .collect();
    if let Some(Value::Object(fields)) = body {
        places.extend(fields.keys().filter(|name| is_id(name)).map(|name| Place::Body(name.clone())));
    }
    if op.needs_session() {
        places.push(Place::SessionToken);
    }
    places
}

/// The example's request with `long` at `place`, and whether the document's schema refuses it
/// (`None` for the session token, which is no parameter: the security scheme gives its form).
fn lengthened(
    doc: &Value,
    op: &Operation,
    body: Option<&Value>,
    place: &Place,
    long: &str,
) -> (TestRequest, Option<bool>) {
    match place {
        Place::Parameter(name) => {
            let parameter = parameters(doc, op).into_iter().find(|p| p["name"] == name.as_str()).unwrap();
            let refused = validate(doc, &parameter["schema"], &Value::String(long.to_owned())).is_err();
            (request_with(doc, op, body, Some((name, long))), Some(refused))
        }
        Place::Body(name) => {
            let mut body = body.cloned().expect("a body field is in a body");
            body[name.as_str()] = Value::String(long.to_owned());
            let schema = op.body_schema();
            (request_with(doc, op, Some(&body), None), Some(validate(doc, schema, &body).is_err()))
        }
        Place::SessionToken => {
            let scheme = resolve(doc, &doc["components"]["securitySchemes"]["sessionToken"]);
            assert_eq!(scheme["scheme"], "bearer", "the session token is a bearer token");
            (request_with(doc, op, body, None), None)
        }
    }
}

#[tokio::test]
async fn a_three_thousand_character_id_is_a_4xx_on_every_route() {
    let doc = openapi();
    let mut covered = Vec::new();
    for op in operations(&doc) {
        let handler = handler(&op.id);
        let stack = Stack::with_settings(&SETTINGS).await;
        let session = match op.needs_session() {
            true => Some(new_session(&stack).await),
            false => None,
        };
        // The OAuth routes of a provider with its key, and the app's own credentials, so that
        // the long id is what they refuse (not a missing provider or client).
        let app = match op.function.starts_with("oidc") {
            true => Some(RelyingParty::register(&stack).await),
            false => None,
        };
        let client = app.as_ref().filter(|_| op.takes("clientSecretBasic")).map(|app| app.basic(&app.secret));
        for (example, body) in request_examples(&op) {
            for place in places(&doc, &op, body.as_ref()) {
                // Headers and paths are ASCII on the wire; a JSON body can hold anything.
                let mut values = vec!["A".repeat(3000)];
                if let Place::Body(_) = place {
                    values.push("é".repeat(3000));
                }
                for long in values {
                    let (mut request, schema_refuses) = lengthened(&doc, &op, body.as_ref(), &place, &long);
                    request = match (&place, &session) {
                        (Place::SessionToken, _) => request.bearer(&long),
                        (_, Some(session)) => request.bearer(session),
                        (_, None) => request,
                    };
                    if let Some(client) = &client {
                        request = request.header("authorization", client);
                    }
                    assert_ne!(
                        schema_refuses,
                        Some(false),
                        "{} ({example}): the schema of {place} allows 3,000 characters",
                        op.id
                    );
                    let answer = handler.call(&stack, request).await;
                    assert!(
                        (400..500).contains(&answer.status) && answer.status != 413,
                        "{} ({example}): a 3,000-character {place} answered {} {}",
                        op.id,
                        answer.status,
                        answer.json
                    );
                    assert!(
                        app.is_none() || answer.status != 404,
                        "{} ({example}): the provider did not answer the 3,000-character {place}: {}",
                        op.id,
                        answer.json
                    );
                    check_documented(&doc, &op, &answer);
                }
                covered.push(format!("{} {place}", op.id));
            }
        }
    }
    // What the issue names, so that a document losing its examples cannot pass unnoticed.
    for expected in [
        "verify-code verification_id",
        "create-account Idempotency-Key",
        "create-account verification_token",
        "sign-in device_token",
        "sign-in-mfa challenge_id",
        "sign-in-mfa-sms challenge_id",
        "reset-password verification_token",
        "reset-password-mfa challenge_id",
        "reset-password-mfa verification_token",
        "add-recovery-contact verification_token",
        "revoke-session id",
        "list-sessions session token",
        "oidc-interaction id",
        "oidc-interaction-login session token",
        "oidc-token refresh_token",
    ] {
        assert!(covered.iter().any(|c| c == expected), "{expected} is not covered: {covered:?}");
    }
}
