//! Delivering the outbox: one message at a time, as the table's stream names them.
//!
//! Each attempt is counted on the message before it is sent (`claim_message`), so a message the
//! stream hands over again after a failure is tried a bounded number of times, and one already
//! delivered (deleted) is never sent again. A delivered message is deleted at once: the only way
//! to send one twice is for the courier to stop between the provider's answer and that delete.

use crate::error::{Error, Result};
use crate::metrics;
use crate::notices;
use crate::notify::Undelivered;
use crate::outbox::{Delivery, Outgoing, SealedMessage};
use crate::time::Timestamp;
use crate::{Contact, MessageId, Services};

/// Attempts at one message before it is given up on. The stream retries a failed batch at once;
/// with the SDK's own retries and backoff inside each attempt, five cover a minute or two of
/// SES or SNS throttling.
pub const MAX_ATTEMPTS: u32 = 5;

/// What became of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Sent,
    /// Not to be sent: a decoy, or a notice over its SMS budget.
    Dropped,
    /// Refused for good, out of attempts or too old: its resend wait was freed and it is counted.
    Undeliverable,
    /// A passing fault: the courier asks for the message again.
    Retry,
    /// Already delivered or given up on (the stream delivers at least once).
    Gone,
}

pub async fn deliver(services: &Services, id: &MessageId, now: Timestamp) -> Result<Outcome> {
    let Some((sealed, attempts)) = services.store.claim_message(id).await? else { return Ok(Outcome::Gone) };
    let outgoing = match Outgoing::open(&services.config.secret, &sealed) {
        Ok(outgoing) => outgoing,
        Err(error) => {
            tracing::error!(%error, "outbox message unreadable");
            return give_up(services, &sealed, None, "unreadable").await;
        }
    };
    if sealed.expires_at <= now {
        return give_up(services, &sealed, Some(&outgoing), "expired").await;
    }
    match &outgoing.delivery {
        Delivery::Decoy => {
            services.store.delete_message(id).await?;
            return Ok(Outcome::Dropped);
        }
        Delivery::Notice { event, account } => {
            if let Contact::Phone(phone) = &outgoing.to {
                match notices::sms_allowed(services, *event, account, phone, now).await {
                    Ok(()) => {}
                    Err(Error::ServiceUnavailable { .. }) => return Ok(Outcome::Retry),
                    Err(refusal) => {
                        tracing::warn!(channel = "sms", ?event, reason = refusal.code(), "security notice not sent");
                        services.store.delete_message(id).await?;
                        return Ok(Outcome::Dropped);
                    }
                }
            }
        }
        Delivery::Code { .. } => {}
    }
    match services.notifier.send(&outgoing.to, &outgoing.message).await {
        Ok(()) => {
            services.store.delete_message(id).await?;
            count_sent(&outgoing);
            Ok(Outcome::Sent)
        }
        Err(Undelivered::Passing) if attempts < MAX_ATTEMPTS => Ok(Outcome::Retry),
        Err(Undelivered::Passing) => give_up(services, &sealed, Some(&outgoing), "attempts").await,
        Err(Undelivered::Refused) => give_up(services, &sealed, Some(&outgoing), "refused").await,
    }
}

/// A message that will never arrive: the person may ask again at once, and an operator sees it
/// (`MessagesUndeliverable`, which an alarm watches).
async fn give_up(
    services: &Services,
    sealed: &SealedMessage,
    outgoing: Option<&Outgoing>,
    reason: &str,
) -> Result<Outcome> {
    if let Some(Delivery::Code { resend }) = outgoing.map(|o| &o.delivery) {
        services.store.free_resend(resend).await?;
    }
    services.store.delete_message(&sealed.id).await?;
    let channel = outgoing.map_or("unknown", |o| channel_name(&o.to));
    tracing::error!(event = "message_undeliverable", channel, reason, "message not delivered");
    metrics::count("MessagesUndeliverable", &[("Channel", channel), ("Reason", reason)]);
    Ok(Outcome::Undeliverable)
}

fn count_sent(outgoing: &Outgoing) {
    let channel = channel_name(&outgoing.to);
    match (&outgoing.to, &outgoing.delivery) {
        // Every SMS, whatever it carries, counts where the SMS alarm watches: by country.
        (Contact::Phone(phone), _) => {
            metrics::count("CodesSent", &[("Channel", channel), ("Country", &phone.country_code().to_string())])
        }
        (Contact::Email(_), Delivery::Code { .. }) => {
            metrics::count("CodesSent", &[("Channel", channel), ("Country", "-")])
        }
        (Contact::Email(_), _) => metrics::count("NoticesSent", &[("Channel", channel)]),
    }
    tracing::info!(event = "message_sent", channel, "message sent");
}

fn channel_name(contact: &Contact) -> &'static str {
    match contact {
        Contact::Phone(_) => "sms",
        Contact::Email(_) => "email",
    }
}
