//! The step that sign-up, adding a recovery contact and the password reset share: a code sent
//! to a phone or email (the form's CAPTCHA solved), then the page that takes it, which says
//! where it went.

use lambda_http::{Body, Response};

use crate::browser::Browser;
use crate::countries::calling_code;
use crate::{reply, urlencode};
use shared::domain::verification::{request_code, CodeRequest, Purpose};
use shared::domain::{Contact, EmailAddress, PhoneNumber};
use shared::{http, App, Result, Timestamp};

/// The contact a form with a phone tab and an email tab names: the number in the chosen
/// country, or the address.
pub fn contact_of(by_phone: bool, country: Option<&str>, phone: Option<&str>, email: Option<&str>) -> Result<Contact> {
    if by_phone {
        let code = country.and_then(calling_code);
        PhoneNumber::parse(code.as_deref(), phone.unwrap_or_default()).map(Contact::Phone)
    } else {
        EmailAddress::parse(email.unwrap_or_default()).map(Contact::Email)
    }
}

/// Sends a code for `purpose`, then on to `next` (the page that takes it), told where the
/// code went (masked) and for how many minutes it holds.
pub async fn send(
    app: &App,
    browser: &Browser<'_>,
    contact: Result<Contact>,
    captcha: Option<String>,
    purpose: Purpose,
    next: &str,
) -> Result<Response<Body>> {
    let request = CodeRequest {
        captcha,
        contact: contact?,
        purpose,
        client_ip: http::client_ip(browser.request),
        language: browser.language,
    };
    let sent = request_code(app, request, Timestamp::now(), &mut rand::rngs::OsRng).await?;
    Ok(reply::redirect(&format!(
        "{next}?id={}&to={}&minutes={}",
        sent.verification_id,
        urlencode(&sent.destination),
        sent.expires_in.div_ceil(60)
    )))
}

/// The `key` text ("a code was sent to {destination}, for {minutes} minutes") from the query
/// `send` redirected with.
pub fn sent_text(browser: &Browser, key: &str) -> String {
    let to = browser.query("to").unwrap_or_default();
    let minutes = browser.query("minutes").filter(|m| m.len() <= 3 && m.bytes().all(|b| b.is_ascii_digit()));
    browser.language.fill(key, &[("destination", &to), ("minutes", minutes.as_deref().unwrap_or("10"))])
}
