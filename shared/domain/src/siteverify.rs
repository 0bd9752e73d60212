//! Third-party CAPTCHAs: Cloudflare Turnstile, hCaptcha and Google reCAPTCHA.
//!
//! Their widget hands the browser a token, the client sends it as `captcha` (the field that
//! carries an ALTCHA payload otherwise), and only the provider can say whether it is good: we
//! POST it with our secret key to the provider's siteverify endpoint, and [`verify_token`] turns
//! the answer into a pass or a [`SiteverifyRefusal`]. The three speak the same protocol: a form
//! with `secret`, `response` and `remoteip` (hCaptcha also takes `sitekey`), answered with JSON
//! `{"success", "error-codes", "hostname", "score", ...}`.
//!
//! It fails closed. Anything but a well-formed "yes" within the timeout is a refusal: a token the
//! provider refuses (including a replay, `timeout-or-duplicate`) is [`SiteverifyRefusal::is_unavailable`]
//! `false` (403 `captcha_failed`); no answer, a non-2xx answer, an unreadable one, or one that says
//! our own keys are wrong is `true` (503 `captcha_unavailable`), never a pass.
//!
//! This module holds what the rules need: the providers, their settings and the verdicts. The
//! wire protocol (the form, the JSON answer, retries and the timeout) is the adapter's, behind
//! [`CaptchaVerifier`].

use std::time::Duration;

use async_trait::async_trait;

/// Longest token sent to a provider. Turnstile's are at most 2048 characters and reCAPTCHA's run
/// to about 2000; anything longer is refused here, with no call to the provider.
pub const MAX_TOKEN_LEN: usize = 4096;

/// How long an accepted token is remembered as used: the longest any of the three providers
/// accepts a token (Turnstile, 300 seconds), so a replay is refused here even if the provider
/// were ever to miss it.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Turnstile,
    HCaptcha,
    Recaptcha,
}

impl Provider {
    /// The name `CAPTCHA_PROVIDER` takes and `GET /v1/captcha` answers.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "turnstile" => Some(Provider::Turnstile),
            "hcaptcha" => Some(Provider::HCaptcha),
            "recaptcha" => Some(Provider::Recaptcha),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Provider::Turnstile => "turnstile",
            Provider::HCaptcha => "hcaptcha",
            Provider::Recaptcha => "recaptcha",
        }
    }

    pub fn default_verify_url(self) -> &'static str {
        match self {
            Provider::Turnstile => "https://challenges.cloudflare.com/turnstile/v0/siteverify",
            Provider::HCaptcha => "https://api.hcaptcha.com/siteverify",
            Provider::Recaptcha => "https://www.google.com/recaptcha/api/siteverify",
        }
    }
}

/// The provider's secret key: sent to siteverify and nowhere else, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct ProviderSecret(String);

impl ProviderSecret {
    pub fn new(secret: String) -> Self {
        ProviderSecret(secret)
    }

    /// The key itself, for the one request that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ProviderSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProviderSecret(..)")
    }
}

/// How one provider is asked and what its answer must say.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderConfig {
    pub provider: Provider,
    /// Public: the frontend renders the widget with it.
    pub site_key: String,
    pub secret_key: ProviderSecret,
    pub verify_url: String,
    /// For the whole call, connecting included.
    pub timeout: Duration,
    /// The least score that passes, on reCAPTCHA's scale (1.0 is surely a person). Applied only
    /// to answers that carry a score: reCAPTCHA v3, and hCaptcha Enterprise, whose score is a
    /// risk (1.0 is surely a bot) and is turned around to compare.
    pub min_score: f64,
    /// When set, the hostname the token was solved on must be this one: a token solved on
    /// another site that uses the same keys does not pass.
    pub hostname: Option<String>,
}

/// Asks a third-party CAPTCHA provider whether a token is good: the port the rules call, so they
/// are tested without a network.
#[async_trait]
pub trait CaptchaVerifier: Send + Sync {
    /// Asks `config`'s provider about `token`, sent by a client at `client_ip`; `Ok` only for a
    /// well-formed "yes" that meets the configured hostname and score.
    async fn verify(
        &self,
        config: &ProviderConfig,
        token: Option<&str>,
        client_ip: Option<&str>,
    ) -> Result<(), SiteverifyRefusal>;
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SiteverifyRefusal {
    #[error("no CAPTCHA token")]
    MissingToken,
    #[error("the CAPTCHA token is longer than any provider issues")]
    OversizedToken,
    #[error("the provider refused the token: {0}")]
    Rejected(String),
    #[error("the token was solved on {0:?}, not on CAPTCHA_HOSTNAME")]
    WrongHostname(String),
    #[error("the provider's score {0} does not meet CAPTCHA_MIN_SCORE")]
    LowScore(f64),
    #[error("the provider did not answer within CAPTCHA_VERIFY_TIMEOUT_MS")]
    Timeout,
    #[error("the provider could not be reached: {0}")]
    Unreachable(String),
    #[error("the provider answered HTTP {0}")]
    BadStatus(u16),
    #[error("the provider's answer is not siteverify JSON")]
    Unreadable,
    #[error("the provider could not check the token: {0}")]
    ProviderError(String),
    #[error("the provider refused our request or keys: {0}; check CAPTCHA_SECRET_KEY and CAPTCHA_SITE_KEY")]
    Misconfigured(String),
}

impl SiteverifyRefusal {
    /// Whether nobody could tell if the token is good (503), rather than that it is not (403).
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Self::Timeout | Self::Unreachable(_) | Self::BadStatus(_) | Self::Unreadable | Self::ProviderError(_)
        ) || self.is_misconfiguration()
    }

    /// Whether the operator must fix something: every token will fail until then.
    pub fn is_misconfiguration(&self) -> bool {
        matches!(self, Self::Misconfigured(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(provider: Provider) -> ProviderConfig {
        ProviderConfig {
            provider,
            site_key: "site-key".into(),
            secret_key: ProviderSecret::new("s3cret&=".into()),
            verify_url: "https://verify.example/siteverify".into(),
            timeout: Duration::from_millis(200),
            min_score: 0.5,
            hostname: None,
        }
    }

    #[test]
    fn provider_names_and_default_urls() {
        for provider in [Provider::Turnstile, Provider::HCaptcha, Provider::Recaptcha] {
            assert_eq!(Provider::parse(provider.name()), Some(provider));
            assert!(provider.default_verify_url().starts_with("https://"));
        }
        assert_eq!(Provider::parse("altcha"), None);
    }

    #[test]
    fn the_secret_is_never_printed() {
        let printed = format!("{:?}", config(Provider::Turnstile));
        assert!(!printed.contains("s3cret"), "{printed}");
        assert!(printed.contains("ProviderSecret(..)"));
    }
}
