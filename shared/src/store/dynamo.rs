//! The single-table DynamoDB implementation of `Store`.
//!
//! | item          | pk               | sk              |
//! |---------------|------------------|-----------------|
//! | verification  | `VER#<id>`       | `VER`           |
//! | cooldown      | `LIMIT#<key>`    | `COOLDOWN`      |
//! | window count  | `LIMIT#<key>`    | `W#<start>`     |
//! | contact owner | `ID#<contact>`   | `ID`            |
//! | account       | `ACC#<id>`       | `ACC`           |
//! | idempotency   | `IDEM#<hash>`    | `IDEM`          |
//! | session       | `ACC#<id>`       | `SES#<id>`      |
//! | remembered device | `ACC#<id>`   | `DEV#<id>`      |
//! | MFA challenge | `MFA#<id>`       | `MFA`           |
//! | used CAPTCHA  | `CAPTCHA#<id>`   | `CAPTCHA`       |
//!
//! Every item carries `ttl` (epoch seconds). TTL deletes lazily, so every read
//! still checks expiry itself.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, ConditionCheck, Delete, KeysAndAttributes, Put, ReturnValue,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;

use domain::account::{
    Account, AccountChange, PendingSecondFactor, SecondFactor, TokenClaim, TwoFactor, TwoFactorChange,
};
use domain::error::{Error, Result};
use domain::idempotency::IdempotencyRecord;
use domain::limits::{Found, Limit, LimitKey, Window};
use domain::second_factor::{MfaChallenge, MfaMethod, PendingReset, SecondFactorUse};
use domain::secret::KeyedHash;
use domain::session::{ClientInfo, DeviceRecord, SessionRecord};
use domain::store::{AccountStore, LimitStore, SessionStore, VerificationStore};
use domain::time::Timestamp;
use domain::two_factor::SecondFactorActivation;
use domain::verification::{Purpose, Verification, VerificationState};
use domain::{Channel, Contact, EmailAddress, PhoneNumber, VerificationId};

type Item = HashMap<String, AttributeValue>;

/// How long an item outlives the moment it stops mattering, so an operator can still look at it.
const TTL_GRACE_SECS: i64 = 3600;

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoStore { client, table: table.into() }
    }
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn key(pk: String, sk: &str) -> Item {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

fn verification_key(id: &VerificationId) -> Item {
    key(format!("VER#{}", id.as_str()), "VER")
}

fn cooldown_key(key_: &LimitKey) -> Item {
    key(format!("LIMIT#{}", key_.as_str()), "COOLDOWN")
}

fn window_key(key_: &LimitKey, window: Window) -> Item {
    key(format!("LIMIT#{}", key_.as_str()), &format!("W#{}", window.start.0))
}

fn contact_key(contact: &Contact) -> Item {
    key(format!("ID#{}", contact.canonical()), "ID")
}

fn account_key(id: &str) -> Item {
    key(format!("ACC#{id}"), "ACC")
}

fn idempotency_key(key_hash: &str) -> Item {
    key(format!("IDEM#{key_hash}"), "IDEM")
}

fn channel_name(channel: Channel) -> &'static str {
    match channel {
        Channel::Sms => "sms",
        Channel::Email => "email",
    }
}

fn channel_from(name: &str) -> Result<Channel> {
    match name {
        "sms" => Ok(Channel::Sms),
        "email" => Ok(Channel::Email),
        other => Err(Error::Internal(format!("stored channel {other}"))),
    }
}

fn session_key(account_id: &str, session_id: &str) -> Item {
    key(format!("ACC#{account_id}"), &format!("SES#{session_id}"))
}

fn device_key(account_id: &str, device_id: &str) -> Item {
    key(format!("ACC#{account_id}"), &format!("DEV#{device_id}"))
}

fn challenge_key(id: &str) -> Item {
    key(format!("MFA#{id}"), "MFA")
}

fn opt_s(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

fn opt_n<T: std::str::FromStr>(item: &Item, name: &str) -> Option<T> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok())
}

fn string_set(item: &Item, name: &str) -> Vec<String> {
    item.get(name).and_then(|v| v.as_ss().ok()).cloned().unwrap_or_default()
}

fn factor_name(factor: SecondFactor) -> &'static str {
    match factor {
        SecondFactor::Totp => "totp",
        SecondFactor::Sms => "sms",
    }
}

fn factor_from(name: &str) -> Result<SecondFactor> {
    match name {
        "totp" => Ok(SecondFactor::Totp),
        "sms" => Ok(SecondFactor::Sms),
        other => Err(Error::Internal(format!("stored second factor {other}"))),
    }
}

fn mfa_method_name(method: MfaMethod) -> &'static str {
    match method {
        MfaMethod::Totp => "totp",
        MfaMethod::Sms => "sms",
        MfaMethod::RecoveryCode => "recovery_code",
        MfaMethod::SecondContact => "second_contact",
    }
}

fn get_s<'a>(item: &'a Item, name: &str) -> Result<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v),
        _ => Err(Error::Internal(format!("stored item lacks string {name}"))),
    }
}

fn get_n<T: std::str::FromStr>(item: &Item, name: &str) -> Result<T> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().map_err(|_| Error::Internal(format!("stored {name} is not a number"))),
        _ => Err(Error::Internal(format!("stored item lacks number {name}"))),
    }
}

fn dynamo_error(operation: &str, err: impl std::error::Error) -> Error {
    Error::Internal(format!("DynamoDB {operation}: {}", aws_sdk_dynamodb::error::DisplayErrorContext(err)))
}

/// Builders fail only when a required field is missing: a bug, never bad input.
fn build_error(err: aws_sdk_dynamodb::error::BuildError) -> Error {
    Error::internal("building a DynamoDB request", err)
}

fn state_name(state: VerificationState) -> &'static str {
    match state {
        VerificationState::Pending => "pending",
        VerificationState::Verified => "verified",
        VerificationState::Consumed => "consumed",
    }
}

fn purpose_name(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::SignUp => "sign_up",
        Purpose::AddContact => "add_contact",
        Purpose::ResetPassword => "reset_password",
    }
}

fn verification_item(v: &Verification) -> Item {
    let mut item = verification_key(&v.id);
    item.extend([
        ("channel".to_owned(), s(channel_name(v.contact.channel()))),
        ("contact".to_owned(), s(v.contact.stored())),
        ("purpose".to_owned(), s(purpose_name(v.purpose))),
        ("code_hash".to_owned(), s(v.code_hash.to_hex())),
        ("attempts".to_owned(), n(v.attempts)),
        ("state".to_owned(), s(state_name(v.state))),
        ("created_at".to_owned(), n(v.created_at.0)),
        ("expires_at".to_owned(), n(v.expires_at.0)),
        ("contact_key".to_owned(), s(v.contact_key.as_str())),
        ("ttl".to_owned(), n(v.expires_at.0 + TTL_GRACE_SECS)),
    ]);
    item
}

fn verification_from_item(item: &Item) -> Result<Verification> {
    let id = VerificationId::parse(get_s(item, "pk")?.trim_start_matches("VER#"))
        .ok_or_else(|| Error::Internal("stored verification id".into()))?;
    let channel = channel_from(get_s(item, "channel")?)?;
    let purpose = match get_s(item, "purpose")? {
        "sign_up" => Purpose::SignUp,
        "add_contact" => Purpose::AddContact,
        "reset_password" => Purpose::ResetPassword,
        other => return Err(Error::Internal(format!("stored purpose {other}"))),
    };
    let state = match get_s(item, "state")? {
        "pending" => VerificationState::Pending,
        "verified" => VerificationState::Verified,
        "consumed" => VerificationState::Consumed,
        other => return Err(Error::Internal(format!("stored state {other}"))),
    };
    Ok(Verification {
        id,
        contact: Contact::from_stored(channel, get_s(item, "contact")?)?,
        purpose,
        code_hash: KeyedHash::from_hex(get_s(item, "code_hash")?)
            .ok_or_else(|| Error::Internal("stored code hash".into()))?,
        attempts: get_n(item, "attempts")?,
        state,
        created_at: Timestamp(get_n(item, "created_at")?),
        expires_at: Timestamp(get_n(item, "expires_at")?),
        contact_key: LimitKey::from_stored(get_s(item, "contact_key")?.to_owned()),
        token_hash: item
            .get("token_hash")
            .map(|_| get_s(item, "token_hash"))
            .transpose()?
            .and_then(KeyedHash::from_hex),
        token_expires_at: item
            .get("token_expires_at")
            .map(|_| get_n(item, "token_expires_at"))
            .transpose()?
            .map(Timestamp),
    })
}

fn account_item(account: &Account) -> Item {
    let mut item = account_key(&account.id);
    item.extend([
        ("password_hash".to_owned(), s(&account.password_hash)),
        ("primary_channel".to_owned(), s(channel_name(account.primary.channel()))),
        ("primary_contact".to_owned(), s(account.primary.stored())),
        ("created_at".to_owned(), n(account.created_at.0)),
        ("terms_version".to_owned(), s(&account.terms_version)),
        ("terms_accepted_at".to_owned(), n(account.terms_accepted_at.0)),
    ]);
    item
}

fn account_from_item(item: &Item) -> Result<Account> {
    let id = get_s(item, "pk")?.trim_start_matches("ACC#").to_owned();
    let primary =
        Contact::from_stored(channel_from(get_s(item, "primary_channel")?)?, get_s(item, "primary_contact")?)?;
    let recovery_phone = opt_s(item, "recovery_phone").map(|p| PhoneNumber::from_e164(&p)).transpose()?;
    let recovery_email = opt_s(item, "recovery_email").map(|e| EmailAddress::parse(&e)).transpose()?;
    let pending = match opt_s(item, "pending_nonce") {
        None => None,
        Some(nonce) => Some(PendingSecondFactor {
            nonce,
            method: factor_from(get_s(item, "pending_method")?)?,
            sealed_totp_secret: opt_s(item, "pending_totp_secret"),
            code_hash: opt_s(item, "pending_code_hash").and_then(|h| KeyedHash::from_hex(&h)),
            created_at: Timestamp(get_n(item, "pending_created_at")?),
            expires_at: Timestamp(get_n(item, "pending_expires_at")?),
            attempts: opt_n(item, "pending_attempts").unwrap_or(0),
        }),
    };
    Ok(Account {
        id,
        password_hash: get_s(item, "password_hash")?.to_owned(),
        primary,
        recovery_phone,
        recovery_email,
        created_at: Timestamp(get_n(item, "created_at")?),
        terms_version: get_s(item, "terms_version")?.to_owned(),
        terms_accepted_at: Timestamp(get_n(item, "terms_accepted_at")?),
        session_epoch: opt_n(item, "session_epoch").unwrap_or(0),
        device_epoch: opt_n(item, "device_epoch").unwrap_or(0),
        two_factor: TwoFactor {
            methods: string_set(item, "mfa_methods").iter().map(|m| factor_from(m)).collect::<Result<_>>()?,
            totp_secret: opt_s(item, "totp_secret"),
            totp_last_step: opt_n(item, "totp_last_step").unwrap_or(-1),
            recovery_codes: string_set(item, "recovery_codes"),
            pending,
        },
    })
}

fn session_item(session: &SessionRecord) -> Item {
    let mut item = session_key(&session.account_id, &session.id);
    item.extend([
        ("secret_hash".to_owned(), s(session.secret_hash.to_hex())),
        ("epoch".to_owned(), n(session.epoch)),
        ("created_at".to_owned(), n(session.created_at.0)),
        ("expires_at".to_owned(), n(session.expires_at.0)),
        ("ttl".to_owned(), n(session.expires_at.0 + TTL_GRACE_SECS)),
    ]);
    client_attributes(&mut item, &session.client);
    item
}

fn client_attributes(item: &mut Item, client: &ClientInfo) {
    if let Some(ip) = &client.ip {
        item.insert("client_ip".to_owned(), s(ip));
    }
    if let Some(agent) = &client.user_agent {
        item.insert("user_agent".to_owned(), s(agent));
    }
}

fn client_from(item: &Item) -> ClientInfo {
    ClientInfo { ip: opt_s(item, "client_ip"), user_agent: opt_s(item, "user_agent") }
}

fn session_from_item(item: &Item) -> Result<SessionRecord> {
    Ok(SessionRecord {
        account_id: get_s(item, "pk")?.trim_start_matches("ACC#").to_owned(),
        id: get_s(item, "sk")?.trim_start_matches("SES#").to_owned(),
        secret_hash: KeyedHash::from_hex(get_s(item, "secret_hash")?)
            .ok_or_else(|| Error::Internal("session hash".into()))?,
        epoch: get_n(item, "epoch")?,
        created_at: Timestamp(get_n(item, "created_at")?),
        expires_at: Timestamp(get_n(item, "expires_at")?),
        client: client_from(item),
    })
}

fn device_item(device: &DeviceRecord) -> Item {
    let mut item = device_key(&device.account_id, &device.id);
    item.extend([
        ("secret_hash".to_owned(), s(device.secret_hash.to_hex())),
        ("epoch".to_owned(), n(device.epoch)),
        ("created_at".to_owned(), n(device.created_at.0)),
        ("expires_at".to_owned(), n(device.expires_at.0)),
        ("ttl".to_owned(), n(device.expires_at.0 + TTL_GRACE_SECS)),
    ]);
    item
}

fn challenge_item(challenge: &MfaChallenge) -> Item {
    let mut item = challenge_key(&challenge.id);
    let methods = challenge.methods.iter().map(|m| s(mfa_method_name(*m))).collect();
    item.extend([
        ("account_id".to_owned(), s(&challenge.account_id)),
        ("methods".to_owned(), AttributeValue::L(methods)),
        ("attempts".to_owned(), n(challenge.attempts)),
        ("state".to_owned(), s("open")),
        ("expires_at".to_owned(), n(challenge.expires_at.0)),
        ("ttl".to_owned(), n(challenge.expires_at.0 + TTL_GRACE_SECS)),
    ]);
    client_attributes(&mut item, &challenge.client);
    if let Some(reset) = &challenge.reset {
        item.extend([
            ("reset_verification".to_owned(), s(reset.verification_id.as_str())),
            ("reset_token_hash".to_owned(), s(reset.token_hash.to_hex())),
            ("reset_password_hash".to_owned(), s(&reset.password_hash)),
        ]);
    }
    item
}

fn challenge_from_item(item: &Item) -> Result<MfaChallenge> {
    let methods = match item.get("methods") {
        Some(AttributeValue::L(list)) => list
            .iter()
            .map(|m| match m.as_s().map(String::as_str) {
                Ok("totp") => Ok(MfaMethod::Totp),
                Ok("sms") => Ok(MfaMethod::Sms),
                Ok("recovery_code") => Ok(MfaMethod::RecoveryCode),
                Ok("second_contact") => Ok(MfaMethod::SecondContact),
                _ => Err(Error::Internal("stored challenge method".into())),
            })
            .collect::<Result<_>>()?,
        _ => return Err(Error::Internal("stored challenge methods".into())),
    };
    Ok(MfaChallenge {
        id: get_s(item, "pk")?.trim_start_matches("MFA#").to_owned(),
        account_id: get_s(item, "account_id")?.to_owned(),
        methods,
        attempts: get_n(item, "attempts")?,
        expires_at: Timestamp(get_n(item, "expires_at")?),
        sms_code_hash: opt_s(item, "sms_code_hash").and_then(|h| KeyedHash::from_hex(&h)),
        client: client_from(item),
        reset: match opt_s(item, "reset_verification") {
            None => None,
            Some(id) => Some(PendingReset {
                verification_id: VerificationId::parse(&id)
                    .ok_or_else(|| Error::Internal("reset verification".into()))?,
                token_hash: KeyedHash::from_hex(get_s(item, "reset_token_hash")?)
                    .ok_or_else(|| Error::Internal("reset token hash".into()))?,
                password_hash: get_s(item, "reset_password_hash")?.to_owned(),
            }),
        },
    })
}

/// The cancellation reasons of a failed transaction, or the error itself when it failed otherwise.
fn cancellation(
    result: std::result::Result<
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsOutput,
        SdkError<TransactWriteItemsError, aws_sdk_dynamodb::config::http::HttpResponse>,
    >,
) -> Result<Option<(Vec<CancellationReason>, TransactWriteItemsError)>> {
    let err = match result {
        Ok(_) => return Ok(None),
        Err(SdkError::ServiceError(e)) => e.into_err(),
        Err(e) => return Err(dynamo_error("TransactWriteItems", e)),
    };
    match &err {
        TransactWriteItemsError::TransactionCanceledException(cancelled) => {
            Ok(Some((cancelled.cancellation_reasons().to_vec(), err)))
        }
        _ => Err(dynamo_error("TransactWriteItems", err)),
    }
}

fn refused(reasons: &[CancellationReason], index: usize) -> bool {
    reasons.get(index).and_then(|r| r.code()) == Some("ConditionalCheckFailed")
}

fn contact_owner_item(contact: &Contact, account_id: &str, role: &str, now: Timestamp) -> Item {
    let mut item = contact_key(contact);
    item.extend([
        ("account_id".to_owned(), s(account_id)),
        ("role".to_owned(), s(role)),
        ("created_at".to_owned(), n(now.0)),
    ]);
    item
}

/// The condition under which a verified token may be used, and the update that uses it.
fn consume_token(table: &str, claim: &TokenClaim) -> Result<Update> {
    Update::builder()
        .table_name(table)
        .set_key(Some(verification_key(&claim.verification.id)))
        .update_expression("SET #state = :consumed")
        .condition_expression("#state = :verified AND token_hash = :hash AND token_expires_at > :now")
        .expression_attribute_names("#state", "state")
        .expression_attribute_values(":consumed", s("consumed"))
        .expression_attribute_values(":verified", s("verified"))
        .expression_attribute_values(":hash", s(claim.token_hash.to_hex()))
        .expression_attribute_values(":now", n(claim.now.0))
        .build()
        .map_err(build_error)
}

fn put(table: &str, item: Item, condition: &str) -> Result<TransactWriteItem> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression(condition)
        .build()
        .map_err(build_error)?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// A cancelled transaction where no condition refused: DynamoDB saw a concurrent
/// transaction on the same items, which the client may simply retry.
fn cancelled_without_refusal(reasons: &[CancellationReason], err: &TransactWriteItemsError) -> Error {
    if reasons.iter().any(|r| r.code() == Some("TransactionConflict")) {
        Error::Conflict
    } else {
        dynamo_error("TransactWriteItems", err)
    }
}

impl DynamoStore {
    /// One transaction item per limit; the order matches `limits`, so a cancellation
    /// reason at index i names the limit that refused.
    fn limit_write(&self, limit: &Limit, now: Timestamp, keep_until: Timestamp) -> Result<TransactWriteItem> {
        let item = TransactWriteItem::builder();
        let built = match limit {
            Limit::Cooldown { key: k, until, latest } => item.update(
                Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(cooldown_key(k)))
                    .update_expression("SET #until = :until, #latest = :latest, #ttl = :ttl")
                    .condition_expression("attribute_not_exists(#until) OR #until <= :now")
                    .expression_attribute_names("#until", "until")
                    .expression_attribute_names("#latest", "latest")
                    .expression_attribute_names("#ttl", "ttl")
                    .expression_attribute_values(":until", n(until.0))
                    .expression_attribute_values(":latest", s(latest.as_str()))
                    .expression_attribute_values(":ttl", n(keep_until.0.max(until.0) + TTL_GRACE_SECS))
                    .expression_attribute_values(":now", n(now.0))
                    .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                    .build()
                    .map_err(build_error)?,
            ),
            // A refused difficulty names the difficulty its count needs, so it reads the count back.
            Limit::Quota { key: k, window, max } | Limit::Difficulty { key: k, window, max, .. } => item.update(
                Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(window_key(k, *window)))
                    .update_expression("ADD #count :one SET #ttl = :ttl")
                    .condition_expression("attribute_not_exists(#count) OR #count < :max")
                    .expression_attribute_names("#count", "count")
                    .expression_attribute_names("#ttl", "ttl")
                    .expression_attribute_values(":one", n(1))
                    .expression_attribute_values(":max", n(max))
                    .expression_attribute_values(":ttl", n(window.end.0 + TTL_GRACE_SECS))
                    .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                    .build()
                    .map_err(build_error)?,
            ),
            Limit::Ceiling { key: k, window, max } => item.condition_check(
                ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(window_key(k, *window)))
                    .condition_expression("attribute_not_exists(#count) OR #count < :max")
                    .expression_attribute_names("#count", "count")
                    .expression_attribute_values(":max", n(max))
                    .build()
                    .map_err(build_error)?,
            ),
            Limit::SingleUse { id, until } => {
                let mut record = key(format!("CAPTCHA#{id}"), "CAPTCHA");
                record.insert("ttl".to_owned(), n(until.0 + TTL_GRACE_SECS));
                return put(&self.table, record, "attribute_not_exists(pk)");
            }
        };
        Ok(built.build())
    }
}

#[async_trait]
impl VerificationStore for DynamoStore {
    async fn create_verification(&self, verification: &Verification, limits: &[Limit], now: Timestamp) -> Result<()> {
        let mut items = limits
            .iter()
            .map(|limit| self.limit_write(limit, now, verification.expires_at))
            .collect::<Result<Vec<_>>>()?;
        items.push(put(&self.table, verification_item(verification), "attribute_not_exists(pk)")?);

        let result = self.client.transact_write_items().set_transact_items(Some(items)).send().await;
        let err = match result {
            Ok(_) => return Ok(()),
            Err(SdkError::ServiceError(e)) => e.into_err(),
            Err(e) => return Err(dynamo_error("TransactWriteItems", e)),
        };
        let TransactWriteItemsError::TransactionCanceledException(cancelled) = &err else {
            return Err(dynamo_error("TransactWriteItems", err));
        };
        let refused = cancelled
            .cancellation_reasons()
            .iter()
            .zip(limits)
            .find(|(reason, _)| reason.code() == Some("ConditionalCheckFailed"));
        match refused {
            Some((reason, limit)) => {
                let found = Found {
                    until: reason.item().and_then(|item| get_n(item, "until").ok()).map(Timestamp),
                    count: reason.item().and_then(|item| get_n(item, "count").ok()),
                };
                Err(limit.refusal(now, found))
            }
            None => Err(cancelled_without_refusal(cancelled.cancellation_reasons(), &err)),
        }
    }

    async fn count_code_attempt(
        &self,
        id: &VerificationId,
        now: Timestamp,
        max_attempts: u32,
    ) -> Result<Option<Verification>> {
        self.count_attempt(verification_key(id), "pending", now, max_attempts)
            .await?
            .as_ref()
            .map(verification_from_item)
            .transpose()
    }

    async fn mark_verified(
        &self,
        verification: &Verification,
        token_hash: &KeyedHash,
        token_expires_at: Timestamp,
    ) -> Result<bool> {
        let newest = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(cooldown_key(&verification.contact_key)))
            .condition_expression("#latest = :id")
            .expression_attribute_names("#latest", "latest")
            .expression_attribute_values(":id", s(verification.id.as_str()))
            .build()
            .map_err(build_error)?;
        let verify = Update::builder()
            .table_name(&self.table)
            .set_key(Some(verification_key(&verification.id)))
            .update_expression("SET #state = :verified, token_hash = :hash, token_expires_at = :exp, #ttl = :ttl")
            .condition_expression("#state = :pending")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":verified", s("verified"))
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":hash", s(token_hash.to_hex()))
            .expression_attribute_values(":exp", n(token_expires_at.0))
            .expression_attribute_values(":ttl", n(token_expires_at.0 + TTL_GRACE_SECS))
            .build()
            .map_err(build_error)?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().condition_check(newest).build())
            .transact_items(TransactWriteItem::builder().update(verify).build())
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(true),
            Err(SdkError::ServiceError(e)) => e.into_err(),
            Err(e) => return Err(dynamo_error("TransactWriteItems", e)),
        };
        match &err {
            TransactWriteItemsError::TransactionCanceledException(cancelled)
                if cancelled.cancellation_reasons().iter().any(|r| r.code() == Some("ConditionalCheckFailed")) =>
            {
                Ok(false)
            }
            TransactWriteItemsError::TransactionCanceledException(cancelled) => {
                Err(cancelled_without_refusal(cancelled.cancellation_reasons(), &err))
            }
            _ => Err(dynamo_error("TransactWriteItems", err)),
        }
    }

    async fn verification(&self, id: &VerificationId) -> Result<Option<Verification>> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(verification_key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| dynamo_error("GetItem", e))?;
        output.item().map(verification_from_item).transpose()
    }
}

#[async_trait]
impl AccountStore for DynamoStore {
    async fn account_for_contact(&self, contact: &Contact) -> Result<Option<String>> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(contact_key(contact)))
            .send()
            .await
            .map_err(|e| dynamo_error("GetItem", e))?;
        output.item().map(|item| get_s(item, "account_id").map(str::to_owned)).transpose()
    }

    async fn create_account(
        &self,
        account: &Account,
        claim: &TokenClaim,
        idempotency: Option<&IdempotencyRecord>,
    ) -> Result<()> {
        let mut items = vec![
            TransactWriteItem::builder().update(consume_token(&self.table, claim)?).build(),
            put(
                &self.table,
                contact_owner_item(&account.primary, &account.id, "primary", account.created_at),
                "attribute_not_exists(pk)",
            )?,
            put(&self.table, account_item(account), "attribute_not_exists(pk)")?,
        ];
        if let Some(record) = idempotency {
            items.push(put(&self.table, idempotency_item(record), "attribute_not_exists(pk)")?);
        }
        let result = self.client.transact_write_items().set_transact_items(Some(items)).send().await;
        let err = match result {
            Ok(_) => return Ok(()),
            Err(SdkError::ServiceError(e)) => e.into_err(),
            Err(e) => return Err(dynamo_error("TransactWriteItems", e)),
        };
        let TransactWriteItemsError::TransactionCanceledException(cancelled) = &err else {
            return Err(dynamo_error("TransactWriteItems", err));
        };
        let reasons = cancelled.cancellation_reasons();
        let refused = |i: usize| reasons.get(i).and_then(|r| r.code()) == Some("ConditionalCheckFailed");
        if refused(0) || refused(3) {
            Err(Error::VerificationExpired)
        } else if refused(1) {
            Err(Error::AlreadyRegistered)
        } else {
            Err(cancelled_without_refusal(reasons, &err))
        }
    }

    async fn idempotency_record(&self, key_hash: &str) -> Result<Option<IdempotencyRecord>> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(idempotency_key(key_hash)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| dynamo_error("GetItem", e))?;
        let Some(item) = output.item() else { return Ok(None) };
        Ok(Some(IdempotencyRecord {
            key_hash: key_hash.to_owned(),
            request_hash: KeyedHash::from_hex(get_s(item, "request_hash")?)
                .ok_or_else(|| Error::Internal("stored request hash".into()))?,
            response: get_s(item, "response")?.to_owned(),
            expires_at: Timestamp(get_n(item, "expires_at")?),
        }))
    }

    async fn account(&self, id: &str) -> Result<Option<Account>> {
        self.get(account_key(id)).await?.as_ref().map(account_from_item).transpose()
    }

    async fn start_second_factor(
        &self,
        account_id: &str,
        pending: &PendingSecondFactor,
        resend_after: Duration,
    ) -> Result<bool> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(account_key(account_id)))
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(pending_created_at) OR pending_created_at <= :cutoff)",
            )
            .expression_attribute_values(":nonce", s(&pending.nonce))
            .expression_attribute_values(":method", s(factor_name(pending.method)))
            .expression_attribute_values(":created", n(pending.created_at.0))
            .expression_attribute_values(":expires", n(pending.expires_at.0))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":cutoff", n(pending.created_at.0 - resend_after.as_secs() as i64));
        let mut set = "SET pending_nonce = :nonce, pending_method = :method, pending_created_at = :created, \
                       pending_expires_at = :expires, pending_attempts = :zero"
            .to_owned();
        let mut remove = Vec::new();
        match &pending.sealed_totp_secret {
            Some(secret) => {
                set.push_str(", pending_totp_secret = :secret");
                update = update.expression_attribute_values(":secret", s(secret));
            }
            None => remove.push("pending_totp_secret"),
        }
        match &pending.code_hash {
            Some(hash) => {
                set.push_str(", pending_code_hash = :hash");
                update = update.expression_attribute_values(":hash", s(hash.to_hex()));
            }
            None => remove.push("pending_code_hash"),
        }
        let expression = format!("{set} REMOVE {}", remove.join(", "));
        conditional(update.update_expression(expression).send().await.map(|_| ()), "UpdateItem")
    }

    async fn count_second_factor_attempt(&self, account_id: &str, nonce: &str, max_attempts: u32) -> Result<bool> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(account_key(account_id)))
            .update_expression("ADD pending_attempts :one")
            .condition_expression("pending_nonce = :nonce AND pending_attempts < :max")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":nonce", s(nonce))
            .expression_attribute_values(":max", n(max_attempts))
            .send()
            .await;
        conditional(result.map(|_| ()), "UpdateItem")
    }

    async fn activate_second_factor(&self, account_id: &str, activation: &SecondFactorActivation) -> Result<bool> {
        let mut set = vec!["recovery_codes = :codes"];
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(account_key(account_id)))
            .condition_expression("pending_nonce = :nonce")
            .expression_attribute_values(":nonce", s(&activation.nonce))
            .expression_attribute_values(":codes", AttributeValue::Ss(activation.recovery_code_hashes.clone()))
            .expression_attribute_values(
                ":method",
                AttributeValue::Ss(vec![factor_name(activation.method).to_owned()]),
            );
        if let Some(secret) = &activation.sealed_totp_secret {
            set.push("totp_secret = :secret");
            update = update.expression_attribute_values(":secret", s(secret));
        }
        if let Some(step) = activation.totp_step {
            set.push("totp_last_step = :step");
            update = update.expression_attribute_values(":step", n(step));
        }
        let expression = format!(
            "SET {} ADD mfa_methods :method REMOVE pending_nonce, pending_method, pending_created_at, \
             pending_expires_at, pending_attempts, pending_totp_secret, pending_code_hash",
            set.join(", ")
        );
        conditional(update.update_expression(expression).send().await.map(|_| ()), "UpdateItem")
    }

    async fn add_recovery_contact(
        &self,
        account: &Account,
        claim: &TokenClaim,
        contact: &Contact,
        replaced: Option<&Contact>,
    ) -> Result<()> {
        let attribute = match contact.channel() {
            Channel::Sms => "recovery_phone",
            Channel::Email => "recovery_email",
        };
        let mut link = Update::builder()
            .table_name(&self.table)
            .set_key(Some(account_key(&account.id)))
            .update_expression("SET #recovery = :new")
            .expression_attribute_names("#recovery", attribute)
            .expression_attribute_values(":new", s(contact.stored()));
        // Guards against a concurrent change of the same recovery contact.
        link = match replaced {
            Some(old) => {
                link.condition_expression("#recovery = :old").expression_attribute_values(":old", s(old.stored()))
            }
            None => link.condition_expression("attribute_exists(pk) AND attribute_not_exists(#recovery)"),
        };
        let mut items = vec![
            TransactWriteItem::builder().update(consume_token(&self.table, claim)?).build(),
            put(
                &self.table,
                contact_owner_item(contact, &account.id, "recovery", claim.now),
                "attribute_not_exists(pk)",
            )?,
            TransactWriteItem::builder().update(link.build().map_err(build_error)?).build(),
        ];
        if let Some(old) = replaced {
            let free = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(contact_key(old)))
                .condition_expression("account_id = :me")
                .expression_attribute_values(":me", s(&account.id))
                .build()
                .map_err(build_error)?;
            items.push(TransactWriteItem::builder().delete(free).build());
        }
        let result = self.client.transact_write_items().set_transact_items(Some(items)).send().await;
        let Some((reasons, err)) = cancellation(result)? else { return Ok(()) };
        if refused(&reasons, 0) {
            Err(Error::VerificationExpired)
        } else if refused(&reasons, 1) {
            Err(Error::ContactInUse)
        } else if refused(&reasons, 2) || refused(&reasons, 3) {
            Err(Error::Conflict)
        } else {
            Err(cancelled_without_refusal(&reasons, &err))
        }
    }

    async fn change_account(&self, change: &AccountChange<'_>) -> Result<()> {
        let mut items = Vec::new();
        for claim in &change.tokens {
            items.push(TransactWriteItem::builder().update(consume_token(&self.table, claim)?).build());
        }
        let challenge_at = items.len();
        if let Some(id) = change.challenge {
            let close = Update::builder()
                .table_name(&self.table)
                .set_key(Some(challenge_key(id)))
                .update_expression("SET #state = :done")
                .condition_expression("#state = :open")
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(":done", s("done"))
                .expression_attribute_values(":open", s("open"))
                .build()
                .map_err(build_error)?;
            items.push(TransactWriteItem::builder().update(close).build());
        }
        let account_at = items.len();
        items.push(TransactWriteItem::builder().update(account_update(&self.table, change)?).build());
        if let Some(session) = change.keep_session {
            let mut kept = session.clone();
            kept.epoch = change.sign_out_everywhere.map_or(kept.epoch, |seen| seen + 1);
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(session_item(&kept)))
                .build()
                .map_err(build_error)?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        if let Some(contact) = change.remove_recovery {
            let free = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(contact_key(contact)))
                .condition_expression("account_id = :me")
                .expression_attribute_values(":me", s(change.account_id))
                .build()
                .map_err(build_error)?;
            items.push(TransactWriteItem::builder().delete(free).build());
        }
        let result = self.client.transact_write_items().set_transact_items(Some(items)).send().await;
        let Some((reasons, err)) = cancellation(result)? else { return Ok(()) };
        if (0..challenge_at).any(|i| refused(&reasons, i)) {
            Err(Error::VerificationExpired)
        } else if change.challenge.is_some() && refused(&reasons, challenge_at) {
            Err(Error::ChallengeExpired)
        } else if change.factor.is_some() && refused(&reasons, account_at) {
            Err(Error::InvalidCode { attempts_left: 0 })
        } else if reasons.iter().any(|r| r.code() == Some("ConditionalCheckFailed")) {
            Err(Error::Conflict)
        } else {
            Err(cancelled_without_refusal(&reasons, &err))
        }
    }

    async fn delete_account(&self, account: &Account, sessions: &[String], devices: &[String]) -> Result<()> {
        let delete = |key: Item, owned: bool| -> Result<TransactWriteItem> {
            let mut builder = Delete::builder().table_name(&self.table).set_key(Some(key));
            if owned {
                builder =
                    builder.condition_expression("account_id = :me").expression_attribute_values(":me", s(&account.id));
            }
            Ok(TransactWriteItem::builder().delete(builder.build().map_err(build_error)?).build())
        };
        let mut items = vec![delete(account_key(&account.id), false)?];
        for (contact, _) in account.contacts() {
            items.push(delete(contact_key(&contact), true)?);
        }
        let room = 100 - items.len();
        let others = sessions
            .iter()
            .map(|id| session_key(&account.id, id))
            .chain(devices.iter().map(|id| device_key(&account.id, id)));
        for key in others.take(room) {
            items.push(delete(key, false)?);
        }
        let result = self.client.transact_write_items().set_transact_items(Some(items)).send().await;
        match cancellation(result)? {
            None => Ok(()),
            Some((reasons, _)) if reasons.iter().any(|r| r.code() == Some("ConditionalCheckFailed")) => {
                Err(Error::Conflict)
            }
            Some((reasons, err)) => Err(cancelled_without_refusal(&reasons, &err)),
        }
    }
}

#[async_trait]
impl SessionStore for DynamoStore {
    async fn sign_in_lookup(
        &self,
        login: &Contact,
        failure_keys: &[LimitKey],
        window: Window,
    ) -> Result<(Option<String>, Vec<u32>)> {
        let owner_key = contact_key(login);
        let mut keys = vec![owner_key.clone()];
        keys.extend(failure_keys.iter().map(|k| window_key(k, window)));
        let items = self.batch_get(keys).await?;
        let find =
            |wanted: &Item| items.iter().find(|i| i.get("pk") == wanted.get("pk") && i.get("sk") == wanted.get("sk"));
        let owner = find(&owner_key).map(|i| get_s(i, "account_id").map(str::to_owned)).transpose()?;
        let counts = failure_keys
            .iter()
            .map(|k| find(&window_key(k, window)).and_then(|i| opt_n(i, "count")).unwrap_or(0))
            .collect();
        Ok((owner, counts))
    }

    async fn account_with_session(
        &self,
        account_id: &str,
        session_id: &str,
    ) -> Result<(Option<Account>, Option<SessionRecord>)> {
        let items = self.batch_get(vec![account_key(account_id), session_key(account_id, session_id)]).await?;
        let sk = |i: &Item| i.get("sk").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
        let account = items.iter().find(|i| sk(i) == "ACC").map(account_from_item).transpose()?;
        let session = items.iter().find(|i| sk(i).starts_with("SES#")).map(session_from_item).transpose()?;
        Ok((account, session))
    }

    async fn put_session(&self, session: &SessionRecord) -> Result<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(session_item(session)))
            .send()
            .await
            .map_err(|e| dynamo_error("PutItem", e))?;
        Ok(())
    }

    async fn delete_session(&self, account_id: &str, session_id: &str) -> Result<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(session_key(account_id, session_id)))
            .send()
            .await
            .map_err(|e| dynamo_error("DeleteItem", e))?;
        Ok(())
    }

    async fn device(&self, account_id: &str, device_id: &str) -> Result<Option<DeviceRecord>> {
        let Some(item) = self.get(device_key(account_id, device_id)).await? else { return Ok(None) };
        Ok(Some(DeviceRecord {
            account_id: account_id.to_owned(),
            id: device_id.to_owned(),
            secret_hash: KeyedHash::from_hex(get_s(&item, "secret_hash")?)
                .ok_or_else(|| Error::Internal("device hash".into()))?,
            epoch: get_n(&item, "epoch")?,
            created_at: Timestamp(get_n(&item, "created_at")?),
            expires_at: Timestamp(get_n(&item, "expires_at")?),
        }))
    }

    async fn put_challenge(&self, challenge: &MfaChallenge) -> Result<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(challenge_item(challenge)))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|e| dynamo_error("PutItem", e))?;
        Ok(())
    }

    async fn challenge(&self, id: &str) -> Result<Option<MfaChallenge>> {
        let item = self.get(challenge_key(id)).await?;
        match item {
            Some(item) if get_s(&item, "state")? == "open" => challenge_from_item(&item).map(Some),
            _ => Ok(None),
        }
    }

    async fn count_challenge_attempt(
        &self,
        id: &str,
        now: Timestamp,
        max_attempts: u32,
    ) -> Result<Option<MfaChallenge>> {
        self.count_attempt(challenge_key(id), "open", now, max_attempts)
            .await?
            .as_ref()
            .map(challenge_from_item)
            .transpose()
    }

    async fn set_challenge_sms(
        &self,
        id: &str,
        code_hash: &KeyedHash,
        now: Timestamp,
        resend_after: Duration,
    ) -> Result<bool> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(challenge_key(id)))
            .update_expression("SET sms_code_hash = :hash, sms_sent_at = :now")
            .condition_expression(
                "#state = :open AND expires_at > :now AND (attribute_not_exists(sms_sent_at) OR sms_sent_at <= :cutoff)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":hash", s(code_hash.to_hex()))
            .expression_attribute_values(":now", n(now.0))
            .expression_attribute_values(":open", s("open"))
            .expression_attribute_values(":cutoff", n(now.0 - resend_after.as_secs() as i64))
            .send()
            .await;
        conditional(result.map(|_| ()), "UpdateItem")
    }

    async fn complete_challenge(
        &self,
        challenge: &MfaChallenge,
        session: &SessionRecord,
        used: &SecondFactorUse,
        resealed_totp: Option<(&str, &str)>,
        device: Option<&DeviceRecord>,
    ) -> Result<()> {
        let close = Update::builder()
            .table_name(&self.table)
            .set_key(Some(challenge_key(&challenge.id)))
            .update_expression("SET #state = :done")
            .condition_expression("#state = :open")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":done", s("done"))
            .expression_attribute_values(":open", s("open"))
            .build()
            .map_err(build_error)?;
        let mut items = vec![
            TransactWriteItem::builder().update(close).build(),
            put(&self.table, session_item(session), "attribute_not_exists(pk)")?,
        ];
        let use_factor = Update::builder().table_name(&self.table).set_key(Some(account_key(&challenge.account_id)));
        let use_factor = match used {
            SecondFactorUse::TotpStep(step) => {
                let step_unused = "(attribute_not_exists(totp_last_step) OR totp_last_step < :step)";
                // Only over the sealed secret this sign-in opened: never brings back a TOTP that was
                // turned off or replaced meanwhile (two such sign-ins at once: the second is refused).
                let use_factor = use_factor.expression_attribute_values(":step", n(step));
                Some(match resealed_totp {
                    None => {
                        use_factor.update_expression("SET totp_last_step = :step").condition_expression(step_unused)
                    }
                    Some((was, resealed)) => use_factor
                        .update_expression("SET totp_last_step = :step, totp_secret = :resealed")
                        .condition_expression(format!("{step_unused} AND totp_secret = :was"))
                        .expression_attribute_values(":was", s(was))
                        .expression_attribute_values(":resealed", s(resealed)),
                })
            }
            SecondFactorUse::RecoveryCode(hash) => Some(
                use_factor
                    .update_expression("DELETE recovery_codes :set")
                    .condition_expression("contains(recovery_codes, :hash)")
                    .expression_attribute_values(":set", AttributeValue::Ss(vec![hash.clone()]))
                    .expression_attribute_values(":hash", s(hash)),
            ),
            SecondFactorUse::Sms => None,
        };
        if let Some(update) = use_factor {
            items.push(TransactWriteItem::builder().update(update.build().map_err(build_error)?).build());
        }
        if let Some(device) = device {
            items.push(put(&self.table, device_item(device), "attribute_not_exists(pk)")?);
        }
        let result = self.client.transact_write_items().set_transact_items(Some(items)).send().await;
        let Some((reasons, err)) = cancellation(result)? else { return Ok(()) };
        if refused(&reasons, 0) {
            Err(Error::ChallengeExpired)
        } else if !matches!(used, SecondFactorUse::Sms) && refused(&reasons, 2) {
            Err(Error::InvalidCode { attempts_left: 0 })
        } else {
            Err(cancelled_without_refusal(&reasons, &err))
        }
    }

    async fn sessions_and_devices(&self, account_id: &str) -> Result<(Vec<SessionRecord>, Vec<DeviceRecord>)> {
        let mut sessions = Vec::new();
        let mut devices = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(format!("ACC#{account_id}")))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| dynamo_error("Query", e))?;
            for item in output.items() {
                let sk = get_s(item, "sk")?;
                if sk.starts_with("SES#") {
                    sessions.push(session_from_item(item)?);
                } else if let Some(id) = sk.strip_prefix("DEV#") {
                    devices.push(DeviceRecord {
                        account_id: account_id.to_owned(),
                        id: id.to_owned(),
                        secret_hash: KeyedHash::from_hex(get_s(item, "secret_hash")?)
                            .ok_or_else(|| Error::Internal("device hash".into()))?,
                        epoch: get_n(item, "epoch")?,
                        created_at: Timestamp(get_n(item, "created_at")?),
                        expires_at: Timestamp(get_n(item, "expires_at")?),
                    });
                }
            }
            start = output.last_evaluated_key().cloned();
            if start.is_none() {
                return Ok((sessions, devices));
            }
        }
    }
}

#[async_trait]
impl LimitStore for DynamoStore {
    async fn count_failure(&self, key_: &LimitKey, window: Window) -> Result<()> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(window_key(key_, window)))
            .update_expression("ADD #count :one SET #ttl = :ttl")
            .expression_attribute_names("#count", "count")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":ttl", n(window.end.0 + TTL_GRACE_SECS))
            .send()
            .await
            .map_err(|e| dynamo_error("UpdateItem", e))?;
        Ok(())
    }

    async fn count_within(&self, key_: &LimitKey, window: Window, max: u32) -> Result<bool> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(window_key(key_, window)))
            .update_expression("ADD #count :one SET #ttl = :ttl")
            .condition_expression("attribute_not_exists(#count) OR #count < :max")
            .expression_attribute_names("#count", "count")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":max", n(max))
            .expression_attribute_values(":ttl", n(window.end.0 + TTL_GRACE_SECS))
            .send()
            .await;
        conditional(result.map(|_| ()), "UpdateItem")
    }

    async fn window_count(&self, key_: &LimitKey, window: Window) -> Result<u32> {
        Ok(self.get(window_key(key_, window)).await?.and_then(|item| opt_n(&item, "count")).unwrap_or(0))
    }
}

/// The one update of the account item an `AccountChange` makes, with every condition it needs.
fn account_update(table: &str, change: &AccountChange<'_>) -> Result<Update> {
    let mut set = Vec::new();
    let mut add = Vec::new();
    let mut remove = Vec::new();
    let mut delete = Vec::new();
    let mut conditions = vec!["attribute_exists(pk)".to_owned()];
    let mut update = Update::builder().table_name(table).set_key(Some(account_key(change.account_id)));
    if let Some(hash) = &change.password_hash {
        set.push("password_hash = :password");
        update = update.expression_attribute_values(":password", s(hash));
    }
    if let Some(seen) = change.sign_out_everywhere {
        set.push("session_epoch = :next_epoch");
        conditions.push("(attribute_not_exists(session_epoch) OR session_epoch = :seen_epoch)".into());
        update = update
            .expression_attribute_values(":next_epoch", n(seen + 1))
            .expression_attribute_values(":seen_epoch", n(seen));
    }
    if change.forget_devices {
        add.push("device_epoch :one");
        update = update.expression_attribute_values(":one", n(1));
    }
    match change.factor {
        Some(SecondFactorUse::TotpStep(step)) => {
            set.push("totp_last_step = :step");
            conditions.push("(attribute_not_exists(totp_last_step) OR totp_last_step < :step)".into());
            update = update.expression_attribute_values(":step", n(step));
        }
        Some(SecondFactorUse::RecoveryCode(hash)) if !matches!(change.two_factor, Some(TwoFactorChange::Off)) => {
            delete.push("recovery_codes :used_set");
            conditions.push("contains(recovery_codes, :used)".into());
            update = update
                .expression_attribute_values(":used_set", AttributeValue::Ss(vec![hash.clone()]))
                .expression_attribute_values(":used", s(hash));
        }
        Some(SecondFactorUse::RecoveryCode(hash)) => {
            conditions.push("contains(recovery_codes, :used)".into());
            update = update.expression_attribute_values(":used", s(hash));
        }
        _ => {}
    }
    match &change.two_factor {
        Some(TwoFactorChange::Off) => {
            remove.extend(["mfa_methods", "totp_secret", "totp_last_step", "recovery_codes"]);
        }
        Some(TwoFactorChange::NewRecoveryCodes(hashes)) => {
            set.push("recovery_codes = :codes");
            update = update.expression_attribute_values(":codes", AttributeValue::Ss(hashes.clone()));
        }
        None => {}
    }
    if let Some(contact) = change.remove_recovery {
        let attribute = match contact.channel() {
            Channel::Sms => "recovery_phone",
            Channel::Email => "recovery_email",
        };
        remove.push(attribute);
        conditions.push(format!("{attribute} = :removed"));
        update = update.expression_attribute_values(":removed", s(contact.stored()));
    }
    let mut expression = String::new();
    for (keyword, parts) in [("SET", &set), ("ADD", &add), ("REMOVE", &remove), ("DELETE", &delete)] {
        if !parts.is_empty() {
            expression.push_str(&format!("{keyword} {} ", parts.join(", ")));
        }
    }
    if expression.is_empty() {
        // Nothing but conditions (a challenge answered by SMS): touch nothing, still check the account.
        expression.push_str("SET account_checked_at = :checked ");
        update = update.expression_attribute_values(":checked", n(0));
    }
    update
        .update_expression(expression.trim_end())
        .condition_expression(conditions.join(" AND "))
        .build()
        .map_err(build_error)
}

impl DynamoStore {
    /// Counts one attempt at an item that is in `state`, unexpired and under `max_attempts`,
    /// returning it as counted; `None` when it is not. Counting comes before checking, so
    /// concurrent guesses cannot get past the limit.
    async fn count_attempt(&self, key: Item, state: &str, now: Timestamp, max_attempts: u32) -> Result<Option<Item>> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .update_expression("ADD attempts :one")
            .condition_expression("#state = :state AND attempts < :max AND expires_at > :now")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":state", s(state))
            .expression_attribute_values(":max", n(max_attempts))
            .expression_attribute_values(":now", n(now.0))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(output) => Ok(output.attributes().cloned()),
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), UpdateItemError::ConditionalCheckFailedException(_)) =>
            {
                Ok(None)
            }
            Err(e) => Err(dynamo_error("UpdateItem", e)),
        }
    }

    async fn get(&self, key: Item) -> Result<Option<Item>> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| dynamo_error("GetItem", e))?;
        Ok(output.item().cloned())
    }

    /// Several items in one round trip; keys DynamoDB leaves unprocessed are asked again.
    async fn batch_get(&self, keys: Vec<Item>) -> Result<Vec<Item>> {
        let mut wanted =
            Some(KeysAndAttributes::builder().set_keys(Some(keys)).consistent_read(true).build().map_err(build_error)?);
        let mut found = Vec::new();
        while let Some(request) = wanted.take() {
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(|e| dynamo_error("BatchGetItem", e))?;
            if let Some(items) = output.responses().and_then(|r| r.get(&self.table)) {
                found.extend(items.iter().cloned());
            }
            wanted =
                output.unprocessed_keys().and_then(|u| u.get(&self.table)).filter(|k| !k.keys().is_empty()).cloned();
        }
        Ok(found)
    }
}

/// A conditional write: `false` when its condition refused it.
fn conditional<E>(
    result: std::result::Result<(), SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>>,
    operation: &str,
) -> Result<bool>
where
    E: std::error::Error + aws_sdk_dynamodb::error::ProvideErrorMetadata + Send + Sync + 'static,
{
    match result {
        Ok(()) => Ok(true),
        Err(SdkError::ServiceError(e)) if e.err().code() == Some("ConditionalCheckFailedException") => Ok(false),
        Err(e) => Err(dynamo_error(operation, e)),
    }
}

fn idempotency_item(record: &IdempotencyRecord) -> Item {
    let mut item = idempotency_key(&record.key_hash);
    item.extend([
        ("request_hash".to_owned(), s(record.request_hash.to_hex())),
        ("response".to_owned(), s(&record.response)),
        ("expires_at".to_owned(), n(record.expires_at.0)),
        ("ttl".to_owned(), n(record.expires_at.0 + TTL_GRACE_SECS)),
    ]);
    item
}
