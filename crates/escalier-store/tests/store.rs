//! Store behaviour: group commit, dedupe, all-or-nothing batches, in-order
//! processing and its exactly-once cursor, replay equals the projection.

use std::sync::Arc;

use escalier_core::event::{EventKind, Origin};
use escalier_core::{
    Event, ManualClock, Producer, Reaction, Reactor, Record, RejectionCode, Source, Ticket,
    Timestamp,
};
use escalier_store::{
    AppendError, Appended, InputBatch, Processor, ProcessorConfig, ReactorSource, Store,
    StoreOptions, Writer, WriterConfig,
};
use proptest::prelude::*;

fn ev(json: &str) -> Event {
    Event::decode_one(json, Origin::External).expect("test event decodes")
}

fn created(event_id: &str, ticket: &str) -> Event {
    ev(&format!(
        r#"{{"id":"{event_id}","type":"ticket.created","ticket_id":"{ticket}","occurred_at":"2026-03-02T09:00:00Z",
            "data":{{"subject":"Printer on fire","requester":{{"id":"c1"}},"channel":"email"}}}}"#
    ))
}

fn status(event_id: &str, ticket: &str, to: &str) -> Event {
    ev(&format!(
        r#"{{"id":"{event_id}","type":"status.changed","ticket_id":"{ticket}","occurred_at":"2026-03-02T09:05:00Z","data":{{"status":"{to}"}}}}"#
    ))
}

fn comment(event_id: &str, ticket: &str, body: &str) -> Event {
    ev(&format!(
        r#"{{"id":"{event_id}","type":"comment.added","ticket_id":"{ticket}","occurred_at":"2026-03-02T09:06:00Z",
            "data":{{"author":{{"kind":"customer"}},"body":"{body}"}}}}"#
    ))
}

fn batch(events: Vec<Event>) -> InputBatch {
    InputBatch {
        events,
        source: Source::Webhook { delivery: None },
    }
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        "2026-03-02T09:00:00Z".parse::<Timestamp>().unwrap(),
    ))
}

/// Escalates to tier 2 whenever a comment says "urgent"; notes every escalation.
struct Escalator;

impl Reactor for Escalator {
    fn wants(&self, t: &str) -> bool {
        t == "comment.added" || t == "action.escalate"
    }

    fn react(&self, ticket: &Arc<Ticket>, record: &Arc<Record>, out: &mut Vec<Reaction>) {
        let producer = Producer::Policy {
            policy: "test.rhai".into(),
            hash: "sha256:0".into(),
        };
        let kind = match &record.event.kind {
            EventKind::CommentAdded(c) if c.body.contains("urgent") && ticket.tier.get() < 2 => {
                r#"{"tier":2,"reason":"said urgent"}"#
            }
            EventKind::Action(_) => r#"{"text":"escalated"}"#,
            _ => return,
        };
        let type_name = if kind.contains("tier") {
            "action.escalate"
        } else {
            "action.note"
        };
        out.push(Reaction {
            producer,
            kind: EventKind::decode(type_name, kind, Origin::Internal).unwrap(),
        });
    }
}

struct Source1;
impl ReactorSource for Source1 {
    fn reactors(&self, _: Option<&str>) -> Vec<Arc<dyn Reactor + Send + Sync>> {
        vec![Arc::new(Escalator)]
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Start writer + processor, run `f`, shut down cleanly, return the store.
fn with_pipeline(store: Store, f: impl AsyncFnOnce(&Writer)) -> Store {
    let (writer, wh) = Writer::spawn(store.clone(), clock(), WriterConfig::default());
    let processor = Processor::spawn(store.clone(), Arc::new(Source1), ProcessorConfig::default());
    runtime().block_on(f(&writer));
    drop(writer);
    wh.join().unwrap();
    processor.join().unwrap();
    store
}

#[test]
fn a_stored_event_gets_a_seq_and_its_ticket_appears() {
    let store = with_pipeline(Store::in_memory().unwrap(), async |w| {
        let r = w.append(batch(vec![created("e1", "T-1")])).await.unwrap();
        assert_eq!(r, vec![Appended::Stored { seq: 1 }]);
    });
    let t = store.ticket("T-1").unwrap().expect("ticket projected");
    assert_eq!(t.subject, "Printer on fire");
    assert_eq!(store.counts().unwrap(), (1, 1));
}

#[test]
fn duplicate_ids_are_answered_with_the_original_seq_and_stored_once() {
    let store = with_pipeline(Store::in_memory().unwrap(), async |w| {
        w.append(batch(vec![created("e1", "T-1")])).await.unwrap();
        let again = w
            .append(batch(vec![
                created("e1", "T-1"),
                status("e2", "T-1", "open"),
                status("e2", "T-1", "open"),
            ]))
            .await
            .unwrap();
        assert_eq!(
            again,
            vec![
                Appended::Duplicate { seq: 1 },
                Appended::Stored { seq: 2 },
                Appended::Duplicate { seq: 2 }
            ]
        );
    });
    assert_eq!(store.counts().unwrap().0, 2);
}

#[test]
fn a_batch_with_one_bad_event_stores_nothing_and_names_the_event() {
    let store = with_pipeline(Store::in_memory().unwrap(), async |w| {
        let err = w
            .append(batch(vec![
                created("e1", "T-1"),
                status("e2", "T-404", "open"),
            ]))
            .await
            .unwrap_err();
        match err {
            AppendError::Rejected { index, rejection } => {
                assert_eq!(index, 1);
                assert_eq!(rejection.code, RejectionCode::UnknownTicket);
            }
            other => panic!("unexpected {other:?}"),
        }
        // The first event was not stored either: creating it now succeeds with seq 1.
        let ok = w.append(batch(vec![created("e1", "T-1")])).await.unwrap();
        assert_eq!(ok, vec![Appended::Stored { seq: 1 }]);
    });
    assert_eq!(store.counts().unwrap().0, 1);
}

#[test]
fn lifecycle_rules_are_enforced_at_ingest() {
    with_pipeline(Store::in_memory().unwrap(), async |w| {
        w.append(batch(vec![
            created("e1", "T-1"),
            status("e2", "T-1", "closed"),
        ]))
        .await
        .unwrap();
        let code = |e: AppendError| match e {
            AppendError::Rejected { rejection, .. } => rejection.code,
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(
            code(
                w.append(batch(vec![comment("e3", "T-1", "hello?")]))
                    .await
                    .unwrap_err()
            ),
            RejectionCode::TicketClosed
        );
        assert_eq!(
            code(
                w.append(batch(vec![created("e4", "T-1")]))
                    .await
                    .unwrap_err()
            ),
            RejectionCode::TicketExists
        );
    });
}

#[test]
fn concurrent_requests_share_commits() {
    let store = with_pipeline(Store::in_memory().unwrap(), async |w| {
        let mut tasks = Vec::new();
        for i in 0..200 {
            let w = w.clone();
            tasks.push(tokio::spawn(async move {
                w.append(batch(vec![created(&format!("e{i}"), &format!("T-{i}"))]))
                    .await
            }));
        }
        let mut seqs = Vec::new();
        for t in tasks {
            seqs.push(t.await.unwrap().unwrap()[0].seq());
        }
        seqs.sort();
        assert_eq!(seqs, (1..=200).collect::<Vec<_>>());
    });
    assert_eq!(store.counts().unwrap(), (200, 200));
}

#[test]
fn reactions_are_recorded_after_their_input_and_fed_back() {
    let store = with_pipeline(Store::in_memory().unwrap(), async |w| {
        w.append(batch(vec![
            created("e1", "T-1"),
            comment("e2", "T-1", "this is urgent"),
        ]))
        .await
        .unwrap();
    });
    let timeline = store.timeline("T-1").unwrap();
    let kinds: Vec<_> = timeline
        .iter()
        .map(|r| (r.seq, r.index, r.event.type_name()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (1, 0, "ticket.created"),
            (2, 0, "comment.added"),
            (2, 1, "action.escalate"),
            (2, 2, "action.note"),
        ]
    );
    let Source::Policy {
        policy,
        trigger,
        depth,
        ..
    } = &timeline[3].source
    else {
        panic!("note comes from the policy");
    };
    assert_eq!((policy.as_str(), *trigger, *depth), ("test.rhai", 1, 2));
    let t = store.ticket("T-1").unwrap().unwrap();
    assert_eq!(t.tier.get(), 2);
    assert_eq!(t.escalations.len(), 1);
}

#[test]
fn processing_resumes_after_restart_without_repeating_actions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("escalier.redb");
    {
        let store = Store::open(&path, &StoreOptions::default()).unwrap();
        // Commit inputs with no processor running: a crash right after ack.
        let (writer, wh) = Writer::spawn(store.clone(), clock(), WriterConfig::default());
        runtime().block_on(async {
            writer
                .append(batch(vec![
                    created("e1", "T-1"),
                    comment("e2", "T-1", "urgent!"),
                ]))
                .await
                .unwrap();
        });
        drop(writer);
        wh.join().unwrap();
        assert_eq!(store.progress().processed(), 0);
    }
    for _ in 0..2 {
        let store = Store::open(&path, &StoreOptions::default()).unwrap();
        let store = with_pipeline(store, async |_| {});
        assert_eq!(store.progress().processed(), 2);
        let escalations = store
            .timeline("T-1")
            .unwrap()
            .iter()
            .filter(|r| r.event.type_name() == "action.escalate")
            .count();
        assert_eq!(escalations, 1, "exactly one escalation after every restart");
    }
}

#[test]
fn tail_returns_inputs_with_their_derived_records() {
    let store = with_pipeline(Store::in_memory().unwrap(), async |w| {
        w.append(batch(vec![
            created("e1", "T-1"),
            comment("e2", "T-1", "urgent"),
        ]))
        .await
        .unwrap();
        w.append(batch(vec![created("e3", "T-2")])).await.unwrap();
    });
    let (records, next) = store.tail(0, 2).unwrap();
    assert_eq!(next, 2);
    assert_eq!(records.len(), 4);
    let (rest, next) = store.tail(next, 100).unwrap();
    assert_eq!((rest.len(), next), (1, 3));
    assert_eq!(store.tail(3, 100).unwrap().0.len(), 0);
}

/// A generated delivery: which ticket, and what happens to it.
#[derive(Debug, Clone)]
enum Op {
    Create(u8),
    Comment(u8, bool),
    Status(u8, &'static str),
}

fn op() -> impl Strategy<Value = Op> {
    let statuses = prop::sample::select(vec![
        "open", "pending", "on_hold", "solved", "closed", "new",
    ]);
    prop_oneof![
        (0u8..6).prop_map(Op::Create),
        (0u8..6, any::<bool>()).prop_map(|(t, u)| Op::Comment(t, u)),
        (0u8..6, statuses).prop_map(|(t, s)| Op::Status(t, s)),
    ]
}

fn to_event(i: usize, op: &Op) -> Event {
    match op {
        Op::Create(t) => created(&format!("e{i}"), &format!("T-{t}")),
        Op::Comment(t, urgent) => comment(
            &format!("e{i}"),
            &format!("T-{t}"),
            if *urgent { "urgent" } else { "hi" },
        ),
        Op::Status(t, s) => status(&format!("e{i}"), &format!("T-{t}"), s),
    }
}

/// Reproducible runs: cases come from a fixed seed unless
/// `PROPTEST_RNG_SEED` names another.
fn seed() -> proptest::test_runner::RngSeed {
    use proptest::test_runner::RngSeed;
    match ProptestConfig::default().rng_seed {
        RngSeed::Random => RngSeed::Fixed(0x5707_e000_0001),
        chosen => chosen,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, rng_seed: seed(), ..ProptestConfig::default() })]

    /// Whatever arrives, in whatever grouping and with whatever repeats:
    /// each event id is stored at most once, and replaying the log from
    /// the start rebuilds exactly the stored tickets.
    #[test]
    fn replay_rebuilds_the_stored_tickets(
        ops in prop::collection::vec(op(), 1..40),
        deliveries in prop::collection::vec((0usize..40, 1usize..4), 1..80),
    ) {
        let events: Vec<Event> = ops.iter().enumerate().map(|(i, o)| to_event(i, o)).collect();
        let store = with_pipeline(Store::in_memory().unwrap(), async |w| {
            for (start, len) in &deliveries {
                let chunk: Vec<Event> = events.iter().cycle().skip(*start).take(*len).cloned().collect();
                let _ = w.append(batch(chunk)).await;
            }
        });
        let stored = store.all_tickets().unwrap();
        let books = escalier_core::timers::Books::empty();
        let replayed = store.replay_tickets(&books).unwrap();
        prop_assert_eq!(&stored, &replayed);
        let report = store.verify(|t, r| escalier_core::timers::replay(t.clone(), r, &books).ok().or(t)).unwrap();
        prop_assert!(report.ok(), "{:?}", report.problems);
        let (count, _) = store.counts().unwrap();
        let mut ids = std::collections::HashSet::new();
        store.for_each_record(|r| {
            if r.index == 0 {
                assert!(ids.insert(r.event.id.as_str().to_owned()), "id stored twice: {}", r.event.id);
            }
            Ok(())
        }).unwrap();
        prop_assert_eq!(ids.len() as u64, count);
    }

    /// Any permutation of duplicate deliveries stores each id exactly once.
    #[test]
    fn duplicate_deliveries_store_each_id_once(
        n in 1usize..12,
        order in prop::collection::vec(0usize..12, 1..60),
    ) {
        let events: Vec<Event> = (0..n).map(|i| created(&format!("e{i}"), &format!("T-{i}"))).collect();
        let store = with_pipeline(Store::in_memory().unwrap(), async |w| {
            for i in &order {
                let e = events[i % n].clone();
                w.append(batch(vec![e.clone(), e])).await.unwrap();
            }
        });
        let distinct: std::collections::BTreeSet<usize> = order.iter().map(|i| i % n).collect();
        prop_assert_eq!(store.counts().unwrap().0, distinct.len() as u64);
        for i in distinct {
            let id = format!("e{i}");
            prop_assert!(store.seq_of(&id).unwrap().is_some());
        }
    }
}

/// An in-memory disk that can be made to fail, like a full disk.
#[derive(Debug)]
struct FlakyDisk {
    inner: redb::backends::InMemoryBackend,
    failing: Arc<std::sync::atomic::AtomicBool>,
}

impl FlakyDisk {
    fn check(&self) -> Result<(), std::io::Error> {
        if self.failing.load(std::sync::atomic::Ordering::SeqCst) {
            Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "no space left on device",
            ))
        } else {
            Ok(())
        }
    }
}

impl redb::StorageBackend for FlakyDisk {
    fn len(&self) -> Result<u64, std::io::Error> {
        self.inner.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
        self.inner.read(offset, out)
    }
    fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
        self.check()?;
        self.inner.set_len(len)
    }
    fn sync_data(&self) -> Result<(), std::io::Error> {
        self.check()?;
        self.inner.sync_data()
    }
    fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
        self.check()?;
        self.inner.write(offset, data)
    }
}

#[test]
fn a_failing_disk_acknowledges_nothing() {
    let failing = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let store = Store::with_backend(FlakyDisk {
        inner: redb::backends::InMemoryBackend::new(),
        failing: failing.clone(),
    })
    .unwrap();
    let (writer, wh) = Writer::spawn(store.clone(), clock(), WriterConfig::default());
    runtime().block_on(async {
        writer
            .append(batch(vec![created("e1", "T-1")]))
            .await
            .unwrap();
        failing.store(true, std::sync::atomic::Ordering::SeqCst);
        let err = writer
            .append(batch(vec![created("e2", "T-2")]))
            .await
            .unwrap_err();
        assert!(matches!(err, AppendError::Storage(_)), "{err:?}");
    });
    drop(writer);
    wh.join().unwrap();
    // What was acknowledged is there; what failed is not.
    assert_eq!(store.seq_of("e1").unwrap(), Some(1));
    assert_eq!(store.seq_of("e2").unwrap(), None);
}
