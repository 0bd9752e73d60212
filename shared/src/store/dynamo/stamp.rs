//! Writes that are safe to send again. When an attempt times out after DynamoDB applied it,
//! the SDK sends it again; a conditional write would then be refused by its own effect (a used
//! code, a started cooldown) or, unconditioned, counted twice. So each single-item write stamps
//! its item with a value of that call alone (`write_stamp`) and refuses an item already holding
//! it: the second attempt is refused, and the refusal's old item, holding our stamp, shows that
//! the first was applied. The item holds only its last writer's stamp, so when another write
//! of the same item lands between our attempt and its retry, the retry is applied again (a
//! counter) or refused; that needs a lost answer and a concurrent write within the same
//! second. Transactions carry the SDK's `ClientRequestToken`, which DynamoDB honours; their
//! new items also hold their stamp (`created_by`, see `transaction`) for where it is not.

use aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder;
use aws_sdk_dynamodb::types::builders::UpdateBuilder;
use aws_sdk_dynamodb::types::AttributeValue;
use rand::Rng;

use super::keys::s;
use super::Item;

const ATTRIBUTE: &str = "write_stamp";
const NAME: &str = "#write_stamp";
const VALUE: &str = ":write_stamp";

/// A stamp for one call: 128 random bits, so no two calls of any processes share one.
pub(super) fn fresh() -> String {
    format!("{:032x}", rand::rngs::OsRng.gen::<u128>())
}

/// `update` setting `stamp`, under its own condition and "the item does not hold `stamp`".
pub(super) fn stamped(update: UpdateBuilder, stamp: &str) -> UpdateBuilder {
    debug_assert!(update.get_expression_attribute_names().as_ref().is_none_or(|names| !names.contains_key(NAME)));
    debug_assert!(update.get_expression_attribute_values().as_ref().is_none_or(|values| !values.contains_key(VALUE)));
    let expression = update.get_update_expression().clone().unwrap_or_default();
    // An update expression names each clause once: the stamp joins its SET or opens one.
    let expression = match clause(&expression, "SET") {
        Some(at) => format!("{}SET {NAME} = {VALUE}, {}", &expression[..at], &expression[at + 4..]),
        None => format!("SET {NAME} = {VALUE} {expression}"),
    };
    let not_ours = format!("(attribute_not_exists({NAME}) OR {NAME} <> {VALUE})");
    let condition = match update.get_condition_expression() {
        Some(condition) => format!("({condition}) AND {not_ours}"),
        None => not_ours,
    };
    update
        .update_expression(expression)
        .condition_expression(condition)
        .expression_attribute_names(NAME, ATTRIBUTE)
        .expression_attribute_values(VALUE, s(stamp))
}

/// Where the clause `keyword` starts in an update expression: a whole word, in any case.
fn clause(expression: &str, keyword: &str) -> Option<usize> {
    let mut at = 0;
    for word in expression.split(' ') {
        if word.eq_ignore_ascii_case(keyword) {
            return Some(at);
        }
        at += word.len() + 1;
    }
    None
}

/// `put` of `item` under `condition`, written again rather than refused when the item there
/// is this call's own earlier attempt.
pub(super) fn stamped_put(
    put: PutItemFluentBuilder,
    mut item: Item,
    condition: &str,
    stamp: &str,
) -> PutItemFluentBuilder {
    item.insert(ATTRIBUTE.to_owned(), s(stamp));
    put.set_item(Some(item))
        .condition_expression(format!("({condition}) OR {NAME} = {VALUE}"))
        .expression_attribute_names(NAME, ATTRIBUTE)
        .expression_attribute_values(VALUE, s(stamp))
}

/// Whether a refused write's old item shows that an earlier attempt of it was applied.
pub(super) fn applied_before(old: Option<&Item>, stamp: &str) -> bool {
    holds(old, ATTRIBUTE, stamp)
}

/// Whether `item` holds `stamp` in `attribute`.
pub(super) fn holds(item: Option<&Item>, attribute: &str, stamp: &str) -> bool {
    matches!(item.and_then(|item| item.get(attribute)), Some(AttributeValue::S(held)) if held == stamp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::types::Update;

    fn rewritten(expression: &str, condition: Option<&str>) -> (String, String) {
        let update = stamped(
            Update::builder().update_expression(expression).set_condition_expression(condition.map(str::to_owned)),
            "p.1",
        );
        (update.get_update_expression().clone().unwrap(), update.get_condition_expression().clone().unwrap())
    }

    #[test]
    fn the_stamp_joins_the_set_clause_or_opens_one() {
        assert_eq!(
            rewritten("SET a = :a REMOVE b", Some("c = :c")),
            (
                "SET #write_stamp = :write_stamp, a = :a REMOVE b".to_owned(),
                "(c = :c) AND (attribute_not_exists(#write_stamp) OR #write_stamp <> :write_stamp)".to_owned()
            )
        );
        assert_eq!(rewritten("ADD attempts :one", None).0, "SET #write_stamp = :write_stamp ADD attempts :one");
        assert_eq!(
            rewritten("ADD m :m SET x = :x", None).0,
            "ADD m :m SET #write_stamp = :write_stamp, x = :x",
            "a SET after another clause"
        );
        assert_eq!(
            rewritten("ADD #OFFSET :m set x = :x", None).0,
            "ADD #OFFSET :m SET #write_stamp = :write_stamp, x = :x"
        );
    }

    #[test]
    fn only_the_calls_own_stamp_means_it_was_applied() {
        let (first, second) = (fresh(), fresh());
        assert_ne!(first, second);
        assert_eq!(first.len(), 32);
        let item = Item::from([(ATTRIBUTE.to_owned(), s(&first))]);
        assert!(applied_before(Some(&item), &first));
        assert!(!applied_before(Some(&item), &second), "another call's write");
        assert!(!applied_before(Some(&Item::new()), &first), "an item never stamped");
        assert!(!applied_before(None, &first), "no item");
    }
}
