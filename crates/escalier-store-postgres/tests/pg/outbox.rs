//! The outbox and the deliveries: entries due by partition, attempts
//! settled (moved or removed with their delivery row, by the embedded
//! store's rules), the deliveries list newest first with its cursor.

use escalier_core::Timestamp;
use escalier_core::event::DeliveryRequested;
use escalier_store::outbox::{
    DeliveryCursor, DeliveryRow, DeliveryState, OutboxEntry, OutboxKey, OutboxRequest, Settled,
};
use escalier_store::{Backend, partition_of};
use escalier_store_postgres::{PgBackend, PgOptions};

use crate::common::{self, TestDb};

const PARTITIONS: u32 = 4;

fn at(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap()
}

/// Two ticket ids in different partitions.
fn tickets() -> (String, String) {
    let a = "T-a".to_owned();
    let b = (0..)
        .map(|i| format!("T-b{i}"))
        .find(|b| partition_of(b, PARTITIONS) != partition_of(&a, PARTITIONS))
        .unwrap();
    (a, b)
}

fn entry(id: &str, ticket: &str) -> OutboxEntry {
    let d: DeliveryRequested = serde_json::from_str(&format!(
        r#"{{"delivery_id":"{id}","plugin":"writeback","method":"PUT","url":"https://example.test/1","body":"{{}}"}}"#
    ))
    .unwrap();
    OutboxEntry::new(ticket, OutboxRequest::Http(d))
}

fn setup() -> Option<(TestDb, PgBackend)> {
    let db = common::db()?;
    let pg = db.connect(PgOptions {
        partitions: PARTITIONS,
        ..PgOptions::default()
    });
    Some((db, pg))
}

fn enqueue(pg: &PgBackend, id: &str, ticket: &str, due_ms: u64) -> OutboxEntry {
    let e = entry(id, ticket);
    let row = DeliveryRow::requested(&e, at(100));
    pg.outbox_enqueue(due_ms, &e, &row).unwrap();
    e
}

fn ids(due: &[(OutboxKey, OutboxEntry)]) -> Vec<&str> {
    due.iter().map(|(k, _)| k.id.as_str()).collect()
}

#[test]
fn due_entries_come_by_partition_soonest_first() {
    let Some((_db, pg)) = setup() else { return };
    let (a, b) = tickets();
    let pa = partition_of(&a, PARTITIONS);
    let pb = partition_of(&b, PARTITIONS);
    enqueue(&pg, "e1", &a, 1_000);
    enqueue(&pg, "e2", &b, 2_000);
    enqueue(&pg, "e3", &a, 3_000);
    enqueue(&pg, "e4", &b, 500);

    assert_eq!(pg.outbox_len().unwrap(), 4);
    assert_eq!(pg.outbox_next(None).unwrap(), Some(500));
    assert_eq!(pg.outbox_next(Some(&[pa])).unwrap(), Some(1_000));
    assert_eq!(pg.outbox_next(Some(&[pa, pb])).unwrap(), Some(500));
    assert_eq!(pg.outbox_next(Some(&[])).unwrap(), None);

    let due = pg.outbox_due(None, 2_000, 10).unwrap();
    assert_eq!(ids(&due), ["e4", "e1", "e2"]);
    assert_eq!(due[0].0.due_ms, 500);
    assert_eq!(due[1].1, entry("e1", &a));
    assert_eq!(ids(&pg.outbox_due(None, 2_000, 2).unwrap()), ["e4", "e1"]);
    assert_eq!(
        ids(&pg.outbox_due(Some(&[pa]), 5_000, 10).unwrap()),
        ["e1", "e3"]
    );
    assert_eq!(
        ids(&pg.outbox_due(Some(&[pb, pa]), 1_000, 10).unwrap()),
        ["e4", "e1"]
    );
    assert_eq!(
        ids(&pg.outbox_due(Some(&[pa, pb]), 5_000, 3).unwrap()),
        ["e4", "e1", "e2"]
    );
    assert!(pg.outbox_due(Some(&[]), 5_000, 10).unwrap().is_empty());
    assert!(pg.outbox_due(None, 499, 10).unwrap().is_empty());
    assert_eq!(pg.verify_extra().unwrap(), Vec::<String>::new());
}

#[test]
fn settling_moves_or_removes_entries_and_updates_their_rows() {
    let Some((db, pg)) = setup() else { return };
    let (a, b) = tickets();
    let mut e1 = enqueue(&pg, "e1", &a, 1_000);
    let mut e2 = enqueue(&pg, "e2", &b, 1_000);
    let mut e3 = enqueue(&pg, "e3", &a, 1_000);
    // An entry queued before deliveries had rows.
    db.sql("DELETE FROM deliveries WHERE delivery_id = 'e3'");

    e1.attempts = 1;
    e1.last_error = Some("503".into());
    e2.attempts = 1;
    e3.attempts = 2;
    let key = |id: &str| OutboxKey {
        due_ms: 1_000,
        id: id.to_owned(),
    };
    pg.outbox_settle(&[
        Settled {
            key: key("e1"),
            entry: e1.clone(),
            retry_at: Some(at(60_000) + jiff::SignedDuration::from_micros(1)),
            state: DeliveryState::Retrying,
            status: Some(503),
            reason: Some("busy".into()),
            at: at(2_000),
        },
        Settled {
            key: key("e2"),
            entry: e2.clone(),
            retry_at: None,
            state: DeliveryState::Delivered,
            status: Some(200),
            reason: None,
            at: at(2_000),
        },
        Settled {
            key: key("e3"),
            entry: e3.clone(),
            retry_at: None,
            state: DeliveryState::Failed,
            status: Some(400),
            reason: Some("bad request".into()),
            at: at(3_000),
        },
    ])
    .unwrap();

    // e1 waits for its retry (due rounded up to the ms), the others are gone.
    assert_eq!(pg.outbox_len().unwrap(), 1);
    assert!(pg.outbox_due(None, 60_000, 10).unwrap().is_empty());
    let due = pg.outbox_due(None, 60_001, 10).unwrap();
    assert_eq!(ids(&due), ["e1"]);
    assert_eq!(due[0].1, e1);

    let r1 = pg.delivery("e1").unwrap().unwrap();
    assert_eq!(r1.state, DeliveryState::Retrying);
    assert_eq!(r1.attempts, 1);
    assert_eq!(
        r1.next_at,
        Some(at(60_000) + jiff::SignedDuration::from_micros(1))
    );
    assert_eq!(r1.status, Some(503));
    assert_eq!(r1.reason.as_deref(), Some("busy"));
    assert_eq!(r1.updated_at, at(2_000));
    assert_eq!(r1.requested_at, at(100));

    let r2 = pg.delivery("e2").unwrap().unwrap();
    assert_eq!(r2.state, DeliveryState::Delivered);
    assert_eq!((r2.next_at, r2.status, r2.reason), (None, Some(200), None));

    // No row before: one is made as requested, then settled.
    let r3 = pg.delivery("e3").unwrap().unwrap();
    assert_eq!(r3.state, DeliveryState::Failed);
    assert_eq!(r3.attempts, 2);
    assert_eq!(r3.requested_at, at(3_000));
    assert_eq!(r3.ticket_id, a);

    // An attempt that ended before the row's last update keeps that time.
    e1.attempts = 2;
    pg.outbox_settle(&[Settled {
        key: OutboxKey {
            due_ms: 60_001,
            id: "e1".into(),
        },
        entry: e1.clone(),
        retry_at: None,
        state: DeliveryState::Delivered,
        status: Some(204),
        reason: None,
        at: at(1_500),
    }])
    .unwrap();
    let r1 = pg.delivery("e1").unwrap().unwrap();
    assert_eq!(r1.state, DeliveryState::Delivered);
    assert_eq!(r1.attempts, 2);
    assert_eq!(r1.updated_at, at(2_000));
    assert_eq!(pg.outbox_len().unwrap(), 0);
    assert_eq!(
        db.query_i64("SELECT updated_ms FROM deliveries WHERE delivery_id = 'e1'"),
        2_000
    );
    assert_eq!(pg.delivery("nope").unwrap(), None);
    assert_eq!(pg.verify_extra().unwrap(), Vec::<String>::new());
    pg.outbox_settle(&[]).unwrap();
}

#[test]
fn verify_sees_deliveries_and_the_outbox_disagree() {
    let Some((db, pg)) = setup() else { return };
    let (a, b) = tickets();
    enqueue(&pg, "e1", &a, 1_000);
    enqueue(&pg, "e2", &b, 1_000);
    enqueue(&pg, "e3", &b, 1_000);
    db.sql(
        "DELETE FROM outbox WHERE delivery_id = 'e1';
         UPDATE deliveries SET state = 'delivered' WHERE delivery_id = 'e2';
         UPDATE outbox SET part = part + 1 WHERE delivery_id = 'e3';",
    );
    let problems = pg.verify_extra().unwrap();
    let has = |needle: &str| {
        assert!(
            problems.iter().any(|p| p.contains(needle)),
            "no problem mentions {needle:?}: {problems:#?}"
        );
    };
    has("delivery e1 is pending but not in the outbox");
    has("delivery e2 is listed as");
    has("outbox entry e3 is in partition");
    assert_eq!(problems.len(), 3, "{problems:#?}");
}

/// A delivery row of `ticket` in `state`, last updated at `ms`.
fn row(id: &str, ticket: &str, state: DeliveryState, ms: i64) -> (OutboxEntry, DeliveryRow) {
    let e = entry(id, ticket);
    let mut r = DeliveryRow::requested(&e, at(ms));
    r.state = state;
    (e, r)
}

fn list(
    pg: &PgBackend,
    state: Option<DeliveryState>,
    ticket: Option<&str>,
    limit: usize,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut after: Option<DeliveryCursor> = None;
    loop {
        let (rows, next) = pg.deliveries(state, ticket, limit, after.as_ref()).unwrap();
        assert!(rows.len() <= limit);
        out.extend(rows.into_iter().map(|r| r.delivery_id));
        match next {
            // The cursor survives its text form (as the API hands it out).
            Some(c) => after = Some(DeliveryCursor::parse(&c.to_string()).unwrap()),
            None => return out,
        }
    }
}

#[test]
fn deliveries_list_newest_first_by_state_and_ticket() {
    let Some((_db, pg)) = setup() else { return };
    use DeliveryState::*;
    let rows = [
        row("d1", "T-1", Pending, 1_000),
        row("d2", "T-2", Delivered, 2_000),
        row("d3", "T-1", Delivered, 3_000),
        // Same ms: by id, highest first.
        row("d4a", "T-2", Pending, 4_000),
        row("d4b", "T-1", Pending, 4_000),
        row("d5", "T-1", Failed, 5_000),
    ];
    for (e, r) in &rows {
        pg.outbox_enqueue(1, e, r).unwrap();
    }
    let all = ["d5", "d4b", "d4a", "d3", "d2", "d1"];
    for limit in [1, 2, 4, 6, 10] {
        assert_eq!(list(&pg, None, None, limit), all, "limit {limit}");
    }
    assert_eq!(list(&pg, Some(Pending), None, 1), ["d4b", "d4a", "d1"]);
    assert_eq!(list(&pg, Some(Delivered), None, 5), ["d3", "d2"]);
    assert_eq!(list(&pg, None, Some("T-1"), 2), ["d5", "d4b", "d3", "d1"]);
    assert_eq!(list(&pg, Some(Pending), Some("T-1"), 1), ["d4b", "d1"]);
    assert!(list(&pg, Some(Held), None, 3).is_empty());
    assert!(list(&pg, None, Some("T-9"), 3).is_empty());

    // A full page says there may be more only when there is.
    let (page, next) = pg.deliveries(None, None, 6, None).unwrap();
    assert_eq!(page.len(), 6);
    assert_eq!(next, None);
    let (page, next) = pg.deliveries(None, None, 2, None).unwrap();
    assert_eq!(page[1], rows[4].1);
    assert_eq!(next.map(|c| c.to_string()).as_deref(), Some("4000:d4b"));
    let (page, next) = pg.deliveries(None, None, 0, None).unwrap();
    assert!(page.is_empty() && next.is_none());
}

#[test]
fn two_nodes_settling_the_same_entries_in_opposite_orders_both_commit() {
    let Some(db) = common::db() else { return };
    let opts = || PgOptions {
        partitions: PARTITIONS,
        ..PgOptions::default()
    };
    let nodes = [db.connect(opts()), db.connect(opts())];
    const N: usize = 12;
    const ROUNDS: u32 = 15;
    let entries: Vec<OutboxEntry> = (0..N)
        .map(|i| enqueue(&nodes[0], &format!("e{i:02}"), "T-1", 1_000))
        .collect();
    let barrier = std::sync::Barrier::new(2);
    std::thread::scope(|s| {
        for (n, pg) in nodes.iter().enumerate() {
            let (entries, barrier) = (&entries, &barrier);
            s.spawn(move || {
                barrier.wait();
                for round in 1..=ROUNDS {
                    let mut batch: Vec<Settled> = entries
                        .iter()
                        .map(|e| {
                            let mut e = e.clone();
                            e.attempts = round;
                            Settled {
                                key: OutboxKey {
                                    due_ms: 1_000,
                                    id: e.request.delivery_id().to_owned(),
                                },
                                entry: e,
                                // Both put each entry back at the same key.
                                retry_at: Some(at(1_000)),
                                state: DeliveryState::Retrying,
                                status: Some(503),
                                reason: Some(format!("node {n}")),
                                at: at(2_000 + i64::from(round)),
                            }
                        })
                        .collect();
                    if n == 1 {
                        batch.reverse();
                    }
                    pg.outbox_settle(&batch).unwrap();
                }
            });
        }
    });
    assert_eq!(nodes[0].outbox_len().unwrap(), N as u64);
    for e in &entries {
        let row = nodes[1].delivery(e.request.delivery_id()).unwrap().unwrap();
        assert_eq!(row.state, DeliveryState::Retrying);
        assert_eq!(row.attempts, ROUNDS);
        assert_eq!(row.updated_at, at(2_000 + i64::from(ROUNDS)));
    }
    assert_eq!(nodes[0].verify_extra().unwrap(), Vec::<String>::new());
}
