//! Test harness: a fresh table in moto per test, the real handlers called with
//! API Gateway HTTP API events, and sent messages read back from moto as a person
//! reads their phone or inbox.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TimeToLiveSpecification,
};
use aws_types::SdkConfig;
use lambda_http::{Body, Request, Response};
use rand::Rng;
use serde_json::{json, Value};
use shared::app::{Keyrings, NoMessages, SesAndSns};
use shared::domain::verification::CaptchaWidget;
use shared::domain::{Contact, EmailAddress, PhoneNumber};
use shared::App;

mod consistency;
mod courier;
pub mod fake_siteverify;
pub mod faults;
pub mod observe;
pub mod oidc;
pub mod policy;

use policy::Policies;

pub const SENDER: &str = "no-reply@accounts.example.com";

pub fn moto_endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| "http://127.0.0.1:4566".to_owned())
}

/// The SDK configuration of the tests' own clients and of every function under test: moto's
/// endpoint and the functions' own HTTP client (`shared::sdk::https_client`).
pub async fn sdk_config() -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(shared::sdk::https_client())
        .endpoint_url(moto_endpoint())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new("test", "test", None, None, "tests")))
        .build()
}

/// `sdk` with the waits the suite gives the functions (`AWS_CALL_TIMEOUT_MS` of [`Stack`]), for
/// the operator commands a test runs itself: moto on a loaded 2-core machine can take seconds a
/// call (KMS key generation most), beyond AWS's own budget.
pub fn patient(sdk: &SdkConfig) -> SdkConfig {
    let waits = shared::waits::Budget::from_lookup(|name| (name == "AWS_CALL_TIMEOUT_MS").then(|| "30000".into()));
    shared::waits::bounded(sdk, waits.expect("a valid budget").dynamodb)
}

/// One test's world: its own table, the real `App` over it, and the captcha function's own
/// `App`, given only the edge secret as in the deployed stack.
pub struct Stack {
    pub app: &'static App,
    pub captcha_app: &'static App,
    /// The courier's own `App`: the only one with SES and SNS clients, as in the deployed stack.
    pub courier_app: &'static App,
    policies: Arc<Policies>,
    pub table: String,
    pub dynamo: aws_sdk_dynamodb::Client,
    /// The harness's own client, outside any fault or count a test puts on `dynamo`'s SDK.
    harness: aws_sdk_dynamodb::Client,
    /// One courier delivery at a time, as Lambda works one stream shard.
    delivering: tokio::sync::Mutex<()>,
    secrets: aws_sdk_secretsmanager::Client,
}

impl Stack {
    pub async fn new() -> Self {
        Self::with_settings(&[]).await
    }

    /// `settings` override the function environment, as `template.yaml` would set it.
    pub async fn with_settings(settings: &[(&str, &str)]) -> Self {
        Self::with_sdk(sdk_config().await, settings).await
    }

    /// A stack whose AWS clients use `sdk`, e.g. with an HTTP client that counts requests.
    pub async fn with_sdk(sdk: SdkConfig, settings: &[(&str, &str)]) -> Self {
        Self::with_policies(sdk, settings, Policies::of_repository()).await
    }

    /// A stack whose functions are held to `policies` instead of `template.yaml`'s.
    pub async fn with_policies(sdk: SdkConfig, settings: &[(&str, &str)], policies: Policies) -> Self {
        let sdk = observe::observed(sdk, policy::checker());
        let table = format!("accounts-test-{}", random_hex(8));
        let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
        let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
        create_table_from_template(&dynamo, &table).await;
        aws_sdk_sesv2::Client::new(&sdk).create_email_identity().email_identity(SENDER).send().await.ok(); // already verified by an earlier test
        let mut env: HashMap<String, String> = HashMap::from([
            ("TABLE_NAME".into(), table.clone()),
            ("SENDER_EMAIL".into(), SENDER.into()),
            ("SERVICE_NAME".into(), "Mi Account".into()),
            // The deployed path: the service secret is read from Secrets Manager at cold start.
            ("SERVICE_SECRET_ARN".into(), new_secret_arn(&secrets, &table).await),
            ("EDGE_SECRET_ARN".into(), new_secret_arn(&secrets, &edge_secret_name(&table)).await),
            // Real proof of work at the production Argon2id cost, in the smallest counter range
            // (`0..=1`), so a solve takes tens of milliseconds.
            ("CAPTCHA_DIFFICULTY".into(), "1000".into()),
            // moto on a loaded 2-core machine can take seconds per call; the fault tests set
            // AWS's own budget (`waits::Budget::default`) where they need it.
            ("AWS_CALL_TIMEOUT_MS".into(), "30000".into()),
            ("REQUEST_DEADLINE_MS".into(), "120000".into()),
        ]);
        env.extend(settings.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let app = App::load::<NoMessages>(|name| env.get(name).cloned(), &sdk, Keyrings::Both).await;
        let app: &'static App = Box::leak(Box::new(app.expect("test configuration")));
        let courier_app = App::load::<SesAndSns>(|name| env.get(name).cloned(), &sdk, Keyrings::ServiceOnly).await;
        let courier_app: &'static App = Box::leak(Box::new(courier_app.expect("the courier's configuration")));
        // template.yaml empties SERVICE_SECRET_ARN for the captcha function.
        env.insert("SERVICE_SECRET_ARN".into(), String::new());
        let captcha_app = App::load::<NoMessages>(|name| env.get(name).cloned(), &sdk, Keyrings::EdgeOnly).await;
        let captcha_app: &'static App = Box::leak(Box::new(captcha_app.expect("the captcha function's configuration")));
        let harness = aws_sdk_dynamodb::Client::new(&sdk_config().await);
        let delivering = tokio::sync::Mutex::new(());
        Stack {
            app,
            captcha_app,
            courier_app,
            policies: Arc::new(policies),
            table,
            dynamo,
            harness,
            delivering,
            secrets,
        }
    }

    /// Every item in this test's table, to show that a refused request wrote nothing.
    pub async fn item_count(&self) -> usize {
        let out = self.dynamo.scan().table_name(&self.table).send().await.expect("scan");
        out.items().len()
    }

    /// Calls `handler` as its function, then lets the courier deliver what the call wrote to the
    /// outbox (`deliver`), as the stream would a moment later.
    pub async fn call<F, Fut>(&self, handler: F, request: TestRequest) -> TestResponse
    where
        F: Fn(&'static App, Request) -> Fut,
        Fut: Future<Output = shared::Result<Response<Body>>>,
    {
        let response = self.call_only(handler, request).await;
        self.deliver().await;
        response
    }

    /// `call` without the delivery: the call's messages stay waiting in the outbox.
    pub async fn call_only<F, Fut>(&self, handler: F, request: TestRequest) -> TestResponse
    where
        F: Fn(&'static App, Request) -> Fut,
        Fut: Future<Output = shared::Result<Response<Body>>>,
    {
        let binary = policy::binary_of::<F>();
        let app = if binary == "captcha" { self.captcha_app } else { self.app };
        let respond = shared::http::respond(app, request.into_lambda(), handler);
        let (response, refused) = policy::as_function(self.policies.clone(), binary.clone(), respond).await;
        assert!(refused.is_empty(), "template.yaml does not allow {binary} {}", refused.join(", "));
        TestResponse::from(response)
    }
}

/// A test's table is deleted when the test ends: moto's record of sent messages is read
/// by serialising everything it holds, so leftover tables would slow every later read.
impl Drop for Stack {
    fn drop(&mut self) {
        let (dynamo, table) = (self.dynamo.clone(), self.table.clone());
        let secrets = self.secrets.clone();
        let deleted = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
            runtime.block_on(async {
                for name in [table.clone(), edge_secret_name(&table)] {
                    secrets.delete_secret().secret_id(name).force_delete_without_recovery(true).send().await.ok();
                }
                dynamo.delete_table().table_name(table).send().await.is_ok()
            })
        });
        let _ = deleted.join();
    }
}

fn edge_secret_name(table: &str) -> String {
    format!("{table}-edge")
}

/// A new Secrets Manager secret named `name`, as the stack generates one; its ARN.
pub async fn new_secret_arn(secrets: &aws_sdk_secretsmanager::Client, name: &str) -> String {
    let created = secrets.create_secret().name(name).secret_string(random_hex(32)).send().await;
    created.expect("create the service secret in moto").arn.expect("an ARN")
}

/// The steps of the sign-up screen, as a frontend calls them.
impl Stack {
    /// Fetches a CAPTCHA challenge and solves it, as the ALTCHA widget does in a browser.
    pub async fn solved_captcha(&self) -> String {
        self.solved_captcha_of("/v1/captcha").await
    }

    /// Solves the challenge `GET path` answers (`/v1/captcha?difficulty=N`).
    pub async fn solved_captcha_of(&self, path: &str) -> String {
        let answer = self.call(captcha::handle, TestRequest::get(path)).await;
        assert_eq!(answer.status, 200, "{:?}", answer.json);
        let challenge: shared::domain::captcha::Challenge = serde_json::from_value(answer.json).unwrap();
        shared::domain::captcha::solve(&challenge).expect("the challenge has a solution")
    }

    /// A solved CAPTCHA issued at `at` with at least `difficulty`, for domain calls made at that time.
    pub async fn solved_captcha_at(&self, at: shared::Timestamp, difficulty: Option<u64>) -> String {
        let mut rng = rand::rngs::OsRng;
        let widget =
            shared::domain::verification::new_captcha(self.captcha_app, None, difficulty, at, &mut rng).await.unwrap();
        let CaptchaWidget::ProofOfWork(challenge) = widget else { panic!("not an ALTCHA stack: {widget:?}") };
        shared::domain::captcha::solve(&challenge).expect("the challenge has a solution")
    }

    /// `body` with a freshly solved CAPTCHA, as a frontend sends it.
    pub async fn with_captcha(&self, mut body: Value) -> Value {
        body["captcha"] = json!(self.solved_captcha().await);
        body
    }

    /// Asks for a code the way the sign-up screen does: solve the CAPTCHA, then request; and when
    /// the destination needs a harder CAPTCHA, fetch one of the difficulty named and ask again.
    pub async fn request_code(&self, body: Value) -> TestResponse {
        let sent = self
            .call(request_code::handle, TestRequest::post("/v1/verifications", self.with_captcha(body.clone()).await))
            .await;
        if sent.error_code() != "captcha_too_easy" {
            return sent;
        }
        let difficulty = sent.json["error"]["difficulty"].as_u64().expect("the difficulty needed");
        let mut body = body;
        body["captcha"] = json!(self.solved_captcha_of(&format!("/v1/captcha?difficulty={difficulty}")).await);
        self.call(request_code::handle, TestRequest::post("/v1/verifications", body)).await
    }

    pub async fn confirm(&self, verification_id: &str, code: &str) -> TestResponse {
        let path = format!("/v1/verifications/{verification_id}/confirm");
        let request =
            TestRequest::post(&path, json!({ "code": code })).path_parameter("verification_id", verification_id);
        self.call(verify_code::handle, request).await
    }

    /// Requests a code for `contact` (`{"phone": ...}` or `{"email": ...}` fields),
    /// reads it from moto and confirms it: the token proving control of the contact.
    pub async fn verified_token(&self, contact: &Contact, purpose: &str) -> String {
        let body = match contact {
            Contact::Phone(phone) => json!({"channel": "sms", "phone": phone.e164(), "purpose": purpose}),
            Contact::Email(email) => json!({"channel": "email", "email": email.as_str(), "purpose": purpose}),
        };
        let sent = self.request_code(body).await;
        assert_eq!(sent.status, 202, "{:?}", sent.json);
        let code = outbox::last_code_to(contact).expect("a code was sent");
        let confirmed = self.confirm(sent.json["verification_id"].as_str().unwrap(), &code).await;
        assert_eq!(confirmed.status, 200, "{:?}", confirmed.json);
        confirmed.json["verification_token"].as_str().unwrap().to_owned()
    }

    pub async fn create_account(&self, token: &str, password: &str) -> TestResponse {
        let body = json!({"verification_token": token, "password": password, "accept_terms": true});
        self.call(create_account::handle, TestRequest::post("/v1/accounts", body)).await
    }
}

/// The steps after sign-up: signing in and the account page.
impl Stack {
    /// Signs up `contact` with `password`; the new account's id.
    pub async fn sign_up(&self, contact: &Contact, password: &str) -> String {
        let token = self.verified_token(contact, "sign_up").await;
        let created = self.create_account(&token, password).await;
        assert_eq!(created.status, 201, "{:?}", created.json);
        created.json["account_id"].as_str().unwrap().to_owned()
    }

    pub async fn sign_in(&self, body: Value) -> TestResponse {
        self.call(sign_in::handle, TestRequest::post("/v1/sessions", body)).await
    }

    /// Signs in with a password only; the session token.
    pub async fn session(&self, login: &str, password: &str) -> String {
        let answer = self.sign_in(json!({"login": login, "password": password})).await;
        assert_eq!(answer.status, 201, "{:?}", answer.json);
        answer.json["session_token"].as_str().unwrap().to_owned()
    }

    pub async fn account_page(&self, session: &str) -> TestResponse {
        self.call(manage_account::handle, TestRequest::get("/v1/account").bearer(session)).await
    }
}

pub fn new_phone() -> Contact {
    let (cc, national) = random_phone();
    Contact::Phone(PhoneNumber::parse(Some(&cc), &national).unwrap())
}

pub fn new_email() -> Contact {
    Contact::Email(EmailAddress::parse(&random_email()).unwrap())
}

/// Reads the table definition from `template.yaml`, the one source of truth, and creates it.
async fn create_table_from_template(dynamo: &aws_sdk_dynamodb::Client, name: &str) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml");
    let template: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(path).expect("template.yaml")).expect("template parses");
    let table = template["Resources"]
        .as_mapping()
        .expect("Resources")
        .values()
        .find(|r| r["Type"].as_str() == Some("AWS::DynamoDB::Table"))
        .expect("a DynamoDB table in template.yaml");
    let props = &table["Properties"];
    let text = |v: &serde_yaml::Value| v.as_str().expect("string in table definition").to_owned();
    let keys = |schema: &serde_yaml::Value| {
        schema
            .as_sequence()
            .expect("KeySchema")
            .iter()
            .map(|k| {
                KeySchemaElement::builder()
                    .attribute_name(text(&k["AttributeName"]))
                    .key_type(KeyType::from(text(&k["KeyType"]).as_str()))
                    .build()
                    .unwrap()
            })
            .collect::<Vec<_>>()
    };
    let mut create = dynamo
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(keys(&props["KeySchema"])));
    for attribute in props["AttributeDefinitions"].as_sequence().expect("AttributeDefinitions") {
        create = create.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(text(&attribute["AttributeName"]))
                .attribute_type(ScalarAttributeType::from(text(&attribute["AttributeType"]).as_str()))
                .build()
                .unwrap(),
        );
    }
    for index in props["GlobalSecondaryIndexes"].as_sequence().into_iter().flatten() {
        create = create.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(text(&index["IndexName"]))
                .set_key_schema(Some(keys(&index["KeySchema"])))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::from(text(&index["Projection"]["ProjectionType"]).as_str()))
                        .build(),
                )
                .build()
                .unwrap(),
        );
    }
    create.send().await.expect("create table in moto");
    if let Some(ttl) = props["TimeToLiveSpecification"]["AttributeName"].as_str() {
        dynamo
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder().attribute_name(ttl).enabled(true).build().unwrap(),
            )
            .send()
            .await
            .expect("enable TTL");
    }
}

pub fn random_hex(bytes: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..bytes).map(|_| format!("{:02x}", rng.gen::<u8>())).collect()
}

/// A fresh, valid Indian mobile number as a person would type it: (country code, national number).
pub fn random_phone() -> (String, String) {
    let mut rng = rand::thread_rng();
    loop {
        let national = format!("9{:09}", rng.gen_range(0..1_000_000_000u64));
        if shared::domain::PhoneNumber::parse(Some("+91"), &national).is_ok() {
            return ("+91".into(), national);
        }
    }
}

pub fn random_email() -> String {
    format!("user.{}@example.com", random_hex(6))
}

/// A client address from the documentation range, unique per test so IP limits do not collide.
pub fn random_ip() -> String {
    let mut rng = rand::thread_rng();
    format!("198.51.{}.{}", rng.gen_range(0..=255), rng.gen_range(1..=254))
}

#[derive(Clone)]
pub struct TestRequest {
    method: &'static str,
    path: String,
    path_parameters: HashMap<String, String>,
    headers: HashMap<String, String>,
    body: Option<String>,
    source_ip: String,
}

impl TestRequest {
    pub fn post(path: &str, body: Value) -> Self {
        Self::post_raw(path, &body.to_string())
    }

    pub fn post_raw(path: &str, body: &str) -> Self {
        TestRequest {
            method: "POST",
            path: path.to_owned(),
            path_parameters: HashMap::new(),
            headers: HashMap::from([("content-type".into(), "application/json".into())]),
            body: Some(body.to_owned()),
            source_ip: random_ip(),
        }
    }

    pub fn get(path: &str) -> Self {
        TestRequest { method: "GET", body: None, ..Self::post_raw(path, "") }
    }

    pub fn delete(path: &str) -> Self {
        TestRequest { method: "DELETE", body: None, ..Self::post_raw(path, "") }
    }

    pub fn method(mut self, method: &'static str) -> Self {
        self.method = method;
        self
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    pub fn path_parameter(mut self, name: &str, value: &str) -> Self {
        self.path_parameters.insert(name.into(), value.into());
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.insert(name.to_ascii_lowercase(), value.into());
        self
    }

    pub fn from_ip(mut self, ip: &str) -> Self {
        self.source_ip = ip.to_owned();
        self
    }

    /// The event API Gateway's HTTP API (payload 2.0) hands to the function.
    fn into_lambda(self) -> Request {
        let (path, query) = self.path.split_once('?').unwrap_or((&self.path, ""));
        // As API Gateway gives them: repeated names joined by commas.
        let mut parameters: HashMap<String, String> = HashMap::new();
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            parameters
                .entry(name.into_owned())
                .and_modify(|v| *v = format!("{v},{value}"))
                .or_insert(value.into_owned());
        }
        let event = json!({
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": path,
            "rawQueryString": query,
            "queryStringParameters": parameters,
            "headers": self.headers,
            "pathParameters": self.path_parameters,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "local",
                "domainName": "localhost",
                "domainPrefix": "localhost",
                "http": {
                    "method": self.method,
                    "path": path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": self.source_ip,
                    "userAgent": "integration-tests"
                },
                "requestId": random_hex(8),
                "routeKey": "$default",
                "stage": "$default",
                "time": "25/Nov/2026:00:00:00 +0000",
                "timeEpoch": 0
            },
            "body": self.body,
            "isBase64Encoded": false
        });
        lambda_http::request::from_str(&event.to_string()).expect("a valid API Gateway v2 event")
    }
}

#[derive(Debug)]
pub struct TestResponse {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub json: Value,
}

impl TestResponse {
    /// The stable error code of a failure answer.
    pub fn error_code(&self) -> &str {
        self.json["error"]["code"].as_str().unwrap_or("")
    }
}

impl From<Response<Body>> for TestResponse {
    fn from(response: Response<Body>) -> Self {
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        let body: &[u8] = response.body().as_ref();
        let json = if body.is_empty() { Value::Null } else { serde_json::from_slice(body).expect("JSON body") };
        TestResponse { status, headers, json }
    }
}

/// What moto recorded as sent: the person's view of their phone and inbox.
pub mod outbox {
    use serde_json::Value;

    /// moto serialises every model it tracks here, and fails now and then when a concurrent
    /// test adds one mid-way ("dictionary changed size during iteration"): try again.
    fn data() -> Value {
        // Only the two services that send (infra/moto_serial.py): the whole dump takes seconds.
        let url = format!("{}/moto-api/data.json?services=ses,sns", super::moto_endpoint());
        let mut last_error = None;
        for attempt in 0..5 {
            match ureq::get(&url).call().map(|r| r.into_json::<Value>()) {
                Ok(Ok(data)) => return data,
                Ok(Err(e)) => last_error = Some(e.to_string()),
                Err(e) => last_error = Some(e.to_string()),
            }
            std::thread::sleep(std::time::Duration::from_millis(50 << attempt));
        }
        panic!("moto data.json: {last_error:?}");
    }

    /// Every SMS sent to `e164`, oldest first.
    pub fn sms_to(e164: &str) -> Vec<String> {
        let data = data();
        let mut found = Vec::new();
        for record in data["sns"]["SMS"].as_array().into_iter().flatten() {
            if record["phone_number"].as_str() == Some(e164) {
                found.push(record["message"].as_str().unwrap_or("").to_owned());
            }
        }
        found
    }

    /// Every email sent to `address` as (subject, body), oldest first.
    pub fn emails_to(address: &str) -> Vec<(String, String)> {
        let data = data();
        let mut found = Vec::new();
        for record in data["ses"]["Message"].as_array().into_iter().flatten() {
            let to = &record["destinations"]["ToAddresses"];
            if to.as_array().is_some_and(|a| a.iter().any(|t| t.as_str() == Some(address))) {
                found.push((
                    record["subject"].as_str().unwrap_or("").to_owned(),
                    record["body"].as_str().unwrap_or("").to_owned(),
                ));
            }
        }
        found
    }

    /// Everything sent to a contact, oldest first.
    pub fn messages_to(contact: &super::Contact) -> Vec<String> {
        match contact {
            super::Contact::Phone(phone) => sms_to(phone.e164()),
            super::Contact::Email(email) => {
                emails_to(email.as_str()).into_iter().map(|(s, b)| format!("{s}\n{b}")).collect()
            }
        }
    }

    /// The code in the newest message to a contact.
    pub fn last_code_to(contact: &super::Contact) -> Option<String> {
        messages_to(contact).last().and_then(|m| code_in(m))
    }

    /// The 6-digit code in a message, as a person would spot it.
    pub fn code_in(message: &str) -> Option<String> {
        let bytes = message.as_bytes();
        (0..bytes.len().saturating_sub(5)).find_map(|i| {
            let window = &bytes[i..i + 6];
            let bounded =
                (i == 0 || !bytes[i - 1].is_ascii_digit()) && bytes.get(i + 6).is_none_or(|b| !b.is_ascii_digit());
            (bounded && window.iter().all(u8::is_ascii_digit)).then(|| String::from_utf8(window.to_vec()).unwrap())
        })
    }
}
