//! What the provider stores between requests: interactions waiting for the person, codes
//! waiting for their exchange, refresh-token families and remembered consents. Codes and
//! families live under their account (`CodeId`, `FamilyId` in the token with the account id),
//! so deleting the account's partition ends them, and a token finds its item with one read.

use super::client::{ClientId, RedirectUri};
use super::decision::Authentication;
use super::pkce::CodeChallenge;
use super::request::AuthorizationRequest;
use super::scope::Scopes;
use crate::secret::KeyedHash;
use crate::time::Timestamp;
use crate::{AccountId, CodeId, FamilyId, InteractionId};

/// An authorization waiting for the person: short-lived and taken once (Hydra's login and
/// consent challenges). Its id is handed to the login or consent page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interaction {
    pub id: InteractionId,
    pub request: AuthorizationRequest,
    pub stage: Stage,
    /// When the authorization started: a sign-in since then is fresh for `prompt=login`.
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    /// Waiting for the person to sign in.
    Login,
    /// Signed in as this, waiting for the person to approve the client.
    Consent(Authentication),
}

/// An authorization code: single use, 60 seconds, bound to its client, redirect URI and
/// PKCE challenge. Only the keyed hash of its secret is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationCode {
    pub id: CodeId,
    pub hash: KeyedHash,
    pub client_id: ClientId,
    pub redirect_uri: RedirectUri,
    pub code_challenge: CodeChallenge,
    pub nonce: Option<String>,
    pub scopes: Scopes,
    /// Whose, when and how they signed in (`acr` follows from `amr`), and the epoch then.
    pub authentication: Authentication,
    pub expires_at: Timestamp,
    /// The family its exchange started: set once, so a second exchange can revoke it.
    pub used_by: Option<FamilyId>,
}

/// The refresh tokens of one code exchange. Each refresh replaces `current_hash` and keeps the
/// old one in `used_hashes`: presenting a used token revokes the family (RFC 9700 4.14.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshFamily {
    pub id: FamilyId,
    pub client_id: ClientId,
    pub scopes: Scopes,
    /// The sign-in the family comes from; `epoch` must still be the account's for it to refresh.
    pub authentication: Authentication,
    pub current_hash: KeyedHash,
    /// The newest [`MAX_USED_HASHES`] tokens rotated away; an older one is merely unknown.
    pub used_hashes: Vec<KeyedHash>,
    pub created_at: Timestamp,
    /// Idle expiry, never past the family's absolute lifetime; the item's TTL.
    pub expires_at: Timestamp,
}

/// Bounds the family item (64 hex characters each, far below DynamoDB's 400 KB).
pub const MAX_USED_HASHES: usize = 100;

impl RefreshFamily {
    pub fn account_id(&self) -> &AccountId {
        &self.authentication.account_id
    }
}

impl AuthorizationCode {
    pub fn account_id(&self) -> &AccountId {
        &self.authentication.account_id
    }
}

/// A person's approval of a third-party client for some scopes, until they revoke it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    pub account_id: AccountId,
    pub client_id: ClientId,
    pub scopes: Scopes,
    pub granted_at: Timestamp,
}

/// What the store's exchange of a code did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeExchange {
    /// The code is used now, and the family written.
    Exchanged,
    /// The code was used before, by the exchange that started this family.
    Used(FamilyId),
    /// Nothing written: the code is gone or expired, or the account signed out everywhere
    /// (or was deleted) since the code was issued.
    Refused,
}
