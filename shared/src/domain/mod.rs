//! Domain types and rules. Nothing here knows about HTTP, Lambda or AWS.

mod code;
mod contact;
mod email;
mod language;
pub mod limits;
mod phone;
pub mod verification;

pub use code::{VerificationCode, VerificationId, VerificationToken};
pub use contact::{Channel, Contact};
pub use email::EmailAddress;
pub use language::Language;
pub use phone::PhoneNumber;
