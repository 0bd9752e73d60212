//! `TransactWriteItems`, with every item paired with what the refusal of its condition
//! means, so that a cancelled transaction is decoded by item, never by position.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::builders::{ConditionCheckBuilder, DeleteBuilder, UpdateBuilder};
use aws_sdk_dynamodb::types::{
    CancellationReason, Delete, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use aws_sdk_dynamodb::Client;

use domain::error::{Error, Result};

use super::keys::s;
use super::stamp;
use super::{build_error, dynamo_error, Item};
use crate::faults;

/// What the refusal of one item means, from the item DynamoDB found there (given only
/// to an update added with [`Transaction::update_reading_old`]).
type Refusal<'a, R> = Box<dyn FnOnce(Option<&Item>) -> R + Send + 'a>;

/// What it means when DynamoDB refuses one item's condition.
enum Meaning<'a, R> {
    /// Nothing to tell the client (no condition guards it, or it is a bug).
    Nothing,
    /// A put under a key drawn at random for this transaction: found there holding this
    /// transaction's stamp, only an earlier attempt of it can have written it, so the whole
    /// transaction was applied.
    Fresh,
    Refused(Refusal<'a, R>),
}

/// The condition of a put that may not replace an item.
const ABSENT: &str = "attribute_not_exists(pk)";

/// The attribute of a created item that holds the stamp of the transaction that created it.
const CREATED_BY: &str = "created_by";

/// One transaction being put together. Sent, it answers `refused` of the first item, in
/// the order they were added, whose condition failed: where one refusal must win over
/// another, its item comes first. Items added without a meaning (those no condition guards)
/// are passed over. A cancellation without such a refusal is `Error::Conflict` when DynamoDB
/// saw a concurrent transaction on the same items, which the client may simply retry, and an
/// internal error otherwise.
///
/// A put under a key just drawn at random that is refused, by an item holding this
/// transaction's own stamp (`created_by`), means the transaction was applied already: an
/// attempt whose answer was lost, sent again. DynamoDB makes that retry succeed by the
/// `ClientRequestToken` the SDK sends with every attempt; where it does not (moto ignores the
/// token) the refused fresh key says the same, and wins over the other refusals.
///
/// `R` is what a refusal means: a domain `Error`, or `()` for a caller that only asks
/// whether the transaction went through.
pub(super) struct Transaction<'a, R = Error> {
    table: &'a str,
    /// Unique to this transaction (`stamp::fresh`), written into the items it creates.
    stamp: String,
    items: Vec<TransactWriteItem>,
    /// One per item, in the same order.
    meanings: Vec<Meaning<'a, R>>,
}

impl<'a, R: Send + 'a> Transaction<'a, R> {
    pub(super) fn new(table: &'a str, stamp: String) -> Self {
        Transaction { table, stamp, items: Vec::new(), meanings: Vec::new() }
    }

    pub(super) fn len(&self) -> usize {
        self.items.len()
    }

    /// Puts `item` unless an item has its key: `refused` then.
    pub(super) fn insert(&mut self, item: Item, refused: R) -> Result<()> {
        self.push_put(item, Some(ABSENT), refusal_of(refused))
    }

    /// Puts `item` under a key drawn at random just now, for this transaction.
    pub(super) fn insert_fresh(&mut self, mut item: Item) -> Result<()> {
        item.insert(CREATED_BY.to_owned(), s(&self.stamp));
        self.push_put(item, Some(ABSENT), Meaning::Fresh)
    }

    /// Puts `item`, whatever is there.
    pub(super) fn put(&mut self, item: Item) -> Result<()> {
        self.push_put(item, None, Meaning::Nothing)
    }

    /// An update, `refused` when its condition fails.
    pub(super) fn update(&mut self, update: UpdateBuilder, refused: R) -> Result<()> {
        self.push_update(update, refusal_of(refused))
    }

    /// An update whose refusal depends on the item it found: DynamoDB returns that item
    /// (`ALL_OLD`) and `refused` reads it (`None` when there was none).
    pub(super) fn update_reading_old(
        &mut self,
        update: UpdateBuilder,
        refused: impl FnOnce(Option<&Item>) -> R + Send + 'a,
    ) -> Result<()> {
        let update = update.return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        self.push_update(update, Meaning::Refused(Box::new(refused)))
    }

    /// A condition on an item the transaction does not write, `refused` when it fails.
    pub(super) fn check(&mut self, check: ConditionCheckBuilder, refused: R) -> Result<()> {
        let check = check.table_name(self.table).build().map_err(build_error)?;
        self.push(TransactWriteItem::builder().condition_check(check).build(), refusal_of(refused));
        Ok(())
    }

    /// A delete guarded by a condition, `refused` when it fails.
    pub(super) fn delete(&mut self, delete: DeleteBuilder, refused: R) -> Result<()> {
        self.push_delete(delete, refusal_of(refused))
    }

    /// Deletes the item at `key`, if there is one.
    pub(super) fn delete_any(&mut self, key: Item) -> Result<()> {
        self.push_delete(Delete::builder().set_key(Some(key)), Meaning::Nothing)
    }

    /// Sends the transaction: `Ok(Err(refused))` when an item's condition refused it.
    pub(super) async fn send(self, client: &Client) -> Result<std::result::Result<(), R>> {
        let Transaction { items, meanings, stamp, .. } = self;
        match client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(Ok(())),
            Err(SdkError::ServiceError(e)) if e.err().is_transaction_canceled_exception() => {
                outcome(meanings, &stamp, e.into_err())
            }
            Err(e) => Err(dynamo_error("TransactWriteItems", e)),
        }
    }

    fn push(&mut self, item: TransactWriteItem, meaning: Meaning<'a, R>) {
        self.items.push(item);
        self.meanings.push(meaning);
    }

    fn push_put(&mut self, item: Item, condition: Option<&str>, refused: Meaning<'a, R>) -> Result<()> {
        let mut put = Put::builder()
            .table_name(self.table)
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_owned));
        if matches!(refused, Meaning::Fresh) {
            put = put.return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        }
        self.push(TransactWriteItem::builder().put(put.build().map_err(build_error)?).build(), refused);
        Ok(())
    }

    fn push_update(&mut self, update: UpdateBuilder, refused: Meaning<'a, R>) -> Result<()> {
        let update = update.table_name(self.table).build().map_err(build_error)?;
        self.push(TransactWriteItem::builder().update(update).build(), refused);
        Ok(())
    }

    fn push_delete(&mut self, delete: DeleteBuilder, refused: Meaning<'a, R>) -> Result<()> {
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

fn refusal_of<'a, R: Send + 'a>(refused: R) -> Meaning<'a, R> {
    Meaning::Refused(Box::new(move |_| refused))
}

/// What the transaction's failure `err` means: applied already (a fresh key refused), the
/// refusal of its first item (in order) refused by its condition, or the error a failure
/// without one is.
fn outcome<R>(
    meanings: Vec<Meaning<'_, R>>,
    stamp: &str,
    err: TransactWriteItemsError,
) -> Result<std::result::Result<(), R>> {
    let TransactWriteItemsError::TransactionCanceledException(cancelled) = &err else {
        return Err(faults::service_error("DynamoDB", "TransactWriteItems", &err));
    };
    let reasons = cancelled.cancellation_reasons();
    let refused = |reason: &CancellationReason| reason.code() == Some("ConditionalCheckFailed");
    let ours = |reason: &CancellationReason| stamp::holds(reason.item(), CREATED_BY, stamp);
    if meanings
        .iter()
        .zip(reasons)
        .any(|(meaning, reason)| matches!(meaning, Meaning::Fresh) && refused(reason) && ours(reason))
    {
        return Ok(Ok(()));
    }
    let refusal = meanings.into_iter().zip(reasons).find_map(|(meaning, reason)| match meaning {
        Meaning::Refused(refusal) if refused(reason) => Some(refusal(reason.item())),
        _ => None,
    });
    match refusal {
        Some(refusal) => Ok(Err(refusal)),
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
    use aws_sdk_dynamodb::types::{ConditionCheck, Update};

    use super::*;
    use crate::store::dynamo::keys::n;

    const REFUSED: &str = "ConditionalCheckFailed";
    const STAMP: &str = "p.7";
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

    fn answer<R: Send>(tx: Transaction<'_, R>, codes: &[&str]) -> Result<std::result::Result<(), R>> {
        outcome(tx.meanings, STAMP, cancelled(codes))
    }

    /// A refusal by an item created by the transaction stamped `stamp`.
    fn created_by(stamp: &str) -> CancellationReason {
        CancellationReason::builder().code(REFUSED).item(CREATED_BY, s(stamp)).build()
    }

    fn update(pk: &str) -> UpdateBuilder {
        Update::builder().set_key(Some(key(pk))).update_expression("SET a = :a").condition_expression("b = :a")
    }

    /// A sign-up: the token (refused: expired), the contact (taken) and the account (fresh).
    fn sign_up() -> Transaction<'static> {
        let mut tx = Transaction::new("table", STAMP.to_owned());
        tx.update(update("VER#1"), Error::VerificationExpired).unwrap();
        tx.insert(key("ID#1"), Error::AlreadyRegistered).unwrap();
        tx.insert_fresh(key("ACC#1")).unwrap();
        tx
    }

    #[test]
    fn the_first_refused_item_names_the_error() {
        assert!(matches!(answer(sign_up(), &[FINE, REFUSED, FINE]), Ok(Err(Error::AlreadyRegistered))));
        assert!(matches!(answer(sign_up(), &[REFUSED, FINE, FINE]), Ok(Err(Error::VerificationExpired))));
        assert!(matches!(answer(sign_up(), &[REFUSED, REFUSED, FINE]), Ok(Err(Error::VerificationExpired))));
    }

    #[test]
    fn a_refusal_outranks_a_conflict_on_another_item() {
        assert!(matches!(answer(sign_up(), &[CONFLICT, REFUSED, FINE]), Ok(Err(Error::AlreadyRegistered))));
    }

    #[test]
    fn a_fresh_key_refused_by_its_own_item_means_an_earlier_attempt_applied_it() {
        // The retry of an applied sign-up finds its own account, and its used token and
        // claimed contact: applied, not refused.
        let ours = |first: &str, second: &str| {
            outcome(sign_up().meanings, STAMP, cancelled_by(vec![reason(first), reason(second), created_by(STAMP)]))
        };
        assert!(matches!(ours(FINE, FINE), Ok(Ok(()))));
        assert!(matches!(ours(REFUSED, REFUSED), Ok(Ok(()))));
        assert!(matches!(ours(CONFLICT, FINE), Ok(Ok(()))));
        let put = sign_up().items[2].put().cloned().unwrap();
        assert_eq!(put.item().get(CREATED_BY), Some(&s(STAMP)), "the created item holds the stamp");
        assert_eq!(put.return_values_on_condition_check_failure(), Some(&ReturnValuesOnConditionCheckFailure::AllOld));
        // Another transaction's item under the same fresh key is a bug, not something to tell
        // the client, unless DynamoDB also saw a concurrent transaction: retrying may then work.
        let theirs = |first: &str| {
            outcome(sign_up().meanings, STAMP, cancelled_by(vec![reason(first), reason(FINE), created_by("p.8")]))
        };
        assert!(matches!(theirs(FINE), Err(Error::Internal(_))));
        assert!(matches!(theirs(CONFLICT), Err(Error::Conflict)));
        assert!(matches!(answer(sign_up(), &[FINE, FINE, REFUSED]), Err(Error::Internal(_))), "no item returned");
    }

    #[test]
    fn items_without_a_meaning_are_passed_over() {
        let mut tx = Transaction::new("table", STAMP.to_owned());
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
        assert!(matches!(outcome(sign_up().meanings, STAMP, missing), Err(Error::Internal(_))));
    }

    #[test]
    fn a_refusal_can_read_the_item_it_found() {
        let mut tx = Transaction::new("table", STAMP.to_owned());
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
        assert!(matches!(outcome(tx.meanings, STAMP, cancelled_by(vec![reason(FINE), found])), Ok(Err(7))));
        let mut tx = Transaction::new("table", STAMP.to_owned());
        tx.update_reading_old(update("LIMIT#2"), |old| if old.is_none() { 99 } else { 7 }).unwrap();
        assert!(matches!(answer(tx, &[REFUSED]), Ok(Err(99))));
    }

    #[test]
    fn a_yes_or_no_transaction_refuses_with_unit() {
        let mut tx = Transaction::new("table", STAMP.to_owned());
        tx.check(ConditionCheck::builder().set_key(Some(key("LIMIT#1"))).condition_expression("a = :a"), ()).unwrap();
        tx.update(update("VER#1"), ()).unwrap();
        assert!(matches!(answer(tx, &[FINE, REFUSED]), Ok(Err(()))));
    }
}
