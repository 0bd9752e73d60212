//! Signing up as the hosted sign-up page does it, in one form: the code confirmed, the account
//! created and the person signed in. Each step is the API's own (`confirm_code`,
//! `create_account`, `sign_in`), so no rule has a second copy.

use rand::{CryptoRng, RngCore};

use crate::account::{create_account, NewAccount};
use crate::error::Error;
use crate::password::Password;
use crate::session::{ClientInfo, SessionIssued};
use crate::sign_in::{sign_in, SignInOutcome, SignInRequest};
use crate::time::Timestamp;
use crate::verification::confirm_code;
use crate::{Contact, Language, Services};

pub struct SignUp {
    pub verification_id: String,
    /// The code, until it was confirmed; then the token it was traded for (`SignUpRefused`).
    pub proof: CodeOrToken,
    pub password: Password,
    pub accept_terms: bool,
    pub client: ClientInfo,
    pub language: Language,
}

pub enum CodeOrToken {
    Code(String),
    Token(String),
}

/// Why the sign-up did not happen, and the token of a code confirmed on the way, so that a
/// weak password or a missing tick is fixed on the same form without a new code.
#[derive(Debug)]
pub struct SignUpRefused {
    pub error: Error,
    pub verification_token: Option<String>,
}

/// The session of the account just created, and its login.
#[derive(Debug)]
pub struct SignedUp {
    pub session: SessionIssued,
    pub login: String,
}

pub async fn sign_up(
    services: &Services,
    request: SignUp,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> std::result::Result<SignedUp, SignUpRefused> {
    let refused = |error, token: Option<&str>| SignUpRefused { error, verification_token: token.map(str::to_owned) };
    // Terms first: an unticked box must not use up a code.
    if !request.accept_terms {
        let token = match &request.proof {
            CodeOrToken::Token(token) => Some(token.as_str()),
            CodeOrToken::Code(_) => None,
        };
        return Err(refused(Error::TermsNotAccepted, token));
    }
    let token = match request.proof {
        CodeOrToken::Token(token) => token,
        CodeOrToken::Code(code) => {
            confirm_code(services, &request.verification_id, &code, now, rng)
                .await
                .map_err(|error| refused(error, None))?
                .verification_token
        }
    };
    let account = NewAccount {
        verification_token: token.clone(),
        password: request.password.clone(),
        accept_terms: true,
        terms_version: None,
    };
    let created = create_account(services, account, None, now, rng).await.map_err(|error| {
        // A refused password leaves the token unused: the form keeps it. Any other refusal
        // (the token used meanwhile, the contact taken) needs a new start.
        let keep = matches!(error, Error::WeakPassword { .. }).then_some(token.as_str());
        refused(error, keep)
    })?;
    let login =
        Contact::from_login(&created.login, None).map_err(|e| refused(Error::internal("new login", e), None))?;
    let signing_in = SignInRequest {
        language: request.language,
        login,
        password: request.password,
        device_token: None,
        client: request.client,
    };
    match sign_in(services, signing_in, now, rng).await {
        Ok(SignInOutcome::SignedIn(session)) => Ok(SignedUp { session, login: created.login }),
        Ok(SignInOutcome::MfaRequired(_)) => {
            Err(refused(Error::internal("sign-up", "a new account asked for 2FA"), None))
        }
        Err(error) => Err(refused(error, None)),
    }
}
