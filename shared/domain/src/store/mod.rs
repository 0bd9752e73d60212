//! Persistence, as the operations the domain needs, one sub-trait per aggregate, joined by
//! [`Store`]. Each operation is a single atomic request (production: one DynamoDB call), so
//! rules hold under concurrency without read-then-write.

#[cfg(feature = "memory")]
pub mod contract;
#[cfg(feature = "memory")]
mod memory;

#[cfg(feature = "memory")]
pub use memory::MemoryStore;

use async_trait::async_trait;

use std::time::Duration;

use crate::account::{Account, AccountChange, PendingSecondFactor, TokenClaim};
use crate::error::Result;
use crate::idempotency::IdempotencyRecord;
use crate::limits::{Limit, LimitKey, Window};
use crate::oidc::client::{Client, ClientId};
use crate::oidc::grant::{AuthorizationCode, CodeExchange, Consent, Interaction, RefreshFamily};
use crate::outbox::{Claimed, Mark, Resend, SealedMessage};
use crate::second_factor::{MfaChallenge, SecondFactorUse};
use crate::secret::KeyedHash;
use crate::session::{DeviceRecord, SessionRecord};
use crate::time::Timestamp;
use crate::two_factor::SecondFactorActivation;
use crate::verification::Verification;
use crate::Contact;
use crate::{AccountId, ChallengeId, CodeId, DeviceId, FamilyId, InteractionId, MessageId, SessionId, VerificationId};

/// Everything the domain stores: implemented by any type that implements every part.
///
/// A write that causes messages takes them as `outbox` and writes them with the change, all or
/// nothing (`outbox`): a refused change leaves no message, a committed one always has its own.
pub trait Store: VerificationStore + AccountStore + SessionStore + LimitStore + OutboxStore {}

impl<T: VerificationStore + AccountStore + SessionStore + LimitStore + OutboxStore> Store for T {}

/// Sign-up and recovery codes: verifications, their attempts and their tokens.
#[async_trait]
pub trait VerificationStore: Send + Sync {
    /// Saves a new verification and its message and applies every limit, all or nothing.
    /// A limit that refuses answers `Error::RateLimited` and nothing is written.
    async fn create_verification(
        &self,
        verification: &Verification,
        limits: &[Limit],
        outbox: &[SealedMessage],
        now: Timestamp,
    ) -> Result<()>;

    /// Counts one attempt at the code of a verification that is pending, unexpired
    /// and under `max_attempts`, and returns it as counted; `None` when there is no such verification.
    async fn count_code_attempt(
        &self,
        id: &VerificationId,
        now: Timestamp,
        max_attempts: u32,
    ) -> Result<Option<Verification>>;

    /// Turns a pending verification into a verified one holding `token_hash`, provided
    /// it is still pending and still the newest code of its contact. `false` otherwise.
    async fn mark_verified(
        &self,
        verification: &Verification,
        token_hash: &KeyedHash,
        token_expires_at: Timestamp,
    ) -> Result<bool>;

    /// A verification as stored, whatever its state; `None` when unknown.
    async fn verification(&self, id: &VerificationId) -> Result<Option<Verification>>;
}

/// Accounts, the contacts they claim, their second factors and the idempotency records of their creation.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// The id of the account that holds `contact` (as primary or recovery contact).
    async fn account_for_contact(&self, contact: &Contact) -> Result<Option<AccountId>>;

    /// Creates `account` and claims its primary contact while consuming the token,
    /// all or nothing. `Error::VerificationExpired` when the token is no longer
    /// usable (or `idempotency` was recorded meanwhile), `Error::AlreadyRegistered`
    /// when the contact already belongs to an account.
    async fn create_account(
        &self,
        account: &Account,
        claim: &TokenClaim,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<()>;

    async fn idempotency_record(&self, key_hash: &str) -> Result<Option<IdempotencyRecord>>;

    async fn account(&self, id: &AccountId) -> Result<Option<Account>>;

    /// Stores a second factor being set up, unless one was started less than `resend_after` ago.
    async fn start_second_factor(
        &self,
        account_id: &AccountId,
        pending: &PendingSecondFactor,
        resend_after: Duration,
        outbox: &[SealedMessage],
    ) -> Result<bool>;

    /// Counts an attempt at confirming the setup `nonce`; `false` when it is gone or out of attempts.
    async fn count_second_factor_attempt(&self, account_id: &AccountId, nonce: &str, max_attempts: u32)
        -> Result<bool>;

    /// Turns the method of setup `activation.nonce` on; `false` when that setup is gone.
    async fn activate_second_factor(
        &self,
        account_id: &AccountId,
        activation: &SecondFactorActivation,
        outbox: &[SealedMessage],
    ) -> Result<bool>;

    /// Consumes the token, claims `contact` for the account as a recovery contact and
    /// frees `replaced`, all or nothing. `Error::ContactInUse` when any account has `contact`.
    async fn add_recovery_contact(
        &self,
        account: &Account,
        claim: &TokenClaim,
        contact: &Contact,
        replaced: Option<&Contact>,
        outbox: &[SealedMessage],
    ) -> Result<()>;

    /// Applies `change` to an account in one transaction: the account item, the tokens
    /// it consumes, the challenge it closes and the session it keeps. `Error::InvalidCode`
    /// when the second factor was used meanwhile, `Error::VerificationExpired` for a used
    /// token, `Error::ChallengeExpired` for a closed challenge, `Error::Conflict` otherwise.
    async fn change_account(&self, change: &AccountChange<'_>) -> Result<()>;

    /// Deletes the account, frees its contacts and deletes the given sessions and devices,
    /// all or nothing (at most 90 of them; the rest can no longer sign in and expire by TTL).
    async fn delete_account(
        &self,
        account: &Account,
        sessions: &[SessionId],
        devices: &[DeviceId],
        outbox: &[SealedMessage],
    ) -> Result<()>;
}

/// Signing in: sessions, remembered devices and second-factor challenges.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// The owner of `login` and, when a device token names one, that remembered device, in one read.
    async fn sign_in_lookup(
        &self,
        login: &Contact,
        device: Option<(&AccountId, &DeviceId)>,
    ) -> Result<(Option<AccountId>, Option<DeviceRecord>)>;

    /// An account and one of its sessions, in one read.
    async fn account_with_session(
        &self,
        account_id: &AccountId,
        session_id: &SessionId,
    ) -> Result<(Option<Account>, Option<SessionRecord>)>;

    async fn put_session(&self, session: &SessionRecord, outbox: &[SealedMessage]) -> Result<()>;

    async fn delete_session(&self, account_id: &AccountId, session_id: &SessionId) -> Result<()>;

    /// Ends the session `session` and forgets the remembered device `device`, whichever exist, in one write.
    async fn revoke(&self, account_id: &AccountId, session: &SessionId, device: &DeviceId) -> Result<()>;

    async fn put_challenge(&self, challenge: &MfaChallenge) -> Result<()>;

    async fn challenge(&self, id: &ChallengeId) -> Result<Option<MfaChallenge>>;

    /// Counts one answer to an open, unexpired challenge under `max_attempts`; `None` otherwise.
    async fn count_challenge_attempt(
        &self,
        id: &ChallengeId,
        now: Timestamp,
        max_attempts: u32,
    ) -> Result<Option<MfaChallenge>>;

    /// Records the hash of an SMS code sent for a challenge, unless one was sent less than `resend_after` ago.
    async fn set_challenge_sms(
        &self,
        id: &ChallengeId,
        code_hash: &KeyedHash,
        now: Timestamp,
        resend_after: Duration,
        outbox: &[SealedMessage],
    ) -> Result<bool>;

    /// Closes the challenge, starts the session, uses up the second factor and
    /// remembers the device, all or nothing. `Error::ChallengeExpired` when the challenge
    /// was already used, `Error::InvalidCode` when the factor was used meanwhile.
    /// `resealed_totp` (the stored sealed TOTP secret, and the same secret sealed under the
    /// current key) replaces the first with the second, if 2FA did not change meanwhile.
    async fn complete_challenge(
        &self,
        challenge: &MfaChallenge,
        session: &SessionRecord,
        used: &SecondFactorUse,
        resealed_totp: Option<(&str, &str)>,
        device: Option<&DeviceRecord>,
        outbox: &[SealedMessage],
    ) -> Result<()>;

    /// The account's sessions and remembered devices, whatever their epoch.
    async fn sessions_and_devices(&self, account_id: &AccountId) -> Result<(Vec<SessionRecord>, Vec<DeviceRecord>)>;
}

/// Counters of rate limits and ceilings outside a use case's own transaction.
#[async_trait]
pub trait LimitStore: Send + Sync {
    /// Adds one to a counter of `window` that a `Limit::Ceiling` reads.
    async fn count_failure(&self, key: &LimitKey, window: Window) -> Result<()>;

    /// Counts one event in `window` unless `max` are counted already, and returns the new count;
    /// `None` then. A single conditional update, for counters too hot to share a transaction.
    async fn count_within(&self, key: &LimitKey, window: Window, max: u32) -> Result<Option<u32>>;

    /// Takes back one event counted in `window` for each key (an attempt that turned out right),
    /// never below zero. Best effort: a counter that cannot be given back stays counted, erring
    /// towards the limit, and the request it was for goes on.
    async fn refund(&self, keys: &[LimitKey], window: Window);

    /// What a window counter holds.
    async fn window_count(&self, key: &LimitKey, window: Window) -> Result<u32>;
}

/// The outbox as the courier works it (`crate::courier`).
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Writes messages on their own, for a cause that is no write of this store's (a counter that
    /// reached its limit outside any transaction).
    async fn enqueue(&self, outbox: &[SealedMessage]) -> Result<()>;

    /// Counts one delivery attempt at a message and returns it; `None` when it is gone
    /// (delivered or given up on) or marked `Sent`.
    async fn claim_message(&self, id: &MessageId) -> Result<Option<Claimed>>;

    /// Records `mark` on a message that is still there.
    async fn mark_message(&self, id: &MessageId, mark: Mark) -> Result<()>;

    async fn delete_message(&self, id: &MessageId) -> Result<()>;

    /// Ends the wait a code started before another may be sent, if that code is still the
    /// newest of its kind (a later one keeps its own wait).
    async fn free_resend(&self, resend: &Resend) -> Result<()>;
}

/// OpenID Connect: clients, interactions, codes, refresh-token families and consents. Not yet
/// part of [`Store`]: only the in-memory store implements it so far.
///
/// The epoch checks are conditions on the account item in the same transaction as the write
/// (production: `TransactWriteItems` with a `ConditionCheck` on the account), so a grant never
/// outlives signing out everywhere, a password change or reset, or the account's deletion.
#[async_trait]
pub trait OidcStore: AccountStore {
    async fn client(&self, id: &ClientId) -> Result<Option<Client>>;

    /// Registers a client, or replaces the one of its id.
    async fn put_client(&self, client: &Client) -> Result<()>;

    async fn put_interaction(&self, interaction: &Interaction) -> Result<()>;

    /// An interaction as stored, if not yet taken; expired ones too, as a TTL not yet run returns them.
    async fn interaction(&self, id: &InteractionId) -> Result<Option<Interaction>>;

    /// Deletes an unexpired interaction and returns it: whoever takes it first completes it.
    async fn take_interaction(&self, id: &InteractionId, now: Timestamp) -> Result<Option<Interaction>>;

    async fn put_code(&self, code: &AuthorizationCode) -> Result<()>;

    async fn code(&self, account_id: &AccountId, id: &CodeId) -> Result<Option<AuthorizationCode>>;

    /// In one transaction: the code (as read: same hash, unused, unexpired at `now`) becomes
    /// used by `family`, `family` is written (new), and the account's session epoch is still the
    /// code's. `CodeExchange::Used` names the family of the exchange that came first.
    async fn exchange_code(
        &self,
        code: &AuthorizationCode,
        family: &RefreshFamily,
        now: Timestamp,
    ) -> Result<CodeExchange>;

    /// A family and its account, in one read.
    async fn account_with_family(
        &self,
        account_id: &AccountId,
        id: &FamilyId,
    ) -> Result<(Option<Account>, Option<RefreshFamily>)>;

    /// Replaces `current` by `next` (same family) if the family still holds `current`'s
    /// `current_hash`, has not expired at `now`, and the account's epoch is still the family's,
    /// in one transaction; `false` and nothing written otherwise.
    async fn rotate_refresh(&self, current: &RefreshFamily, next: &RefreshFamily, now: Timestamp) -> Result<bool>;

    /// Deletes the family, if it is there.
    async fn revoke_family(&self, account_id: &AccountId, id: &FamilyId) -> Result<()>;

    /// Records a consent, in place of the one the person gave the client before.
    async fn put_consent(&self, consent: &Consent) -> Result<()>;

    async fn consent(&self, account_id: &AccountId, client_id: &ClientId) -> Result<Option<Consent>>;

    /// The account's consents, by client id.
    async fn consents(&self, account_id: &AccountId) -> Result<Vec<Consent>>;

    /// Forgets the consent and revokes the families of that client for the account, in one
    /// transaction (production: the families found by a query of the account's partition).
    async fn delete_consent(&self, account_id: &AccountId, client_id: &ClientId) -> Result<()>;
}
