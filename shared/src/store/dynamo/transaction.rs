//! `TransactWriteItems`, with every item paired with what the refusal of its condition
//! means, so that a cancelled transaction is decoded by item, never by position.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::builders::{ConditionCheckBuilder, DeleteBuilder, UpdateBuilder};
use aws_sdk_dynamodb::types::{Delete, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem};
use aws_sdk_dynamodb::Client;

use domain::error::{Error, Result};

use super::{build_error, dynamo_error, Item};
use crate::faults;

/// What the refusal of one item means, from the item DynamoDB found there (given only
/// to an update added with [`Transaction::update_reading_old`]).
type Refusal<'a, R> = Box<dyn FnOnce(Option<&Item>) -> R + Send + 'a>;

/// The condition of a put that may not replace an item.
const ABSENT: &str = "attribute_not_exists(pk)";

/// One transaction being put together. Sent, it answers `refused` of the first item, in
/// the order they were added, whose condition failed: where one refusal must win over
/// another, its item comes first. Items added without a meaning (those no condition guards,
/// and puts under a key just drawn at random) are passed over. A cancellation without such
/// a refusal is `Error::Conflict` when DynamoDB saw a concurrent transaction on the same
/// items, which the client may simply retry, and an internal error otherwise.
///
/// `R` is what a refusal means: a domain `Error`, or `()` for a caller that only asks
/// whether the transaction went through.
pub(super) struct Transaction<'a, R = Error> {
    table: &'a str,
    items: Vec<TransactWriteItem>,
    /// One per item, in the same order.
    refusals: Vec<Option<Refusal<'a, R>>>,
}

impl<'a, R: Send + 'a> Transaction<'a, R> {
    pub(super) fn new(table: &'a str) -> Self {
        Transaction { table, items: Vec::new(), refusals: Vec::new() }
    }

    pub(super) fn len(&self) -> usize {
        self.items.len()
    }

    /// Puts `item` unless an item has its key: `refused` then.
    pub(super) fn insert(&mut self, item: Item, refused: R) -> Result<()> {
        self.push_put(item, Some(ABSENT), Some(constant(refused)))
    }

    /// Puts `item` under a key drawn at random just now, unless an item has it (a bug).
    pub(super) fn insert_fresh(&mut self, item: Item) -> Result<()> {
        self.push_put(item, Some(ABSENT), None)
    }

    /// Puts `item`, whatever is there.
    pub(super) fn put(&mut self, item: Item) -> Result<()> {
        self.push_put(item, None, None)
    }

    /// An update, `refused` when its condition fails.
    pub(super) fn update(&mut self, update: UpdateBuilder, refused: R) -> Result<()> {
        self.push_update(update, constant(refused))
    }

    /// An update whose refusal depends on the item it found: DynamoDB returns that item
    /// (`ALL_OLD`) and `refused` reads it (`None` when there was none).
    pub(super) fn update_reading_old(
        &mut self,
        update: UpdateBuilder,
        refused: impl FnOnce(Option<&Item>) -> R + Send + 'a,
    ) -> Result<()> {
        let update = update.return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        self.push_update(update, Box::new(refused))
    }

    /// A condition on an item the transaction does not write, `refused` when it fails.
    pub(super) fn check(&mut self, check: ConditionCheckBuilder, refused: R) -> Result<()> {
        let check = check.table_name(self.table).build().map_err(build_error)?;
        self.push(TransactWriteItem::builder().condition_check(check).build(), Some(constant(refused)));
        Ok(())
    }

    /// A delete guarded by a condition, `refused` when it fails.
    pub(super) fn delete(&mut self, delete: DeleteBuilder, refused: R) -> Result<()> {
        self.push_delete(delete, Some(constant(refused)))
    }

    /// Deletes the item at `key`, if there is one.
    pub(super) fn delete_any(&mut self, key: Item) -> Result<()> {
        self.push_delete(Delete::builder().set_key(Some(key)), None)
    }

    /// Sends the transaction: `Ok(Err(refused))` when an item's condition refused it.
    pub(super) async fn send(self, client: &Client) -> Result<std::result::Result<(), R>> {
        let Transaction { items, refusals, .. } = self;
        match client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(Ok(())),
            Err(SdkError::ServiceError(e)) if e.err().is_transaction_canceled_exception() => {
                refusal(refusals, e.into_err()).map(Err)
            }
            Err(e) => Err(dynamo_error("TransactWriteItems", e)),
        }
    }

    fn push(&mut self, item: TransactWriteItem, refused: Option<Refusal<'a, R>>) {
        self.items.push(item);
        self.refusals.push(refused);
    }

    fn push_put(&mut self, item: Item, condition: Option<&str>, refused: Option<Refusal<'a, R>>) -> Result<()> {
        let put = Put::builder()
            .table_name(self.table)
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_owned));
        self.push(TransactWriteItem::builder().put(put.build().map_err(build_error)?).build(), refused);
        Ok(())
    }

    fn push_update(&mut self, update: UpdateBuilder, refused: Refusal<'a, R>) -> Result<()> {
        let update = update.table_name(self.table).build().map_err(build_error)?;
        self.push(TransactWriteItem::builder().update(update).build(), Some(refused));
        Ok(())
    }

    fn push_delete(&mut self, delete: DeleteBuilder, refused: Option<Refusal<'a, R>>) -> Result<()> {
        let delete = delete.table_name(self.table).build().map_err(build_error)?;
        self.push(TransactWriteItem::builder().delete(delete).build(), refused);
        Ok(())
    }
}

impl Transaction<'_, Error> {
    /// Sends the transaction; a refusal is the error its item was added with.
    pub(super) async fn commit(self, client: &Client) -> Result<()> {
        self.send(client).await?
    }
}

fn constant<'a, R: Send + 'a>(refused: R) -> Refusal<'a, R> {
    Box::new(move |_| refused)
}

/// What the transaction's failure `err` means: the refusal of its first item (in order)
/// refused by its condition, or the error a failure without one is.
fn refusal<R>(refusals: Vec<Option<Refusal<'_, R>>>, err: TransactWriteItemsError) -> Result<R> {
    let TransactWriteItemsError::TransactionCanceledException(cancelled) = &err else {
        return Err(faults::service_error("DynamoDB", "TransactWriteItems", &err));
    };
    let reasons = cancelled.cancellation_reasons();
    let refused = refusals.into_iter().zip(reasons).find_map(|(refused, reason)| {
        refused.filter(|_| reason.code() == Some("ConditionalCheckFailed")).map(|refused| refused(reason.item()))
    });
    match refused {
        Some(refused) => Ok(refused),
        None if reasons.iter().any(|r| r.code() == Some("TransactionConflict")) => Err(Error::Conflict),
        None if reasons
            .iter()
            .any(|r| matches!(r.code(), Some("ThrottlingError" | "ProvisionedThroughputExceeded"))) =>
        {
            Err(faults::fault("DynamoDB", "TransactWriteItems", "ThrottlingError"))
        }
        None => Err(faults::service_error("DynamoDB", "TransactWriteItems", &err)),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use aws_sdk_dynamodb::types::error::{ResourceNotFoundException, TransactionCanceledException};
    use aws_sdk_dynamodb::types::{CancellationReason, ConditionCheck, Update};

    use super::*;
    use crate::store::dynamo::keys::{n, s};

    const REFUSED: &str = "ConditionalCheckFailed";
    const CONFLICT: &str = "TransactionConflict";
    /// What DynamoDB reports for an item that did not stop the transaction.
    const FINE: &str = "None";

    fn key(pk: &str) -> Item {
        HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s("X"))])
    }

    fn reason(code: &str) -> CancellationReason {
        CancellationReason::builder().code(code).build()
    }

    fn cancelled(codes: &[&str]) -> TransactWriteItemsError {
        cancelled_by(codes.iter().map(|code| reason(code)).collect())
    }

    fn cancelled_by(reasons: Vec<CancellationReason>) -> TransactWriteItemsError {
        let exception = TransactionCanceledException::builder()
            .message("Transaction cancelled")
            .set_cancellation_reasons(Some(reasons))
            .build();
        TransactWriteItemsError::TransactionCanceledException(exception)
    }

    fn answer<R: Send>(tx: Transaction<'_, R>, codes: &[&str]) -> Result<R> {
        refusal(tx.refusals, cancelled(codes))
    }

    fn update(pk: &str) -> UpdateBuilder {
        Update::builder().set_key(Some(key(pk))).update_expression("SET a = :a").condition_expression("b = :a")
    }

    /// A sign-up: the token (refused: expired), the contact (taken) and the account (fresh).
    fn sign_up() -> Transaction<'static> {
        let mut tx = Transaction::new("table");
        tx.update(update("VER#1"), Error::VerificationExpired).unwrap();
        tx.insert(key("ID#1"), Error::AlreadyRegistered).unwrap();
        tx.insert_fresh(key("ACC#1")).unwrap();
        tx
    }

    #[test]
    fn the_first_refused_item_names_the_error() {
        assert!(matches!(answer(sign_up(), &[FINE, REFUSED, FINE]), Ok(Error::AlreadyRegistered)));
        assert!(matches!(answer(sign_up(), &[REFUSED, FINE, FINE]), Ok(Error::VerificationExpired)));
        assert!(matches!(answer(sign_up(), &[REFUSED, REFUSED, FINE]), Ok(Error::VerificationExpired)));
        assert!(matches!(answer(sign_up(), &[FINE, REFUSED, REFUSED]), Ok(Error::AlreadyRegistered)));
    }

    #[test]
    fn a_refusal_outranks_a_conflict_on_another_item() {
        assert!(matches!(answer(sign_up(), &[CONFLICT, REFUSED, FINE]), Ok(Error::AlreadyRegistered)));
    }

    #[test]
    fn items_without_a_meaning_are_passed_over() {
        // A fresh key taken is a bug, not something to tell the client.
        assert!(matches!(answer(sign_up(), &[FINE, FINE, REFUSED]), Err(Error::Internal(_))));
        // Unless DynamoDB also saw a concurrent transaction: retrying may then work.
        assert!(matches!(answer(sign_up(), &[CONFLICT, FINE, REFUSED]), Err(Error::Conflict)));
        let mut tx = Transaction::new("table");
        tx.delete_any(key("SES#1")).unwrap();
        tx.delete(Delete::builder().set_key(Some(key("ID#1"))).condition_expression("a = :a"), Error::Conflict)
            .unwrap();
        tx.put(key("SES#2")).unwrap();
        assert!(matches!(answer(tx, &[REFUSED, FINE, REFUSED]), Err(Error::Internal(_))));
    }

    #[test]
    fn a_cancellation_without_refusal_keeps_its_meaning() {
        assert!(matches!(answer(sign_up(), &[FINE, CONFLICT, FINE]), Err(Error::Conflict)));
        // Throttled items are a fault of the moment: 503, and the same request may be sent again.
        let throttled = answer(sign_up(), &[FINE, "ThrottlingError", FINE]);
        assert!(matches!(throttled, Err(Error::ServiceUnavailable { .. })), "{throttled:?}");
        let failed = answer(sign_up(), &[FINE, "ValidationError", FINE]);
        assert!(matches!(failed, Err(Error::Internal(message)) if message.contains("TransactWriteItems")));
        // Fewer reasons than items (DynamoDB sends one per item; the rest count as not refused).
        assert!(matches!(answer(sign_up(), &[FINE]), Err(Error::Internal(_))));
    }

    #[test]
    fn other_failures_are_internal() {
        let missing = TransactWriteItemsError::ResourceNotFoundException(
            ResourceNotFoundException::builder().message("no table").build(),
        );
        assert!(matches!(refusal(sign_up().refusals, missing), Err(Error::Internal(_))));
    }

    #[test]
    fn a_refusal_can_read_the_item_it_found() {
        let mut tx = Transaction::new("table");
        let check = ConditionCheck::builder().set_key(Some(key("LIMIT#1"))).condition_expression("a = :a");
        tx.check(check, 0).unwrap();
        tx.update_reading_old(update("LIMIT#2"), |old| {
            old.and_then(|item| item.get("count")?.as_n().ok()?.parse().ok()).unwrap_or(99)
        })
        .unwrap();
        let sent = tx.items[1].update().unwrap();
        assert_eq!(sent.return_values_on_condition_check_failure(), Some(&ReturnValuesOnConditionCheckFailure::AllOld));
        assert_eq!(sent.table_name(), "table");

        let found = CancellationReason::builder().code(REFUSED).item("count", n(7)).build();
        assert!(matches!(refusal(tx.refusals, cancelled_by(vec![reason(FINE), found])), Ok(7)));
        let mut tx = Transaction::new("table");
        tx.update_reading_old(update("LIMIT#2"), |old| if old.is_none() { 99 } else { 7 }).unwrap();
        assert!(matches!(answer(tx, &[REFUSED]), Ok(99)));
    }

    #[test]
    fn a_yes_or_no_transaction_refuses_with_unit() {
        let mut tx = Transaction::new("table");
        tx.check(ConditionCheck::builder().set_key(Some(key("LIMIT#1"))).condition_expression("a = :a"), ()).unwrap();
        tx.update(update("VER#1"), ()).unwrap();
        assert!(matches!(answer(tx, &[FINE, REFUSED]), Ok(())));
    }
}
