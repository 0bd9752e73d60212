//! Third-party CAPTCHA verification over HTTPS: the wire protocol and the client that speaks it,
//! together the production `domain::siteverify::CaptchaVerifier`.

mod client;
mod protocol;

pub use client::HttpSiteverify;
pub use protocol::{verify_token, HttpAnswer, SiteverifyTransport};
