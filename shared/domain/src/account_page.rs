//! The account page: what a signed-in person sees, and adding a recovery contact.

use serde::Serialize;

use super::account::{claim_token, Account, SecondFactor};
use super::verification::Purpose;
use super::{Channel, Contact, Language};
use crate::error::Result;
use crate::notices;
use crate::notify::Message;
use crate::time::Timestamp;
use crate::Services;

#[derive(Debug, Serialize)]
pub struct ContactView {
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Masked: a stolen session does not reveal the person's phone or email.
    pub value: String,
    pub role: &'static str,
    pub verified: bool,
}

#[derive(Debug, Serialize)]
pub struct TwoFactorView {
    pub enabled: bool,
    pub methods: Vec<SecondFactor>,
}

#[derive(Debug, Serialize)]
pub struct AccountView {
    pub account_id: String,
    pub created_at: i64,
    pub terms_version: String,
    pub contacts: Vec<ContactView>,
    pub two_factor: TwoFactorView,
}

fn contact_view(contact: &Contact, role: &'static str) -> ContactView {
    let kind = match contact.channel() {
        Channel::Sms => "phone",
        Channel::Email => "email",
    };
    ContactView { kind, value: contact.masked(), role, verified: true }
}

impl Account {
    /// Every contact with its role: the primary first, then the recovery ones.
    pub fn contacts(&self) -> Vec<(Contact, &'static str)> {
        let mut all = vec![(self.primary.clone(), "primary")];
        all.extend(self.recovery_phone.clone().map(|p| (Contact::Phone(p), "recovery")));
        all.extend(self.recovery_email.clone().map(|e| (Contact::Email(e), "recovery")));
        all
    }

    pub fn view(&self) -> AccountView {
        AccountView {
            account_id: self.id.clone(),
            created_at: self.created_at.0,
            terms_version: self.terms_version.clone(),
            contacts: self.contacts().iter().map(|(c, role)| contact_view(c, role)).collect(),
            two_factor: TwoFactorView { enabled: self.two_factor_enabled(), methods: self.two_factor.methods.clone() },
        }
    }

    /// The recovery contact of the same kind as `contact`, which adding `contact` replaces.
    pub fn recovery_of_kind(&self, contact: &Contact) -> Option<Contact> {
        match contact {
            Contact::Phone(_) => self.recovery_phone.clone().map(Contact::Phone),
            Contact::Email(_) => self.recovery_email.clone().map(Contact::Email),
        }
    }
}

/// Adds the contact proven by an `add_contact` token as a recovery contact, replacing
/// (and freeing) the recovery contact of the same kind, and tells the owner.
pub async fn add_recovery_contact(
    services: &Services,
    account: &Account,
    verification_token: &str,
    language: Language,
    now: Timestamp,
) -> Result<ContactView> {
    let claim = claim_token(services, verification_token, Purpose::AddContact, now).await?;
    let contact = claim.verification.contact.clone();
    let replaced = account.recovery_of_kind(&contact);
    services.store.add_recovery_contact(account, &claim, &contact, replaced.as_ref()).await?;

    let notice = Message::recovery_contact_added(&services.config.service_name, &contact.masked(), language);
    notices::to_primary(services, account, &notice).await;
    Ok(contact_view(&contact, "recovery"))
}
