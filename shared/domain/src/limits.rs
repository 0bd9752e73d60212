//! Rate limits, described as data so the store can apply all of them to a request
//! in the same atomic write that records it.

use std::net::IpAddr;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::secret::{HashPurpose, ServiceSecret};
use crate::store::LimitStore;
use crate::time::Timestamp;

use super::{captcha, VerificationId};

/// What a limit counts, pseudonymised with the service secret so counters hold no
/// phone number, email or IP address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LimitKey(String);

impl LimitKey {
    pub fn new(secret: &ServiceSecret, scope: &str, subject: &str) -> Self {
        let hash = secret.keyed_hash(HashPurpose::LimitKey, &[scope.as_bytes(), subject.as_bytes()]);
        LimitKey(format!("{scope}:{}", &hash.to_hex()[..32]))
    }

    /// A key of a limit per client: an IPv6 address counts as its /64, the block one subscriber
    /// is given, so walking through the addresses of one connection buys nothing. The code
    /// counters (`ip`) are keyed with the edge secret (`Config::edge_secret`), because the captcha
    /// function reads them; the others with the service secret.
    pub fn for_client(secret: &ServiceSecret, scope: &str, ip: &str) -> Self {
        Self::new(secret, scope, &client_network(ip))
    }

    /// A key read back from the store.
    pub fn from_stored(text: String) -> Self {
        LimitKey(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `2001:db8:1:2::7` → `2001:db8:1:2::/64`; an IPv4 address (also one mapped into IPv6) as it is.
fn client_network(ip: &str) -> String {
    match ip.trim().parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Err(_) => ip.to_owned(),
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
    /// Counts one event like `Quota`, where `max` is what the solved CAPTCHA's difficulty allows
    /// ([`captcha::requests_allowed`]); refusing it names the difficulty that would be accepted.
    Difficulty { key: LimitKey, window: Window, max: u32, base: u64 },
}

/// What the store read from the item of a limit that refused a request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Found {
    /// A cooldown's end.
    pub until: Option<Timestamp>,
    /// A counter's value.
    pub count: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: Timestamp,
    pub end: Timestamp,
}

pub const HOUR: Duration = Duration::from_secs(3600);

/// Failed sign-ins, password checks and second-factor answers are counted in windows of this length.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);

impl Window {
    pub fn containing(now: Timestamp, length: Duration) -> Self {
        let start = now.window_start(length);
        Window { start, end: start.plus(length) }
    }

    /// The answer to a request this window's count refused: wait for its end.
    pub fn refusal(&self, now: Timestamp) -> Error {
        Error::RateLimited { retry_after: self.end.remaining_from(now).max(Duration::from_secs(1)) }
    }
}

/// Counts one attempt on every budget (key and max) of `window`, or on none: when one refuses,
/// those counted before it are given back. Conditional updates one by one rather than one
/// transaction, so attempts on a hot counter (one IP behind a carrier NAT) never conflict.
pub async fn count_attempt(
    store: &dyn LimitStore,
    budgets: &[(LimitKey, u32)],
    window: Window,
    now: Timestamp,
) -> Result<()> {
    for (counted, (key, max)) in budgets.iter().enumerate() {
        if store.count_within(key, window, *max).await?.is_none() {
            let taken: Vec<LimitKey> = budgets[..counted].iter().map(|(key, _)| key.clone()).collect();
            store.refund(&taken, window).await;
            return Err(window.refusal(now));
        }
    }
    Ok(())
}

impl Limit {
    /// The answer to a request this limit refused, given what the store found on its item.
    pub fn refusal(&self, now: Timestamp, found: Found) -> Error {
        let until = match self {
            Limit::Cooldown { until, .. } => found.until.unwrap_or(*until),
            Limit::Quota { window, .. } | Limit::Ceiling { window, .. } => window.end,
            Limit::SingleUse { .. } => return Error::CaptchaFailed,
            Limit::Difficulty { max, base, .. } => {
                let requests = found.count.unwrap_or(*max);
                return Error::CaptchaTooEasy { difficulty: captcha::difficulty_for(*base, requests) };
            }
        };
        Error::RateLimited { retry_after: until.remaining_from(now).max(Duration::from_secs(1)) }
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
        let refused = quota.refusal(Timestamp(7_325), Found::default());
        assert!(matches!(refused, Error::RateLimited { retry_after } if retry_after == Duration::from_secs(3_475)));
        let base = 1_000;
        let difficulty = Limit::Difficulty { key: LimitKey::new(&secret, "pow", "+1"), window: w, max: 3, base };
        let found = Found { until: None, count: Some(7) };
        let refused = difficulty.refusal(Timestamp(7_325), found);
        assert!(matches!(refused, Error::CaptchaTooEasy { difficulty: 4_000 }), "{refused:?}");
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let secret = ServiceSecret::new(vec![1u8; 32]).unwrap();
        let key = |ip: &str| LimitKey::for_client(&secret, "ip", ip);
        assert_eq!(key("2001:db8:1:2::7"), key("2001:db8:1:2:ffff:ffff:ffff:ffff"));
        assert_ne!(key("2001:db8:1:2::7"), key("2001:db8:1:3::7"));
        assert_eq!(key("::ffff:198.51.100.7"), key("198.51.100.7"));
        assert_ne!(key("198.51.100.7"), key("198.51.100.8"), "IPv4 addresses stay apart");
        assert_eq!(client_network("not an address"), "not an address");
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
