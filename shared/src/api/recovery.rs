//! Forgot password: `POST /v1/password-resets` and `POST /v1/password-resets/mfa`; the SMS step
//! takes a `session::ChallengeBody` and answers a `session::SmsCodeSent`.

use serde::Deserialize;

use super::session::{MfaMethod, MfaRequired};
use domain::password::Password;
use domain::recovery::{ResetAnswer, ResetOutcome, ResetRequest};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetBody {
    verification_token: String,
    password: String,
}

impl From<ResetBody> for ResetRequest {
    fn from(body: ResetBody) -> Self {
        ResetRequest { verification_token: body.verification_token, password: Password::new(&body.password) }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerBody {
    challenge_id: String,
    method: MfaMethod,
    code: Option<String>,
    /// For `second_contact`: a reset token from another contact of the same account.
    verification_token: Option<String>,
}

impl From<AnswerBody> for ResetAnswer {
    fn from(body: AnswerBody) -> Self {
        ResetAnswer {
            challenge_id: body.challenge_id,
            method: body.method.into(),
            code: body.code,
            verification_token: body.verification_token,
        }
    }
}

/// The answer to a reset: none when it is done, or the challenge that waits for a second factor.
pub fn reset_answer(outcome: ResetOutcome) -> Option<MfaRequired> {
    match outcome {
        ResetOutcome::Done => None,
        ResetOutcome::MfaRequired(required) => Some(required.into()),
    }
}
