//! Domain types and rules. Nothing here knows about HTTP, Lambda or AWS.

pub mod account;
pub mod captcha;
mod code;
mod contact;
pub mod contacts;
mod email;
pub mod idempotency;
mod language;
pub mod limits;
pub mod password;
mod phone;
pub mod recovery;
pub mod self_service;
pub mod session;
pub mod sign_in;
pub mod siteverify;
pub mod totp;
pub mod two_factor;
pub mod verification;

pub use code::{random_text, VerificationCode, VerificationId, VerificationToken};
pub use contact::{Channel, Contact};
pub use email::EmailAddress;
pub use language::Language;
pub use phone::PhoneNumber;
