//! `Notifier` over SES v2 (email) and SNS (SMS): only the courier function sends.

use async_trait::async_trait;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message as SesMessage};
use aws_sdk_sns::error::ProvideErrorMetadata;
use aws_sdk_sns::types::MessageAttributeValue;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;

use domain::error::Error;
use domain::notify::{Message, Notifier, Undelivered};
use domain::Contact;

use crate::faults;

pub struct AwsNotifier {
    ses: aws_sdk_sesv2::Client,
    sns: aws_sdk_sns::Client,
    sender: String,
    /// Shown as the SMS sender where the carrier supports it.
    sms_sender_id: Option<String>,
}

impl AwsNotifier {
    pub fn new(
        ses: aws_sdk_sesv2::Client,
        sns: aws_sdk_sns::Client,
        sender: String,
        sms_sender_id: Option<String>,
    ) -> Self {
        AwsNotifier { ses, sns, sender, sms_sender_id }
    }

    fn text(data: &str) -> Result<Content, Undelivered> {
        Content::builder().data(data).charset("UTF-8").build().map_err(unbuilt)
    }

    async fn email(&self, to: &str, message: &Message) -> Result<(), Undelivered> {
        // Simple content: SES templates would need deployment of their own (and moto lacks them).
        let body = Body::builder().text(Self::text(&message.text)?).build();
        let content = EmailContent::builder()
            .simple(SesMessage::builder().subject(Self::text(&message.subject)?).body(body).build())
            .build();
        self.ses
            .send_email()
            .from_email_address(&self.sender)
            .destination(Destination::builder().to_addresses(to).build())
            .content(content)
            .send()
            .await
            .map_err(|e| delivery_error("SES", "SendEmail", e))?;
        Ok(())
    }

    async fn sms(&self, to: &str, message: &Message) -> Result<(), Undelivered> {
        let attribute = |value: &str| {
            MessageAttributeValue::builder().data_type("String").string_value(value).build().map_err(unbuilt)
        };
        // Transactional: delivered on the most reliable route, as one-time codes must be.
        let mut publish = self
            .sns
            .publish()
            .phone_number(to)
            .message(&message.text)
            .message_attributes("AWS.SNS.SMS.SMSType", attribute("Transactional")?);
        if let Some(sender_id) = &self.sms_sender_id {
            publish = publish.message_attributes("AWS.SNS.SMS.SenderID", attribute(sender_id)?);
        }
        publish.send().await.map_err(|e| delivery_error("SNS", "Publish", e))?;
        Ok(())
    }
}

/// A builder missing a required field: a bug, which no retry mends.
fn unbuilt(err: impl std::fmt::Display) -> Undelivered {
    tracing::error!(%err, "message request not built");
    Undelivered::Refused
}

/// A passing fault (throttled, timed out, failing on the provider's side; logged and counted as
/// a dependency fault) is tried again by the courier; anything else is the provider refusing
/// this message for good (a rejected address, an opted-out number). Logs only the provider's
/// error code: its message can name the recipient.
fn delivery_error<E>(service: &'static str, operation: &'static str, err: SdkError<E, HttpResponse>) -> Undelivered
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let error_code = err.code().unwrap_or("transport").to_owned();
    match faults::aws_error(service, operation, err) {
        Error::ServiceUnavailable { .. } => Undelivered::Passing,
        _ => {
            tracing::error!(service, operation, error_code, "message refused by the provider");
            Undelivered::Refused
        }
    }
}

#[async_trait]
impl Notifier for AwsNotifier {
    async fn send(&self, to: &Contact, message: &Message) -> Result<(), Undelivered> {
        match to {
            Contact::Phone(phone) => self.sms(phone.e164(), message).await,
            Contact::Email(email) => self.email(email.as_str(), message).await,
        }
    }
}
