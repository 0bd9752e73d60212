//! Creating an account from a confirmed sign-up code.

use rand::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};

use super::idempotency::Idempotency;
use super::password::{Password, PasswordHash};
use super::verification::{Purpose, Verification, VerificationState};
use super::{AccountId, ChallengeId, Contact, EmailAddress, PhoneNumber, VerificationToken};

use crate::error::{Error, Result};
use crate::secret::KeyedHash;
use crate::time::Timestamp;
use crate::Services;

#[derive(Debug, Clone)]
pub struct Account {
    pub id: AccountId,
    pub password_hash: PasswordHash,
    /// The phone or email the account was created with; its login.
    pub primary: Contact,
    pub recovery_phone: Option<PhoneNumber>,
    pub recovery_email: Option<EmailAddress>,
    pub created_at: Timestamp,
    pub terms_version: String,
    pub terms_accepted_at: Timestamp,
    /// Sessions of an older epoch are signed out; raising it signs out everywhere at once.
    pub session_epoch: u64,
    /// Likewise for remembered devices.
    pub device_epoch: u64,
    pub two_factor: TwoFactor,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondFactor {
    Totp,
    Sms,
}

#[derive(Debug, Clone, Default)]
pub struct TwoFactor {
    /// The methods turned on; 2FA is on when this is not empty.
    pub methods: Vec<SecondFactor>,
    /// The TOTP secret, sealed (see `totp::TotpSecret::seal`).
    pub totp_secret: Option<String>,
    /// The newest TOTP time step accepted, so no code is accepted twice.
    pub totp_last_step: i64,
    /// Keyed hashes of the unused recovery codes.
    pub recovery_codes: Vec<String>,
    /// A method being set up, waiting for its first code.
    pub pending: Option<PendingSecondFactor>,
}

#[derive(Debug, Clone)]
pub struct PendingSecondFactor {
    /// Tells one setup from the next, so a confirmation applies to the setup it answers.
    pub nonce: String,
    pub method: SecondFactor,
    pub sealed_totp_secret: Option<String>,
    pub code_hash: Option<KeyedHash>,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub attempts: u32,
}

impl Account {
    pub fn new(
        id: AccountId,
        password_hash: PasswordHash,
        primary: Contact,
        terms_version: String,
        now: Timestamp,
    ) -> Self {
        Account {
            id,
            password_hash,
            primary,
            recovery_phone: None,
            recovery_email: None,
            created_at: now,
            terms_version,
            terms_accepted_at: now,
            session_epoch: 0,
            device_epoch: 0,
            two_factor: TwoFactor::default(),
        }
    }

    pub fn two_factor_enabled(&self) -> bool {
        !self.two_factor.methods.is_empty()
    }

    /// The verified phone that SMS codes for a second factor go to.
    pub fn phone(&self) -> Option<&PhoneNumber> {
        match &self.primary {
            Contact::Phone(phone) => Some(phone),
            Contact::Email(_) => self.recovery_phone.as_ref(),
        }
    }
}

/// A verified token being used up: the store consumes it only if it is still
/// verified, holds this hash and has not expired.
#[derive(Debug, Clone)]
pub struct TokenClaim {
    pub verification: Verification,
    pub token_hash: KeyedHash,
    pub now: Timestamp,
}

/// A change to an account that must happen all at once.
#[derive(Debug)]
pub struct AccountChange<'a> {
    pub account_id: &'a AccountId,
    /// Verification tokens used up by the change.
    pub tokens: Vec<&'a TokenClaim>,
    /// An MFA challenge the change answers, closed by it.
    pub challenge: Option<&'a ChallengeId>,
    /// The second factor that proved the change, used up by it.
    pub factor: Option<&'a super::second_factor::SecondFactorUse>,
    pub password_hash: Option<PasswordHash>,
    /// Signs out every session of the current epoch (`session_epoch` is the epoch seen).
    pub sign_out_everywhere: Option<u64>,
    pub forget_devices: bool,
    /// A session that survives `sign_out_everywhere`: written again in the new epoch.
    pub keep_session: Option<&'a super::session::SessionRecord>,
    pub two_factor: Option<TwoFactorChange>,
    /// A recovery contact removed, and freed for other accounts.
    pub remove_recovery: Option<&'a Contact>,
    /// The messages the change causes (its notices), written with it.
    pub outbox: &'a [crate::outbox::SealedMessage],
}

impl<'a> AccountChange<'a> {
    /// No change yet to the account `account_id`: `..AccountChange::of(id)` fills the parts a change leaves alone.
    pub fn of(account_id: &'a AccountId) -> Self {
        AccountChange {
            account_id,
            tokens: Vec::new(),
            challenge: None,
            factor: None,
            password_hash: None,
            sign_out_everywhere: None,
            forget_devices: false,
            keep_session: None,
            two_factor: None,
            remove_recovery: None,
            outbox: &[],
        }
    }
}

#[derive(Debug, Clone)]
pub enum TwoFactorChange {
    Off,
    NewRecoveryCodes(Vec<String>),
}

pub struct NewAccount {
    pub verification_token: String,
    pub password: Password,
    pub accept_terms: bool,
    pub terms_version: Option<String>,
}

/// Serialised (serde) as an idempotent create-account stores it and deserialised to replay it to
/// a retry (`idempotency`); the answer is `shared::api::account::AccountCreated`, from either.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccountCreated {
    pub account_id: AccountId,
    /// The verified phone (E.164) or email the person signs in with.
    pub login: String,
}

/// Checks a verification token for `purpose` and returns the claim that consumes it.
pub async fn claim_token(services: &Services, token: &str, purpose: Purpose, now: Timestamp) -> Result<TokenClaim> {
    let token = VerificationToken::parse(token.trim())
        .ok_or_else(|| Error::InvalidRequest("verification_token is malformed".into()))?;
    let verification = services.store.verification(&token.id).await?.ok_or(Error::VerificationExpired)?;
    // The stored hash, which the consuming transaction's condition names: it may be from a key
    // that was current before a rotation.
    let VerificationState::Verified { token_hash, token_expires_at } = &verification.state else {
        return Err(Error::VerificationExpired);
    };
    let usable =
        verification.purpose == purpose && *token_expires_at > now && token.verify(&services.config.secret, token_hash);
    if !usable {
        return Err(Error::VerificationExpired);
    }
    let token_hash = token_hash.clone();
    Ok(TokenClaim { verification, token_hash, now })
}

/// Creates the account, consuming the token, in one transaction that also
/// claims the contact, so one phone or email never has two accounts.
pub async fn create_account(
    services: &Services,
    request: NewAccount,
    idempotency: Option<Idempotency>,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<AccountCreated> {
    let Some(idempotency) = idempotency else { return create(services, request, None, now, rng).await };
    if let Some(first) = idempotency.replay(services, now).await? {
        return Ok(first);
    }
    match create(services, request, Some(&idempotency), now, rng).await {
        // A concurrent retry with the same key used the token first: answer as it did.
        Err(Error::VerificationExpired) => idempotency.replay(services, now).await?.ok_or(Error::VerificationExpired),
        other => other,
    }
}

async fn create(
    services: &Services,
    request: NewAccount,
    idempotency: Option<&Idempotency>,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<AccountCreated> {
    let config = &services.config;
    if !request.accept_terms {
        return Err(Error::TermsNotAccepted);
    }
    let terms_version = request.terms_version.unwrap_or_else(|| config.terms_version.clone());
    if terms_version != config.terms_version {
        return Err(Error::InvalidRequest(format!(
            "terms_version {terms_version:?} is not the current version {:?}; show and accept the current terms",
            config.terms_version
        )));
    }
    let claim = claim_token(services, &request.verification_token, Purpose::SignUp, now).await?;
    let contact = claim.verification.contact.clone();
    config.password_policy.check(&request.password, &contact)?;

    let password_hash = config.password_hasher.hash(&request.password)?;
    let account = Account::new(AccountId::generate(rng), password_hash, contact, terms_version, now);
    let created = AccountCreated { account_id: account.id.clone(), login: account.primary.canonical() };
    let record = idempotency.map(|i| i.record(&created, now, services));
    services.store.create_account(&account, &claim, record.as_ref()).await?;
    Ok(created)
}
