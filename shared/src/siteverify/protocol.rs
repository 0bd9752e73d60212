//! The siteverify wire protocol of Turnstile, hCaptcha and reCAPTCHA: a form with `secret`,
//! `response` and `remoteip` (hCaptcha also takes `sitekey`), answered with JSON
//! `{"success", "error-codes", "hostname", "score", ...}`. [`verify_token`] turns an answer
//! into a pass or a [`SiteverifyRefusal`], failing closed (see `domain::siteverify`).

use async_trait::async_trait;
use serde::Deserialize;

use domain::siteverify::{Provider, ProviderConfig, SiteverifyRefusal, MAX_TOKEN_LEN};

/// A siteverify endpoint's answer, whatever its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpAnswer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// POSTs a form to a URL: the network, kept out of the rules so they are tested without one.
#[async_trait]
pub trait SiteverifyTransport: Send + Sync {
    /// `form` is `application/x-www-form-urlencoded`. `Err` is a failure to get any answer.
    async fn post_form(&self, url: &str, form: String) -> Result<HttpAnswer, String>;
}

/// Why a token did not pass. The text is for logs: it holds no token and no secret.
/// Error codes that mean our side is wrong (keys, or the request we built), not the token.
const OUR_FAULT: [&str; 4] = ["missing-input-secret", "invalid-input-secret", "sitekey-secret-mismatch", "bad-request"];

/// Error codes that mean the provider failed to check the token; Turnstile says to retry.
const PROVIDER_FAULT: [&str; 1] = ["internal-error"];

/// What is read of an answer; every other field is ignored. `success` has no default, so an
/// answer without it is unreadable rather than a refusal or a pass.
#[derive(Debug, Deserialize)]
struct Answer {
    success: bool,
    #[serde(rename = "error-codes", default)]
    error_codes: Vec<String>,
    #[serde(default)]
    hostname: Option<String>,
    #[serde(default)]
    score: Option<f64>,
}

/// Asks the provider about `token`, sent by a client at `client_ip`.
///
/// A failure to connect is tried once more within the same timeout: a kept-alive connection may
/// have been closed by the provider while the function was frozen between invocations. If the
/// first attempt did reach the provider, the second one is a duplicate and is refused (403),
/// which asks the person for a new token just as a 503 would.
pub async fn verify_token(
    transport: &dyn SiteverifyTransport,
    config: &ProviderConfig,
    token: Option<&str>,
    client_ip: Option<&str>,
) -> Result<(), SiteverifyRefusal> {
    let token = token.map(str::trim).filter(|t| !t.is_empty()).ok_or(SiteverifyRefusal::MissingToken)?;
    if token.len() > MAX_TOKEN_LEN {
        return Err(SiteverifyRefusal::OversizedToken);
    }
    let form = form(config, token, client_ip);
    let ask = async {
        match transport.post_form(&config.verify_url, form.clone()).await {
            Err(_) => transport.post_form(&config.verify_url, form).await,
            answer => answer,
        }
    };
    let answer = tokio::time::timeout(config.timeout, ask)
        .await
        .map_err(|_| SiteverifyRefusal::Timeout)?
        .map_err(SiteverifyRefusal::Unreachable)?;
    if !(200..300).contains(&answer.status) {
        return Err(SiteverifyRefusal::BadStatus(answer.status));
    }
    let answer: Answer = serde_json::from_slice(&answer.body).map_err(|_| SiteverifyRefusal::Unreadable)?;
    judge(config, &answer)
}

fn form(config: &ProviderConfig, token: &str, client_ip: Option<&str>) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("secret", config.secret_key.expose()).append_pair("response", token);
    if let Some(ip) = client_ip {
        form.append_pair("remoteip", ip);
    }
    // hCaptcha then also checks that the token was issued for our site key.
    if config.provider == Provider::HCaptcha {
        form.append_pair("sitekey", &config.site_key);
    }
    form.finish()
}

fn judge(config: &ProviderConfig, answer: &Answer) -> Result<(), SiteverifyRefusal> {
    if !answer.success {
        let codes =
            if answer.error_codes.is_empty() { "no error code".to_owned() } else { answer.error_codes.join(",") };
        let any_of = |list: &[&str]| answer.error_codes.iter().any(|code| list.contains(&code.as_str()));
        return Err(if any_of(&OUR_FAULT) {
            SiteverifyRefusal::Misconfigured(codes)
        } else if any_of(&PROVIDER_FAULT) {
            SiteverifyRefusal::ProviderError(codes)
        } else {
            SiteverifyRefusal::Rejected(codes)
        });
    }
    if let Some(expected) = &config.hostname {
        let solved_on = answer.hostname.as_deref().unwrap_or_default();
        if !solved_on.eq_ignore_ascii_case(expected) {
            return Err(SiteverifyRefusal::WrongHostname(solved_on.to_owned()));
        }
    }
    if let Some(score) = answer.score {
        let humanlike = match config.provider {
            Provider::HCaptcha => 1.0 - score,
            Provider::Turnstile | Provider::Recaptcha => score,
        };
        if humanlike < config.min_score {
            return Err(SiteverifyRefusal::LowScore(score));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use std::time::Duration;

    use domain::siteverify::ProviderSecret;

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

    /// Answers from a script, one per call, and keeps every form it was given.
    struct Scripted {
        answers: Mutex<Vec<Result<HttpAnswer, String>>>,
        forms: Mutex<Vec<HashMap<String, String>>>,
        delay: Duration,
    }

    impl Scripted {
        fn new(answers: Vec<Result<HttpAnswer, String>>) -> Self {
            Scripted { answers: Mutex::new(answers), forms: Mutex::default(), delay: Duration::ZERO }
        }

        fn json(status: u16, body: &str) -> Self {
            Self::new(vec![Ok(HttpAnswer { status, body: body.as_bytes().to_vec() })])
        }

        fn calls(&self) -> usize {
            self.forms.lock().unwrap().len()
        }
    }

    #[async_trait]
    impl SiteverifyTransport for Scripted {
        async fn post_form(&self, url: &str, form: String) -> Result<HttpAnswer, String> {
            assert_eq!(url, "https://verify.example/siteverify");
            self.forms.lock().unwrap().push(form_urlencoded::parse(form.as_bytes()).into_owned().collect());
            tokio::time::sleep(self.delay).await;
            let mut answers = self.answers.lock().unwrap();
            assert!(!answers.is_empty(), "more calls than scripted answers");
            answers.remove(0)
        }
    }

    async fn verdict(transport: &Scripted, config: &ProviderConfig) -> Result<(), SiteverifyRefusal> {
        verify_token(transport, config, Some("token+/="), Some("203.0.113.7")).await
    }

    #[tokio::test]
    async fn sends_secret_token_and_client_ip_and_hcaptcha_gets_the_site_key() {
        for (provider, sitekey) in
            [(Provider::Turnstile, None), (Provider::Recaptcha, None), (Provider::HCaptcha, Some("site-key"))]
        {
            let transport = Scripted::json(200, r#"{"success":true}"#);
            assert_eq!(verdict(&transport, &config(provider)).await, Ok(()));
            let forms = transport.forms.lock().unwrap();
            let form = &forms[0];
            assert_eq!(form["secret"], "s3cret&=", "form-encoded, so a secret with & and = arrives whole");
            assert_eq!(form["response"], "token+/=");
            assert_eq!(form["remoteip"], "203.0.113.7");
            assert_eq!(form.get("sitekey").map(String::as_str), sitekey, "{provider:?}");
        }
        let transport = Scripted::json(200, r#"{"success":true}"#);
        verify_token(&transport, &config(Provider::Turnstile), Some(" token "), None).await.unwrap();
        let forms = transport.forms.lock().unwrap();
        assert!(!forms[0].contains_key("remoteip"), "no address is made up");
        assert_eq!(forms[0]["response"], "token");
    }

    #[tokio::test]
    async fn a_missing_or_oversized_token_is_refused_without_asking() {
        let transport = Scripted::new(Vec::new());
        let turnstile = config(Provider::Turnstile);
        for token in [None, Some(""), Some("  ")] {
            assert_eq!(verify_token(&transport, &turnstile, token, None).await, Err(SiteverifyRefusal::MissingToken));
        }
        let huge = "a".repeat(MAX_TOKEN_LEN + 1);
        assert_eq!(
            verify_token(&transport, &turnstile, Some(&huge), None).await,
            Err(SiteverifyRefusal::OversizedToken)
        );
        assert_eq!(transport.calls(), 0);
    }

    #[tokio::test]
    async fn refusals_and_failures_are_told_apart() {
        let turnstile = config(Provider::Turnstile);
        let cases = [
            (r#"{"success":false,"error-codes":["invalid-input-response"]}"#, "invalid-input-response", false),
            (r#"{"success":false,"error-codes":["timeout-or-duplicate"]}"#, "timeout-or-duplicate", false),
            (r#"{"success":false,"error-codes":["already-seen-response"]}"#, "already-seen-response", false),
            (r#"{"success":false}"#, "no error code", false),
            (r#"{"success":false,"error-codes":["internal-error"]}"#, "internal-error", true),
        ];
        for (body, codes, unavailable) in cases {
            let refusal = verdict(&Scripted::json(200, body), &turnstile).await.unwrap_err();
            assert_eq!(refusal.is_unavailable(), unavailable, "{body}");
            assert!(!refusal.is_misconfiguration(), "{body}");
            assert!(refusal.to_string().contains(codes), "{refusal}");
        }
        for codes in ["invalid-input-secret", "missing-input-secret", "sitekey-secret-mismatch", "bad-request"] {
            let body = format!(r#"{{"success":false,"error-codes":["{codes}","invalid-input-response"]}}"#);
            let refusal = verdict(&Scripted::json(200, &body), &turnstile).await.unwrap_err();
            assert!(matches!(refusal, SiteverifyRefusal::Misconfigured(_)), "{codes}: {refusal:?}");
            assert!(refusal.is_unavailable() && refusal.is_misconfiguration());
        }
    }

    #[tokio::test]
    async fn no_clear_yes_is_never_a_pass() {
        let turnstile = config(Provider::Turnstile);
        for (status, body, expected) in [
            (500, r#"{"success":true}"#, SiteverifyRefusal::BadStatus(500)),
            (302, "", SiteverifyRefusal::BadStatus(302)),
            (200, "<html>Just a moment...</html>", SiteverifyRefusal::Unreadable),
            (200, r#"{"error-codes":[]}"#, SiteverifyRefusal::Unreadable),
            (200, r#"{"success":"true"}"#, SiteverifyRefusal::Unreadable),
            (200, "", SiteverifyRefusal::Unreadable),
        ] {
            let refusal = verdict(&Scripted::json(status, body), &turnstile).await.unwrap_err();
            assert_eq!(refusal, expected, "{status} {body}");
            assert!(refusal.is_unavailable());
        }
    }

    #[tokio::test]
    async fn the_timeout_covers_the_whole_call() {
        let mut slow = Scripted::json(200, r#"{"success":true}"#);
        slow.delay = Duration::from_secs(5);
        let started = std::time::Instant::now();
        let refusal = verdict(&slow, &config(Provider::HCaptcha)).await.unwrap_err();
        assert_eq!(refusal, SiteverifyRefusal::Timeout);
        assert!(refusal.is_unavailable());
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn a_failed_connection_is_tried_once_more() {
        let ok = Ok(HttpAnswer { status: 200, body: br#"{"success":true}"#.to_vec() });
        let flaky = Scripted::new(vec![Err("connection closed".into()), ok]);
        assert_eq!(verdict(&flaky, &config(Provider::Turnstile)).await, Ok(()));
        assert_eq!(flaky.calls(), 2);

        let down = Scripted::new(vec![Err("refused".into()), Err("connection refused".into())]);
        let refusal = verdict(&down, &config(Provider::Turnstile)).await.unwrap_err();
        assert_eq!(refusal, SiteverifyRefusal::Unreachable("connection refused".into()));
        assert!(refusal.is_unavailable());
        assert_eq!(down.calls(), 2, "and not more");

        let refused = Scripted::json(200, r#"{"success":false,"error-codes":["invalid-input-response"]}"#);
        assert!(verdict(&refused, &config(Provider::Turnstile)).await.is_err());
        assert_eq!(refused.calls(), 1, "an answer, even a refusal, is never asked again");
    }

    #[tokio::test]
    async fn the_hostname_must_match_when_configured() {
        let mut pinned = config(Provider::Turnstile);
        pinned.hostname = Some("accounts.example.com".into());
        let on = |hostname: &str| format!(r#"{{"success":true,"hostname":"{hostname}"}}"#);
        assert_eq!(verdict(&Scripted::json(200, &on("accounts.example.com")), &pinned).await, Ok(()));
        assert_eq!(verdict(&Scripted::json(200, &on("Accounts.Example.COM")), &pinned).await, Ok(()));
        assert_eq!(
            verdict(&Scripted::json(200, &on("evil.example")), &pinned).await,
            Err(SiteverifyRefusal::WrongHostname("evil.example".into()))
        );
        assert_eq!(
            verdict(&Scripted::json(200, r#"{"success":true}"#), &pinned).await,
            Err(SiteverifyRefusal::WrongHostname(String::new()))
        );
        let unpinned = config(Provider::Turnstile);
        assert_eq!(verdict(&Scripted::json(200, &on("evil.example")), &unpinned).await, Ok(()));
    }

    #[tokio::test]
    async fn scores_are_held_to_the_minimum_on_the_providers_own_scale() {
        let with = |score: f64| format!(r#"{{"success":true,"score":{score}}}"#);
        let recaptcha = config(Provider::Recaptcha);
        assert_eq!(verdict(&Scripted::json(200, &with(0.9)), &recaptcha).await, Ok(()));
        assert_eq!(verdict(&Scripted::json(200, &with(0.5)), &recaptcha).await, Ok(()));
        let low = verdict(&Scripted::json(200, &with(0.3)), &recaptcha).await.unwrap_err();
        assert_eq!(low, SiteverifyRefusal::LowScore(0.3));
        assert!(!low.is_unavailable());
        // reCAPTCHA v2 answers carry no score.
        assert_eq!(verdict(&Scripted::json(200, r#"{"success":true}"#), &recaptcha).await, Ok(()));
        // hCaptcha's is a risk: high is a bot.
        let hcaptcha = config(Provider::HCaptcha);
        assert_eq!(verdict(&Scripted::json(200, &with(0.1)), &hcaptcha).await, Ok(()));
        assert_eq!(verdict(&Scripted::json(200, &with(0.9)), &hcaptcha).await, Err(SiteverifyRefusal::LowScore(0.9)));
        let strict = ProviderConfig { min_score: 0.95, ..config(Provider::Recaptcha) };
        assert!(verdict(&Scripted::json(200, &with(0.9)), &strict).await.is_err());
    }
}
