//! Import and the reads: a small log imported as it is (inputs with their
//! seqs, derived records at their positions, tickets with their clock
//! index), then read back by ticket, timeline and log position; and the
//! checks of `escalier verify` that only this schema has, clean on it and
//! each one failing on a damaged copy.

use std::sync::Arc;

use escalier_core::{Record, Source, Ticket, Timestamp};
use escalier_store::backend::{DerivedRow, ImportChunk};
use escalier_store::processor::Indexed;
use escalier_store::{Backend, codec, partition_of};
use escalier_store_postgres::{PgBackend, PgOptions};

use crate::common::{self, TestDb};

const PARTITIONS: u32 = 4;

fn at(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(1_772_442_000_000 + ms).unwrap()
}

fn input(seq: u64, event: escalier_core::Event) -> Arc<Record> {
    Arc::new(Record {
        seq,
        index: 0,
        recorded_at: at(i64::try_from(seq).unwrap()),
        source: Source::Webhook { delivery: None },
        event,
    })
}

/// A derived record of input `seq` on `ticket` (a comment, as a policy's
/// action would add).
fn derived(seq: u64, index: u32, ticket: &str) -> DerivedRow {
    let event = common::comment(&format!("d{seq}.{index}"), ticket);
    let rec = Record {
        seq,
        index,
        recorded_at: at(i64::try_from(seq).unwrap()),
        source: Source::System {
            trigger: 0,
            depth: 1,
        },
        event,
    };
    DerivedRow {
        seq,
        index,
        ticket_id: ticket.to_owned(),
        bytes: codec::encode_record(&rec),
    }
}

/// The log of the tests: three tickets whose ids sort differently as
/// text and as numbers, inputs 1..=4, derived records after 1 and 4.
struct Log {
    inputs: Vec<Arc<Record>>,
    derived: Vec<DerivedRow>,
    tickets: Vec<(String, Ticket)>,
}

fn log() -> Log {
    let inputs = vec![
        input(1, common::created("e1", "T-1")),
        input(2, common::created("e2", "T-2")),
        input(3, common::created("e3", "T-10")),
        input(4, common::comment("e4", "T-1")),
    ];
    let derived = vec![
        derived(1, 1, "T-1"),
        derived(4, 1, "T-1"),
        derived(4, 2, "T-1"),
    ];
    let mut tickets: Vec<(String, Ticket)> = Vec::new();
    for r in &inputs {
        let id = r.event.ticket_id.as_str().to_owned();
        let before = tickets.iter().position(|(t, _)| *t == id);
        let prev = before.map(|i| tickets.remove(i).1);
        tickets.push((id, escalier_core::reduce::apply(prev, r).unwrap()));
    }
    tickets.sort_by(|a, b| a.0.cmp(&b.0));
    Log {
        inputs,
        derived,
        tickets,
    }
}

fn clocks(version: &str, rows: &[(u64, &str)]) -> Indexed {
    Indexed {
        version: version.to_owned(),
        rows: rows.iter().map(|(ms, k)| (*ms, (*k).to_owned())).collect(),
    }
}

/// `log()` imported in two chunks as `Store::import` sends them: records,
/// then heads, tickets and the last seq.
fn imported() -> Option<(TestDb, PgBackend, Log)> {
    let db = common::db()?;
    let pg = db.connect(PgOptions {
        partitions: PARTITIONS,
        ..PgOptions::default()
    });
    let log = log();
    pg.import_chunk(&ImportChunk {
        inputs: log.inputs.clone(),
        derived: log.derived.clone(),
        processed: 4,
        ..ImportChunk::default()
    })
    .unwrap();
    pg.import_chunk(&ImportChunk {
        heads: log
            .tickets
            .iter()
            .map(|(id, t)| (id.clone(), t.status))
            .collect(),
        tickets: log
            .tickets
            .iter()
            .map(|(id, t)| {
                let ix = if id == "T-1" {
                    clocks(
                        "books-1",
                        &[(5_000, "sla:first_reply"), (9_000, "sla:resolve")],
                    )
                } else {
                    Indexed::default()
                };
                (id.clone(), codec::encode_ticket(t), ix)
            })
            .collect(),
        processed: 4,
        ..ImportChunk::default()
    })
    .unwrap();
    Some((db, pg, log))
}

fn positions(records: &[Record]) -> Vec<String> {
    records.iter().map(|r| r.pos().to_string()).collect()
}

#[test]
fn an_imported_log_reads_back_as_it_was() {
    let Some((db, pg, log)) = imported() else {
        return;
    };
    assert_eq!(pg.counts().unwrap(), (4, 3));
    for (id, t) in &log.tickets {
        assert_eq!(pg.ticket(id).unwrap().as_ref(), Some(t), "{id}");
    }
    assert_eq!(pg.ticket("T-3").unwrap(), None);

    // Tickets in byte order of their ids, paged.
    let ids = |v: Vec<(String, Ticket)>| v.into_iter().map(|(id, _)| id).collect::<Vec<_>>();
    assert_eq!(ids(pg.tickets_after(None, 2).unwrap()), ["T-1", "T-10"]);
    assert_eq!(ids(pg.tickets_after(Some("T-10"), 2).unwrap()), ["T-2"]);
    assert!(pg.tickets_after(Some("T-2"), 2).unwrap().is_empty());
    assert!(pg.tickets_after(None, 0).unwrap().is_empty());

    // A ticket's timeline: its inputs and derived records in (seq, index) order.
    assert_eq!(
        positions(&pg.timeline("T-1").unwrap()),
        ["1.0", "1.1", "4.0", "4.1", "4.2"]
    );
    assert_eq!(positions(&pg.timeline("T-10").unwrap()), ["3.0"]);
    assert!(pg.timeline("T-3").unwrap().is_empty());
    let tl = pg.timeline("T-1").unwrap();
    assert_eq!(tl[0], *log.inputs[0]);
    assert_eq!(tl[2], *log.inputs[3]);

    // The log: at most `limit` inputs, each followed by what it caused.
    assert_eq!(
        positions(&pg.records(0, 4, 100).unwrap()),
        ["1.0", "1.1", "2.0", "3.0", "4.0", "4.1", "4.2"]
    );
    assert_eq!(
        positions(&pg.records(0, 4, 2).unwrap()),
        ["1.0", "1.1", "2.0"]
    );
    assert_eq!(
        positions(&pg.records(2, 4, 2).unwrap()),
        ["3.0", "4.0", "4.1", "4.2"]
    );
    assert_eq!(
        positions(&pg.records(0, 3, 100).unwrap()),
        ["1.0", "1.1", "2.0", "3.0"]
    );
    assert_eq!(
        positions(&pg.records(0, u64::MAX, 1).unwrap()),
        ["1.0", "1.1"]
    );
    assert!(pg.records(4, 4, 10).unwrap().is_empty());
    assert!(pg.records(0, 4, 0).unwrap().is_empty());

    // The seq counter follows the log, every partition has processed it,
    // the clock index holds the ticket's rows in its partition.
    assert_eq!(db.query_i64("SELECT next_seq FROM log_counter"), 5);
    assert_eq!(
        db.query_i64("SELECT count(*) FROM partitions WHERE cursor = 4"),
        i64::from(PARTITIONS)
    );
    assert_eq!(db.query_i64("SELECT count(*) FROM clocks"), 2);
    assert_eq!(
        db.query_i64("SELECT min(part)::int8 FROM clocks WHERE ticket_id = 'T-1'"),
        i64::from(partition_of("T-1", PARTITIONS))
    );
    assert_eq!(pg.verify_extra().unwrap(), Vec::<String>::new());
}

#[test]
fn a_timeline_shows_only_processed_inputs() {
    let Some((db, pg, _)) = imported() else {
        return;
    };
    // Input 4 committed but its partition not yet past 3: not in the
    // timeline (nor are records derived from it, which cannot exist yet).
    let part = partition_of("T-1", PARTITIONS);
    db.sql(&format!(
        "UPDATE partitions SET cursor = 3 WHERE id = {part}; DELETE FROM derived WHERE seq = 4"
    ));
    assert_eq!(positions(&pg.timeline("T-1").unwrap()), ["1.0", "1.1"]);
    assert_eq!(positions(&pg.timeline("T-10").unwrap()), ["3.0"]);
}

#[test]
fn importing_a_ticket_again_moves_its_clock_rows() {
    let Some((db, pg, log)) = imported() else {
        return;
    };
    let (id, t) = log.tickets.iter().find(|(id, _)| id == "T-1").unwrap();
    pg.import_chunk(&ImportChunk {
        tickets: vec![(
            id.clone(),
            codec::encode_ticket(t),
            clocks("books-2", &[(7_000, "sla:resolve")]),
        )],
        processed: 4,
        ..ImportChunk::default()
    })
    .unwrap();
    assert_eq!(db.query_i64("SELECT count(*) FROM clocks"), 1);
    assert_eq!(db.query_i64("SELECT due_ms FROM clocks"), 7_000);
    assert_eq!(pg.verify_extra().unwrap(), Vec::<String>::new());
}

#[test]
fn verify_finds_what_does_not_agree() {
    let Some((db, pg, _)) = imported() else {
        return;
    };
    db.sql(
        "UPDATE log_counter SET next_seq = 9;
         UPDATE events SET event_id = 'other' WHERE seq = 2;
         UPDATE derived SET ticket_id = 'T-2' WHERE seq = 4 AND idx = 2;
         DELETE FROM clocks WHERE key = 'sla:resolve';
         INSERT INTO clocks (due_ms, ticket_id, key, part) VALUES (1, 'T-2', 'sla:stray', 0);
         UPDATE partitions SET cursor = 40 WHERE id = 1;",
    );
    let problems = pg.verify_extra().unwrap();
    let has = |needle: &str| {
        assert!(
            problems.iter().any(|p| p.contains(needle)),
            "no problem mentions {needle:?}: {problems:#?}"
        );
    };
    has("the seq counter gives 9 next, but the last input is 4");
    has("input 2 is stored under event id other but is event e2");
    has("derived record 4.2 is indexed under ticket T-2 but is of T-1");
    has("names (9000, sla:resolve), missing from the clock rows");
    has("clock row (1, T-2, sla:stray) is not in its ticket's clock index");
    has("partition 1 has processed up to 40, beyond the last input 4");
    assert_eq!(problems.len(), 6, "{problems:#?}");
}
