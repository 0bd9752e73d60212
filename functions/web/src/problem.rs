//! Why a form was not done, as the page says it: the domain's errors, by their stable codes,
//! and the two refusals only a page has.

use lambda_http::http::StatusCode;

use shared::domain::Language;
use shared::{http, Error};

#[derive(Debug)]
pub enum Problem {
    Domain(Error),
    /// The form's token or origin was not this site's (a cross-site post, or a stale page).
    FormExpired,
    /// The password and its confirmation differ.
    PasswordsDiffer,
}

impl From<Error> for Problem {
    fn from(error: Error) -> Self {
        Problem::Domain(error)
    }
}

impl Problem {
    pub fn code(&self) -> &'static str {
        match self {
            Problem::Domain(error) => error.code(),
            Problem::FormExpired => "form_expired",
            Problem::PasswordsDiffer => "passwords_differ",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Problem::Domain(error) => http::status_of(error),
            Problem::FormExpired => StatusCode::FORBIDDEN,
            Problem::PasswordsDiffer => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }

    /// The message in `language`, with what the person can do about it.
    pub fn message(&self, language: Language) -> String {
        let mut text = language.text(&format!("error.{}", self.code())).to_owned();
        if let Problem::Domain(error) = self {
            if let Some(wait) = error.retry_after() {
                let seconds = wait.as_secs().max(1).to_string();
                text = format!("{text} {}", language.fill("page.retry_after", &[("seconds", &seconds)]));
            }
            if let Error::InvalidCode { attempts_left } = error {
                let count = attempts_left.to_string();
                text = format!("{text} {}", language.fill("page.attempts_left", &[("count", &count)]));
            }
        }
        text
    }

    /// The password rules a refused password broke, as keys of `violation.` texts.
    pub fn violations(&self) -> Vec<&'static str> {
        match self {
            Problem::Domain(Error::WeakPassword { violations }) => violations.iter().map(|v| v.key()).collect(),
            _ => Vec::new(),
        }
    }

    /// Whether the form, shown again with the message, lets the person fix it; a fault of the
    /// service (broken, or busy: 503) gets a page of its own.
    pub fn belongs_on_form(&self) -> bool {
        !matches!(
            self,
            Problem::Domain(Error::Internal(_) | Error::ServiceUnavailable { .. } | Error::CaptchaUnavailable)
        )
    }
}
