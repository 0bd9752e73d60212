//! The translation files are complete: every key of one is in all, each text names the same
//! `{placeholders}` as English's (an SMS without its `{code}` would be useless), and the built
//! tables hold exactly what the files say.

use std::collections::{BTreeMap, BTreeSet};

use i18n::Language;

fn file(language: Language) -> BTreeMap<String, String> {
    let name = match language {
        Language::English => "en",
        Language::SimplifiedChinese => "zh",
        Language::Hindi => "hi",
    };
    let mut texts = BTreeMap::new();
    for file in [format!("{name}.toml"), format!("{name}.countries.toml")] {
        let path = format!("{}/texts/{file}", env!("CARGO_MANIFEST_DIR"));
        let table: toml::Table = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        flatten("", &table, &mut texts);
    }
    texts
}

fn flatten(prefix: &str, table: &toml::Table, into: &mut BTreeMap<String, String>) {
    for (key, value) in table {
        let key = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        match value {
            toml::Value::Table(inner) => flatten(&key, inner, into),
            value => {
                into.insert(key, value.as_str().expect("texts are strings").to_owned());
            }
        }
    }
}

fn placeholders(text: &str) -> BTreeSet<&str> {
    text.split('{').skip(1).filter_map(|part| part.split_once('}').map(|(name, _)| name)).collect()
}

#[test]
fn every_language_has_every_key_with_the_same_placeholders() {
    let english = file(Language::English);
    assert!(english.len() > 50, "the English file holds the texts");
    for language in [Language::SimplifiedChinese, Language::Hindi] {
        let translated = file(language);
        let missing: Vec<_> = english.keys().filter(|k| !translated.contains_key(*k)).collect();
        let extra: Vec<_> = translated.keys().filter(|k| !english.contains_key(*k)).collect();
        assert!(missing.is_empty(), "{language:?} lacks {missing:?}");
        assert!(extra.is_empty(), "{language:?} has keys English lacks: {extra:?}");
        for (key, text) in &english {
            assert_eq!(placeholders(&translated[key]), placeholders(text), "{language:?} {key}");
            assert!(!translated[key].trim().is_empty(), "{language:?} {key} is empty");
        }
    }
}

#[test]
fn the_built_tables_are_the_files() {
    for language in Language::ALL {
        let texts = file(language);
        assert_eq!(language.keys().collect::<Vec<_>>(), texts.keys().map(String::as_str).collect::<Vec<_>>());
        for (key, text) in &texts {
            assert_eq!(language.text(key), text);
        }
    }
}
