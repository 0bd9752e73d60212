//! Sessions and remembered devices: opaque bearer tokens whose secrets are stored
//! only as keyed hashes.

use rand::{CryptoRng, RngCore};

use super::account::Account;
use super::random_text;
use crate::code::is_base64url;
use crate::error::{Error, Result};
use crate::ids::RandomId;
use crate::oidc::decision::{Amr, Authentication};
use crate::secret::{HashPurpose, KeyedHash, ServiceSecret};
use crate::time::Timestamp;
use crate::Services;
use crate::{AccountId, DeviceId, SessionId};

/// `<account id>.<id>.<secret>`: names its item, so checking it is one read with no index.
/// `Id` is what it opens: a session (`SessionId`) or a remembered device (`DeviceId`).
#[derive(Clone)]
pub struct AccountToken<Id> {
    pub account_id: AccountId,
    pub id: Id,
    secret: String,
}

const TOKEN_SECRET_BYTES: usize = 32;
const TOKEN_SECRET_LEN: usize = 43;

impl<Id: RandomId> AccountToken<Id> {
    pub fn generate(account_id: &AccountId, rng: &mut (impl RngCore + CryptoRng)) -> Self {
        Self::for_id(account_id, Id::generate(rng), rng)
    }

    /// A new secret for an id that exists: the next refresh token of a family.
    pub fn for_id(account_id: &AccountId, id: Id, rng: &mut (impl RngCore + CryptoRng)) -> Self {
        AccountToken { account_id: account_id.clone(), id, secret: random_text(rng, TOKEN_SECRET_BYTES) }
    }

    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.trim().split('.');
        let (account_id, id, secret) = (parts.next()?, parts.next()?, parts.next()?);
        let secret_well_formed = secret.len() == TOKEN_SECRET_LEN && secret.bytes().all(is_base64url);
        if parts.next().is_some() || !secret_well_formed {
            return None;
        }
        Some(AccountToken { account_id: AccountId::parse(account_id)?, id: Id::parse(id)?, secret: secret.into() })
    }

    pub fn hash(&self, secret: &ServiceSecret, purpose: HashPurpose) -> KeyedHash {
        secret.keyed_hash(purpose, &self.hashed())
    }

    /// Whether `stored` is this token's hash under any of the secret's keys.
    pub fn verify(&self, secret: &ServiceSecret, purpose: HashPurpose, stored: &KeyedHash) -> bool {
        secret.verify(stored, purpose, &self.hashed())
    }

    fn hashed(&self) -> [&[u8]; 3] {
        [self.account_id.as_str().as_bytes(), self.id.as_str().as_bytes(), self.secret.as_bytes()]
    }

    pub fn reveal(&self) -> String {
        format!("{}.{}.{}", self.account_id, self.id.as_str(), self.secret)
    }
}

/// Where a request came from, as shown on the devices page.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub account_id: AccountId,
    pub id: SessionId,
    pub secret_hash: KeyedHash,
    pub epoch: u64,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub client: ClientInfo,
    /// How the person signed in (RFC 8176), which an app's ID token tells it.
    pub amr: Vec<Amr>,
}

impl SessionRecord {
    /// The sign-in this session is, as the OpenID Connect provider hands it to an app.
    pub fn authentication(&self) -> Authentication {
        let (account_id, auth_time, amr) = (self.account_id.clone(), self.created_at, self.amr.clone());
        Authentication { account_id, auth_time, amr, epoch: self.epoch }
    }
}

/// A device a person chose to remember: it skips the second factor until it expires.
#[derive(Debug, Clone)]
pub struct DeviceRecord {
    pub account_id: AccountId,
    pub id: DeviceId,
    pub secret_hash: KeyedHash,
    pub epoch: u64,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

#[derive(Debug)]
pub struct SessionIssued {
    pub session_token: String,
    pub expires_in: u64,
}

/// A new session for `account`, and the token that is its only key.
pub fn new_session(
    services: &Services,
    account: &Account,
    client: ClientInfo,
    amr: Vec<Amr>,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> (SessionRecord, SessionIssued) {
    let token = AccountToken::<SessionId>::generate(&account.id, rng);
    let ttl = services.config.session_ttl;
    let record = SessionRecord {
        account_id: account.id.clone(),
        id: token.id.clone(),
        secret_hash: token.hash(&services.config.secret, HashPurpose::SessionToken),
        epoch: account.session_epoch,
        created_at: now,
        expires_at: now.plus(ttl),
        client,
        amr,
    };
    (record, SessionIssued { session_token: token.reveal(), expires_in: ttl.as_secs() })
}

pub fn new_device(
    services: &Services,
    account: &Account,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> (DeviceRecord, String) {
    let token = AccountToken::<DeviceId>::generate(&account.id, rng);
    let record = DeviceRecord {
        account_id: account.id.clone(),
        id: token.id.clone(),
        secret_hash: token.hash(&services.config.secret, HashPurpose::DeviceToken),
        epoch: account.device_epoch,
        created_at: now,
        expires_at: now.plus(services.config.remembered_device_ttl),
    };
    (record, token.reveal())
}

/// Whether `device`, read under `token`'s account and id, is a remembered device of `account`
/// that has not expired or been forgotten.
pub fn is_remembered_device(
    services: &Services,
    account: &Account,
    token: &AccountToken<DeviceId>,
    device: &DeviceRecord,
    now: Timestamp,
) -> bool {
    token.account_id == account.id
        && token.verify(&services.config.secret, HashPurpose::DeviceToken, &device.secret_hash)
        && device.expires_at > now
        && device.epoch == account.device_epoch
}

/// The signed-in account behind a bearer token.
pub struct Authenticated {
    pub account: Account,
    pub session: SessionRecord,
}

impl Authenticated {
    pub fn authentication(&self) -> Authentication {
        self.session.authentication()
    }
}

/// One read for the account and its session together; every failure is the same 401.
pub async fn authenticate(services: &Services, bearer: Option<&str>, now: Timestamp) -> Result<Authenticated> {
    let token = bearer.and_then(AccountToken::<SessionId>::parse).ok_or(Error::Unauthorized)?;
    let (account, session) = services.store.account_with_session(&token.account_id, &token.id).await?;
    let (Some(account), Some(session)) = (account, session) else { return Err(Error::Unauthorized) };
    let valid = token.verify(&services.config.secret, HashPurpose::SessionToken, &session.secret_hash)
        && session.expires_at > now
        && session.epoch == account.session_epoch;
    if !valid {
        return Err(Error::Unauthorized);
    }
    Ok(Authenticated { account, session })
}

pub async fn sign_out(services: &Services, signed_in: &Authenticated) -> Result<()> {
    services.store.delete_session(&signed_in.account.id, &signed_in.session.id).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn tokens_round_trip_and_malformed_ones_are_refused() {
        let mut rng = StdRng::seed_from_u64(1);
        let account_id = AccountId::generate(&mut rng);
        let token = AccountToken::<SessionId>::generate(&account_id, &mut rng);
        let parsed = AccountToken::<SessionId>::parse(&token.reveal()).unwrap();
        let secret = ServiceSecret::new(vec![1u8; 32]).unwrap();
        assert!(parsed
            .hash(&secret, HashPurpose::SessionToken)
            .matches(&token.hash(&secret, HashPurpose::SessionToken)));
        assert!(!parsed
            .hash(&secret, HashPurpose::DeviceToken)
            .matches(&token.hash(&secret, HashPurpose::SessionToken)));
        let text = token.reveal();
        for bad in ["", "a.b.c", &format!("{text}.x"), &text[1..], &text.replace('.', "-")] {
            assert!(AccountToken::<SessionId>::parse(bad).is_none(), "{bad}");
        }
    }
}
