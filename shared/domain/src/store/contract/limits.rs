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
    assert_eq!(seen, [Some(1), Some(2), None, None], "the new count, or a refusal");
    assert_eq!(store.window_count(&counter, hour(T0)).await.unwrap(), 2, "a refusal is not counted");
    assert_eq!(store.count_within(&counter, hour(at(3600)), 2).await.unwrap(), Some(1), "a new window");
}

pub async fn concurrent_counts_never_pass_the_max(store: &dyn Store) {
    let counter = key("sms-country");
    let counted = all((0..10).map(|_| store.count_within(&counter, hour(T0), 4))).await;
    assert_eq!(counted.iter().filter(|c| matches!(c, Ok(Some(_)))).count(), 4, "{counted:?}");
    assert!(counted.iter().all(|c| c.is_ok()));
    assert_eq!(store.window_count(&counter, hour(T0)).await.unwrap(), 4);
}

pub async fn refunds_give_back_one_and_never_go_below_zero(store: &dyn Store) {
    let (login, ip) = (key("sign-in"), key("sign-in-ip"));
    let window = hour(T0);
    for _ in 0..2 {
        store.count_within(&login, window, 5).await.unwrap();
    }
    store.count_within(&ip, window, 5).await.unwrap();
    store.refund(&[login.clone(), ip.clone()], window).await;
    let counts = [store.window_count(&login, window).await.unwrap(), store.window_count(&ip, window).await.unwrap()];
    assert_eq!(counts, [1, 0]);
    // One key at zero and one not there do not stop the others being given back.
    store.refund(&[ip.clone(), key("never-counted"), login.clone()], window).await;
    let counts = [store.window_count(&login, window).await.unwrap(), store.window_count(&ip, window).await.unwrap()];
    assert_eq!(counts, [0, 0], "a counter never goes below zero");
    assert_eq!(store.window_count(&login, hour(at(3600))).await.unwrap(), 0);
}
