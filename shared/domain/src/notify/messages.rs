//! The texts people receive, in each language of `i18n` (`shared/i18n/texts`).

use std::time::Duration;

use crate::{Language, VerificationCode};

/// A message for either channel: SMS sends `text`, email uses `subject` and `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub subject: String,
    pub text: String,
}

impl Message {
    fn from_texts(language: Language, name: &str, values: &[(&str, &str)]) -> Self {
        Message {
            subject: language.fill(&format!("message.{name}_subject"), values),
            text: language.fill(&format!("message.{name}_text"), values),
        }
    }

    pub fn verification_code(service: &str, code: &VerificationCode, lifetime: Duration, language: Language) -> Self {
        let minutes = lifetime.as_secs().div_ceil(60).to_string();
        Message::from_texts(language, "code", &[("service", service), ("code", code.as_str()), ("minutes", &minutes)])
    }
}

/// A security-relevant change the account's owner is told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecurityEvent {
    NewDeviceSignIn,
    PasswordReset,
    PasswordChanged,
    RecoveryContactAdded,
    RecoveryContactRemoved,
    TwoFactorOn,
    TwoFactorOff,
    RecoveryCodesRegenerated,
    AccountDeleted,
    /// Wrong second-factor codes reached the account's limit: someone may have the password.
    SecondFactorGuessed,
}

impl SecurityEvent {
    /// The key of its text under `event.` in the translation files.
    fn key(self) -> &'static str {
        use SecurityEvent::*;
        match self {
            NewDeviceSignIn => "event.new_device_sign_in",
            PasswordReset => "event.password_reset",
            PasswordChanged => "event.password_changed",
            RecoveryContactAdded => "event.recovery_contact_added",
            RecoveryContactRemoved => "event.recovery_contact_removed",
            TwoFactorOn => "event.two_factor_on",
            TwoFactorOff => "event.two_factor_off",
            RecoveryCodesRegenerated => "event.recovery_codes_regenerated",
            AccountDeleted => "event.account_deleted",
            SecondFactorGuessed => "event.second_factor_guessed",
        }
    }
}

impl Message {
    /// A notice of `event`; `detail` is already safe to show (a masked contact, an IP prefix).
    pub fn security_notice(service: &str, event: SecurityEvent, detail: &str, language: Language) -> Self {
        let detail = if detail.is_empty() { String::new() } else { format!(" ({detail})") };
        let event = language.text(event.key());
        Message::from_texts(language, "notice", &[("service", service), ("event", event), ("detail", &detail)])
    }

    /// Sent instead of a code when someone asks to sign up with a contact that
    /// already has an account: the owner learns of it, the asker learns nothing.
    pub fn account_exists(service: &str, language: Language) -> Self {
        Message::from_texts(language, "exists", &[("service", service)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_messages_name_the_service_the_code_and_the_lifetime() {
        let code = VerificationCode::parse("042917").unwrap();
        let en = Message::verification_code("Mi Account", &code, Duration::from_secs(600), Language::English);
        assert!(en.text.contains("042917") && en.text.contains("Mi Account") && en.text.contains("10 minutes"));
        assert!(en.subject.contains("Mi Account"));
        for language in [Language::SimplifiedChinese, Language::Hindi] {
            let text = Message::verification_code("Mi Account", &code, Duration::from_secs(600), language).text;
            assert!(text.contains("042917") && text.contains("10") && text.contains("Mi Account"), "{language:?}");
            assert_ne!(text, en.text, "{language:?} is translated");
        }
    }

    #[test]
    fn every_notice_has_its_own_text_in_every_language() {
        use SecurityEvent::*;
        let events = [
            NewDeviceSignIn,
            PasswordReset,
            PasswordChanged,
            RecoveryContactAdded,
            RecoveryContactRemoved,
            TwoFactorOn,
            TwoFactorOff,
            RecoveryCodesRegenerated,
            AccountDeleted,
            SecondFactorGuessed,
        ];
        for language in Language::ALL {
            let subjects: std::collections::BTreeSet<_> =
                events.iter().map(|e| Message::security_notice("Mi", *e, "", language).subject).collect();
            assert_eq!(subjects.len(), events.len(), "{language:?}");
            let with_detail = Message::security_notice("Mi", NewDeviceSignIn, "203.0.113.x", language);
            assert!(with_detail.text.contains("203.0.113.x") && !with_detail.text.contains("event."), "{language:?}");
        }
    }
}
