//! Whether an authorization can be answered now, as Ory Hydra decides it: with the browser's
//! sign-in (if any), the request's `prompt` and `max_age`, and, for a third-party client, the
//! consent the person gave before.

use super::client::{Client, Party};
use super::error::OAuthCode;
use super::request::AuthorizationRequest;
use super::scope::Scopes;
use crate::time::Timestamp;
use crate::AccountId;

/// Authentication methods (RFC 8176) of a sign-in: `pwd`, then `otp` (an authenticator app's
/// code or a recovery code) or `sms`, and `mfa` when there were two factors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amr {
    Pwd,
    Otp,
    Sms,
    Mfa,
}

impl Amr {
    pub fn as_str(self) -> &'static str {
        match self {
            Amr::Pwd => "pwd",
            Amr::Otp => "otp",
            Amr::Sms => "sms",
            Amr::Mfa => "mfa",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Amr::Pwd, Amr::Otp, Amr::Sms, Amr::Mfa].into_iter().find(|amr| amr.as_str() == text)
    }
}

/// `acr` for a sign-in with two factors and with one, after NIST SP 800-63B's assurance levels.
pub const ACR_TWO_FACTORS: &str = "aal2";
pub const ACR_ONE_FACTOR: &str = "aal1";

/// A browser's sign-in, as the hosted pages (or an integrator's frontend) tell it: who, when,
/// how, and the account's session epoch then, which every grant from it keeps: raising the
/// epoch (signing out everywhere, a password change or reset) ends them all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authentication {
    pub account_id: AccountId,
    pub auth_time: Timestamp,
    pub amr: Vec<Amr>,
    pub epoch: u64,
}

impl Authentication {
    pub fn acr(&self) -> &'static str {
        if self.amr.contains(&Amr::Mfa) {
            ACR_TWO_FACTORS
        } else {
            ACR_ONE_FACTOR
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Issue a code for this sign-in now.
    Issue(Authentication),
    /// The person must sign in (again): a login interaction.
    Login,
    /// The person must approve the client: a consent interaction.
    Consent(Authentication),
    /// `prompt=none` and the person would have to be asked: `login_required` or `consent_required`.
    Refuse(OAuthCode),
}

/// `signed_in` is the browser's sign-in; `fresh_since`, when a login interaction is being
/// completed, the time it started: a sign-in since then satisfies `prompt=login` and
/// `max_age` (the person signed in for this request). `consented` is the remembered consent
/// of the person to this client.
pub fn decide(
    request: &AuthorizationRequest,
    client: &Client,
    signed_in: Option<&Authentication>,
    fresh_since: Option<Timestamp>,
    consented: Option<&Scopes>,
    now: Timestamp,
) -> Decision {
    let usable = signed_in.filter(|auth| {
        let fresh = fresh_since.is_some_and(|since| auth.auth_time >= since);
        let recent = request.max_age.is_none_or(|max| now.0.saturating_sub(auth.auth_time.0) <= max as i64);
        fresh || (recent && !request.prompt.login)
    });
    let Some(auth) = usable else {
        return if request.prompt.none { Decision::Refuse(OAuthCode::LoginRequired) } else { Decision::Login };
    };
    let remembered = consented.is_some_and(|scopes| request.scopes.is_subset(scopes));
    let needs_consent = client.party == Party::Third && (request.prompt.consent || !remembered);
    match (needs_consent, request.prompt.none) {
        (false, _) => Decision::Issue(auth.clone()),
        (true, true) => Decision::Refuse(OAuthCode::ConsentRequired),
        (true, false) => Decision::Consent(auth.clone()),
    }
}
