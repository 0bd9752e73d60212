//! Email addresses: RFC 5322 syntax through the `email_address` crate, plus the
//! narrower rules of what SES delivers and a person can type.

use email_address::Options;

use crate::error::{Error, Result};

/// A deliverable address with a lower-cased domain.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress {
    address: String,
    at: usize,
}

/// The longest address SMTP can carry (RFC 5321 path limit less the brackets).
const MAX_LEN: usize = 254;

impl EmailAddress {
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        if text.is_empty() || text.len() > MAX_LEN {
            return Err(Error::InvalidEmail("the email address must have 1 to 254 characters".into()));
        }
        // Quoted local parts and non-ASCII addresses are valid in RFC terms but not
        // deliverable through SES, and a common vector for look-alike addresses.
        if !text.chars().all(|c| c.is_ascii_graphic()) || text.contains('"') {
            return Err(Error::InvalidEmail(
                "the email address may contain only letters, digits and . _ % + - @".into(),
            ));
        }
        let options = Options::default().with_required_tld().without_domain_literal().without_display_text();
        email_address::EmailAddress::parse_with_options(text, options)
            .map_err(|_| Error::InvalidEmail("this is not an email address".into()))?;
        let at = text.rfind('@').expect("a parsed address has an @");
        let address = format!("{}@{}", &text[..at], text[at + 1..].to_ascii_lowercase());
        Ok(EmailAddress { address, at })
    }

    /// An address read back from the store, trusted as the valid address it was when written:
    /// not re-validated, so a stricter rule never locks an existing account out.
    pub fn from_stored(text: &str) -> Result<Self> {
        let at = text.rfind('@').ok_or_else(|| Error::InvalidEmail("expected an email address".into()))?;
        Ok(EmailAddress { address: text.to_owned(), at })
    }

    /// The address mail is sent to: the local part as typed, the domain lower-cased.
    pub fn as_str(&self) -> &str {
        &self.address
    }

    /// The form used for uniqueness and limits. Providers treat the local part
    /// case-insensitively in practice, so `User@x.com` and `user@x.com` are one person.
    pub fn canonical(&self) -> String {
        self.address.to_ascii_lowercase()
    }

    /// The mailbox the address delivers to, as far as limits go: lower-cased, without a `+tag`,
    /// and for Gmail without dots (`V.Smith+1@googlemail.com` is `vsmith@gmail.com`), so that
    /// variants of one address share one budget. The account's identity stays `canonical`.
    pub fn mailbox(&self) -> String {
        let local = self.local_part().to_ascii_lowercase();
        let untagged = match local.split_once('+') {
            Some((untagged, _)) if !untagged.is_empty() => untagged,
            _ => &local,
        };
        match self.domain() {
            "gmail.com" | "googlemail.com" => format!("{}@gmail.com", untagged.replace('.', "")),
            domain => format!("{untagged}@{domain}"),
        }
    }

    pub fn local_part(&self) -> &str {
        &self.address[..self.at]
    }

    pub fn domain(&self) -> &str {
        &self.address[self.at + 1..]
    }

    /// `u***@example.com`.
    pub fn masked(&self) -> String {
        let first = self.local_part().chars().next().unwrap_or('*');
        format!("{first}***@{}", self.domain())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_of_one_address_share_a_mailbox() {
        let mailbox = |text: &str| EmailAddress::parse(text).unwrap().mailbox();
        for variant in ["v.smith+1@gmail.com", "VSmith+work@GoogleMail.com", "v.s.m.i.t.h@gmail.com"] {
            assert_eq!(mailbox(variant), "vsmith@gmail.com", "{variant}");
        }
        assert_eq!(mailbox("Ann.Lee+news@Example.org"), "ann.lee@example.org", "dots count outside Gmail");
        assert_eq!(mailbox("+only@example.org"), "+only@example.org");
        let address = EmailAddress::parse("Ann.Lee+news@Example.org").unwrap();
        assert_eq!(address.canonical(), "ann.lee+news@example.org", "the identity keeps the tag");
    }

    #[test]
    fn domain_is_lower_cased_and_local_part_kept() {
        let email = EmailAddress::parse("  User.Name+tag@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "User.Name+tag@example.com");
        assert_eq!(email.canonical(), "user.name+tag@example.com");
        assert_eq!(email.local_part(), "User.Name+tag");
        assert_eq!(email.masked(), "U***@example.com");
    }

    #[test]
    fn bad_addresses_are_refused() {
        let long = format!("{}@example.com", "a".repeat(250));
        for text in [
            "",
            "user",
            "user@",
            "@example.com",
            "user@localhost",
            "user@[127.0.0.1]",
            "User <user@example.com>",
            "\"quoted\"@example.com",
            "us er@example.com",
            "用户@example.com",
            "user@exam\u{200b}ple.com",
            "user@@example.com",
            long.as_str(),
        ] {
            assert_eq!(EmailAddress::parse(text).unwrap_err().code(), "invalid_email", "{text:?}");
        }
    }
}
