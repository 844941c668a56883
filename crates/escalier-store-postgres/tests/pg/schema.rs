//! Migrations: a fresh database, two nodes migrating at once, a newer
//! schema refused; the password never shown.

use escalier_store::{Backend, StoreError};
use escalier_store_postgres::{PgBackend, PgOptions, SCHEMA_VERSION};

use crate::common;

#[test]
fn a_fresh_database_is_created_and_keeps_its_partition_count() {
    let Some(db) = common::db() else { return };
    let pg = db.connect(PgOptions {
        partitions: 8,
        ..PgOptions::default()
    });
    assert_eq!(pg.kind(), "postgres");
    assert_eq!(pg.partitions(), 8);
    assert_eq!(pg.last_seq().unwrap(), 0);
    assert_eq!(
        db.query_i64("SELECT max(version)::int8 FROM escalier_schema"),
        i64::try_from(SCHEMA_VERSION).unwrap()
    );
    assert_eq!(db.query_i64("SELECT count(*) FROM partitions"), 8);
    drop(pg);
    // Reopened with another count: the stored one wins, nothing re-applied.
    let pg = db.connect(PgOptions {
        partitions: 16,
        ..PgOptions::default()
    });
    assert_eq!(pg.partitions(), 8);
    assert_eq!(db.query_i64("SELECT count(*) FROM escalier_schema"), 1);
}

#[test]
fn nodes_starting_at_once_migrate_once() {
    // Several rounds, each on a fresh database: the race is in the first
    // statements (two nodes creating the schema table at once).
    for _ in 0..5 {
        let Some(db) = common::db() else { return };
        let start = std::sync::Arc::new(std::sync::Barrier::new(6));
        let handles: Vec<_> = (0..6)
            .map(|_| {
                let url = db.url.clone();
                let start = std::sync::Arc::clone(&start);
                std::thread::spawn(move || {
                    start.wait();
                    PgBackend::connect(&url, PgOptions::default()).map(|pg| pg.partitions())
                })
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().unwrap().expect("every node starts"), 32);
        }
        assert_eq!(db.query_i64("SELECT count(*) FROM escalier_schema"), 1);
        assert_eq!(db.query_i64("SELECT count(*) FROM partitions"), 32);
        assert_eq!(db.query_i64("SELECT count(*) FROM log_counter"), 1);
    }
}

#[test]
fn a_newer_schema_is_refused() {
    let Some(db) = common::db() else { return };
    drop(db.connect(PgOptions::default()));
    db.sql("INSERT INTO escalier_schema (version) VALUES (99)");
    match PgBackend::connect(&db.url, PgOptions::default()) {
        Err(StoreError::Schema { found, expected }) => {
            assert_eq!(found, 99);
            assert_eq!(expected, SCHEMA_VERSION);
        }
        other => panic!("expected a schema error, got {other:?}"),
    }
}

#[test]
fn a_newer_schema_is_refused_before_anything_is_applied() {
    let Some(db) = common::db() else { return };
    db.sql("CREATE TABLE escalier_schema (version int NOT NULL); INSERT INTO escalier_schema VALUES (7)");
    assert!(matches!(
        PgBackend::connect(&db.url, PgOptions::default()),
        Err(StoreError::Schema { found: 7, .. })
    ));
    // Migration 1 was not applied over it.
    assert_eq!(
        db.query_i64("SELECT count(*) FROM information_schema.tables WHERE table_name = 'events'"),
        0
    );
}

#[test]
fn the_password_is_never_shown() {
    let Some(db) = common::db() else { return };
    // Trust authentication ignores the password: the URL's one is accepted
    // and must not appear in the location.
    let url = db
        .url
        .replacen("://postgres@", "://postgres:pw-in-url-s3cret@", 1);
    assert_ne!(url, db.url, "the test URL names the user postgres");
    let pg = PgBackend::connect(&url, PgOptions::default()).expect("connects");
    let shown = pg.location();
    assert!(!shown.contains("pw-in-url-s3cret"), "{shown}");
    assert!(
        shown.contains("127.0.0.1") || shown.contains("localhost"),
        "{shown}"
    );
    assert!(!format!("{pg:?}").contains("pw-in-url-s3cret"));

    // Nothing listens on port 1: the errors say so without the password,
    // from the URL or given separately.
    for (url, password) in [
        ("postgres://u:pw-in-url-s3cret@127.0.0.1:1/db", None),
        (
            "postgresql://u@127.0.0.1:1/db?sslmode=disable",
            Some("pw-from-secret".to_owned()),
        ),
    ] {
        let e = PgBackend::connect(
            url,
            PgOptions {
                password,
                ..PgOptions::default()
            },
        )
        .expect_err("nothing listens there");
        let text = format!("{e} {e:?}");
        assert!(matches!(e, StoreError::Unavailable(_)), "{text}");
        assert!(!text.contains("pw-in-url-s3cret"), "{text}");
        assert!(!text.contains("pw-from-secret"), "{text}");
    }
}
