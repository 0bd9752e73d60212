//! The adapters every Lambda function shares: the DynamoDB store, the SES/SNS notifier, the
//! siteverify client, the HTTP glue (`http`, the only module that knows `lambda_http`), the
//! JSON of the API (`api`: request and answer bodies, converted from and to the domain's types)
//! and `App`, which assembles the domain's `Services` from the environment once per cold start.
//! The domain itself is the `domain` crate, re-exported here so a function needs one dependency.

pub mod api;
pub mod app;
pub mod courier;
pub mod faults;
pub mod http;
pub mod notify;
pub mod oidc;
pub mod rotation;
pub mod sdk;
pub mod signing;
pub mod siteverify;
pub mod store;
pub mod waits;

pub use app::App;
pub use domain;
pub use domain::{Error, Result, Timestamp};
