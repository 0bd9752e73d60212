//! The keyrings come from Secrets Manager at cold start (`SERVICE_SECRET_ARN`, `EDGE_SECRET_ARN`),
//! as the deployed stack provides them, and a stack that cannot read one refuses to start. The
//! captcha function is given only the edge secret.

use std::collections::HashMap;
use std::time::Duration;

use integration_tests::{random_hex, sdk_config};
use shared::app::{Keyrings, NoMessages, SesAndSns};
use shared::domain::secret::HashPurpose;
use shared::rotation::SECRET_REFRESH;
use shared::{App, Timestamp};

const TABLE: &str = "accounts-unused";
const SENDER: &str = "no-reply@example.com";

/// An app of every function but captcha: `settings`, and an edge secret unless they name one.
async fn load(settings: &[(&str, &str)]) -> Result<App, String> {
    let mut env = environment(settings);
    if !env.contains_key("EDGE_SECRET_ARN") {
        env.entry("EDGE_SECRET".into()).or_insert_with(|| random_hex(32));
    }
    App::load::<SesAndSns>(|name| env.get(name).cloned(), &sdk_config().await, Keyrings::Both)
        .await
        .map_err(|e| e.to_string())
}

/// The captcha function's app.
async fn load_edge_only(settings: &[(&str, &str)]) -> Result<App, String> {
    let env = environment(settings);
    App::load::<NoMessages>(|name| env.get(name).cloned(), &sdk_config().await, Keyrings::EdgeOnly)
        .await
        .map_err(|e| e.to_string())
}

fn environment(settings: &[(&str, &str)]) -> HashMap<String, String> {
    let mut env: HashMap<String, String> =
        HashMap::from([("TABLE_NAME".into(), TABLE.into()), ("SENDER_EMAIL".into(), SENDER.into())]);
    env.extend(settings.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env
}

async fn create_secret(value: &str) -> String {
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk_config().await);
    let name = format!("service-secret-test-{}", random_hex(8));
    let created = secrets.create_secret().name(name).secret_string(value).send().await.expect("create secret");
    created.arn.expect("an ARN")
}

fn fingerprint(app: &App) -> String {
    app.config.secret.keyed_hash(HashPurpose::LimitKey, &[b"probe"]).to_hex()
}

fn edge_fingerprint(app: &App) -> String {
    app.config.edge_secret.keyed_hash(HashPurpose::Captcha, &[]).to_hex()
}

#[tokio::test]
async fn the_secret_in_secrets_manager_keys_every_hash() {
    let value = random_hex(32);
    let arn = create_secret(&value).await;
    let from_secrets_manager = load(&[("SERVICE_SECRET_ARN", &arn)]).await.expect("loads");
    let from_environment = load(&[("SERVICE_SECRET", &value)]).await.expect("loads");
    let other = load(&[("SERVICE_SECRET", &random_hex(32))]).await.expect("loads");
    assert_eq!(fingerprint(&from_secrets_manager), fingerprint(&from_environment));
    assert_ne!(fingerprint(&from_secrets_manager), fingerprint(&other));
}

#[tokio::test]
async fn a_secret_that_cannot_be_read_stops_the_cold_start() {
    let missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:no-such-secret-AbCdEf";
    let error = load(&[("SERVICE_SECRET_ARN", missing)]).await.err().expect("refused");
    assert!(error.contains(missing), "{error}");
}

#[tokio::test]
async fn a_short_secret_is_refused_without_printing_it() {
    let value = "too-short-Xq7";
    let arn = create_secret(value).await;
    let error = load(&[("SERVICE_SECRET_ARN", &arn)]).await.err().expect("refused");
    assert!(error.contains("at least 32 bytes"), "{error}");
    assert!(!error.contains(value), "{error}");
}

#[tokio::test]
async fn two_sources_of_the_secret_are_refused() {
    let arn = create_secret(&random_hex(32)).await;
    let error =
        load(&[("SERVICE_SECRET_ARN", &arn), ("SERVICE_SECRET", &random_hex(32))]).await.err().expect("refused");
    assert!(error.contains("not both"), "{error}");
}

#[tokio::test]
async fn no_secret_at_all_is_refused() {
    let error = load(&[]).await.err().expect("refused");
    assert!(error.contains("SERVICE_SECRET is required"), "{error}");
}

/// A warm function re-reads the secret every 5 minutes; an unreadable or bad value never
/// fails a request or drops the keys in use, and is tried again 30 s later.
#[tokio::test]
async fn a_warm_function_re_reads_the_secret_and_keeps_its_keys_when_a_read_fails() {
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk_config().await);
    let first = random_hex(32);
    let arn = create_secret(&first).await;
    let app = load(&[("SERVICE_SECRET_ARN", &arn)]).await.expect("loads");
    let before = fingerprint(&app);
    let put = |value: String| secrets.put_secret_value().secret_id(&arn).secret_string(value).send();

    put("too-short".into()).await.expect("put");
    let due = Timestamp::now().plus(SECRET_REFRESH);
    app.refresh_secret(due).await;
    assert_eq!(fingerprint(&app), before, "a bad value is not taken");

    let second = random_hex(32);
    put(second.clone()).await.expect("put");
    app.refresh_secret(due.plus(Duration::from_secs(29))).await;
    assert_eq!(fingerprint(&app), before, "not read again before 30 s");
    app.refresh_secret(due.plus(Duration::from_secs(30))).await;
    let expected = load(&[("SERVICE_SECRET", &second)]).await.expect("loads");
    assert_eq!(fingerprint(&app), fingerprint(&expected), "read again after a failure");

    put(random_hex(32)).await.expect("put");
    app.refresh_secret(due.plus(Duration::from_secs(60))).await;
    assert_eq!(fingerprint(&app), fingerprint(&expected), "a good read waits the full interval");
}

#[tokio::test]
async fn both_keyrings_are_read_from_secrets_manager() {
    let (service, edge) = (random_hex(32), random_hex(32));
    let (service_arn, edge_arn) = (create_secret(&service).await, create_secret(&edge).await);
    let app = load(&[("SERVICE_SECRET_ARN", &service_arn), ("EDGE_SECRET_ARN", &edge_arn)]).await.expect("loads");
    let expected = load(&[("SERVICE_SECRET", &service), ("EDGE_SECRET", &edge)]).await.expect("loads");
    assert_eq!((fingerprint(&app), edge_fingerprint(&app)), (fingerprint(&expected), edge_fingerprint(&expected)));
    assert_ne!(fingerprint(&app), edge_fingerprint(&app));

    let missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:no-such-edge-secret-AbCdEf";
    let error =
        load(&[("SERVICE_SECRET_ARN", &service_arn), ("EDGE_SECRET_ARN", missing)]).await.err().expect("refused");
    assert!(error.contains("EDGE_SECRET_ARN") && error.contains(missing), "{error}");
}

/// The captcha function starts with the edge secret alone and never reads the service secret,
/// even when its environment names one (locally every function has the same environment); what
/// it keys matches the other functions' edge keys, and nothing else.
#[tokio::test]
async fn the_captcha_function_holds_only_the_edge_secret() {
    let (service, edge) = (random_hex(32), random_hex(32));
    let (service_arn, edge_arn) = (create_secret(&service).await, create_secret(&edge).await);
    let full = load(&[("SERVICE_SECRET_ARN", &service_arn), ("EDGE_SECRET_ARN", &edge_arn)]).await.expect("loads");

    let unreadable = "arn:aws:secretsmanager:us-east-1:123456789012:secret:never-read-AbCdEf";
    for service in [("SERVICE_SECRET_ARN", ""), ("SERVICE_SECRET_ARN", unreadable), ("SERVICE_SECRET", &service)] {
        let captcha = load_edge_only(&[service, ("EDGE_SECRET_ARN", &edge_arn)]).await.expect("loads");
        assert_eq!(edge_fingerprint(&captcha), edge_fingerprint(&full), "{service:?}");
        assert_ne!(fingerprint(&captcha), fingerprint(&full), "{service:?}: no service key, so it matches nothing");
    }
    let error = load_edge_only(&[]).await.err().expect("refused");
    assert!(error.contains("EDGE_SECRET is required"), "{error}");
}
