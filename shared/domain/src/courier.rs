//! Delivering the outbox: one message at a time, as the table's stream names them.
//!
//! Each attempt is counted on the message before anything else (`claim_message`), so a message
//! the stream hands over again is tried at most `MAX_ATTEMPTS` times whatever failed, and one
//! already delivered (deleted, or marked sent when the delete failed) is never sent again.
//! A message goes out twice only when a send's outcome is unknown (SES or SNS took it, but the
//! answer was lost to a timeout or a reset, so it is tried again) or the courier stops between
//! the provider's answer and the delete: neither provider takes an idempotency key.

use crate::error::{Error, Result};
use crate::metrics;
use crate::notices;
use crate::notify::Undelivered;
use crate::outbox::{Claimed, Delivery, Mark, Outgoing, SealedMessage};
use crate::time::Timestamp;
use crate::{Contact, MessageId, Services};

/// Attempts at one message before it is given up on. The stream hands a failed record over
/// again at once; with the SDK's two tries inside each attempt (2 s each at most), five
/// attempts ride out some 20 s of SES or SNS trouble, and a code is never late by much more.
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
    let Some(Claimed { message: sealed, attempts, charged }) = services.store.claim_message(id).await? else {
        return Ok(Outcome::Gone);
    };
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
    // Earlier attempts that failed before their send (a store fault) count too.
    if attempts > MAX_ATTEMPTS {
        return give_up(services, &sealed, Some(&outgoing), "attempts").await;
    }
    match &outgoing.delivery {
        Delivery::Decoy => {
            forget(services, id).await;
            return Ok(Outcome::Dropped);
        }
        Delivery::Notice { event, account } => {
            // Charged once, on the message: a retry of the same notice is no second SMS.
            if let (Contact::Phone(phone), false) = (&outgoing.to, charged) {
                match notices::sms_allowed(services, *event, account, phone, now).await {
                    Ok(()) => {
                        if let Err(error) = services.store.mark_message(id, Mark::Charged).await {
                            // A retry counts it again: towards the limit, never past it.
                            tracing::warn!(error = error.code(), "an SMS notice's charge was not recorded");
                        }
                    }
                    Err(Error::ServiceUnavailable { .. }) => return Ok(Outcome::Retry),
                    Err(refusal) => {
                        tracing::warn!(channel = "sms", ?event, reason = refusal.code(), "security notice not sent");
                        forget(services, id).await;
                        return Ok(Outcome::Dropped);
                    }
                }
            }
        }
        Delivery::Code { .. } => {}
    }
    match services.notifier.send(&outgoing.to, &outgoing.message).await {
        Ok(()) => {
            forget(services, id).await;
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
        // Failed: the stream hands the message over again, and the next attempt gives up again.
        services.store.free_resend(resend).await?;
    }
    forget(services, &sealed.id).await;
    let channel = outgoing.map_or("unknown", |o| channel_name(&o.to));
    tracing::error!(event = "message_undeliverable", channel, reason, "message not delivered");
    metrics::count("MessagesUndeliverable", &[("Channel", channel), ("Reason", reason)]);
    Ok(Outcome::Undeliverable)
}

/// Deletes a message that is done with. Should the delete fail, the message is marked `Sent`, so
/// that no later claim (the stream hands over again every record after a failed one in its
/// batch) sends it again, and left to its TTL.
async fn forget(services: &Services, id: &MessageId) {
    if let Err(error) = services.store.delete_message(id).await {
        tracing::warn!(error = error.code(), "a finished outbox message was not deleted; marking it");
        if let Err(error) = services.store.mark_message(id, Mark::Sent).await {
            tracing::error!(error = error.code(), "a finished outbox message was neither deleted nor marked");
        }
    }
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
