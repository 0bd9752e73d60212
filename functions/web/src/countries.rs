//! The country/region list of the phone forms: every region the numbering plans know, named in
//! the page's language (CLDR's names), the person's likely country first and chosen.

use shared::domain::{Contact, Language, PhoneNumber};
use shared::Result;

/// The country listed first when the browser's language names none.
pub const DEFAULT_REGION: &str = "IN";

pub struct Country {
    pub id: &'static str,
    pub code: u16,
    pub name: String,
    pub selected: bool,
}

/// The list, `likely` (a region id such as `IN`) first when it is one of them, else `fallback`.
pub fn countries(language: Language, likely: Option<&str>, fallback: &str) -> Vec<Country> {
    let regions = PhoneNumber::regions();
    let chosen = likely.filter(|id| regions.iter().any(|(r, _)| r == id)).unwrap_or(fallback);
    let mut list: Vec<Country> = regions
        .into_iter()
        .map(|(id, code)| Country {
            id,
            code,
            name: language.text(&format!("country.{id}")).to_owned(),
            selected: id == chosen,
        })
        .collect();
    list.sort_by(|a, b| b.selected.cmp(&a.selected).then_with(|| a.name.cmp(&b.name)));
    list
}

/// The calling code (`+91`) of a region id from the form.
pub fn calling_code(region: &str) -> Option<String> {
    PhoneNumber::regions().into_iter().find(|(id, _)| *id == region).map(|(_, code)| format!("+{code}"))
}

/// The contact a login field names: a national number takes the chosen country's code; a
/// `+` number or an email none.
pub fn login_contact(login: &str, country: Option<&str>) -> Result<Contact> {
    let login = login.trim();
    let code = if login.starts_with('+') || login.contains('@') { None } else { country.and_then(calling_code) };
    Contact::from_login(login, code.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_region_is_named_in_every_language() {
        for language in Language::ALL {
            for country in countries(language, None, "IN") {
                assert!(!country.name.starts_with("country."), "{language:?} has no name for {}", country.id);
            }
        }
    }

    #[test]
    fn the_likely_country_comes_first_and_is_chosen() {
        let list = countries(Language::English, Some("BR"), "IN");
        assert_eq!((list[0].id, list[0].code, list[0].selected), ("BR", 55, true));
        assert_eq!(list.iter().filter(|c| c.selected).count(), 1);
        let india = countries(Language::Hindi, Some("XX"), "IN");
        assert_eq!((india[0].id, india[0].name.as_str()), ("IN", "भारत"));
        assert!(list[1..].windows(2).all(|w| w[0].name <= w[1].name), "the rest by name");
    }

    #[test]
    fn a_region_gives_its_calling_code() {
        assert_eq!(calling_code("IN").as_deref(), Some("+91"));
        assert_eq!(calling_code("CA").as_deref(), Some("+1"));
        assert_eq!(calling_code("ZZ"), None);
    }

    #[test]
    fn a_national_number_takes_the_chosen_country_and_a_full_one_its_own() {
        let national = login_contact(" 98765 43210 ", Some("IN")).unwrap();
        assert_eq!(national.canonical(), "+919876543210");
        let full = login_contact("+1 201 555 0123", Some("IN")).unwrap();
        assert_eq!(full.canonical(), "+12015550123");
        assert_eq!(login_contact("Person@Example.com", Some("IN")).unwrap().canonical(), "person@example.com");
    }
}
