//! An OpenID Connect provider's domain: clients, the authorization request, the login and
//! consent interactions (as Ory Hydra has them), codes, refresh-token families, the tokens'
//! claims and their ES256 signatures. The endpoints are thin handlers over the functions of
//! `authorize`, `token` and `userinfo`, each given a [`Provider`], the time and a CSPRNG.

pub mod apps;
pub mod authorize;
pub mod claims;
pub mod client;
pub mod decision;
pub mod error;
pub mod grant;
pub mod jws;
pub mod pkce;
pub mod request;
pub mod scope;
pub mod token;
pub mod userinfo;

#[cfg(all(test, feature = "memory"))]
mod tests;

use std::time::Duration;

use claims::PairwiseKey;
use jws::TokenSigner;

use crate::secret::ServiceSecret;
use crate::store::OidcStore;

/// The provider's policy.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// `iss`: the provider's URL, as discovery serves it (no trailing slash).
    pub issuer: String,
    /// `aud` of access tokens (RFC 9068): the resource they are for.
    pub access_token_audience: String,
    pub pairwise_key: PairwiseKey,
    /// How long the person has to sign in or consent.
    pub interaction_ttl: Duration,
    pub code_ttl: Duration,
    pub access_token_ttl: Duration,
    pub id_token_ttl: Duration,
    /// A family unused this long expires.
    pub refresh_idle_ttl: Duration,
    /// And every family expires this long after its code exchange, however used.
    pub refresh_max_ttl: Duration,
}

impl OidcConfig {
    /// The defaults: codes of 60 seconds (the rule), access tokens of 5 minutes (short,
    /// as RFC 9068 asks, since a JWT cannot be revoked), refresh families idle 14 days at most
    /// and 90 days in all.
    pub fn new(issuer: &str, access_token_audience: &str, pairwise_key: PairwiseKey) -> Self {
        let minutes = |m: u64| Duration::from_secs(m * 60);
        OidcConfig {
            issuer: issuer.trim_end_matches('/').to_owned(),
            access_token_audience: access_token_audience.to_owned(),
            pairwise_key,
            interaction_ttl: minutes(15),
            code_ttl: Duration::from_secs(60),
            access_token_ttl: minutes(5),
            id_token_ttl: minutes(5),
            refresh_idle_ttl: minutes(14 * 24 * 60),
            refresh_max_ttl: minutes(90 * 24 * 60),
        }
    }
}

/// What the provider's functions work with: the policy and the ports.
#[derive(Clone, Copy)]
pub struct Provider<'a> {
    pub config: &'a OidcConfig,
    /// Keys the hashes of client secrets, codes and refresh tokens, and seals the account in access tokens.
    pub secret: &'a ServiceSecret,
    pub store: &'a dyn OidcStore,
    pub signer: &'a dyn TokenSigner,
}
