//! Turns `texts/<language>.toml` (and `<language>.countries.toml`) into sorted static tables (`$OUT_DIR/texts.rs`), so a function
//! reads its texts from the binary with no parsing at start. Nested tables become dotted keys
//! (`[page.signup] title = ".."` is `page.signup.title`). A key missing from a translation is
//! not an error here: it falls back to English at run time, and `tests/catalog.rs` fails on it.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

const LANGUAGES: [&str; 3] = ["en", "zh", "hi"];

fn flatten(prefix: &str, table: &toml::Table, into: &mut BTreeMap<String, String>) {
    for (key, value) in table {
        let key = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        match value {
            toml::Value::String(text) => {
                into.insert(key, text.clone());
            }
            toml::Value::Table(inner) => flatten(&key, inner, into),
            other => panic!("{key}: a text must be a string, not {}", other.type_str()),
        }
    }
}

fn main() {
    let mut out = String::new();
    for language in LANGUAGES {
        let mut texts = BTreeMap::new();
        // The translator's file, and the country names from CLDR (`countries.py`).
        for file in [format!("{language}.toml"), format!("{language}.countries.toml")] {
            let path = Path::new("texts").join(file);
            println!("cargo:rerun-if-changed={}", path.display());
            let source = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let table: toml::Table = toml::from_str(&source).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            flatten("", &table, &mut texts);
        }
        writeln!(out, "static {}: &[(&str, &str)] = &[", language.to_uppercase()).unwrap();
        for (key, text) in &texts {
            writeln!(out, "    ({key:?}, {text:?}),").unwrap();
        }
        writeln!(out, "];").unwrap();
    }
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap()).join("texts.rs");
    std::fs::write(dest, out).unwrap();
}
