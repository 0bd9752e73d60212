//! Two-factor authentication on the account page: `POST /v1/account/two-factor` and its
//! `/confirm`, `DELETE /v1/account/two-factor` and `POST /v1/account/two-factor/recovery-codes`.

use serde::{Deserialize, Serialize};

use domain::password::Password;
use domain::self_service::{self, Proof};
use domain::two_factor;
use domain::{Error, Result};

wire_enum!(SecondFactor mirrors domain::account::SecondFactor { Totp, Sms });

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartBody {
    method: SecondFactor,
    password: Option<String>,
    code: Option<String>,
}

impl StartBody {
    pub fn method(&self) -> domain::account::SecondFactor {
        self.method.into()
    }

    pub fn proof(&self) -> Result<Proof> {
        proof(self.password.clone(), self.code.clone())
    }
}

/// `{"password"}` or `{"code"}`: what proves a change to how the account is signed in to or
/// recovered; bodies with more in them carry the same two fields.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ProofBody {
    password: Option<String>,
    code: Option<String>,
}

impl TryFrom<ProofBody> for Proof {
    type Error = Error;

    fn try_from(body: ProofBody) -> Result<Proof> {
        proof(body.password, body.code)
    }
}

/// The proof a body's `password` and `code` give: exactly one of them.
pub(super) fn proof(password: Option<String>, code: Option<String>) -> Result<Proof> {
    match (password, code) {
        (Some(password), None) => Ok(Proof::Password(Password::new(&password))),
        (None, Some(code)) => Ok(Proof::Code(code)),
        (None, None) => Err(Error::ProofRequired),
        (Some(_), Some(_)) => Err(Error::InvalidRequest("give either password or code, not both".into())),
    }
}

/// What to show to finish setting up a second factor.
#[derive(Serialize)]
#[serde(untagged)]
pub enum SetupStarted {
    /// For the authenticator app.
    Totp { secret: String, otpauth_uri: String },
    /// Where the first SMS code went.
    Sms { destination: String, expires_in: u64 },
}

impl From<two_factor::SetupStarted> for SetupStarted {
    fn from(started: two_factor::SetupStarted) -> Self {
        match started {
            two_factor::SetupStarted::Totp { secret, otpauth_uri } => SetupStarted::Totp { secret, otpauth_uri },
            two_factor::SetupStarted::Sms { destination, expires_in } => SetupStarted::Sms { destination, expires_in },
        }
    }
}

wire_struct! {
    /// The recovery codes are shown once; only their hashes are kept.
    TwoFactorEnabled from two_factor::TwoFactorEnabled { enabled: bool, recovery_codes: Vec<String> }
}

wire_struct!(NewRecoveryCodes from self_service::NewRecoveryCodes { recovery_codes: Vec<String> });
