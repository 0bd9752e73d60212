//! What the security page changes: the password, recovery contacts, two-factor
//! authentication, sessions, and the account itself. Each change that touches how the account
//! is signed in to or recovered asks for the same proof as the API (the password, or a
//! current second factor), on top of the session and the form's token.

pub mod confirm;
pub mod contact;
pub mod password;
pub mod two_factor;

use lambda_http::{Body, Response};
use serde::de::DeserializeOwned;

use crate::browser::Browser;
use crate::{failure, reply};
use shared::domain::forms::FormBinding;
use shared::domain::password::Password;
use shared::domain::self_service::Proof;
use shared::domain::session::Authenticated;
use shared::{App, Error};

/// The signed-in person, for a page that needs one; else the sign-in page.
pub async fn signed_in(app: &App, browser: &Browser<'_>) -> Result<Authenticated, Response<Body>> {
    browser.signed_in(app).await.ok_or_else(|| reply::redirect("/signin"))
}

/// A signed-in person's posted form, its origin and token checked against their session;
/// else the answer to give instead (the sign-in page, or why the form was refused).
pub async fn posted<T: DeserializeOwned>(
    app: &App,
    browser: &Browser<'_>,
) -> Result<(Authenticated, T), Response<Body>> {
    let signed_in = signed_in(app, browser).await?;
    match browser.form::<T>(app, &FormBinding::Session(&signed_in.session)) {
        Ok(form) => Ok((signed_in, form)),
        Err(problem) => Err(failure(app, browser, &problem)),
    }
}

/// The token of a form a signed-in person posts.
pub fn form_token(app: &App, signed_in: &Authenticated) -> String {
    Browser::token_for(app, &FormBinding::Session(&signed_in.session))
}

/// Back to the security page, which says what was done (an `event.` text).
pub fn done(event: &str) -> Response<Body> {
    reply::redirect(&format!("/account/security?done={event}"))
}

/// The proof a form gives: its password, or, left empty, its second-factor code.
pub fn proof(password: &str, code: &str) -> Result<Proof, Error> {
    match (password.is_empty(), code.trim()) {
        (false, _) => Ok(Proof::Password(Password::new(password))),
        (true, "") => Err(Error::ProofRequired),
        (true, code) => Ok(Proof::Code(code.to_owned())),
    }
}
