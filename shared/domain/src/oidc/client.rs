//! Registered clients (relying parties), as an operator command registers them, and how one
//! authenticates at the token endpoint: `client_secret_basic` for a confidential client, `none`
//! for a public one.
//!
//! A client secret is 256 random bits the service generates, so it is stored as a keyed hash
//! (HMAC under the service secret) rather than an Argon2 hash: a slow hash only helps against
//! guessable secrets, and would cost every token request tens of milliseconds and megabytes.

use rand::{CryptoRng, RngCore};

use super::scope::{Scope, Scopes};
use crate::code::random_text;
use crate::error::{Error, Result};
use crate::secret::{HashPurpose, KeyedHash, ServiceSecret};

/// Chosen by the operator: 1 to 64 of `A-Z a-z 0-9 . _ -`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(String);

impl ClientId {
    pub fn parse(text: &str) -> Option<Self> {
        let allowed = |b: u8| b.is_ascii_alphanumeric() || b"._-".contains(&b);
        ((1..=64).contains(&text.len()) && text.bytes().all(allowed)).then(|| ClientId(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A redirect URI as registered, compared with a request's by exact string match only.
/// `https`, `http` on a loopback host (RFC 8252 7.3), or a private-use scheme with a dot in
/// it (RFC 8252 7.1, `com.example.app:/callback`); never a fragment or user info.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectUri(String);

impl RedirectUri {
    pub fn parse(text: &str) -> Option<Self> {
        let printable = text.len() <= 2000 && text.bytes().all(|b| b.is_ascii_graphic());
        if !printable || text.contains('#') {
            return None;
        }
        let uri = RedirectUri(text.to_owned());
        let well_formed = match (text.split_once("://"), uri.host()) {
            (Some(("https", _)), Some(host)) => !host.is_empty() && !uri.authority().contains('@'),
            (Some(("http", _)), Some(host)) => ["localhost", "127.0.0.1", "[::1]"].contains(&host.as_str()),
            (Some(_), _) => false,
            (None, _) => text.split_once(':').is_some_and(|(scheme, rest)| {
                let scheme_char = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+.-".contains(&b);
                scheme.contains('.') && scheme.bytes().all(scheme_char) && rest.starts_with('/')
            }),
        };
        well_formed.then_some(uri)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn authority(&self) -> &str {
        let rest = self.0.split_once("://").map_or("", |(_, rest)| rest);
        rest.split(['/', '?']).next().unwrap_or("")
    }

    /// The host of an `http(s)` URI, lower-cased and without its port.
    pub fn host(&self) -> Option<String> {
        if !self.0.starts_with("http") {
            return None;
        }
        let authority = self.authority();
        let host = match authority.strip_prefix('[') {
            Some(v6) => format!("[{}]", v6.split(']').next()?),
            None => authority.split(':').next()?.to_owned(),
        };
        Some(host.to_ascii_lowercase())
    }

    /// What a page's Content-Security-Policy `form-action` must allow for a form whose answer
    /// redirects here (browsers hold a form's redirects to it): `scheme://authority` of an
    /// `http(s)` URI, the scheme of a private-use one (`com.example.app:`).
    pub fn csp_source(&self) -> String {
        match self.0.split_once("://") {
            Some((scheme, _)) => format!("{scheme}://{}", self.authority()),
            None => format!("{}:", self.0.split(':').next().unwrap_or_default()),
        }
    }

    /// This URI with `params` added to its query, as a redirect to it carries them.
    pub fn with_query(&self, params: &[(&str, &str)]) -> String {
        if params.is_empty() {
            return self.0.clone();
        }
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.extend_pairs(params);
        let separator = if self.0.contains('?') { '&' } else { '?' };
        format!("{}{separator}{}", self.0, query.finish())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    /// The service's own apps: no consent page, and the account's public `sub`.
    First,
    /// Everyone else's: a consent page, remembered, and a pairwise `sub` per sector.
    Third,
}

#[derive(Debug, Clone)]
pub enum ClientKind {
    /// A native or browser app that cannot keep a secret: authenticates with `none`.
    Public,
    /// A server that can: `client_secret_basic`.
    Confidential { secret_hash: KeyedHash },
}

#[derive(Debug, Clone)]
pub struct Client {
    pub id: ClientId,
    /// Shown on the consent and sign-in pages.
    pub name: String,
    pub party: Party,
    pub kind: ClientKind,
    pub redirect_uris: Vec<RedirectUri>,
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    /// What the client may be granted; always includes `openid`.
    pub allowed_scopes: Scopes,
    /// Pairwise subjects are computed per sector (OIDC Core 8.1): clients of one sector
    /// see one `sub` for a person.
    pub sector: String,
}

/// What an operator registers.
#[derive(Debug, Clone)]
pub struct Registration {
    pub id: String,
    pub name: String,
    pub party: Party,
    pub confidential: bool,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub scopes: String,
    /// The sector of a client whose redirect URIs are on several hosts (or none, for a
    /// private-use scheme); otherwise the host they share.
    pub sector: Option<String>,
}

/// A confidential client's secret, shown to the operator once.
pub struct ClientSecret(pub String);

impl Client {
    /// The client `registration` describes, and its secret when it is confidential.
    pub fn register(
        registration: Registration,
        secret: &ServiceSecret,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<(Client, Option<ClientSecret>)> {
        let invalid = |why: &str| Error::InvalidRequest(why.to_owned());
        let id = ClientId::parse(&registration.id)
            .ok_or_else(|| invalid("the client id must be 1 to 64 of A-Z a-z 0-9 . _ -"))?;
        let uris = |texts: &[String]| -> Result<Vec<RedirectUri>> {
            texts
                .iter()
                .map(|t| RedirectUri::parse(t).ok_or_else(|| invalid(&format!("{t:?} is not a redirect URI"))))
                .collect()
        };
        let redirect_uris = uris(&registration.redirect_uris)?;
        let post_logout_redirect_uris = uris(&registration.post_logout_redirect_uris)?;
        if redirect_uris.is_empty() {
            return Err(invalid("a client needs at least one redirect URI"));
        }
        let allowed_scopes = Scopes::parse(&registration.scopes);
        if !allowed_scopes.contains(Scope::OpenId) {
            return Err(invalid("a client's scopes must include openid"));
        }
        let mut hosts: Vec<Option<String>> = redirect_uris.iter().map(RedirectUri::host).collect();
        hosts.dedup();
        let sector = match (registration.sector, hosts.as_slice()) {
            (Some(sector), _) => sector,
            (None, [Some(host)]) => host.clone(),
            (None, _) => return Err(invalid("redirect URIs on several hosts, or none, need a sector")),
        };
        let client_secret = registration.confidential.then(|| ClientSecret(random_text(rng, 32)));
        let kind = match &client_secret {
            Some(ClientSecret(text)) => ClientKind::Confidential { secret_hash: secret_hash(secret, &id, text) },
            None => ClientKind::Public,
        };
        let client = Client {
            id,
            name: registration.name,
            party: registration.party,
            kind,
            redirect_uris,
            post_logout_redirect_uris,
            allowed_scopes,
            sector,
        };
        Ok((client, client_secret))
    }

    /// Whether `presented` (the secret of `client_secret_basic`, or none) authenticates this
    /// client: a public client presents none, a confidential one its own, checked in constant time.
    pub fn authenticates(&self, presented: Option<&str>, secret: &ServiceSecret) -> bool {
        match (&self.kind, presented) {
            (ClientKind::Public, None) => true,
            (ClientKind::Confidential { secret_hash }, Some(text)) => {
                secret.verify(secret_hash, HashPurpose::ClientSecret, &[self.id.as_str().as_bytes(), text.as_bytes()])
            }
            _ => false,
        }
    }

    /// The registered redirect URI that is exactly `text`.
    pub fn redirect_uri(&self, text: &str) -> Option<&RedirectUri> {
        self.redirect_uris.iter().find(|uri| uri.as_str() == text)
    }
}

fn secret_hash(secret: &ServiceSecret, id: &ClientId, text: &str) -> KeyedHash {
    secret.keyed_hash(HashPurpose::ClientSecret, &[id.as_str().as_bytes(), text.as_bytes()])
}

/// How a token request names its client: HTTP Basic (`client_secret_basic`, already decoded
/// by the handler: RFC 6749 2.3.1's form-decoding of id and secret) or `client_id` alone.
#[derive(Debug, Clone)]
pub enum ClientCredentials {
    Basic { client_id: String, secret: String },
    None { client_id: String },
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn redirect_uris_are_https_loopback_http_or_a_private_use_scheme() {
        for good in
            ["https://rp.example.net/cb?x=1", "http://127.0.0.1:8400/cb", "http://[::1]/cb", "com.example.app:/cb"]
        {
            assert!(RedirectUri::parse(good).is_some(), "{good}");
        }
        for bad in [
            "http://rp.example.net/cb",
            "https://rp.example.net/cb#frag",
            "https://user@rp.example.net/cb",
            "https:///cb",
            "javascript:alert(1)",
            "myapp:/cb",
            "https://rp.example.net/a b",
        ] {
            assert!(RedirectUri::parse(bad).is_none(), "{bad}");
        }
        let uri = RedirectUri::parse("https://RP.example.net:8443/cb?x=1").unwrap();
        assert_eq!(uri.host().as_deref(), Some("rp.example.net"));
        assert_eq!(uri.with_query(&[("code", "a b&c")]), "https://RP.example.net:8443/cb?x=1&code=a+b%26c");
    }

    #[test]
    fn a_pages_form_action_allows_the_redirect_uris_origin_or_private_scheme_only() {
        let source = |text| RedirectUri::parse(text).unwrap().csp_source();
        assert_eq!(source("https://rp.example.net:8443/cb?x=1"), "https://rp.example.net:8443");
        assert_eq!(source("http://127.0.0.1:9999/callback"), "http://127.0.0.1:9999");
        assert_eq!(source("com.example.app:/cb"), "com.example.app:");
    }

    fn registration(uris: &[&str]) -> Registration {
        Registration {
            id: "store".into(),
            name: "Store".into(),
            party: Party::Third,
            confidential: true,
            redirect_uris: uris.iter().map(|u| u.to_string()).collect(),
            post_logout_redirect_uris: vec![],
            scopes: "openid email".into(),
            sector: None,
        }
    }

    #[test]
    fn a_confidential_client_authenticates_with_its_own_secret_only() {
        let secret = ServiceSecret::new(vec![4u8; 32]).unwrap();
        let mut rng = StdRng::seed_from_u64(4);
        let (client, issued) =
            Client::register(registration(&["https://store.example/cb"]), &secret, &mut rng).unwrap();
        let issued = issued.expect("a confidential client gets a secret").0;
        assert_eq!(client.sector, "store.example");
        assert!(client.authenticates(Some(&issued), &secret));
        assert!(!client.authenticates(Some(&format!("{issued}x")), &secret));
        assert!(!client.authenticates(None, &secret));
        let other = ServiceSecret::new(vec![5u8; 32]).unwrap();
        assert!(!client.authenticates(Some(&issued), &other), "keyed: the table alone checks nothing");
        let public = Client { kind: ClientKind::Public, ..client };
        assert!(public.authenticates(None, &secret));
        assert!(!public.authenticates(Some(&issued), &secret), "a public client presents no secret");
    }

    #[test]
    fn a_registration_needs_openid_a_redirect_uri_and_one_sector() {
        let secret = ServiceSecret::new(vec![4u8; 32]).unwrap();
        let mut rng = StdRng::seed_from_u64(4);
        let mut register = |r: Registration| Client::register(r, &secret, &mut rng).map(|(c, _)| c);
        assert!(register(registration(&[])).is_err());
        assert!(register(Registration { scopes: "email".into(), ..registration(&["https://a.example/cb"]) }).is_err());
        assert!(register(registration(&["https://a.example/cb", "https://b.example/cb"])).is_err());
        let sectored = Registration {
            sector: Some("example".into()),
            ..registration(&["https://a.example/cb", "https://b.example/cb"])
        };
        assert_eq!(register(sectored).unwrap().sector, "example");
        assert!(register(Registration { id: "no spaces".into(), ..registration(&["https://a.example/cb"]) }).is_err());
    }
}
