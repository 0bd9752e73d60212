//! The OpenID Connect provider as the functions that serve it (web, oidc, oidc-token) build it:
//! its settings, read with the others at every cold start, and the provider itself (the
//! pairwise key, the signing keyring, the store), built by the first request that needs it, so
//! no other function reads the pairwise key or links a KMS call.

use std::sync::Mutex;
use std::time::Duration;

use aws_types::SdkConfig;

use domain::config::ConfigError;
use domain::error::{Error, Result, DEPENDENCY_RETRY_AFTER};
use domain::oidc::authorize::AuthorizeOutcome;
use domain::oidc::claims::PairwiseKey;
use domain::oidc::error::OAuthCode;
use domain::oidc::jws::{KeySet, TokenSigner};
use domain::oidc::{OidcConfig, Provider};
use domain::secret::ServiceSecret;
use domain::Timestamp;

use crate::app::{read_secret, StartError};
use crate::signing::KmsSigner;
use crate::store::DynamoStore;
use crate::waits::{self, Budget};

/// The provider's settings. Without `OIDC_ISSUER` there is no provider: its routes answer 404.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// `OIDC_ISSUER`: the public origin, `https://` (or `http://` on 127.0.0.1 or localhost, locally).
    pub issuer: String,
    /// `OIDC_ACCESS_TOKEN_AUDIENCE`: the `aud` of access tokens; the issuer by default.
    pub audience: String,
    /// `OIDC_PAIRWISE_KEY` (a value, for tests and tools) or `OIDC_PAIRWISE_KEY_ARN` (a secret).
    pairwise: Source,
    /// `OIDC_LOGIN_URL`: where `authorize` sends a person to sign in; the hosted page by default.
    pub login_url: String,
    /// `OIDC_CONSENT_URL`: where it sends them to approve a third-party app.
    pub consent_url: String,
}

#[derive(Debug, Clone)]
enum Source {
    Value(String),
    Arn(String),
}

impl OidcSettings {
    pub fn from_lookup(env: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, ConfigError> {
        let set = |name: &str| env(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let Some(issuer) = set("OIDC_ISSUER") else { return Ok(None) };
        let issuer = issuer.trim_end_matches('/').to_owned();
        let local = ["http://127.0.0.1", "http://localhost"].iter().any(|origin| {
            issuer.strip_prefix(origin).is_some_and(|rest| rest.is_empty() || rest.starts_with([':', '/']))
        });
        if !issuer.starts_with("https://") && !local {
            return Err(ConfigError::new("OIDC_ISSUER: an https:// URL (http:// only on 127.0.0.1 or localhost)"));
        }
        let pairwise = match (set("OIDC_PAIRWISE_KEY"), set("OIDC_PAIRWISE_KEY_ARN")) {
            (Some(value), None) => Source::Value(value),
            (None, Some(arn)) => Source::Arn(arn),
            (Some(_), Some(_)) => {
                return Err(ConfigError::new("set OIDC_PAIRWISE_KEY_ARN or OIDC_PAIRWISE_KEY, not both"))
            }
            (None, None) => return Err(ConfigError::new("OIDC_ISSUER needs OIDC_PAIRWISE_KEY_ARN")),
        };
        if let Source::Value(value) = &pairwise {
            pairwise_key(value)?;
        }
        Ok(Some(OidcSettings {
            audience: set("OIDC_ACCESS_TOKEN_AUDIENCE").unwrap_or_else(|| issuer.clone()),
            login_url: set("OIDC_LOGIN_URL").unwrap_or_else(|| "/signin".to_owned()),
            consent_url: set("OIDC_CONSENT_URL").unwrap_or_else(|| "/oauth2/consent".to_owned()),
            issuer,
            pairwise,
        }))
    }
}

/// The pairwise key is the secret's text itself (the template generates 64 characters), never
/// decoded: what an operator pastes is what is used.
fn pairwise_key(text: &str) -> Result<PairwiseKey, ConfigError> {
    PairwiseKey::new(text.as_bytes()).ok_or_else(|| ConfigError::new("the OIDC pairwise key: at least 32 characters"))
}

/// The provider of a warm function.
pub struct Oidc {
    pub config: OidcConfig,
    pub login_url: String,
    pub consent_url: String,
    store: DynamoStore,
    pub signer: KmsSigner,
    /// The published keys as a verifier, with when they were made: userinfo and logout check
    /// every token against them, and `KmsSigner` already keeps the public halves.
    keys: Mutex<Option<(Timestamp, KeySet)>>,
}

/// How long the verifier of the published keys is reused before it is made again.
const KEYS_REUSED: Duration = Duration::from_secs(60);

impl Oidc {
    pub fn provider<'a>(&'a self, secret: &'a ServiceSecret) -> Provider<'a> {
        Provider { config: &self.config, secret, store: &self.store, signer: &self.signer }
    }

    /// Where the browser goes after an authorization step: a URL, or the error page's reason.
    pub fn next_step(&self, outcome: AuthorizeOutcome) -> Result<String, (OAuthCode, &'static str)> {
        let with = |url: &str, name: &str, id: &str| {
            let joiner = if url.contains('?') { '&' } else { '?' };
            format!("{url}{joiner}{name}={id}")
        };
        match outcome {
            AuthorizeOutcome::Redirect(url) => Ok(url),
            AuthorizeOutcome::Login(id) => Ok(with(&self.login_url, "login_challenge", &id.to_string())),
            AuthorizeOutcome::Consent(id) => Ok(with(&self.consent_url, "consent_challenge", &id.to_string())),
            AuthorizeOutcome::ErrorPage(code, description) => Err((code, description)),
        }
    }

    /// The published keys, as a verifier.
    pub async fn keys(&self, now: Timestamp) -> Result<KeySet> {
        if let Some((made, keys)) = &*self.cached_keys() {
            if now < made.plus(KEYS_REUSED) {
                return Ok(keys.clone());
            }
        }
        let keys = KeySet::from_spki(&self.signer.public_keys().await?)?;
        *self.cached_keys() = Some((now, keys.clone()));
        Ok(keys)
    }

    fn cached_keys(&self) -> std::sync::MutexGuard<'_, Option<(Timestamp, KeySet)>> {
        self.keys.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The provider, once a request has needed it (`get`).
pub struct Provided {
    settings: Option<OidcSettings>,
    sdk: SdkConfig,
    budget: Budget,
    dynamodb: aws_sdk_dynamodb::Client,
    table: String,
    cell: tokio::sync::OnceCell<Oidc>,
}

impl Provided {
    pub fn new(
        settings: Option<OidcSettings>,
        sdk: &SdkConfig,
        budget: &Budget,
        dynamodb: &aws_sdk_dynamodb::Client,
        table: &str,
    ) -> Self {
        Provided {
            settings,
            sdk: sdk.clone(),
            budget: *budget,
            dynamodb: dynamodb.clone(),
            table: table.to_owned(),
            cell: Default::default(),
        }
    }

    /// The provider with its signer's clock at `now`: `NotFound` when this deployment has none
    /// (no `OIDC_ISSUER`, or no signing key yet), a 503 while its key or keyring cannot be read.
    pub async fn get(&self, now: Timestamp) -> Result<&Oidc> {
        let Some(settings) = &self.settings else { return Err(Error::NotFound) };
        let oidc = self.cell.get_or_try_init(|| self.load(settings, now)).await?;
        oidc.signer.refresh(now).await;
        Ok(oidc)
    }

    async fn load(&self, settings: &OidcSettings, now: Timestamp) -> Result<Oidc> {
        let text = match &settings.pairwise {
            Source::Value(value) => value.clone(),
            Source::Arn(arn) => {
                let client =
                    aws_sdk_secretsmanager::Client::new(&waits::bounded(&self.sdk, self.budget.secrets_manager));
                read_secret(&client, "OIDC_PAIRWISE_KEY_ARN", arn).await.map_err(|error| match error {
                    StartError::Unavailable(detail) => {
                        tracing::warn!(%detail, "the pairwise key is unreadable");
                        Error::ServiceUnavailable { retry_after: DEPENDENCY_RETRY_AFTER }
                    }
                    StartError::Config(error) => Error::Internal(error.to_string()),
                })?
            }
        };
        let pairwise = pairwise_key(&text).map_err(|error| Error::Internal(error.to_string()))?;
        let kms = aws_sdk_kms::Client::new(&waits::bounded(&self.sdk, self.budget.dynamodb));
        let signer = KmsSigner::load(kms, self.dynamodb.clone(), &self.table, now).await?;
        Ok(Oidc {
            config: OidcConfig::new(&settings.issuer, &settings.audience, pairwise),
            login_url: settings.login_url.clone(),
            consent_url: settings.consent_url.clone(),
            store: DynamoStore::new(self.dynamodb.clone(), self.table.clone()),
            signer,
            keys: Mutex::new(None),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Option<OidcSettings>, ConfigError> {
        OidcSettings::from_lookup(|name| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v).to_owned()))
    }

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn without_an_issuer_there_is_no_provider_and_with_one_a_pairwise_key_is_required() {
        assert!(settings(&[]).unwrap().is_none());
        assert!(settings(&[("OIDC_ISSUER", "https://account.example")]).is_err());
        let both = [("OIDC_ISSUER", "https://a.example"), ("OIDC_PAIRWISE_KEY", KEY), ("OIDC_PAIRWISE_KEY_ARN", "arn")];
        assert!(settings(&both).is_err());
        assert!(settings(&[("OIDC_ISSUER", "https://a.example"), ("OIDC_PAIRWISE_KEY", "short")]).is_err());
        let found = settings(&[("OIDC_ISSUER", "https://a.example/"), ("OIDC_PAIRWISE_KEY", KEY)]).unwrap().unwrap();
        assert_eq!((found.issuer.as_str(), found.audience.as_str()), ("https://a.example", "https://a.example"));
        assert_eq!((found.login_url.as_str(), found.consent_url.as_str()), ("/signin", "/oauth2/consent"));
    }

    #[test]
    fn the_issuer_is_https_except_on_this_machine() {
        let issuer = |url| settings(&[("OIDC_ISSUER", url), ("OIDC_PAIRWISE_KEY", KEY)]);
        assert!(issuer("http://127.0.0.1:9000").is_ok());
        assert!(issuer("http://localhost").is_ok());
        assert!(issuer("http://localhost.evil.example").is_err());
        assert!(issuer("http://account.example").is_err());
    }
}
