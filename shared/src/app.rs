//! What a function builds once per cold start and shares across its requests.

use std::sync::Mutex;
use std::time::Duration;

use aws_types::SdkConfig;

use domain::config::{CaptchaConfig, Config, ConfigError};
use domain::error::{Error, DEPENDENCY_RETRY_AFTER};
use domain::notify::{NoNotifier, Notifier};
use domain::secret::ServiceSecret;
use domain::{Services, Timestamp};

use crate::faults;
use crate::notify::AwsNotifier;
use crate::oidc::{Oidc, OidcSettings, Provided};
use crate::rotation::SECRET_REFRESH;
use crate::sdk::environment_sdk_config;
use crate::siteverify::HttpSiteverify;
use crate::store::DynamoStore;
use crate::waits::{self, Budget};

/// The production `Services` (DynamoDB, SES/SNS, siteverify over HTTPS) and the re-read of the
/// keyrings that keeps a warm function's keys current. Domain functions take `&Services`; an
/// `&App` is one, through `Deref`.
pub struct App {
    services: Services,
    /// How long a request may take before it answers 503 (`waits`).
    pub deadline: Duration,
    /// Where the keyrings are re-read from, when they came from Secrets Manager.
    secret_sources: Option<SecretSources>,
    /// The OpenID Connect provider, built by the first request that needs it (`oidc`).
    oidc: Provided,
}

impl std::ops::Deref for App {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.services
    }
}

struct SecretSources {
    client: aws_sdk_secretsmanager::Client,
    /// Each keyring setting read from Secrets Manager, with its secret's ARN.
    arns: Vec<(Keyring, String)>,
    next_read: Mutex<Timestamp>,
}

/// The two keyrings (`Config::secret`, `Config::edge_secret`), each in a secret of its own and
/// named by a setting that holds its value (`SERVICE_SECRET`) or its secret's ARN (`SERVICE_SECRET_ARN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyring {
    Service,
    Edge,
}

impl Keyring {
    fn setting(self) -> &'static str {
        match self {
            Keyring::Service => "SERVICE_SECRET",
            Keyring::Edge => "EDGE_SECRET",
        }
    }

    fn arn_setting(self) -> &'static str {
        match self {
            Keyring::Service => "SERVICE_SECRET_ARN",
            Keyring::Edge => "EDGE_SECRET_ARN",
        }
    }
}

/// Which keyrings a function is given, chosen by its `main`. The captcha function, which anyone
/// may call without signing in, gets only the edge secret: with it no session, code, token or
/// TOTP secret can be made or checked, and `template.yaml` lets it read nothing but counters.
/// The courier opens sealed messages and counts SMS under the service secret alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyrings {
    Both,
    EdgeOnly,
    ServiceOnly,
}

impl Keyrings {
    fn given(self) -> &'static [Keyring] {
        match self {
            Keyrings::Both => &[Keyring::Service, Keyring::Edge],
            Keyrings::EdgeOnly => &[Keyring::Edge],
            Keyrings::ServiceOnly => &[Keyring::Service],
        }
    }
}

/// How a function's messages leave, chosen by its `main`: `shared::courier::run` sends through
/// SES and SNS, every HTTP function (`shared::http::run`) has `NoMessages`. A choice at compile
/// time, not a setting: a function built with `NoMessages` links no SES or SNS client at all
/// (smaller binary, less to load at start).
pub trait Channels {
    fn notifier(config: &Config, sdk: &SdkConfig, waits: &Budget) -> Box<dyn Notifier>;
}

/// Email through SES v2, SMS through SNS.
pub enum SesAndSns {}

impl Channels for SesAndSns {
    fn notifier(config: &Config, sdk: &SdkConfig, waits: &Budget) -> Box<dyn Notifier> {
        let sdk = waits::bounded(sdk, waits.messages);
        Box::new(AwsNotifier::new(
            aws_sdk_sesv2::Client::new(&sdk),
            aws_sdk_sns::Client::new(&sdk),
            config.sender_email.clone(),
            config.sms_sender_id.clone(),
        ))
    }
}

/// For the functions that never send a message themselves: every HTTP function.
pub enum NoMessages {}

impl Channels for NoMessages {
    fn notifier(_: &Config, _: &SdkConfig, _: &Budget) -> Box<dyn Notifier> {
        Box::new(NoNotifier)
    }
}

impl App {
    /// The cold start: settings and AWS credentials from the process environment.
    pub async fn from_env<C: Channels>(keyrings: Keyrings) -> Result<Self, StartError> {
        let sdk = environment_sdk_config()?;
        Self::load::<C>(|name| std::env::var(name).ok(), &sdk, keyrings).await
    }

    /// Reads the settings through `env` and each keyring the function is given, from Secrets
    /// Manager when its `*_ARN` setting names a secret: the reads go out together, once per cold
    /// start, then every `SECRET_REFRESH` (`refresh_secret`), not once per request. A deployed
    /// stack always uses ARNs; `SERVICE_SECRET` and `EDGE_SECRET` values are for tests and tools.
    pub async fn load<C: Channels>(
        env: impl Fn(&str) -> Option<String>,
        sdk: &SdkConfig,
        keyrings: Keyrings,
    ) -> Result<Self, StartError> {
        let set = |name: &str| env(name).filter(|value| !value.trim().is_empty());
        let budget = Budget::from_lookup(&env)?;
        let mut arns = Vec::new();
        for &keyring in keyrings.given() {
            if let Some(arn) = set(keyring.arn_setting()) {
                if env(keyring.setting()).is_some() {
                    let (name, arn_name) = (keyring.setting(), keyring.arn_setting());
                    return Err(ConfigError::new(format!("set {arn_name} or {name}, not both")).into());
                }
                arns.push((keyring, arn));
            }
        }
        let (secret_sources, read) = if arns.is_empty() {
            (None, Vec::new())
        } else {
            let client = aws_sdk_secretsmanager::Client::new(&waits::bounded(sdk, budget.secrets_manager));
            let read = read_secrets(&client, &arns).await.into_iter().collect::<Result<Vec<_>, _>>()?;
            let next_read = Mutex::new(Timestamp::now().plus(SECRET_REFRESH));
            (Some(SecretSources { client, arns: arns.clone(), next_read }), read)
        };
        // A function not given a keyring never reads its `*_SECRET*` settings (locally every function
        // has the same environment). That key is a random one of this process, under which nothing
        // it could hash matches anything stored: it fails closed.
        let withheld = [Keyring::Service, Keyring::Edge].into_iter().find(|k| !keyrings.given().contains(k));
        let random = withheld.map(|_| withheld_key());
        let config = Config::from_lookup(|name| {
            let from_secrets_manager = arns.iter().zip(&read).find(|((keyring, _), _)| keyring.setting() == name);
            match (from_secrets_manager, withheld) {
                (Some((_, value)), _) => Some(value.clone()),
                (None, Some(keyring)) if keyring.setting() == name => random.clone(),
                _ => env(name),
            }
        })?;
        if config.captcha == CaptchaConfig::Off {
            tracing::warn!(
                "CAPTCHA_PROVIDER is off: codes are sent without a CAPTCHA; never do this outside local development"
            );
        }
        let oidc_settings = OidcSettings::from_lookup(&env)?;
        let dynamodb = aws_sdk_dynamodb::Client::new(&waits::bounded(sdk, budget.dynamodb));
        let oidc = Provided::new(oidc_settings, sdk, &budget, &dynamodb, &config.table_name);
        let store = DynamoStore::new(dynamodb, config.table_name.clone());
        let notifier = C::notifier(&config, sdk, &budget);
        let services = Services::new(config, Box::new(store), notifier, Box::new(HttpSiteverify::default()));
        Ok(App { services, deadline: budget.deadline, secret_sources, oidc })
    }

    /// The OpenID Connect provider: `NotFound` when this deployment has none.
    pub async fn oidc(&self) -> Result<&Oidc, Error> {
        self.oidc.get(Timestamp::now()).await
    }

    /// Re-reads the keyrings once `SECRET_REFRESH` has passed since the last read, so a
    /// rotation's new keys reach warm functions within minutes: the request that finds it due
    /// pays for one read, bounded by `REFRESH_TIMEOUT`. A failed read never fails the request:
    /// the keys in use stay (they are still valid) and it is tried again sooner.
    pub async fn refresh_secret(&self, now: Timestamp) {
        const REFRESH_TIMEOUT: Duration = Duration::from_secs(2);
        const FAILED_REFRESH_RETRY: Duration = Duration::from_secs(30);
        let Some(sources) = &self.secret_sources else { return };
        {
            let mut next_read = sources.next_read.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if now < *next_read {
                return;
            }
            *next_read = now.plus(SECRET_REFRESH);
        }
        let reads = match tokio::time::timeout(REFRESH_TIMEOUT, read_secrets(&sources.client, &sources.arns)).await {
            Ok(reads) => reads,
            Err(_) => sources
                .arns
                .iter()
                .map(|_| Err(StartError::Unavailable(format!("no answer in {REFRESH_TIMEOUT:?}"))))
                .collect(),
        };
        let mut failed = false;
        for ((keyring, _), read) in sources.arns.iter().zip(reads) {
            match read.and_then(|text| Ok(domain::config::keyring(keyring.setting(), &text)?)) {
                Ok(keys) => self.keys_of(*keyring).replace_keys(&keys),
                Err(error) => {
                    tracing::warn!(%error, "keyring not re-read; the keys in use stay");
                    failed = true;
                }
            }
        }
        if failed {
            *sources.next_read.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
                now.plus(FAILED_REFRESH_RETRY);
        }
    }

    fn keys_of(&self, keyring: Keyring) -> &ServiceSecret {
        match keyring {
            Keyring::Service => &self.config.secret,
            Keyring::Edge => &self.config.edge_secret,
        }
    }
}

/// A random key for `Config::secret` of a function not given the service secret.
fn withheld_key() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::Engine::encode(&base64::engine::general_purpose::STANDARD_NO_PAD, bytes)
}

/// Each secret's current string value, read at once. Errors name the setting, the ARN and the
/// SDK's error, never a value.
async fn read_secrets(
    client: &aws_sdk_secretsmanager::Client,
    arns: &[(Keyring, String)],
) -> Vec<Result<String, StartError>> {
    futures_util::future::join_all(arns.iter().map(|(keyring, arn)| read_secret(client, keyring.arn_setting(), arn)))
        .await
}

pub(crate) async fn read_secret(
    client: &aws_sdk_secretsmanager::Client,
    setting: &str,
    arn: &str,
) -> Result<String, StartError> {
    let output = client.get_secret_value().secret_id(arn).send().await.map_err(|e| {
        let detail =
            format!("{setting}: cannot read {arn}: {}", aws_sdk_secretsmanager::error::DisplayErrorContext(&e));
        match faults::aws_error("SecretsManager", "GetSecretValue", e) {
            Error::ServiceUnavailable { .. } => StartError::Unavailable(detail),
            _ => StartError::Config(ConfigError::new(detail)),
        }
    })?;
    Ok(output.secret_string.ok_or_else(|| ConfigError::new(format!("{setting}: {arn} has no string value")))?)
}

/// Why a cold start could not build the app.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A setting is missing or wrong: a deployment mistake, so the function does not start.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Secrets Manager could not be read just now (throttled, unreachable): the request
    /// answers 503 and the next one tries again (`ColdStart`).
    #[error("{0}")]
    Unavailable(String),
}

/// A function's app: built at its cold start or, when Secrets Manager could not be read then,
/// by the first request that finds it readable. The requests before answer 503, so a fault of a
/// moment at a cold start costs a retry, not a crashed start (and Lambda's restart loop).
#[derive(Default)]
pub struct ColdStart(tokio::sync::OnceCell<App>);

impl ColdStart {
    /// Keeps the app of a cold start that worked; refuses a configuration error.
    pub fn new(first: Result<App, StartError>) -> Result<Self, ConfigError> {
        let start = ColdStart::default();
        match first {
            Ok(app) => {
                let _ = start.0.set(app);
            }
            Err(StartError::Unavailable(detail)) => {
                tracing::warn!(%detail, "cold start without its keys; retried by the next request")
            }
            Err(StartError::Config(error)) => return Err(error),
        }
        Ok(start)
    }

    /// The app, or the 503 of a dependency still failing (`load` builds it as the cold start did).
    pub async fn app<F, Fut>(&self, load: F) -> Result<&App, Error>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<App, StartError>>,
    {
        self.0.get_or_try_init(load).await.map_err(|error| match error {
            StartError::Unavailable(detail) => {
                tracing::warn!(%detail, "keys still unreadable");
                Error::ServiceUnavailable { retry_after: DEPENDENCY_RETRY_AFTER }
            }
            StartError::Config(error) => Error::Internal(error.to_string()),
        })
    }
}
