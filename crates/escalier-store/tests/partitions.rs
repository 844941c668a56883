//! The processor on a store with several partitions: each partition is
//! processed in log order after its own cursor, a chunk whose lease moved
//! on is refused and its partition dropped, and whoever takes the
//! partition next resumes from the stored cursor, so every input is
//! processed exactly once.
//!
//! The backend is redb behind a wrapper that splits the log into
//! partitions by ticket, keeps a cursor and a lease epoch per partition,
//! and refuses a chunk whose lease epoch is stale (as a shared database
//! does when another node took the partition over). The store contract
//! ([`contract`]) runs on it too.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use escalier_core::event::{EventKind, Origin};
use escalier_core::{Event, ManualClock, Producer, Reaction, Reactor, Record, Source, Ticket};
use escalier_store::backend::{
    Appends, Backend, Chunk, ClockRow, ClusterView, Held, ImportChunk, Lease, Loaded, Marks, Node,
};
use escalier_store::outbox::{DeliveryCursor, DeliveryRow, DeliveryState, OutboxEntry, OutboxKey};
use escalier_store::redb::RedbBackend;
use escalier_store::{
    InputBatch, Processor, ProcessorConfig, ReactorSource, Store, StoreError, Writer, WriterConfig,
    partition_of,
};

#[macro_use]
mod contract;

const PARTITIONS: u32 = 4;

// The store contract, with the processor running partition by partition.
contract_tests!(|| Store::from_backend(Arc::new(Sharded::new())).unwrap());

#[derive(Default)]
struct State {
    cursors: Vec<u64>,
    epochs: Vec<u64>,
    /// Chunks refused for a stale lease.
    refused: u64,
    /// How many more scans for stale tickets fail as if the database were
    /// down.
    down_scans: u32,
    /// The next re-bind write finds one of its partitions taken over.
    steal_on_rebind: bool,
    /// Calls of `leases` so far, and their count at each re-bind write.
    lease_calls: u64,
    calls_at_rebind_writes: Vec<u64>,
}

struct Sharded {
    inner: RedbBackend,
    state: Mutex<State>,
    refused: Condvar,
}

impl Sharded {
    fn new() -> Sharded {
        Sharded {
            inner: RedbBackend::in_memory().unwrap(),
            state: Mutex::new(State {
                cursors: vec![0; PARTITIONS as usize],
                epochs: vec![0; PARTITIONS as usize],
                refused: 0,
                down_scans: 0,
                steal_on_rebind: false,
                lease_calls: 0,
                calls_at_rebind_writes: Vec::new(),
            }),
            refused: Condvar::new(),
        }
    }

    fn all_inputs(&self) -> Vec<Arc<Record>> {
        self.inner.inputs(0, 0, usize::MAX).unwrap()
    }

    /// Every input up to the result is processed: one less than the first
    /// input after its partition's cursor.
    fn processed(&self, cursors: &[u64]) -> Result<u64, StoreError> {
        let all = self.all_inputs();
        let first_open = all.iter().find(|r| {
            let p = partition_of(r.event.ticket_id.as_str(), PARTITIONS) as usize;
            r.seq > cursors[p]
        });
        Ok(match first_open {
            Some(r) => r.seq - 1,
            None => all.last().map_or(0, |r| r.seq),
        })
    }

    /// Another node takes partition `p` over.
    fn steal(&self, p: u32) {
        self.state.lock().unwrap().epochs[p as usize] += 1;
    }

    fn wait_refused(&self) {
        let s = self.state.lock().unwrap();
        let (s, timeout) = self
            .refused
            .wait_timeout_while(s, Duration::from_secs(30), |s| s.refused == 0)
            .unwrap();
        assert!(!timeout.timed_out(), "a chunk was refused");
        drop(s);
    }

    fn cursor(&self, p: u32) -> u64 {
        self.state.lock().unwrap().cursors[p as usize]
    }

    fn down_for_scans(&self, n: u32) {
        self.state.lock().unwrap().down_scans = n;
    }

    fn down_scans_left(&self) -> u32 {
        self.state.lock().unwrap().down_scans
    }

    fn steal_on_rebind(&self) {
        self.state.lock().unwrap().steal_on_rebind = true;
    }

    fn refused(&self) -> u64 {
        self.state.lock().unwrap().refused
    }
}

impl Backend for Sharded {
    fn kind(&self) -> &'static str {
        "sharded-test"
    }
    fn location(&self) -> String {
        self.inner.location()
    }
    fn last_seq(&self) -> Result<u64, StoreError> {
        self.inner.last_seq()
    }
    fn append_group(
        &self,
        now: escalier_core::Timestamp,
        group: &[&InputBatch],
    ) -> Result<Appends, StoreError> {
        self.inner.append_group(now, group)
    }
    fn seq_of(&self, event_id: &str) -> Result<Option<u64>, StoreError> {
        self.inner.seq_of(event_id)
    }
    fn marks(&self) -> Result<Marks, StoreError> {
        let cursors = self.state.lock().unwrap().cursors.clone();
        Ok(Marks {
            committed: self.inner.last_seq()?,
            processed: self.processed(&cursors)?,
        })
    }
    fn shared(&self) -> bool {
        true
    }
    fn partitions(&self) -> u32 {
        PARTITIONS
    }
    fn leases(&self, _node: &Node) -> Result<Vec<Held>, StoreError> {
        let mut s = self.state.lock().unwrap();
        s.lease_calls += 1;
        Ok((0..PARTITIONS)
            .map(|p| Held {
                lease: Lease {
                    partition: p,
                    epoch: s.epochs[p as usize],
                },
                cursor: s.cursors[p as usize],
            })
            .collect())
    }
    fn release(&self, _node: &Node) -> Result<(), StoreError> {
        Ok(())
    }
    fn inputs(
        &self,
        partition: u32,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Arc<Record>>, StoreError> {
        Ok(self
            .all_inputs()
            .into_iter()
            .filter(|r| {
                r.seq > after && partition_of(r.event.ticket_id.as_str(), PARTITIONS) == partition
            })
            .take(limit)
            .collect())
    }
    fn load_tickets(&self, ids: &[&str]) -> Result<HashMap<String, Loaded>, StoreError> {
        self.inner.load_tickets(ids)
    }
    fn commit_chunk(&self, chunk: &Chunk) -> Result<(), StoreError> {
        let mut s = self.state.lock().unwrap();
        let mut inner_cursor = None;
        if let Some((lease, upto)) = chunk.cursor {
            let p = lease.partition as usize;
            if s.epochs[p] != lease.epoch {
                s.refused += 1;
                self.refused.notify_all();
                return Err(StoreError::LeaseLost {
                    partition: lease.partition,
                });
            }
            // Every input of the partition is in the chunk, in order.
            let expected: Vec<u64> = self
                .inputs(lease.partition, s.cursors[p], usize::MAX)?
                .iter()
                .map(|r| r.seq)
                .take_while(|seq| *seq <= upto)
                .collect();
            let got: Vec<u64> = chunk.inputs.iter().map(|(seq, _)| *seq).collect();
            assert_eq!(
                got, expected,
                "partition {p} processed in order, nothing skipped"
            );
            let mut cursors = s.cursors.clone();
            cursors[p] = upto;
            // redb's own cursor is the store-wide processed mark.
            inner_cursor = Some((
                Lease {
                    partition: 0,
                    epoch: 0,
                },
                self.processed(&cursors)?,
            ));
            s.cursors = cursors;
        }
        if chunk.cursor.is_none() {
            let calls = s.lease_calls;
            s.calls_at_rebind_writes.push(calls);
            if s.steal_on_rebind
                && let Some(first) = chunk.fence.first()
            {
                s.steal_on_rebind = false;
                s.epochs[first.partition as usize] += 1;
            }
        }
        // A maintenance write: every lease it names still held.
        if let Some(lost) = chunk
            .fence
            .iter()
            .find(|l| s.epochs[l.partition as usize] != l.epoch)
        {
            s.refused += 1;
            self.refused.notify_all();
            return Err(StoreError::LeaseLost {
                partition: lost.partition,
            });
        }
        if chunk.cursor.is_none() {
            // Every ticket it writes is in a partition it names.
            for (id, _) in &chunk.tickets {
                let p = partition_of(id, PARTITIONS);
                assert!(
                    chunk.fence.iter().any(|l| l.partition == p),
                    "{id}: re-bound under its partition's lease"
                );
            }
        }
        self.inner.commit_chunk(&Chunk {
            cursor: inner_cursor,
            derived: chunk.derived.clone(),
            inputs: chunk.inputs.clone(),
            outbox: chunk.outbox.clone(),
            tickets: chunk.tickets.clone(),
            index_moves: chunk.index_moves.clone(),
            durable: chunk.durable,
            fence: Vec::new(),
        })
    }
    fn flush(&self) -> Result<(), StoreError> {
        self.inner.flush()
    }
    fn stale_tickets(
        &self,
        version: &str,
        partitions: Option<&[u32]>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        {
            let mut s = self.state.lock().unwrap();
            if s.down_scans > 0 {
                s.down_scans -= 1;
                return Err(StoreError::Unavailable("connection refused".into()));
            }
        }
        let all = self.inner.stale_tickets(version, None)?;
        Ok(all
            .into_iter()
            .filter(|(id, _)| {
                partitions.is_none_or(|ps| ps.contains(&partition_of(id, PARTITIONS)))
            })
            .collect())
    }
    fn due_clocks(
        &self,
        partitions: Option<&[u32]>,
        now_ms: u64,
        limit: usize,
    ) -> Result<(Vec<ClockRow>, Option<u64>), StoreError> {
        self.inner.due_clocks(partitions, now_ms, limit)
    }
    fn due_between(&self, from_ms: u64, until_ms: u64) -> Result<Vec<ClockRow>, StoreError> {
        self.inner.due_between(from_ms, until_ms)
    }
    fn outbox_due(
        &self,
        partitions: Option<&[u32]>,
        now_ms: u64,
        limit: usize,
    ) -> Result<Vec<(OutboxKey, OutboxEntry)>, StoreError> {
        self.inner.outbox_due(partitions, now_ms, limit)
    }
    fn outbox_next(&self, partitions: Option<&[u32]>) -> Result<Option<u64>, StoreError> {
        self.inner.outbox_next(partitions)
    }
    fn outbox_len(&self) -> Result<u64, StoreError> {
        self.inner.outbox_len()
    }
    fn outbox_settle(&self, results: &[escalier_store::outbox::Settled]) -> Result<(), StoreError> {
        self.inner.outbox_settle(results)
    }
    fn outbox_enqueue(
        &self,
        due_ms: u64,
        entry: &OutboxEntry,
        row: &DeliveryRow,
    ) -> Result<(), StoreError> {
        self.inner.outbox_enqueue(due_ms, entry, row)
    }
    fn delivery(&self, id: &str) -> Result<Option<DeliveryRow>, StoreError> {
        self.inner.delivery(id)
    }
    fn deliveries(
        &self,
        state: Option<DeliveryState>,
        ticket: Option<&str>,
        limit: usize,
        after: Option<&DeliveryCursor>,
    ) -> Result<(Vec<DeliveryRow>, Option<DeliveryCursor>), StoreError> {
        self.inner.deliveries(state, ticket, limit, after)
    }
    fn ticket(&self, id: &str) -> Result<Option<Ticket>, StoreError> {
        self.inner.ticket(id)
    }
    fn tickets_after(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Ticket)>, StoreError> {
        self.inner.tickets_after(after, limit)
    }
    fn timeline(&self, id: &str) -> Result<Vec<Record>, StoreError> {
        self.inner.timeline(id)
    }
    fn records(&self, after: u64, upto: u64, limit: usize) -> Result<Vec<Record>, StoreError> {
        self.inner.records(after, upto, limit)
    }
    fn counts(&self) -> Result<(u64, u64), StoreError> {
        self.inner.counts()
    }
    fn put_version_if_absent(&self, key: &str, value: &[u8]) -> Result<bool, StoreError> {
        self.inner.put_version_if_absent(key, value)
    }
    fn put_version(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.inner.put_version(key, value)
    }
    fn version(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.version(key)
    }
    fn versions(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.inner.versions(prefix)
    }
    fn import_chunk(&self, chunk: &ImportChunk) -> Result<(), StoreError> {
        self.inner.import_chunk(chunk)?;
        let mut s = self.state.lock().unwrap();
        s.cursors.iter_mut().for_each(|c| *c = chunk.processed);
        Ok(())
    }
    fn verify_extra(&self) -> Result<Vec<String>, StoreError> {
        self.inner.verify_extra()
    }
    fn cluster(&self) -> Result<ClusterView, StoreError> {
        self.inner.cluster()
    }
}

/// Notes every comment.
struct Noter;

impl Reactor for Noter {
    fn wants(&self, t: &str) -> bool {
        t == "comment.added"
    }

    fn react(&self, _: &Arc<Ticket>, _: &Arc<Record>, out: &mut Vec<Reaction>) {
        out.push(Reaction {
            producer: Producer::Policy {
                policy: "test.rhai".into(),
                hash: "sha256:0".into(),
            },
            kind: EventKind::decode("action.note", r#"{"text":"seen"}"#, Origin::Internal).unwrap(),
        });
    }
}

struct Src;
impl ReactorSource for Src {
    fn reactors(&self, _: Option<&str>) -> Vec<Arc<dyn Reactor + Send + Sync>> {
        vec![Arc::new(Noter)]
    }
}

fn ev(json: &str) -> Event {
    Event::decode_one(json, Origin::External).unwrap()
}

fn created(id: &str, ticket: &str) -> Event {
    ev(&format!(
        r#"{{"id":"{id}","type":"ticket.created","ticket_id":"{ticket}","occurred_at":"2026-03-02T09:00:00Z",
            "data":{{"subject":"s","requester":{{"id":"c1"}},"channel":"email"}}}}"#
    ))
}

fn comment(id: &str, ticket: &str) -> Event {
    ev(&format!(
        r#"{{"id":"{id}","type":"comment.added","ticket_id":"{ticket}","occurred_at":"2026-03-02T09:06:00Z",
            "data":{{"author":{{"kind":"customer"}},"body":"hi"}}}}"#
    ))
}

fn append(writer: &Writer, events: Vec<Event>) -> u64 {
    let out = writer
        .append_blocking(InputBatch {
            events,
            source: Source::Webhook { delivery: None },
        })
        .unwrap();
    out.iter().map(|a| a.seq()).max().unwrap_or(0)
}

/// Append `events` and wait until they are processed; the last seq.
fn append_processed(
    store: &Store,
    writer: &Writer,
    events: Vec<Event>,
    within: Duration,
    what: &str,
) -> u64 {
    let last = append(writer, events);
    assert!(
        store.progress().wait_processed_blocking(last, within),
        "{what}"
    );
    last
}

/// One event per ticket, `make(<prefix><i>, ticket)`.
fn each(tickets: &[String], prefix: &str, make: fn(&str, &str) -> Event) -> Vec<Event> {
    tickets
        .iter()
        .enumerate()
        .map(|(i, t)| make(&format!("{prefix}{i}"), t))
        .collect()
}

/// Each ticket created, then commented on (`c<i>`, `a<i>`).
fn created_and_commented(tickets: &[String]) -> Vec<Event> {
    each(tickets, "c", created)
        .into_iter()
        .zip(each(tickets, "a", comment))
        .flat_map(|(c, a)| [c, a])
        .collect()
}

struct Running {
    writer: Writer,
    writer_thread: std::thread::JoinHandle<()>,
    processor: Processor,
}

fn start(store: &Store) -> Running {
    // Leases are read at start only: a lost partition stays lost until the
    // next processor starts.
    start_with(store, Arc::new(Src), Duration::from_secs(3600))
}

fn start_with(store: &Store, source: Arc<dyn ReactorSource>, renew: Duration) -> Running {
    let clock = Arc::new(ManualClock::new("2026-03-02T09:00:00Z".parse().unwrap()));
    let (writer, writer_thread) =
        Writer::spawn(store.clone(), clock.clone(), WriterConfig::default());
    let processor = Processor::spawn(
        store.clone(),
        source,
        ProcessorConfig {
            clock,
            renew,
            ..ProcessorConfig::default()
        },
    );
    Running {
        writer,
        writer_thread,
        processor,
    }
}

fn stop(r: Running) {
    drop(r.writer);
    r.writer_thread.join().unwrap();
    r.processor.join().unwrap();
}

fn notes(store: &Store, ticket: &str) -> usize {
    store
        .timeline(ticket)
        .unwrap()
        .iter()
        .filter(|r| r.event.type_name() == "action.note")
        .count()
}

#[test]
fn partitions_are_processed_in_order_and_a_lost_lease_loses_and_repeats_nothing() {
    let backend = Arc::new(Sharded::new());
    let store = Store::from_backend(backend.clone()).unwrap();
    assert_eq!(store.held_partitions(), Some(Vec::new()));
    let tickets: Vec<String> = (0..12).map(|i| format!("T-{i}")).collect();
    let by_partition = |p: u32| {
        tickets
            .iter()
            .filter(|t| partition_of(t, PARTITIONS) == p)
            .cloned()
            .collect::<Vec<_>>()
    };
    let victim = (0..PARTITIONS)
        .find(|p| !by_partition(*p).is_empty())
        .unwrap();

    let running = start(&store);
    append_processed(
        &store,
        &running.writer,
        created_and_commented(&tickets),
        Duration::from_secs(30),
        "everything processed",
    );
    let mut held = store.held_partitions().unwrap();
    held.sort();
    assert_eq!(held, (0..PARTITIONS).collect::<Vec<_>>());
    let victim_cursor = backend.cursor(victim);

    // Another node takes the victim's partition over: this node's next
    // chunk there is refused and the partition dropped.
    backend.steal(victim);
    let last = append(&running.writer, each(&tickets, "b", comment));
    backend.wait_refused();
    assert_eq!(
        backend.cursor(victim),
        victim_cursor,
        "nothing of the refused chunk stored"
    );
    for t in by_partition(victim) {
        assert_eq!(
            notes(&store, &t),
            1,
            "{t}: only its first comment processed"
        );
    }
    stop(running);
    assert!(!store.held_partitions().unwrap().contains(&victim));

    // The next processor takes the partition (new epoch) and resumes
    // after the stored cursor.
    let store = Store::from_backend(backend.clone()).unwrap();
    let running = start(&store);
    assert!(
        store
            .progress()
            .wait_processed_blocking(last, Duration::from_secs(30)),
        "the taken-over partition processed"
    );
    stop(running);
    for t in &tickets {
        assert_eq!(notes(&store, t), 2, "{t}: each comment noted exactly once");
    }
    let books = escalier_core::Books::empty();
    let report = store
        .verify(|t, r| {
            escalier_core::timers::replay(t.clone(), r, &books)
                .ok()
                .or(t)
        })
        .unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(report.processed, last);
}

#[test]
fn a_processor_that_meets_the_database_down_while_starting_starts_over() {
    let backend = Arc::new(Sharded::new());
    let store = Store::from_backend(backend.clone()).unwrap();
    // Re-binding the clocks of the partitions just taken is the first
    // step after the leases: the database is gone for it.
    backend.down_for_scans(1);
    let running = start(&store);
    let tickets: Vec<String> = (0..6).map(|i| format!("T-{i}")).collect();
    append_processed(
        &store,
        &running.writer,
        created_and_commented(&tickets),
        Duration::from_secs(30),
        "everything processed once the database is back",
    );
    assert_eq!(backend.down_scans_left(), 0, "the failed start was met");
    stop(running);
    for t in &tickets {
        assert_eq!(notes(&store, t), 1, "{t}: its comment noted exactly once");
    }
}

/// Notes comments, with SLA and ladder files the test can change.
struct Switchable(Mutex<Arc<escalier_core::Books>>);

impl Switchable {
    fn new() -> Arc<Switchable> {
        Arc::new(Switchable(Mutex::new(Arc::new(
            escalier_core::Books::empty(),
        ))))
    }

    /// The files change: a new books version, to re-bind every ticket to.
    fn change(&self, version: &str) {
        *self.0.lock().unwrap() = Arc::new(escalier_core::Books {
            version: version.into(),
            ..escalier_core::Books::empty()
        });
    }
}

impl ReactorSource for Switchable {
    fn reactors(&self, _: Option<&str>) -> Vec<Arc<dyn Reactor + Send + Sync>> {
        vec![Arc::new(Noter)]
    }
    fn books(&self) -> Arc<escalier_core::Books> {
        self.0.lock().unwrap().clone()
    }
}

#[test]
fn a_rebind_that_meets_a_taken_over_partition_writes_nothing_and_starts_over() {
    let backend = Arc::new(Sharded::new());
    let store = Store::from_backend(backend.clone()).unwrap();
    let source = Switchable::new();
    let running = start_with(&store, source.clone(), Duration::from_secs(3600));
    let writer = &running.writer;
    let tickets: Vec<String> = (0..12).map(|i| format!("T-{i}")).collect();
    append_processed(
        &store,
        writer,
        each(&tickets, "c", created),
        Duration::from_secs(30),
        "the tickets processed",
    );

    // The SLA files change; the re-bind's write finds a partition taken
    // over: it is refused whole, and the processor starts over under the
    // leases it holds now.
    let old_version = escalier_core::Books::empty().version;
    backend.steal_on_rebind();
    source.change("sha256:0000000000000002");
    backend.wait_refused();
    append_processed(
        &store,
        writer,
        each(&tickets, "a", comment),
        Duration::from_secs(30),
        "processing goes on after the refused re-bind",
    );
    stop(running);
    assert_eq!(backend.refused(), 1);
    assert!(
        backend
            .stale_tickets("sha256:0000000000000002", None)
            .unwrap()
            .is_empty(),
        "every ticket re-bound to the new files (none left on {old_version})"
    );
    for t in &tickets {
        assert_eq!(notes(&store, t), 1, "{t}: its comment noted exactly once");
    }
}

#[test]
fn a_long_rebind_keeps_its_leases_renewed() {
    let backend = Arc::new(Sharded::new());
    let store = Store::from_backend(backend.clone()).unwrap();
    let source = Switchable::new();
    // Renewal is due at every step, and between every two re-bind writes.
    let running = start_with(&store, source.clone(), Duration::ZERO);
    let writer = &running.writer;
    // More tickets than one re-bind write takes (1,000).
    let tickets: Vec<String> = (0..2_500).map(|i| format!("T-{i}")).collect();
    append_processed(
        &store,
        writer,
        each(&tickets, "c", created),
        Duration::from_secs(60),
        "the tickets processed",
    );
    source.change("sha256:0000000000000003");
    // The re-bind happens before the next input is processed.
    append_processed(
        &store,
        writer,
        vec![comment("a0", "T-0")],
        Duration::from_secs(60),
        "the comment processed after the re-bind",
    );
    stop(running);
    assert!(
        backend
            .stale_tickets("sha256:0000000000000003", None)
            .unwrap()
            .is_empty()
    );
    let at = backend.state.lock().unwrap().calls_at_rebind_writes.clone();
    assert!(at.len() >= 3, "several re-bind writes: {at:?}");
    assert!(
        at.windows(2).all(|w| w[1] > w[0]),
        "the leases renewed between every two re-bind writes: {at:?}"
    );
}
