//! Appending: seqs, duplicates, per-request all-or-nothing, lifecycle
//! staged across the requests of a group.

use escalier_core::RejectionCode;
use escalier_store::writer::{AppendError, Appended};
use escalier_store::{Backend, StoreError};
use escalier_store_postgres::PgOptions;

use crate::common::{self, batch, comment, created, now, status};

#[test]
fn a_group_stores_dedupes_and_refuses_per_request() {
    let Some(db) = common::db() else { return };
    let pg = db.connect(PgOptions::default());
    let a = batch(vec![created("a1", "T1"), comment("a2", "T1")]);
    let unknown = batch(vec![created("u1", "T9"), status("u2", "T2", "open")]);
    let again = batch(vec![
        created("a1", "T1"),
        created("b1", "T3"),
        created("b1", "T3"),
    ]);
    let out = pg.append_group(now(), &[&a, &unknown, &again]).unwrap();
    assert_eq!(out.outcomes.len(), 3);
    assert_eq!(
        out.outcomes[0].as_ref().unwrap(),
        &vec![Appended::Stored { seq: 1 }, Appended::Stored { seq: 2 }]
    );
    match &out.outcomes[1] {
        Err(AppendError::Rejected { index, rejection }) => {
            assert_eq!(*index, 1);
            assert_eq!(rejection.code, RejectionCode::UnknownTicket);
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert_eq!(
        out.outcomes[2].as_ref().unwrap(),
        &vec![
            Appended::Duplicate { seq: 1 },
            Appended::Stored { seq: 3 },
            Appended::Duplicate { seq: 3 },
        ]
    );
    let seqs: Vec<u64> = out.records.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, vec![1, 2, 3]);
    assert_eq!(pg.last_seq().unwrap(), 3);
    assert_eq!(pg.seq_of("a2").unwrap(), Some(2));
    // The refused request left nothing, not even its valid first event.
    assert_eq!(pg.seq_of("u1").unwrap(), None);
    assert_eq!(db.query_i64("SELECT count(*) FROM events"), 3);

    // A later group: duplicates answer the original seq; nothing new, no seq taken.
    let out = pg
        .append_group(now(), &[&batch(vec![created("a1", "T1")])])
        .unwrap();
    assert_eq!(
        out.outcomes[0].as_ref().unwrap(),
        &vec![Appended::Duplicate { seq: 1 }]
    );
    assert!(out.records.is_empty());
    assert_eq!(pg.last_seq().unwrap(), 3);
    // Stored records decode as they were appended.
    let rec = pg
        .inputs(escalier_store::partition_of("T1", pg.partitions()), 0, 10)
        .unwrap();
    assert_eq!(rec.first().map(|r| r.event.id.as_str()), Some("a1"));
}

#[test]
fn statuses_are_staged_across_the_requests_of_a_group() {
    let Some(db) = common::db() else { return };
    let pg = db.connect(PgOptions::default());
    let create = batch(vec![created("c1", "T1")]);
    let close = batch(vec![status("c2", "T1", "closed")]);
    let late = batch(vec![comment("c3", "T1")]);
    let out = pg.append_group(now(), &[&create, &close, &late]).unwrap();
    assert!(out.outcomes[0].is_ok());
    assert!(out.outcomes[1].is_ok());
    match &out.outcomes[2] {
        Err(AppendError::Rejected { rejection, .. }) => {
            assert_eq!(rejection.code, RejectionCode::TicketClosed)
        }
        other => panic!("expected the closed ticket to refuse, got {other:?}"),
    }
    // And across groups, from the stored head.
    let out = pg
        .append_group(
            now(),
            &[
                &batch(vec![comment("c4", "T1")]),
                &batch(vec![created("c5", "T1")]),
            ],
        )
        .unwrap();
    assert!(matches!(
        &out.outcomes[0],
        Err(AppendError::Rejected { rejection, .. }) if rejection.code == RejectionCode::TicketClosed
    ));
    assert!(matches!(
        &out.outcomes[1],
        Err(AppendError::Rejected { rejection, .. }) if rejection.code == RejectionCode::TicketExists
    ));
    assert_eq!(pg.last_seq().unwrap(), 2);
}

#[test]
fn marks_follow_the_counter_and_the_cursors() {
    let Some(db) = common::db() else { return };
    let pg = db.connect(PgOptions {
        partitions: 4,
        ..PgOptions::default()
    });
    let m = pg.marks().unwrap();
    assert_eq!((m.committed, m.processed), (0, 0));
    let events: Vec<_> = (0..10)
        .map(|i| created(&format!("e{i}"), &format!("T{i}")))
        .collect();
    pg.append_group(now(), &[&batch(events)]).unwrap();
    let m = pg.marks().unwrap();
    assert_eq!((m.committed, m.processed), (10, 0));
    // Every partition's cursor at its last input: all processed.
    db.sql("UPDATE partitions p SET cursor = coalesce((SELECT max(seq) FROM events e WHERE e.part = p.id), 0)");
    assert_eq!(pg.marks().unwrap().processed, 10);
    // One partition behind: processed stops below its first pending input.
    let p = escalier_store::partition_of("T3", 4);
    db.sql(&format!("UPDATE partitions SET cursor = 0 WHERE id = {p}"));
    let first = db.query_i64(&format!("SELECT min(seq) FROM events WHERE part = {p}"));
    assert_eq!(
        pg.marks().unwrap().processed,
        u64::try_from(first - 1).unwrap()
    );
}

#[test]
fn calls_work_from_inside_a_current_thread_runtime() {
    let Some(db) = common::db() else { return };
    let pg = db.connect(PgOptions::default());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let seq = rt.block_on(async {
        pg.append_group(now(), &[&batch(vec![created("r1", "T1")])])
            .unwrap();
        pg.last_seq()
    });
    assert_eq!(seq.unwrap(), 1);
    // Dropped inside a runtime: no panic.
    rt.block_on(async move { drop(pg) });
    // Connected, used and dropped inside a multi-threaded runtime's task
    // (as a server opens its store).
    let url = db.url.clone();
    let multi = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let seq = multi
        .block_on(async move {
            tokio::spawn(async move {
                let pg = escalier_store_postgres::PgBackend::connect(&url, PgOptions::default())?;
                pg.last_seq()
            })
            .await
        })
        .expect("the task ends");
    assert_eq!(seq.unwrap(), 1);
}

#[test]
fn a_database_that_went_away_is_unavailable() {
    let Some(db) = common::db() else { return };
    let pg = db.connect(PgOptions {
        pool_size: 1,
        ..PgOptions::default()
    });
    pg.last_seq().unwrap();
    let name = db.url.rsplit('/').next().unwrap().to_owned();
    db.sql(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    ));
    // The pooled connection is dead: the call fails as unavailable (or,
    // if the pool noticed first, succeeds on a new connection); never
    // another kind of error, never a success that did not commit.
    match pg.append_group(now(), &[&batch(vec![created("x1", "T1")])]) {
        Ok(out) => assert_eq!(pg.seq_of("x1").unwrap(), Some(out.records[0].seq)),
        Err(e) => {
            assert!(matches!(e, StoreError::Unavailable(_)), "{e:?}");
            assert_eq!(pg.seq_of("x1").unwrap(), None);
        }
    }
    // The pool replaced the dead connection: the next calls work.
    let out = pg
        .append_group(now(), &[&batch(vec![created("x2", "T2")])])
        .expect("a new connection");
    assert_eq!(pg.seq_of("x2").unwrap(), Some(out.records[0].seq));
}
