//! A sign-in attempt counted on several budgets at once: on all of them, or on none.
#![cfg(feature = "memory")]

use std::time::Duration;

use domain::error::Error;
use domain::limits::{count_attempt, LimitKey, Window};
use domain::secret::ServiceSecret;
use domain::store::{LimitStore, MemoryStore};
use domain::time::Timestamp;

#[tokio::test]
async fn an_attempt_is_counted_on_every_budget_or_on_none() {
    let store = MemoryStore::new();
    let secret = ServiceSecret::parse(&"k".repeat(32)).unwrap();
    let (login, ip) = (LimitKey::new(&secret, "sign-in", "+919812345678"), LimitKey::new(&secret, "sign-in-ip", "ip"));
    let window = Window::containing(Timestamp(0), Duration::from_secs(900));
    let budgets = [(login.clone(), 3), (ip.clone(), 1)];
    count_attempt(&store, &budgets, window, Timestamp(10)).await.expect("under both");
    let refused = count_attempt(&store, &budgets, window, Timestamp(20)).await;
    assert!(matches!(refused, Err(Error::RateLimited { retry_after }) if retry_after == Duration::from_secs(880)));
    let counts = [store.window_count(&login, window).await.unwrap(), store.window_count(&ip, window).await.unwrap()];
    assert_eq!(counts, [1, 1], "the login's count was given back when the IP's refused");
}
