//! Single-item writes that are safe to send again. When an attempt times out after DynamoDB
//! applied it, the SDK sends it again; a conditional write would then be refused by its own
//! condition (a used code, a started cooldown) or, unconditioned, counted twice. So each such
//! write stamps its item with a value of that call alone and refuses an item already holding it:
//! the second attempt is refused, and the refusal's old item, holding our stamp, shows that the
//! first was applied. Transactions need none of this: the SDK sends one `ClientRequestToken`
//! with all of their attempts.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder;
use aws_sdk_dynamodb::types::builders::UpdateBuilder;
use aws_sdk_dynamodb::types::AttributeValue;

use super::keys::s;
use super::Item;

const ATTRIBUTE: &str = "write_stamp";

/// Stamps unique to one process and call: a random prefix drawn at cold start and a counter.
#[derive(Clone)]
pub(super) struct Stamps {
    prefix: Arc<str>,
    next: Arc<AtomicU64>,
}

impl Stamps {
    pub(super) fn new(prefix: &str) -> Self {
        Stamps { prefix: prefix.into(), next: Arc::new(AtomicU64::new(0)) }
    }

    pub(super) fn next(&self) -> String {
        format!("{}.{}", self.prefix, self.next.fetch_add(1, Ordering::Relaxed))
    }
}

/// `update` setting `stamp`, under its own condition and "the item does not hold `stamp`".
pub(super) fn stamped(update: UpdateBuilder, stamp: &str) -> UpdateBuilder {
    let expression = update.get_update_expression().clone().unwrap_or_default();
    // An update expression names each clause once: the stamp joins its SET or opens one.
    let expression = match expression.find("SET ") {
        Some(at) => format!("{}SET #stamp = :stamp, {}", &expression[..at], &expression[at + 4..]),
        None => format!("SET #stamp = :stamp {expression}"),
    };
    let not_ours = "(attribute_not_exists(#stamp) OR #stamp <> :stamp)";
    let condition = match update.get_condition_expression() {
        Some(condition) => format!("({condition}) AND {not_ours}"),
        None => not_ours.to_owned(),
    };
    update
        .update_expression(expression)
        .condition_expression(condition)
        .expression_attribute_names("#stamp", ATTRIBUTE)
        .expression_attribute_values(":stamp", s(stamp))
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
        .condition_expression(format!("({condition}) OR #stamp = :stamp"))
        .expression_attribute_names("#stamp", ATTRIBUTE)
        .expression_attribute_values(":stamp", s(stamp))
}

/// Whether a refused write's old item shows that an earlier attempt of it was applied.
pub(super) fn applied_before(old: Option<&Item>, stamp: &str) -> bool {
    matches!(old.and_then(|item| item.get(ATTRIBUTE)), Some(AttributeValue::S(held)) if held == stamp)
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
                "SET #stamp = :stamp, a = :a REMOVE b".to_owned(),
                "(c = :c) AND (attribute_not_exists(#stamp) OR #stamp <> :stamp)".to_owned()
            )
        );
        assert_eq!(rewritten("ADD attempts :one", None).0, "SET #stamp = :stamp ADD attempts :one");
        assert_eq!(
            rewritten("ADD m :m SET x = :x", None).0,
            "ADD m :m SET #stamp = :stamp, x = :x",
            "a SET after another clause"
        );
    }

    #[test]
    fn only_the_calls_own_stamp_means_it_was_applied() {
        let stamps = Stamps::new("p");
        let (first, second) = (stamps.next(), stamps.next());
        assert_ne!(first, second);
        let item = Item::from([(ATTRIBUTE.to_owned(), s(&first))]);
        assert!(applied_before(Some(&item), &first));
        assert!(!applied_before(Some(&item), &second), "another call's write");
        assert!(!applied_before(Some(&Item::new()), &first), "an item never stamped");
        assert!(!applied_before(None, &first), "no item");
    }
}
