//! `POST /v1/verifications` and `POST /v1/verifications/{verification_id}/confirm`.

use serde::Deserialize;

use domain::verification::{self, CodeRequest};
use domain::{Contact, EmailAddress, Error, Language, PhoneNumber, Result};

wire_enum!(Channel mirrors domain::Channel { Sms, Email });

wire_enum! {
    /// What a confirmed code may be used for.
    Purpose mirrors verification::Purpose { SignUp, AddContact, ResetPassword }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestCodeBody {
    channel: Channel,
    purpose: Purpose,
    country_code: Option<String>,
    phone: Option<String>,
    email: Option<String>,
    /// The ALTCHA payload of a solved `GET /v1/captcha` challenge, or the token of the
    /// third-party widget that `GET /v1/captcha` names.
    captcha: Option<String>,
}

impl RequestCodeBody {
    /// The domain's request, from the caller's IP address and in the caller's language.
    pub fn into_request(self, client_ip: Option<String>, language: Language) -> Result<CodeRequest> {
        Ok(CodeRequest {
            contact: self.contact()?,
            captcha: self.captcha,
            purpose: self.purpose.into(),
            client_ip,
            language,
        })
    }

    fn contact(&self) -> Result<Contact> {
        match (self.channel, &self.phone, &self.email) {
            // A reset looks an account up: its number may predate today's numbering plans.
            (Channel::Sms, Some(phone), None) if self.purpose == Purpose::ResetPassword => {
                PhoneNumber::parse_existing(self.country_code.as_deref(), phone).map(Contact::Phone)
            }
            (Channel::Sms, Some(phone), None) => {
                PhoneNumber::parse(self.country_code.as_deref(), phone).map(Contact::Phone)
            }
            (Channel::Email, None, Some(email)) if self.country_code.is_none() => {
                EmailAddress::parse(email).map(Contact::Email)
            }
            (Channel::Sms, ..) => {
                Err(Error::InvalidRequest("channel sms takes phone (and country_code), not email".into()))
            }
            (Channel::Email, ..) => Err(Error::InvalidRequest("channel email takes email only".into())),
        }
    }
}

/// `{"code"}`: a code to confirm a verification, or a two-factor setup, with.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeBody {
    pub code: String,
}

wire_struct! {
    /// Where the code went (masked), and for how long it can be confirmed.
    CodeSent from verification::CodeSent {
        verification_id: String, channel: Channel, destination: String, expires_in: u64, resend_after: u64,
    }
}

wire_struct!(TokenIssued from verification::TokenIssued { verification_token: String, expires_in: u64 });
