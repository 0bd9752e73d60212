//! What a function builds once per cold start and shares across its requests.

use aws_config::{BehaviorVersion, SdkConfig};

use crate::config::{Config, ConfigError};
use crate::domain::siteverify::SiteverifyTransport;
use crate::notify::{AwsNotifier, Notifier};
use crate::siteverify_client::HttpSiteverify;
use crate::store::{DynamoStore, Store};

pub struct App {
    pub config: Config,
    pub store: Box<dyn Store>,
    pub notifier: Box<dyn Notifier>,
    /// Asks a third-party CAPTCHA provider about a token (`CaptchaConfig::ThirdParty`).
    pub siteverify: Box<dyn SiteverifyTransport>,
}

impl App {
    /// The cold start: the process environment and the SDK's own discovery. `AWS_ENDPOINT_URL`
    /// (moto, locally) is honoured by the SDK itself, so nothing here differs between stacks.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
        Self::load(|name| std::env::var(name).ok(), &sdk).await
    }

    /// Reads the settings through `env` and, when `SERVICE_SECRET_ARN` names one, the service
    /// secret from Secrets Manager — one call per cold start, never per request. A deployed
    /// stack always uses the ARN; `SERVICE_SECRET` in the environment is for tests and tools.
    pub async fn load(env: impl Fn(&str) -> Option<String>, sdk: &SdkConfig) -> Result<Self, ConfigError> {
        let from_secrets_manager = match env("SERVICE_SECRET_ARN").filter(|arn| !arn.trim().is_empty()) {
            None => None,
            Some(_) if env("SERVICE_SECRET").is_some() => {
                return Err(ConfigError::new("set SERVICE_SECRET_ARN or SERVICE_SECRET, not both"));
            }
            Some(arn) => Some(read_secret(sdk, &arn).await?),
        };
        let config = Config::from_lookup(|name| match (name, &from_secrets_manager) {
            ("SERVICE_SECRET", Some(secret)) => Some(secret.clone()),
            _ => env(name),
        })?;
        if config.captcha == crate::config::CaptchaConfig::Off {
            tracing::warn!(
                "CAPTCHA_PROVIDER is off: codes are sent without a CAPTCHA; never do this outside local development"
            );
        }
        Ok(Self::with_aws(config, sdk))
    }

    pub fn with_aws(config: Config, sdk: &SdkConfig) -> Self {
        let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(sdk), config.table_name.clone());
        let notifier = AwsNotifier::new(
            aws_sdk_sesv2::Client::new(sdk),
            aws_sdk_sns::Client::new(sdk),
            config.sender_email.clone(),
            config.sms_sender_id.clone(),
        );
        App {
            config,
            store: Box::new(store),
            notifier: Box::new(notifier),
            siteverify: Box::new(HttpSiteverify::default()),
        }
    }
}

/// The secret's current string value. Errors name the ARN and the SDK's error, never a value.
async fn read_secret(sdk: &SdkConfig, arn: &str) -> Result<String, ConfigError> {
    let client = aws_sdk_secretsmanager::Client::new(sdk);
    let output = client.get_secret_value().secret_id(arn).send().await.map_err(|e| {
        ConfigError::new(format!(
            "SERVICE_SECRET_ARN: cannot read {arn}: {}",
            aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
        ))
    })?;
    output.secret_string.ok_or_else(|| ConfigError::new(format!("SERVICE_SECRET_ARN: {arn} has no string value")))
}
