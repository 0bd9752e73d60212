//! What a signed-in person manages on the account page: password, recovery contacts,
//! two-factor authentication, sessions and devices, and deleting the account.

use std::net::IpAddr;

use rand::{CryptoRng, RngCore};

use super::account::{Account, AccountChange, TwoFactorChange};
use super::limits::{self, LimitKey, Window, FAILURE_WINDOW};
use super::password::Password;
use super::second_factor::{check_second_factor, counted_check, recovery_code_hash, MfaMethod, SecondFactorUse};
use super::session::Authenticated;
use super::two_factor::recovery_codes;
use super::{Channel, DeviceId, Language, SessionId};
use crate::error::{Error, Result};
use crate::notices;
use crate::notify::SecurityEvent;
use crate::time::Timestamp;
use crate::Services;

/// Checks the account's password, throttled like sign-in so a stolen session cannot guess it:
/// the attempt is counted before argon2 runs and given back when the password was right.
async fn check_password(services: &Services, account: &Account, password: &Password, now: Timestamp) -> Result<()> {
    let key = LimitKey::new(&services.config.secret, "password-check", account.id.as_str());
    let window = Window::containing(now, FAILURE_WINDOW);
    let budget = [(key.clone(), services.config.sign_in_failures_per_login)];
    limits::count_attempt(&*services.store, &budget, window, now).await?;
    if !services.config.password_hasher.verify(password, &account.password_hash)? {
        return Err(Error::InvalidCredentials);
    }
    services.store.refund(&[key], window).await;
    Ok(())
}

pub async fn change_password(
    services: &Services,
    signed_in: &Authenticated,
    current: &Password,
    new: &Password,
    language: Language,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<()> {
    let account = &signed_in.account;
    check_password(services, account, current, now).await?;
    services.config.password_policy.check(new, &account.primary)?;
    let notices = notices::security_event(services, account, SecurityEvent::PasswordChanged, "", language, now, rng);
    let change = AccountChange {
        password_hash: Some(services.config.password_hasher.hash(new)?),
        sign_out_everywhere: Some(account.session_epoch),
        forget_devices: true,
        keep_session: Some(&signed_in.session),
        outbox: &notices,
        ..AccountChange::of(&account.id)
    };
    services.store.change_account(&change).await
}

pub async fn remove_recovery_contact(
    services: &Services,
    signed_in: &Authenticated,
    kind: &str,
    proof: &Proof,
    language: Language,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<()> {
    let account = &signed_in.account;
    let channel = match kind {
        "phone" => Channel::Sms,
        "email" => Channel::Email,
        _ => return Err(Error::NotFound),
    };
    let Some(contact) = account.recovery(channel) else {
        return Err(if account.primary.channel() == channel { Error::PrimaryContact } else { Error::NotFound });
    };
    let used = prove(services, account, proof, language, now, rng).await?;
    let event = SecurityEvent::RecoveryContactRemoved;
    // Told at the contacts it has before the change: the one removed hears of it too.
    let notices = notices::security_event(services, account, event, &contact.masked(), language, now, rng);
    let change = AccountChange {
        factor: used.as_ref(),
        remove_recovery: Some(&contact),
        outbox: &notices,
        ..AccountChange::of(&account.id)
    };
    services.store.change_account(&change).await
}

/// What every change to how the account is signed in to or recovered needs besides the
/// session, so a stolen session token alone changes none of it: the password, or a current
/// second factor (an authenticator code or an unused recovery code) when 2FA is on.
pub enum Proof {
    Password(Password),
    Code(String),
}

async fn prove(
    services: &Services,
    account: &Account,
    proof: &Proof,
    language: Language,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<Option<SecondFactorUse>> {
    match proof {
        Proof::Password(password) => check_password(services, account, password, now).await.map(|()| None),
        Proof::Code(code) => {
            let check = || {
                for method in [MfaMethod::Totp, MfaMethod::RecoveryCode] {
                    if let Some(used) = check_second_factor(services, account, method, code, None, now)? {
                        return Ok(Some(used));
                    }
                }
                Ok(None)
            };
            let used = counted_check(services, account, language, now, rng, check).await?;
            used.map(Some).ok_or(Error::InvalidCode { attempts_left: 0 })
        }
    }
}

/// Checks `proof` and at once uses up the second factor it names, if any: for a change whose
/// own write cannot carry it (adding a recovery contact, starting a 2FA setup). The write is
/// conditional, so a replayed code is refused; a change then refused leaves the code used.
pub(crate) async fn prove_now(
    services: &Services,
    account: &Account,
    proof: &Proof,
    language: Language,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<()> {
    if let Some(used) = prove(services, account, proof, language, now, rng).await? {
        let change = AccountChange { factor: Some(&used), ..AccountChange::of(&account.id) };
        services.store.change_account(&change).await?;
    }
    Ok(())
}

pub async fn disable_two_factor(
    services: &Services,
    signed_in: &Authenticated,
    proof: &Proof,
    language: Language,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<()> {
    let account = &signed_in.account;
    if !account.two_factor_enabled() {
        return Ok(());
    }
    let used = prove(services, account, proof, language, now, rng).await?;
    let notices = notices::security_event(services, account, SecurityEvent::TwoFactorOff, "", language, now, rng);
    // Remembered devices are forgotten, so turning 2FA on again does not bring them back.
    let change = AccountChange {
        factor: used.as_ref(),
        two_factor: Some(TwoFactorChange::Off),
        forget_devices: true,
        outbox: &notices,
        ..AccountChange::of(&account.id)
    };
    services.store.change_account(&change).await
}

#[derive(Debug)]
pub struct NewRecoveryCodes {
    pub recovery_codes: Vec<String>,
}

pub async fn regenerate_recovery_codes(
    services: &Services,
    signed_in: &Authenticated,
    proof: &Proof,
    language: Language,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<NewRecoveryCodes> {
    let account = &signed_in.account;
    if !account.two_factor_enabled() {
        return Err(Error::InvalidRequest("two-factor authentication is off".into()));
    }
    let used = prove(services, account, proof, language, now, rng).await?;
    let codes = recovery_codes(rng);
    let event = SecurityEvent::RecoveryCodesRegenerated;
    let notices = notices::security_event(services, account, event, "", language, now, rng);
    let hashes = codes.iter().map(|c| recovery_code_hash(services, &account.id, c)).collect();
    let change = AccountChange {
        // A recovery code that proved this is replaced anyway, so it is checked, not removed.
        factor: used.as_ref(),
        two_factor: Some(TwoFactorChange::NewRecoveryCodes(hashes)),
        outbox: &notices,
        ..AccountChange::of(&account.id)
    };
    services.store.change_account(&change).await?;
    Ok(NewRecoveryCodes { recovery_codes: codes })
}

#[derive(Debug)]
pub struct SessionView {
    pub id: String,
    /// `session` (signed in) or `device` (remembered, skips the second factor).
    pub kind: &'static str,
    pub created_at: i64,
    pub expires_at: i64,
    pub user_agent: Option<String>,
    /// Only the network, never the full address.
    pub client_network: Option<String>,
    pub current: bool,
}

#[derive(Debug)]
pub struct SessionsView {
    pub sessions: Vec<SessionView>,
}

/// `198.51.100.7` → `198.51.100.0/24`; IPv6 to its /48.
pub fn coarse_ip(ip: &str) -> Option<String> {
    match ip.parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            Some(format!("{a}.{b}.{c}.0/24"))
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            Some(format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2]))
        }
    }
}

pub async fn list_sessions(services: &Services, signed_in: &Authenticated, now: Timestamp) -> Result<SessionsView> {
    let account = &signed_in.account;
    let (sessions, devices) = services.store.sessions_and_devices(&account.id).await?;
    let mut views: Vec<SessionView> = sessions
        .into_iter()
        .filter(|s| s.epoch == account.session_epoch && s.expires_at > now)
        .map(|s| SessionView {
            current: s.id == signed_in.session.id,
            id: s.id.to_string(),
            kind: "session",
            created_at: s.created_at.0,
            expires_at: s.expires_at.0,
            client_network: s.client.ip.as_deref().and_then(coarse_ip),
            user_agent: s.client.user_agent,
        })
        .collect();
    views.extend(devices.into_iter().filter(|d| d.epoch == account.device_epoch && d.expires_at > now).map(|d| {
        SessionView {
            id: d.id.to_string(),
            kind: "device",
            created_at: d.created_at.0,
            expires_at: d.expires_at.0,
            user_agent: None,
            client_network: None,
            current: false,
        }
    }));
    Ok(SessionsView { sessions: views })
}

/// Ends a session or forgets a remembered device, by the id the list shows for either.
pub async fn revoke_session(services: &Services, signed_in: &Authenticated, id: &str) -> Result<()> {
    // An id of another shape names nothing this account could have.
    let (Some(session), Some(device)) = (SessionId::parse(id), DeviceId::parse(id)) else {
        return Err(Error::NotFound);
    };
    services.store.revoke(&signed_in.account.id, &session, &device).await
}

pub async fn sign_out_everywhere(services: &Services, signed_in: &Authenticated) -> Result<()> {
    let account = &signed_in.account;
    let change = AccountChange {
        sign_out_everywhere: Some(account.session_epoch),
        forget_devices: true,
        ..AccountChange::of(&account.id)
    };
    services.store.change_account(&change).await
}

pub async fn delete_account(
    services: &Services,
    signed_in: &Authenticated,
    password: &Password,
    code: Option<&str>,
    language: Language,
    now: Timestamp,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<()> {
    let account = &signed_in.account;
    check_password(services, account, password, now).await?;
    if account.two_factor_enabled() {
        let code = code.ok_or_else(|| Error::InvalidRequest("code (a current second factor) is required".into()))?;
        prove(services, account, &Proof::Code(code.to_owned()), language, now, rng).await?;
    }
    let (sessions, devices) = services.store.sessions_and_devices(&account.id).await?;
    let sessions: Vec<SessionId> = sessions.into_iter().map(|s| s.id).collect();
    let devices: Vec<DeviceId> = devices.into_iter().map(|d| d.id).collect();
    let notices = notices::security_event(services, account, SecurityEvent::AccountDeleted, "", language, now, rng);
    services.store.delete_account(account, &sessions, &devices, &notices).await
}

#[cfg(test)]
mod tests {
    use super::coarse_ip;

    #[test]
    fn client_addresses_are_shown_coarsely() {
        assert_eq!(coarse_ip("198.51.100.7").as_deref(), Some("198.51.100.0/24"));
        assert_eq!(coarse_ip("2001:db8:85a3::8a2e:370:7334").as_deref(), Some("2001:db8:85a3::/48"));
        assert_eq!(coarse_ip("nonsense"), None);
    }
}
