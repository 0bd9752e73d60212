//! The outbox and its courier: a message is written with the change that causes it and
//! delivered once; a passing fault is tried again, a message that cannot be delivered frees its
//! resend wait, and a reset for an unknown contact writes what a registered one's does.

mod common;

use common::*;
use domain::courier::{Outcome, MAX_ATTEMPTS};
use domain::verification::Purpose;
use domain::Error;

#[tokio::test]
async fn a_code_is_written_with_its_verification_and_delivered_once() {
    let w = world();
    let ana = email();
    w.request(&ana, Purpose::SignUp, T0).await.expect("a code");
    assert_eq!(w.waiting(), 1, "the code waits in the outbox");
    assert!(w.inbox().to(&ana).is_empty(), "nothing is sent by the request itself");

    assert_eq!(w.deliver_at(T0).await, [Outcome::Sent]);
    assert_eq!(w.inbox().to(&ana).len(), 1);
    assert_eq!(w.waiting(), 0, "a delivered message is deleted");
}

#[tokio::test]
async fn a_refused_request_leaves_no_message() {
    let w = world();
    let ana = email();
    w.request(&ana, Purpose::SignUp, T0).await.expect("a code");
    w.deliver_at(T0).await;
    // Within the resend cooldown: refused, and nothing written.
    let again = w.request(&ana, Purpose::SignUp, at(5)).await;
    assert!(matches!(again, Err(Error::RateLimited { .. })), "{again:?}");
    assert_eq!(w.waiting(), 0);
    assert_eq!(w.sent().await.to(&ana).len(), 1);
}

#[tokio::test]
async fn a_passing_fault_is_tried_again_and_the_message_arrives_once() {
    let w = world();
    let ana = phone();
    w.request(&ana, Purpose::SignUp, T0).await.expect("a code");
    w.inbox().provider(Provider::Failing);
    assert_eq!(w.deliver_at(T0).await, [Outcome::Retry]);
    assert_eq!(w.deliver_at(at(1)).await, [Outcome::Retry]);
    assert_eq!(w.waiting(), 1, "kept for the next try");

    w.inbox().provider(Provider::Up);
    assert_eq!(w.deliver_at(at(3)).await, [Outcome::Sent]);
    assert_eq!(w.deliver_at(at(4)).await, [], "nothing left to send");
    assert_eq!(w.inbox().to(&ana).len(), 1, "sent once");
}

#[tokio::test]
async fn a_code_that_cannot_be_delivered_frees_the_resend_wait() {
    let w = world();
    let ana = email();
    w.request(&ana, Purpose::SignUp, T0).await.expect("a code");
    w.inbox().provider(Provider::Refusing);
    assert_eq!(w.deliver_at(T0).await, [Outcome::Undeliverable]);
    assert_eq!(w.waiting(), 0, "given up on, and deleted");

    // Well inside the cooldown, the person may ask again at once: the wait was freed.
    w.inbox().provider(Provider::Up);
    w.request(&ana, Purpose::SignUp, at(2)).await.expect("asked again at once");
    assert_eq!(w.sent().await.to(&ana).len(), 1, "the second code arrives");
}

#[tokio::test]
async fn a_message_failing_every_attempt_is_given_up_and_frees_the_wait() {
    let w = world();
    let ana = phone();
    w.request(&ana, Purpose::SignUp, T0).await.expect("a code");
    w.inbox().provider(Provider::Failing);
    for attempt in 1..MAX_ATTEMPTS {
        assert_eq!(w.deliver_at(at(attempt as i64)).await, [Outcome::Retry], "attempt {attempt}");
    }
    assert_eq!(w.deliver_at(at(10)).await, [Outcome::Undeliverable], "the last attempt gives up");
    w.inbox().provider(Provider::Up);
    w.request(&ana, Purpose::SignUp, at(11)).await.expect("asked again at once");
}

#[tokio::test]
async fn a_message_too_old_to_matter_is_not_sent() {
    let w = world();
    let ana = email();
    w.request(&ana, Purpose::SignUp, T0).await.expect("a code");
    assert_eq!(w.deliver_at(at(16 * 60)).await, [Outcome::Undeliverable]);
    assert!(w.inbox().to(&ana).is_empty());
}

#[tokio::test]
async fn a_reset_for_an_unknown_contact_writes_a_decoy_that_is_never_sent() {
    let w = world();
    let (known, unknown) = (email(), email());
    w.sign_up(&known, T0).await;
    w.sent().await;

    w.request(&known, Purpose::ResetPassword, at(100)).await.expect("accepted");
    w.request(&unknown, Purpose::ResetPassword, at(100)).await.expect("accepted alike");
    assert_eq!(w.waiting(), 2, "both requests wrote one message");
    let mut outcomes = w.deliver_at(at(100)).await;
    outcomes.sort_by_key(|o| format!("{o:?}"));
    assert_eq!(outcomes, [Outcome::Dropped, Outcome::Sent]);
    assert!(w.inbox().to(&unknown).is_empty(), "nothing reaches a contact without an account");
    assert_eq!(w.inbox().to(&known).len(), 2, "the sign-up code, then the reset code");
}

#[tokio::test]
async fn a_notice_is_written_with_the_change_it_reports() {
    let w = world();
    let ana = email();
    w.sign_up(&ana, T0).await;
    w.sent().await;
    // A wrong password changes nothing and tells no one.
    assert!(w.sign_in(&ana, "Wrong-Passw0rd!", at(10)).await.is_err());
    assert_eq!(w.waiting(), 0);
    w.session(&ana, PASSWORD, at(20)).await;
    assert_eq!(w.waiting(), 1, "the new-device notice, with the session");
    assert!(w.sent().await.told(&ana, domain::notify::SecurityEvent::NewDeviceSignIn));
}

#[tokio::test]
async fn a_notice_by_sms_that_must_be_retried_is_charged_once_and_arrives() {
    // An account with only a phone is told by SMS, at most one notice of a kind an hour.
    let w = world();
    let ana = phone();
    w.sign_up(&ana, T0).await;
    w.sent().await;
    w.session(&ana, PASSWORD, at(10)).await;
    w.inbox().provider(Provider::Failing);
    assert_eq!(w.deliver_at(at(10)).await, [Outcome::Retry]);
    w.inbox().provider(Provider::Up);
    assert_eq!(w.deliver_at(at(11)).await, [Outcome::Sent], "the retry is not refused by the notice's budget");
    assert!(w.inbox().told(&ana, domain::notify::SecurityEvent::NewDeviceSignIn));
    // The hour's one notice of that kind is spent: the next sign-in's is dropped.
    w.session(&ana, PASSWORD, at(20)).await;
    assert_eq!(w.deliver_at(at(20)).await, [Outcome::Dropped]);
}
