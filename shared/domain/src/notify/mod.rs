//! Sending messages to a contact: what is said (`messages`) and the port that delivers it
//! (production: `shared::notify::AwsNotifier`, SMS through SNS and email through SES v2).

mod messages;

pub use messages::{Message, SecurityEvent};

use async_trait::async_trait;

use crate::Contact;

/// Why a message was not delivered: what the courier does next depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Undelivered {
    /// A passing fault (throttled, timed out, failing on the provider's side): try again later.
    Passing,
    /// Refused for good for this destination (a rejected address, an opted-out number).
    Refused,
}

#[async_trait]
pub trait Notifier: Send + Sync {
    /// Delivers `message` to `to`, or says why not.
    async fn send(&self, to: &Contact, message: &Message) -> Result<(), Undelivered>;
}

/// The notifier of every function but the courier (`shared::app::NoMessages`): they write
/// messages to the outbox and never send, so a call here is a bug, refused and logged.
pub struct NoNotifier;

#[async_trait]
impl Notifier for NoNotifier {
    async fn send(&self, _to: &Contact, _message: &Message) -> Result<(), Undelivered> {
        tracing::error!("a function built without message channels was asked to send");
        Err(Undelivered::Refused)
    }
}
