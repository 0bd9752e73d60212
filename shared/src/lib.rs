//! The account service's shared crate: domain rules, configuration, the store,
//! the notifier and the HTTP glue that every Lambda function uses.

pub mod app;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod metrics;
pub mod notify;
pub mod rotation;
pub mod secret;
pub mod siteverify_client;
pub mod store;
pub mod time;

pub use app::App;
pub use error::{Error, Result};
pub use time::Timestamp;
