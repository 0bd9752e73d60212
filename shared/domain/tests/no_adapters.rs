//! The domain's promise, checked on its real dependency graph: no AWS SDK, HTTP stack or
//! Lambda runtime is linked into it, directly or through another crate. Its modules cannot
//! import what the crate does not depend on, so this also keeps every `use` honest.

use std::process::Command;

/// Crate-name prefixes of the adapters' world.
const FORBIDDEN: [&str; 10] =
    ["aws-", "aws_", "lambda_", "lambda-", "hyper", "http", "h2", "tower", "rustls", "reqwest"];

#[test]
fn the_domain_depends_on_no_aws_http_or_lambda_crate() {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let output = Command::new(env!("CARGO"))
        .args(["tree", "--offline", "--edges", "normal", "--prefix", "none", "--manifest-path", manifest])
        .output()
        .expect("cargo tree runs");
    assert!(output.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&output.stderr));
    let tree = String::from_utf8(output.stdout).expect("cargo tree prints UTF-8");
    let crates: Vec<&str> = tree.lines().filter_map(|line| line.split_whitespace().next()).collect();
    assert!(crates.contains(&"phonenumber"), "the tree lists the domain's dependencies: {tree}");
    let adapters: Vec<&&str> =
        crates.iter().filter(|name| FORBIDDEN.iter().any(|prefix| name.starts_with(prefix))).collect();
    assert!(adapters.is_empty(), "the domain depends on {adapters:?}");
}
