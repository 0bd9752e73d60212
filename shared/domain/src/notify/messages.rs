//! The texts people receive, in English and Simplified Chinese.

use std::time::Duration;

use crate::{Language, VerificationCode};

/// A message for either channel: SMS sends `text`, email uses `subject` and `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub subject: String,
    pub text: String,
}

impl Message {
    pub fn verification_code(service: &str, code: &VerificationCode, lifetime: Duration, language: Language) -> Self {
        let minutes = lifetime.as_secs().div_ceil(60);
        let code = code.as_str();
        match language {
            Language::English => Message {
                subject: format!("Your {service} verification code"),
                text: format!(
                    "{code} is your {service} verification code. It expires in {minutes} minutes. \
                     Never share it with anyone; {service} staff will never ask for it."
                ),
            },
            Language::SimplifiedChinese => Message {
                subject: format!("{service}验证码"),
                text: format!("【{service}】验证码：{code}，{minutes}分钟内有效。请勿将验证码告诉任何人，{service}工作人员不会向您索取。"),
            },
        }
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

impl Message {
    /// A notice of `event`; `detail` is already safe to show (a masked contact, an IP prefix).
    pub fn security_notice(service: &str, event: SecurityEvent, detail: &str, language: Language) -> Self {
        use SecurityEvent::*;
        let (en, zh) = match event {
            NewDeviceSignIn => ("New sign-in to your account", "您的账号在新设备上登录"),
            PasswordReset => ("Your password was reset", "您的密码已重置"),
            PasswordChanged => ("Your password was changed", "您的密码已修改"),
            RecoveryContactAdded => ("A recovery contact was added", "已添加安全联系方式"),
            RecoveryContactRemoved => ("A recovery contact was removed", "安全联系方式已移除"),
            TwoFactorOn => ("Two-factor authentication is on", "两步验证已开启"),
            TwoFactorOff => ("Two-factor authentication is off", "两步验证已关闭"),
            RecoveryCodesRegenerated => ("New recovery codes were created", "已生成新的恢复码"),
            AccountDeleted => ("Your account was deleted", "您的账号已注销"),
            SecondFactorGuessed => ("Many wrong verification codes were entered", "您的账号多次输入了错误的验证码"),
        };
        let detail = if detail.is_empty() { String::new() } else { format!(" ({detail})") };
        match language {
            Language::English => Message {
                subject: format!("{service}: {en}"),
                text: format!("{service}: {en}{detail}. If this wasn't you, reset your password now."),
            },
            Language::SimplifiedChinese => Message {
                subject: format!("{service}：{zh}"),
                text: format!("【{service}】{zh}{detail}。如非本人操作，请立即重置密码。"),
            },
        }
    }

    /// Sent instead of a code when someone asks to sign up with a contact that
    /// already has an account: the owner learns of it, the asker learns nothing.
    pub fn account_exists(service: &str, language: Language) -> Self {
        match language {
            Language::English => Message {
                subject: format!("You already have a {service}"),
                text: format!(
                    "Someone asked to create a {service} with this contact, which already belongs to an account. \
                     Sign in with it instead, or use \"Forgot password\". If this wasn't you, ignore this message."
                ),
            },
            Language::SimplifiedChinese => Message {
                subject: format!("您已有{service}"),
                text: format!("【{service}】有人尝试用此联系方式注册，但它已绑定账号。请直接登录，或使用“忘记密码”。如非本人操作，请忽略。"),
            },
        }
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
        let zh = Message::verification_code("Mi Account", &code, Duration::from_secs(600), Language::SimplifiedChinese);
        assert!(zh.text.contains("042917") && zh.text.contains("10分钟"));
    }
}
