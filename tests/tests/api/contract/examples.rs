//! Every request example of the document is accepted by its handler.

use integration_tests::faults::{Fault, Faults};
use integration_tests::oidc::{RelyingParty, SETTINGS};
use integration_tests::{sdk_config, Stack, TestRequest, TestResponse};
use serde_json::{json, Value};
use shared::domain::{Contact, EmailAddress, PhoneNumber};

use super::document::{check_documented, openapi, operations, resolve, validate, Operation, FORM};
use super::handlers::handler;
use super::{add_recovery_email, enable_totp, new_session};

pub(super) fn parameters<'a>(doc: &'a Value, op: &'a Operation) -> Vec<&'a Value> {
    let listed = |node: &'a Value| node["parameters"].as_array().into_iter().flatten().map(|p| resolve(doc, p));
    listed(&op.path_item).chain(listed(&op.spec)).collect()
}

fn parameter_example(parameter: &Value) -> Option<String> {
    let example = parameter
        .get("example")
        .or_else(|| parameter["examples"].as_object().and_then(|e| e.values().next()).map(|e| &e["value"]))
        .or_else(|| parameter["schema"]["examples"].get(0))?;
    Some(example.as_str().map(str::to_owned).unwrap_or_else(|| example.to_string()))
}

/// The request body examples of an operation; one `None` for an operation without a body.
pub(super) fn request_examples(op: &Operation) -> Vec<(String, Option<Value>)> {
    let Some(body) = op.spec.get("requestBody") else { return vec![("no body".to_owned(), None)] };
    let media = &body["content"][op.media()];
    let mut examples: Vec<(String, Option<Value>)> = media["examples"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, example)| (name.clone(), Some(example["value"].clone())))
        .collect();
    examples.extend(media.get("example").map(|example| ("example".to_owned(), Some(example.clone()))));
    assert!(!examples.is_empty(), "{}: give its request body at least one example", op.id);
    examples
}

/// The request an example describes: method, path and body, path parameters and headers
/// from the parameters' examples.
fn example_request(doc: &Value, op: &Operation, body: Option<&Value>) -> TestRequest {
    request_with(doc, op, body, None)
}

/// The request an example describes, with the value of one parameter (path, header or query) replaced.
pub(super) fn request_with(
    doc: &Value,
    op: &Operation,
    body: Option<&Value>,
    replaced: Option<(&str, &str)>,
) -> TestRequest {
    let mut path = op.path.clone();
    let mut path_parameters = Vec::new();
    let mut headers = Vec::new();
    let mut query = Vec::new();
    for parameter in parameters(doc, op) {
        let name = parameter["name"].as_str().expect("a parameter has a name");
        let example = match replaced {
            Some((replaced, value)) if replaced == name => Some(value.to_owned()),
            _ => parameter_example(parameter),
        };
        match parameter["in"].as_str() {
            Some("path") => {
                let value = example.unwrap_or_else(|| panic!("{}: path parameter {name} needs an example", op.id));
                path = path.replace(&format!("{{{name}}}"), &value);
                path_parameters.push((name, value));
            }
            Some("header") => headers.extend(example.map(|value| (name, value))),
            Some("query") => query.extend(example.map(|value| format!("{name}={value}"))),
            other => panic!("{}: parameters in {other:?} are not supported by this test yet", op.id),
        }
    }
    if !query.is_empty() {
        path = format!("{path}?{}", query.join("&"));
    }
    let mut request = match (op.method.as_str(), body) {
        ("POST", Some(body)) if op.media() == FORM => {
            let fields = body.as_object().unwrap_or_else(|| panic!("{}: a form example is an object", op.id));
            let text = |value: &Value| value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string());
            let pairs = fields.iter().map(|(name, value)| (name, text(value)));
            let form = form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
            TestRequest::post_raw(&path, &form).header("content-type", FORM)
        }
        ("POST", Some(body)) => TestRequest::post(&path, body.clone()),
        ("POST", None) => TestRequest::post_raw(&path, ""),
        ("PUT", Some(body)) => TestRequest::post(&path, body.clone()).method("PUT"),
        ("DELETE", Some(body)) => TestRequest::post(&path, body.clone()).method("DELETE"),
        ("GET", None) => TestRequest::get(&path),
        ("DELETE", None) => TestRequest::delete(&path),
        (method, body) => panic!(
            "{}: the harness cannot build {method} with body {body:?} yet; extend TestRequest in tests/src/lib.rs",
            op.id
        ),
    };
    for (name, value) in path_parameters {
        request = request.path_parameter(name, &value);
    }
    for (name, value) in headers {
        request = request.header(name, &value);
    }
    request
}

/// The contact a sign-in body names, so the example can be given an account to sign in to.
fn login_of(body: &Value) -> Contact {
    let login = body["login"].as_str().expect("a sign-in example has a login");
    if login.contains('@') {
        Contact::Email(EmailAddress::parse(login).expect("the example's login is an email"))
    } else {
        Contact::Phone(
            PhoneNumber::parse(body["country_code"].as_str(), login).expect("the example's login is a phone"),
        )
    }
}

/// The request of an example, with what it acts on made first on `stack`: a fresh CAPTCHA
/// solution, a signed-in session (checking the route refuses a request without one), an account
/// to sign in to, 2FA or a recovery email where the example needs them, and for the OAuth
/// endpoints the app with a fresh challenge, code or token.
async fn prepared(stack: &Stack, doc: &Value, op: &Operation, body: Option<Value>) -> TestRequest {
    let handler = handler(&op.id);
    let mut body = body;
    if let Some(captcha) = body.as_mut().and_then(|b| b.get_mut("captcha")) {
        // A solution works once and expires: the example's stands for a fresh one.
        *captcha = json!(stack.solved_captcha().await);
    }
    // Without a signing key the deployment is no provider yet: its routes answer 404.
    let app = match op.function.starts_with("oidc") {
        true => Some(RelyingParty::register(stack).await),
        false => None,
    };
    let mut session = None;
    if op.needs_session() {
        let anonymous = handler.call(stack, example_request(doc, op, body.as_ref())).await;
        assert_eq!(
            (anonymous.status, anonymous.error_code()),
            (401, "unauthorized"),
            "{} is documented as needing a session",
            op.id
        );
        check_documented(doc, op, &anonymous);
        let signed_in = new_session(stack).await;
        // What the example acts on.
        match op.id.as_str() {
            "regenerate-recovery-codes" => {
                enable_totp(stack, &signed_in).await;
            }
            "remove-recovery-contact" => add_recovery_email(stack, &signed_in).await,
            _ => {}
        }
        session = Some(signed_in);
    }
    if op.id == "sign-in" {
        // Something to sign in to: a malformed login would answer 401 like a wrong password.
        let body = body.as_ref().expect("sign-in has a body");
        stack.sign_up(&login_of(body), body["password"].as_str().expect("a password")).await;
    }
    let (id, authorization) = match &app {
        Some(app) => for_the_app(stack, app, op, body.as_mut(), session.as_deref()).await,
        None => (None, None),
    };
    let mut request = request_with(doc, op, body.as_ref(), id.as_deref().map(|id| ("id", id)));
    if let Some(session) = session {
        request = request.bearer(&session);
    }
    if let Some(authorization) = authorization {
        request = request.header("authorization", &authorization);
    }
    request
}

/// What an OAuth example acts on, made on `stack` for `app`: in place of the example's values a fresh interaction id (the first value),
/// code or refresh token, and the credentials the route takes (the `Authorization` header, the
/// second value). The examples' `redirect_uri` and `code_verifier` are the app's.
async fn for_the_app(
    stack: &Stack,
    app: &RelyingParty<'_>,
    op: &Operation,
    body: Option<&mut Value>,
    session: Option<&str>,
) -> (Option<String>, Option<String>) {
    match op.id.as_str() {
        "oidc-discovery" | "oidc-jwks" => (None, None),
        "oidc-userinfo" | "oidc-userinfo-post" => {
            let tokens = app.tokens(&new_session(stack).await).await;
            (None, Some(format!("Bearer {}", tokens.json["access_token"].as_str().expect("an access token"))))
        }
        "oidc-interaction" | "oidc-interaction-login" | "oidc-interaction-reject" => {
            (Some(app.login_challenge("example", "n-example").await), None)
        }
        "oidc-interaction-consent" => {
            (Some(app.consent_challenge(session.expect("consent is given with a session")).await), None)
        }
        "oidc-token" | "oidc-revoke" => {
            let body = body.expect("a form");
            if body.get("code").is_some() {
                body["code"] = json!(app.code(&new_session(stack).await, "example").await);
            }
            for name in ["refresh_token", "token"] {
                if body.get(name).is_some() {
                    body[name] = app.tokens(&new_session(stack).await).await.json["refresh_token"].clone();
                }
            }
            assert!(op.takes("clientSecretBasic"), "{}: the app is a confidential client", op.id);
            (None, Some(app.basic(&app.secret)))
        }
        other => panic!("{other}: say in examples.rs what its example acts on"),
    }
}

/// A refusal an example must never meet: it would mean the example is not a valid request. The
/// OAuth examples are given everything they act on, so any refusal of theirs is one.
fn refused(op: &Operation, answer: &TestResponse) -> bool {
    if op.function.starts_with("oidc") {
        return answer.status >= 400;
    }
    matches!(
        (answer.status, answer.error_code()),
        (400, "invalid_request" | "invalid_phone" | "invalid_email" | "unsupported_region")
            | (401, "invalid_credentials" | "unauthorized")
            | (403, "captcha_failed")
            | (413, _)
    )
}

/// Every route, as its first example calls it, while DynamoDB is throttled: a documented 503
/// with `Retry-After` (every route reads or writes the table; the OAuth ones read the signing keyring
/// when their provider is first built), never a 500 nor another answer;
/// and the same request, sent again once the fault clears, is accepted as without the fault
/// (the throttled calls changed nothing, so no CAPTCHA, token or code was used up).
#[tokio::test]
async fn every_route_answers_503_while_dynamodb_is_throttled_and_works_once_it_clears() {
    let doc = openapi();
    for op in operations(&doc) {
        let handler = handler(&op.id);
        let (_, body) = request_examples(&op).into_iter().next().expect("an example");
        let faults = Faults::default();
        let stack = Stack::with_sdk(faults.inject(sdk_config().await), &SETTINGS).await;
        let request = prepared(&stack, &doc, &op, body).await;
        faults.set("dynamodb:", Fault::Throttle);
        let answer = handler.call(&stack, request.clone()).await;
        faults.clear();
        assert_eq!((answer.status, answer.error_code()), (503, "service_unavailable"), "{}: {}", op.id, answer.json);
        assert!(answer.headers.contains_key("retry-after"), "{}", op.id);
        check_documented(&doc, &op, &answer);
        let again = handler.call(&stack, request).await;
        assert!(!refused(&op, &again) && again.status < 500, "{} sent again: {} {}", op.id, again.status, again.json);
        check_documented(&doc, &op, &again);
        stack.assert_consistent().await;
    }
}

#[tokio::test]
async fn every_request_example_is_accepted_by_its_handler() {
    let doc = openapi();
    let mut checked = 0;
    for op in operations(&doc) {
        let handler = handler(&op.id);
        for (name, body) in request_examples(&op) {
            if let Some(body) = &body {
                if let Err(e) = validate(&doc, op.body_schema(), body) {
                    panic!("{} example {name:?} does not match its own schema: {e}", op.id);
                }
            }
            // A table per example, so that limits of one never refuse another.
            let stack = Stack::with_settings(&SETTINGS).await;
            let request = prepared(&stack, &doc, &op, body).await;
            let answer = handler.call(&stack, request).await;
            assert!(
                !refused(&op, &answer),
                "{} refused its example {name:?}: {} {}",
                op.id,
                answer.status,
                answer.json
            );
            assert!(answer.status < 500, "{} example {name:?}: {} {}", op.id, answer.status, answer.json);
            check_documented(&doc, &op, &answer);
            checked += 1;
        }
    }
    assert!(checked > 0);
}
