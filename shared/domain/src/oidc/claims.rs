//! What the tokens say. The ID token (OIDC Core 2, 5.4) tells the client who signed in and how;
//! the access token (RFC 9068) tells a resource server what the client may do, and carries the
//! account sealed for this service's own userinfo, which cannot reverse a pairwise `sub`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::{CryptoRng, RngCore};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::client::{Client, Party};
use super::decision::Authentication;
use super::scope::{Scope, Scopes};
use super::OidcConfig;
use crate::account::Account;
use crate::code::random_text;
use crate::secret::{HashPurpose, ServiceSecret};
use crate::time::Timestamp;
use crate::{AccountId, Contact};

/// The key of pairwise subjects. Apart from the service secret, which rotates: a `sub` must
/// never change, or every relying party would see a stranger. At least 32 bytes, never printed.
#[derive(Clone)]
pub struct PairwiseKey(Vec<u8>);

impl PairwiseKey {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Option<Self> {
        let bytes = bytes.into();
        (bytes.len() >= 32).then_some(PairwiseKey(bytes))
    }
}

impl std::fmt::Debug for PairwiseKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PairwiseKey(..)")
    }
}

/// The `sub` a client sees: the account id for a first-party client; for a third-party one,
/// HMAC-SHA256 of its sector and the account id (OIDC Core 8.1), the same on every call and
/// for every client of the sector, unrelated across sectors.
pub fn subject(key: &PairwiseKey, client: &Client, account_id: &AccountId) -> String {
    match client.party {
        Party::First => account_id.to_string(),
        Party::Third => {
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&key.0).expect("HMAC takes any key length");
            for part in [client.sector.as_bytes(), account_id.as_str().as_bytes()] {
                mac.update(&(part.len() as u64).to_be_bytes());
                mac.update(part);
            }
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        }
    }
}

/// The claims the `email` and `phone` scopes grant. Every contact of an account was confirmed
/// with a code, so each is `_verified: true`; the primary contact comes before a recovery one.
pub fn contact_claims(account: &Account, scopes: &Scopes) -> Map<String, Value> {
    let mut claims = Map::new();
    let (mut email, mut phone) =
        (account.recovery_email.as_ref().map(|e| e.as_str()), account.recovery_phone.as_ref().map(|p| p.e164()));
    match &account.primary {
        Contact::Email(primary) => email = Some(primary.as_str()),
        Contact::Phone(primary) => phone = Some(primary.e164()),
    }
    if let Some(email) = email.filter(|_| scopes.contains(Scope::Email)) {
        claims.insert("email".into(), json!(email));
        claims.insert("email_verified".into(), json!(true));
    }
    if let Some(phone) = phone.filter(|_| scopes.contains(Scope::Phone)) {
        claims.insert("phone_number".into(), json!(phone));
        claims.insert("phone_number_verified".into(), json!(true));
    }
    claims
}

/// What an ID token and an access token are issued for.
pub struct Grant<'a> {
    pub client: &'a Client,
    pub account: &'a Account,
    pub authentication: &'a Authentication,
    pub scopes: &'a Scopes,
}

pub fn id_token(
    config: &OidcConfig,
    grant: &Grant<'_>,
    nonce: Option<&str>,
    access_token: &str,
    now: Timestamp,
) -> Value {
    let auth = grant.authentication;
    let mut claims = json!({
        "iss": config.issuer,
        "sub": subject(&config.pairwise_key, grant.client, &auth.account_id),
        "aud": grant.client.id.as_str(),
        "azp": grant.client.id.as_str(),
        "iat": now.0,
        "exp": now.plus(config.id_token_ttl).0,
        "auth_time": auth.auth_time.0,
        "amr": auth.amr.iter().map(|amr| amr.as_str()).collect::<Vec<_>>(),
        "acr": auth.acr(),
        "at_hash": at_hash(access_token),
    });
    let object = claims.as_object_mut().expect("an object");
    if let Some(nonce) = nonce {
        object.insert("nonce".into(), json!(nonce));
    }
    object.extend(contact_claims(grant.account, grant.scopes));
    claims
}

/// The left half of the SHA-256 of the access token (OIDC Core 3.1.3.6), binding the two.
fn at_hash(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(&Sha256::digest(access_token.as_bytes())[..16])
}

/// The private claim that holds the sealed account and epoch.
pub const ACCOUNT_CLAIM: &str = "acct";

pub fn access_token(
    config: &OidcConfig,
    secret: &ServiceSecret,
    grant: &Grant<'_>,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Value {
    let auth = grant.authentication;
    json!({
        "iss": config.issuer,
        "sub": subject(&config.pairwise_key, grant.client, &auth.account_id),
        "aud": config.access_token_audience,
        "client_id": grant.client.id.as_str(),
        "scope": grant.scopes.to_string(),
        "iat": now.0,
        "exp": now.plus(config.access_token_ttl).0,
        "jti": random_text(rng, 16),
        "auth_time": auth.auth_time.0,
        "acr": auth.acr(),
        ACCOUNT_CLAIM: seal_account(secret, auth, rng),
    })
}

/// `<account id>.<epoch>` sealed (AES-GCM, a fresh nonce): only this service opens it, and two
/// tokens of one person look unrelated.
fn seal_account(secret: &ServiceSecret, auth: &Authentication, rng: &mut (impl RngCore + CryptoRng)) -> String {
    let plain = format!("{}.{}", auth.account_id, auth.epoch);
    secret.seal(HashPurpose::AccessTokenAccount, ACCOUNT_CLAIM.as_bytes(), plain.as_bytes(), rng)
}

/// The account and epoch an access token was issued for, if this service sealed them.
pub fn open_account(secret: &ServiceSecret, sealed: &str) -> Option<(AccountId, u64)> {
    let (plain, _) = secret.open(HashPurpose::AccessTokenAccount, ACCOUNT_CLAIM.as_bytes(), sealed)?;
    let (account_id, epoch) = std::str::from_utf8(&plain).ok()?.split_once('.')?;
    Some((AccountId::parse(account_id)?, epoch.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::password::PasswordHash;
    use crate::{EmailAddress, PhoneNumber};

    #[test]
    fn contacts_are_claimed_only_under_their_scope_the_primary_first() {
        let phone = PhoneNumber::parse(Some("+91"), "9876543210").unwrap();
        let id = AccountId::generate(&mut rand::thread_rng());
        let mut account =
            Account::new(id, PasswordHash::stored("x".into()), Contact::Phone(phone), "1".into(), Timestamp(0));
        account.recovery_email = Some(EmailAddress::parse("Recovery@example.com").unwrap());
        account.recovery_phone = Some(PhoneNumber::parse(Some("+91"), "9123456789").unwrap());
        let all = contact_claims(&account, &Scopes::parse("openid email phone"));
        assert_eq!(
            Value::Object(all),
            json!({
                "email": "Recovery@example.com", "email_verified": true,
                "phone_number": "+919876543210", "phone_number_verified": true,
            })
        );
        assert!(contact_claims(&account, &Scopes::parse("openid")).is_empty());
        assert_eq!(contact_claims(&account, &Scopes::parse("openid phone")).len(), 2);
    }
}
