//! Sending messages to a contact: what is said (`messages`) and the port that delivers it
//! (production: `shared::notify::AwsNotifier`, SMS through SNS and email through SES v2).

mod messages;

pub use messages::{Message, SecurityEvent};

use async_trait::async_trait;

use crate::error::Result;
use crate::Contact;

#[async_trait]
pub trait Notifier: Send + Sync {
    /// Delivers `message` to `to`; `Error::DeliveryFailed` when the provider refused it.
    async fn send(&self, to: &Contact, message: &Message) -> Result<()>;
}

/// The notifier of a function built without message channels (`shared::app::NoMessages`). Such a
/// function has no route that sends, so a call here is a bug: it fails instead of sending.
pub struct NoNotifier;

#[async_trait]
impl Notifier for NoNotifier {
    async fn send(&self, _to: &Contact, _message: &Message) -> Result<()> {
        Err(crate::error::Error::internal("notifier", "this function is built without message channels"))
    }
}
