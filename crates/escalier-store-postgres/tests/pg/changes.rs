//! Changed tickets for the other nodes' ticket index: shown once every
//! partition has caught up with them, never missed, never repeated.

use escalier_store::Backend;
use escalier_store::backend::{Chunk, Held, Lease, Node};
use escalier_store::codec;
use escalier_store_postgres::{PgBackend, PgOptions};

use crate::common::{self, batch, comment, created, now};

/// Two ticket ids in different partitions of 4.
fn two_partitions() -> (String, String) {
    let a = "T0".to_owned();
    let pa = escalier_store::partition_of(&a, 4);
    let b = (1..)
        .map(|i| format!("T{i}"))
        .find(|t| escalier_store::partition_of(t, 4) != pa)
        .expect("another partition");
    (a, b)
}

/// Process input `seq` of `ticket`: its body as the reducer makes it.
fn process(pg: &PgBackend, held: &[Held], ticket: &str, seq: u64) {
    let part = escalier_store::partition_of(ticket, 4);
    let lease: Lease = held
        .iter()
        .find(|h| h.lease.partition == part)
        .expect("held")
        .lease;
    let inputs = pg.inputs(part, 0, 100).unwrap();
    let mut t = None;
    for r in inputs.iter().filter(|r| r.seq <= seq) {
        t = Some(escalier_core::reduce::apply(t, r).expect("applies"));
    }
    let t = t.expect("a ticket");
    pg.commit_chunk(&Chunk {
        cursor: Some((lease, seq)),
        inputs: vec![(seq, ticket.to_owned())],
        tickets: vec![(ticket.to_owned(), codec::encode_ticket(&t))],
        durable: true,
        ..Chunk::default()
    })
    .unwrap();
}

fn ids(changed: &[(u64, escalier_core::Ticket)]) -> Vec<(u64, String)> {
    changed
        .iter()
        .map(|(s, t)| (*s, t.id.as_str().to_owned()))
        .collect()
}

#[test]
fn changes_appear_once_every_partition_caught_up() {
    let Some(db) = common::db() else { return };
    let pg = db.connect(PgOptions {
        partitions: 4,
        ..PgOptions::default()
    });
    let (a, b) = two_partitions();
    pg.append_group(now(), &[&batch(vec![created("e1", &a), created("e2", &b)])])
        .unwrap();
    let held = pg
        .leases(&Node {
            id: "N".into(),
            addr: "n:1".into(),
        })
        .unwrap();
    assert_eq!(pg.tickets_changed(0, 10).unwrap().1, 0);

    // b (seq 2) processed first: a (seq 1) is still pending, so nothing
    // at or above 1 is final yet.
    process(&pg, &held, &b, 2);
    let (changed, mark) = pg.tickets_changed(0, 10).unwrap();
    assert!(changed.is_empty());
    assert_eq!(mark, 0);

    process(&pg, &held, &a, 1);
    let (changed, mark) = pg.tickets_changed(0, 10).unwrap();
    assert_eq!(ids(&changed), vec![(1, a.clone()), (2, b.clone())]);
    assert_eq!(mark, 2);
    assert!(pg.tickets_changed(2, 10).unwrap().0.is_empty());

    // A later change of a, and the limit: one at a time, in order.
    pg.append_group(now(), &[&batch(vec![comment("e3", &a), comment("e4", &b)])])
        .unwrap();
    process(&pg, &held, &a, 3);
    process(&pg, &held, &b, 4);
    let (changed, mark) = pg.tickets_changed(2, 1).unwrap();
    assert_eq!((ids(&changed), mark), (vec![(3, a.clone())], 3));
    let (changed, mark) = pg.tickets_changed(3, 1).unwrap();
    assert_eq!((ids(&changed), mark), (vec![(4, b.clone())], 4));
    assert_eq!(pg.tickets_changed(4, 1).unwrap(), (Vec::new(), 4));
}
