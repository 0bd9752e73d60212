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
    /// The widget's Argon2id solver, which it runs in a worker (Proof-of-Work v2 challenges).
    Argon2idWorker,
    /// Its SHA-256 solver (v1 challenges, with CAPTCHA_ALTCHA_V1).
    ShaWorker,
    WidgetChinese,
    WidgetHindi,
}

/// What an asset is, which decides the headers it is served with (`reply::asset`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Style,
    Script,
    /// A worker script that compiles WebAssembly: a worker runs under the policy of its own
    /// response, so only this one's allows that.
    WasmWorker,
}

const FILES: [(Name, &str, &str, Kind, &str); 8] = [
    (Name::Site, "site", "css", Kind::Style, include_str!("../assets/site.css")),
    (Name::Pages, "pages", "js", Kind::Script, include_str!("../assets/pages.js")),
    (Name::Widget, "altcha", "js", Kind::Script, include_str!("../assets/vendor/altcha/altcha.min.js")),
    (Name::WidgetStyle, "altcha", "css", Kind::Style, include_str!("../assets/vendor/altcha/altcha.css")),
    (
        Name::Argon2idWorker,
        "altcha-argon2id",
        "js",
        Kind::WasmWorker,
        include_str!("../assets/vendor/altcha/argon2id.worker.js"),
    ),
    (Name::ShaWorker, "altcha-sha", "js", Kind::Script, include_str!("../assets/vendor/altcha/sha.worker.js")),
    (Name::WidgetChinese, "altcha-zh-cn", "js", Kind::Script, include_str!("../assets/vendor/altcha/zh-cn.js")),
    (Name::WidgetHindi, "altcha-hi", "js", Kind::Script, include_str!("../assets/vendor/altcha/hi.js")),
];

struct Asset {
    name: Name,
    path: String,
    kind: Kind,
    body: &'static str,
}

fn assets() -> &'static [Asset] {
    static ASSETS: OnceLock<Vec<Asset>> = OnceLock::new();
    ASSETS.get_or_init(|| {
        FILES
            .iter()
            .map(|&(name, stem, extension, kind, body)| {
                let hash = hex::encode(&Sha256::digest(body.as_bytes())[..6]);
                Asset { name, path: format!("/assets/{stem}.{hash}.{extension}"), kind, body }
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

/// The asset at `path`, as `(kind, body)`; an old fingerprint is not served.
pub fn find(path: &str) -> Option<(Kind, &'static str)> {
    assets().iter().find(|a| a.path == path).map(|a| (a.kind, a.body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_asset_is_served_at_its_fingerprinted_path_only() {
        let site = path(Name::Site);
        assert!(site.starts_with("/assets/site.") && site.ends_with(".css"));
        assert_eq!(find(site).map(|(kind, _)| kind), Some(Kind::Style));
        assert_eq!(find(path(Name::Argon2idWorker)).map(|(kind, _)| kind), Some(Kind::WasmWorker));
        assert_eq!(find("/assets/site.000000000000.css"), None);
        let paths: std::collections::BTreeSet<_> = assets().iter().map(|a| a.path.as_str()).collect();
        assert_eq!(paths.len(), FILES.len(), "no two assets share a path");
    }
}
