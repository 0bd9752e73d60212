//! Telling the owner what happened to their account. A notice never fails the change it
//! reports: a failed send is logged, without personal data, and the change stands.

use crate::account::Account;
use crate::notify::{Message, SecurityEvent};
use crate::session::ClientInfo;
use crate::{Contact, Language, Services};

/// A change to how the account is signed in to or recovered: every contact is told, so the
/// owner hears of it even when one contact is in someone else's hands.
pub async fn to_every_contact(
    services: &Services,
    account: &Account,
    event: SecurityEvent,
    detail: &str,
    language: Language,
) {
    let notice = Message::security_notice(&services.config.service_name, event, detail, language);
    for (contact, _) in account.contacts() {
        send_quietly(services, &contact, &notice).await;
    }
}

/// A notice for the account's login contact only.
pub async fn to_primary(services: &Services, account: &Account, notice: &Message) {
    send_quietly(services, &account.primary, notice).await;
}

/// A sign-in from a device that is not remembered, with the network it came from.
pub async fn new_device_sign_in(services: &Services, account: &Account, client: &ClientInfo, language: Language) {
    let network = client.ip.as_deref().and_then(crate::self_service::coarse_ip).unwrap_or_default();
    let notice =
        Message::security_notice(&services.config.service_name, SecurityEvent::NewDeviceSignIn, &network, language);
    to_primary(services, account, &notice).await;
}

async fn send_quietly(services: &Services, to: &Contact, message: &Message) {
    if services.notifier.send(to, message).await.is_err() {
        tracing::warn!(channel = ?to.channel(), "security notice not delivered");
    }
}
