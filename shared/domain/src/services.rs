//! What the rules work with: the policy and the ports. Production assembles it from the
//! environment (`shared::App`); a test builds one over the in-memory store.

use crate::config::Config;
use crate::notify::Notifier;
use crate::siteverify::CaptchaVerifier;
use crate::store::Store;

pub struct Services {
    pub config: Config,
    pub store: Box<dyn Store>,
    pub notifier: Box<dyn Notifier>,
    /// Asks a third-party CAPTCHA provider about a token (`CaptchaConfig::ThirdParty`).
    pub captcha: Box<dyn CaptchaVerifier>,
}

impl Services {
    pub fn new(
        config: Config,
        store: Box<dyn Store>,
        notifier: Box<dyn Notifier>,
        captcha: Box<dyn CaptchaVerifier>,
    ) -> Self {
        Services { config, store, notifier, captcha }
    }
}
