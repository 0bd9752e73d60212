//! Signing in and out: `POST /v1/sessions`, `POST /v1/sessions/mfa`, `POST /v1/sessions/mfa/sms`
//! (and the same SMS step of a password reset), and the sessions of `GET /v1/account/sessions`.

use serde::{Deserialize, Serialize};

use domain::password::Password;
use domain::second_factor;
use domain::self_service;
use domain::session::{self, ClientInfo};
use domain::sign_in::{self, MfaAnswer, SecondFactorRequired, SignInRequest};
use domain::{Contact, Language, Result};

wire_enum! {
    /// A way to answer a sign-in or password-reset challenge.
    MfaMethod mirrors second_factor::MfaMethod { Totp, Sms, RecoveryCode, SecondContact }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignInBody {
    login: String,
    country_code: Option<String>,
    password: String,
    device_token: Option<String>,
}

impl SignInBody {
    /// The domain's request, from `client` and in the caller's language.
    pub fn into_request(self, client: ClientInfo, language: Language) -> Result<SignInRequest> {
        Ok(SignInRequest {
            login: self.login()?,
            password: Password::new(&self.password),
            device_token: self.device_token,
            client,
            language,
        })
    }

    fn login(&self) -> Result<Contact> {
        Contact::from_login(&self.login, self.country_code.as_deref())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MfaBody {
    challenge_id: String,
    method: MfaMethod,
    code: String,
    #[serde(default)]
    remember_device: bool,
}

impl MfaBody {
    pub fn into_answer(self, language: Language) -> MfaAnswer {
        MfaAnswer {
            challenge_id: self.challenge_id,
            method: self.method.into(),
            code: self.code,
            remember_device: self.remember_device,
            language,
        }
    }
}

/// `{"challenge_id"}`: the challenge, of a sign-in or a password reset, to send an SMS code for.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengeBody {
    pub challenge_id: String,
}

wire_struct!(SessionIssued from session::SessionIssued { session_token: String, expires_in: u64 });

/// The answer when a second factor is needed: which ways the challenge can be answered.
#[derive(Serialize)]
pub struct MfaRequired {
    mfa_required: bool,
    challenge_id: String,
    methods: Vec<MfaMethod>,
}

impl From<SecondFactorRequired> for MfaRequired {
    fn from(required: SecondFactorRequired) -> Self {
        MfaRequired {
            mfa_required: true,
            challenge_id: required.challenge_id.into(),
            methods: super::wire(&required.methods),
        }
    }
}

#[derive(Serialize)]
#[serde(untagged)]
pub enum SignInOutcome {
    SignedIn(SessionIssued),
    MfaRequired(MfaRequired),
}

impl From<sign_in::SignInOutcome> for SignInOutcome {
    fn from(outcome: sign_in::SignInOutcome) -> Self {
        match outcome {
            sign_in::SignInOutcome::SignedIn(issued) => SignInOutcome::SignedIn(issued.into()),
            sign_in::SignInOutcome::MfaRequired(required) => SignInOutcome::MfaRequired(required.into()),
        }
    }
}

wire_struct! {
    /// The session, and the device token only when the device is to be remembered.
    MfaSignedIn from sign_in::MfaSignedIn {
        #[serde(flatten)]
        session: SessionIssued,
        #[serde(skip_serializing_if = "Option::is_none")]
        device_token: Option<String>,
    }
}

wire_struct!(SmsCodeSent from sign_in::SmsCodeSent { destination: String, resend_after: u64 });

wire_struct! {
    /// A session, or a remembered device (`kind`), as the devices page lists it.
    SessionView from self_service::SessionView {
        id: String,
        kind: &'static str,
        created_at: i64,
        expires_at: i64,
        #[serde(skip_serializing_if = "Option::is_none")]
        user_agent: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        client_network: Option<String>,
        current: bool,
    }
}

/// `GET /v1/account/sessions`: the sessions and remembered devices of the account.
#[derive(Serialize)]
pub struct SessionsView {
    sessions: Vec<SessionView>,
}

impl From<self_service::SessionsView> for SessionsView {
    fn from(view: self_service::SessionsView) -> Self {
        SessionsView { sessions: view.sessions.into_iter().map(SessionView::from).collect() }
    }
}
