//! Messages waiting for the courier. A use case never sends: it writes each message it causes
//! into the same write or transaction as the change itself, so a committed change always has its
//! message and a refused one never does, and a slow or throttled SES or SNS never slows or fails
//! the request. The courier (`crate::courier`) delivers them from the table's stream.
//!
//! What is said and to whom is sealed (AES-256-GCM under a key of the service secret, bound to
//! the message's id), so an outbox item holds no code, address or phone number in the clear: only
//! its id, the sealed envelope, a delivery-attempt count and a short TTL.

use std::time::Duration;

use rand::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::limits::LimitKey;
use crate::notify::{Message, SecurityEvent};
use crate::secret::{HashPurpose, ServiceSecret};
use crate::time::Timestamp;
use crate::{AccountId, ChallengeId, Channel, Contact, MessageId, VerificationId};

/// How long a message may wait: a code lives 10 minutes, a notice later than this is noise.
pub const MESSAGE_TTL: Duration = Duration::from_secs(15 * 60);

/// A message to deliver, as a use case writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub to: Contact,
    pub message: Message,
    pub delivery: Delivery,
}

/// What the courier does besides sending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Delivery {
    /// A code or a sign-up's "account exists": when it cannot be delivered, `resend` is freed
    /// so the person can ask for another at once.
    Code { resend: Resend },
    /// A notice to the owner. By SMS it is sent only under the notice and SMS cost controls,
    /// which the courier applies when it sends.
    Notice { event: SecurityEvent, account: AccountId },
    /// Written only so that a request makes the same writes whatever its answer (a reset code
    /// for a contact no account has): the courier drops it unsent.
    Decoy,
}

/// The wait before another code may be sent that a code started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "of", rename_all = "snake_case")]
pub enum Resend {
    /// A destination's cooldown, while `latest` is still its newest verification.
    Destination { key: String, latest: VerificationId },
    /// A sign-in's or reset's SMS code, while it is still the challenge's code (its keyed hash).
    Challenge { id: ChallengeId, code_hash: String },
    /// The SMS code of a second factor being set up, while `nonce` is still the setup.
    SecondFactorSetup { account: AccountId, nonce: String },
}

impl Resend {
    pub fn destination(key: &LimitKey, latest: &VerificationId) -> Self {
        Resend::Destination { key: key.as_str().to_owned(), latest: latest.clone() }
    }
}

/// A message as the store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedMessage {
    pub id: MessageId,
    pub sealed: String,
    pub expires_at: Timestamp,
}

/// A message as the courier claims it for one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    pub message: SealedMessage,
    /// Attempts so far, this one included.
    pub attempts: u32,
    /// Its SMS was already counted on the cost controls (an SMS notice), by an earlier attempt.
    pub charged: bool,
}

/// What the courier records on a message between attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// Its SMS is counted: a retry does not count it again.
    Charged,
    /// It went out but could not be deleted: it is never claimed again.
    Sent,
}

/// The sealed form; the contact as stored, rebuilt without parsing.
#[derive(Serialize, Deserialize)]
struct Envelope {
    channel: char,
    to: String,
    subject: String,
    text: String,
    delivery: Delivery,
}

impl Outgoing {
    pub fn seal(&self, secret: &ServiceSecret, now: Timestamp, rng: &mut (impl RngCore + CryptoRng)) -> SealedMessage {
        let id = MessageId::generate(rng);
        let envelope = Envelope {
            channel: match self.to.channel() {
                Channel::Sms => 's',
                Channel::Email => 'e',
            },
            to: self.to.stored().to_owned(),
            subject: self.message.subject.clone(),
            text: self.message.text.clone(),
            delivery: self.delivery.clone(),
        };
        let json = serde_json::to_vec(&envelope).expect("an envelope serialises");
        let sealed = secret.seal(HashPurpose::MessageEncryption, id.as_str().as_bytes(), &json, rng);
        SealedMessage { id, sealed, expires_at: now.plus(MESSAGE_TTL) }
    }

    /// The message a sealed one holds; an internal error when no key of the secret opens it.
    pub fn open(secret: &ServiceSecret, message: &SealedMessage) -> Result<Self> {
        let unreadable = || Error::Internal("an outbox message opens under no key of the service secret".into());
        let (json, _) = secret
            .open(HashPurpose::MessageEncryption, message.id.as_str().as_bytes(), &message.sealed)
            .ok_or_else(unreadable)?;
        let envelope: Envelope = serde_json::from_slice(&json).map_err(|e| Error::internal("outbox envelope", e))?;
        let channel = if envelope.channel == 's' { Channel::Sms } else { Channel::Email };
        Ok(Outgoing {
            to: Contact::from_stored(channel, &envelope.to)?,
            message: Message { subject: envelope.subject, text: envelope.text },
            delivery: envelope.delivery,
        })
    }
}

/// Seals each of `messages` for the store.
pub fn seal_all(
    secret: &ServiceSecret,
    messages: &[Outgoing],
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Vec<SealedMessage> {
    messages.iter().map(|message| message.seal(secret, now, rng)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn secret(text: &str) -> ServiceSecret {
        ServiceSecret::parse(text).expect("a secret")
    }

    fn outgoing() -> Outgoing {
        Outgoing {
            to: Contact::Email(crate::EmailAddress::parse("ana@example.org").unwrap()),
            message: Message { subject: "Your code".into(), text: "123456 is your code".into() },
            delivery: Delivery::Code {
                resend: Resend::Destination { key: "dest:ab".into(), latest: VerificationId::generate(&mut rng()) },
            },
        }
    }

    fn rng() -> StdRng {
        StdRng::seed_from_u64(3)
    }

    #[test]
    fn a_sealed_message_shows_neither_text_nor_address_and_opens_only_as_itself() {
        let key = secret("0123456789abcdef0123456789abcdef");
        let message = outgoing();
        let sealed = message.seal(&key, Timestamp(1_000), &mut rng());
        assert!(!sealed.sealed.contains("123456") && !sealed.sealed.contains("ana"));
        assert_eq!(sealed.expires_at, Timestamp(1_000).plus(MESSAGE_TTL));
        assert_eq!(Outgoing::open(&key, &sealed).unwrap(), message);

        // Under another id (a copied item) or another key, it does not open.
        let moved = SealedMessage { id: MessageId::generate(&mut StdRng::seed_from_u64(9)), ..sealed.clone() };
        assert!(Outgoing::open(&key, &moved).is_err());
        assert!(Outgoing::open(&secret("another key, also 32 bytes long!!"), &sealed).is_err());
    }

    #[test]
    fn a_message_sealed_before_a_rotation_still_opens() {
        let old = secret("0123456789abcdef0123456789abcdef");
        let sealed = outgoing().seal(&old, Timestamp(0), &mut rng());
        let rotated =
            secret(r#"{"current":"2","1":"0123456789abcdef0123456789abcdef","2":"another key, also 32 bytes long!!"}"#);
        assert_eq!(Outgoing::open(&rotated, &sealed).unwrap(), outgoing());
    }
}
