//! The store's contract: behaviour every backend must show through
//! [`Store`], whatever it stores in. Each check is a function taking a
//! factory of empty stores; [`contract_tests!`] turns them into one
//! `#[test]` each, and [`run_all`] runs them in a row.
//!
//! Used by this crate's `tests/contract_redb.rs` and by other backends'
//! crates, which include this file:
//!
//! ```ignore
//! #[path = "../../escalier-store/tests/contract/mod.rs"]
//! #[macro_use]
//! mod contract;
//! contract_tests!(|| make_a_store());
//! ```
//!
//! The threads run as in the server (writer, processor, scheduler) with a
//! manual clock; nothing waits on wall-clock time for its assertions.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use escalier_core::event::{EventKind, Origin};
use escalier_core::timers::Books;
use escalier_core::{
    Event, ManualClock, Producer, Reaction, Reactor, Record, RejectionCode, Source, Ticket,
    Timestamp,
};
use escalier_store::import::ImportError;
use escalier_store::outbox::{DeliveryState, OutboxRequest, Settled};
use escalier_store::{
    AppendError, Appended, InputBatch, Processor, ProcessorConfig, ReactorSource, Scheduler,
    SchedulerConfig, SchedulerHandle, Store, Writer, WriterConfig,
};

/// A factory of empty stores, one per call.
pub type Make<'a> = &'a dyn Fn() -> Store;

/// One `#[test]` per contract check, each on a store from `$make` (an
/// expression of a type that implements `Fn() -> Store`). The including
/// module must be named `contract`.
#[macro_export]
macro_rules! contract_tests {
    ($make:expr) => {
        $crate::contract_tests!(@each $make;
            append_and_duplicate_returns_the_original_seq,
            a_lifecycle_rejection_stores_nothing_of_its_batch,
            processed_effects_are_visible_after_processing,
            clocks_come_due_and_fire_once,
            outbox_entries_come_due_and_settle,
            timelines_and_records_keep_log_order,
            versions_are_put_if_absent,
            an_import_into_an_empty_store_verifies_clean,
        );
    };
    (@each $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let make = $make;
                contract::$name(&make);
            }
        )*
    };
}

/// One contract check.
pub type Check = fn(Make<'_>);

/// Every check, in a row.
pub fn run_all(make: Make<'_>) {
    let all: [(&str, Check); 8] = [
        (
            "append_and_duplicate_returns_the_original_seq",
            append_and_duplicate_returns_the_original_seq,
        ),
        (
            "a_lifecycle_rejection_stores_nothing_of_its_batch",
            a_lifecycle_rejection_stores_nothing_of_its_batch,
        ),
        (
            "processed_effects_are_visible_after_processing",
            processed_effects_are_visible_after_processing,
        ),
        (
            "clocks_come_due_and_fire_once",
            clocks_come_due_and_fire_once,
        ),
        (
            "outbox_entries_come_due_and_settle",
            outbox_entries_come_due_and_settle,
        ),
        (
            "timelines_and_records_keep_log_order",
            timelines_and_records_keep_log_order,
        ),
        ("versions_are_put_if_absent", versions_are_put_if_absent),
        (
            "an_import_into_an_empty_store_verifies_clean",
            an_import_into_an_empty_store_verifies_clean,
        ),
    ];
    for (name, check) in all {
        eprintln!("contract: {name}");
        check(make);
    }
}

// ---- fixtures ---------------------------------------------------------

const START: &str = "2026-03-02T09:00:00Z";
const HOLD: &str = "2026-03-03T09:00:00Z";
const WAIT: Duration = Duration::from_secs(30);

const SLA: &str = r#"
[calendars.always]
time_zone = "UTC"
always = true

[[policy]]
name = "vip"
calendar = "always"
when.priority = ["urgent"]
targets.urgent = { first_response = "30m", resolution = "8h" }
"#;

fn ts(s: &str) -> Timestamp {
    s.parse().expect("test time parses")
}

fn ev(json: &str) -> Event {
    Event::decode_one(json, Origin::External).expect("test event decodes")
}

fn created(event_id: &str, ticket: &str) -> Event {
    ev(&format!(
        r#"{{"id":"{event_id}","type":"ticket.created","ticket_id":"{ticket}","occurred_at":"{START}",
            "data":{{"subject":"Printer on fire","requester":{{"id":"c1"}},"channel":"email"}}}}"#
    ))
}

fn created_urgent(event_id: &str, ticket: &str) -> Event {
    ev(&format!(
        r#"{{"id":"{event_id}","type":"ticket.created","ticket_id":"{ticket}","occurred_at":"{START}",
            "data":{{"subject":"Down","requester":{{"id":"c1"}},"channel":"email","priority":"urgent"}}}}"#
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

fn policy() -> Producer {
    Producer::Policy {
        policy: "test.rhai".into(),
        hash: "sha256:0".into(),
    }
}

/// Escalates to tier 2 when a comment says "urgent", and notes it; on a
/// new ticket, asks for one plugin request and one notification held by
/// quiet hours until [`HOLD`].
struct Reactions;

impl Reactor for Reactions {
    fn wants(&self, _: &str) -> bool {
        true
    }

    fn react(&self, ticket: &Arc<Ticket>, record: &Arc<Record>, out: &mut Vec<Reaction>) {
        let mut push = |t: &str, data: &str| {
            out.push(Reaction {
                producer: policy(),
                kind: EventKind::decode(t, data, Origin::Internal).expect("reaction decodes"),
            })
        };
        match &record.event.kind {
            EventKind::CommentAdded(c) if c.body.contains("urgent") && ticket.tier.get() < 2 => {
                push("action.escalate", r#"{"tier":2,"reason":"said urgent"}"#);
            }
            EventKind::Action(_) if record.event.type_name() == "action.escalate" => {
                push("action.note", r#"{"text":"escalated"}"#);
            }
            EventKind::TicketCreated(_) if ticket.subject == "Printer on fire" => {
                let seq = record.seq;
                let id = ticket.id.as_str();
                push(
                    "delivery.requested",
                    &format!(
                        r#"{{"delivery_id":"dlv:{seq}.1:writeback:0","plugin":"writeback","method":"PUT","url":"https://acme.example/api/tickets/1.json","body":"{{}}"}}"#
                    ),
                );
                push(
                    "notification.requested",
                    &format!(
                        r#"{{"delivery_id":"ntf:{seq}.2:duty","target":"duty","kind":"email","channel":"duty","message":"m",
                            "hold_until":"{HOLD}","why":{{"producer":"test.rhai"}},
                            "ticket":{{"id":"{id}","subject":"s","status":"new","priority":"normal","tier":1}}}}"#
                    ),
                );
            }
            _ => {}
        }
    }
}

struct Src(Arc<Books>);

impl ReactorSource for Src {
    fn reactors(&self, _: Option<&str>) -> Vec<Arc<dyn Reactor + Send + Sync>> {
        vec![Arc::new(Reactions)]
    }

    fn books(&self) -> Arc<Books> {
        self.0.clone()
    }
}

fn books() -> Arc<Books> {
    Arc::new(Books::parse(Some(SLA), None).expect("test SLA parses"))
}

/// The fold the processor applies, for import and verify.
fn fold(books: &Books) -> impl FnMut(Option<Ticket>, &Record) -> Option<Ticket> + '_ {
    move |t, r| {
        escalier_core::timers::replay(t.clone(), r, books)
            .ok()
            .or(t)
    }
}

fn jiff_ms(ms: i64) -> std::time::Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

/// The server's threads on one store, with a manual clock.
struct Pipeline {
    store: Store,
    clock: Arc<ManualClock>,
    writer: Writer,
    writer_thread: std::thread::JoinHandle<()>,
    processor: Processor,
    scheduler: Scheduler,
    sched: SchedulerHandle,
    rt: tokio::runtime::Runtime,
}

impl Pipeline {
    fn start(store: Store) -> Pipeline {
        let clock = Arc::new(ManualClock::new(ts(START)));
        let (writer, writer_thread) =
            Writer::spawn(store.clone(), clock.clone(), WriterConfig::default());
        let processor = Processor::spawn(
            store.clone(),
            Arc::new(Src(books())),
            ProcessorConfig {
                clock: clock.clone(),
                ..ProcessorConfig::default()
            },
        );
        let (scheduler, sched) = Scheduler::spawn(
            store.clone(),
            writer.clone(),
            clock.clone(),
            SchedulerConfig::default(),
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        Pipeline {
            store,
            clock,
            writer,
            writer_thread,
            processor,
            scheduler,
            sched,
            rt,
        }
    }

    fn append(&self, events: Vec<Event>) -> Result<Vec<Appended>, AppendError> {
        self.rt.block_on(self.writer.append(batch(events)))
    }

    /// Append and wait until the processor has applied it.
    fn append_processed(&self, events: Vec<Event>) -> Vec<Appended> {
        let out = self.append(events).expect("appended");
        let last = out.iter().map(|a| a.seq()).max().unwrap_or(0);
        self.wait(last);
        out
    }

    fn wait(&self, seq: u64) {
        assert!(
            self.rt
                .block_on(self.store.progress().wait_processed(seq, WAIT)),
            "input {seq} processed"
        );
    }

    /// Fire what is due at the clock's time; returns the ticks stored.
    fn settle(&self) -> u64 {
        self.rt
            .block_on(self.sched.settle())
            .expect("scheduler settles")
            .ticks
    }

    /// Stop every thread cleanly (everything committed gets processed).
    fn stop(self) -> Store {
        self.sched.stop();
        self.scheduler.join().expect("scheduler stops");
        drop(self.writer);
        self.writer_thread.join().expect("writer stops");
        self.processor.join().expect("processor stops");
        self.store
    }
}

fn rejection(e: AppendError) -> RejectionCode {
    match e {
        AppendError::Rejected { rejection, .. } => rejection.code,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn types(records: &[Record]) -> Vec<(u64, u32, &str)> {
    records
        .iter()
        .map(|r| (r.seq, r.index, r.event.type_name()))
        .collect()
}

// ---- the checks ---------------------------------------------------------

/// A new event gets the next seq; the same id again, alone or in a batch
/// with new ones, answers with its original seq and is stored once.
pub fn append_and_duplicate_returns_the_original_seq(make: Make<'_>) {
    let p = Pipeline::start(make());
    assert_eq!(
        p.append(vec![created("e1", "T-1")]).unwrap(),
        [Appended::Stored { seq: 1 }]
    );
    assert_eq!(
        p.append(vec![created("e1", "T-1"), comment("e2", "T-1", "hi")])
            .unwrap(),
        [Appended::Duplicate { seq: 1 }, Appended::Stored { seq: 2 }]
    );
    // Twice in one batch: stored once.
    assert_eq!(
        p.append(vec![comment("e3", "T-1", "a"), comment("e3", "T-1", "a")])
            .unwrap(),
        [Appended::Stored { seq: 3 }, Appended::Duplicate { seq: 3 }]
    );
    assert_eq!(
        p.append(vec![comment("e2", "T-1", "hi")]).unwrap(),
        [Appended::Duplicate { seq: 2 }]
    );
    let store = p.stop();
    assert_eq!(store.seq_of("e2").unwrap(), Some(2));
    assert_eq!(store.seq_of("nope").unwrap(), None);
    assert_eq!(store.counts().unwrap(), (3, 1));
    assert_eq!(store.input_count().unwrap(), 3);
}

/// A batch with one event the lifecycle refuses stores none of its events,
/// and names the event; other requests are not affected.
pub fn a_lifecycle_rejection_stores_nothing_of_its_batch(make: Make<'_>) {
    let p = Pipeline::start(make());
    let err = p
        .append(vec![created("e1", "T-1"), status("e2", "T-404", "open")])
        .unwrap_err();
    match err {
        AppendError::Rejected { index, rejection } => {
            assert_eq!(index, 1);
            assert_eq!(rejection.code, RejectionCode::UnknownTicket);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        p.append(vec![created("e1", "T-1"), status("e2", "T-1", "closed")])
            .unwrap(),
        [Appended::Stored { seq: 1 }, Appended::Stored { seq: 2 }]
    );
    assert_eq!(
        rejection(
            p.append(vec![created("e3", "T-2"), comment("e4", "T-1", "hello?")])
                .unwrap_err()
        ),
        RejectionCode::TicketClosed
    );
    assert_eq!(
        rejection(p.append(vec![created("e5", "T-1")]).unwrap_err()),
        RejectionCode::TicketExists
    );
    let store = p.stop();
    assert_eq!(
        store.seq_of("e3").unwrap(),
        None,
        "refused batch stored nothing"
    );
    assert_eq!(store.counts().unwrap(), (2, 1));
}

/// Once an input is processed, its ticket and what the reactors derived
/// from it can be read.
pub fn processed_effects_are_visible_after_processing(make: Make<'_>) {
    let p = Pipeline::start(make());
    p.append_processed(vec![created("e1", "T-1")]);
    let t = p.store.ticket("T-1").unwrap().expect("ticket projected");
    assert_eq!((t.subject.as_str(), t.tier.get()), ("Printer on fire", 1));
    p.append_processed(vec![comment("e2", "T-1", "this is urgent")]);
    assert_eq!(p.store.ticket("T-1").unwrap().unwrap().tier.get(), 2);
    let timeline = p.store.timeline("T-1").unwrap();
    assert_eq!(
        types(&timeline)[3..],
        [
            (2, 0, "comment.added"),
            (2, 1, "action.escalate"),
            (2, 2, "action.note")
        ]
    );
    assert!(p.store.ticket("T-2").unwrap().is_none());
    let store = p.stop();
    assert_eq!(store.progress().processed(), 2);
    let page = store
        .tickets(&escalier_store::TicketFilter::default(), None, 10, 100)
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.next, None);
}

/// A deadline is indexed when its ticket is processed, fires once its
/// time has come (never before), and only once.
pub fn clocks_come_due_and_fire_once(make: Make<'_>) {
    let p = Pipeline::start(make());
    p.append_processed(vec![created_urgent("e1", "T-1")]);
    let due = p.store.due_between(ts(START), ts(HOLD)).unwrap();
    let first = due
        .iter()
        .find(|(_, t, key)| t == "T-1" && key.ends_with(":breach"))
        .map(|(ms, _, _)| *ms)
        .expect("a deadline is indexed");
    let breached = |store: &Store| {
        store
            .timeline("T-1")
            .unwrap()
            .iter()
            .filter(|r| r.event.type_name() == "sla.breached")
            .count()
    };
    assert_eq!(p.settle(), 0, "nothing due at the start");
    assert_eq!(breached(&p.store), 0);
    let at = Timestamp::from_millisecond(i64::try_from(first).unwrap()).unwrap();
    // Just before: the warning fires, the breach does not.
    p.clock.set(at.checked_sub(jiff_ms(1)).unwrap()).unwrap();
    p.settle();
    assert_eq!(breached(&p.store), 0, "never early");
    p.clock.set(at).unwrap();
    p.settle();
    assert_eq!(breached(&p.store), 1, "the deadline fired");
    p.settle();
    assert_eq!(p.settle(), 0, "nothing fires twice");
    let store = p.stop();
    assert_eq!(breached(&store), 1);
    assert!(
        store
            .due_between(ts(START), at)
            .unwrap()
            .iter()
            .all(|(ms, t, _)| t != "T-1" || *ms != first),
        "the fired row left the index"
    );
}

/// The processor queues deliveries with their actions; they come due,
/// and settling moves or removes them with their delivery rows.
pub fn outbox_entries_come_due_and_settle(make: Make<'_>) {
    let p = Pipeline::start(make());
    p.append_processed(vec![created("e1", "T-1")]);
    let store = p.stop();
    assert_eq!(store.outbox_len().unwrap(), 2);
    let now = ts(START);
    let due = store.outbox_due(now, 10).unwrap();
    assert_eq!(due.len(), 1, "the held notification is not due yet");
    let (key, entry) = due[0].clone();
    assert!(matches!(entry.request, OutboxRequest::Http(_)));
    assert_eq!(key.id, "dlv:1.1:writeback:0");
    assert_eq!(
        store.delivery(&key.id).unwrap().unwrap().state,
        DeliveryState::Pending
    );
    assert_eq!(store.outbox_next().unwrap(), Some(key.due_ms));

    // A failed attempt: retried an hour later.
    let retry = ts("2026-03-02T10:00:00Z");
    let mut tried = entry.clone();
    tried.attempts = 1;
    store
        .outbox_settle(&[Settled {
            key: key.clone(),
            entry: tried.clone(),
            retry_at: Some(retry),
            state: DeliveryState::Retrying,
            status: Some(503),
            reason: Some("unavailable".into()),
            at: now,
        }])
        .unwrap();
    assert!(store.outbox_due(now, 10).unwrap().is_empty());
    let row = store.delivery(&key.id).unwrap().unwrap();
    assert_eq!(
        (row.state, row.attempts, row.status, row.next_at),
        (DeliveryState::Retrying, 1, Some(503), Some(retry))
    );
    let again = store.outbox_due(retry, 10).unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].1.attempts, 1);

    // Delivered: gone from the outbox, its row says so.
    store
        .outbox_settle(&[Settled {
            key: again[0].0.clone(),
            entry: again[0].1.clone(),
            retry_at: None,
            state: DeliveryState::Delivered,
            status: Some(200),
            reason: None,
            at: retry,
        }])
        .unwrap();
    assert_eq!(store.outbox_len().unwrap(), 1);
    assert_eq!(
        store.delivery(&key.id).unwrap().unwrap().state,
        DeliveryState::Delivered
    );

    // A late result for an entry no longer at its key (settled meanwhile,
    // as by another node that took the partition over): nothing changes.
    store
        .outbox_settle(&[Settled {
            key: again[0].0.clone(),
            entry: again[0].1.clone(),
            retry_at: Some(ts(HOLD)),
            state: DeliveryState::Retrying,
            status: Some(503),
            reason: Some("late".into()),
            at: retry,
        }])
        .unwrap();
    assert_eq!(store.outbox_len().unwrap(), 1, "not queued again");
    let row = store.delivery(&key.id).unwrap().unwrap();
    assert_eq!(
        (row.state, row.status, row.reason),
        (DeliveryState::Delivered, Some(200), None),
        "the delivered row stands"
    );
    let held = store.outbox_due(ts(HOLD), 10).unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].0.id, "ntf:1.2:duty");
    let (delivered, _) = store
        .deliveries(Some(DeliveryState::Delivered), None, 10, None)
        .unwrap();
    assert_eq!(delivered.len(), 1);
    let (mine, next) = store.deliveries(None, Some("T-1"), 1, None).unwrap();
    assert_eq!(mine.len(), 1);
    let (rest, _) = store
        .deliveries(None, Some("T-1"), 10, next.as_ref())
        .unwrap();
    assert_eq!(rest.len(), 1);
    assert_ne!(mine[0].delivery_id, rest[0].delivery_id);

    // Queued by hand (tools): due and listed.
    let mut manual = entry;
    manual.attempts = 0;
    if let OutboxRequest::Http(d) = &mut manual.request {
        d.delivery_id = "manual:1".into();
    }
    store.outbox_enqueue(&manual, now, now).unwrap();
    assert_eq!(
        store.delivery("manual:1").unwrap().unwrap().state,
        DeliveryState::Pending
    );
    assert!(
        store
            .outbox_due(now, 10)
            .unwrap()
            .iter()
            .any(|(k, _)| k.id == "manual:1")
    );
}

/// A ticket's timeline holds its records in (seq, index) order; the log
/// tail and a full walk give every input followed by what it caused.
pub fn timelines_and_records_keep_log_order(make: Make<'_>) {
    let p = Pipeline::start(make());
    p.append_processed(vec![
        created("e1", "T-1"),
        created("e2", "T-2"),
        comment("e3", "T-1", "urgent"),
        comment("e4", "T-2", "fine"),
        comment("e5", "T-2", "urgent now"),
    ]);
    let store = p.stop();
    for id in ["T-1", "T-2"] {
        let tl = store.timeline(id).unwrap();
        assert!(tl.iter().all(|r| r.event.ticket_id.as_str() == id));
        assert!(
            tl.windows(2)
                .all(|w| (w[0].seq, w[0].index) < (w[1].seq, w[1].index))
        );
    }
    assert_eq!(
        types(&store.timeline("T-2").unwrap()),
        [
            (2, 0, "ticket.created"),
            (2, 1, "delivery.requested"),
            (2, 2, "notification.requested"),
            (4, 0, "comment.added"),
            (5, 0, "comment.added"),
            (5, 1, "action.escalate"),
            (5, 2, "action.note"),
        ]
    );
    let (all, next) = store.tail(0, 100).unwrap();
    assert_eq!(next, 5);
    assert!(
        all.windows(2)
            .all(|w| (w[0].seq, w[0].index) < (w[1].seq, w[1].index))
    );
    assert_eq!(all.iter().filter(|r| r.index == 0).count(), 5);
    let (two, next) = store.tail(0, 2).unwrap();
    assert_eq!(next, 2);
    assert_eq!(
        types(&two),
        [
            (1, 0, "ticket.created"),
            (1, 1, "delivery.requested"),
            (1, 2, "notification.requested"),
            (2, 0, "ticket.created"),
            (2, 1, "delivery.requested"),
            (2, 2, "notification.requested"),
        ]
    );
    let (rest, _) = store.tail(next, 100).unwrap();
    assert_eq!(two.len() + rest.len(), all.len());
    let mut walked = Vec::new();
    store
        .for_each_record(|r| {
            walked.push(r);
            Ok(())
        })
        .unwrap();
    assert_eq!(walked, all);
    let t1: Vec<_> = all
        .iter()
        .filter(|r| r.event.ticket_id.as_str() == "T-1")
        .cloned()
        .collect();
    assert_eq!(store.timeline("T-1").unwrap(), t1);
}

/// Policy set versions are stored once: a second put under the same
/// version changes nothing.
pub fn versions_are_put_if_absent(make: Make<'_>) {
    let store = make();
    let files = |text: &str| vec![("a.rhai".to_owned(), text.to_owned())];
    assert!(store.put_policy_set("v1", files("one"), ts(START)).unwrap());
    assert!(
        !store
            .put_policy_set("v1", files("other"), ts(HOLD))
            .unwrap()
    );
    let v1 = store.policy_set("v1").unwrap().expect("stored");
    assert_eq!(v1.files["a.rhai"], "one");
    assert_eq!(v1.first_seen_at, ts(START));
    assert!(store.put_policy_set("v0", files("zero"), ts(HOLD)).unwrap());
    let listed: Vec<_> = store
        .policy_sets()
        .unwrap()
        .into_iter()
        .map(|s| (s.version, s.files.is_empty()))
        .collect();
    assert_eq!(listed, [("v1".to_owned(), true), ("v0".to_owned(), true)]);
    assert!(store.policy_set("v9").unwrap().is_none());
}

/// An exported log imported into an empty store gives the same log and
/// tickets, verifies clean, refuses a second import, and takes new inputs
/// after the imported ones.
pub fn an_import_into_an_empty_store_verifies_clean(make: Make<'_>) {
    let p = Pipeline::start(make());
    p.append_processed(vec![
        created("e1", "T-1"),
        created_urgent("e2", "T-2"),
        comment("e3", "T-1", "urgent"),
        status("e4", "T-2", "closed"),
    ]);
    let source = p.stop();
    let mut exported = Vec::new();
    source
        .for_each_record(|r| {
            exported.push(r);
            Ok(())
        })
        .unwrap();
    let books = books();
    let clean = source.verify(fold(&books)).unwrap();
    assert!(clean.ok(), "source: {:?}", clean.problems);

    let target = make();
    let report = target
        .import(exported.iter().cloned().map(Ok), &books, fold(&books))
        .unwrap();
    assert_eq!((report.inputs, report.tickets), (4, 2));
    assert_eq!(report.derived as usize, exported.len() - 4);
    let verified = target.verify(fold(&books)).unwrap();
    assert!(verified.ok(), "imported: {:?}", verified.problems);
    assert_eq!((verified.inputs, verified.tickets), (4, 2));
    let tickets = |s: &Store| -> BTreeMap<String, Ticket> { s.all_tickets().unwrap() };
    assert_eq!(tickets(&target), tickets(&source));
    assert_eq!(
        target.timeline("T-1").unwrap(),
        source.timeline("T-1").unwrap()
    );
    assert_eq!(target.seq_of("e3").unwrap(), Some(3));
    assert_eq!(
        target.due_between(ts(START), ts(HOLD)).unwrap(),
        source.due_between(ts(START), ts(HOLD)).unwrap()
    );
    assert!(matches!(
        target.import(exported.iter().cloned().map(Ok), &books, fold(&books)),
        Err(ImportError::NotEmpty(4))
    ));

    // The imported store goes on where the log ended.
    let p = Pipeline::start(target);
    assert_eq!(
        p.append_processed(vec![comment("e5", "T-1", "more")]),
        [Appended::Stored { seq: 5 }]
    );
    assert_eq!(
        p.append(vec![comment("e6", "T-2", "closed?")])
            .map_err(rejection)
            .unwrap_err(),
        RejectionCode::TicketClosed,
        "lifecycle heads were imported"
    );
    let target = p.stop();
    let after = target.verify(fold(&books)).unwrap();
    assert!(after.ok(), "after new input: {:?}", after.problems);
    assert_eq!(after.inputs, 5);
}
