//! Telling the owner what happened to their account. A notice is written with the change it
//! reports (`outbox`), so it is never lost and never sent for a change that did not happen; the
//! courier delivers it. A notice that cannot be delivered never undoes the change.
//!
//! Notices go to every email contact of the account. Only an account without one is told by
//! SMS, at its phone: at most `SMS_NOTICES_PER_ACCOUNT_PER_HOUR` notices of a kind an hour, each
//! under the cost controls of every SMS, so a loop of sign-ins cannot be turned into an SMS bill.
//! The courier applies those controls when it sends (`sms_allowed`): they decide only whether
//! the SMS goes out, never whether the change is made.

use rand::{CryptoRng, RngCore};

use crate::account::Account;
use crate::error::Result;
use crate::limits::{LimitKey, Window, HOUR};
use crate::notify::{Message, SecurityEvent};
use crate::outbox::{seal_all, Delivery, Outgoing, SealedMessage};
use crate::session::ClientInfo;
use crate::sms;
use crate::time::Timestamp;
use crate::{AccountId, Channel, Contact, Language, PhoneNumber, Services};

/// The notices of `event`, sealed for the write that makes the change; `detail` is already safe
/// to show (a masked contact, an IP prefix).
pub fn security_event(
    services: &Services,
    account: &Account,
    event: SecurityEvent,
    detail: &str,
    language: Language,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Vec<SealedMessage> {
    let message = Message::security_notice(&services.config.service_name, event, detail, language);
    let delivery = Delivery::Notice { event, account: account.id.clone() };
    let mut to: Vec<Contact> =
        account.contacts().into_iter().map(|(contact, _)| contact).filter(|c| c.channel() == Channel::Email).collect();
    if to.is_empty() {
        to.extend(account.phone().cloned().map(Contact::Phone));
    }
    let notices: Vec<Outgoing> =
        to.into_iter().map(|to| Outgoing { to, message: message.clone(), delivery: delivery.clone() }).collect();
    seal_all(&services.config.secret, &notices, now, rng)
}

/// A sign-in from a device that is not remembered, with the network it came from.
pub fn new_device_sign_in(
    services: &Services,
    account: &Account,
    client: &ClientInfo,
    language: Language,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Vec<SealedMessage> {
    let network = client.ip.as_deref().and_then(crate::self_service::coarse_ip).unwrap_or_default();
    security_event(services, account, SecurityEvent::NewDeviceSignIn, &network, language, now, rng)
}

/// Counts a notice of `event` by SMS to `phone` on the account's notice budget and on every SMS
/// cost control; the refusal when one of them says no (the notice's count is then given back).
pub(crate) async fn sms_allowed(
    services: &Services,
    event: SecurityEvent,
    account: &AccountId,
    phone: &PhoneNumber,
    now: Timestamp,
) -> Result<()> {
    let key = LimitKey::new(&services.config.secret, "sms-notice", &format!("{event:?}:{account}"));
    let hour = Window::containing(now, HOUR);
    let max = services.config.sms_notices_per_account_per_hour;
    if services.store.count_within(&key, hour, max).await?.is_none() {
        return Err(hour.refusal(now));
    }
    match sms::charge(services, phone, now).await {
        // Counted for good: the SMS is sent next; a failed send does not make it free.
        Ok(_sent) => Ok(()),
        Err(refused) => {
            services.store.refund(&[key], hour).await;
            Err(refused)
        }
    }
}
