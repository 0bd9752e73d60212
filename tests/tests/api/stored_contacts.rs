//! Stored contacts are trusted as stored (issue 15 item 9). Numbering plans change: a number
//! valid when its account was made can be refused by a later update of the phone metadata.
//! Such an account still opens its account page, signs in with its number and resets its
//! password by SMS; only a new contact is held to today's plans.

use aws_sdk_dynamodb::types::AttributeValue;
use integration_tests::outbox::last_code_to;
use integration_tests::{new_phone, random_hex, Stack, TestRequest};
use serde_json::json;
use shared::domain::{Contact, PhoneNumber};

const PASSWORD: &str = "Tr0ub4dor&3-horse";
const NEW_PASSWORD: &str = "N3w-Passphrase-River!";

/// What a metadata update does to the account of `old`: its number, as stored, becomes one
/// today's plans refuse (Indian numbers never start with 1). Moves the claim and the account's
/// primary contact, as an account made under older plans would have them.
async fn renumber(stack: &Stack, account_id: &str, old: &Contact) -> String {
    let new = format!("+911{}", &random_hex(5).bytes().map(|b| (b'0' + b % 10) as char).collect::<String>()[..9]);
    assert!(PhoneNumber::parse(None, &new).is_err(), "{new} must be refused today");
    let (table, dynamo) = (&stack.table, &stack.dynamo);
    let key = |pk: String, sk: &str| {
        [("pk".to_owned(), AttributeValue::S(pk)), ("sk".to_owned(), AttributeValue::S(sk.into()))].into()
    };
    let old_claim: std::collections::HashMap<_, _> = key(format!("ID#{}", old.canonical()), "ID");
    let claim = dynamo.get_item().table_name(table).set_key(Some(old_claim.clone())).send().await.unwrap();
    let mut claim = claim.item.expect("the number's claim");
    claim.insert("pk".into(), AttributeValue::S(format!("ID#{new}")));
    dynamo.put_item().table_name(table).set_item(Some(claim)).send().await.unwrap();
    dynamo.delete_item().table_name(table).set_key(Some(old_claim)).send().await.unwrap();
    dynamo
        .update_item()
        .table_name(table)
        .set_key(Some(key(format!("ACC#{account_id}"), "ACC")))
        .update_expression("SET primary_contact = :new")
        .expression_attribute_values(":new", AttributeValue::S(new.clone()))
        .send()
        .await
        .unwrap();
    new
}

#[tokio::test]
async fn a_number_todays_plans_refuse_keeps_its_account() {
    let stack = Stack::new().await;
    let phone = new_phone();
    let account_id = stack.sign_up(&phone, PASSWORD).await;
    let number = renumber(&stack, &account_id, &phone).await;

    let signed_in = stack.sign_in(json!({"login": number, "password": PASSWORD})).await;
    assert_eq!(signed_in.status, 201, "signs in with its number: {:?}", signed_in.json);
    let page = stack.account_page(signed_in.json["session_token"].as_str().unwrap()).await;
    assert_eq!(page.status, 200, "{:?}", page.json);
    let shown = page.json["contacts"][0]["value"].as_str().unwrap_or_default();
    assert!(shown.starts_with("+91 ") && shown.ends_with(&number[number.len() - 4..]), "{:?}", page.json);

    // Forgot password, by SMS to that number.
    let sent = stack.request_code(json!({"channel": "sms", "phone": number, "purpose": "reset_password"})).await;
    assert_eq!(sent.status, 202, "{:?}", sent.json);
    let stored = Contact::Phone(PhoneNumber::from_stored(&number).unwrap());
    let code = last_code_to(&stored).expect("the reset code reached the number");
    let confirmed = stack.confirm(sent.json["verification_id"].as_str().unwrap(), &code).await;
    let token = confirmed.json["verification_token"].as_str().unwrap();
    let reset =
        TestRequest::post("/v1/password-resets", json!({"verification_token": token, "password": NEW_PASSWORD}));
    assert_eq!(stack.call(reset_password::handle, reset).await.status, 204);
    assert_eq!(stack.sign_in(json!({"login": number, "password": NEW_PASSWORD})).await.status, 201);

    // A new contact is held to today's plans.
    let sign_up = stack.request_code(json!({"channel": "sms", "phone": number, "purpose": "sign_up"})).await;
    assert_eq!((sign_up.status, sign_up.error_code()), (400, "invalid_phone"));
}
