//! Configuration, read once per cold start from the function's environment.

use std::time::Duration;

use crate::domain::password::{PasswordHasherConfig, PasswordPolicy};
use crate::secret::ServiceSecret;

#[derive(Debug, Clone)]
pub struct Config {
    pub table_name: String,
    /// The verified SES identity codes are sent from.
    pub sender_email: String,
    /// Named in every message, so a person knows who is texting them.
    pub service_name: String,
    /// Alphanumeric SMS sender id, where carriers allow one.
    pub sms_sender_id: Option<String>,
    pub secret: ServiceSecret,
    pub code_ttl: Duration,
    pub code_max_attempts: u32,
    pub token_ttl: Duration,
    pub resend_cooldown: Duration,
    pub codes_per_destination_per_hour: u32,
    pub codes_per_ip_per_hour: u32,
    /// Wrong codes a destination may collect in an hour, across all its codes,
    /// so asking for a fresh code never buys a fresh set of guesses.
    pub failed_codes_per_destination_per_hour: u32,
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
    /// The issuer an authenticator app shows.
    pub totp_issuer: String,
    pub captcha: CaptchaConfig,
    /// Calling codes SMS may go to; empty means every country.
    pub sms_allowed_country_codes: Vec<u16>,
    /// A ceiling on the SMS bill: codes by SMS per country per hour, for all users together.
    pub sms_per_country_per_hour: u32,
    /// Codes by SMS per number range (all but the last four digits) per hour.
    pub sms_per_range_per_hour: u32,
    /// How long a retried request with the same `Idempotency-Key` gets the first answer.
    pub idempotency_ttl: Duration,
}

/// Which CAPTCHA guards code requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptchaConfig {
    /// The built-in proof of work (ALTCHA); `difficulty` is the base `maxnumber`.
    Altcha { difficulty: u64, lifetime: Duration },
    /// Local development only: `template.yaml` does not allow it in a deployed stage.
    Off,
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub(crate) String);

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

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

        let secret = ServiceSecret::new(required("SERVICE_SECRET")?.into_bytes())
            .ok_or_else(|| ConfigError(format!("SERVICE_SECRET must be at least {} bytes", ServiceSecret::MIN_LEN)))?;

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
            None | Some("altcha") => CaptchaConfig::Altcha {
                difficulty: number("CAPTCHA_DIFFICULTY", 100_000)?,
                lifetime: seconds("CAPTCHA_TTL_SECONDS", 300)?,
            },
            Some("off") => CaptchaConfig::Off,
            Some(other) => return Err(ConfigError(format!("CAPTCHA_PROVIDER must be altcha or off, got {other:?}"))),
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
            code_ttl: seconds("CODE_TTL_SECONDS", 600)?,
            code_max_attempts: count("CODE_MAX_ATTEMPTS", 5)?,
            token_ttl: seconds("TOKEN_TTL_SECONDS", 900)?,
            resend_cooldown: seconds("RESEND_COOLDOWN_SECONDS", 60)?,
            codes_per_destination_per_hour: count("CODES_PER_DESTINATION_PER_HOUR", 5)?,
            codes_per_ip_per_hour: count("CODES_PER_IP_PER_HOUR", 30)?,
            failed_codes_per_destination_per_hour: count("FAILED_CODES_PER_DESTINATION_PER_HOUR", 10)?,
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
            session_ttl: seconds("SESSION_TTL_SECONDS", 30 * 24 * 3600)?,
            remembered_device_ttl: seconds("REMEMBERED_DEVICE_TTL_SECONDS", 30 * 24 * 3600)?,
            mfa_challenge_ttl: seconds("MFA_CHALLENGE_TTL_SECONDS", 300)?,
            mfa_max_attempts: count("MFA_MAX_ATTEMPTS", 5)?,
            sign_in_failures_per_login: count("SIGN_IN_FAILURES_PER_LOGIN", 10)?,
            sign_in_failures_per_ip: count("SIGN_IN_FAILURES_PER_IP", 100)?,
            totp_issuer: lookup("TOTP_ISSUER").unwrap_or_else(|| service_name.clone()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    const MINIMAL: [(&str, &str); 3] = [
        ("TABLE_NAME", "t"),
        ("SENDER_EMAIL", "no-reply@example.com"),
        ("SERVICE_SECRET", "0123456789abcdef0123456789abcdef"),
    ];

    #[test]
    fn defaults_follow_the_product_rules() {
        let c = config(&MINIMAL).unwrap();
        assert_eq!(c.code_ttl, Duration::from_secs(600));
        assert_eq!(c.code_max_attempts, 5);
        assert_eq!(c.token_ttl, Duration::from_secs(900));
        assert_eq!(c.resend_cooldown, Duration::from_secs(60));
        assert_eq!(c.codes_per_destination_per_hour, 5);
        assert!(matches!(c.captcha, CaptchaConfig::Altcha { .. }), "a CAPTCHA is on unless switched off");
        assert!(c.sms_allowed_country_codes.is_empty());
    }

    #[test]
    fn overrides_and_errors_are_read() {
        let mut pairs = MINIMAL.to_vec();
        pairs.push(("CODE_TTL_SECONDS", "120"));
        assert_eq!(config(&pairs).unwrap().code_ttl, Duration::from_secs(120));
        pairs.push(("CODE_MAX_ATTEMPTS", "five"));
        assert!(config(&pairs).unwrap_err().to_string().contains("CODE_MAX_ATTEMPTS"));
        assert!(config(&MINIMAL[..2]).unwrap_err().to_string().contains("SERVICE_SECRET"));
        let short = [MINIMAL[0], MINIMAL[1], ("SERVICE_SECRET", "short")];
        assert!(config(&short).is_err());
        let some = [MINIMAL[0], MINIMAL[1], MINIMAL[2], ("SMS_ALLOWED_COUNTRY_CODES", "+86, 91")];
        assert_eq!(config(&some).unwrap().sms_allowed_country_codes, vec![86, 91]);
        let bad = [MINIMAL[0], MINIMAL[1], MINIMAL[2], ("CAPTCHA_PROVIDER", "maybe")];
        assert!(config(&bad).is_err());
        let weak = [MINIMAL[0], MINIMAL[1], MINIMAL[2], ("ARGON2_MEMORY_KIB", "4096")];
        assert!(config(&weak).unwrap_err().to_string().contains("OWASP"));
        let no_composition = [MINIMAL[0], MINIMAL[1], MINIMAL[2], ("PASSWORD_REQUIRE_COMPOSITION", "false")];
        assert!(!config(&no_composition).unwrap().password_policy.require_composition);
    }
}
