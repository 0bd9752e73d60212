//! Phone numbers, validated by libphonenumber's metadata and kept in E.164.

use phonenumber::{Mode, Type};

use crate::error::{Error, Result};

/// A valid phone number in E.164 form (`+919812345678`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber {
    e164: String,
    country_code: u16,
}

/// Longest input worth handing to the parser; E.164 has at most 15 digits,
/// this leaves room for spaces, dashes and brackets.
const MAX_INPUT_LEN: usize = 40;

impl PhoneNumber {
    /// Accepts a calling code (`"+91"`, `"91"`) plus a national number in any usual
    /// format (`"98123 45678"`, `"098123-45678"`), or a full international number
    /// (`"+91 98123 45678"`) with no calling code.
    pub fn parse(country_code: Option<&str>, number: &str) -> Result<Self> {
        let number = number.trim();
        if number.is_empty() {
            return Err(Error::InvalidPhone("the phone number is empty".into()));
        }
        if number.len() > MAX_INPUT_LEN || !number.chars().all(|c| c.is_ascii_digit() || " +-.()".contains(c)) {
            return Err(Error::InvalidPhone(
                "the phone number may contain only digits, spaces, +, -, . and brackets".into(),
            ));
        }
        let text = match country_code.map(str::trim) {
            Some(code) => {
                let digits = code.strip_prefix('+').unwrap_or(code);
                if digits.is_empty() || digits.len() > 3 || !digits.chars().all(|c| c.is_ascii_digit()) {
                    return Err(Error::InvalidPhone("country_code must look like \"+91\"".into()));
                }
                if number.starts_with('+') {
                    return Err(Error::InvalidPhone(
                        "give either country_code and a national number, or a full +number".into(),
                    ));
                }
                format!("+{digits} {number}")
            }
            None if number.starts_with('+') => number.to_owned(),
            None => return Err(Error::InvalidPhone("add the country code, e.g. \"+91\"".into())),
        };
        let parsed =
            phonenumber::parse(None, &text).map_err(|_| Error::InvalidPhone("this is not a phone number".into()))?;
        if !phonenumber::is_valid(&parsed) {
            return Err(Error::InvalidPhone("this number does not exist in its country's numbering plan".into()));
        }
        // Codes go by SMS: numbers that cannot receive one, or that cost the sender a
        // premium (the lever of SMS-pumping fraud), are refused up front.
        let refusal = match parsed.number_type(&phonenumber::metadata::DATABASE) {
            Type::Mobile | Type::FixedLineOrMobile => None,
            Type::PremiumRate => Some("premium-rate numbers cannot receive codes"),
            Type::SharedCost => Some("shared-cost numbers cannot receive codes"),
            Type::TollFree => Some("toll-free numbers cannot receive codes"),
            Type::FixedLine => Some("landline numbers cannot receive text messages; use a mobile number"),
            _ => Some("only mobile numbers can receive codes"),
        };
        if let Some(reason) = refusal {
            return Err(Error::InvalidPhone(reason.into()));
        }
        Ok(PhoneNumber { e164: parsed.format().mode(Mode::E164).to_string(), country_code: parsed.code().value() })
    }

    /// A number given to find an existing account (sign-in, password reset): as `parse`, or,
    /// when today's numbering plans refuse a number written in full E.164 form (`+` and digits),
    /// that number as it would be stored, since it may belong to an account made under older
    /// plans. Never for a new contact: sign-up and adding a contact use `parse`.
    pub fn parse_existing(country_code: Option<&str>, number: &str) -> Result<Self> {
        Self::parse(country_code, number).or_else(|refused| match country_code {
            None => Self::from_stored(number.trim()).map_err(|_| refused),
            Some(_) => Err(refused),
        })
    }

    /// A number read back from the store, trusted as the valid number it was when written:
    /// only its E.164 shape is checked. Not re-validated, so an update of the numbering plans
    /// never locks an existing account out, and reading one loads no phone metadata.
    pub fn from_stored(e164: &str) -> Result<Self> {
        let digits =
            e164.strip_prefix('+').filter(|d| (4..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()));
        let country_code =
            digits.and_then(calling_code).ok_or_else(|| Error::InvalidPhone("expected an E.164 number".into()))?;
        Ok(PhoneNumber { e164: e164.to_owned(), country_code })
    }

    /// Loads the numbering plans (and the parser's patterns) on a thread of its own, for a
    /// function whose requests carry phone numbers: the cold start's own work (reading its
    /// keys) hides it, so the first such request does not pay for it. A request that comes
    /// sooner waits for the same load, never does it twice.
    pub fn preload() {
        std::thread::spawn(|| drop(PhoneNumber::parse(Some("+91"), "98123 45678")));
    }

    /// Every country or region the numbering plans know, with its calling code (`("IN", 91)`),
    /// by region id; non-geographic codes (`001`) are left out, as no one picks them from a list.
    pub fn regions() -> Vec<(&'static str, u16)> {
        let mut regions: Vec<_> = phonenumber::metadata::DATABASE
            .iter()
            .filter(|meta| meta.id().len() == 2)
            .map(|meta| (meta.id(), meta.country_code()))
            .collect();
        regions.sort_unstable();
        regions
    }

    pub fn e164(&self) -> &str {
        &self.e164
    }

    pub fn country_code(&self) -> u16 {
        self.country_code
    }

    /// The national significant number, the digits after the calling code.
    pub fn national_digits(&self) -> &str {
        &self.e164[1 + self.country_code.to_string().len()..]
    }

    /// The number without its last four digits: the range limits apply to, so that
    /// one block of numbers cannot be walked through.
    pub fn range_prefix(&self) -> &str {
        &self.e164[..self.e164.len().saturating_sub(4)]
    }

    /// `+91 ******5678`: enough for the owner to recognise, too little to dial.
    pub fn masked(&self) -> String {
        let national = self.national_digits();
        let shown = national.len().min(4);
        let hidden = national.len() - shown;
        format!("+{} {}{}", self.country_code, "*".repeat(hidden), &national[hidden..])
    }
}

/// The calling code the digits of an E.164 number start with. Calling codes are prefix-free
/// (ITU-T E.164): 1 and 7 have one digit, those listed here two, every other one three.
fn calling_code(digits: &str) -> Option<u16> {
    const TWO_DIGITS: [&str; 44] = [
        "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46", "47", "48", "49",
        "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63", "64", "65", "66", "81", "82", "84",
        "86", "90", "91", "92", "93", "94", "95", "98",
    ];
    let length = match digits.get(..2) {
        _ if digits.starts_with('1') || digits.starts_with('7') => 1,
        Some(two) if TWO_DIGITS.contains(&two) => 2,
        _ => 3,
    };
    digits.get(..length)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_the_countries_with_their_calling_codes() {
        let regions = PhoneNumber::regions();
        assert!(regions.len() > 200, "{}", regions.len());
        for expected in [("IN", 91), ("US", 1), ("CA", 1), ("CN", 86), ("GB", 44)] {
            assert!(regions.contains(&expected), "{expected:?}");
        }
        assert!(regions.iter().all(|(id, _)| id.len() == 2), "no non-geographic entries");
        assert!(regions.windows(2).all(|w| w[0].0 < w[1].0), "sorted, once each");
    }

    fn ok(code: Option<&str>, number: &str) -> String {
        PhoneNumber::parse(code, number).unwrap().e164().to_owned()
    }

    #[test]
    fn national_formats_normalise_to_e164() {
        assert_eq!(ok(Some("+91"), "98123 45678"), "+919812345678");
        assert_eq!(ok(Some("91"), "98123-45678"), "+919812345678");
        assert_eq!(ok(Some("+86"), "138 0013 8000"), "+8613800138000");
        // The UK trunk prefix 0 is dropped, as a person dialling from abroad would.
        assert_eq!(ok(Some("+44"), "07400 123456"), "+447400123456");
        assert_eq!(ok(Some("+1"), "(201) 555-0123"), "+12015550123");
    }

    #[test]
    fn full_international_numbers_are_accepted() {
        assert_eq!(ok(None, "+91 98123 45678"), "+919812345678");
        assert_eq!(ok(None, "+8613800138000"), "+8613800138000");
    }

    #[test]
    fn bad_numbers_are_refused_with_a_reason() {
        for (code, number) in [
            (None, ""),
            (None, "9812345678"),            // no country code
            (Some("+91"), "12"),             // too short
            (Some("+91"), "98123456789012"), // too long
            (Some("+91"), "9812x45678"),     // letters
            (Some("+999"), "9812345678"),    // no such country
            (Some("abc"), "9812345678"),
            (Some("+91"), "+919812345678"),     // both forms at once
            (None, "+91 ９８１２３４５６７８"), // full-width digits
            (None, "+1 555\u{202e}0123"),       // bidi override
        ] {
            let err = PhoneNumber::parse(code, number).unwrap_err();
            assert_eq!(err.code(), "invalid_phone", "{code:?} {number:?}");
        }
    }

    #[test]
    fn numbers_that_cannot_take_an_sms_are_refused() {
        for (number, why) in [
            ("+44 909 8790000", "premium-rate"),
            ("+44 800 1234567", "toll-free"),
            ("+44 20 7946 0000", "landline"),
            ("+91 11 2345 6789", "landline"),
        ] {
            let err = PhoneNumber::parse(None, number).unwrap_err();
            assert!(err.to_string().contains(why), "{number}: {err}");
        }
        // Where mobile and fixed lines share a plan (the US), the number is accepted.
        assert!(PhoneNumber::parse(None, "+1 201 555 0123").is_ok());
    }

    #[test]
    fn masking_keeps_country_and_last_four_digits() {
        let phone = PhoneNumber::parse(Some("+91"), "98123 45678").unwrap();
        assert_eq!(phone.masked(), "+91 ******5678");
        assert_eq!(phone.national_digits(), "9812345678");
        assert_eq!(phone.country_code(), 91);
    }

    #[test]
    fn an_existing_number_in_e164_form_is_looked_up_even_if_todays_plans_refuse_it() {
        // Indian numbers do not start with 1: refused for a new contact, looked up for a login.
        assert!(PhoneNumber::parse(None, "+911234567890").is_err());
        assert_eq!(PhoneNumber::parse_existing(None, "+911234567890").unwrap().e164(), "+911234567890");
        assert_eq!(PhoneNumber::parse_existing(Some("+91"), "9812345678").unwrap().e164(), "+919812345678");
        // Only the full E.164 form: a national number or a malformed one keeps its refusal.
        assert!(PhoneNumber::parse_existing(Some("+91"), "1234567890").is_err());
        assert!(PhoneNumber::parse_existing(None, "+91 123 456 7890x").is_err());
    }

    #[test]
    fn stored_form_round_trips_without_revalidation() {
        let phone = PhoneNumber::parse(Some("+86"), "13800138000").unwrap();
        assert_eq!(PhoneNumber::from_stored(phone.e164()).unwrap(), phone);
        // A number a later numbering plan no longer knows (here: never valid) is still the stored one.
        let retired = PhoneNumber::from_stored("+441234").unwrap();
        assert_eq!((retired.e164(), retired.country_code()), ("+441234", 44));
        for bad in ["8613800138000", "+", "+86 138", "+8613800138000000", "+86abc"] {
            assert!(PhoneNumber::from_stored(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn calling_codes_are_those_of_the_numbering_plans() {
        // Every calling code libphonenumber knows, followed by more digits, is read back whole.
        let codes: std::collections::BTreeSet<u16> =
            phonenumber::metadata::DATABASE.iter().map(|m| m.country_code()).collect();
        assert!(codes.len() > 200, "{codes:?}");
        for code in codes {
            for rest in ["0000000", "9999999", "5550123"] {
                assert_eq!(calling_code(&format!("{code}{rest}")), Some(code), "+{code}{rest}");
            }
        }
    }
}
