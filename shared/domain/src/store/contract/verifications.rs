//! Verifications and the limits of a code request.

use crate::captcha;
use crate::error::Error;
use crate::limits::Limit;
use crate::secret::KeyedHash;
use crate::store::Store;
use crate::verification::{Purpose, Verification, VerificationState};
use crate::VerificationId;

use super::*;

pub async fn verifications_are_stored_as_given(store: &dyn Store) {
    for (contact, purpose) in
        [(email(), Purpose::SignUp), (phone(), Purpose::ResetPassword), (email(), Purpose::AddContact)]
    {
        let verification = new_verification(contact, purpose, T0);
        store.create_verification(&verification, &[], &[], T0).await.unwrap();
        assert_same_verification(&stored_verification(store, &verification.id).await, &verification);
        // An id is stored once.
        let again = Verification { code_hash: hash(), ..verification.clone() };
        assert!(store.create_verification(&again, &[], &[], T0).await.is_err());
        assert_same_verification(&stored_verification(store, &verification.id).await, &verification);
    }
    let unknown = VerificationId::generate(&mut rand::thread_rng());
    assert!(store.verification(&unknown).await.unwrap().is_none());
}

pub async fn a_cooldown_refuses_until_it_ends(store: &dyn Store) {
    let first = pending(store, email(), Purpose::SignUp).await;
    let mut second = new_verification(first.contact.clone(), Purpose::SignUp, at(45));
    second.contact_key = first.contact_key.clone();
    let refused = store.create_verification(&second, &[cooldown(&second, at(45))], &[], at(45)).await;
    // Until the stored cooldown ends, not the one this request would have set.
    assert!(matches!(refused, Err(Error::RateLimited { retry_after }) if retry_after == secs(15)), "{refused:?}");
    assert!(store.verification(&second.id).await.unwrap().is_none(), "a refused code is not stored");
    store
        .create_verification(&second, &[cooldown(&second, at(60))], &[], at(60))
        .await
        .expect("when the cooldown ends");
}

pub async fn a_quota_counts_up_to_its_max_per_window(store: &dyn Store) {
    let counter = key("destination");
    let quota = |now| Limit::Quota { key: counter.clone(), window: hour(now), max: 2 };
    for now in [T0, at(10)] {
        request(store, vec![quota(now)], now).await.expect("within the quota");
    }
    let refused = request(store, vec![quota(at(20))], at(20)).await;
    assert!(matches!(refused, Err(Error::RateLimited { retry_after }) if retry_after == secs(3580)), "{refused:?}");
    assert_eq!(store.window_count(&counter, hour(T0)).await.unwrap(), 2, "a refusal is not counted");
    request(store, vec![quota(at(3600))], at(3600)).await.expect("in the next window");
    assert_eq!(store.window_count(&counter, hour(at(3600))).await.unwrap(), 1);
}

/// The condition is `attribute_not_exists(count) OR count < max`: a rule that means "none at
/// all" refuses before it asks the store (`captcha::requests_allowed` of 0).
pub async fn a_fresh_window_counts_its_first_event_whatever_the_max(store: &dyn Store) {
    let counter = key("pow");
    let quota = Limit::Quota { key: counter.clone(), window: hour(T0), max: 0 };
    request(store, vec![quota.clone()], T0).await.expect("the first of the window");
    assert_refused!(request(store, vec![quota], T0).await, Error::RateLimited { .. });
    let hot = key("sms-country");
    assert_eq!(store.count_within(&hot, hour(T0), 0).await.unwrap(), Some(1));
    assert_eq!(store.count_within(&hot, hour(T0), 0).await.unwrap(), None);
    assert_eq!(store.window_count(&hot, hour(T0)).await.unwrap(), 1);
}

pub async fn a_ceiling_refuses_at_a_count_it_does_not_add_to(store: &dyn Store) {
    let failures = key("failures");
    let ceiling = Limit::Ceiling { key: failures.clone(), window: hour(T0), max: 2 };
    request(store, vec![ceiling.clone()], T0).await.expect("no failures yet");
    store.count_failure(&failures, hour(T0)).await.unwrap();
    request(store, vec![ceiling.clone()], at(1)).await.expect("one failure");
    assert_eq!(store.window_count(&failures, hour(T0)).await.unwrap(), 1, "a ceiling only reads");
    store.count_failure(&failures, hour(T0)).await.unwrap();
    let refused = request(store, vec![ceiling.clone()], at(600)).await;
    assert!(matches!(refused, Err(Error::RateLimited { retry_after }) if retry_after == secs(3000)), "{refused:?}");
    let next_hour = Limit::Ceiling { key: failures, window: hour(at(3600)), max: 2 };
    request(store, vec![next_hour], at(3600)).await.expect("failures of the last hour do not count");
}

pub async fn a_captcha_is_accepted_once(store: &dyn Store) {
    let solved = Limit::SingleUse { id: text(), until: at(300) };
    request(store, vec![solved.clone()], T0).await.expect("the first use");
    assert_refused!(request(store, vec![solved], at(1)).await, Error::CaptchaFailed);
    request(store, vec![Limit::SingleUse { id: text(), until: at(300) }], at(1)).await.expect("another solution");
}

pub async fn a_refused_difficulty_names_what_its_count_needs(store: &dyn Store) {
    let counter = key("pow");
    let base = 1_000;
    let difficulty = |max| Limit::Difficulty { key: counter.clone(), window: hour(T0), max, base };
    for _ in 0..6 {
        request(store, vec![difficulty(10)], T0).await.expect("paid for");
    }
    // Six requests in the window: the difficulty doubles twice (`captcha::difficulty_for`).
    let needed = captcha::difficulty_for(base, 6);
    assert_eq!(needed, 4_000);
    assert_refused!(request(store, vec![difficulty(2)], T0).await, Error::CaptchaTooEasy { difficulty } if difficulty == needed);
    assert_eq!(store.window_count(&counter, hour(T0)).await.unwrap(), 6);
}

pub async fn a_refused_limit_writes_nothing(store: &dyn Store) {
    let newest = pending(store, email(), Purpose::SignUp).await;
    let (destination, ip, pow, solved) = (key("destination"), key("ip"), key("pow"), text());
    let mut refused = new_verification(newest.contact.clone(), Purpose::SignUp, at(10));
    refused.contact_key = newest.contact_key.clone();
    let limits = [
        Limit::Quota { key: destination.clone(), window: hour(T0), max: 5 },
        Limit::SingleUse { id: solved.clone(), until: at(300) },
        cooldown(&refused, at(10)),
        Limit::Quota { key: ip.clone(), window: hour(T0), max: 5 },
        Limit::Difficulty { key: pow.clone(), window: hour(T0), max: 5, base: 1_000 },
    ];
    assert_refused!(store.create_verification(&refused, &limits, &[], at(10)).await, Error::RateLimited { .. });
    assert!(store.verification(&refused.id).await.unwrap().is_none());
    for counter in [&destination, &ip, &pow] {
        assert_eq!(store.window_count(counter, hour(T0)).await.unwrap(), 0, "{counter:?} was counted");
    }
    request(store, vec![Limit::SingleUse { id: solved, until: at(300) }], at(10)).await.expect("still unused");
    assert!(store.mark_verified(&newest, &hash(), at(900)).await.unwrap(), "still the newest code");
}

pub async fn the_first_limit_that_refuses_answers(store: &dyn Store) {
    let full = Limit::Quota { key: key("destination"), window: hour(T0), max: 1 };
    let used = Limit::SingleUse { id: text(), until: at(300) };
    request(store, vec![full.clone(), used.clone()], T0).await.unwrap();
    assert_refused!(request(store, vec![full.clone(), used.clone()], T0).await, Error::RateLimited { .. });
    assert_refused!(request(store, vec![used, full], T0).await, Error::CaptchaFailed);
}

pub async fn code_attempts_are_counted_up_to_the_max(store: &dyn Store) {
    let verification = pending(store, phone(), Purpose::SignUp).await;
    for attempt in 1..=3 {
        let counted = store.count_code_attempt(&verification.id, at(1), 3).await.unwrap().expect("counted");
        assert_same_verification(&counted, &Verification { attempts: attempt, ..verification.clone() });
    }
    assert!(store.count_code_attempt(&verification.id, at(1), 3).await.unwrap().is_none());
    assert_eq!(stored_verification(store, &verification.id).await.attempts, 3);
    let unknown = VerificationId::generate(&mut rand::thread_rng());
    assert!(store.count_code_attempt(&unknown, at(1), 3).await.unwrap().is_none());
}

pub async fn code_attempts_end_when_the_code_expires(store: &dyn Store) {
    let verification = pending(store, email(), Purpose::SignUp).await;
    assert!(store.count_code_attempt(&verification.id, at(599), 5).await.unwrap().is_some());
    assert!(store.count_code_attempt(&verification.id, at(600), 5).await.unwrap().is_none(), "expired at 600");
    assert_eq!(stored_verification(store, &verification.id).await.attempts, 1);
}

pub async fn a_code_is_confirmed_once_and_then_takes_no_attempts(store: &dyn Store) {
    let verification = pending(store, email(), Purpose::SignUp).await;
    let token = hash();
    assert!(store.mark_verified(&verification, &token, at(900)).await.unwrap());
    let expected = Verification {
        state: VerificationState::Verified { token_hash: token, token_expires_at: at(900) },
        ..verification.clone()
    };
    assert_same_verification(&stored_verification(store, &verification.id).await, &expected);
    assert!(!store.mark_verified(&verification, &hash(), at(1000)).await.unwrap(), "confirmed once");
    assert_same_verification(&stored_verification(store, &verification.id).await, &expected);
    assert!(store.count_code_attempt(&verification.id, at(1), 5).await.unwrap().is_none());
}

pub async fn a_newer_code_retires_the_older(store: &dyn Store) {
    let older = pending(store, email(), Purpose::SignUp).await;
    let mut newer = new_verification(older.contact.clone(), Purpose::SignUp, at(60));
    newer.contact_key = older.contact_key.clone();
    store.create_verification(&newer, &[cooldown(&newer, at(60))], &[], at(60)).await.unwrap();
    assert!(!store.mark_verified(&older, &hash(), at(900)).await.unwrap(), "retired");
    assert_eq!(stored_verification(store, &older.id).await.state, VerificationState::Pending);
    assert!(store.mark_verified(&newer, &hash(), at(960)).await.unwrap());
    // A code no cooldown names was never the newest.
    let unnamed = new_verification(email(), Purpose::SignUp, T0);
    store.create_verification(&unnamed, &[], &[], T0).await.unwrap();
    assert!(!store.mark_verified(&unnamed, &hash(), at(900)).await.unwrap());
}

pub async fn concurrent_code_attempts_never_pass_the_max(store: &dyn Store) {
    let verification = pending(store, email(), Purpose::SignUp).await;
    let counted = all((0..8).map(|_| store.count_code_attempt(&verification.id, at(1), 3))).await;
    let mut seen: Vec<u32> = counted.iter().filter_map(|c| c.as_ref().unwrap().as_ref()).map(|v| v.attempts).collect();
    seen.sort();
    assert_eq!(seen, [1, 2, 3], "each counted attempt has its own number");
    assert_eq!(stored_verification(store, &verification.id).await.attempts, 3);
}

pub async fn concurrent_confirmations_confirm_once(store: &dyn Store) {
    let verification = pending(store, email(), Purpose::SignUp).await;
    let tokens: Vec<KeyedHash> = (0..4).map(|_| hash()).collect();
    let results = all(tokens.iter().map(|token| store.mark_verified(&verification, token, at(900)))).await;
    let won: Vec<usize> = (0..results.len()).filter(|i| matches!(results[*i], Ok(true))).collect();
    assert_eq!(won.len(), 1, "{results:?}");
    assert!(results.iter().all(|r| matches!(r, Ok(_) | Err(Error::Conflict))), "{results:?}");
    let stored = stored_verification(store, &verification.id).await.state;
    assert!(
        matches!(&stored, VerificationState::Verified { token_hash, .. } if *token_hash == tokens[won[0]]),
        "{stored:?}"
    );
}

pub async fn concurrent_requests_never_pass_a_quota(store: &dyn Store) {
    let counter = key("ip");
    let quota = Limit::Quota { key: counter.clone(), window: hour(T0), max: 3 };
    let results = all((0..8).map(|_| request(store, vec![quota.clone()], T0))).await;
    let passed = results.iter().filter(|r| r.is_ok()).count();
    assert!((1..=3).contains(&passed), "{passed} passed a quota of 3");
    assert!(results.iter().all(|r| matches!(r, Ok(_) | Err(Error::RateLimited { .. } | Error::Conflict))));
    assert_eq!(store.window_count(&counter, hour(T0)).await.unwrap(), passed as u32);
}
