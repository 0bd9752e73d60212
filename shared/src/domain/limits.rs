//! Rate limits, described as data so the store can apply all of them to a request
//! in the same atomic write that records it.

use std::time::Duration;

use crate::secret::{HashPurpose, ServiceSecret};
use crate::time::Timestamp;

use super::VerificationId;

/// What a limit counts, pseudonymised with the service secret so counters hold no
/// phone number, email or IP address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LimitKey(String);

impl LimitKey {
    pub fn new(secret: &ServiceSecret, scope: &str, subject: &str) -> Self {
        let hash = secret.keyed_hash(HashPurpose::LimitKey, &[scope.as_bytes(), subject.as_bytes()]);
        LimitKey(format!("{scope}:{}", &hash.to_hex()[..32]))
    }

    /// A key read back from the store.
    pub fn from_stored(text: String) -> Self {
        LimitKey(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Limit {
    /// Nothing more until `until`. Also records which verification is the newest for
    /// the key, so that asking for a new code retires the previous one.
    Cooldown { key: LimitKey, until: Timestamp, latest: VerificationId },
    /// Counts one event in a fixed window and refuses once `max` are counted.
    Quota { key: LimitKey, window: Window, max: u32 },
    /// Refuses once a counter kept elsewhere (failed codes) reaches `max`; counts nothing.
    Ceiling { key: LimitKey, window: Window, max: u32 },
    /// A solved CAPTCHA, accepted once: refusing it is `Error::CaptchaFailed`, not a rate limit.
    SingleUse { id: String, until: Timestamp },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: Timestamp,
    pub end: Timestamp,
}

impl Window {
    pub fn containing(now: Timestamp, length: Duration) -> Self {
        let start = now.window_start(length);
        Window { start, end: start.plus(length) }
    }
}

impl Limit {
    /// How long the client should wait once this limit refused a request.
    /// `blocked_until` is what the store found for a cooldown.
    pub fn retry_after(&self, now: Timestamp, blocked_until: Option<Timestamp>) -> Duration {
        let until = match self {
            Limit::Cooldown { until, .. } => blocked_until.unwrap_or(*until),
            Limit::Quota { window, .. } | Limit::Ceiling { window, .. } => window.end,
            Limit::SingleUse { until, .. } => *until,
        };
        until.remaining_from(now).max(Duration::from_secs(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_aligned_and_retry_after_counts_to_their_end() {
        let hour = Duration::from_secs(3600);
        let w = Window::containing(Timestamp(7_200 + 125), hour);
        assert_eq!((w.start, w.end), (Timestamp(7_200), Timestamp(10_800)));
        let secret = ServiceSecret::new(vec![1u8; 32]).unwrap();
        let quota = Limit::Quota { key: LimitKey::new(&secret, "dest", "+1"), window: w, max: 5 };
        assert_eq!(quota.retry_after(Timestamp(7_325), None), Duration::from_secs(3_475));
    }

    #[test]
    fn keys_hide_their_subject_and_differ_by_scope() {
        let secret = ServiceSecret::new(vec![1u8; 32]).unwrap();
        let key = LimitKey::new(&secret, "dest", "+919812345678");
        assert!(key.as_str().starts_with("dest:"));
        assert!(!key.as_str().contains("9812345678"));
        assert_ne!(key, LimitKey::new(&secret, "ip", "+919812345678"));
    }
}
