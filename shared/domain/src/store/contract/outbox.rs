//! The outbox: messages written with the writes that cause them, claimed, deleted, and the
//! resend waits a message that cannot be delivered frees.

use crate::account::PendingSecondFactor;
use crate::error::Error;
use crate::outbox::{Claimed, Mark, Resend, SealedMessage};
use crate::store::Store;
use crate::verification::Purpose;
use crate::MessageId;

use super::*;

fn message() -> SealedMessage {
    let id = MessageId::generate(&mut rand::thread_rng());
    SealedMessage { id, sealed: random_text(&mut rand::thread_rng(), 48), expires_at: at(900) }
}

pub async fn a_message_is_claimed_counting_attempts_until_deleted(store: &dyn Store) {
    let sent = message();
    store.enqueue(std::slice::from_ref(&sent)).await.expect("enqueued");
    let claimed = |attempts, charged| Some(Claimed { message: sent.clone(), attempts, charged });
    assert_eq!(store.claim_message(&sent.id).await.unwrap(), claimed(1, false));
    store.mark_message(&sent.id, Mark::Charged).await.unwrap();
    assert_eq!(store.claim_message(&sent.id).await.unwrap(), claimed(2, true), "the charge is kept");
    store.delete_message(&sent.id).await.unwrap();
    assert_eq!(store.claim_message(&sent.id).await.unwrap(), None, "a deleted message is gone");
    store.delete_message(&sent.id).await.expect("deleting it again is fine");
    store.mark_message(&sent.id, Mark::Sent).await.expect("marking a gone message is fine");
    assert_eq!(store.claim_message(&sent.id).await.unwrap(), None, "and does not bring it back");
    assert_eq!(store.claim_message(&message().id).await.unwrap(), None, "an unknown id");

    // Marked sent (its delete failed): never claimed again.
    let undeleted = message();
    store.enqueue(std::slice::from_ref(&undeleted)).await.unwrap();
    store.mark_message(&undeleted.id, Mark::Sent).await.unwrap();
    assert_eq!(store.claim_message(&undeleted.id).await.unwrap(), None);
}

pub async fn a_message_is_written_with_its_change_or_not_at_all(store: &dyn Store) {
    // Committed: the verification and its message.
    let (verification, code) = (new_verification(email(), Purpose::SignUp, T0), message());
    let limits = [cooldown(&verification, T0)];
    store.create_verification(&verification, &limits, std::slice::from_ref(&code), T0).await.unwrap();
    assert!(store.claim_message(&code.id).await.unwrap().is_some());

    // Refused by the cooldown: no verification, and no message.
    let mut again = new_verification(verification.contact.clone(), Purpose::SignUp, at(10));
    again.contact_key = verification.contact_key.clone();
    let (refused, limits) = (message(), [cooldown(&again, at(10))]);
    let result = store.create_verification(&again, &limits, std::slice::from_ref(&refused), at(10)).await;
    assert_refused!(result, Error::RateLimited { .. });
    assert_eq!(store.claim_message(&refused.id).await.unwrap(), None, "a refused change leaves no message");

    // A refused single-item write (a challenge's SMS within its wait) leaves none either.
    let challenge = open_challenge(store, &account(store).await).await;
    let first = message();
    assert!(store
        .set_challenge_sms(&challenge.id, &hash(), T0, RESEND_AFTER, std::slice::from_ref(&first))
        .await
        .unwrap());
    let early = message();
    assert!(!store
        .set_challenge_sms(&challenge.id, &hash(), at(5), RESEND_AFTER, std::slice::from_ref(&early))
        .await
        .unwrap());
    assert!(store.claim_message(&first.id).await.unwrap().is_some());
    assert_eq!(store.claim_message(&early.id).await.unwrap(), None);
}

pub async fn freeing_a_resend_ends_only_the_wait_of_the_newest_code(store: &dyn Store) {
    let first = pending(store, email(), Purpose::SignUp).await;
    let mut second = new_verification(first.contact.clone(), Purpose::SignUp, at(10));
    second.contact_key = first.contact_key.clone();
    let wait = |v: &crate::verification::Verification, now| [cooldown(v, now)];

    // Not the newest (there is no newer one yet, but `second` is not it): the wait stays.
    store.free_resend(&Resend::destination(&first.contact_key, &second.id)).await.unwrap();
    let refused = store.create_verification(&second, &wait(&second, at(10)), &[], at(10)).await;
    assert_refused!(refused, Error::RateLimited { .. });

    // The newest code's wait freed: another may be sent at once, and becomes the newest.
    store.free_resend(&Resend::destination(&first.contact_key, &first.id)).await.unwrap();
    store.create_verification(&second, &wait(&second, at(10)), &[], at(10)).await.expect("at once");
    // And the new code starts a wait of its own.
    let mut third = new_verification(first.contact.clone(), Purpose::SignUp, at(20));
    third.contact_key = first.contact_key.clone();
    let refused = store.create_verification(&third, &wait(&third, at(20)), &[], at(20)).await;
    assert_refused!(refused, Error::RateLimited { .. });
}

pub async fn freeing_a_resend_ends_a_challenge_or_setup_wait(store: &dyn Store) {
    let account = account(store).await;
    let challenge = open_challenge(store, &account).await;
    let (first, second) = (hash(), hash());
    let resend =
        |code: &crate::secret::KeyedHash| Resend::Challenge { id: challenge.id.clone(), code_hash: code.to_hex() };
    assert!(store.set_challenge_sms(&challenge.id, &first, T0, RESEND_AFTER, &[]).await.unwrap());
    assert!(!store.set_challenge_sms(&challenge.id, &second, at(5), RESEND_AFTER, &[]).await.unwrap());
    // Another code's failure frees nothing; this code's frees its wait.
    store.free_resend(&resend(&second)).await.unwrap();
    assert!(!store.set_challenge_sms(&challenge.id, &second, at(6), RESEND_AFTER, &[]).await.unwrap());
    store.free_resend(&resend(&first)).await.unwrap();
    assert!(store.set_challenge_sms(&challenge.id, &second, at(6), RESEND_AFTER, &[]).await.unwrap());
    // And the newer code's wait is its own: the first code's failure no longer frees it.
    store.free_resend(&resend(&first)).await.unwrap();
    assert!(!store.set_challenge_sms(&challenge.id, &first, at(7), RESEND_AFTER, &[]).await.unwrap());

    let pending = PendingSecondFactor {
        nonce: "setup-one".into(),
        method: crate::account::SecondFactor::Sms,
        sealed_totp_secret: None,
        code_hash: Some(hash()),
        created_at: T0,
        expires_at: at(600),
        attempts: 0,
    };
    assert!(store.start_second_factor(&account.id, &pending, RESEND_AFTER, &[]).await.unwrap());
    let later = PendingSecondFactor { nonce: "setup-two".into(), created_at: at(5), ..pending.clone() };
    assert!(!store.start_second_factor(&account.id, &later, RESEND_AFTER, &[]).await.unwrap());
    // Another setup's nonce frees nothing.
    let other = Resend::SecondFactorSetup { account: account.id.clone(), nonce: "setup-zero".into() };
    store.free_resend(&other).await.unwrap();
    assert!(!store.start_second_factor(&account.id, &later, RESEND_AFTER, &[]).await.unwrap());
    let own = Resend::SecondFactorSetup { account: account.id.clone(), nonce: "setup-one".into() };
    store.free_resend(&own).await.unwrap();
    assert!(store.start_second_factor(&account.id, &later, RESEND_AFTER, &[]).await.unwrap());
}
