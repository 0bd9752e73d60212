//! The OpenID Connect signing keys in KMS (moto's, which signs ES256 as AWS does) and the two
//! operator commands, through the library functions the binaries wrap (a test cannot run
//! another package's binaries): `rotate-signing-key` (`signing::rotate`) and `register-client`
//! (`signing::clients`). Time is passed in, never slept.

use aws_sdk_kms::types::{KeySpec, KeyUsageType, Tag};
use integration_tests::faults::{Fault, Faults};
use integration_tests::{patient, random_hex, sdk_config, Stack};
use serde_json::json;
use shared::domain::error::Error;
use shared::domain::oidc::client::ClientId;
use shared::domain::oidc::jws::{self, KeySet, TokenSigner};
use shared::domain::store::OidcStore;
use shared::signing::clients::{self, SECRET_LINE};
use shared::signing::keyring::{self, Keyring};
use shared::signing::rotate::{self, Rotation, TAG};
use shared::signing::{retire_after, KmsSigner, KEYRING_REFRESH, SIGNS_AFTER};
use shared::store::DynamoStore;
use shared::waits::{self, Budget};
use shared::Timestamp;

/// One test's table and stack name, and the clients of the operator and the functions.
struct Keys {
    stack: Stack,
    name: String,
    kms: aws_sdk_kms::Client,
    dynamo: aws_sdk_dynamodb::Client,
}

impl Keys {
    async fn new() -> Self {
        let sdk = patient(&sdk_config().await);
        Keys {
            stack: Stack::new().await,
            name: format!("accounts-{}", random_hex(4)),
            kms: aws_sdk_kms::Client::new(&sdk),
            dynamo: aws_sdk_dynamodb::Client::new(&sdk),
        }
    }

    async fn rotate(&self, key_id: Option<&str>, now: Timestamp) -> Result<String, String> {
        let rotation =
            Rotation { table: self.stack.table.clone(), stack: self.name.clone(), key_id: key_id.map(str::to_owned) };
        rotate::rotate(&self.kms, &self.dynamo, &rotation, now).await
    }

    async fn keyring(&self) -> Keyring {
        keyring::read(&self.dynamo, &self.stack.table).await.expect("readable").expect("a keyring")
    }

    async fn signer(&self, now: Timestamp) -> KmsSigner {
        KmsSigner::load(self.kms.clone(), self.dynamo.clone(), &self.stack.table, now).await.expect("a signer")
    }

    /// A KMS key of `spec`, tagged `oidc-signing=<stack>` when `stack` is given: its ARN.
    async fn kms_key(&self, spec: KeySpec, stack: Option<&str>) -> String {
        let tags = stack.map(|stack| vec![Tag::builder().tag_key(TAG).tag_value(stack).build().unwrap()]);
        let created = self.kms.create_key().key_spec(spec).key_usage(KeyUsageType::SignVerify).set_tags(tags);
        created.send().await.expect("create a key").key_metadata.unwrap().arn.unwrap()
    }
}

fn kids(keys: &[jws::PublicKeyDer]) -> Vec<String> {
    keys.iter().map(|key| key.kid.0.clone()).collect()
}

fn header_kid(token: &str) -> String {
    use base64::Engine;
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap();
    serde_json::from_slice::<serde_json::Value>(&header).unwrap()["kid"].as_str().unwrap().to_owned()
}

async fn token(signer: &KmsSigner) -> String {
    jws::sign(signer, "JWT", &json!({"sub": "someone"})).await.expect("signed")
}

async fn key_set(signer: &KmsSigner) -> KeySet {
    KeySet::from_spki(&signer.public_keys().await.expect("published keys")).expect("P-256 keys")
}

#[tokio::test]
async fn a_token_signed_in_kms_verifies_with_the_published_keys_and_names_the_current_kid() {
    let keys = Keys::new().await;
    let now = Timestamp::now();
    let done = keys.rotate(None, now).await.unwrap();
    assert!(done.contains("signs from now: OpenID Connect is set up"), "{done}");
    let keyring = keys.keyring().await;
    assert!(keyring.current.arn.ends_with(&format!(":key/{}", keyring.current.kid.0)), "the kid is the key id");

    let signer = keys.signer(now).await;
    assert_eq!(signer.current_key(), keyring.current.kid);
    let token = token(&signer).await;
    assert_eq!(header_kid(&token), keyring.current.kid.0);
    assert_eq!(key_set(&signer).await.verify(&token, "JWT").unwrap()["sub"], "someone");
    assert!(key_set(&signer).await.verify(&format!("{token}x"), "JWT").is_none());
}

#[tokio::test]
async fn a_rotation_publishes_the_new_key_at_once_signs_with_it_once_every_function_has_it_and_retires_the_old() {
    let keys = Keys::new().await;
    let start = Timestamp::now();
    keys.rotate(None, start).await.unwrap();
    let old = keys.keyring().await.current.kid;
    let warm = keys.signer(start).await;
    let old_token = token(&warm).await;

    let done = keys.rotate(None, start).await.unwrap();
    let new = keys.keyring().await.current.kid;
    assert!(done.starts_with("created KMS key arn:") && done.contains(&format!("key {} is current", new.0)), "{done}");
    assert!(done.contains(&format!("published: {}, {}", new.0, old.0)), "{done}");

    // A warm function re-reads the keyring: it publishes the new key at once, signs with the old.
    warm.refresh(start.plus(KEYRING_REFRESH)).await;
    assert_eq!(kids(&warm.public_keys().await.unwrap()), [new.0.as_str(), old.0.as_str()]);
    assert_eq!(warm.current_key(), old);

    // From SIGNS_AFTER on the new key signs, and tokens of the old still verify.
    let signs_from = start.plus(SIGNS_AFTER);
    let cold = keys.signer(signs_from).await;
    let new_token = token(&cold).await;
    assert_eq!(header_kid(&new_token), new.0);
    let published = key_set(&cold).await;
    assert!(published.verify(&new_token, "JWT").is_some() && published.verify(&old_token, "JWT").is_some());
    warm.refresh(signs_from).await;
    assert_eq!(warm.current_key(), new, "the warm function's clock moves on");

    // Once past its retire_at the old key is no longer published, warm or cold.
    let retire_at = keys.keyring().await.previous[0].retire_at.unwrap();
    assert_eq!(retire_at, signs_from.plus(retire_after()));
    let later = keys.signer(retire_at).await;
    assert_eq!(kids(&later.public_keys().await.unwrap()), [new.0.as_str()]);
    assert!(key_set(&later).await.verify(&old_token, "JWT").is_none());
    assert!(key_set(&later).await.verify(&new_token, "JWT").is_some());
    warm.refresh(retire_at).await;
    assert_eq!(kids(&warm.public_keys().await.unwrap()), [new.0.as_str()]);

    // The next rotation drops it from the item.
    let done = keys.rotate(None, retire_at).await.unwrap();
    assert!(done.contains(&format!("dropped key {}", old.0)), "{done}");
    assert!(keys.keyring().await.key(&old).is_none());
}

#[tokio::test]
async fn a_key_not_tagged_for_this_stack_or_not_es256_is_refused_and_nothing_changes() {
    let keys = Keys::new().await;
    let now = Timestamp::now();
    keys.rotate(None, now).await.unwrap();
    let before = keys.keyring().await;

    let untagged = keys.kms_key(KeySpec::EccNistP256, None).await;
    let refused = keys.rotate(Some(&untagged), now).await.unwrap_err();
    assert!(refused.contains(&format!("is not tagged {TAG}={}", keys.name)), "{refused}");
    let other = keys.kms_key(KeySpec::EccNistP256, Some("another-stack")).await;
    let refused = keys.rotate(Some(&other), now).await.unwrap_err();
    assert!(refused.contains("tagged oidc-signing=another-stack: it belongs to another stack"), "{refused}");
    let rsa = keys.kms_key(KeySpec::Rsa2048, Some(&keys.name)).await;
    let refused = keys.rotate(Some(&rsa), now).await.unwrap_err();
    assert!(refused.contains("not ECC_NIST_P256 SIGN_VERIFY"), "{refused}");
    assert_eq!(keys.keyring().await, before);

    // A key of the stack is taken as it is (the first deploy's), once.
    let ours = keys.kms_key(KeySpec::EccNistP256, Some(&keys.name)).await;
    assert!(!keys.rotate(Some(&ours), now).await.unwrap().contains("created"));
    assert_eq!(keys.keyring().await.current.arn, ours);
    let refused = keys.rotate(Some(&ours), now).await.unwrap_err();
    assert!(refused.contains("already in the keyring"), "{refused}");
    assert_eq!(keys.keyring().await.version, before.version + 1);
}

#[tokio::test]
async fn without_a_keyring_the_signer_is_not_found_and_a_failing_kms_is_a_dependency_fault() {
    let keys = Keys::new().await;
    let now = Timestamp::now();
    let missing = KmsSigner::load(keys.kms.clone(), keys.dynamo.clone(), &keys.stack.table, now).await;
    assert!(matches!(missing, Err(Error::NotFound)), "{:?}", missing.err());

    keys.rotate(None, now).await.unwrap();
    let faults = Faults::default();
    let sdk = waits::bounded(&faults.inject(sdk_config().await), Budget::default().dynamodb);
    let signer = KmsSigner::load(aws_sdk_kms::Client::new(&sdk), keys.dynamo.clone(), &keys.stack.table, now).await;
    let signer = signer.unwrap();
    // Only the KMS client goes through the faults: every request of it.
    faults.set("", Fault::Throttle);
    let throttled = jws::sign(&signer, "JWT", &json!({})).await.unwrap_err();
    assert!(matches!(throttled, Error::ServiceUnavailable { .. }), "{throttled:?}");
    faults.clear();
    faults.set("", Fault::ServerError);
    let failing = signer.public_keys().await.unwrap_err();
    assert!(matches!(failing, Error::ServiceUnavailable { .. }), "{failing:?}");
    faults.clear();
    assert_eq!(signer.public_keys().await.unwrap().len(), 1, "a fault is not cached");
}

#[tokio::test]
async fn a_confidential_client_registered_by_the_command_authenticates_with_the_printed_secret_only() {
    let stack = Stack::new().await;
    let sdk = sdk_config().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), stack.table.clone());
    let id = format!("store-{}", random_hex(4));
    // The stack's service secret is named after its table.
    let table = stack.table.as_str();
    let args: Vec<String> = [table, "--service-secret", table, "--id", &id, "--name", "Store", "--party", "third"]
        .into_iter()
        .chain(["--confidential", "--redirect-uri", "https://store.example/cb", "--scopes", "openid email"])
        .map(str::to_owned)
        .collect();
    let register = || async {
        let request = clients::parse_args(&args).unwrap();
        let output = clients::register(&secrets, &store, request, &mut rand::rngs::OsRng).await.unwrap();
        let secret = output.lines().last().unwrap().strip_prefix(SECRET_LINE).expect("the secret last").to_owned();
        (output, secret)
    };
    let stored = || async { store.client(&ClientId::parse(&id).unwrap()).await.unwrap().expect("stored") };
    let service_secret = &stack.app.config.secret;

    let (output, first) = register().await;
    assert!(output.starts_with(&format!("registered client {id}\n")), "{output}");
    let client = stored().await;
    assert!(client.authenticates(Some(&first), service_secret));
    assert!(!client.authenticates(Some(&format!("{first}x")), service_secret));
    assert!(!client.authenticates(None, service_secret));

    // Registered again, it is replaced: only the new secret authenticates.
    let (output, second) = register().await;
    assert!(output.starts_with(&format!("replaced client {id}:")), "{output}");
    let client = stored().await;
    assert!(client.authenticates(Some(&second), service_secret));
    assert!(!client.authenticates(Some(&first), service_secret));

    let both = [args.clone(), vec!["--public".into()]].concat();
    assert!(clients::parse_args(&both).unwrap_err().contains("one of --public and --confidential"));
    let typo = [&args[..args.len() - 1], &["openid emial".to_owned()]].concat();
    assert!(clients::parse_args(&typo).unwrap_err().contains("\"emial\""));
}
