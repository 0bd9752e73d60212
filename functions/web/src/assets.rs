//! The pages' stylesheet and scripts, and the vendored CAPTCHA widget, served under names that
//! carry a hash of their content (`/assets/site.3f2a9c1e4b7d.css`), so browsers may keep them
//! for a year and a new version is fetched at once.

use std::sync::OnceLock;

use sha2::{Digest, Sha256};

use shared::domain::Language;

/// The assets, by what the pages call them.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Name {
    Site,
    Pages,
    Widget,
    WidgetStyle,
    /// The widget's SHA-256 solver, which it runs in a worker (v1 challenges).
    ShaWorker,
    WidgetChinese,
    WidgetHindi,
}

const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

const FILES: [(Name, &str, &str, &str, &str); 7] = [
    (Name::Site, "site", "css", CSS, include_str!("../assets/site.css")),
    (Name::Pages, "pages", "js", JS, include_str!("../assets/pages.js")),
    (Name::Widget, "altcha", "js", JS, include_str!("../assets/vendor/altcha/altcha.min.js")),
    (Name::WidgetStyle, "altcha", "css", CSS, include_str!("../assets/vendor/altcha/altcha.css")),
    (Name::ShaWorker, "altcha-sha", "js", JS, include_str!("../assets/vendor/altcha/sha.worker.js")),
    (Name::WidgetChinese, "altcha-zh-cn", "js", JS, include_str!("../assets/vendor/altcha/zh-cn.js")),
    (Name::WidgetHindi, "altcha-hi", "js", JS, include_str!("../assets/vendor/altcha/hi.js")),
];

struct Asset {
    name: Name,
    path: String,
    content_type: &'static str,
    body: &'static str,
}

fn assets() -> &'static [Asset] {
    static ASSETS: OnceLock<Vec<Asset>> = OnceLock::new();
    ASSETS.get_or_init(|| {
        FILES
            .iter()
            .map(|&(name, stem, extension, content_type, body)| {
                let hash = hex::encode(&Sha256::digest(body.as_bytes())[..6]);
                Asset { name, path: format!("/assets/{stem}.{hash}.{extension}"), content_type, body }
            })
            .collect()
    })
}

/// The path an asset is served at.
pub fn path(name: Name) -> &'static str {
    &assets().iter().find(|a| a.name == name).expect("every name has a file").path
}

/// The widget's texts in `language`, when it is not English (built into the widget).
pub fn widget_texts(language: Language) -> Option<&'static str> {
    match language {
        Language::English => None,
        Language::SimplifiedChinese => Some(path(Name::WidgetChinese)),
        Language::Hindi => Some(path(Name::WidgetHindi)),
    }
}

/// The asset at `path`, as `(content type, body)`; an old fingerprint is not served.
pub fn find(path: &str) -> Option<(&'static str, &'static str)> {
    assets().iter().find(|a| a.path == path).map(|a| (a.content_type, a.body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_asset_is_served_at_its_fingerprinted_path_only() {
        let site = path(Name::Site);
        assert!(site.starts_with("/assets/site.") && site.ends_with(".css"));
        assert_eq!(find(site).map(|(t, _)| t), Some(CSS));
        assert_eq!(find("/assets/site.000000000000.css"), None);
        let paths: std::collections::BTreeSet<_> = assets().iter().map(|a| a.path.as_str()).collect();
        assert_eq!(paths.len(), FILES.len(), "no two assets share a path");
    }
}
