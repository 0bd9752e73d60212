//! Telling the owner what happened to their account. A notice never fails the change it
//! reports: a failed send is logged, without personal data, and the change stands.
//!
//! Notices go to every email contact of the account. Only an account without one is told by
//! SMS, at its phone: at most `SMS_NOTICES_PER_ACCOUNT_PER_HOUR` notices of a kind an hour, each
//! under the cost controls of every SMS, so a loop of sign-ins cannot be turned into an SMS bill.

use crate::account::Account;
use crate::error::Result;
use crate::limits::{LimitKey, Window, HOUR};
use crate::notify::{Message, SecurityEvent};
use crate::session::ClientInfo;
use crate::sms;
use crate::time::Timestamp;
use crate::{Channel, Contact, Language, PhoneNumber, Services};

/// A change to how the account is signed in to or recovered, or a sign-in; `detail` is already
/// safe to show (a masked contact, an IP prefix).
pub async fn security_event(
    services: &Services,
    account: &Account,
    event: SecurityEvent,
    detail: &str,
    language: Language,
    now: Timestamp,
) {
    let notice = Message::security_notice(&services.config.service_name, event, detail, language);
    tell(services, account, event, &notice, now).await;
}

/// A sign-in from a device that is not remembered, with the network it came from.
pub async fn new_device_sign_in(
    services: &Services,
    account: &Account,
    client: &ClientInfo,
    language: Language,
    now: Timestamp,
) {
    let network = client.ip.as_deref().and_then(crate::self_service::coarse_ip).unwrap_or_default();
    security_event(services, account, SecurityEvent::NewDeviceSignIn, &network, language, now).await;
}

/// Sends `notice`, a notice of `kind`, where notices go.
async fn tell(services: &Services, account: &Account, kind: SecurityEvent, notice: &Message, now: Timestamp) {
    let emails: Vec<Contact> =
        account.contacts().into_iter().map(|(contact, _)| contact).filter(|c| c.channel() == Channel::Email).collect();
    for email in &emails {
        if services.notifier.send(email, notice).await.is_err() {
            tracing::warn!(channel = "email", "security notice not delivered");
        }
    }
    if let (true, Some(phone)) = (emails.is_empty(), account.phone()) {
        if let Err(error) = by_sms(services, account, kind, phone, notice, now).await {
            tracing::warn!(channel = "sms", ?kind, reason = error.code(), "security notice not sent");
        }
    }
}

async fn by_sms(
    services: &Services,
    account: &Account,
    kind: SecurityEvent,
    phone: &PhoneNumber,
    notice: &Message,
    now: Timestamp,
) -> Result<()> {
    let key = LimitKey::new(&services.config.secret, "sms-notice", &format!("{kind:?}:{}", account.id));
    let hour = Window::containing(now, HOUR);
    let max = services.config.sms_notices_per_account_per_hour;
    if services.store.count_within(&key, hour, max).await?.is_none() {
        return Err(hour.refusal(now));
    }
    let charge = sms::charge(services, phone, now).await?;
    sms::send(services, phone, notice, charge).await
}
