use std::env;
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::Path;

#[path = "src/metadata/loader.rs"]
mod loader;

#[path = "src/error.rs"]
mod error;

fn main() {
    let pnm_path = "assets/PhoneNumberMetadata.xml";
    let metadata = loader::load(BufReader::new(
        File::open(pnm_path).expect("could not open metadata file"),
    ))
    .expect("failed to load metadata");
    println!("cargo:rerun-if-changed={pnm_path}");
    check_patterns(&metadata);

    let mut out = BufWriter::new(
        File::create(Path::new(&env::var("OUT_DIR").unwrap()).join("database.bin"))
            .expect("could not create database file"),
    );

    postcard::to_io(&metadata, &mut out).expect("failed to serialize database");
}

/// Every regex of the metadata, parsed once here, when the crate is built: the check that
/// `Database::from` made at every process's first phone number (46 ms; see Cargo.toml), so a
/// bad pattern still fails before it can reach a running service.
fn check_patterns(metadata: &[loader::Metadata]) {
    let mut parser = regex_syntax::ParserBuilder::new().ignore_whitespace(true).build();
    let mut check = |pattern: Option<&String>| {
        if let Some(pattern) = pattern {
            if let Err(error) = parser.parse(pattern) {
                panic!("metadata pattern {pattern:?} does not parse: {error}");
            }
        }
    };
    for meta in metadata {
        let descriptors = [
            &meta.general, &meta.fixed_line, &meta.mobile, &meta.toll_free, &meta.premium_rate,
            &meta.shared_cost, &meta.personal_number, &meta.voip, &meta.pager, &meta.uan,
            &meta.emergency, &meta.voicemail, &meta.short_code, &meta.standard_rate, &meta.carrier,
            &meta.no_international,
        ];
        for descriptor in descriptors.into_iter().flatten() {
            check(descriptor.national_number.as_ref());
        }
        for format in meta.formats.iter().chain(&meta.international_formats) {
            check(format.pattern.as_ref());
            format.leading_digits.iter().for_each(|digits| check(Some(digits)));
        }
        check(meta.international_prefix.as_ref());
        check(meta.national_prefix_for_parsing.as_ref());
        check(meta.leading_digits.as_ref());
    }
}
