//! The password rules of the sign-up page; `hashing` stores passwords as argon2id.

mod hashing;

pub use hashing::{PasswordHash, PasswordHasherConfig};

use unicode_normalization::UnicodeNormalization;
use zxcvbn::matching::patterns::MatchPattern;

use crate::error::{Error, Result};
use crate::Contact;

/// A rule a password broke; `shared::api` names them for the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Violation {
    TooShort,
    TooLong,
    MissingUppercase,
    MissingLowercase,
    MissingDigit,
    MissingSymbol,
    CommonPassword,
    ContainsLogin,
    InvalidCharacter,
}

/// A password as the person typed it, NFKC-normalised (NIST SP 800-63B) so the same
/// password typed on two keyboards is the same password. Never printed.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub fn new(text: &str) -> Self {
        Password(text.nfkc().collect())
    }

    fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(..)")
    }
}

#[derive(Debug, Clone, Copy)]
pub struct PasswordPolicy {
    pub min_chars: usize,
    pub max_chars: usize,
    /// Upper, lower, digit and symbol. The product's rule; NIST advises against it,
    /// so it is a switch (`PASSWORD_REQUIRE_COMPOSITION`). Length, blocklist and
    /// login checks always apply.
    pub require_composition: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy { min_chars: 8, max_chars: 128, require_composition: true }
    }
}

impl Violation {
    /// The key of the rule's text in the translation files (`violation.`).
    pub fn key(self) -> &'static str {
        match self {
            Violation::TooShort => "violation.too_short",
            Violation::TooLong => "violation.too_long",
            Violation::MissingUppercase => "violation.missing_uppercase",
            Violation::MissingLowercase => "violation.missing_lowercase",
            Violation::MissingDigit => "violation.missing_digit",
            Violation::MissingSymbol => "violation.missing_symbol",
            Violation::CommonPassword => "violation.common_password",
            Violation::ContainsLogin => "violation.contains_login",
            Violation::InvalidCharacter => "violation.invalid_character",
        }
    }
}

impl PasswordPolicy {
    /// The rules a sign-up page lists (and ticks off as the person types): those a person can
    /// see in what they typed, in the order the page shows them.
    pub fn visible_rules(&self) -> Vec<Violation> {
        let mut rules = vec![Violation::TooShort];
        if self.require_composition {
            rules.extend([
                Violation::MissingUppercase,
                Violation::MissingLowercase,
                Violation::MissingDigit,
                Violation::MissingSymbol,
            ]);
        }
        rules
    }

    /// Every rule `password` breaks, so a form can show them all at once.
    pub fn violations(&self, password: &Password, login: &Contact) -> Vec<Violation> {
        let text = password.as_str();
        let chars = text.chars().count();
        let mut found = Vec::new();
        if chars < self.min_chars {
            found.push(Violation::TooShort);
        }
        if chars > self.max_chars {
            found.push(Violation::TooLong);
        }
        if self.require_composition {
            type CharTest = fn(char) -> bool;
            let rules: [(CharTest, Violation); 4] = [
                (char::is_uppercase, Violation::MissingUppercase),
                (char::is_lowercase, Violation::MissingLowercase),
                (|c| c.is_ascii_digit(), Violation::MissingDigit),
                (|c| !c.is_alphanumeric() && !c.is_control(), Violation::MissingSymbol),
            ];
            for (test, violation) in rules {
                if !text.chars().any(test) {
                    found.push(violation);
                }
            }
        }
        if text.chars().any(char::is_control) {
            found.push(Violation::InvalidCharacter);
        }
        // Beyond the limit the checks below would only cost time.
        if chars <= self.max_chars {
            if is_common(text) {
                found.push(Violation::CommonPassword);
            }
            if contains_login(text, login) {
                found.push(Violation::ContainsLogin);
            }
        }
        found
    }

    pub fn check(&self, password: &Password, login: &Contact) -> Result<()> {
        let violations = self.violations(password, login);
        if violations.is_empty() {
            Ok(())
        } else {
            Err(Error::WeakPassword { violations })
        }
    }
}

/// Whether the whole password, ignoring case, is one of the 30,000 most common
/// passwords of the list zxcvbn embeds.
fn is_common(text: &str) -> bool {
    if text.is_empty() {
        return false;
    }
    let length = text.chars().count();
    zxcvbn::zxcvbn(text, &[]).sequence().iter().any(|m| {
        m.i == 0
            && m.j + 1 == length
            && matches!(&m.pattern, MatchPattern::Dictionary(d)
                // zxcvbn does not export its `DictionaryType`; its default is `Passwords`
                // (the tests below fail should that change).
                if d.dictionary_name == Default::default() && !d.reversed && !d.l33t)
    })
}

/// Whether the password holds the phone's national number or the email's local part.
fn contains_login(text: &str, login: &Contact) -> bool {
    let lowered = text.to_lowercase();
    match login {
        Contact::Phone(phone) => {
            let digits: String = text.chars().filter(char::is_ascii_digit).collect();
            digits.contains(phone.national_digits())
        }
        // A one- or two-letter local part would match half of all passwords.
        Contact::Email(email) => email.local_part().len() >= 3 && lowered.contains(&email.local_part().to_lowercase()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EmailAddress, PhoneNumber};

    fn phone() -> Contact {
        Contact::Phone(PhoneNumber::parse(Some("+91"), "98123 45678").unwrap())
    }

    fn email() -> Contact {
        Contact::Email(EmailAddress::parse("Alice.Smith@example.com").unwrap())
    }

    fn violations(text: &str, login: &Contact) -> Vec<Violation> {
        PasswordPolicy::default().violations(&Password::new(text), login)
    }

    #[test]
    fn a_strong_password_passes() {
        assert_eq!(violations("Tr0ub4dor&3-horse", &phone()), vec![]);
        assert_eq!(violations("Zq7#mP2!", &email()), vec![], "exactly 8 characters");
    }

    #[test]
    fn each_composition_rule_is_reported() {
        use Violation::*;
        assert_eq!(violations("aB3$", &phone()), vec![TooShort]);
        assert_eq!(violations("zq7#mp2!xx", &phone()), vec![MissingUppercase]);
        assert_eq!(violations("ZQ7#MP2!XX", &phone()), vec![MissingLowercase]);
        assert_eq!(violations("Zqx#mPy!xx", &phone()), vec![MissingDigit]);
        assert_eq!(violations("Zq7xmP2yxx", &phone()), vec![MissingSymbol]);
        assert_eq!(
            violations("", &phone()),
            vec![TooShort, MissingUppercase, MissingLowercase, MissingDigit, MissingSymbol]
        );
    }

    #[test]
    fn every_violation_is_listed_at_once() {
        use Violation::*;
        assert_eq!(violations("short", &phone()), vec![TooShort, MissingUppercase, MissingDigit, MissingSymbol]);
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        let ok = format!("Aa1!{}", "x".repeat(124));
        assert_eq!(ok.chars().count(), 128);
        assert_eq!(violations(&ok, &phone()), vec![]);
        let too_long = format!("{ok}x");
        assert_eq!(violations(&too_long, &phone()), vec![Violation::TooLong]);
        // Eight characters of which several take more than one byte.
        assert_eq!(violations("Ünïcødé1!", &phone()), vec![]);
        assert_eq!(violations("密码Aa1!中文", &phone()), vec![]);
        assert_eq!(violations("Ab1!密码", &phone()), vec![Violation::TooShort]);
    }

    #[test]
    fn control_characters_are_refused() {
        assert!(violations("Zq7#mP2!\u{0}", &phone()).contains(&Violation::InvalidCharacter));
        assert!(violations("Zq7#mP2!\n", &phone()).contains(&Violation::InvalidCharacter));
    }

    #[test]
    fn common_passwords_are_refused_whatever_their_case() {
        let policy = PasswordPolicy { require_composition: false, ..Default::default() };
        for common in ["password", "PASSWORD", "Password", "12345678", "qwertyuiop", "passions", "prospero", "jumbo1"] {
            let found = policy.violations(&Password::new(common), &email());
            assert!(found.contains(&Violation::CommonPassword), "{common}: {found:?}");
        }
        for uncommon in ["Tr0ub4dor&3-horse", "quartz-lantern-velvet"] {
            assert!(!policy.violations(&Password::new(uncommon), &email()).contains(&Violation::CommonPassword));
        }
    }

    #[test]
    fn the_login_must_not_be_in_the_password() {
        assert_eq!(violations("Xy!9812345678z", &phone()), vec![Violation::ContainsLogin]);
        assert_eq!(violations("Xy!98123-45678z", &phone()), vec![Violation::ContainsLogin]);
        assert_eq!(violations("My#ALICE.SMITH1", &email()), vec![Violation::ContainsLogin]);
        assert_eq!(violations("My#alice.smith1", &phone()), vec![]);
    }

    #[test]
    fn composition_can_be_switched_off_but_not_the_rest() {
        let policy = PasswordPolicy { require_composition: false, ..Default::default() };
        assert_eq!(policy.violations(&Password::new("quartz lantern velvet"), &phone()), vec![]);
        assert_eq!(policy.violations(&Password::new("short"), &phone()), vec![Violation::TooShort]);
    }

    #[test]
    fn nfkc_makes_equivalent_input_equal() {
        // A full-width "Ａ" and a composed "é" against their plain forms.
        assert_eq!(Password::new("Ａé1!xxxx").as_str(), Password::new("Ae\u{301}1!xxxx").as_str());
    }
}
