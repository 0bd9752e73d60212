//! The OpenID Connect store contract (`domain::store::contract`, `oidc`) against the in-memory store.
#![cfg(feature = "memory")]

use domain::store::MemoryStore;

async fn fresh() -> Box<MemoryStore> {
    Box::new(MemoryStore::new())
}

domain::oidc_store_contract_tests!(fresh);
