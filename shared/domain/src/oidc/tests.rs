//! The provider end to end, against the memory store and the software signer: a browser that
//! signs in, a client that exchanges, refreshes and revokes, and everything that must refuse.

use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::{Map, Value};

use super::apps::{apps_with_access, remove_access};
use super::authorize::{accept_consent, accept_login, authorize, reject, AuthorizeOutcome};
use super::claims::PairwiseKey;
use super::client::{Client, ClientCredentials, ClientSecret, Party, Registration};
use super::decision::{Amr, Authentication};
use super::error::OAuthCode;
use super::jws::{KeySet, SoftwareSigner, TokenSigner};
use super::token::{exchange_code, refresh, revoke, TokenResponse};
use super::userinfo::{end_session, userinfo, EndSession, Logout};
use super::{OidcConfig, Provider};
use crate::account::{Account, AccountChange};
use crate::secret::ServiceSecret;
use crate::store::contract::{account, T0};
use crate::store::{AccountStore, MemoryStore, OidcStore};
use crate::time::Timestamp;

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const ISSUER: &str = "https://accounts.example.com";

struct World {
    store: MemoryStore,
    signer: SoftwareSigner,
    config: OidcConfig,
    secret: ServiceSecret,
    rng: StdRng,
    /// The service's own app: public, first party.
    app: Client,
    /// Someone else's server: confidential, third party.
    partner: Client,
    partner_secret: String,
}

fn register(
    world_secret: &ServiceSecret,
    id: &str,
    party: Party,
    confidential: bool,
    rng: &mut StdRng,
) -> (Client, Option<ClientSecret>) {
    let registration = Registration {
        id: id.into(),
        name: format!("The {id} app"),
        party,
        confidential,
        redirect_uris: vec![format!("https://{id}.example.net/callback")],
        post_logout_redirect_uris: vec![format!("https://{id}.example.net/bye")],
        scopes: "openid email phone".into(),
        sector: None,
    };
    Client::register(registration, world_secret, rng).unwrap()
}

async fn world() -> World {
    let mut rng = StdRng::seed_from_u64(19);
    let secret = ServiceSecret::new(vec![9u8; 32]).unwrap();
    let (app, _) = register(&secret, "app", Party::First, false, &mut rng);
    let (partner, partner_secret) = register(&secret, "partner", Party::Third, true, &mut rng);
    let store = MemoryStore::new();
    store.put_client(&app).await.unwrap();
    store.put_client(&partner).await.unwrap();
    let config = OidcConfig::new(ISSUER, "https://api.example.com", PairwiseKey::new(vec![3u8; 32]).unwrap());
    let signer = SoftwareSigner::generate("key-1", &mut rng);
    World { store, signer, config, secret, rng, app, partner, partner_secret: partner_secret.unwrap().0 }
}

impl World {
    fn provider(&self) -> Provider<'_> {
        Provider { config: &self.config, secret: &self.secret, store: &self.store, signer: &self.signer }
    }

    async fn person(&self) -> (Account, Authentication) {
        let account = account(&self.store).await;
        let auth = Authentication {
            account_id: account.id.clone(),
            auth_time: T0,
            amr: vec![Amr::Pwd, Amr::Otp, Amr::Mfa],
            epoch: account.session_epoch,
        };
        (account, auth)
    }

    /// The person has already approved `client` for `scope`, as a consent page would record.
    async fn consented(&self, client: &Client, auth: &Authentication, scope: &str) {
        let consent = super::grant::Consent {
            account_id: auth.account_id.clone(),
            client_id: client.id.clone(),
            scopes: super::scope::Scopes::parse(scope),
            granted_at: T0,
        };
        self.store.put_consent(&consent).await.unwrap();
    }

    fn credentials(&self, client: &Client) -> ClientCredentials {
        match client.party {
            Party::First => ClientCredentials::None { client_id: client.id.as_str().into() },
            Party::Third => {
                ClientCredentials::Basic { client_id: client.id.as_str().into(), secret: self.partner_secret.clone() }
            }
        }
    }

    async fn authorize(
        &mut self,
        client: &Client,
        extra: &[(&str, &str)],
        signed_in: Option<&Authentication>,
        now: Timestamp,
    ) -> AuthorizeOutcome {
        let params = params(client, extra);
        let provider =
            Provider { config: &self.config, secret: &self.secret, store: &self.store, signer: &self.signer };
        authorize(provider, &params, signed_in, now, &mut self.rng).await.unwrap()
    }

    async fn exchange(
        &mut self,
        client: &Client,
        code: &str,
        verifier: &str,
        now: Timestamp,
    ) -> Result<TokenResponse, Option<OAuthCode>> {
        let credentials = self.credentials(client);
        let redirect = client.redirect_uris[0].as_str().to_owned();
        let provider =
            Provider { config: &self.config, secret: &self.secret, store: &self.store, signer: &self.signer };
        exchange_code(provider, &credentials, code, &redirect, verifier, now, &mut self.rng).await.map_err(|e| e.code())
    }

    async fn refresh(
        &mut self,
        client: &Client,
        token: &str,
        now: Timestamp,
    ) -> Result<TokenResponse, Option<OAuthCode>> {
        let credentials = self.credentials(client);
        let provider =
            Provider { config: &self.config, secret: &self.secret, store: &self.store, signer: &self.signer };
        refresh(provider, &credentials, token, None, now, &mut self.rng).await.map_err(|e| e.code())
    }

    /// A signed-in person's code for `client`, and the tokens it is exchanged for.
    async fn tokens(&mut self, client: &Client, auth: &Authentication) -> TokenResponse {
        let code = code_of(&self.authorize(client, &[], Some(auth), T0).await);
        self.exchange(client, &code, VERIFIER, T0).await.unwrap()
    }

    async fn keys(&self) -> KeySet {
        KeySet::from_spki(&self.signer.public_keys().await.unwrap()).unwrap()
    }

    async fn id_token(&self, tokens: &TokenResponse) -> Map<String, Value> {
        self.keys().await.verify(&tokens.id_token, "JWT").expect("an ID token of the published key")
    }
}

fn params(client: &Client, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut params: Vec<(String, String)> = [
        ("response_type", "code"),
        ("client_id", client.id.as_str()),
        ("redirect_uri", client.redirect_uris[0].as_str()),
        ("scope", "openid email profile"),
        ("state", "st-1"),
        ("nonce", "n-1"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ]
    .iter()
    .filter(|(name, _)| !extra.iter().any(|(e, _)| e == name))
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    params.extend(extra.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| (k.to_string(), v.to_string())));
    params
}

/// The query of a redirect, by name.
fn query(outcome: &AuthorizeOutcome) -> Map<String, Value> {
    let AuthorizeOutcome::Redirect(url) = outcome else { panic!("a redirect, not {outcome:?}") };
    let (_, query) = url.split_once('?').expect("a query");
    form_urlencoded::parse(query.as_bytes()).map(|(k, v)| (k.into_owned(), Value::from(v.into_owned()))).collect()
}

fn code_of(outcome: &AuthorizeOutcome) -> String {
    let query = query(outcome);
    assert_eq!((query["state"].as_str(), query["iss"].as_str()), (Some("st-1"), Some(ISSUER)));
    query.get("code").and_then(Value::as_str).unwrap_or_else(|| panic!("a code, not {query:?}")).to_owned()
}

fn error_of(outcome: &AuthorizeOutcome) -> String {
    query(outcome)
        .get("error")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("an error, not {outcome:?}"))
        .to_owned()
}

mod flows;
mod refusals;
