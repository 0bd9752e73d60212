//! Counters outside a use case's own transaction.

use crate::limits::Window;
use crate::store::Store;

use super::*;

pub async fn failures_are_counted_per_key_and_window(store: &dyn Store) {
    let counter = key("password-check");
    for _ in 0..3 {
        store.count_failure(&counter, hour(at(10))).await.unwrap();
    }
    assert_eq!(store.window_count(&counter, hour(at(3599))).await.unwrap(), 3, "one window");
    assert_eq!(store.window_count(&counter, hour(at(3600))).await.unwrap(), 0);
    assert_eq!(store.window_count(&key("password-check"), hour(T0)).await.unwrap(), 0);
    let short = Window::containing(at(10), secs(900));
    assert_eq!(store.window_count(&counter, short).await.unwrap(), 3, "windows are told apart by their start");
}

pub async fn count_within_stops_at_its_max(store: &dyn Store) {
    let counter = key("sms-country");
    let mut seen = Vec::new();
    for now in [T0, at(1), at(2), at(3)] {
        seen.push(store.count_within(&counter, hour(now), 2).await.unwrap());
    }
    assert_eq!(seen, [true, true, false, false]);
    assert_eq!(store.window_count(&counter, hour(T0)).await.unwrap(), 2, "a refusal is not counted");
    assert!(store.count_within(&counter, hour(at(3600)), 2).await.unwrap(), "a new window");
}

pub async fn concurrent_counts_never_pass_the_max(store: &dyn Store) {
    let counter = key("sms-country");
    let counted = all((0..10).map(|_| store.count_within(&counter, hour(T0), 4))).await;
    assert_eq!(counted.iter().filter(|c| matches!(c, Ok(true))).count(), 4, "{counted:?}");
    assert!(counted.iter().all(|c| c.is_ok()));
    assert_eq!(store.window_count(&counter, hour(T0)).await.unwrap(), 4);
}
