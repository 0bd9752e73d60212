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
    /// Reads the configuration and builds the AWS clients. `AWS_ENDPOINT_URL` (moto,
    /// locally) is honoured by the SDK itself, so nothing here differs between stacks.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let config = Config::from_env()?;
        if config.captcha == crate::config::CaptchaConfig::Off {
            tracing::warn!(
                "CAPTCHA_PROVIDER is off: codes are sent without a CAPTCHA; never do this outside local development"
            );
        }
        let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
        Ok(Self::with_aws(config, &sdk))
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
