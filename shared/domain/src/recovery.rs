//! Forgot password: a code to any verified contact resets it; with 2FA on, so does
//! nothing less than a second factor or a code from a second contact.

use rand::{CryptoRng, RngCore};

use super::account::{claim_token, Account, AccountChange, TokenClaim};
use super::password::{Password, PasswordHash};
use super::second_factor::{
    self, challenge_id, check_second_factor, counted_check, MfaChallenge, MfaMethod, PendingReset,
};
use super::session::ClientInfo;
use super::sign_in::SecondFactorRequired;
use super::verification::Purpose;
use super::{ChallengeId, Language};
use crate::error::{Error, Result};
use crate::notices;
use crate::notify::SecurityEvent;
use crate::time::Timestamp;
use crate::Services;

pub struct ResetRequest {
    pub verification_token: String,
    pub password: Password,
}

#[derive(Debug)]
pub enum ResetOutcome {
    Done,
    MfaRequired(SecondFactorRequired),
}

/// The account a reset token proves a contact of.
async fn account_of(services: &Services, claim: &TokenClaim) -> Result<Account> {
    let id =
        services.store.account_for_contact(&claim.verification.contact).await?.ok_or(Error::VerificationExpired)?;
    services.store.account(&id).await?.ok_or(Error::VerificationExpired)
}

pub async fn reset_password(
    services: &Services,
    request: ResetRequest,
    language: Language,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<ResetOutcome> {
    let claim = claim_token(services, &request.verification_token, Purpose::ResetPassword, now).await?;
    let account = account_of(services, &claim).await?;
    services.config.password_policy.check(&request.password, &account.primary)?;
    let password_hash = services.config.password_hasher.hash(&request.password)?;

    if !account.two_factor_enabled() {
        finish(services, &account, reset_change(&account, vec![&claim], password_hash), language, now, rng).await?;
        return Ok(ResetOutcome::Done);
    }
    // A proven phone cannot also be the second factor sent to that same phone.
    let proven = claim.verification.contact.canonical();
    let mut methods = Vec::new();
    for (method, available) in [
        (MfaMethod::Totp, account.two_factor.methods.contains(&super::account::SecondFactor::Totp)),
        (
            MfaMethod::Sms,
            account.two_factor.methods.contains(&super::account::SecondFactor::Sms)
                && account.phone().is_some_and(|p| p.e164() != proven),
        ),
        (MfaMethod::RecoveryCode, !account.two_factor.recovery_codes.is_empty()),
        (MfaMethod::SecondContact, account.contacts().len() > 1),
    ] {
        if available {
            methods.push(method);
        }
    }
    second_factor::ensure_guesses_left(services, &account.id, now).await?;
    let challenge = MfaChallenge {
        id: ChallengeId::generate(rng),
        account_id: account.id.clone(),
        methods,
        attempts: 0,
        epoch: account.session_epoch,
        expires_at: now.plus(services.config.mfa_challenge_ttl),
        sms_code_hash: None,
        client: ClientInfo::default(),
        reset: Some(PendingReset {
            verification_id: claim.verification.id.clone(),
            token_hash: claim.token_hash,
            password_hash,
        }),
    };
    services.store.put_challenge(&challenge).await?;
    Ok(ResetOutcome::MfaRequired(SecondFactorRequired { challenge_id: challenge.id, methods: challenge.methods }))
}

pub struct ResetAnswer {
    pub challenge_id: String,
    pub method: MfaMethod,
    pub code: Option<String>,
    /// For `second_contact`: a reset token from another contact of the same account.
    pub verification_token: Option<String>,
}

pub async fn complete_reset(
    services: &Services,
    answer: ResetAnswer,
    language: Language,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<()> {
    let max = services.config.mfa_max_attempts;
    let challenge = services
        .store
        .count_challenge_attempt(&challenge_id(&answer.challenge_id)?, now, max)
        .await?
        .ok_or(Error::ChallengeExpired)?;
    let reset = challenge.reset.clone().ok_or(Error::ChallengeExpired)?;
    if !challenge.methods.contains(&answer.method) {
        return Err(Error::InvalidRequest("this method is not available for this reset".into()));
    }
    let account = challenge.account(services).await?;
    let verification = services.store.verification(&reset.verification_id).await?.ok_or(Error::VerificationExpired)?;
    let first = TokenClaim { verification, token_hash: reset.token_hash.clone(), now };
    let attempts_left = max.saturating_sub(challenge.attempts);

    let (second, factor) = match answer.method {
        MfaMethod::SecondContact => {
            let token = answer.verification_token.as_deref().ok_or_else(|| {
                Error::InvalidRequest("second_contact needs the verification_token of another contact".into())
            })?;
            let second = claim_token(services, token, Purpose::ResetPassword, now).await?;
            let contact = second.verification.contact.canonical();
            let of_account = account.contacts().iter().any(|(c, _)| c.canonical() == contact);
            if !of_account || contact == first.verification.contact.canonical() {
                return Err(Error::InvalidCode { attempts_left });
            }
            (Some(second), None)
        }
        method => {
            let code = answer.code.as_deref().ok_or_else(|| Error::InvalidRequest("code is required".into()))?;
            let sms = challenge.sms_code_hash.as_ref().map(|h| (challenge.id.as_str(), h));
            let check = || check_second_factor(services, &account, method, code, sms, now);
            let used = counted_check(services, &account, language, now, rng, check)
                .await?
                .ok_or(Error::InvalidCode { attempts_left })?;
            (None, Some(used))
        }
    };
    let mut tokens = vec![&first];
    tokens.extend(second.as_ref());
    let change = AccountChange {
        challenge: Some(&challenge.id),
        factor: factor.as_ref(),
        ..reset_change(&account, tokens, reset.password_hash)
    };
    finish(services, &account, change, language, now, rng).await.map_err(|e| {
        if let Error::InvalidCode { .. } = e {
            Error::InvalidCode { attempts_left }
        } else {
            e
        }
    })
}

/// What a reset writes: the new hash and the tokens used up, with every session signed out and
/// every remembered device forgotten.
fn reset_change<'a>(
    account: &'a Account,
    tokens: Vec<&'a TokenClaim>,
    password_hash: PasswordHash,
) -> AccountChange<'a> {
    AccountChange {
        tokens,
        password_hash: Some(password_hash),
        sign_out_everywhere: Some(account.session_epoch),
        forget_devices: true,
        ..AccountChange::of(&account.id)
    }
}

/// Makes the reset's change and its notice to the owner in one transaction.
async fn finish(
    services: &Services,
    account: &Account,
    change: AccountChange<'_>,
    language: Language,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<()> {
    let notices = notices::security_event(services, account, SecurityEvent::PasswordReset, "", language, now, rng);
    services.store.change_account(&AccountChange { outbox: &notices, ..change }).await
}
