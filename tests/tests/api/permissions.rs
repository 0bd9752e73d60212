//! Least privilege in `template.yaml`. Every test already holds each function to its grants on
//! every AWS request (`integration_tests::policy`); these check what that cannot: that the grants
//! are narrow where no request would show it, and that the check itself catches a refusal.

use integration_tests::policy::{template_path, Policies};
use integration_tests::{sdk_config, Stack, TestRequest};

/// Every function crate of `functions/`, each of which must be a function of the template.
fn functions() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../functions");
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|entry| entry.unwrap().file_name().into_string().unwrap()).collect();
    names.sort_unstable();
    names
}

#[test]
fn every_function_has_its_own_policy() {
    assert_eq!(Policies::of_repository().binaries(), functions());
}

/// Every table grant names the key prefixes it may touch, and none is the whole table.
#[test]
fn every_table_grant_is_limited_to_key_prefixes() {
    let policies = Policies::of_repository();
    for binary in functions() {
        let binary = binary.as_str();
        let table: Vec<_> = policies.of(binary).iter().filter(|grant| grant.on_table).collect();
        assert!(!table.is_empty(), "{binary} has no table grant");
        for grant in table {
            let prefixes =
                grant.leading_keys.as_ref().unwrap_or_else(|| panic!("{binary}: {} has no LeadingKeys", grant.sid));
            assert!(
                !prefixes.is_empty() && prefixes.iter().all(|p| p.len() > 1 && p.ends_with("#*")),
                "{binary}: {prefixes:?}"
            );
        }
    }
}

/// The captcha function, which anyone may call, reads counters and nothing else, and is given
/// the edge secret only; every other function is given both keyrings.
#[test]
fn the_captcha_function_reads_counters_and_holds_only_the_edge_secret() {
    let policies = Policies::of_repository();
    let grants = policies.of("captcha");
    let table: Vec<_> = grants.iter().filter(|grant| grant.on_table).collect();
    assert_eq!(table.len(), 1);
    assert_eq!(
        (&table[0].actions[..], table[0].leading_keys.as_deref()),
        (&["dynamodb:GetItem".to_owned()][..], Some(&["LIMIT#*".to_owned()][..]))
    );
    let secrets: Vec<&str> = grants.iter().flat_map(|grant| grant.refs.iter().map(String::as_str)).collect();
    assert_eq!(secrets, ["EdgeSecret"]);
    for binary in functions().iter().map(String::as_str).filter(|b| *b != "captcha") {
        let secrets: Vec<&str> =
            policies.of(binary).iter().flat_map(|grant| grant.refs.iter().map(String::as_str)).collect();
        // The courier opens messages and counts SMS under the service secret alone; the OpenID
        // Connect provider's functions (the pages among them) key pairwise subjects too.
        let given: &[&str] = match binary {
            "courier" => &["ServiceSecret"],
            "oidc" | "oidc-token" | "web" => &["ServiceSecret", "EdgeSecret", "PairwiseKey"],
            _ => &["ServiceSecret", "EdgeSecret"],
        };
        assert_eq!(secrets, given, "{binary}");
    }
    let template = std::fs::read_to_string(template_path()).unwrap();
    let captcha = &template[template.find("Binary: captcha").unwrap()..];
    let captcha = &captcha[..captcha.find("\n  # ---").unwrap()];
    assert!(captcha.contains("SERVICE_SECRET_ARN: \"\""), "the captcha function's environment names no service secret");
}

/// Only the token endpoint may sign with the provider's keys; every key it may use is one
/// tagged for this stack (rotate-signing-key tags the keys it makes).
#[test]
fn only_the_token_endpoint_may_sign_and_only_with_this_stacks_keys() {
    let policies = Policies::of_repository();
    for binary in functions() {
        let signs = policies.of(&binary).iter().any(|grant| grant.actions.iter().any(|a| a == "kms:Sign"));
        assert_eq!(signs, binary == "oidc-token", "{binary}");
    }
    let template = std::fs::read_to_string(template_path()).unwrap();
    for (at, _) in template.match_indices("Sid: SigningKeys") {
        let grant = &template[at..at + template[at..].find("- Sid: Table").unwrap()];
        assert!(grant.contains("aws:ResourceTag/oidc-signing: !Ref AWS::StackName"), "{grant}");
    }
}

/// Only the courier sends: no request function may call SES or SNS, so none can be made to send
/// a message that was not written to the outbox with its change.
#[test]
fn only_the_courier_may_send_email_or_sms() {
    let policies = Policies::of_repository();
    for binary in functions() {
        let sends = policies
            .of(&binary)
            .iter()
            .flat_map(|grant| grant.actions.iter())
            .filter(|action| action.starts_with("ses:") || action.starts_with("sns:"))
            .count();
        assert_eq!(sends > 0, binary == "courier", "{binary}");
    }
}

/// The check is not vacuous: held to a template without its `GetItem`, the captcha function's
/// one read is refused.
#[tokio::test]
#[should_panic(expected = "template.yaml does not allow captcha dynamodb:GetItem on LIMIT#ip:")]
async fn a_request_the_template_does_not_grant_fails_the_test() {
    let template = std::fs::read_to_string(template_path()).unwrap();
    let at = template.find("Binary: captcha").unwrap();
    let grant = at + template[at..].find("                - dynamodb:GetItem\n").unwrap();
    let narrowed = format!("{}                - dynamodb:Query\n{}", &template[..grant], &template[grant + 35..]);
    let stack = Stack::with_policies(sdk_config().await, &[], Policies::parse(&narrowed)).await;
    stack.call(captcha::handle, TestRequest::get("/v1/captcha")).await;
}

/// The pages call in process what these API functions do, and nothing else.
const PAGES_STAND_IN_FOR: [&str; 9] = [
    "request-code",
    "verify-code",
    "create-account",
    "sign-in",
    "reset-password",
    "manage-account",
    "add-recovery-contact",
    "enable-2fa",
    "oidc",
];

/// Each (action, key prefix) a function may use on the table.
fn table_rights(policies: &Policies, binary: &str) -> std::collections::BTreeSet<(String, String)> {
    policies
        .of(binary)
        .iter()
        .filter(|grant| grant.on_table)
        .flat_map(|grant| {
            let prefixes = grant.leading_keys.clone().unwrap_or_default();
            grant.actions.iter().flat_map(move |a| prefixes.clone().into_iter().map(move |p| (a.clone(), p)))
        })
        .collect()
}

/// No test drives the pages' function against the table (the browser tests run it under
/// `cargo lambda watch`, which enforces no policy), so its grants are held to those of the API
/// functions it stands in for: all of them, since the pages reach every one of their table
/// writes, and no more. Idempotency records (`IDEM#`) are the API's alone.
#[test]
fn the_pages_may_do_on_the_table_what_the_api_functions_they_stand_in_for_may() {
    let policies = Policies::of_repository();
    let needed: std::collections::BTreeSet<_> = PAGES_STAND_IN_FOR
        .iter()
        .flat_map(|binary| table_rights(&policies, binary))
        .filter(|(_, prefix)| prefix != "IDEM#*")
        .collect();
    let given = table_rights(&policies, "web");
    assert_eq!(needed.difference(&given).collect::<Vec<_>>(), Vec::<&(String, String)>::new(), "missing");
    assert_eq!(given.difference(&needed).collect::<Vec<_>>(), Vec::<&(String, String)>::new(), "beyond");
}
