//! The routes of template.yaml, of the document and of the local router are the same.

use std::collections::{BTreeMap, BTreeSet};

use super::document::{openapi, operations, repo_file, OPENAPI};
use serde_json::Value;

/// (METHOD, path, function name).
type Route = (String, String, String);

fn template_routes() -> BTreeSet<Route> {
    let template: serde_yaml::Value = serde_yaml::from_str(&repo_file("template.yaml")).expect("template.yaml parses");
    let mut routes = BTreeSet::new();
    for (id, resource) in template["Resources"].as_mapping().expect("template.yaml has Resources") {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let id = id.as_str().unwrap_or("?");
        for event in resource["Properties"]["Events"].as_mapping().into_iter().flat_map(|events| events.values()) {
            if event["Type"].as_str() != Some("HttpApi") {
                continue;
            }
            let function = resource["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap_or_else(|| {
                panic!("template.yaml: {id} has an HttpApi event but no Metadata.BuildProperties.Binary")
            });
            let field = |name: &str| {
                event["Properties"][name]
                    .as_str()
                    .unwrap_or_else(|| panic!("template.yaml: an HttpApi event of {id} has no literal {name}"))
                    .to_owned()
            };
            routes.insert((field("Method").to_ascii_uppercase(), field("Path"), function.to_owned()));
        }
    }
    routes
}

/// `[workspace.metadata.lambda.watch.router]` of Cargo.toml, read with string handling only
/// (the `toml` crate is not a test dependency). Entries look like
/// `"/v1/accounts" = [{ method = "POST", function = "create-account" }]`.
fn cargo_router_routes() -> BTreeSet<Route> {
    const HEADER: &str = "[workspace.metadata.lambda.watch.router]";
    let text = repo_file("Cargo.toml");
    let start = text
        .lines()
        .position(|line| line.trim() == HEADER)
        .unwrap_or_else(|| panic!("Cargo.toml has no {HEADER} section"));
    let mut section = String::new();
    for line in text.lines().skip(start + 1) {
        let line = line.trim();
        if line.starts_with('[') && !line.contains('=') {
            break; // the next table header
        }
        if !line.starts_with('#') {
            section.push_str(line);
            section.push('\n');
        }
    }

    let quoted = |text: &str| text.trim().strip_prefix('"').and_then(|t| t.strip_suffix('"')).map(str::to_owned);
    let mut routes = BTreeSet::new();
    let mut rest = section.as_str();
    while let Some((key, value)) = rest.split_once('=') {
        let path = quoted(key).unwrap_or_else(|| panic!("Cargo.toml router: expected a quoted path, got {key:?}"));
        let array = value
            .trim_start()
            .strip_prefix('[')
            .unwrap_or_else(|| panic!("Cargo.toml router: {path} must map to an array of {{ method, function }}"));
        let (array, tail) = array.split_once(']').unwrap_or_else(|| panic!("Cargo.toml router: {path}: no closing ]"));
        for table in array.split('}').filter_map(|t| t.split_once('{').map(|(_, inner)| inner)) {
            let mut fields = BTreeMap::new();
            for pair in table.split(',').filter(|p| !p.trim().is_empty()) {
                let (name, value) =
                    pair.split_once('=').unwrap_or_else(|| panic!("Cargo.toml router: {path}: cannot read {pair:?}"));
                let value = quoted(value)
                    .unwrap_or_else(|| panic!("Cargo.toml router: {path}: {} must be a string", name.trim()));
                fields.insert(name.trim().to_owned(), value);
            }
            let field = |name: &str| {
                fields.get(name).cloned().unwrap_or_else(|| panic!("Cargo.toml router: {path}: an entry has no {name}"))
            };
            routes.insert((field("method").to_ascii_uppercase(), path.clone(), field("function")));
        }
        rest = tail;
    }
    routes
}

fn openapi_routes(doc: &Value) -> BTreeSet<Route> {
    operations(doc).into_iter().map(|op| (op.method, op.path, op.function)).collect()
}

/// The function of the hosted pages.
const PAGES: &str = "web";

#[test]
fn template_openapi_and_local_router_have_the_same_routes() {
    let template = template_routes();
    let openapi = openapi_routes(&openapi());
    let router = cargo_router_routes();
    assert!(!template.is_empty(), "no HttpApi routes found in template.yaml");

    // The hosted pages answer HTML, not the JSON API the document describes (README lists them).
    let api: BTreeSet<Route> = template.iter().filter(|(_, _, function)| function != PAGES).cloned().collect();
    assert!(template.iter().any(|(_, _, function)| function == PAGES), "template.yaml serves the pages");

    let mut problems = Vec::new();
    for (name, template, routes) in
        [(OPENAPI, &api, &openapi), ("Cargo.toml [workspace.metadata.lambda.watch.router]", &template, &router)]
    {
        for missing in template.difference(routes) {
            problems.push(format!("{name} lacks {missing:?}, which template.yaml serves"));
        }
        for extra in routes.difference(template) {
            problems.push(format!("{name} has {extra:?}, which template.yaml does not serve"));
        }
    }
    assert!(problems.is_empty(), "routes disagree (METHOD, path, function):\n  {}", problems.join("\n  "));
}

#[test]
fn operation_ids_are_unique() {
    let mut seen = BTreeSet::new();
    for op in operations(&openapi()) {
        assert!(seen.insert(op.id.clone()), "{OPENAPI}: operationId {} is used twice", op.id);
    }
}
