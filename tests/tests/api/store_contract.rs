//! The store contract (`domain::store::contract`) against `DynamoStore`, each check on a fresh
//! table in moto; `shared/domain/tests/store_contract.rs` and `oidc_store_contract.rs` run the
//! same checks against `MemoryStore`.

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

// The checks of concurrent requests hold on moto because infra/moto_serial.py answers one
// request at a time, as DynamoDB serialises the writes to an item.
domain::store_contract_tests!(fresh);
domain::oidc_store_contract_tests!(fresh);
