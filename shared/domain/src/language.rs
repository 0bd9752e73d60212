//! The language of messages a person receives.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Language {
    #[default]
    English,
    SimplifiedChinese,
}

impl Language {
    /// Picks the supported language the client ranks highest in an `Accept-Language`
    /// header (RFC 9110 quality values); English when none is supported.
    pub fn from_accept_language(header: Option<&str>) -> Self {
        let Some(header) = header else { return Language::English };
        let mut best: Option<(f32, Language)> = None;
        for item in header.split(',') {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let quality =
                parts.find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.parse::<f32>().ok())).unwrap_or(1.0);
            let language = if tag == "zh" || tag.starts_with("zh-") {
                Language::SimplifiedChinese
            } else if tag == "en" || tag.starts_with("en-") {
                Language::English
            } else {
                continue;
            };
            if quality > 0.0 && best.is_none_or(|(q, _)| quality > q) {
                best = Some((quality, language));
            }
        }
        best.map_or(Language::English, |(_, language)| language)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_is_chosen_when_preferred() {
        let pick = |h| Language::from_accept_language(Some(h));
        assert_eq!(pick("zh-CN,zh;q=0.9,en;q=0.8"), Language::SimplifiedChinese);
        assert_eq!(pick("en-US,en;q=0.9,zh;q=0.8"), Language::English);
        assert_eq!(pick("fr-FR, zh;q=0.5"), Language::SimplifiedChinese);
        assert_eq!(pick("en;q=0.4, zh-Hans;q=0.6"), Language::SimplifiedChinese);
        assert_eq!(pick("zh;q=0, en"), Language::English);
        assert_eq!(pick("de"), Language::English);
        assert_eq!(pick(""), Language::English);
        assert_eq!(Language::from_accept_language(None), Language::English);
    }
}
