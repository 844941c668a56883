//! The store contract ([`contract`]) on the embedded redb backend, in
//! memory and on a file.

#[macro_use]
mod contract;

use escalier_store::{Store, StoreOptions};

contract_tests!(|| Store::in_memory().expect("in-memory store"));

/// The same checks on a database file, each in its own directory.
#[test]
fn the_contract_holds_on_a_file() {
    let dirs = std::sync::Mutex::new(Vec::new());
    contract::run_all(&|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("escalier.redb"), &StoreOptions::default())
            .expect("store opens");
        dirs.lock().unwrap().push(dir);
        store
    });
}
