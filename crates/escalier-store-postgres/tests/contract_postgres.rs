//! The store contract (`escalier-store/tests/contract`) on PostgreSQL:
//! the same checks the embedded store passes, through `Store`, with the
//! generic writer, processor, scheduler and outbox over [`PgBackend`].
//! Each store gets a database of its own. Needs `ESCALIER_TEST_POSTGRES`
//! (skipped without it).

#[path = "../../escalier-store/tests/contract/mod.rs"]
#[macro_use]
mod contract;

#[path = "pg/common.rs"]
#[allow(dead_code)]
mod common;

use std::sync::{Arc, Mutex};

use escalier_store::Store;
use escalier_store_postgres::PgOptions;

#[test]
fn the_contract_holds_on_postgres() {
    if std::env::var_os("ESCALIER_TEST_POSTGRES").is_none() {
        common::db(); // says SKIPPED
        return;
    }
    // Several partitions, and one: a shared store is leased either way.
    for partitions in [4, 1] {
        // Databases live until the end of the run, then are dropped.
        let dbs = Mutex::new(Vec::new());
        contract::run_all(&|| {
            let db = common::db().expect("ESCALIER_TEST_POSTGRES is set");
            let pg = db.connect(PgOptions {
                partitions,
                ..PgOptions::default()
            });
            dbs.lock().unwrap_or_else(|p| p.into_inner()).push(db);
            Store::from_backend(Arc::new(pg)).expect("store over PostgreSQL")
        });
    }
}
