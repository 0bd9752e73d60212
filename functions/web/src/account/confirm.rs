//! `GET|POST /account/confirm?action=…`: the changes that need nothing but proof, asked for on
//! one page: removing a recovery contact, starting a 2FA setup, turning 2FA off, new recovery
//! codes, deleting the account.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Deserialize;

use super::{done, posted, proof, signed_in, two_factor};
use crate::browser::{Browser, DEVICE, SESSION};
use crate::pages::{ConfirmPage, Layout, Notice};
use crate::{message, not_found, refused, render, reply};
use shared::domain::account::SecondFactor;
use shared::domain::password::Password;
use shared::domain::self_service::{
    delete_account, disable_two_factor, regenerate_recovery_codes, remove_recovery_contact,
};
use shared::domain::session::Authenticated;
use shared::domain::two_factor::start_two_factor;
use shared::{App, Error, Timestamp};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Action {
    RemovePhone,
    RemoveEmail,
    Totp,
    Sms,
    TwoFactorOff,
    RecoveryCodes,
    Delete,
}

const ACTIONS: [(&str, Action); 7] = [
    ("remove_phone", Action::RemovePhone),
    ("remove_email", Action::RemoveEmail),
    ("totp", Action::Totp),
    ("sms", Action::Sms),
    ("two_factor_off", Action::TwoFactorOff),
    ("recovery_codes", Action::RecoveryCodes),
    ("delete", Action::Delete),
];

impl Action {
    fn of(browser: &Browser) -> Option<Action> {
        let name = browser.query("action")?;
        ACTIONS.iter().find(|(n, _)| *n == name).map(|(_, a)| *a)
    }

    /// The page's title, an `confirm.` text.
    fn title(self) -> &'static str {
        match self {
            Action::RemovePhone => "confirm.remove_phone",
            Action::RemoveEmail => "confirm.remove_email",
            Action::Totp => "confirm.totp",
            Action::Sms => "confirm.sms",
            Action::TwoFactorOff => "confirm.two_factor_off",
            Action::RecoveryCodes => "confirm.recovery_codes",
            Action::Delete => "confirm.delete",
        }
    }

    fn warning(self) -> Option<&'static str> {
        match self {
            Action::Delete => Some("confirm.delete_warning"),
            Action::RecoveryCodes => Some("confirm.recovery_codes_warning"),
            _ => None,
        }
    }
}

#[derive(Deserialize)]
struct ProofForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: String,
}

fn confirm_page(
    app: &App,
    browser: &Browser,
    signed_in: &Authenticated,
    action: Action,
    notice: Option<Notice>,
) -> ConfirmPage {
    let t = browser.language;
    let two_factor = signed_in.account.two_factor_enabled();
    ConfirmPage {
        layout: Layout::new(t, &app.config.service_name, &browser.own_url()),
        form: super::form_token(app, signed_in),
        title: t.text(action.title()),
        warning: action.warning().map(|key| t.text(key)),
        // Deleting takes the password and, with 2FA on, a code as well; the rest either.
        code_label: match (two_factor, action) {
            (false, _) => None,
            (true, Action::Delete) => Some(t.text("confirm.delete_code")),
            (true, _) => Some(t.text("confirm.code")),
        },
        password_required: action == Action::Delete || !two_factor,
        danger: action == Action::Delete,
        action: browser.own_url(),
        notice,
    }
}

/// `GET /account/confirm?action=…`.
pub async fn page(app: &App, browser: &Browser<'_>) -> Response<Body> {
    let signed_in = match signed_in(app, browser).await {
        Ok(signed_in) => signed_in,
        Err(response) => return response,
    };
    let Some(action) = Action::of(browser) else { return not_found(app, browser) };
    reply::html(StatusCode::OK, render(&confirm_page(app, browser, &signed_in, action, None)))
}

/// `POST /account/confirm?action=…`.
pub async fn submit(app: &App, browser: &Browser<'_>) -> Response<Body> {
    let (signed_in, form) = match posted::<ProofForm>(app, browser).await {
        Ok(posted) => posted,
        Err(response) => return response,
    };
    let Some(action) = Action::of(browser) else { return not_found(app, browser) };
    match act(app, browser, &signed_in, action, &form).await {
        Ok(response) => response,
        Err(error) => refused(app, browser, error, |problem| {
            let (status, notice) = Notice::answer(Some(problem), browser.language);
            reply::html(status, render(&confirm_page(app, browser, &signed_in, action, notice)))
        }),
    }
}

async fn act(
    app: &App,
    browser: &Browser<'_>,
    signed_in: &Authenticated,
    action: Action,
    form: &ProofForm,
) -> Result<Response<Body>, Error> {
    let (language, now, rng) = (browser.language, Timestamp::now(), &mut rand::rngs::OsRng);
    let proof = || proof(&form.password, &form.code);
    Ok(match action {
        Action::RemovePhone | Action::RemoveEmail => {
            let kind = if action == Action::RemovePhone { "phone" } else { "email" };
            remove_recovery_contact(app, signed_in, kind, &proof()?, language, now, rng).await?;
            done("recovery_contact_removed")
        }
        Action::Totp | Action::Sms => {
            let method = if action == Action::Totp { SecondFactor::Totp } else { SecondFactor::Sms };
            let started = start_two_factor(app, &signed_in.account, method, &proof()?, language, now, rng).await?;
            two_factor::setup_page(app, browser, signed_in, Some(started), None)
        }
        Action::TwoFactorOff => {
            disable_two_factor(app, signed_in, &proof()?, language, now, rng).await?;
            done("two_factor_off")
        }
        Action::RecoveryCodes => {
            let codes = regenerate_recovery_codes(app, signed_in, &proof()?, language, now, rng).await?;
            two_factor::codes_page(app, browser, "confirm.recovery_codes", codes.recovery_codes)
        }
        Action::Delete => {
            let code = Some(form.code.trim()).filter(|c| !c.is_empty());
            delete_account(app, signed_in, &Password::new(&form.password), code, language, now, rng).await?;
            let response = message(app, browser, StatusCode::OK, "confirm.delete", "confirm.deleted");
            let response = reply::with_cookie(response, SESSION, "", Some(0));
            reply::with_cookie(response, DEVICE, "", Some(0))
        }
    })
}
