//! The contacts of an account, and adding a recovery contact.

use rand::{CryptoRng, RngCore};

use super::account::{claim_token, Account};
use super::self_service::{prove_now, Proof};
use super::verification::Purpose;
use super::{Channel, Contact, Language};
use crate::error::{Error, Result};
use crate::notices;
use crate::notify::SecurityEvent;
use crate::time::Timestamp;
use crate::Services;

impl Account {
    /// Every contact with its role: the primary first, then the recovery ones.
    pub fn contacts(&self) -> Vec<(Contact, &'static str)> {
        let mut all = vec![(self.primary.clone(), "primary")];
        all.extend(self.recovery_phone.clone().map(|p| (Contact::Phone(p), "recovery")));
        all.extend(self.recovery_email.clone().map(|e| (Contact::Email(e), "recovery")));
        all
    }

    /// The recovery contact on `channel` (the one adding a contact of that kind replaces).
    pub fn recovery(&self, channel: Channel) -> Option<Contact> {
        match channel {
            Channel::Sms => self.recovery_phone.clone().map(Contact::Phone),
            Channel::Email => self.recovery_email.clone().map(Contact::Email),
        }
    }
}

/// Adds the contact proven by an `add_contact` token as a recovery contact, replacing
/// (and freeing) the recovery contact of the same kind, and tells the owner; the contact added.
pub async fn add_recovery_contact(
    services: &Services,
    account: &Account,
    verification_token: &str,
    proof: &Proof,
    language: Language,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<Contact> {
    prove_now(services, account, proof, language, now, rng).await?;
    let claim = claim_token(services, verification_token, Purpose::AddContact, now).await?;
    let contact = claim.verification.contact.clone();
    let replaced = account.recovery(contact.channel());
    if replaced.as_ref().is_some_and(|old| old.canonical() == contact.canonical()) {
        // Already this account's recovery contact: a contact is held once.
        return Err(Error::ContactInUse);
    }
    let event = SecurityEvent::RecoveryContactAdded;
    let notices = notices::security_event(services, account, event, &contact.masked(), language, now, rng);
    services.store.add_recovery_contact(account, &claim, &contact, replaced.as_ref(), &notices).await?;
    Ok(contact)
}
