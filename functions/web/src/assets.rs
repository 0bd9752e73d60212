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

/// A file under `assets/` as text and as build.rs compressed it.
macro_rules! file {
    ($path:literal) => {
        Encoded {
            text: include_str!(concat!("../assets/", $path)),
            gzip: include_bytes!(concat!(env!("OUT_DIR"), "/assets/", $path, ".gz")),
            brotli: include_bytes!(concat!(env!("OUT_DIR"), "/assets/", $path, ".br")),
        }
    };
}

/// An asset's body in each content coding it is served in.
pub struct Encoded {
    pub text: &'static str,
    pub gzip: &'static [u8],
    pub brotli: &'static [u8],
}

static FILES: [(Name, &str, &str, Kind, Encoded); 8] = [
    (Name::Site, "site", "css", Kind::Style, file!("site.css")),
    (Name::Pages, "pages", "js", Kind::Script, file!("pages.js")),
    (Name::Widget, "altcha", "js", Kind::Script, file!("vendor/altcha/altcha.min.js")),
    (Name::WidgetStyle, "altcha", "css", Kind::Style, file!("vendor/altcha/altcha.css")),
    (Name::Argon2idWorker, "altcha-argon2id", "js", Kind::WasmWorker, file!("vendor/altcha/argon2id.worker.js")),
    (Name::ShaWorker, "altcha-sha", "js", Kind::Script, file!("vendor/altcha/sha.worker.js")),
    (Name::WidgetChinese, "altcha-zh-cn", "js", Kind::Script, file!("vendor/altcha/zh-cn.js")),
    (Name::WidgetHindi, "altcha-hi", "js", Kind::Script, file!("vendor/altcha/hi.js")),
];

pub struct Asset {
    name: Name,
    path: String,
    pub kind: Kind,
    pub body: &'static Encoded,
}

fn assets() -> &'static [Asset] {
    static ASSETS: OnceLock<Vec<Asset>> = OnceLock::new();
    ASSETS.get_or_init(|| {
        FILES
            .iter()
            .map(|(name, stem, extension, kind, body)| {
                let hash = hex::encode(&Sha256::digest(body.text.as_bytes())[..6]);
                Asset { name: *name, path: format!("/assets/{stem}.{hash}.{extension}"), kind: *kind, body }
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

/// The asset at `path`; an old fingerprint is not served.
pub fn find(path: &str) -> Option<&'static Asset> {
    assets().iter().find(|a| a.path == path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_asset_is_served_at_its_fingerprinted_path_only() {
        let site = path(Name::Site);
        assert!(site.starts_with("/assets/site.") && site.ends_with(".css"));
        assert_eq!(find(site).map(|a| a.kind), Some(Kind::Style));
        assert_eq!(find(path(Name::Argon2idWorker)).map(|a| a.kind), Some(Kind::WasmWorker));
        assert!(find("/assets/site.000000000000.css").is_none());
        let paths: std::collections::BTreeSet<_> = assets().iter().map(|a| a.path.as_str()).collect();
        assert_eq!(paths.len(), FILES.len(), "no two assets share a path");
    }

    #[test]
    fn each_compressed_copy_reads_back_as_the_asset_itself() {
        use std::io::Read;
        for (.., body) in &FILES {
            let mut gzip = String::new();
            flate2::read::GzDecoder::new(body.gzip).read_to_string(&mut gzip).unwrap();
            assert_eq!(gzip, body.text);
            let mut brotli = String::new();
            brotli::Decompressor::new(body.brotli, 4096).read_to_string(&mut brotli).unwrap();
            assert_eq!(brotli, body.text);
            assert!(body.brotli.len() < body.text.len() / 2, "a script or stylesheet compresses");
        }
    }
}
