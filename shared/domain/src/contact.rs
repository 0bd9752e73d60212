//! A place a code can be sent to: a phone (by SMS) or an email address.

use super::{EmailAddress, PhoneNumber};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Sms,
    Email,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Contact {
    Phone(PhoneNumber),
    Email(EmailAddress),
}

impl Contact {
    pub fn channel(&self) -> Channel {
        match self {
            Contact::Phone(_) => Channel::Sms,
            Contact::Email(_) => Channel::Email,
        }
    }

    /// The form stored and used as the identity of the contact: E.164 or the lower-cased email.
    pub fn canonical(&self) -> String {
        match self {
            Contact::Phone(phone) => phone.e164().to_owned(),
            Contact::Email(email) => email.canonical(),
        }
    }

    /// Who receives what is sent to the contact: the number, or the email's mailbox. Limits per
    /// destination are keyed by it, so `+tag` variants of an address share one budget.
    pub fn destination(&self) -> String {
        match self {
            Contact::Phone(phone) => phone.e164().to_owned(),
            Contact::Email(email) => email.mailbox(),
        }
    }

    /// The form stored with a verification, from which the contact is rebuilt.
    pub fn stored(&self) -> &str {
        match self {
            Contact::Phone(phone) => phone.e164(),
            Contact::Email(email) => email.as_str(),
        }
    }

    /// A contact read back from the store, trusted as the valid contact it was when written.
    pub fn from_stored(channel: Channel, text: &str) -> Result<Self> {
        match channel {
            Channel::Sms => PhoneNumber::from_stored(text).map(Contact::Phone),
            Channel::Email => EmailAddress::from_stored(text).map(Contact::Email),
        }
        .map_err(|e| Error::internal("stored contact", e))
    }

    pub fn masked(&self) -> String {
        match self {
            Contact::Phone(phone) => phone.masked(),
            Contact::Email(email) => email.masked(),
        }
    }

    /// What a person signs in with: an email when it has an `@`, else a phone number in the
    /// forms a code request takes (with `country_code` for a national number). A malformed
    /// login is simply not an account: the same `InvalidCredentials` as a wrong password.
    pub fn from_login(login: &str, country_code: Option<&str>) -> Result<Self> {
        let parsed = if login.contains('@') {
            EmailAddress::parse(login).map(Contact::Email)
        } else {
            PhoneNumber::parse_existing(country_code, login).map(Contact::Phone)
        };
        parsed.map_err(|_| Error::InvalidCredentials)
    }
}
