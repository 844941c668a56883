//! The processor: follows the log in order and turns each committed input
//! into derived records and ticket state, through
//! [`escalier_core::process::process`].
//!
//! Exactly once: the derived records, the tickets they change and the
//! cursor (`meta["processed"]`) are written in one transaction. After a
//! crash the processor resumes after the cursor; anything it had computed
//! but not committed is computed again from the same inputs.
//!
//! Durability: processor transactions commit with `Durability::None` (no
//! fsync). They become durable with the writer's next durable commit, or
//! with the processor's own durable commit once it has been idle for
//! `flush_after`. A crash loses at most that non-durable tail, which is
//! recomputed from the durable inputs on restart: processing is a pure
//! function of the log, so nothing acknowledged depends on it. This halves
//! the fsyncs on the ingest path.
//!
//! Reactors are pulled from a [`ReactorSource`] once per chunk, so a
//! policy or plugin reload takes effect between chunks, never in the
//! middle of one input.

use std::collections::{BTreeMap, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use escalier_core::Timestamp;
use escalier_core::process::{Limits, process};
use escalier_core::timers::Books;
use escalier_core::{Reactor, Record, Ticket};
use redb::{Durability, ReadableDatabase, ReadableTable};

use crate::progress::Wait;
use crate::{Store, StoreError, codec, tables};

/// Where the processor gets what it runs: the reactors (in order) and the
/// SLA policies and ladders in force.
pub trait ReactorSource: Send + Sync + 'static {
    /// The reactors for a ticket following policy set version `pinned`
    /// (`None`: the ticket is new or follows whatever is in force).
    fn reactors(&self, pinned: Option<&str>) -> Vec<Arc<dyn Reactor + Send + Sync>>;

    fn books(&self) -> Arc<Books> {
        Arc::new(Books::empty())
    }
}

/// No reactors and no timers: tickets are folded, nothing reacts.
impl ReactorSource for () {
    fn reactors(&self, _: Option<&str>) -> Vec<Arc<dyn Reactor + Send + Sync>> {
        Vec::new()
    }
}

#[derive(Clone)]
pub struct ProcessorConfig {
    /// Most inputs per transaction.
    pub chunk: usize,
    pub limits: Limits,
    /// Idle time after which non-durable processing results are made durable.
    pub flush_after: Duration,
    /// Time for re-binding clocks when the SLA or ladder files change.
    pub clock: Arc<dyn escalier_core::Clock>,
    /// Tickets kept decoded between chunks (0 turns the cache off).
    pub cache_tickets: usize,
    /// With fewer than `gather_min` inputs waiting, wait up to this long
    /// for more before processing: fewer, larger transactions rewrite each
    /// busy ticket's pages once instead of once per ingest commit. Adds at
    /// most this much to the time before effects are visible.
    pub gather: Duration,
    pub gather_min: usize,
}

impl Default for ProcessorConfig {
    fn default() -> Self {
        ProcessorConfig {
            chunk: 1024,
            limits: Limits::default(),
            flush_after: Duration::from_millis(200),
            clock: Arc::new(escalier_core::SystemClock),
            cache_tickets: 20_000,
            gather: Duration::from_millis(10),
            gather_min: 256,
        }
    }
}

pub struct Processor {
    handle: JoinHandle<Result<(), StoreError>>,
}

impl Processor {
    /// Start the processor thread. It stops once the store's progress is
    /// closed (the writer stopped) and everything committed is processed.
    pub fn spawn(store: Store, source: Arc<dyn ReactorSource>, cfg: ProcessorConfig) -> Processor {
        let handle = std::thread::Builder::new()
            .name("escalier-processor".into())
            .spawn(move || {
                let r = run(&store, source.as_ref(), &cfg);
                if let Err(e) = &r {
                    tracing::error!(error = %e, "processor stopped");
                }
                r
            })
            .unwrap_or_else(|e| panic!("cannot start the processor thread: {e}"));
        Processor { handle }
    }

    /// Wait for the thread to finish.
    pub fn join(self) -> Result<(), StoreError> {
        self.handle.join().unwrap_or(Err(StoreError::Closed))
    }
}

fn run(store: &Store, source: &dyn ReactorSource, cfg: &ProcessorConfig) -> Result<(), StoreError> {
    let mut cursor = store.progress().processed();
    let mut unflushed = false;
    let mut books = source.books();
    let mut cache = Cache::new(cfg.cache_tickets);
    rebind_all(store, None, &books, cursor, cfg.clock.now())?;
    loop {
        let latest = source.books();
        if latest.version != books.version {
            rebind_all(store, Some(&books), &latest, cursor, cfg.clock.now())?;
            cache.clear();
            books = latest;
            unflushed = true;
        }
        match store
            .progress()
            .wait_committed_beyond(cursor, cfg.flush_after)
        {
            Wait::Committed(mut committed) => {
                let gather_until = Instant::now() + cfg.gather;
                while committed - cursor < cfg.gather_min as u64 {
                    let left = gather_until.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    match store
                        .progress()
                        .wait_committed_beyond(cursor + cfg.gather_min as u64 - 1, left)
                    {
                        Wait::Committed(c) => committed = c,
                        Wait::TimedOut => committed = store.progress().committed(),
                        Wait::Closed => break,
                    }
                }
                let upto = committed.min(cursor + cfg.chunk as u64);
                let started = Instant::now();
                process_range(
                    store,
                    source,
                    &books,
                    &cfg.limits,
                    cursor,
                    upto,
                    Durability::None,
                    &mut cache,
                )?;
                unflushed = true;
                cursor = upto;
                store.progress().set_processed(cursor);
                metrics::histogram!("escalier_process_chunk_seconds")
                    .record(started.elapsed().as_secs_f64());
                metrics::gauge!("escalier_processor_lag")
                    .set(store.progress().committed().saturating_sub(cursor) as f64);
            }
            Wait::TimedOut if unflushed => {
                flush(store)?;
                unflushed = false;
            }
            Wait::TimedOut => {}
            Wait::Closed => {
                if unflushed {
                    flush(store)?;
                }
                return Ok(());
            }
        }
    }
}

/// The SLA or ladder files changed (or the server starts with files other
/// than the ones the index was built with): re-bind the clocks and ladders
/// of every indexed ticket to `new`, keeping elapsed time, and re-index.
///
/// Runs between chunks, so no input is processed half under old and half
/// under new files. Without the old books (a change while the server was
/// down) the tickets are re-bound from `new` alone: clocks keep their state
/// and re-select their policy, and only the running segment's business
/// time is counted on the new calendar. The change is recorded in
/// `versions` (`books-change:<seq>`: from, to, at, tickets) so a replay can
/// apply it at the same point of the log.
fn rebind_all(
    store: &Store,
    old: Option<&Books>,
    new: &Books,
    at_seq: u64,
    now: Timestamp,
) -> Result<(), StoreError> {
    // The version every ticket's index was last brought to: when it is
    // this one, there is nothing to scan (a restart with the same files).
    const INDEXED_WITH: &str = "books-indexed";
    let stale: Vec<(String, String)> = {
        let rtx = store.db().begin_read()?;
        let versions = rtx.open_table(tables::VERSIONS)?;
        if versions
            .get(INDEXED_WITH)?
            .is_some_and(|v| v.value() == new.version.as_bytes())
        {
            return Ok(());
        }
        let data = rtx.open_table(tables::TICKET_DATA)?;
        let mut out = Vec::new();
        for row in data.iter()? {
            let (k, v) = row?;
            let (id, kind, _, _) = k.value();
            if kind != tables::INDEX {
                continue;
            }
            let indexed: Indexed =
                codec::decode_named(v.value(), "clock index").unwrap_or_default();
            if indexed.version != new.version {
                out.push((id.to_owned(), indexed.version));
            }
        }
        out
    };
    if stale.is_empty() {
        let wtx = store.db().begin_write()?;
        wtx.open_table(tables::VERSIONS)?
            .insert(INDEXED_WITH, new.version.as_bytes())?;
        wtx.commit()?;
        return Ok(());
    }
    let started = Instant::now();
    let from = old
        .map(|b| b.version.clone())
        .unwrap_or_else(|| stale[0].1.clone());
    for batch in stale.chunks(1000) {
        let mut rebound = Vec::with_capacity(batch.len());
        let mut wtx = store.db().begin_write()?;
        wtx.set_durability(Durability::None)
            .map_err(|e| StoreError::CommitFailed(e.to_string()))?;
        {
            let mut data = wtx.open_table(tables::TICKET_DATA)?;
            let mut clocks = wtx.open_table(tables::CLOCKS)?;
            for (id, _) in batch {
                let Some(mut t) = data
                    .get(tables::ticket_key(id, tables::BODY))?
                    .map(|v| codec::decode_ticket(v.value()))
                    .transpose()?
                else {
                    continue;
                };
                escalier_core::timers::rebind(&mut t, old.unwrap_or(new), new, now);
                data.insert(
                    tables::ticket_key(id, tables::BODY),
                    codec::encode_ticket(&t).as_slice(),
                )?;
                reindex(&mut clocks, &mut data, id, &t, new)?;
                rebound.push(t);
            }
        }
        wtx.commit()?;
        store.index_changed(at_seq, new, rebound.iter());
    }
    let wtx = store.db().begin_write()?;
    {
        let mut versions = wtx.open_table(tables::VERSIONS)?;
        let change = serde_json::json!({
            "kind": "books",
            "from": from,
            "to": new.version,
            "after_seq": at_seq,
            "at": now,
            "tickets": stale.len(),
            "old_books_known": old.is_some(),
        });
        versions.insert(
            format!("books-change:{at_seq:020}").as_str(),
            change.to_string().as_bytes(),
        )?;
        versions.insert(INDEXED_WITH, new.version.as_bytes())?;
    }
    wtx.commit()?;
    store.alarm().ring();
    tracing::info!(from, to = %new.version, tickets = stale.len(), took = ?started.elapsed(), "SLA and ladder files changed; clocks re-bound");
    Ok(())
}

/// An empty durable commit: makes every earlier non-durable commit durable.
fn flush(store: &Store) -> Result<(), StoreError> {
    let mut wtx = store.db().begin_write()?;
    wtx.set_durability(Durability::Immediate)
        .map_err(|e| StoreError::CommitFailed(e.to_string()))?;
    wtx.commit()?;
    Ok(())
}

/// Tickets kept decoded between chunks, with the clock state their index
/// rows were computed from. Only the processor writes tickets, so an entry
/// cannot go stale while processing runs; the cache is emptied whenever
/// tickets are rewritten another way (the books changed).
pub(crate) struct Cache {
    entries: HashMap<String, Cached>,
    capacity: usize,
}

pub(crate) struct Cached {
    ticket: Ticket,
    indexed: Option<(Fingerprint, Indexed)>,
}

/// What a ticket's deadlines depend on: closed or not, its clocks,
/// ladders and plugins' pending timers, and the books version (see
/// `escalier_core::timers::deadlines`).
#[derive(PartialEq)]
struct Fingerprint {
    closed: bool,
    clocks: escalier_core::sla::ClockSet,
    ladders: escalier_core::ladder::LadderSet,
    plugin_timers: BTreeMap<String, BTreeMap<String, escalier_core::ticket::PendingTimer>>,
    books: String,
}

impl Fingerprint {
    fn of(t: &Ticket, books: &Books) -> Fingerprint {
        Fingerprint {
            closed: t.status == escalier_core::Status::Closed,
            clocks: t.clocks.clone(),
            ladders: t.ladders.clone(),
            plugin_timers: t.plugin_timers.clone(),
            books: books.version.clone(),
        }
    }
}

impl Cache {
    pub(crate) fn new(capacity: usize) -> Cache {
        Cache {
            entries: HashMap::new(),
            capacity,
        }
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }

    fn take(&mut self, id: &str) -> Option<Cached> {
        self.entries.remove(id)
    }

    fn put(&mut self, id: String, c: Cached) {
        if self.capacity == 0 {
            return;
        }
        if self.entries.len() >= self.capacity {
            // Evict about a quarter, in no particular order: cheap, and a
            // miss only costs a decode.
            let mut n = 0usize;
            let keep = self.capacity * 3 / 4;
            let over = self.entries.len().saturating_sub(keep);
            self.entries.retain(|_, _| {
                n += 1;
                n > over
            });
        }
        self.entries.insert(id, c);
    }
}

/// Runs a reactor with a panic guard: a panicking reactor contributes
/// nothing for that record, and everything else carries on. Policies and
/// plugins are built not to panic; this is the last line of defence.
struct Guarded<'a>(&'a (dyn Reactor + Send + Sync));

impl Reactor for Guarded<'_> {
    fn wants(&self, event_type: &str) -> bool {
        self.0.wants(event_type)
    }

    fn react(
        &self,
        ticket: &Arc<Ticket>,
        record: &Arc<Record>,
        out: &mut Vec<escalier_core::Reaction>,
    ) {
        let before = out.len();
        if catch_unwind(AssertUnwindSafe(|| self.0.react(ticket, record, out))).is_err() {
            out.truncate(before);
            tracing::error!(
                seq = record.seq,
                index = record.index,
                "a reactor panicked; its reactions to this record are dropped"
            );
            metrics::counter!("escalier_reactor_panics_total").increment(1);
        }
    }
}

/// Process inputs `(after, upto]` and commit the result with the cursor.
#[allow(clippy::too_many_arguments)]
pub(crate) fn process_range(
    store: &Store,
    source: &dyn ReactorSource,
    books: &Books,
    limits: &Limits,
    after: u64,
    upto: u64,
    durability: Durability,
    cache: &mut Cache,
) -> Result<(), StoreError> {
    // Reactors per pinned version, resolved once per chunk.
    let mut by_version: HashMap<Option<String>, Vec<Arc<dyn Reactor + Send + Sync>>> =
        HashMap::new();
    let mut tickets: HashMap<String, Option<Ticket>> = HashMap::new();
    // Each ticket's index rows, and the clock state they were computed from
    // (known for cached tickets only).
    let mut indexed: HashMap<String, (Option<Fingerprint>, Indexed)> = HashMap::new();
    let mut outputs: Vec<(Arc<Record>, Vec<Record>)> = Vec::new();
    {
        let rtx = store.db().begin_read()?;
        let events = rtx.open_table(tables::EVENTS)?;
        let data = rtx.open_table(tables::TICKET_DATA)?;
        // Fresh inputs come decoded from the writer; older ones from the table.
        let inputs: Vec<Arc<Record>> = match store.recent_inputs(after + 1, upto) {
            Some(r) => r,
            None => events
                .range(after + 1..=upto)?
                .map(|row| Ok(Arc::new(codec::decode_record(row?.1.value())?)))
                .collect::<Result<_, StoreError>>()?,
        };
        for input in inputs {
            let id = input.event.ticket_id.as_str();
            let slot = match tickets.get_mut(id) {
                Some(slot) => slot,
                None => {
                    let t = match cache.take(id) {
                        Some(c) => {
                            if let Some((fp, rows)) = c.indexed {
                                indexed.insert(id.to_owned(), (Some(fp), rows));
                            }
                            Some(c.ticket)
                        }
                        None => {
                            // The index rows are read now, so the write
                            // transaction below only writes.
                            let rows = match data.get(tables::ticket_key(id, tables::INDEX))? {
                                Some(v) => codec::decode_named(v.value(), "clock index")
                                    .unwrap_or_default(),
                                None => Indexed::default(),
                            };
                            indexed.insert(id.to_owned(), (None, rows));
                            data.get(tables::ticket_key(id, tables::BODY))?
                                .map(|v| codec::decode_ticket(v.value()))
                                .transpose()?
                        }
                    };
                    tickets.entry(id.to_owned()).or_insert(t)
                }
            };
            // A lifecycle rejection here means the rules changed under stored
            // data (the writer checked before committing): keep the log intact,
            // leave the ticket as it was, and say so loudly.
            if let Some(t) = slot.as_ref()
                && let Err(rejection) =
                    escalier_core::reduce::check_transition(Some(t.status), &input.event)
            {
                tracing::error!(seq = input.seq, %rejection, "committed input no longer applies; skipped");
                metrics::counter!("escalier_inputs_skipped_total").increment(1);
                outputs.push((input, Vec::new()));
                continue;
            }
            let pinned = slot.as_ref().and_then(|t| t.policy_version.clone());
            let reactors = by_version
                .entry(pinned.clone())
                .or_insert_with(|| source.reactors(pinned.as_deref()));
            let guarded: Vec<Guarded<'_>> = reactors.iter().map(|r| Guarded(r.as_ref())).collect();
            let refs: Vec<&dyn Reactor> = guarded.iter().map(|g| g as &dyn Reactor).collect();
            match process(slot.take(), &input, &refs, limits, books) {
                Ok(p) => {
                    *slot = Some(p.ticket);
                    outputs.push((input, p.derived));
                }
                Err(rejection) => {
                    // Only reachable for a missing ticket (nothing to lose).
                    tracing::error!(seq = input.seq, %rejection, "committed input no longer applies; skipped");
                    metrics::counter!("escalier_inputs_skipped_total").increment(1);
                    outputs.push((input, Vec::new()));
                }
            }
        }
    }

    // Everything is encoded and every index change computed before the
    // write transaction: the ingest writer waits for redb's single write
    // lock while this one is open, so it holds nothing but inserts.
    let mut derived_rows: Vec<((u64, u32), Vec<u8>)> = Vec::new();
    let mut log_rows: Vec<(&str, u64, u32)> = Vec::new();
    let mut deliveries: Vec<((u64, &str), Vec<u8>)> = Vec::new();
    let mut delivery_rows: Vec<crate::outbox::DeliveryRow> = Vec::new();
    for (input, records) in &outputs {
        log_rows.push((input.event.ticket_id.as_str(), input.seq, 0));
        for r in records {
            derived_rows.push(((r.seq, r.index), codec::encode_record(r)));
            log_rows.push((r.event.ticket_id.as_str(), r.seq, r.index));
            let (request, id, due) = match &r.event.kind {
                escalier_core::EventKind::DeliveryRequested(d) => (
                    crate::outbox::OutboxRequest::Http(d.clone()),
                    d.delivery_id.as_str(),
                    r.recorded_at,
                ),
                // Held by quiet hours: due when the target's calendar opens.
                escalier_core::EventKind::NotificationRequested(n) => (
                    crate::outbox::OutboxRequest::Notification(n.clone()),
                    n.delivery_id.as_str(),
                    n.hold_until.map_or(r.recorded_at, |h| h.max(r.recorded_at)),
                ),
                _ => continue,
            };
            let entry = crate::outbox::OutboxEntry::new(r.event.ticket_id.as_str(), request);
            delivery_rows.push(crate::outbox::DeliveryRow::requested(&entry, r.recorded_at));
            deliveries.push((
                (due_ms(due), id),
                serde_json::to_vec(&entry).unwrap_or_default(),
            ));
        }
    }
    let mut ticket_rows: Vec<(&str, Vec<u8>)> = Vec::new();
    let mut index_moves: Vec<(&str, Indexed, Indexed)> = Vec::new();
    let mut after_index: HashMap<&str, (Fingerprint, Indexed)> = HashMap::new();
    for (id, t) in &tickets {
        let Some(t) = t else { continue };
        ticket_rows.push((id.as_str(), codec::encode_ticket(t)));
        let now = Fingerprint::of(t, books);
        let (fp, old) = indexed.remove(id).unwrap_or((None, Indexed::default()));
        let rows = if fp.as_ref() == Some(&now) {
            // Unchanged clock state: the index rows are still right.
            old
        } else {
            let new = plan_index(t, books);
            if new != old {
                index_moves.push((id.as_str(), old, new.clone()));
            }
            new
        };
        after_index.insert(id.as_str(), (now, rows));
    }
    let index_changed = index_moves.iter().any(|(_, old, new)| old.rows != new.rows);
    let new_deliveries = !deliveries.is_empty();

    let mut wtx = store.db().begin_write()?;
    wtx.set_durability(durability)
        .map_err(|e| StoreError::CommitFailed(e.to_string()))?;
    {
        let mut derived = wtx.open_table(tables::DERIVED)?;
        for (k, v) in &derived_rows {
            derived.insert(*k, v.as_slice())?;
        }
        let mut data = wtx.open_table(tables::TICKET_DATA)?;
        for (id, seq, index) in &log_rows {
            data.insert((*id, tables::LOG, *seq, *index), [].as_slice())?;
        }
        let mut outbox = wtx.open_table(tables::OUTBOX)?;
        for (k, v) in &deliveries {
            outbox.insert(*k, v.as_slice())?;
        }
        if !delivery_rows.is_empty() {
            let mut rows = wtx.open_table(tables::DELIVERIES)?;
            let mut index = wtx.open_table(tables::DELIVERY_INDEX)?;
            for row in &delivery_rows {
                // Already known (an entry processed again): keep its state.
                if rows.get(row.delivery_id.as_str())?.is_none() {
                    crate::outbox::put_delivery(&mut rows, &mut index, None, row)?;
                }
            }
        }
        for (id, bytes) in &ticket_rows {
            data.insert(tables::ticket_key(id, tables::BODY), bytes.as_slice())?;
        }
        let mut clocks = wtx.open_table(tables::CLOCKS)?;
        for (id, old, new) in &index_moves {
            apply_index(&mut clocks, &mut data, id, old, new)?;
        }
        let mut meta = wtx.open_table(tables::META)?;
        meta.insert(tables::META_PROCESSED, upto)?;
    }
    wtx.commit()?;
    store.index_changed(upto, books, tickets.values().flatten());
    let mut after_index: HashMap<String, (Fingerprint, Indexed)> = after_index
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    for (id, t) in tickets {
        if let Some(ticket) = t {
            let fp = after_index.remove(&id);
            cache.put(
                id,
                Cached {
                    ticket,
                    indexed: fp,
                },
            );
        }
    }
    if index_changed {
        store.alarm().ring();
    }
    if new_deliveries {
        store.outbox_bell().notify_one();
    }
    let derived: usize = outputs.iter().map(|(_, d)| d.len()).sum();
    metrics::counter!("escalier_records_derived_total").increment(derived as u64);
    Ok(())
}

/// The rows a ticket has in the clock index, and the books they were computed with.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Indexed {
    pub version: String,
    pub rows: Vec<(u64, String)>,
}

/// Milliseconds since the epoch, rounded up: a row is never due before its instant.
pub(crate) fn due_ms(at: escalier_core::Timestamp) -> u64 {
    let ns = at.as_nanosecond();
    let ms = ns.div_euclid(1_000_000) + i128::from(ns.rem_euclid(1_000_000) != 0);
    u64::try_from(ms).unwrap_or(0)
}

/// The rows a ticket should have in the clock index.
fn plan_index(ticket: &Ticket, books: &Books) -> Indexed {
    let mut rows: Vec<(u64, String)> = escalier_core::timers::deadlines(ticket, books)
        .into_iter()
        .map(|d| (due_ms(d.at), d.key))
        .collect();
    rows.sort();
    Indexed {
        version: books.version.clone(),
        rows,
    }
}

/// Move a ticket's rows in the clock index from `old` to `new`.
fn apply_index(
    clocks: &mut redb::Table<(u64, &'static str, &'static str), ()>,
    data: &mut TicketData<'_>,
    id: &str,
    old: &Indexed,
    new: &Indexed,
) -> Result<(), StoreError> {
    for (ms, key) in &old.rows {
        clocks.remove((*ms, id, key.as_str()))?;
    }
    for (ms, key) in &new.rows {
        clocks.insert((*ms, id, key.as_str()), ())?;
    }
    if new.rows.is_empty() && new.version.is_empty() {
        data.remove(tables::ticket_key(id, tables::INDEX))?;
    } else {
        data.insert(
            tables::ticket_key(id, tables::INDEX),
            codec::encode_named(new).as_slice(),
        )?;
    }
    Ok(())
}

/// The `ticket_data` table open for writing.
pub(crate) type TicketData<'t> = redb::Table<'t, (&'static str, u8, u64, u32), &'static [u8]>;

/// Replace a ticket's rows in the clock index with its current deadlines,
/// reading what the index holds now. Returns whether any row changed (the
/// scheduler may need to wake earlier).
pub(crate) fn reindex(
    clocks: &mut redb::Table<(u64, &'static str, &'static str), ()>,
    data: &mut TicketData<'_>,
    id: &str,
    ticket: &Ticket,
    books: &Books,
) -> Result<bool, StoreError> {
    let old: Indexed = match data.get(tables::ticket_key(id, tables::INDEX))? {
        Some(v) => codec::decode_named(v.value(), "clock index").unwrap_or_default(),
        None => Indexed::default(),
    };
    let new = plan_index(ticket, books);
    if old == new {
        return Ok(false);
    }
    apply_index(clocks, data, id, &old, &new)?;
    Ok(old.rows != new.rows)
}
