//! Second factors as every flow checks them: the challenge a right password (or a reset
//! token) opens, the methods that can answer it, and the check of an answer. Used by
//! sign-in, password reset, turning 2FA on and the self-service proofs.

use rand::{CryptoRng, RngCore};

use crate::account::{Account, SecondFactor};
use crate::error::{Error, Result};
use crate::limits::{LimitKey, Window, FAILURE_WINDOW};
use crate::notices;
use crate::notify::SecurityEvent;
use crate::password::PasswordHash;
use crate::secret::{HashPurpose, KeyedHash};
use crate::session::ClientInfo;
use crate::time::Timestamp;
use crate::totp::TotpSecret;
use crate::{AccountId, ChallengeId, Language, Services, VerificationId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MfaMethod {
    Totp,
    Sms,
    RecoveryCode,
    /// Password reset only: a code confirmed on another contact of the account.
    SecondContact,
}

/// A password reset waiting for its second factor: what completing it will write.
#[derive(Debug, Clone)]
pub struct PendingReset {
    pub verification_id: VerificationId,
    pub token_hash: KeyedHash,
    /// The new password, already hashed: the plain text is never stored.
    pub password_hash: PasswordHash,
}

/// A password that was right, waiting for the second factor.
#[derive(Debug, Clone)]
pub struct MfaChallenge {
    pub id: ChallengeId,
    pub account_id: AccountId,
    pub methods: Vec<MfaMethod>,
    pub attempts: u32,
    /// The account's session epoch when it opened: signing out everywhere, a password change
    /// or a reset raise it, and the challenge dies with the sessions.
    pub epoch: u64,
    pub expires_at: Timestamp,
    pub sms_code_hash: Option<KeyedHash>,
    pub client: ClientInfo,
    /// Set when the challenge guards a password reset rather than a sign-in.
    pub reset: Option<PendingReset>,
}

/// The challenge a client names: an id of any other shape is simply unknown.
pub fn challenge_id(text: &str) -> Result<ChallengeId> {
    ChallengeId::parse(text.trim()).ok_or(Error::ChallengeExpired)
}

impl MfaChallenge {
    /// The account the challenge waits for, unless the challenge died with the account's
    /// sessions (a password change or reset, signing out everywhere) or with the account.
    pub async fn account(&self, services: &Services) -> Result<Account> {
        let account = services.store.account(&self.account_id).await?;
        account.filter(|account| account.session_epoch == self.epoch).ok_or(Error::ChallengeExpired)
    }
}

/// Checks a second-factor answer with `check`, counted against the account's budget of wrong
/// answers before it is compared, so fresh challenges never buy fresh guesses: 429 once the
/// budget is spent. A right answer is given back; the wrong one that spends the budget tells
/// the owner (`notices`).
pub async fn counted_check<T>(
    services: &Services,
    account: &Account,
    language: Language,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
    check: impl FnOnce() -> Result<Option<T>>,
) -> Result<Option<T>> {
    let key = guess_key(services, &account.id);
    let window = Window::containing(now, FAILURE_WINDOW);
    let max = services.config.second_factor_failures_per_account;
    let count = services.store.count_within(&key, window, max).await?.ok_or_else(|| window.refusal(now))?;
    let checked = check()?;
    match &checked {
        Some(_) => services.store.refund(&[key], window).await,
        // The counter is too hot for a transaction: the notice is written right after it. Should
        // that write fail, the wrong answer is still refused and the owner is not told.
        None if count >= max => {
            let notices =
                notices::security_event(services, account, SecurityEvent::SecondFactorGuessed, "", language, now, rng);
            if let Err(error) = services.store.enqueue(&notices).await {
                tracing::error!(error = error.code(), "second-factor guessing notice not written");
            }
        }
        None => {}
    }
    Ok(checked)
}

fn guess_key(services: &Services, account_id: &AccountId) -> LimitKey {
    LimitKey::new(&services.config.secret, "second-factor", account_id.as_str())
}

/// Refuses to open a challenge for an account whose second-factor budget is spent.
pub async fn ensure_guesses_left(services: &Services, account_id: &AccountId, now: Timestamp) -> Result<()> {
    let window = Window::containing(now, FAILURE_WINDOW);
    let count = services.store.window_count(&guess_key(services, account_id), window).await?;
    if count >= services.config.second_factor_failures_per_account {
        return Err(window.refusal(now));
    }
    Ok(())
}

/// The methods a sign-in challenge offers for `account`.
pub fn challenge_methods(account: &Account) -> Vec<MfaMethod> {
    let mut methods: Vec<MfaMethod> = account
        .two_factor
        .methods
        .iter()
        .map(|m| match m {
            SecondFactor::Totp => MfaMethod::Totp,
            SecondFactor::Sms => MfaMethod::Sms,
        })
        .collect();
    if !account.two_factor.recovery_codes.is_empty() {
        methods.push(MfaMethod::RecoveryCode);
    }
    methods
}

/// What answering a challenge uses up, written in the transaction that signs in.
#[derive(Debug, Clone)]
pub enum SecondFactorUse {
    /// TOTP codes: the step, so no code is accepted twice.
    TotpStep(i64),
    /// Recovery codes: the hash of the code, removed from the account.
    RecoveryCode(String),
    Sms,
}

/// A typed recovery code as it is hashed: case, spaces and dashes do not matter.
fn normalised_recovery_code(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase()
}

pub fn recovery_code_hash(services: &Services, account_id: &AccountId, code: &str) -> String {
    let normalised = normalised_recovery_code(code);
    services
        .config
        .secret
        .keyed_hash(HashPurpose::RecoveryCode, &[account_id.as_str().as_bytes(), normalised.as_bytes()])
        .to_hex()
}

/// Checks a second-factor code for `account`; every caller has counted the attempt first.
pub fn check_second_factor(
    services: &Services,
    account: &Account,
    method: MfaMethod,
    code: &str,
    sms_code: Option<(&str, &KeyedHash)>,
    now: Timestamp,
) -> Result<Option<SecondFactorUse>> {
    let code = code.trim();
    Ok(match method {
        MfaMethod::Totp => {
            let Some(sealed) = &account.two_factor.totp_secret else { return Ok(None) };
            // Sealed under a retired key: the person has to use another way in.
            let secret = match TotpSecret::open(&services.config.secret, &account.id, sealed) {
                Ok(secret) => secret,
                Err(error) => {
                    tracing::error!(%error, "TOTP secret unreadable; the code is refused");
                    return Ok(None);
                }
            };
            secret.matching_step(code, now, account.two_factor.totp_last_step).map(SecondFactorUse::TotpStep)
        }
        MfaMethod::Sms => sms_code.and_then(|(salt, stored)| {
            let parts: [&[u8]; 2] = [salt.as_bytes(), code.as_bytes()];
            services.config.secret.verify(stored, HashPurpose::SecondFactorCode, &parts).then_some(SecondFactorUse::Sms)
        }),
        MfaMethod::RecoveryCode => {
            // Under every key, so codes made before a rotation still work; the stored hash that
            // matched is the one the sign-in removes.
            let normalised = normalised_recovery_code(code);
            let hashes = services
                .config
                .secret
                .keyed_hashes(HashPurpose::RecoveryCode, &[account.id.as_str().as_bytes(), normalised.as_bytes()]);
            let known = account.two_factor.recovery_codes.iter().find(|stored| {
                KeyedHash::from_hex(stored).is_some_and(|stored| hashes.iter().any(|hash| hash.matches(&stored)))
            });
            known.map(|stored| SecondFactorUse::RecoveryCode(stored.clone()))
        }
        MfaMethod::SecondContact => None,
    })
}
