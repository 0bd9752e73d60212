//! A relying party on a test stack: the provider's settings, a signing key made by
//! `rotate-signing-key`'s function, a confidential third-party client, and the steps an app and
//! an integrator's login frontend take (open a login challenge, complete it through the JSON
//! interaction endpoints, exchange the code, refresh). `tests/tests/api/oidc.rs` and the
//! OpenAPI contract's examples use it.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use shared::domain::oidc::authorize::{authorize, AuthorizeOutcome};
use shared::domain::oidc::client::{Client, Party, Registration};
use shared::domain::store::OidcStore;
use shared::signing::rotate::{self, Rotation};
use shared::store::DynamoStore;
use shared::Timestamp;

use crate::{patient, random_hex, sdk_config, Stack, TestRequest, TestResponse};

pub const ISSUER: &str = "http://127.0.0.1:9000";
/// What a stack needs to be a provider (with `Stack::with_settings`).
pub const SETTINGS: [(&str, &str); 2] =
    [("OIDC_ISSUER", ISSUER), ("OIDC_PAIRWISE_KEY", "pairwise-key-of-this-test-0123456789abcdef")];
pub const REDIRECT: &str = "https://store.example/callback";
/// RFC 7636 appendix B.
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

pub struct RelyingParty<'s> {
    pub stack: &'s Stack,
    pub client_id: String,
    pub secret: String,
}

impl<'s> RelyingParty<'s> {
    /// Registers the app "Store" on `stack` (made with [`SETTINGS`]), after the stack's first
    /// signing key, which signs at once.
    pub async fn register(stack: &'s Stack) -> Self {
        let sdk = patient(&sdk_config().await);
        let (kms, dynamo) = (aws_sdk_kms::Client::new(&sdk), aws_sdk_dynamodb::Client::new(&sdk));
        let rotation = Rotation { table: stack.table.clone(), stack: format!("s-{}", random_hex(4)), key_id: None };
        rotate::rotate(&kms, &dynamo, &rotation, Timestamp::now()).await.expect("a signing key");
        let client_id = format!("store-{}", random_hex(4));
        let registration = Registration {
            id: client_id.clone(),
            name: "Store".into(),
            party: Party::Third,
            confidential: true,
            redirect_uris: vec![REDIRECT.into()],
            post_logout_redirect_uris: vec![],
            scopes: "openid email phone".into(),
            sector: None,
        };
        let (client, secret) =
            Client::register(registration, &stack.app.config.secret, &mut rand::rngs::OsRng).expect("a client");
        DynamoStore::new(stack.dynamo.clone(), stack.table.clone()).put_client(&client).await.expect("stored");
        RelyingParty { stack, client_id, secret: secret.expect("a confidential client's secret").0 }
    }

    /// `Authorization` for `client_secret_basic` with `secret`.
    pub fn basic(&self, secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{}:{secret}", self.client_id)))
    }

    /// A login challenge for the client, as `GET /oauth2/authorize` without a session opens it.
    pub async fn login_challenge(&self, state: &str, nonce: &str) -> String {
        let pairs = [
            ("response_type", "code"),
            ("client_id", &self.client_id),
            ("redirect_uri", REDIRECT),
            ("scope", "openid email"),
            ("state", state),
            ("nonce", nonce),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ];
        let params: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let app = self.stack.app;
        let oidc = app.oidc().await.expect("the provider");
        let outcome =
            authorize(oidc.provider(&app.config.secret), &params, None, Timestamp::now(), &mut rand::rngs::OsRng)
                .await
                .expect("answered");
        match outcome {
            AuthorizeOutcome::Login(id) => id.to_string(),
            other => panic!("no login challenge: {other:?}"),
        }
    }

    pub async fn oidc(&self, request: TestRequest) -> TestResponse {
        self.stack.call(oidc::handle, request).await
    }

    /// `POST /v1/oauth2/interactions/{id}/{step}` with the frontend's API session.
    pub async fn interaction(&self, id: &str, step: &str, session: &str) -> TestResponse {
        let path = format!("/v1/oauth2/interactions/{id}/{step}");
        self.oidc(TestRequest::post(&path, serde_json::json!({})).path_parameter("id", id).bearer(session)).await
    }

    /// The consent challenge a signed-in person meets for this third-party app: the login
    /// challenge completed with `session`.
    pub async fn consent_challenge(&self, session: &str) -> String {
        let id = self.login_challenge("consent", "n-consent").await;
        let done = self.interaction(&id, "login", session).await;
        let url = done.json["redirect_to"].as_str().unwrap_or_else(|| panic!("{:?}", done.json));
        query(url, "consent_challenge").unwrap_or_else(|| panic!("no consent asked: {url}"))
    }

    /// The code the browser brings back to the app, after the frontend completed the challenge.
    pub async fn code(&self, session: &str, state: &str) -> String {
        let id = self.login_challenge(state, "n-0S6_WzA2Mj").await;
        let done = self.interaction(&id, "login", session).await;
        assert_eq!(done.status, 200, "{:?}", done.json);
        let mut url = done.json["redirect_to"].as_str().unwrap().to_owned();
        // A third-party app is asked about once: a consent challenge first, until it is given.
        if let Some(consent) = query(&url, "consent_challenge") {
            let allowed = self.interaction(&consent, "consent", session).await;
            url = allowed.json["redirect_to"].as_str().expect("back to the app").to_owned();
        }
        assert!(url.starts_with(&format!("{REDIRECT}?")), "{url}");
        assert_eq!(query(&url, "state").as_deref(), Some(state));
        assert_eq!(query(&url, "iss").as_deref(), Some(ISSUER), "RFC 9207");
        query(&url, "code").expect("a code")
    }

    /// `POST /oauth2/token` with `client_secret_basic`.
    pub async fn token(&self, secret: &str, form: &[(&str, &str)]) -> TestResponse {
        let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        let request = TestRequest::post_raw("/oauth2/token", &body)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("authorization", &self.basic(secret));
        self.stack.call(oidc_token::handle, request).await
    }

    pub async fn exchange(&self, code: &str, verifier: &str) -> TestResponse {
        let form = [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", REDIRECT)];
        self.token(&self.secret, &[&form[..], &[("code_verifier", verifier)]].concat()).await
    }

    pub async fn refresh(&self, refresh_token: &str) -> TestResponse {
        self.token(&self.secret, &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)]).await
    }

    /// The token response for a fresh sign-in of the person signed in as `session`.
    pub async fn tokens(&self, session: &str) -> TestResponse {
        let code = self.code(session, "tokens").await;
        let tokens = self.exchange(&code, VERIFIER).await;
        assert_eq!(tokens.status, 200, "{:?}", tokens.json);
        tokens
    }
}

/// A query parameter of `url`.
pub fn query(url: &str, name: &str) -> Option<String> {
    let (_, query) = url.split_once('?')?;
    form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}
