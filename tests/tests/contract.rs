//! The API contract, `infra/openapi.yaml`, held against the code:
//!
//! - the routes of `template.yaml` (HttpApi events), of the document and of Cargo.toml's
//!   `cargo lambda watch` router are the same (method, path, function) triples;
//! - every operation maps to a real handler, and every request example of the document is
//!   accepted by it (not refused as malformed), with a real session where the operation
//!   needs one;
//! - every error code of `shared/domain/src/error.rs` is documented, under the status that
//!   `shared/src/http.rs` gives it, with the body it really has, and the document's enums are
//!   the API's (`shared::api`);
//! - the answers along a sign-up, a sign-in with two-factor authentication and the account
//!   routes match the documented status, schema and headers.
//!
//! The schema checks cover the JSON Schema keywords the document uses, except `pattern` and
//! `format` (no regex engine among the test dependencies).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use integration_tests::outbox::last_code_to;
use integration_tests::{new_email, new_phone, Stack, TestRequest, TestResponse};
use serde_json::{json, Value};
use shared::api;
use shared::domain::error::ALL_CODES;
use shared::domain::{Contact, EmailAddress, PhoneNumber};
use shared::{Error, Timestamp};
use totp_rs::{Algorithm, Secret, TOTP};

const OPENAPI: &str = "infra/openapi.yaml";
const PASSWORD: &str = "Tr0ub4dor&3-horse";

fn repo_file(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The OpenAPI document as JSON values, so that schemas, examples and answers compare alike.
fn openapi() -> Value {
    let yaml: serde_yaml::Value =
        serde_yaml::from_str(&repo_file(OPENAPI)).unwrap_or_else(|e| panic!("{OPENAPI} does not parse: {e}"));
    serde_json::to_value(yaml).unwrap_or_else(|e| panic!("{OPENAPI} is not JSON-compatible: {e}"))
}

/// Follows local `$ref`s (`#/components/...`).
fn resolve<'a>(doc: &'a Value, mut node: &'a Value) -> &'a Value {
    while let Some(reference) = node.get("$ref").and_then(Value::as_str) {
        let pointer =
            reference.strip_prefix('#').unwrap_or_else(|| panic!("only local $refs are supported: {reference}"));
        node = doc.pointer(pointer).unwrap_or_else(|| panic!("{OPENAPI}: dangling $ref {reference}"));
    }
    node
}

// ---------------------------------------------------------------------------------------------
// Routes

/// (METHOD, path, function name).
type Route = (String, String, String);

fn template_routes() -> BTreeSet<Route> {
    let template: serde_yaml::Value = serde_yaml::from_str(&repo_file("template.yaml")).expect("template.yaml parses");
    let mut routes = BTreeSet::new();
    for (id, resource) in template["Resources"].as_mapping().expect("template.yaml has Resources") {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let id = id.as_str().unwrap_or("?");
        for event in resource["Properties"]["Events"].as_mapping().into_iter().flat_map(|events| events.values()) {
            if event["Type"].as_str() != Some("HttpApi") {
                continue;
            }
            let function = resource["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap_or_else(|| {
                panic!("template.yaml: {id} has an HttpApi event but no Metadata.BuildProperties.Binary")
            });
            let field = |name: &str| {
                event["Properties"][name]
                    .as_str()
                    .unwrap_or_else(|| panic!("template.yaml: an HttpApi event of {id} has no literal {name}"))
                    .to_owned()
            };
            routes.insert((field("Method").to_ascii_uppercase(), field("Path"), function.to_owned()));
        }
    }
    routes
}

/// `[workspace.metadata.lambda.watch.router]` of Cargo.toml, read with string handling only
/// (the `toml` crate is not a test dependency). Entries look like
/// `"/v1/accounts" = [{ method = "POST", function = "create-account" }]`.
fn cargo_router_routes() -> BTreeSet<Route> {
    const HEADER: &str = "[workspace.metadata.lambda.watch.router]";
    let text = repo_file("Cargo.toml");
    let start = text
        .lines()
        .position(|line| line.trim() == HEADER)
        .unwrap_or_else(|| panic!("Cargo.toml has no {HEADER} section"));
    let mut section = String::new();
    for line in text.lines().skip(start + 1) {
        let line = line.trim();
        if line.starts_with('[') && !line.contains('=') {
            break; // the next table header
        }
        if !line.starts_with('#') {
            section.push_str(line);
            section.push('\n');
        }
    }

    let quoted = |text: &str| text.trim().strip_prefix('"').and_then(|t| t.strip_suffix('"')).map(str::to_owned);
    let mut routes = BTreeSet::new();
    let mut rest = section.as_str();
    while let Some((key, value)) = rest.split_once('=') {
        let path = quoted(key).unwrap_or_else(|| panic!("Cargo.toml router: expected a quoted path, got {key:?}"));
        let array = value
            .trim_start()
            .strip_prefix('[')
            .unwrap_or_else(|| panic!("Cargo.toml router: {path} must map to an array of {{ method, function }}"));
        let (array, tail) = array.split_once(']').unwrap_or_else(|| panic!("Cargo.toml router: {path}: no closing ]"));
        for table in array.split('}').filter_map(|t| t.split_once('{').map(|(_, inner)| inner)) {
            let mut fields = BTreeMap::new();
            for pair in table.split(',').filter(|p| !p.trim().is_empty()) {
                let (name, value) =
                    pair.split_once('=').unwrap_or_else(|| panic!("Cargo.toml router: {path}: cannot read {pair:?}"));
                let value = quoted(value)
                    .unwrap_or_else(|| panic!("Cargo.toml router: {path}: {} must be a string", name.trim()));
                fields.insert(name.trim().to_owned(), value);
            }
            let field = |name: &str| {
                fields.get(name).cloned().unwrap_or_else(|| panic!("Cargo.toml router: {path}: an entry has no {name}"))
            };
            routes.insert((field("method").to_ascii_uppercase(), path.clone(), field("function")));
        }
        rest = tail;
    }
    routes
}

struct Operation {
    id: String,
    /// The Lambda function (cargo binary) serving it: `x-function`, else the operationId.
    function: String,
    method: String,
    path: String,
    path_item: Value,
    spec: Value,
}

impl Operation {
    fn needs_session(&self) -> bool {
        self.spec["security"].as_array().is_some_and(|schemes| !schemes.is_empty())
    }
}

fn operations(doc: &Value) -> Vec<Operation> {
    const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap_or_else(|| panic!("{OPENAPI} has no paths")) {
        let item = resolve(doc, item);
        for (method, spec) in item.as_object().into_iter().flatten().filter(|(m, _)| METHODS.contains(&m.as_str())) {
            let id = spec["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{OPENAPI}: {method} {path} has no operationId"))
                .to_owned();
            found.push(Operation {
                function: spec["x-function"].as_str().unwrap_or(&id).to_owned(),
                id,
                method: method.to_ascii_uppercase(),
                path: path.clone(),
                path_item: item.clone(),
                spec: spec.clone(),
            });
        }
    }
    found
}

fn operation(doc: &Value, id: &str) -> Operation {
    operations(doc).into_iter().find(|op| op.id == id).unwrap_or_else(|| panic!("{OPENAPI} has no operation {id}"))
}

fn openapi_routes(doc: &Value) -> BTreeSet<Route> {
    operations(doc).into_iter().map(|op| (op.method, op.path, op.function)).collect()
}

#[test]
fn template_openapi_and_local_router_have_the_same_routes() {
    let template = template_routes();
    let openapi = openapi_routes(&openapi());
    let router = cargo_router_routes();
    assert!(!template.is_empty(), "no HttpApi routes found in template.yaml");

    let mut problems = Vec::new();
    for (name, routes) in [(OPENAPI, &openapi), ("Cargo.toml [workspace.metadata.lambda.watch.router]", &router)] {
        for missing in template.difference(routes) {
            problems.push(format!("{name} lacks {missing:?}, which template.yaml serves"));
        }
        for extra in routes.difference(&template) {
            problems.push(format!("{name} has {extra:?}, which template.yaml does not serve"));
        }
    }
    assert!(problems.is_empty(), "routes disagree (METHOD, path, function):\n  {}", problems.join("\n  "));
}

#[test]
fn operation_ids_are_unique() {
    let mut seen = BTreeSet::new();
    for op in operations(&openapi()) {
        assert!(seen.insert(op.id.clone()), "{OPENAPI}: operationId {} is used twice", op.id);
    }
}

// ---------------------------------------------------------------------------------------------
// Handlers

#[derive(Debug, Clone, Copy)]
enum Handler {
    Captcha,
    RequestCode,
    VerifyCode,
    CreateAccount,
    SignIn,
    ResetPassword,
    AddRecoveryContact,
    EnableTwoFactor,
    ManageAccount,
}

/// The handler serving an operation. A new operation must be added here, so that its
/// examples and answers are checked like the others'.
fn handler(operation_id: &str) -> Handler {
    match operation_id {
        "captcha" => Handler::Captcha,
        "request-code" => Handler::RequestCode,
        "verify-code" => Handler::VerifyCode,
        "create-account" => Handler::CreateAccount,
        "sign-in" | "sign-in-mfa" | "sign-in-mfa-sms" | "sign-out" | "sign-out-everywhere" => Handler::SignIn,
        "reset-password" | "reset-password-mfa" | "reset-password-mfa-sms" => Handler::ResetPassword,
        "add-recovery-contact" => Handler::AddRecoveryContact,
        "enable-2fa" | "enable-2fa-confirm" => Handler::EnableTwoFactor,
        "manage-account"
        | "change-password"
        | "remove-recovery-contact"
        | "disable-2fa"
        | "regenerate-recovery-codes"
        | "list-sessions"
        | "revoke-session"
        | "delete-account" => Handler::ManageAccount,
        other => panic!(
            "operationId {other:?} of {OPENAPI} has no handler in tests/tests/contract.rs: \
             add it to `handler` (and a `Handler` variant for a new function)"
        ),
    }
}

impl Handler {
    /// The cargo binary, as template.yaml's BuildProperties.Binary names it.
    fn function(self) -> &'static str {
        match self {
            Handler::Captcha => "captcha",
            Handler::RequestCode => "request-code",
            Handler::VerifyCode => "verify-code",
            Handler::CreateAccount => "create-account",
            Handler::SignIn => "sign-in",
            Handler::ResetPassword => "reset-password",
            Handler::AddRecoveryContact => "add-recovery-contact",
            Handler::EnableTwoFactor => "enable-2fa",
            Handler::ManageAccount => "manage-account",
        }
    }

    async fn call(self, stack: &Stack, request: TestRequest) -> TestResponse {
        match self {
            Handler::Captcha => stack.call(captcha::handle, request).await,
            Handler::RequestCode => stack.call(request_code::handle, request).await,
            Handler::VerifyCode => stack.call(verify_code::handle, request).await,
            Handler::CreateAccount => stack.call(create_account::handle, request).await,
            Handler::SignIn => stack.call(sign_in::handle, request).await,
            Handler::ResetPassword => stack.call(reset_password::handle, request).await,
            Handler::AddRecoveryContact => stack.call(add_recovery_contact::handle, request).await,
            Handler::EnableTwoFactor => stack.call(enable_2fa::handle, request).await,
            Handler::ManageAccount => stack.call(manage_account::handle, request).await,
        }
    }
}

#[test]
fn every_operation_has_a_handler_of_its_function() {
    let operations = operations(&openapi());
    assert!(!operations.is_empty());
    for op in &operations {
        assert_eq!(handler(&op.id).function(), op.function, "{}: x-function and the test's handler disagree", op.id);
    }
}

fn parameters<'a>(doc: &'a Value, op: &'a Operation) -> Vec<&'a Value> {
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
fn request_examples(op: &Operation) -> Vec<(String, Option<Value>)> {
    let Some(body) = op.spec.get("requestBody") else { return vec![("no body".to_owned(), None)] };
    let media = &body["content"]["application/json"];
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
    let mut path = op.path.clone();
    let mut path_parameters = Vec::new();
    let mut headers = Vec::new();
    let mut query = Vec::new();
    for parameter in parameters(doc, op) {
        let name = parameter["name"].as_str().expect("a parameter has a name");
        let example = parameter_example(parameter);
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
        ("POST", Some(body)) => TestRequest::post(&path, body.clone()),
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

/// Checks that the status is documented for the operation, and that body and headers match it.
fn check_documented(doc: &Value, op: &Operation, answer: &TestResponse) {
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

/// Turns on an authenticator app for the session's account: (its secret, the recovery codes).
async fn enable_totp(stack: &Stack, session: &str) -> (String, Vec<String>) {
    let start = TestRequest::post("/v1/account/two-factor", json!({"method": "totp"})).bearer(session);
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

async fn add_recovery_email(stack: &Stack, session: &str) {
    let token = stack.verified_token(&new_email(), "add_contact").await;
    let request =
        TestRequest::post("/v1/account/recovery-contacts", json!({ "verification_token": token })).bearer(session);
    let added = stack.call(add_recovery_contact::handle, request).await;
    assert_eq!(added.status, 201, "{}", added.json);
}

#[tokio::test]
async fn every_request_example_is_accepted_by_its_handler() {
    let doc = openapi();
    let mut checked = 0;
    for op in operations(&doc) {
        let handler = handler(&op.id);
        for (name, body) in request_examples(&op) {
            if let Some(body) = &body {
                let schema = &op.spec["requestBody"]["content"]["application/json"]["schema"];
                if let Err(e) = validate(&doc, schema, body) {
                    panic!("{} example {name:?} does not match its own schema: {e}", op.id);
                }
            }
            // A table per example, so that limits of one never refuse another.
            let stack = Stack::new().await;
            let mut body = body;
            if let Some(captcha) = body.as_mut().and_then(|b| b.get_mut("captcha")) {
                // A solution works once and expires: the example's stands for a fresh one.
                *captcha = json!(stack.solved_captcha().await);
            }
            let mut request = example_request(&doc, &op, body.as_ref());
            if op.needs_session() {
                let anonymous = handler.call(&stack, example_request(&doc, &op, body.as_ref())).await;
                assert_eq!(
                    (anonymous.status, anonymous.error_code()),
                    (401, "unauthorized"),
                    "{} is documented as needing a session",
                    op.id
                );
                check_documented(&doc, &op, &anonymous);
                let contact = new_phone();
                stack.sign_up(&contact, PASSWORD).await;
                let session = stack.session(&contact.canonical(), PASSWORD).await;
                // What the example acts on.
                match op.id.as_str() {
                    "regenerate-recovery-codes" => {
                        enable_totp(&stack, &session).await;
                    }
                    "remove-recovery-contact" => add_recovery_email(&stack, &session).await,
                    _ => {}
                }
                request = request.bearer(&session);
            }
            if op.id == "sign-in" {
                // Something to sign in to: a malformed login would answer 401 like a wrong password.
                let body = body.as_ref().expect("sign-in has a body");
                stack.sign_up(&login_of(body), body["password"].as_str().expect("a password")).await;
            }
            let answer = handler.call(&stack, request).await;
            let refused = matches!(
                (answer.status, answer.error_code()),
                (400, "invalid_request" | "invalid_phone" | "invalid_email" | "unsupported_region")
                    | (401, "invalid_credentials" | "unauthorized")
                    | (403, "captcha_failed")
                    | (413, _)
            );
            assert!(!refused, "{} refused its example {name:?}: {} {}", op.id, answer.status, answer.json);
            assert!(answer.status < 500, "{} example {name:?}: {} {}", op.id, answer.status, answer.json);
            check_documented(&doc, &op, &answer);
            checked += 1;
        }
    }
    assert!(checked > 0);
}

// ---------------------------------------------------------------------------------------------
// Errors

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

// ---------------------------------------------------------------------------------------------
// Answers along the flows a frontend drives

/// Calls operations by id and checks every answer against the document.
struct Client<'a> {
    doc: &'a Value,
    stack: &'a Stack,
}

impl Client<'_> {
    /// Sends `request` to the operation's handler; the answer must have `status` and error
    /// `code` ("" for success) and match what the document says of that status.
    async fn expect(&self, id: &str, request: TestRequest, status: u16, code: &str) -> TestResponse {
        let op = operation(self.doc, id);
        let answer = handler(id).call(self.stack, request).await;
        assert_eq!((answer.status, answer.error_code()), (status, code), "{id}: {}", answer.json);
        check_documented(self.doc, &op, &answer);
        answer
    }
}

fn post(path: &str, body: Value) -> TestRequest {
    TestRequest::post(path, body)
}

fn confirm_request(id: &str, code: &str) -> TestRequest {
    post(&format!("/v1/verifications/{id}/confirm"), json!({ "code": code })).path_parameter("verification_id", id)
}

/// What an authenticator app shows for `secret` at `at` (Unix seconds).
fn authenticator_code(secret: &str, at: u64) -> String {
    let bytes = Secret::Encoded(secret.to_owned()).to_bytes().expect("base32 secret");
    TOTP::new_unchecked(Algorithm::SHA1, 6, 1, 30, bytes, None, String::new()).generate(at)
}

#[tokio::test]
async fn answers_along_a_sign_up_match_the_document() {
    let doc = openapi();
    let stack = Stack::with_settings(&[("RESEND_COOLDOWN_SECONDS", "0")]).await;
    let client = Client { doc: &doc, stack: &stack };

    let phone = new_phone();
    let Contact::Phone(number) = &phone else { unreachable!() };
    let ask = json!({"channel": "sms", "purpose": "sign_up", "phone": number.e164()});
    client.expect("captcha", TestRequest::get("/v1/captcha"), 200, "").await;
    client.expect("request-code", post("/v1/verifications", ask.clone()), 403, "captcha_failed").await;
    let solved = stack.with_captcha(ask.clone()).await;
    let sent = client.expect("request-code", post("/v1/verifications", solved.clone()), 202, "").await;
    client.expect("request-code", post("/v1/verifications", solved), 403, "captcha_failed").await;
    let id = sent.json["verification_id"].as_str().unwrap().to_owned();
    let code = last_code_to(&phone).expect("a code was sent");

    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    client.expect("verify-code", confirm_request(&id, &wrong), 400, "invalid_code").await;
    let confirmed = client.expect("verify-code", confirm_request(&id, &code), 200, "").await;
    client.expect("verify-code", confirm_request(&id, &code), 410, "verification_expired").await;
    let token = confirmed.json["verification_token"].as_str().unwrap();
    // A second token for the same phone while it has no account (afterwards no code is sent to it).
    let second = stack.verified_token(&phone, "sign_up").await;

    let create = |body: &Value, key: &str| post("/v1/accounts", body.clone()).header("Idempotency-Key", key);
    let weak = json!({"verification_token": token, "password": "password", "accept_terms": true});
    client.expect("create-account", create(&weak, "k-weak"), 422, "weak_password").await;
    let declined = json!({"verification_token": token, "password": PASSWORD, "accept_terms": false});
    client.expect("create-account", create(&declined, "k-declined"), 400, "terms_not_accepted").await;
    let body = json!({"verification_token": token, "password": PASSWORD, "accept_terms": true});
    let created = client.expect("create-account", create(&body, "k-1"), 201, "").await;
    let replayed = client.expect("create-account", create(&body, "k-1"), 201, "").await;
    assert_eq!(replayed.json, created.json);
    let mut changed = body.clone();
    changed["password"] = json!("Another-Pass-42");
    client.expect("create-account", create(&changed, "k-1"), 409, "idempotency_key_reused").await;
    client.expect("create-account", create(&body, "k-3"), 410, "verification_expired").await;

    // The same phone again: the same 202 as for a new one, and no second account.
    client.expect("request-code", post("/v1/verifications", stack.with_captcha(ask).await), 202, "").await;
    let duplicate = json!({"verification_token": second, "password": PASSWORD, "accept_terms": true});
    client.expect("create-account", create(&duplicate, "k-2"), 409, "already_registered").await;

    let huge = TestRequest::post_raw("/v1/verifications", &format!("{{\"pad\":\"{}\"}}", "x".repeat(17 * 1024)));
    client.expect("request-code", huge, 413, "payload_too_large").await;
}

#[tokio::test]
async fn answers_with_a_third_party_captcha_match_the_document() {
    let doc = openapi();
    // A provider nobody answers for: the port was free a moment ago.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/siteverify", closed.local_addr().unwrap());
    drop(closed);
    let stack = Stack::with_settings(&[
        ("CAPTCHA_PROVIDER", "turnstile"),
        ("CAPTCHA_SITE_KEY", "0x4AAAAAAADnPIDROrmt1Wwj"),
        ("CAPTCHA_SECRET_KEY", "0x4AAAAAAADnPIDROrmt1Wwj-secret"),
        ("CAPTCHA_VERIFY_URL", &url),
    ])
    .await;
    let client = Client { doc: &doc, stack: &stack };
    let widget = client.expect("captcha", TestRequest::get("/v1/captcha"), 200, "").await;
    assert_eq!(widget.json["provider"], "turnstile");
    let ask = json!({"channel": "email", "purpose": "sign_up", "email": "someone@example.com"});
    client.expect("request-code", post("/v1/verifications", ask.clone()), 403, "captcha_failed").await;
    let mut with_token = ask;
    with_token["captcha"] = json!("XXXX.DUMMY.TOKEN.XXXX");
    client.expect("request-code", post("/v1/verifications", with_token), 503, "captcha_unavailable").await;
}

#[tokio::test]
async fn a_rate_limited_answer_matches_the_document() {
    let doc = openapi();
    let stack = Stack::new().await;
    let client = Client { doc: &doc, stack: &stack };
    let Contact::Phone(number) = new_phone() else { unreachable!() };
    let ask = json!({"channel": "sms", "purpose": "sign_up", "phone": number.e164()});
    client.expect("request-code", post("/v1/verifications", stack.with_captcha(ask.clone()).await), 202, "").await;
    let again = post("/v1/verifications", stack.with_captcha(ask).await);
    let refused = client.expect("request-code", again, 429, "rate_limited").await;
    assert_eq!(refused.headers["retry-after"], refused.json["error"]["retry_after"].to_string());
}

#[tokio::test]
async fn answers_along_sign_in_and_the_account_routes_match_the_document() {
    let doc = openapi();
    let stack = Stack::with_settings(&[("RESEND_COOLDOWN_SECONDS", "0")]).await;
    let client = Client { doc: &doc, stack: &stack };
    let now = || Timestamp::now().0 as u64;

    let phone = new_phone();
    stack.sign_up(&phone, PASSWORD).await;
    let login = phone.canonical();
    let sign_in = |body: Value| post("/v1/sessions", body);
    client
        .expect("sign-in", sign_in(json!({"login": login, "password": "Wrong-Pass-123"})), 401, "invalid_credentials")
        .await;
    let signed_in = client.expect("sign-in", sign_in(json!({"login": login, "password": PASSWORD})), 201, "").await;
    let session = signed_in.json["session_token"].as_str().unwrap().to_owned();

    let page = || TestRequest::get("/v1/account");
    client.expect("manage-account", page(), 401, "unauthorized").await;
    client.expect("manage-account", page().bearer(&session), 200, "").await;

    // Recovery contacts.
    let add =
        |token: &str| post("/v1/account/recovery-contacts", json!({ "verification_token": token })).bearer(&session);
    let token = stack.verified_token(&new_email(), "add_contact").await;
    client.expect("add-recovery-contact", add(&token), 201, "").await;
    client.expect("add-recovery-contact", add(&token), 410, "verification_expired").await;
    let own = stack.verified_token(&phone, "add_contact").await;
    client.expect("add-recovery-contact", add(&own), 409, "contact_in_use").await;

    // An authenticator app as second factor.
    let start = |method: &str| post("/v1/account/two-factor", json!({ "method": method })).bearer(&session);
    let confirm = |code: &str| post("/v1/account/two-factor/confirm", json!({ "code": code })).bearer(&session);
    client.expect("enable-2fa-confirm", confirm("123456"), 410, "challenge_expired").await;
    let setup = client.expect("enable-2fa", start("totp"), 200, "").await;
    let secret = setup.json["secret"].as_str().unwrap().to_owned();
    client.expect("enable-2fa", start("totp"), 429, "rate_limited").await;
    let wrong = format!("{:06}", (authenticator_code(&secret, now()).parse::<u32>().unwrap() + 1) % 1_000_000);
    client.expect("enable-2fa-confirm", confirm(&wrong), 400, "invalid_code").await;
    let enabled = client.expect("enable-2fa-confirm", confirm(&authenticator_code(&secret, now())), 200, "").await;
    assert_eq!(enabled.json["recovery_codes"].as_array().unwrap().len(), 10);
    client.expect("enable-2fa", start("totp"), 409, "two_factor_already_enabled").await;
    client.expect("manage-account", page().bearer(&session), 200, "").await;

    // Signing in now takes the second factor.
    let challenge = client.expect("sign-in", sign_in(json!({"login": login, "password": PASSWORD})), 200, "").await;
    let challenge_id = challenge.json["challenge_id"].as_str().unwrap().to_owned();
    let sms = post("/v1/sessions/mfa/sms", json!({ "challenge_id": challenge_id }));
    client.expect("sign-in-mfa-sms", sms, 400, "invalid_request").await;
    let answer = json!({
        "challenge_id": challenge_id, "method": "totp",
        "code": authenticator_code(&secret, now() + 30), "remember_device": true,
    });
    let second = client.expect("sign-in-mfa", post("/v1/sessions/mfa", answer.clone()), 201, "").await;
    client.expect("sign-in-mfa", post("/v1/sessions/mfa", answer), 410, "challenge_expired").await;
    let device = second.json["device_token"].as_str().unwrap();
    let remembered = json!({"login": login, "password": PASSWORD, "device_token": device});
    let trusted = client.expect("sign-in", sign_in(remembered), 201, "").await;

    let trusted_session = trusted.json["session_token"].as_str().unwrap();
    let sign_out = || TestRequest::delete("/v1/sessions/current");
    client.expect("sign-out", sign_out(), 401, "unauthorized").await;
    client.expect("sign-out", sign_out().bearer(trusted_session), 204, "").await;
    client.expect("manage-account", page().bearer(trusted_session), 401, "unauthorized").await;
}

#[tokio::test]
async fn answers_along_sms_two_factor_match_the_document() {
    let doc = openapi();
    let stack = Stack::new().await;
    let client = Client { doc: &doc, stack: &stack };

    // An account with only an email cannot use SMS.
    let email = new_email();
    stack.sign_up(&email, PASSWORD).await;
    let email_session = stack.session(&email.canonical(), PASSWORD).await;
    let sms_setup = |session: &str| post("/v1/account/two-factor", json!({"method": "sms"})).bearer(session);
    client.expect("enable-2fa", sms_setup(&email_session), 400, "no_verified_phone").await;

    let phone = new_phone();
    stack.sign_up(&phone, PASSWORD).await;
    let session = stack.session(&phone.canonical(), PASSWORD).await;
    client.expect("enable-2fa", sms_setup(&session), 200, "").await;
    let setup_code = last_code_to(&phone).expect("a setup code was sent");
    let confirm = post("/v1/account/two-factor/confirm", json!({ "code": setup_code })).bearer(&session);
    client.expect("enable-2fa-confirm", confirm, 200, "").await;

    let body = json!({"login": phone.canonical(), "password": PASSWORD});
    let challenge = client.expect("sign-in", post("/v1/sessions", body), 200, "").await;
    let challenge_id = challenge.json["challenge_id"].as_str().unwrap().to_owned();
    let send =
        || post("/v1/sessions/mfa/sms", json!({ "challenge_id": challenge_id })).header("Accept-Language", "zh-CN");
    client.expect("sign-in-mfa-sms", send(), 202, "").await;
    client.expect("sign-in-mfa-sms", send(), 429, "rate_limited").await;
    let code = last_code_to(&phone).expect("a sign-in code was sent");
    let answer = json!({"challenge_id": challenge_id, "method": "sms", "code": code});
    client.expect("sign-in-mfa", post("/v1/sessions/mfa", answer), 201, "").await;
    let gone = post("/v1/sessions/mfa/sms", json!({ "challenge_id": challenge_id }));
    client.expect("sign-in-mfa-sms", gone, 410, "challenge_expired").await;
}

#[tokio::test]
async fn answers_along_password_reset_and_self_service_match_the_document() {
    let doc = openapi();
    let stack = Stack::with_settings(&[("RESEND_COOLDOWN_SECONDS", "0")]).await;
    let client = Client { doc: &doc, stack: &stack };
    const NEW_PASSWORD: &str = "Velvet-Harbor-2049";

    let phone = new_phone();
    stack.sign_up(&phone, PASSWORD).await;
    let login = phone.canonical();
    let old_session = stack.session(&login, PASSWORD).await;
    let page = |session: &str| TestRequest::get("/v1/account").bearer(session);
    let reset = |token: &str, password: &str| {
        post("/v1/password-resets", json!({ "verification_token": token, "password": password }))
    };

    // Forgot password, no 2FA: done at once, and every session is signed out.
    let token = stack.verified_token(&phone, "reset_password").await;
    client.expect("reset-password", reset(&token, "password"), 422, "weak_password").await;
    client.expect("reset-password", reset(&token, NEW_PASSWORD), 204, "").await;
    client.expect("reset-password", reset(&token, NEW_PASSWORD), 410, "verification_expired").await;
    client.expect("manage-account", page(&old_session), 401, "unauthorized").await;
    let session = stack.session(&login, NEW_PASSWORD).await;

    // Self-service.
    let manage = |request: TestRequest| request.bearer(&session);
    let change = |current: &str| {
        manage(post("/v1/account/password", json!({"current_password": current, "new_password": PASSWORD})))
            .method("PUT")
    };
    client.expect("change-password", change("Wrong-Pass-123"), 401, "invalid_credentials").await;
    client.expect("change-password", change(NEW_PASSWORD), 204, "").await;
    let listed = client.expect("list-sessions", manage(TestRequest::get("/v1/account/sessions")), 200, "").await;
    assert!(listed.json["sessions"].as_array().unwrap().iter().any(|s| s["current"] == true));
    let other = stack.session(&login, PASSWORD).await;
    let other_id = other.split('.').nth(1).unwrap();
    let revoke = manage(TestRequest::delete(&format!("/v1/account/sessions/{other_id}")));
    client.expect("revoke-session", revoke, 204, "").await;
    client.expect("manage-account", page(&other), 401, "unauthorized").await;
    let remove = |kind: &str| manage(TestRequest::delete(&format!("/v1/account/recovery-contacts/{kind}")));
    client.expect("remove-recovery-contact", remove("phone"), 409, "primary_contact").await;
    client.expect("remove-recovery-contact", remove("email"), 404, "not_found").await;
    add_recovery_email(&stack, &session).await;
    client.expect("remove-recovery-contact", remove("email"), 204, "").await;

    // With 2FA on, proof is needed, and a reset waits for a second factor.
    let (secret, recovery_codes) = enable_totp(&stack, &session).await;
    let regenerate = |proof: Value| manage(post("/v1/account/two-factor/recovery-codes", proof));
    client.expect("regenerate-recovery-codes", regenerate(json!({"code": "000000"})), 400, "invalid_code").await;
    let fresh = client.expect("regenerate-recovery-codes", regenerate(json!({ "password": PASSWORD })), 200, "").await;
    let fresh_code = fresh.json["recovery_codes"][0].as_str().unwrap().to_owned();
    assert!(!recovery_codes.contains(&fresh_code));

    let token = stack.verified_token(&phone, "reset_password").await;
    let challenge = client.expect("reset-password", reset(&token, NEW_PASSWORD), 200, "").await;
    let challenge_id = challenge.json["challenge_id"].as_str().unwrap().to_owned();
    let sms = post("/v1/password-resets/mfa/sms", json!({ "challenge_id": challenge_id }));
    client.expect("reset-password-mfa-sms", sms, 400, "invalid_request").await;
    let answer = |code: &str| {
        post("/v1/password-resets/mfa", json!({"challenge_id": challenge_id, "method": "recovery_code", "code": code}))
    };
    client.expect("reset-password-mfa", answer("aaaaa-aaaaa"), 400, "invalid_code").await;
    client.expect("reset-password-mfa", answer(&fresh_code), 204, "").await;
    client.expect("reset-password-mfa", answer(&fresh_code), 410, "challenge_expired").await;

    // Turning 2FA off (the reset signed every session out: sign in with the second factor),
    // signing out everywhere, deleting the account.
    let body = json!({"login": login, "password": NEW_PASSWORD});
    let mfa = client.expect("sign-in", post("/v1/sessions", body), 200, "").await;
    let code = authenticator_code(&secret, Timestamp::now().0 as u64 + 30);
    let answer = json!({"challenge_id": mfa.json["challenge_id"], "method": "totp", "code": code});
    let signed_in = client.expect("sign-in-mfa", post("/v1/sessions/mfa", answer), 201, "").await;
    let session = signed_in.json["session_token"].as_str().unwrap().to_owned();
    let signed_in = |request: TestRequest| request.bearer(&session);
    let off = |proof: Value| signed_in(post("/v1/account/two-factor", proof).method("DELETE"));
    client.expect("disable-2fa", off(json!({})), 400, "invalid_request").await;
    client.expect("disable-2fa", off(json!({ "password": NEW_PASSWORD })), 204, "").await;
    let everywhere = signed_in(TestRequest::delete("/v1/sessions"));
    client.expect("sign-out-everywhere", everywhere, 204, "").await;
    client.expect("manage-account", page(&session), 401, "unauthorized").await;

    let session = stack.session(&login, NEW_PASSWORD).await;
    let delete =
        |password: &str| post("/v1/account", json!({ "password": password })).method("DELETE").bearer(&session);
    client.expect("delete-account", delete(PASSWORD), 401, "invalid_credentials").await;
    client.expect("delete-account", delete(NEW_PASSWORD), 204, "").await;
    let gone = post("/v1/sessions", json!({"login": login, "password": NEW_PASSWORD}));
    client.expect("sign-in", gone, 401, "invalid_credentials").await;
}

// ---------------------------------------------------------------------------------------------
// A small JSON Schema checker for the keywords the document uses.

fn validate(doc: &Value, schema: &Value, value: &Value) -> Result<(), String> {
    validate_at(doc, schema, value, "$")
}

fn validate_at(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let schema = resolve(doc, schema);
    for part in schema["allOf"].as_array().into_iter().flatten() {
        validate_at(doc, part, value, at)?;
    }
    if let Some(choices) = schema["oneOf"].as_array() {
        let matching = choices.iter().filter(|s| validate_at(doc, s, value, at).is_ok()).count();
        if matching != 1 {
            return Err(format!("{at}: matches {matching} of its oneOf schemas, not exactly one: {value}"));
        }
    }
    if let Some(constant) = schema.get("const") {
        if constant != value {
            return Err(format!("{at}: expected {constant}, got {value}"));
        }
    }
    if let Some(allowed) = schema["enum"].as_array() {
        if !allowed.contains(value) {
            return Err(format!("{at}: {value} is not one of {allowed:?}"));
        }
    }
    if let Some(types) = schema.get("type") {
        let types: Vec<&str> = match types {
            Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
            other => other.as_str().into_iter().collect(),
        };
        let fits = |t: &&str| match *t {
            "string" => value.is_string(),
            "integer" => value.is_u64() || value.is_i64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "object" => value.is_object(),
            "array" => value.is_array(),
            "null" => value.is_null(),
            _ => false,
        };
        if !types.iter().any(fits) {
            return Err(format!("{at}: expected {types:?}, got {value}"));
        }
    }
    match value {
        Value::Object(object) => {
            for required in schema["required"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                if !object.contains_key(required) {
                    return Err(format!("{at}: missing {required}"));
                }
            }
            for (key, item) in object {
                match schema["properties"].get(key) {
                    Some(property) => validate_at(doc, property, item, &format!("{at}.{key}"))?,
                    None if schema["additionalProperties"] == false => {
                        return Err(format!("{at}: unexpected property {key}"));
                    }
                    None => {}
                }
            }
        }
        Value::Array(items) => {
            if let Some(min) = schema["minItems"].as_u64() {
                if (items.len() as u64) < min {
                    return Err(format!("{at}: fewer than {min} items"));
                }
            }
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    validate_at(doc, item_schema, item, &format!("{at}[{i}]"))?;
                }
            }
        }
        Value::String(text) => {
            let length = text.chars().count() as u64;
            if schema["minLength"].as_u64().is_some_and(|min| length < min)
                || schema["maxLength"].as_u64().is_some_and(|max| length > max)
            {
                return Err(format!("{at}: length {length} is out of bounds"));
            }
        }
        Value::Number(number) => {
            if let (Some(min), Some(n)) = (schema["minimum"].as_f64(), number.as_f64()) {
                if n < min {
                    return Err(format!("{at}: {n} is below {min}"));
                }
            }
        }
        _ => {}
    }
    Ok(())
}
