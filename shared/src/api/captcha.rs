//! `GET /v1/captcha[?difficulty=N]`.

use serde::Serialize;

use domain::captcha::Challenge;
use domain::verification;
use domain::{Error, Result};

/// The `difficulty` query parameter: at least how hard the challenge is to be.
pub fn min_difficulty(parameter: Option<&str>) -> Result<Option<u64>> {
    parameter
        .map(str::parse::<u64>)
        .transpose()
        .map_err(|_| Error::InvalidRequest("difficulty must be a whole number from 0 to 18446744073709551615".into()))
}

/// What the frontend needs to show the CAPTCHA.
#[derive(Serialize)]
#[serde(untagged)]
pub enum CaptchaWidget {
    /// An ALTCHA challenge, in the format the widget reads: Proof-of-Work v2, or v1 with
    /// CAPTCHA_ALTCHA_V1 (the domain's `captcha` module, which signs and verifies it, owns both).
    ProofOfWork(Challenge),
    /// Which provider's widget to render, with which public site key.
    ThirdParty { provider: &'static str, site_key: String },
}

impl From<verification::CaptchaWidget> for CaptchaWidget {
    fn from(widget: verification::CaptchaWidget) -> Self {
        match widget {
            verification::CaptchaWidget::ProofOfWork(challenge) => CaptchaWidget::ProofOfWork(challenge),
            verification::CaptchaWidget::ThirdParty { provider, site_key } => {
                CaptchaWidget::ThirdParty { provider, site_key }
            }
        }
    }
}
