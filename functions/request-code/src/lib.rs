//! `POST /v1/verifications`: send a 6-digit code to a phone or email.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Deserialize;

use shared::domain::verification::{request_code, CodeRequest, Purpose};
use shared::domain::{Channel, Contact, EmailAddress, PhoneNumber};
use shared::{http, App, Error, Result, Timestamp};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestCodeBody {
    channel: Channel,
    purpose: Purpose,
    country_code: Option<String>,
    phone: Option<String>,
    email: Option<String>,
    /// The ALTCHA payload of a solved `GET /v1/captcha` challenge, or the token of the
    /// third-party widget that `GET /v1/captcha` names.
    captcha: Option<String>,
}

fn contact(body: &RequestCodeBody) -> Result<Contact> {
    match (body.channel, &body.phone, &body.email) {
        (Channel::Sms, Some(phone), None) => {
            PhoneNumber::parse(body.country_code.as_deref(), phone).map(Contact::Phone)
        }
        (Channel::Email, None, Some(email)) if body.country_code.is_none() => {
            EmailAddress::parse(email).map(Contact::Email)
        }
        (Channel::Sms, ..) => {
            Err(Error::InvalidRequest("channel sms takes phone (and country_code), not email".into()))
        }
        (Channel::Email, ..) => Err(Error::InvalidRequest("channel email takes email only".into())),
    }
}

pub async fn handle(app: &'static App, request: Request) -> Result<Response<Body>> {
    let body: RequestCodeBody = http::json_body(&request)?;
    let code_request = CodeRequest {
        captcha: body.captcha.clone(),
        contact: contact(&body)?,
        purpose: body.purpose,
        client_ip: http::client_ip(&request),
        language: http::language(&request),
    };
    let sent = request_code(app, code_request, Timestamp::now(), &mut rand::rngs::OsRng).await?;
    Ok(http::json_response(StatusCode::ACCEPTED, &sent))
}
