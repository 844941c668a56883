//! What each `sslmode` does, against a server with TLS on and a
//! certificate no public root vouches for (a self-signed one).
//!
//! Needs `ESCALIER_TEST_POSTGRES_TLS`: the URL (without `sslmode`) of such a
//! server; skipped without it (scripts/pg starts servers without TLS).

use escalier_store::{Backend, StoreError};
use escalier_store_postgres::{PgBackend, PgOptions};

use crate::common::{self, TestDb};

const VAR: &str = "ESCALIER_TEST_POSTGRES_TLS";

fn url(db: &TestDb, mode: &str) -> String {
    format!("{}?sslmode={mode}", db.url)
}

/// Connections of the pool that use TLS / that do not.
fn tls_connections(db: &TestDb) -> (i64, i64) {
    let on = db.query_i64(
        "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
          WHERE a.application_name = 'escalier' AND a.datname = current_database() AND s.ssl",
    );
    let off = db.query_i64(
        "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
          WHERE a.application_name = 'escalier' AND a.datname = current_database() AND NOT s.ssl",
    );
    (on, off)
}

#[test]
fn sslmodes_do_what_they_say() {
    let Some(db) = common::db_at(VAR) else { return };
    for (mode, encrypted) in [("require", true), ("prefer", true), ("disable", false)] {
        let pg = PgBackend::connect(&url(&db, mode), PgOptions::default())
            .unwrap_or_else(|e| panic!("sslmode={mode}: {e}"));
        pg.last_seq().unwrap();
        let (on, off) = tls_connections(&db);
        if encrypted {
            assert!(
                on >= 1 && off == 0,
                "sslmode={mode}: {on} with TLS, {off} without"
            );
        } else {
            assert!(
                on == 0 && off >= 1,
                "sslmode={mode}: {on} with TLS, {off} without"
            );
        }
        drop(pg);
        // Let the dropped pool's sessions end before the next mode counts.
        db.sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
              WHERE application_name = 'escalier' AND datname = current_database()",
        );
    }
    // verify-full: the self-signed certificate is refused.
    match PgBackend::connect(&url(&db, "verify-full"), PgOptions::default()) {
        Err(StoreError::Unavailable(msg)) => assert!(msg.contains("TLS"), "{msg}"),
        other => panic!("verify-full must refuse a self-signed certificate: {other:?}"),
    }
}

#[test]
fn verify_full_trusts_the_ca_named_by_sslrootcert() {
    let Some(db) = common::db_at(VAR) else { return };
    // The CA that signed the server's certificate: `ca.crt` in the
    // server's data directory (scripts/pg --tls puts it there), read
    // through the server.
    let pem = db.query_text("SELECT coalesce(pg_read_file('ca.crt', 0, 1000000, true), '')");
    if pem.is_empty() {
        eprintln!("\n*** SKIPPED: no ca.crt in the TLS server's data directory ***\n");
        return;
    }
    let dir = std::env::temp_dir().join(format!("escalier-ca-{:016x}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, pem).unwrap();
    let url = format!("{}&sslrootcert={}", url(&db, "verify-full"), ca.display());
    let pg = PgBackend::connect(&url, PgOptions::default());
    let _ = std::fs::remove_dir_all(&dir);
    let pg = pg.expect("verify-full with the server's CA connects");
    pg.last_seq().unwrap();
    let (on, off) = tls_connections(&db);
    assert!(on >= 1 && off == 0, "{on} with TLS, {off} without");
}
