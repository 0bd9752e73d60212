//! The store contract (`domain::store::contract`) against the in-memory store.
#![cfg(feature = "memory")]

use domain::store::MemoryStore;

async fn fresh() -> Box<MemoryStore> {
    Box::new(MemoryStore::new())
}

domain::store_contract_tests!(fresh);
