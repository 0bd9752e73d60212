//! Sending messages to a contact: SMS through SNS, email through SES v2.

mod aws;
mod messages;

pub use aws::AwsNotifier;
pub use messages::{Message, SecurityEvent};

use async_trait::async_trait;

use crate::domain::Contact;
use crate::error::Result;

#[async_trait]
pub trait Notifier: Send + Sync {
    /// Delivers `message` to `to`; `Error::DeliveryFailed` when the provider refused it.
    async fn send(&self, to: &Contact, message: &Message) -> Result<()>;
}
