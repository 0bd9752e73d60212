//! `{"error": {"code", "message", ...details}}`, the body of every failure.

use serde::Serialize;

use domain::Error;

wire_enum! {
    /// A rule a password broke, in a `weak_password` answer.
    Violation mirrors domain::password::Violation {
        TooShort, TooLong, MissingUppercase, MissingLowercase, MissingDigit, MissingSymbol, CommonPassword,
        ContainsLogin, InvalidCharacter,
    }
}

#[derive(Serialize)]
pub struct ErrorBody {
    error: ErrorDetail,
}

/// The details an error has, and only those. The fields are in alphabetical order, the order
/// the answer has always had them in.
#[derive(Serialize)]
struct ErrorDetail {
    #[serde(skip_serializing_if = "Option::is_none")]
    attempts_left: Option<u32>,
    code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    difficulty: Option<u64>,
    message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    violations: Option<Vec<Violation>>,
}

impl From<&Error> for ErrorBody {
    fn from(error: &Error) -> Self {
        let mut detail = ErrorDetail {
            attempts_left: None,
            code: error.code(),
            difficulty: None,
            message: error.to_string(),
            retry_after: None,
            violations: None,
        };
        detail.retry_after = error.retry_after().map(|wait| wait.as_secs());
        match error {
            Error::InvalidCode { attempts_left } => detail.attempts_left = Some(*attempts_left),
            Error::CaptchaTooEasy { difficulty } => detail.difficulty = Some(*difficulty),
            Error::WeakPassword { violations } => detail.violations = Some(super::wire(violations)),
            _ => {}
        }
        ErrorBody { error: detail }
    }
}
