//! Attribute values, and the key of every kind of item (the table in `mod.rs`).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use domain::limits::{LimitKey, Window};
use domain::oidc::client::ClientId;
use domain::{
    AccountId, ChallengeId, CodeId, Contact, DeviceId, FamilyId, InteractionId, MessageId, SessionId, VerificationId,
};

use super::Item;

pub(super) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(super) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn key(pk: String, sk: &str) -> Item {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

pub(super) fn verification_key(id: &VerificationId) -> Item {
    key(format!("VER#{}", id.as_str()), "VER")
}

pub(super) fn outbox_key(id: &MessageId) -> Item {
    key(format!("OUT#{}", id.as_str()), "OUT")
}

pub(super) fn cooldown_key(key_: &LimitKey) -> Item {
    key(format!("LIMIT#{}", key_.as_str()), "COOLDOWN")
}

pub(super) fn window_key(key_: &LimitKey, window: Window) -> Item {
    key(format!("LIMIT#{}", key_.as_str()), &format!("W#{}", window.start.0))
}

pub(super) fn contact_key(contact: &Contact) -> Item {
    key(format!("ID#{}", contact.canonical()), "ID")
}

pub(super) fn account_key(id: &AccountId) -> Item {
    key(format!("ACC#{id}"), "ACC")
}

pub(super) fn idempotency_key(key_hash: &str) -> Item {
    key(format!("IDEM#{key_hash}"), "IDEM")
}

pub(super) fn session_key(account_id: &AccountId, session_id: &SessionId) -> Item {
    key(format!("ACC#{account_id}"), &format!("SES#{session_id}"))
}

pub(super) fn device_key(account_id: &AccountId, device_id: &DeviceId) -> Item {
    key(format!("ACC#{account_id}"), &format!("DEV#{device_id}"))
}

pub(super) fn challenge_key(id: &ChallengeId) -> Item {
    key(format!("MFA#{id}"), "MFA")
}

pub(super) fn captcha_key(id: &str) -> Item {
    key(format!("CAPTCHA#{id}"), "CAPTCHA")
}

pub(super) fn client_key(id: &ClientId) -> Item {
    key(format!("CLIENT#{}", id.as_str()), "CLIENT")
}

pub(super) fn interaction_key(id: &InteractionId) -> Item {
    key(format!("INT#{id}"), "INT")
}

pub(super) fn code_key(account_id: &AccountId, code_id: &CodeId) -> Item {
    key(format!("ACC#{account_id}"), &format!("CODE#{code_id}"))
}

pub(super) fn family_key(account_id: &AccountId, family_id: &FamilyId) -> Item {
    key(format!("ACC#{account_id}"), &format!("FAM#{family_id}"))
}

pub(super) fn consent_key(account_id: &AccountId, client_id: &ClientId) -> Item {
    key(format!("ACC#{account_id}"), &format!("CONSENT#{}", client_id.as_str()))
}
