//! Configuration, read once per cold start from the function's environment.

use std::time::Duration;

use crate::captcha::{self, AltchaConfig};
use crate::password::{PasswordHasherConfig, PasswordPolicy};
use crate::secret::ServiceSecret;
use crate::siteverify::{Provider, ProviderConfig, ProviderSecret};

#[derive(Debug, Clone)]
pub struct Config {
    pub table_name: String,
    /// The verified SES identity codes are sent from.
    pub sender_email: String,
    /// Named in every message, so a person knows who is texting them.
    pub service_name: String,
    /// Alphanumeric SMS sender id, where carriers allow one.
    pub sms_sender_id: Option<String>,
    /// Keys codes, tokens, sessions and per-contact limits, and seals TOTP secrets.
    pub secret: ServiceSecret,
    /// Signs CAPTCHA challenges and keys the per-address code counters: kept in a secret of its own,
    /// the only one the unauthenticated captcha function is given (README.md, Security design).
    pub edge_secret: ServiceSecret,
    pub code_ttl: Duration,
    pub code_max_attempts: u32,
    pub token_ttl: Duration,
    pub resend_cooldown: Duration,
    pub codes_per_destination_per_hour: u32,
    pub codes_per_ip_per_hour: u32,
    /// Wrong codes a destination may collect in an hour, across all its codes,
    /// so asking for a fresh code never buys a fresh set of guesses.
    pub failed_codes_per_destination_per_hour: u32,
    /// The same per day, so a destination that keeps failing is stopped beyond the hour.
    pub failed_codes_per_destination_per_day: u32,
    /// The Terms of Service and Privacy Policy version a new account accepts.
    pub terms_version: String,
    pub password_policy: PasswordPolicy,
    pub password_hasher: PasswordHasherConfig,
    pub session_ttl: Duration,
    /// How long a remembered device skips the second factor.
    pub remembered_device_ttl: Duration,
    pub mfa_challenge_ttl: Duration,
    pub mfa_max_attempts: u32,
    /// Failed sign-ins per login, and per client IP, in 15 minutes.
    pub sign_in_failures_per_login: u32,
    pub sign_in_failures_per_ip: u32,
    /// Wrong second-factor answers per account in 15 minutes, across sign-in and reset
    /// challenges and self-service proofs.
    pub second_factor_failures_per_account: u32,
    /// The issuer an authenticator app shows.
    pub totp_issuer: String,
    pub captcha: CaptchaConfig,
    /// Calling codes SMS may go to; empty means every country.
    pub sms_allowed_country_codes: Vec<u16>,
    /// A ceiling on the SMS bill: codes by SMS per country per hour, for all users together.
    pub sms_per_country_per_hour: u32,
    /// Codes by SMS per number range (all but the last four digits) per hour.
    pub sms_per_range_per_hour: u32,
    /// Security notices by SMS (to an account without an email) per account and kind per hour.
    pub sms_notices_per_account_per_hour: u32,
    /// How long a retried request with the same `Idempotency-Key` gets the first answer.
    pub idempotency_ttl: Duration,
}

/// Which CAPTCHA guards code requests.
#[derive(Debug, Clone, PartialEq)]
pub enum CaptchaConfig {
    /// The built-in proof of work (ALTCHA).
    Altcha(AltchaConfig),
    /// Turnstile, hCaptcha or reCAPTCHA, whose tokens the provider's siteverify checks.
    ThirdParty(ProviderConfig),
    /// Local development only: `template.yaml` does not allow it in a deployed stage.
    Off,
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(String);

impl ConfigError {
    pub fn new(message: impl Into<String>) -> Self {
        ConfigError(message.into())
    }
}

/// The value of the keyring setting `name` (`SERVICE_SECRET` or `EDGE_SECRET`, from the
/// environment or Secrets Manager) as keys.
pub fn keyring(name: &str, text: &str) -> Result<ServiceSecret, ConfigError> {
    ServiceSecret::parse(text).map_err(|e| ConfigError(format!("{name}: {e}")))
}

impl CaptchaConfig {
    /// As `CAPTCHA_PROVIDER` names it; for logs.
    pub fn name(&self) -> &'static str {
        match self {
            CaptchaConfig::Altcha(_) => "altcha",
            CaptchaConfig::ThirdParty(config) => config.provider.name(),
            CaptchaConfig::Off => "off",
        }
    }
}

impl Config {
    /// Reads every setting through `lookup`, so tests can configure without touching the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |name: &str| {
            lookup(name).filter(|v| !v.trim().is_empty()).ok_or_else(|| ConfigError(format!("{name} is required")))
        };
        let number = |name: &str, default: u64| -> Result<u64, ConfigError> {
            match lookup(name) {
                None => Ok(default),
                Some(text) => {
                    text.trim().parse().map_err(|_| ConfigError(format!("{name} must be a whole number, got {text:?}")))
                }
            }
        };
        let seconds = |name: &str, default: u64| number(name, default).map(Duration::from_secs);
        let count = |name: &str, default: u64| -> Result<u32, ConfigError> {
            u32::try_from(number(name, default)?).map_err(|_| ConfigError(format!("{name} is too large")))
        };

        let secret = keyring("SERVICE_SECRET", &required("SERVICE_SECRET")?)?;
        let edge_secret = keyring("EDGE_SECRET", &required("EDGE_SECRET")?)?;

        let flag = |name: &str, default: bool| -> Result<bool, ConfigError> {
            match lookup(name).as_deref().map(str::trim) {
                None => Ok(default),
                Some("true") => Ok(true),
                Some("false") => Ok(false),
                Some(other) => Err(ConfigError(format!("{name} must be true or false, got {other:?}"))),
            }
        };
        let defaults = PasswordHasherConfig::default();
        let password_hasher = PasswordHasherConfig {
            memory_kib: count("ARGON2_MEMORY_KIB", defaults.memory_kib.into())?,
            iterations: count("ARGON2_ITERATIONS", defaults.iterations.into())?,
            parallelism: count("ARGON2_PARALLELISM", defaults.parallelism.into())?,
        };
        if password_hasher.memory_kib < defaults.memory_kib || password_hasher.iterations < defaults.iterations {
            return Err(ConfigError("ARGON2_* may not be weaker than OWASP's m=19456 KiB, t=2".into()));
        }

        let captcha = match lookup("CAPTCHA_PROVIDER").as_deref().map(str::trim) {
            None | Some("altcha") => CaptchaConfig::Altcha(AltchaConfig {
                difficulty: match number("CAPTCHA_DIFFICULTY", 100_000)? {
                    // 0 would make every challenge free; above a billion no phone solves one in time.
                    difficulty @ 1..=1_000_000_000 => difficulty,
                    other => {
                        return Err(ConfigError(format!(
                            "CAPTCHA_DIFFICULTY must be from 1 to 1000000000, got {other}"
                        )))
                    }
                },
                lifetime: seconds("CAPTCHA_TTL_SECONDS", 300)?,
                // Only for frontends built on v1 (README.md, CAPTCHA_ALTCHA_V1): its SHA-256 is cheap natively.
                v1: flag("CAPTCHA_ALTCHA_V1", false)?,
            }),
            Some("off") => CaptchaConfig::Off,
            Some(name) => match Provider::parse(name) {
                Some(provider) => CaptchaConfig::ThirdParty(provider_config(provider, &lookup)?),
                None => {
                    return Err(ConfigError(format!(
                        "CAPTCHA_PROVIDER must be altcha, turnstile, hcaptcha, recaptcha or off, got {name:?}"
                    )))
                }
            },
        };
        let sms_allowed_country_codes = lookup("SMS_ALLOWED_COUNTRY_CODES")
            .unwrap_or_default()
            .split(',')
            .map(|c| c.trim().trim_start_matches('+'))
            .filter(|c| !c.is_empty())
            .map(|c| {
                c.parse::<u16>()
                    .map_err(|_| ConfigError(format!("SMS_ALLOWED_COUNTRY_CODES: {c:?} is not a calling code")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let service_name = lookup("SERVICE_NAME").unwrap_or_else(|| "Mi Account".to_owned());
        Ok(Config {
            table_name: required("TABLE_NAME")?,
            sender_email: required("SENDER_EMAIL")?,
            service_name: service_name.clone(),
            sms_sender_id: lookup("SMS_SENDER_ID").filter(|v| !v.trim().is_empty()),
            secret,
            edge_secret,
            code_ttl: seconds("CODE_TTL_SECONDS", 600)?,
            code_max_attempts: count("CODE_MAX_ATTEMPTS", 5)?,
            token_ttl: seconds("TOKEN_TTL_SECONDS", 900)?,
            resend_cooldown: seconds("RESEND_COOLDOWN_SECONDS", 60)?,
            codes_per_destination_per_hour: count("CODES_PER_DESTINATION_PER_HOUR", 5)?,
            codes_per_ip_per_hour: count("CODES_PER_IP_PER_HOUR", captcha::DEFAULT_CODES_PER_IP_PER_HOUR.into())?,
            failed_codes_per_destination_per_hour: count("FAILED_CODES_PER_DESTINATION_PER_HOUR", 10)?,
            failed_codes_per_destination_per_day: count("FAILED_CODES_PER_DESTINATION_PER_DAY", 30)?,
            terms_version: lookup("TERMS_VERSION").unwrap_or_else(|| "2026-11".to_owned()),
            password_policy: PasswordPolicy {
                require_composition: flag("PASSWORD_REQUIRE_COMPOSITION", true)?,
                ..PasswordPolicy::default()
            },
            password_hasher,
            idempotency_ttl: seconds("IDEMPOTENCY_TTL_SECONDS", 24 * 3600)?,
            captcha,
            sms_allowed_country_codes,
            sms_per_country_per_hour: count("SMS_PER_COUNTRY_PER_HOUR", 10_000)?,
            sms_per_range_per_hour: count("SMS_PER_RANGE_PER_HOUR", 20)?,
            sms_notices_per_account_per_hour: count("SMS_NOTICES_PER_ACCOUNT_PER_HOUR", 1)?,
            session_ttl: seconds("SESSION_TTL_SECONDS", 30 * 24 * 3600)?,
            remembered_device_ttl: seconds("REMEMBERED_DEVICE_TTL_SECONDS", 30 * 24 * 3600)?,
            mfa_challenge_ttl: seconds("MFA_CHALLENGE_TTL_SECONDS", 300)?,
            mfa_max_attempts: count("MFA_MAX_ATTEMPTS", 5)?,
            sign_in_failures_per_login: count("SIGN_IN_FAILURES_PER_LOGIN", 10)?,
            sign_in_failures_per_ip: count("SIGN_IN_FAILURES_PER_IP", 100)?,
            second_factor_failures_per_account: count("SECOND_FACTOR_FAILURES_PER_ACCOUNT", 10)?,
            totp_issuer: lookup("TOTP_ISSUER").unwrap_or_else(|| service_name.clone()),
        })
    }
}

/// The `CAPTCHA_*` settings of a third-party provider. Keys are required: without them every
/// token would fail, which is better found at a cold start than by every person signing up.
fn provider_config(
    provider: Provider,
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<ProviderConfig, ConfigError> {
    let setting = |name: &str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let required = |name: &str| {
        setting(name)
            .ok_or_else(|| ConfigError(format!("{name} is required with CAPTCHA_PROVIDER={}", provider.name())))
    };
    let verify_url = setting("CAPTCHA_VERIFY_URL").unwrap_or_else(|| provider.default_verify_url().to_owned());
    if !verify_url.starts_with("https://") && !is_loopback_http(&verify_url) {
        // The secret key travels in the request body.
        return Err(ConfigError(format!(
            "CAPTCHA_VERIFY_URL must be https:// (or http:// to localhost, for tests), got {verify_url:?}"
        )));
    }
    let timeout_ms = match setting("CAPTCHA_VERIFY_TIMEOUT_MS") {
        None => 3000,
        Some(text) => text.parse::<u64>().ok().filter(|ms| *ms > 0).ok_or_else(|| {
            ConfigError(format!("CAPTCHA_VERIFY_TIMEOUT_MS must be a positive whole number, got {text:?}"))
        })?,
    };
    let min_score =
        match setting("CAPTCHA_MIN_SCORE") {
            None => 0.5,
            Some(text) => text.parse::<f64>().ok().filter(|s| (0.0..=1.0).contains(s)).ok_or_else(|| {
                ConfigError(format!("CAPTCHA_MIN_SCORE must be a number from 0.0 to 1.0, got {text:?}"))
            })?,
        };
    Ok(ProviderConfig {
        provider,
        site_key: required("CAPTCHA_SITE_KEY")?,
        secret_key: ProviderSecret::new(required("CAPTCHA_SECRET_KEY")?),
        verify_url,
        timeout: Duration::from_millis(timeout_ms),
        min_score,
        hostname: setting("CAPTCHA_HOSTNAME"),
    })
}

fn is_loopback_http(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else { return false };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    const MINIMAL: [(&str, &str); 4] = [
        ("TABLE_NAME", "t"),
        ("SENDER_EMAIL", "no-reply@example.com"),
        ("SERVICE_SECRET", "0123456789abcdef0123456789abcdef"),
        ("EDGE_SECRET", "fedcba9876543210fedcba9876543210"),
    ];

    #[test]
    fn defaults_follow_the_product_rules() {
        let c = config(&MINIMAL).unwrap();
        assert_eq!(c.code_ttl, Duration::from_secs(600));
        assert_eq!(c.code_max_attempts, 5);
        assert_eq!(c.token_ttl, Duration::from_secs(900));
        assert_eq!(c.resend_cooldown, Duration::from_secs(60));
        assert_eq!(c.codes_per_destination_per_hour, 5);
        let CaptchaConfig::Altcha(altcha) = &c.captcha else { panic!("a CAPTCHA is on unless switched off") };
        assert_eq!((altcha.difficulty, altcha.lifetime, altcha.v1), (100_000, Duration::from_secs(300), false));
        assert!(c.sms_allowed_country_codes.is_empty());
    }

    #[test]
    fn overrides_and_errors_are_read() {
        assert_eq!(with(&[("CODE_TTL_SECONDS", "120")]).unwrap().code_ttl, Duration::from_secs(120));
        let err = with(&[("CODE_TTL_SECONDS", "120"), ("CODE_MAX_ATTEMPTS", "five")]).unwrap_err();
        assert!(err.to_string().contains("CODE_MAX_ATTEMPTS"));
        for keyring in ["SERVICE_SECRET", "EDGE_SECRET"] {
            let without: Vec<_> = MINIMAL.into_iter().filter(|(name, _)| *name != keyring).collect();
            assert!(config(&without).unwrap_err().to_string().contains(keyring));
            assert!(with(&[(keyring, "short")]).unwrap_err().to_string().contains(keyring));
        }
        let some = with(&[("SMS_ALLOWED_COUNTRY_CODES", "+86, 91")]).unwrap();
        assert_eq!(some.sms_allowed_country_codes, vec![86, 91]);
        assert!(with(&[("CAPTCHA_PROVIDER", "maybe")]).is_err());
        for free in ["0", "1000000001"] {
            assert!(with(&[("CAPTCHA_DIFFICULTY", free)]).unwrap_err().to_string().contains("CAPTCHA_DIFFICULTY"));
        }
        assert!(with(&[("ARGON2_MEMORY_KIB", "4096")]).unwrap_err().to_string().contains("OWASP"));
        let v1 = with(&[("CAPTCHA_ALTCHA_V1", "true")]).unwrap();
        assert!(matches!(v1.captcha, CaptchaConfig::Altcha(AltchaConfig { v1: true, .. })));
        assert!(with(&[("CAPTCHA_ALTCHA_V1", "yes")]).unwrap_err().to_string().contains("CAPTCHA_ALTCHA_V1"));
        let no_composition = with(&[("PASSWORD_REQUIRE_COMPOSITION", "false")]).unwrap();
        assert!(!no_composition.password_policy.require_composition);
    }

    fn with(extra: &[(&'static str, &'static str)]) -> Result<Config, ConfigError> {
        let mut pairs = MINIMAL.to_vec();
        pairs.extend_from_slice(extra);
        config(&pairs)
    }

    #[test]
    fn third_party_providers_need_their_keys_and_get_defaults() {
        const KEYS: [(&str, &str); 2] = [("CAPTCHA_SITE_KEY", "site"), ("CAPTCHA_SECRET_KEY", "sk-0123")];
        for (name, url) in [
            ("turnstile", "https://challenges.cloudflare.com/turnstile/v0/siteverify"),
            ("hcaptcha", "https://api.hcaptcha.com/siteverify"),
            ("recaptcha", "https://www.google.com/recaptcha/api/siteverify"),
        ] {
            let c = with(&[("CAPTCHA_PROVIDER", name), KEYS[0], KEYS[1]]).unwrap();
            let CaptchaConfig::ThirdParty(p) = &c.captcha else { panic!("{name}: {:?}", c.captcha) };
            assert_eq!((p.provider.name(), p.verify_url.as_str(), c.captcha.name()), (name, url, name));
            assert_eq!((p.site_key.as_str(), p.timeout, p.min_score), ("site", Duration::from_secs(3), 0.5));
            assert_eq!(p.hostname, None);
            for missing in KEYS {
                let other = KEYS.into_iter().filter(|k| *k != missing).collect::<Vec<_>>();
                let err = with(&[&[("CAPTCHA_PROVIDER", name)][..], &other[..]].concat()).unwrap_err();
                assert!(err.to_string().contains(missing.0), "{err}");
            }
        }
        let c = with(&[
            ("CAPTCHA_PROVIDER", "turnstile"),
            KEYS[0],
            KEYS[1],
            ("CAPTCHA_VERIFY_URL", "http://127.0.0.1:9/siteverify"),
            ("CAPTCHA_VERIFY_TIMEOUT_MS", "250"),
            ("CAPTCHA_MIN_SCORE", "0.7"),
            ("CAPTCHA_HOSTNAME", "accounts.example.com"),
        ])
        .unwrap();
        let CaptchaConfig::ThirdParty(p) = &c.captcha else { panic!() };
        assert_eq!(
            (p.verify_url.as_str(), p.timeout, p.min_score),
            ("http://127.0.0.1:9/siteverify", Duration::from_millis(250), 0.7)
        );
        assert_eq!(p.hostname.as_deref(), Some("accounts.example.com"));
        assert!(!format!("{c:?}").contains("sk-0123"), "the secret key is never printed: {c:?}");
    }

    #[test]
    fn third_party_settings_are_checked() {
        let base = [("CAPTCHA_PROVIDER", "hcaptcha"), ("CAPTCHA_SITE_KEY", "site"), ("CAPTCHA_SECRET_KEY", "secret")];
        for (name, value) in [
            ("CAPTCHA_VERIFY_URL", "http://verify.example/siteverify"),
            ("CAPTCHA_VERIFY_URL", "http://localhost.evil.example/siteverify"),
            ("CAPTCHA_VERIFY_URL", "ftp://127.0.0.1/"),
            ("CAPTCHA_VERIFY_TIMEOUT_MS", "0"),
            ("CAPTCHA_VERIFY_TIMEOUT_MS", "3s"),
            ("CAPTCHA_MIN_SCORE", "1.5"),
            ("CAPTCHA_MIN_SCORE", "-0.1"),
            ("CAPTCHA_MIN_SCORE", "high"),
        ] {
            let err = with(&[&base[..], &[(name, value)][..]].concat()).unwrap_err();
            assert!(err.to_string().contains(name), "{name}={value}: {err}");
        }
        for url in ["http://localhost:8080/x", "http://[::1]:9/x", "http://127.0.0.2/x", "https://verify.example/x"] {
            assert!(with(&[&base[..], &[("CAPTCHA_VERIFY_URL", url)][..]].concat()).is_ok(), "{url}");
        }
    }
}
