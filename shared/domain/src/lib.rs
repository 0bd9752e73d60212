//! The account service's domain: its rules, its policy (`config`) and the ports it needs
//! (`store`, `notify`, `siteverify::CaptchaVerifier`), joined in [`Services`].
//!
//! Nothing here knows about HTTP, Lambda or AWS, and the compiler holds it to that: this crate
//! depends on none of them (`tests/no_adapters.rs` keeps it so). The adapters live in `shared`.

pub mod account;
pub mod account_page;
pub mod captcha;
mod code;
pub mod config;
mod contact;
pub mod courier;
mod email;
pub mod error;
pub mod forms;
pub mod idempotency;
mod ids;
pub mod limits;
pub mod metrics;
mod notices;
pub mod notify;
pub mod oidc;
pub mod outbox;
pub mod password;
mod phone;
pub mod recovery;
pub mod second_factor;
pub mod secret;
pub mod self_service;
mod services;
pub mod session;
pub mod sign_in;
pub mod sign_up;
pub mod siteverify;
pub mod sms;
pub mod store;
pub mod time;
pub mod totp;
pub mod two_factor;
pub mod verification;

pub use code::{random_text, VerificationCode, VerificationToken};
pub use contact::{Channel, Contact};
pub use email::EmailAddress;
pub use error::{Error, Result};
pub use i18n::Language;
pub use ids::{
    AccountId, ChallengeId, CodeId, DeviceId, FamilyId, InteractionId, MessageId, RandomId, SessionId, VerificationId,
};
pub use phone::PhoneNumber;
pub use services::Services;
pub use time::Timestamp;
