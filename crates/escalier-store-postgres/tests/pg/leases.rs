//! Leases: taking, sharing, takeover with a higher epoch, and the fence
//! that refuses a chunk from a node whose lease moved on.

use escalier_store::backend::{Chunk, DerivedRow, Held, Lease, Node};
use escalier_store::processor::Indexed;
use escalier_store::{Backend, StoreError, codec};
use escalier_store_postgres::{PgBackend, PgOptions};

use crate::common::{self, TestDb, batch, created, now};

fn node(id: &str) -> Node {
    Node {
        id: id.into(),
        addr: format!("{id}.example:8080"),
    }
}

fn opts() -> PgOptions {
    PgOptions {
        partitions: 4,
        lease: std::time::Duration::from_secs(60),
        ..PgOptions::default()
    }
}

/// A's leases expire and A looks dead (as if killed): the database's
/// clock moved past them, without the test waiting for it.
fn kill(db: &TestDb, id: &str) {
    db.sql(&format!(
        "UPDATE partitions SET expires_at = now() - interval '1 second' WHERE left(owner, -33) = '{id}';
         UPDATE nodes SET heartbeat_at = now() - interval '1 hour' WHERE id = '{id}'"
    ));
}

/// A chunk for `ticket` (stored as input `seq`) under `lease`.
fn chunk(pg: &PgBackend, lease: Lease, ticket: &str, seq: u64) -> Chunk {
    let rec = pg.inputs(lease.partition, seq - 1, 1).unwrap();
    let t = escalier_core::reduce::apply(None, &rec[0]).expect("ticket");
    let mut derived = (*rec[0]).clone();
    derived.index = 1;
    Chunk {
        cursor: Some((lease, seq)),
        derived: vec![DerivedRow {
            seq,
            index: 1,
            ticket_id: ticket.into(),
            bytes: codec::encode_record(&derived),
        }],
        inputs: vec![(seq, ticket.into())],
        outbox: Vec::new(),
        tickets: vec![(ticket.into(), codec::encode_ticket(&t))],
        index_moves: vec![(
            ticket.into(),
            Indexed::default(),
            Indexed {
                version: "books-1".into(),
                rows: vec![(1_000 + seq, "first_response".into())],
            },
        )],
        durable: true,
        fence: Vec::new(),
    }
}

#[test]
fn a_lone_node_takes_every_partition_and_a_second_gets_its_share() {
    let Some(db) = common::db() else { return };
    let a = db.connect(opts());
    let b = db.connect(opts());
    let held = a.leases(&node("A")).unwrap();
    assert_eq!(held.len(), 4);
    assert!(held.iter().all(|h| h.lease.epoch == 1 && h.cursor == 0));
    // B joins: nothing free yet; A gives back above its share (2), B takes them.
    assert!(b.leases(&node("B")).unwrap().is_empty());
    assert_eq!(a.leases(&node("A")).unwrap().len(), 2);
    let hb = b.leases(&node("B")).unwrap();
    assert_eq!(hb.len(), 2);
    assert!(hb.iter().all(|h| h.lease.epoch == 2), "{hb:?}");
    let view = a.cluster().unwrap();
    assert_eq!(view.store, "postgres");
    assert_eq!(view.nodes.len(), 2);
    assert!(view.nodes.iter().all(|n| n.live && n.partitions == 2));
    assert_eq!(view.partitions.len(), 4);
    // A clean stop gives everything back.
    b.release(&node("B")).unwrap();
    assert_eq!(a.leases(&node("A")).unwrap().len(), 4);
}

/// The lease held on partition `p`.
fn lease(held: &[Held], p: u32) -> Lease {
    held.iter().find(|h| h.lease.partition == p).unwrap().lease
}

/// Nodes A and B on one database; T1 stored (seq 1) and A holding every
/// partition. Returns T1's partition and A's leases.
fn a_holds_t1(db: &TestDb) -> (PgBackend, PgBackend, u32, Vec<Held>) {
    let a = db.connect(opts());
    let b = db.connect(opts());
    a.append_group(now(), &[&batch(vec![created("e1", "T1")])])
        .unwrap();
    let part = escalier_store::partition_of("T1", 4);
    let held_a = a.leases(&node("A")).unwrap();
    (a, b, part, held_a)
}

#[test]
fn a_taken_over_partition_refuses_the_old_owners_chunk() {
    let Some(db) = common::db() else { return };
    let (a, b, part, held_a) = a_holds_t1(&db);
    let lease_a = lease(&held_a, part);
    // While A holds the lease, its chunk commits.
    a.commit_chunk(&chunk(&a, lease_a, "T1", 1)).unwrap();
    assert_eq!(db.query_i64("SELECT count(*) FROM derived"), 1);

    a.append_group(now(), &[&batch(vec![created("e2", "T1b")])])
        .unwrap();
    let seq2 = a.seq_of("e2").unwrap().unwrap();
    let part2 = escalier_store::partition_of("T1b", 4);
    let lease_a2 = lease(&held_a, part2);

    kill(&db, "A");
    // Expired, not yet taken over: refused already.
    assert!(matches!(
        a.commit_chunk(&chunk(&a, lease_a2, "T1b", seq2)),
        Err(StoreError::LeaseLost { partition }) if partition == part2
    ));
    let held_b = b.leases(&node("B")).unwrap();
    assert_eq!(held_b.len(), 4, "B takes every expired partition");
    let lease_b2 = lease(&held_b, part2);
    assert!(lease_b2.epoch > lease_a2.epoch);
    assert_eq!(
        held_b
            .iter()
            .find(|h| h.lease.partition == part)
            .unwrap()
            .cursor,
        1,
        "the cursor A committed carries over"
    );

    // A comes back (heartbeat, say) and tries its stale chunk: refused,
    // nothing written.
    let before = (
        db.query_i64("SELECT count(*) FROM derived"),
        db.query_i64("SELECT count(*) FROM tickets"),
        db.query_i64("SELECT count(*) FROM clocks"),
    );
    assert!(matches!(
        a.commit_chunk(&chunk(&a, lease_a2, "T1b", seq2)),
        Err(StoreError::LeaseLost { .. })
    ));
    let after = (
        db.query_i64("SELECT count(*) FROM derived"),
        db.query_i64("SELECT count(*) FROM tickets"),
        db.query_i64("SELECT count(*) FROM clocks"),
    );
    assert_eq!(before, after);
    assert_eq!(
        db.query_i64(&format!("SELECT cursor FROM partitions WHERE id = {part2}")),
        0
    );
    // Even after A renews: its old epoch is gone.
    let _ = a.leases(&node("A")).unwrap();
    assert!(matches!(
        a.commit_chunk(&chunk(&a, lease_a2, "T1b", seq2)),
        Err(StoreError::LeaseLost { .. })
    ));

    // B, the new owner, commits it: rows, ticket, clock, cursor.
    b.commit_chunk(&chunk(&b, lease_b2, "T1b", seq2)).unwrap();
    assert_eq!(db.query_i64("SELECT count(*) FROM derived"), 2);
    assert_eq!(
        db.query_i64(&format!("SELECT cursor FROM partitions WHERE id = {part2}")),
        i64::try_from(seq2).unwrap()
    );
    let loaded = b.load_tickets(&["T1b", "nope"]).unwrap();
    assert!(loaded["T1b"].ticket.is_some());
    assert_eq!(
        loaded["T1b"].indexed.rows,
        vec![(1_000 + seq2, "first_response".to_owned())]
    );
    assert!(loaded["nope"].ticket.is_none());
    let (due, next) = b.due_clocks(Some(&[part2]), 1_000 + seq2, 10).unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(next, None);
    assert_eq!(b.due_between(0, u64::MAX >> 2).unwrap().len(), 2);
    assert_eq!(b.stale_tickets("books-2", None).unwrap().len(), 2);
    assert!(b.stale_tickets("books-1", None).unwrap().is_empty());
}

#[test]
fn a_lease_left_to_expire_on_the_database_clock_is_taken_over() {
    let Some(db) = common::db() else { return };
    let short = PgOptions {
        partitions: 4,
        lease: std::time::Duration::from_millis(200),
        ..PgOptions::default()
    };
    let a = db.connect(short.clone());
    let b = db.connect(short);
    a.append_group(now(), &[&batch(vec![created("e1", "T1")])])
        .unwrap();
    let part = escalier_store::partition_of("T1", 4);
    let lease_a = a.leases(&node("A")).unwrap()[part as usize].lease;
    // A stops renewing (as if killed). B keeps renewing until the
    // database's clock has passed A's expiry and B holds everything; the
    // bound only keeps a broken build from hanging.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let held = loop {
        let held = b.leases(&node("B")).unwrap();
        if held.len() == 4 {
            break held;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no takeover: {held:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(held.iter().all(|h| h.lease.epoch == 2), "{held:?}");
    assert!(matches!(
        a.commit_chunk(&chunk(&a, lease_a, "T1", 1)),
        Err(StoreError::LeaseLost { .. })
    ));
    assert_eq!(db.query_i64("SELECT count(*) FROM derived"), 0);
    let view = b.cluster().unwrap();
    assert!(view.nodes.iter().any(|n| n.id == "A" && !n.live));
    assert_eq!(
        view.partitions
            .iter()
            .filter(|p| p.owner.as_deref() == Some("B"))
            .count(),
        4
    );
}

#[test]
fn a_restarted_node_takes_its_partitions_back_at_once() {
    let Some(db) = common::db() else { return };
    let first = db.connect(opts());
    first
        .append_group(now(), &[&batch(vec![created("e1", "T1")])])
        .unwrap();
    let part = escalier_store::partition_of("T1", 4);
    let held = first.leases(&node("A")).unwrap();
    assert_eq!(held.len(), 4);
    let old = held[part as usize].lease;

    // The same node id again (restarted after kill -9; the old process may
    // even still run): its partitions now, not after the 60 s lease.
    let second = db.connect(opts());
    let held = second.leases(&node("A")).unwrap();
    assert_eq!(held.len(), 4, "{held:?}");
    assert!(held.iter().all(|h| h.lease.epoch == 2), "{held:?}");
    let new = held[part as usize].lease;

    // The old incarnation is fenced and does not take them back.
    assert!(matches!(
        first.commit_chunk(&chunk(&first, old, "T1", 1)),
        Err(StoreError::LeaseLost { .. })
    ));
    assert_eq!(db.query_i64("SELECT count(*) FROM derived"), 0);
    assert!(first.leases(&node("A")).unwrap().is_empty());
    let again = second.leases(&node("A")).unwrap();
    assert!(again.iter().all(|h| h.lease.epoch == 2), "{again:?}");
    second.commit_chunk(&chunk(&second, new, "T1", 1)).unwrap();

    // One node in the view, owning everything; the old one's clean stop
    // does not remove it.
    first.release(&node("A")).unwrap();
    let view = second.cluster().unwrap();
    assert_eq!(view.nodes.len(), 1);
    assert_eq!(view.nodes[0].partitions, 4);
    assert!(
        view.partitions
            .iter()
            .all(|p| p.owner.as_deref() == Some("A"))
    );
}

/// A maintenance write (clocks re-bound: tickets, no cursor) under the
/// leases of its partitions.
fn rebind(pg: &PgBackend, fence: Vec<Lease>, ticket: &str, seq: u64) -> Chunk {
    let mut c = chunk(pg, fence[0], ticket, seq);
    c.cursor = None;
    c.derived.clear();
    c.inputs.clear();
    c.fence = fence;
    c
}

#[test]
fn a_rebind_under_a_lease_that_moved_on_writes_nothing() {
    let Some(db) = common::db() else { return };
    let (a, b, part, held_a) = a_holds_t1(&db);
    let lease_a = lease(&held_a, part);
    // Held: written.
    a.commit_chunk(&rebind(&a, vec![lease_a], "T1", 1)).unwrap();
    assert_eq!(
        db.query_i64("SELECT count(*) FROM tickets WHERE ticket_id = 'T1'"),
        1
    );
    assert_eq!(
        db.query_i64("SELECT count(*) FROM partitions WHERE cursor <> 0"),
        0,
        "a maintenance write moves no cursor"
    );

    // Another ticket of the same partition; A dies and B takes over.
    let other = (0..)
        .map(|i| format!("T1-{i}"))
        .find(|t| escalier_store::partition_of(t, 4) == part)
        .unwrap();
    a.append_group(now(), &[&batch(vec![created("e2", &other)])])
        .unwrap();
    let seq2 = a.seq_of("e2").unwrap().unwrap();
    kill(&db, "A");
    let held_b = b.leases(&node("B")).unwrap();
    assert_eq!(held_b.len(), 4);
    let refused = a.commit_chunk(&rebind(&a, vec![lease_a], &other, seq2));
    assert!(
        matches!(refused, Err(StoreError::LeaseLost { partition }) if partition == part),
        "{refused:?}"
    );
    assert_eq!(
        db.query_i64(&format!(
            "SELECT count(*) FROM tickets WHERE ticket_id = '{other}'"
        )),
        0,
        "nothing of the refused write stored"
    );
    // One stale lease among held ones refuses the whole write.
    let lease_b = lease(&held_b, part);
    let another = (0..4).find(|p| *p != part).unwrap();
    let mut both = rebind(&b, vec![lease_a], &other, seq2);
    both.fence = vec![lease(&held_b, another), lease_a];
    assert!(matches!(
        b.commit_chunk(&both),
        Err(StoreError::LeaseLost { partition }) if partition == part
    ));
    // The new owner's own write goes through.
    b.commit_chunk(&rebind(&b, vec![lease_b], &other, seq2))
        .unwrap();
    assert_eq!(
        db.query_i64(&format!(
            "SELECT count(*) FROM tickets WHERE ticket_id = '{other}'"
        )),
        1
    );
}

#[test]
fn a_read_only_database_is_unavailable_not_an_error() {
    let Some(db) = common::db() else { return };
    let a = db.connect(opts());
    a.append_group(now(), &[&batch(vec![created("e1", "T1")])])
        .unwrap();
    // As after a failover that left the old primary behind the address:
    // new sessions are read-only.
    let read_only = |on: &str| {
        db.sql_from_outside(&format!(
            "ALTER DATABASE {{db}} SET default_transaction_read_only = {on};
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{{db}}'"
        ))
    };
    read_only("on");
    let mut seen = Vec::new();
    for i in 0..3 {
        match a.append_group(now(), &[&batch(vec![created(&format!("r{i}"), "T2")])]) {
            Err(StoreError::Unavailable(m)) => seen.push(m),
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }
    assert!(
        seen.iter().any(|m| m.contains("25006")),
        "the read-only refusal itself is reported as unavailable: {seen:?}"
    );
    read_only("off");
    let mut stored = None;
    for _ in 0..3 {
        if let Ok(r) = a.append_group(now(), &[&batch(vec![created("r9", "T2")])]) {
            stored = Some(r);
            break;
        }
    }
    assert!(stored.is_some(), "writable again once the database is");
    assert_eq!(db.query_i64("SELECT count(*) FROM events"), 2);
}

#[test]
fn leases_renew_while_every_pooled_connection_is_busy() {
    let Some(db) = common::db() else { return };
    let pg = db.connect(PgOptions {
        pool_size: 1,
        ..opts()
    });
    assert_eq!(pg.leases(&node("A")).unwrap().len(), 4);
    // Another session locks `heads`; an ingest then waits for it, holding
    // the pool's one connection.
    let (locked_tx, locked) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let url = db.url.clone();
    let locker = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async move {
                let (mut client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                    .await
                    .unwrap();
                tokio::spawn(conn);
                let tx = client.transaction().await.unwrap();
                tx.batch_execute("LOCK TABLE heads IN ACCESS EXCLUSIVE MODE")
                    .await
                    .unwrap();
                locked_tx.send(()).unwrap();
                released.recv().unwrap();
                tx.commit().await.unwrap();
            });
    });
    locked.recv().unwrap();
    std::thread::scope(|s| {
        let ingest = s.spawn(|| pg.append_group(now(), &[&batch(vec![created("e1", "T1")])]));
        while db.query_i64(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()",
        ) == 0
        {
            std::thread::yield_now();
        }
        // The pool is busy; the renewal has its own connection.
        let renewed = pg.leases(&node("A"));
        release.send(()).unwrap();
        ingest
            .join()
            .unwrap()
            .expect("the ingest goes through after");
        assert_eq!(renewed.expect("renewed while the pool is busy").len(), 4);
    });
    locker.join().unwrap();
}
