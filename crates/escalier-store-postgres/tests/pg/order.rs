//! The commit-order guarantee: with many nodes appending at once, a
//! reader following each partition by `seq > cursor` sees every input
//! exactly once, in order; and two nodes storing one event id at once
//! store it once.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};

use escalier_store::Backend;
use escalier_store::writer::Appended;
use escalier_store_postgres::{PgBackend, PgOptions};

use crate::common::{self, batch, comment, created, now};

const WRITERS: usize = 16;
const GROUPS: usize = 200;
const PARTITIONS: u32 = 8;
const SHARED_TICKETS: usize = 20;

#[test]
fn a_reader_following_the_partitions_never_skips_an_input() {
    let Some(db) = common::db() else { return };
    let opts = PgOptions {
        partitions: PARTITIONS,
        pool_size: 2,
        ..PgOptions::default()
    };
    let setup = db.connect(opts.clone());
    // Tickets every writer comments on (so groups also queue on heads).
    let shared: Vec<_> = (0..SHARED_TICKETS)
        .map(|i| created(&format!("s{i}"), &format!("S{i}")))
        .collect();
    setup.append_group(now(), &[&batch(shared)]).unwrap();

    let done = Arc::new(AtomicBool::new(false));
    let start = Arc::new(Barrier::new(WRITERS + 1));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            // A node of its own: its own pool and runtime.
            let pg = PgBackend::connect(&db.url, opts.clone()).expect("writer connects");
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                start.wait();
                let mut stored = 0u64;
                for g in 0..GROUPS {
                    let mine = batch(vec![created(&format!("w{w}-{g}"), &format!("W{w}-{g}"))]);
                    let shared = batch(vec![comment(
                        &format!("w{w}-{g}-c"),
                        &format!("S{}", (w + g) % SHARED_TICKETS),
                    )]);
                    let out = pg
                        .append_group(now(), &[&mine, &shared])
                        .expect("group commits");
                    for o in &out.outcomes {
                        for a in o.as_ref().expect("accepted") {
                            assert!(matches!(a, Appended::Stored { .. }));
                            stored += 1;
                        }
                    }
                }
                stored
            })
        })
        .collect();

    let reader = db.connect(opts.clone());
    let reader = {
        let done = Arc::clone(&done);
        let start = Arc::clone(&start);
        std::thread::spawn(move || {
            start.wait();
            let mut cursors = vec![0u64; PARTITIONS as usize];
            let mut seen: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
            loop {
                // Read `done` before the pass: a pass that starts after
                // every writer finished sees everything committed.
                let finished = done.load(Ordering::SeqCst);
                let mut got = 0;
                for p in 0..PARTITIONS {
                    let batch = reader.inputs(p, cursors[p as usize], 50).expect("reads");
                    for r in &batch {
                        assert!(
                            r.seq > cursors[p as usize],
                            "partition {p}: {} after {}",
                            r.seq,
                            cursors[p as usize]
                        );
                        cursors[p as usize] = r.seq;
                        seen.entry(p).or_default().push(r.seq);
                    }
                    got += batch.len();
                }
                if finished && got == 0 {
                    return seen;
                }
            }
        })
    };
    let stored: u64 = writers.into_iter().map(|w| w.join().expect("writer")).sum();
    done.store(true, Ordering::SeqCst);
    let seen = reader.join().expect("reader");

    assert_eq!(stored, (WRITERS * GROUPS * 2) as u64);
    let total = stored + SHARED_TICKETS as u64;
    assert_eq!(setup.last_seq().unwrap(), total);
    // Seqs are gapless: 1..=total.
    assert_eq!(db.query_i64("SELECT count(*) FROM events"), total as i64);
    assert_eq!(db.query_i64("SELECT max(seq) FROM events"), total as i64);
    // The reader saw exactly the table, partition by partition, in order.
    for p in 0..PARTITIONS {
        let table: Vec<u64> = setup
            .inputs(p, 0, usize::MAX >> 1)
            .unwrap()
            .iter()
            .map(|r| r.seq)
            .collect();
        let read = seen.get(&p).cloned().unwrap_or_default();
        let skipped: Vec<u64> = table
            .iter()
            .filter(|s| read.binary_search(s).is_err())
            .take(20)
            .copied()
            .collect();
        assert!(
            read == table,
            "partition {p}: the reader skipped {skipped:?}… ({} read, {} stored)",
            read.len(),
            table.len()
        );
    }
}

#[test]
fn two_nodes_storing_one_event_id_at_once_store_it_once() {
    let Some(db) = common::db() else { return };
    let a = Arc::new(db.connect(PgOptions::default()));
    let b = Arc::new(db.connect(PgOptions::default()));
    for round in 0..20 {
        // Same ticket (the heads lock orders them) and different tickets
        // (the unique index does, and the loser retries).
        for other_ticket in [false, true] {
            let id = format!("dup-{round}-{other_ticket}");
            let ticket_a = format!("A{round}-{other_ticket}");
            let ticket_b = if other_ticket {
                format!("B{round}")
            } else {
                ticket_a.clone()
            };
            let barrier = Arc::new(Barrier::new(2));
            let run = |pg: Arc<PgBackend>, ticket: String| {
                let barrier = Arc::clone(&barrier);
                let id = id.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    let out = pg
                        .append_group(now(), &[&batch(vec![created(&id, &ticket)])])
                        .expect("commits");
                    out.outcomes[0].as_ref().expect("accepted")[0]
                })
            };
            let ha = run(Arc::clone(&a), ticket_a);
            let hb = run(Arc::clone(&b), ticket_b);
            let (ra, rb) = (ha.join().unwrap(), hb.join().unwrap());
            let stored = [ra, rb]
                .iter()
                .filter(|x| matches!(x, Appended::Stored { .. }))
                .count();
            assert_eq!(stored, 1, "{ra:?} {rb:?}");
            assert_eq!(ra.seq(), rb.seq(), "{ra:?} {rb:?}");
            assert_eq!(a.seq_of(&id).unwrap(), Some(ra.seq()));
        }
    }
    assert_eq!(db.query_i64("SELECT count(*) FROM events"), 40);
    assert_eq!(a.last_seq().unwrap(), 40);
}
