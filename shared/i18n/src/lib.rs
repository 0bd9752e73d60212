//! Every text a person reads, in the languages the service speaks: the pages, the messages of
//! the API's errors, and the SMS and emails. Translators edit `texts/<language>.toml`, one file
//! per language with the same keys; the build turns them into static tables (`build.rs`).

include!(concat!(env!("OUT_DIR"), "/texts.rs"));

/// A language of the service's texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Language {
    #[default]
    English,
    SimplifiedChinese,
    Hindi,
}

impl Language {
    pub const ALL: [Language; 3] = [Language::English, Language::SimplifiedChinese, Language::Hindi];

    /// The BCP 47 tag, as pages declare it (`<html lang>`) and the language switch remembers it.
    pub fn tag(self) -> &'static str {
        match self {
            Language::English => "en",
            Language::SimplifiedChinese => "zh-CN",
            Language::Hindi => "hi",
        }
    }

    /// The language a BCP 47 tag names (`zh`, `zh-Hans-CN`, `hi-IN`, `en-GB`), if supported.
    pub fn from_tag(tag: &str) -> Option<Language> {
        let primary = tag.split(['-', '_']).next().unwrap_or("").to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Language::English),
            "zh" => Some(Language::SimplifiedChinese),
            "hi" => Some(Language::Hindi),
            _ => None,
        }
    }

    /// Picks the supported language the client ranks highest in an `Accept-Language`
    /// header (RFC 9110 quality values); English when none is supported.
    pub fn from_accept_language(header: Option<&str>) -> Self {
        Self::ranked(header).first().map_or(Language::English, |(language, _)| *language)
    }

    /// The region of the client's most preferred tag that names one (`en-IN` is `IN`), the
    /// likely country of a phone number.
    pub fn region_of_accept_language(header: Option<&str>) -> Option<String> {
        let mut tags = Self::weighted(header?);
        tags.sort_by(|a, b| b.1.total_cmp(&a.1));
        tags.into_iter().find_map(|(tag, _)| {
            tag.split(['-', '_'])
                .skip(1)
                .find(|part| part.len() == 2 && part.chars().all(|c| c.is_ascii_alphabetic()))
                .map(str::to_ascii_uppercase)
        })
    }

    fn weighted(header: &str) -> Vec<(String, f32)> {
        header
            .split(',')
            .filter_map(|item| {
                let mut parts = item.split(';');
                let tag = parts.next()?.trim().to_owned();
                let quality =
                    parts.find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.parse::<f32>().ok())).unwrap_or(1.0);
                (quality > 0.0 && !tag.is_empty()).then_some((tag, quality))
            })
            .collect()
    }

    /// Supported languages by the client's preference, the first-listed winning ties.
    fn ranked(header: Option<&str>) -> Vec<(Language, f32)> {
        let mut best: Vec<(Language, f32)> = Vec::new();
        for (tag, quality) in header.map(Self::weighted).unwrap_or_default() {
            let Some(language) = Language::from_tag(&tag) else { continue };
            match best.iter_mut().find(|(l, _)| *l == language) {
                Some(entry) if entry.1 < quality => entry.1 = quality,
                Some(_) => {}
                None => best.push((language, quality)),
            }
        }
        best.sort_by(|a, b| b.1.total_cmp(&a.1));
        best
    }

    fn table(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Language::English => EN,
            Language::SimplifiedChinese => ZH,
            Language::Hindi => HI,
        }
    }

    /// The text of `key`: this language's, else English's; the key itself when no file has it
    /// (a slip `tests/catalog.rs` catches, shown rather than hidden).
    pub fn text(self, key: &str) -> &str {
        let find = |table: &'static [(&'static str, &'static str)]| {
            table.binary_search_by(|(k, _)| (*k).cmp(key)).ok().map(|i| table[i].1)
        };
        find(self.table()).or_else(|| find(EN)).unwrap_or(key)
    }

    /// `text(key)` with each `{name}` replaced by its value.
    pub fn fill(self, key: &str, values: &[(&str, &str)]) -> String {
        fill(self.text(key), values)
    }

    /// Every key of this language's file (for the catalog's tests).
    pub fn keys(self) -> impl Iterator<Item = &'static str> {
        self.table().iter().map(|(key, _)| *key)
    }
}

/// `template` with each `{name}` of `values` replaced; other braces are kept as they are.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after
            .find('}')
            .and_then(|close| values.iter().find(|(name, _)| *name == &after[..close]).map(|v| (close, v.1)))
        {
            Some((close, value)) => {
                out.push_str(value);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_preferred_supported_language_is_chosen() {
        let pick = |h| Language::from_accept_language(Some(h));
        assert_eq!(pick("zh-CN,zh;q=0.9,en;q=0.8"), Language::SimplifiedChinese);
        assert_eq!(pick("en-US,en;q=0.9,zh;q=0.8"), Language::English);
        assert_eq!(pick("fr-FR, zh;q=0.5"), Language::SimplifiedChinese);
        assert_eq!(pick("en;q=0.4, zh-Hans;q=0.6"), Language::SimplifiedChinese);
        assert_eq!(pick("hi-IN,hi;q=0.9,en-IN;q=0.8"), Language::Hindi);
        assert_eq!(pick("en-IN, hi;q=0.9"), Language::English);
        assert_eq!(pick("zh;q=0, en"), Language::English);
        assert_eq!(pick("de"), Language::English);
        assert_eq!(pick(""), Language::English);
        assert_eq!(Language::from_accept_language(None), Language::English);
    }

    #[test]
    fn the_region_comes_from_the_most_preferred_tag_that_has_one() {
        let region = |h| Language::region_of_accept_language(Some(h));
        assert_eq!(region("hi-IN,hi;q=0.9"), Some("IN".to_owned()));
        assert_eq!(region("en;q=0.9, en-US;q=0.8"), Some("US".to_owned()));
        assert_eq!(region("zh-Hans-CN"), Some("CN".to_owned()));
        assert_eq!(region("en, fr"), None);
        assert_eq!(Language::region_of_accept_language(None), None);
    }

    #[test]
    fn tags_round_trip() {
        for language in Language::ALL {
            assert_eq!(Language::from_tag(language.tag()), Some(language));
        }
        assert_eq!(Language::from_tag("fr"), None);
    }

    #[test]
    fn fill_replaces_named_values_only() {
        assert_eq!(fill("{code} for {service}", &[("code", "042917"), ("service", "Mi")]), "042917 for Mi");
        assert_eq!(fill("{unknown} {x", &[("code", "1")]), "{unknown} {x");
        assert_eq!(fill("【{service}】", &[("service", "Mi")]), "【Mi】");
    }

    #[test]
    fn a_missing_translation_falls_back_to_english() {
        let key = Language::English.keys().next().expect("texts");
        assert_eq!(Language::Hindi.text("no.such.key"), "no.such.key");
        assert!(!Language::Hindi.text(key).is_empty());
    }
}
