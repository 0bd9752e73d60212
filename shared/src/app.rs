//! What a function builds once per cold start and shares across its requests.

use std::sync::Mutex;
use std::time::Duration;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region, SharedCredentialsProvider, SharedHttpClient};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use aws_types::SdkConfig;

use domain::config::{service_secret, CaptchaConfig, Config, ConfigError};
use domain::notify::{NoNotifier, Notifier};
use domain::{Services, Timestamp};

use crate::notify::AwsNotifier;
use crate::rotation::SECRET_REFRESH;
use crate::siteverify::HttpSiteverify;
use crate::store::DynamoStore;

/// The production `Services` (DynamoDB, SES/SNS, siteverify over HTTPS) and the re-read of the
/// service secret that keeps a warm function's keyring current. Domain functions take
/// `&Services`; an `&App` is one, through `Deref`.
pub struct App {
    services: Services,
    /// Where the service secret is re-read from, when it came from Secrets Manager.
    secret_source: Option<SecretSource>,
}

impl std::ops::Deref for App {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.services
    }
}

struct SecretSource {
    client: aws_sdk_secretsmanager::Client,
    arn: String,
    next_read: Mutex<Timestamp>,
}

/// How a function's messages leave, chosen by its `main` through `shared::http::run` or
/// `run_without_messages`. A choice at compile time, not a setting: a function built with
/// `NoMessages` links no SES or SNS client at all (smaller binary, less to load at start).
pub trait Channels {
    fn notifier(config: &Config, sdk: &SdkConfig) -> Box<dyn Notifier>;
}

/// Email through SES v2, SMS through SNS.
pub enum SesAndSns {}

impl Channels for SesAndSns {
    fn notifier(config: &Config, sdk: &SdkConfig) -> Box<dyn Notifier> {
        Box::new(AwsNotifier::new(
            aws_sdk_sesv2::Client::new(sdk),
            aws_sdk_sns::Client::new(sdk),
            config.sender_email.clone(),
            config.sms_sender_id.clone(),
        ))
    }
}

/// For the functions that never send a message (captcha, verify-code, create-account).
pub enum NoMessages {}

impl Channels for NoMessages {
    fn notifier(_: &Config, _: &SdkConfig) -> Box<dyn Notifier> {
        Box::new(NoNotifier)
    }
}

impl App {
    /// The cold start: settings and AWS credentials from the process environment.
    pub async fn from_env<C: Channels>() -> Result<Self, ConfigError> {
        let sdk = environment_sdk_config()?;
        Self::load::<C>(|name| std::env::var(name).ok(), &sdk).await
    }

    /// Reads the settings through `env` and, when `SERVICE_SECRET_ARN` names one, the service
    /// secret from Secrets Manager: one call per cold start, then one every `SECRET_REFRESH`
    /// (`refresh_secret`), not one per request. A deployed stack always uses the ARN;
    /// `SERVICE_SECRET` in the environment is for tests and tools.
    pub async fn load<C: Channels>(env: impl Fn(&str) -> Option<String>, sdk: &SdkConfig) -> Result<Self, ConfigError> {
        let (secret_source, from_secrets_manager) = match env("SERVICE_SECRET_ARN").filter(|arn| !arn.trim().is_empty())
        {
            None => (None, None),
            Some(_) if env("SERVICE_SECRET").is_some() => {
                return Err(ConfigError::new("set SERVICE_SECRET_ARN or SERVICE_SECRET, not both"));
            }
            Some(arn) => {
                let client = aws_sdk_secretsmanager::Client::new(sdk);
                let value = read_secret(&client, &arn).await?;
                let next_read = Mutex::new(Timestamp::now().plus(SECRET_REFRESH));
                (Some(SecretSource { client, arn, next_read }), Some(value))
            }
        };
        let config = Config::from_lookup(|name| match (name, &from_secrets_manager) {
            ("SERVICE_SECRET", Some(secret)) => Some(secret.clone()),
            _ => env(name),
        })?;
        if config.captcha == CaptchaConfig::Off {
            tracing::warn!(
                "CAPTCHA_PROVIDER is off: codes are sent without a CAPTCHA; never do this outside local development"
            );
        }
        let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), config.table_name.clone());
        let notifier = C::notifier(&config, sdk);
        let services = Services::new(config, Box::new(store), notifier, Box::new(HttpSiteverify::default()));
        Ok(App { services, secret_source })
    }

    /// Re-reads the service secret once `SECRET_REFRESH` has passed since the last read, so
    /// a rotation's new keyring reaches warm functions within minutes: the request that finds
    /// it due pays for one read, bounded by `REFRESH_TIMEOUT`. A failed read never fails the
    /// request: the keys in use stay (they are still valid) and it is tried again sooner.
    pub async fn refresh_secret(&self, now: Timestamp) {
        const REFRESH_TIMEOUT: Duration = Duration::from_secs(2);
        const FAILED_REFRESH_RETRY: Duration = Duration::from_secs(30);
        let Some(source) = &self.secret_source else { return };
        {
            let mut next_read = source.next_read.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if now < *next_read {
                return;
            }
            *next_read = now.plus(SECRET_REFRESH);
        }
        let read = match tokio::time::timeout(REFRESH_TIMEOUT, read_secret(&source.client, &source.arn)).await {
            Ok(read) => read.and_then(|text| service_secret(&text)),
            Err(_) => Err(ConfigError::new(format!("SERVICE_SECRET_ARN: no answer in {REFRESH_TIMEOUT:?}"))),
        };
        match read {
            Ok(secret) => self.config.secret.replace_keys(&secret),
            Err(error) => {
                tracing::warn!(%error, "service secret not re-read; the keys in use stay");
                *source.next_read.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
                    now.plus(FAILED_REFRESH_RETRY);
            }
        }
    }
}

/// The secret's current string value. Errors name the ARN and the SDK's error, never a value.
async fn read_secret(client: &aws_sdk_secretsmanager::Client, arn: &str) -> Result<String, ConfigError> {
    let output = client.get_secret_value().secret_id(arn).send().await.map_err(|e| {
        ConfigError::new(format!(
            "SERVICE_SECRET_ARN: cannot read {arn}: {}",
            aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
        ))
    })?;
    output.secret_string.ok_or_else(|| ConfigError::new(format!("SERVICE_SECRET_ARN: {arn} has no string value")))
}

/// `lambda_sdk_config` of this process's environment; also what the rotation tool uses.
pub fn environment_sdk_config() -> Result<SdkConfig, ConfigError> {
    lambda_sdk_config(|name| std::env::var(name).ok())
}

/// The SDK configuration straight from what Lambda puts in every function's environment
/// (`AWS_REGION` and the execution role's `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN`), plus `AWS_ENDPOINT_URL` (moto, locally). Not aws-config's provider
/// chains: on Lambda they end at these same variables, and building them (profile files,
/// IMDS, ECS, web identity, STS, SSO) is start-up time and binary size for nothing.
/// Retries, timeouts and stalled-stream protection are the SDK clients' own defaults.
fn lambda_sdk_config(lookup: impl Fn(&str) -> Option<String>) -> Result<SdkConfig, ConfigError> {
    let var = |name: &str| lookup(name).filter(|v| !v.is_empty());
    let required = |name: &str| {
        var(name).ok_or_else(|| ConfigError::new(format!("{name} is required (Lambda sets it for every function)")))
    };
    let credentials = Credentials::new(
        required("AWS_ACCESS_KEY_ID")?,
        required("AWS_SECRET_ACCESS_KEY")?,
        var("AWS_SESSION_TOKEN"),
        None,
        "lambda-environment",
    );
    let mut sdk = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(required("AWS_REGION")?))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .http_client(https_client());
    if let Some(url) = var("AWS_ENDPOINT_URL") {
        sdk = sdk.endpoint_url(url);
    }
    Ok(sdk.build())
}

/// rustls (aws-lc) trusting the Mozilla root certificates built into the binary
/// (`webpki-root-certs`), not the system's trust store: the SDK's default client reads and
/// parses every certificate file it finds (/etc/ssl/certs, or provided.al2023's bundle) on each
/// cold start. Certificates are verified as before; the roots change with the crate's updates.
pub fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(tls_context())
        .build_https()
}

/// The trust of every HTTPS connection the functions make: the SDK's and siteverify's.
pub(crate) fn tls_context() -> TlsContext {
    let trust = TrustStore::empty().with_native_roots(false).with_pem_certificate(root_certificates_pem());
    TlsContext::builder().with_trust_store(trust).build().expect("a TLS context of valid roots")
}

/// `webpki_root_certs`' DER certificates as the PEM `TrustStore` takes.
fn root_certificates_pem() -> Vec<u8> {
    use base64::Engine;
    let mut pem = String::with_capacity(webpki_root_certs::TLS_SERVER_ROOT_CERTS.len() * 2048);
    for der in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        pem.push_str(&base64::engine::general_purpose::STANDARD.encode(der.as_ref()));
        pem.push_str("\n-----END CERTIFICATE-----\n");
    }
    pem.into_bytes()
}

#[cfg(test)]
mod tests {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;

    use super::*;

    fn lookup<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string())
    }

    const LAMBDA: [(&str, &str); 4] = [
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
        ("AWS_SESSION_TOKEN", "token"),
    ];

    #[test]
    fn the_sdk_configuration_comes_from_the_lambda_environment() {
        let sdk = lambda_sdk_config(lookup(&LAMBDA)).unwrap();
        assert_eq!(sdk.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert!(sdk.credentials_provider().is_some());
        assert!(sdk.http_client().is_some());
        assert_eq!(sdk.endpoint_url(), None);

        let local = [LAMBDA.as_slice(), &[("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")]].concat();
        let sdk = lambda_sdk_config(lookup(&local)).unwrap();
        assert_eq!(sdk.endpoint_url(), Some("http://127.0.0.1:4566"));
    }

    #[test]
    fn a_missing_region_or_key_is_a_configuration_error() {
        for missing in ["AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
            let vars: Vec<_> = LAMBDA.iter().copied().filter(|(k, _)| *k != missing).collect();
            let err = lambda_sdk_config(lookup(&vars)).expect_err(missing).to_string();
            assert!(err.contains(missing), "{err}");
        }
    }

    /// The PEM the trust store parses is every Mozilla root, byte for byte, and AWS endpoints'
    /// roots (Amazon Trust Services, and Starfield's cross-signing root) are among them.
    #[test]
    fn the_trust_store_is_the_mozilla_roots() {
        let parsed: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(&root_certificates_pem()).collect::<Result<_, _>>().unwrap();
        assert_eq!(parsed, webpki_root_certs::TLS_SERVER_ROOT_CERTS);
        for name in
            ["Amazon Root CA 1", "Amazon Root CA 2", "Amazon Root CA 3", "Amazon Root CA 4", "Starfield Services Root"]
        {
            assert!(parsed.iter().any(|der| der.windows(name.len()).any(|w| w == name.as_bytes())), "{name}");
        }
    }
}
