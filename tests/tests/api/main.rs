//! The HTTP-level tests of every function against moto, one module per area, in one test
//! binary: each file of `tests/tests/` is a binary of its own that links every function and the
//! AWS SDKs, so one binary instead of ten saves minutes of linking and gigabytes of disk.
//! (`tests/tests/logs.rs` stays apart: it installs the process's global log subscriber.)

mod accounts;
mod captcha;
mod captcha_providers;
mod contract;
mod faults;
mod guessing;
mod limit_keys;
mod oidc;
mod oidc_keys;
mod permissions;
mod recovery;
mod revocation;
mod round_trips;
mod service_secret;
mod sign_in;
mod sms_costs;
mod store_contract;
mod stored_contacts;
mod verification;
