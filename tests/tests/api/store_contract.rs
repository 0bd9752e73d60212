//! The store contract (`domain::store::contract`) against `DynamoStore`, each check on a fresh
//! table in moto; `shared/domain/tests/store_contract.rs` runs the same checks against `MemoryStore`.

use std::ops::Deref;

use integration_tests::Stack;
use shared::store::DynamoStore;

/// A store over a table of its own, deleted with the stack.
struct Fresh {
    store: DynamoStore,
    _stack: Stack,
}

impl Deref for Fresh {
    type Target = DynamoStore;

    fn deref(&self) -> &DynamoStore {
        &self.store
    }
}

async fn fresh() -> Fresh {
    let stack = Stack::new().await;
    Fresh { store: DynamoStore::new(stack.dynamo.clone(), stack.table.clone()), _stack: stack }
}

domain::store_contract_tests!(fresh, races: #[ignore = "moto does not serialise concurrent writes: no lock around a conditional write, and a refused transaction restores a copy of the table taken before it"]);
