//! How each kind of item is written and read back: attribute names and the stored names of enums.

use aws_sdk_dynamodb::types::AttributeValue;

use domain::account::{Account, PendingSecondFactor, SecondFactor, TwoFactor};
use domain::error::{Error, Result};
use domain::idempotency::IdempotencyRecord;
use domain::limits::LimitKey;
use domain::oidc::decision::Amr;
use domain::password::PasswordHash;
use domain::second_factor::{MfaChallenge, MfaMethod, PendingReset};
use domain::secret::KeyedHash;
use domain::session::{ClientInfo, DeviceRecord, SessionRecord};
use domain::time::Timestamp;
use domain::verification::{Purpose, Verification, VerificationState};
use domain::{
    AccountId, ChallengeId, Channel, Contact, DeviceId, EmailAddress, PhoneNumber, SessionId, VerificationId,
};

use super::keys::{
    account_key, challenge_key, contact_key, device_key, idempotency_key, n, s, session_key, verification_key,
};
use super::{Item, TTL_GRACE_SECS};

pub(super) fn get_s<'a>(item: &'a Item, name: &str) -> Result<&'a str> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Ok(v),
        _ => Err(Error::Internal(format!("stored item lacks string {name}"))),
    }
}

pub(super) fn get_n<T: std::str::FromStr>(item: &Item, name: &str) -> Result<T> {
    match item.get(name) {
        Some(AttributeValue::N(v)) => v.parse().map_err(|_| Error::Internal(format!("stored {name} is not a number"))),
        _ => Err(Error::Internal(format!("stored item lacks number {name}"))),
    }
}

pub(super) fn opt_s(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

pub(super) fn opt_n<T: std::str::FromStr>(item: &Item, name: &str) -> Option<T> {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok())
}

fn string_set(item: &Item, name: &str) -> Vec<String> {
    item.get(name).and_then(|v| v.as_ss().ok()).cloned().unwrap_or_default()
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

/// The attribute of the account item that holds its recovery contact of `channel`.
pub(super) fn recovery_attribute(channel: Channel) -> &'static str {
    match channel {
        Channel::Sms => "recovery_phone",
        Channel::Email => "recovery_email",
    }
}

pub(super) fn factor_name(factor: SecondFactor) -> &'static str {
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

fn state_name(state: &VerificationState) -> &'static str {
    match state {
        VerificationState::Pending => "pending",
        VerificationState::Verified { .. } => "verified",
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

pub(super) fn verification_item(v: &Verification) -> Item {
    let mut item = verification_key(&v.id);
    item.extend([
        ("channel".to_owned(), s(channel_name(v.contact.channel()))),
        ("contact".to_owned(), s(v.contact.stored())),
        ("purpose".to_owned(), s(purpose_name(v.purpose))),
        ("code_hash".to_owned(), s(v.code_hash.to_hex())),
        ("attempts".to_owned(), n(v.attempts)),
        ("state".to_owned(), s(state_name(&v.state))),
        ("created_at".to_owned(), n(v.created_at.0)),
        ("expires_at".to_owned(), n(v.expires_at.0)),
        ("contact_key".to_owned(), s(v.contact_key.as_str())),
        ("ttl".to_owned(), n(v.expires_at.0 + TTL_GRACE_SECS)),
    ]);
    item
}

pub(super) fn verification_from_item(item: &Item) -> Result<Verification> {
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
        "verified" => VerificationState::Verified {
            token_hash: KeyedHash::from_hex(get_s(item, "token_hash")?)
                .ok_or_else(|| Error::Internal("stored token hash".into()))?,
            token_expires_at: Timestamp(get_n(item, "token_expires_at")?),
        },
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
    })
}

pub(super) fn contact_owner_item(contact: &Contact, account_id: &AccountId, role: &str, now: Timestamp) -> Item {
    let mut item = contact_key(contact);
    item.extend([
        ("account_id".to_owned(), s(account_id.as_str())),
        ("role".to_owned(), s(role)),
        ("created_at".to_owned(), n(now.0)),
    ]);
    item
}

pub(super) fn account_item(account: &Account) -> Item {
    let mut item = account_key(&account.id);
    item.extend([
        ("password_hash".to_owned(), s(account.password_hash.as_str())),
        ("primary_channel".to_owned(), s(channel_name(account.primary.channel()))),
        ("primary_contact".to_owned(), s(account.primary.stored())),
        ("created_at".to_owned(), n(account.created_at.0)),
        ("terms_version".to_owned(), s(&account.terms_version)),
        ("terms_accepted_at".to_owned(), n(account.terms_accepted_at.0)),
    ]);
    item
}

/// The account that a contact's owner item names.
pub(super) fn stored_owner(item: &Item) -> Result<AccountId> {
    get_s(item, "account_id").map(|id| AccountId::stored(id.to_owned()))
}

pub(super) fn account_from_item(item: &Item) -> Result<Account> {
    let id = AccountId::stored(get_s(item, "pk")?.trim_start_matches("ACC#").to_owned());
    let primary =
        Contact::from_stored(channel_from(get_s(item, "primary_channel")?)?, get_s(item, "primary_contact")?)?;
    let recovery_phone = opt_s(item, "recovery_phone").map(|p| PhoneNumber::from_stored(&p)).transpose()?;
    let recovery_email = opt_s(item, "recovery_email").map(|e| EmailAddress::from_stored(&e)).transpose()?;
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
        password_hash: PasswordHash::stored(get_s(item, "password_hash")?.to_owned()),
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

pub(super) fn idempotency_item(record: &IdempotencyRecord) -> Item {
    let mut item = idempotency_key(&record.key_hash);
    item.extend([
        ("request_hash".to_owned(), s(record.request_hash.to_hex())),
        ("response".to_owned(), s(&record.response)),
        ("expires_at".to_owned(), n(record.expires_at.0)),
        ("ttl".to_owned(), n(record.expires_at.0 + TTL_GRACE_SECS)),
    ]);
    item
}

pub(super) fn idempotency_from_item(key_hash: &str, item: &Item) -> Result<IdempotencyRecord> {
    Ok(IdempotencyRecord {
        key_hash: key_hash.to_owned(),
        request_hash: KeyedHash::from_hex(get_s(item, "request_hash")?)
            .ok_or_else(|| Error::Internal("stored request hash".into()))?,
        response: get_s(item, "response")?.to_owned(),
        expires_at: Timestamp(get_n(item, "expires_at")?),
    })
}

pub(super) fn session_item(session: &SessionRecord) -> Item {
    let mut item = session_key(&session.account_id, &session.id);
    item.extend([
        ("secret_hash".to_owned(), s(session.secret_hash.to_hex())),
        ("epoch".to_owned(), n(session.epoch)),
        ("created_at".to_owned(), n(session.created_at.0)),
        ("expires_at".to_owned(), n(session.expires_at.0)),
        ("ttl".to_owned(), n(session.expires_at.0 + TTL_GRACE_SECS)),
        ("amr".to_owned(), s(session.amr.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(" "))),
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

pub(super) fn session_from_item(item: &Item) -> Result<SessionRecord> {
    Ok(SessionRecord {
        account_id: AccountId::stored(get_s(item, "pk")?.trim_start_matches("ACC#").to_owned()),
        id: SessionId::stored(get_s(item, "sk")?.trim_start_matches("SES#").to_owned()),
        secret_hash: KeyedHash::from_hex(get_s(item, "secret_hash")?)
            .ok_or_else(|| Error::Internal("session hash".into()))?,
        epoch: get_n(item, "epoch")?,
        created_at: Timestamp(get_n(item, "created_at")?),
        expires_at: Timestamp(get_n(item, "expires_at")?),
        client: client_from(item),
        // Sessions from before `amr` was kept: `pwd` is what can be said of every one of them.
        amr: opt_s(item, "amr").map_or_else(|| vec![Amr::Pwd], |text| text.split(' ').filter_map(Amr::parse).collect()),
    })
}

pub(super) fn device_item(device: &DeviceRecord) -> Item {
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

/// The device `device_id` of `account_id`, as `item` holds it.
pub(super) fn device_from_item(account_id: &AccountId, device_id: &DeviceId, item: &Item) -> Result<DeviceRecord> {
    Ok(DeviceRecord {
        account_id: account_id.clone(),
        id: device_id.clone(),
        secret_hash: KeyedHash::from_hex(get_s(item, "secret_hash")?)
            .ok_or_else(|| Error::Internal("device hash".into()))?,
        epoch: get_n(item, "epoch")?,
        created_at: Timestamp(get_n(item, "created_at")?),
        expires_at: Timestamp(get_n(item, "expires_at")?),
    })
}

pub(super) fn challenge_item(challenge: &MfaChallenge) -> Item {
    let mut item = challenge_key(&challenge.id);
    let methods = challenge.methods.iter().map(|m| s(mfa_method_name(*m))).collect();
    item.extend([
        ("account_id".to_owned(), s(challenge.account_id.as_str())),
        ("methods".to_owned(), AttributeValue::L(methods)),
        ("attempts".to_owned(), n(challenge.attempts)),
        ("epoch".to_owned(), n(challenge.epoch)),
        ("state".to_owned(), s("open")),
        ("expires_at".to_owned(), n(challenge.expires_at.0)),
        ("ttl".to_owned(), n(challenge.expires_at.0 + TTL_GRACE_SECS)),
    ]);
    client_attributes(&mut item, &challenge.client);
    if let Some(reset) = &challenge.reset {
        item.extend([
            ("reset_verification".to_owned(), s(reset.verification_id.as_str())),
            ("reset_token_hash".to_owned(), s(reset.token_hash.to_hex())),
            ("reset_password_hash".to_owned(), s(reset.password_hash.as_str())),
        ]);
    }
    item
}

pub(super) fn challenge_from_item(item: &Item) -> Result<MfaChallenge> {
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
        id: ChallengeId::stored(get_s(item, "pk")?.trim_start_matches("MFA#").to_owned()),
        account_id: AccountId::stored(get_s(item, "account_id")?.to_owned()),
        methods,
        attempts: get_n(item, "attempts")?,
        epoch: opt_n(item, "epoch").unwrap_or(0),
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
                password_hash: PasswordHash::stored(get_s(item, "reset_password_hash")?.to_owned()),
            }),
        },
    })
}
