//! The processor: follows the log in order and turns each committed input
//! into derived records and ticket state, through
//! [`escalier_core::process::process`].
//!
//! Partitions: inputs are processed per partition ([`crate::partition_of`]
//! their ticket), in seq order, for the partitions whose lease this node
//! holds ([`crate::Backend::leases`], renewed every `renew`). An embedded
//! store has one partition, always held: the processor follows the
//! writer's watermark and takes fresh inputs from the recent-inputs cache.
//! On a shared database ([`crate::Backend::shared`], whatever its number
//! of partitions) it also polls the database's watermarks, as other nodes
//! write too.
//!
//! Exactly once: the derived records, the tickets they change and the
//! partition's cursor are written in one transaction
//! ([`crate::Backend::commit_chunk`]), refused if the lease moved on (the
//! partition is then dropped). After a crash the processor resumes after
//! the cursor; anything it had computed but not committed is computed
//! again from the same inputs.
//!
//! Durability (redb): processor transactions commit with `Durability::None`
//! (no fsync). They become durable with the writer's next durable commit,
//! or with the processor's own durable commit ([`crate::Backend::flush`])
//! once it has been idle for `flush_after`. A crash loses at most that
//! non-durable tail, which is recomputed from the durable inputs on
//! restart: processing is a pure function of the log, so nothing
//! acknowledged depends on it. This halves the fsyncs on the ingest path.
//!
//! Reactors are pulled from a [`ReactorSource`] once per chunk, so a
//! policy or plugin reload takes effect between chunks, never in the
//! middle of one input.

use std::collections::{BTreeMap, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::backend::{Backend, Chunk, DerivedRow, Held, Lease, Loaded, Node};
use crate::progress::Wait;
use crate::{Store, StoreError, codec, partition_of};
use escalier_core::Timestamp;
use escalier_core::process::{Limits, process};
use escalier_core::timers::Books;
use escalier_core::{Reactor, Record, Ticket};

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
    /// This node: leases on partitions are taken in its name.
    pub node: Node,
    /// How often the leases are renewed (and free ones taken).
    pub renew: Duration,
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
            node: Node {
                id: random_node_id(),
                addr: String::new(),
            },
            renew: Duration::from_secs(1),
        }
    }
}

/// A node id unique enough among live nodes: hashed from the time, the
/// process id and std's per-process random hasher keys.
pub fn random_node_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    h.write_u128(nanos);
    h.write_u32(std::process::id());
    format!("node-{:016x}", h.finish())
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
                let r = loop {
                    match run(&store, source.as_ref(), &cfg) {
                        // A shared database went away in a step that does
                        // not retry by itself (re-binding clocks): start
                        // over from the committed cursors once it is back.
                        // Nothing was half-written: every step is one
                        // transaction.
                        Err(e @ StoreError::Unavailable(_)) if !store.progress().is_closing() => {
                            tracing::warn!(error = %e, "the database is unavailable; processing starts over in a second");
                            std::thread::sleep(Duration::from_secs(1));
                        }
                        // A partition was taken over while its clocks were
                        // being re-bound (a long re-bind outlived the
                        // lease): that write was refused whole; take the
                        // leases anew and re-bind what is still stale.
                        Err(StoreError::LeaseLost { partition })
                            if !store.progress().is_closing() =>
                        {
                            tracing::warn!(partition, "a partition was taken over while its clocks were re-bound; processing starts over");
                        }
                        r => break r,
                    }
                };
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
    let mut run = Run {
        store,
        source,
        cfg,
        backend: store.backend().clone(),
        single: !store.backend().shared(),
        held: Vec::new(),
        renewed: Instant::now(),
        books: source.books(),
        cache: Cache::new(cfg.cache_tickets),
        unflushed: false,
        last_work: Instant::now(),
        polled: Instant::now(),
        started: false,
    };
    run.renew()?;
    let leases = run.leases();
    rebind_all(
        store,
        None,
        &run.books,
        store.progress().processed(),
        cfg.clock.now(),
        leases.as_deref().map(|l| run.under(l)),
    )?;
    run.started = true;
    let result = run.main_loop();
    if result.is_ok()
        && let Err(e) = run.backend.release(&cfg.node)
    {
        tracing::warn!(error = %e, "could not give back the partition leases; they expire");
    }
    result
}

/// The processor's state between steps.
struct Run<'a> {
    store: &'a Store,
    source: &'a dyn ReactorSource,
    cfg: &'a ProcessorConfig,
    backend: Arc<dyn Backend>,
    /// A store of this process alone (redb): one partition, always held;
    /// follow the writer's watermark.
    single: bool,
    held: Vec<Held>,
    renewed: Instant,
    books: Arc<Books>,
    cache: Cache,
    unflushed: bool,
    last_work: Instant,
    polled: Instant,
    /// The first leases' clocks are re-bound; later gains re-bind their own.
    started: bool,
}

/// How often a shared store is asked for its watermarks
/// (other nodes write too).
const POLL: Duration = Duration::from_millis(50);

impl Run<'_> {
    /// The held partitions, as the scheduler and outbox see them (`None`:
    /// a store of this process alone).
    fn partitions(&self) -> Option<Vec<u32>> {
        (!self.single).then(|| self.held.iter().map(|h| h.lease.partition).collect())
    }

    /// The held leases, which maintenance writes are fenced by (`None`: a
    /// store of this process alone).
    fn leases(&self) -> Option<Vec<Lease>> {
        (!self.single).then(|| self.held.iter().map(|h| h.lease).collect())
    }

    /// A re-bind under `leases`, renewing them as this processor does.
    fn under<'l>(&'l self, leases: &'l [Lease]) -> Under<'l> {
        Under {
            leases,
            node: &self.cfg.node,
            renew: self.cfg.renew,
        }
    }

    /// Renew the leases, take free ones; re-bind the clocks of partitions
    /// gained and forget cached tickets (another node may have changed them).
    fn renew(&mut self) -> Result<(), StoreError> {
        self.renewed = Instant::now();
        let now = match self.backend.leases(&self.cfg.node) {
            Ok(h) => h,
            Err(e @ (StoreError::Unavailable(_) | StoreError::Backend(_))) if !self.single => {
                tracing::warn!(error = %e, "could not renew the partition leases; retrying");
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let before: Vec<u32> = self.held.iter().map(|h| h.lease.partition).collect();
        let gained: Vec<u32> = now
            .iter()
            .map(|h| h.lease.partition)
            .filter(|p| !before.contains(p))
            .collect();
        let changed = gained.len() + before.len() != now.len() || !gained.is_empty();
        // Keep our own cursors for leases we still hold under the same epoch
        // (the database's may lag behind non-durable commits on redb).
        let mut next = Vec::with_capacity(now.len());
        for h in now {
            match self.held.iter().find(|o| o.lease == h.lease) {
                Some(o) => next.push(Held {
                    lease: h.lease,
                    cursor: o.cursor.max(h.cursor),
                }),
                None => next.push(h),
            }
        }
        self.held = next;
        if changed && !self.single {
            self.cache.clear();
            self.store.set_held_partitions(self.partitions());
            tracing::info!(partitions = ?self.partitions(), "partition leases changed");
            if !gained.is_empty() && self.started {
                let gained: Vec<Lease> = self
                    .held
                    .iter()
                    .map(|h| h.lease)
                    .filter(|l| gained.contains(&l.partition))
                    .collect();
                rebind_all(
                    self.store,
                    None,
                    &self.books,
                    self.store.progress().processed(),
                    self.cfg.clock.now(),
                    Some(self.under(&gained)),
                )?;
            }
        }
        Ok(())
    }

    fn main_loop(&mut self) -> Result<(), StoreError> {
        loop {
            if self.renewed.elapsed() >= self.cfg.renew {
                self.renew()?;
            }
            let latest = self.source.books();
            if latest.version != self.books.version {
                let leases = self.leases();
                rebind_all(
                    self.store,
                    Some(&self.books),
                    &latest,
                    self.store.progress().processed(),
                    self.cfg.clock.now(),
                    leases.as_deref().map(|l| self.under(l)),
                )?;
                self.cache.clear();
                self.books = latest;
                self.unflushed = true;
            }
            let stop = if self.single && self.held.len() == 1 {
                self.step_single()?
            } else {
                self.step_shared()?
            };
            if stop {
                if self.unflushed {
                    self.backend.flush()?;
                }
                return Ok(());
            }
        }
    }

    /// One partition: wait for the writer, gather, process a chunk.
    /// Returns whether to stop.
    fn step_single(&mut self) -> Result<bool, StoreError> {
        let cfg = self.cfg;
        let progress = self.store.progress();
        let cursor = self.held[0].cursor;
        match progress.wait_committed_beyond(cursor, cfg.flush_after) {
            Wait::Committed(mut committed) => {
                let gather_until = Instant::now() + cfg.gather;
                while committed - cursor < cfg.gather_min as u64 {
                    let left = gather_until.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    match progress.wait_committed_beyond(cursor + cfg.gather_min as u64 - 1, left) {
                        Wait::Committed(c) => committed = c,
                        Wait::TimedOut => committed = progress.committed(),
                        Wait::Closed => break,
                    }
                }
                let upto = committed.min(cursor + cfg.chunk as u64);
                let started = Instant::now();
                // Fresh inputs come decoded from the writer; older ones from the backend.
                let inputs = match self.store.recent_inputs(cursor + 1, upto) {
                    Some(r) => r,
                    None => self.backend.inputs(
                        self.held[0].lease.partition,
                        cursor,
                        usize::try_from(upto - cursor).unwrap_or(cfg.chunk),
                    )?,
                };
                let Some(upto) = inputs.last().map(|r| r.seq) else {
                    return Ok(false);
                };
                let lease = self.held[0].lease;
                match self.process(inputs, lease, upto) {
                    Ok(()) => {}
                    Err(StoreError::LeaseLost { .. }) => {
                        self.lost(0);
                        return Ok(false);
                    }
                    Err(e) => return Err(e),
                }
                self.held[0].cursor = upto;
                progress.set_processed(upto);
                metrics::histogram!("escalier_process_chunk_seconds")
                    .record(started.elapsed().as_secs_f64());
                metrics::gauge!("escalier_processor_lag")
                    .set(progress.committed().saturating_sub(upto) as f64);
                Ok(false)
            }
            Wait::TimedOut if self.unflushed => {
                self.backend.flush()?;
                self.unflushed = false;
                Ok(false)
            }
            Wait::TimedOut => Ok(false),
            Wait::Closed => Ok(true),
        }
    }

    /// Several partitions (other nodes write and process too): one chunk
    /// of each held partition that has inputs after its cursor; when none
    /// has, wait for a local commit or the next poll. Returns whether to stop.
    fn step_shared(&mut self) -> Result<bool, StoreError> {
        let progress = self.store.progress().clone();
        if self.polled.elapsed() >= POLL {
            self.polled = Instant::now();
            match self.backend.marks() {
                Ok(m) => {
                    progress.set_committed(m.committed);
                    progress.set_processed(m.processed);
                    metrics::gauge!("escalier_processor_lag")
                        .set(m.committed.saturating_sub(m.processed) as f64);
                }
                Err(e) => tracing::warn!(error = %e, "could not read the store's watermarks"),
            }
        }
        if self.pass()? {
            return Ok(false);
        }
        if self.unflushed && self.last_work.elapsed() >= self.cfg.flush_after {
            self.backend.flush()?;
            self.unflushed = false;
        }
        let seen = progress.committed();
        let left = self
            .cfg
            .renew
            .saturating_sub(self.renewed.elapsed())
            .min(POLL.saturating_sub(self.polled.elapsed()))
            .max(Duration::from_millis(1));
        if let Wait::Closed = progress.wait_committed_beyond(seen, left) {
            // Drain what this node holds, then stop.
            while self.pass()? {}
            if let Ok(m) = self.backend.marks() {
                progress.set_processed(m.processed);
            }
            return Ok(true);
        }
        Ok(false)
    }

    /// One chunk of every held partition with inputs after its cursor.
    /// Returns whether anything was processed.
    fn pass(&mut self) -> Result<bool, StoreError> {
        let mut worked = false;
        let mut i = 0;
        while i < self.held.len() {
            let h = self.held[i];
            let inputs = match self
                .backend
                .inputs(h.lease.partition, h.cursor, self.cfg.chunk)
            {
                Ok(v) => v,
                Err(e @ StoreError::Unavailable(_)) => {
                    tracing::warn!(error = %e, "could not read inputs; retrying");
                    return Ok(worked);
                }
                Err(e) => return Err(e),
            };
            let Some(upto) = inputs.last().map(|r| r.seq) else {
                i += 1;
                continue;
            };
            let started = Instant::now();
            match self.process(inputs, h.lease, upto) {
                Ok(()) => {
                    self.held[i].cursor = upto;
                    worked = true;
                    metrics::histogram!("escalier_process_chunk_seconds")
                        .record(started.elapsed().as_secs_f64());
                    i += 1;
                }
                Err(StoreError::LeaseLost { .. }) => self.lost(i),
                Err(e @ StoreError::Unavailable(_)) => {
                    tracing::warn!(error = %e, "could not commit a chunk; retrying");
                    return Ok(worked);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(worked)
    }

    fn process(
        &mut self,
        inputs: Vec<Arc<Record>>,
        lease: Lease,
        upto: u64,
    ) -> Result<(), StoreError> {
        process_range(
            self.store,
            self.source,
            &self.books,
            &self.cfg.limits,
            inputs,
            Some((lease, upto)),
            false,
            &mut self.cache,
        )?;
        self.unflushed = true;
        self.last_work = Instant::now();
        Ok(())
    }

    /// The lease of `held[i]` moved on: stop processing that partition.
    fn lost(&mut self, i: usize) {
        let h = self.held.remove(i);
        tracing::warn!(
            partition = h.lease.partition,
            "lost the lease of a partition; another node processes it now"
        );
        metrics::counter!("escalier_leases_lost_total").increment(1);
        self.cache.clear();
        self.store.set_held_partitions(self.partitions());
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
    under: Option<Under<'_>>,
) -> Result<(), StoreError> {
    let leases = under.as_ref().map(|u| u.leases);
    let partitions: Option<Vec<u32>> = leases.map(|ls| ls.iter().map(|l| l.partition).collect());
    let partitions = partitions.as_deref();
    // The version every ticket's index was last brought to: when it is
    // this one, there is nothing to scan (a restart with the same files).
    // Kept for stores of one process, where one processor indexes all.
    const INDEXED_WITH: &str = "books-indexed";
    let backend = store.backend();
    if partitions.is_none()
        && backend
            .version(INDEXED_WITH)?
            .is_some_and(|v| v == new.version.as_bytes())
    {
        return Ok(());
    }
    let stale = backend.stale_tickets(&new.version, partitions)?;
    if stale.is_empty() {
        if partitions.is_none() {
            backend.put_version(INDEXED_WITH, new.version.as_bytes())?;
        }
        return Ok(());
    }
    let started = Instant::now();
    let from = old
        .map(|b| b.version.clone())
        .unwrap_or_else(|| stale[0].1.clone());
    let mut renewed = Instant::now();
    for batch in stale.chunks(1000) {
        if let Some(u) = &under
            && renewed.elapsed() >= u.renew
        {
            // Keep the leases and this node's heartbeat alive through a
            // long re-bind (the fence still refuses a write under a lease
            // that moved on); what the renewal gained or gave back shows
            // at the processor's next renewal.
            renewed = Instant::now();
            if let Err(e) = backend.leases(u.node) {
                tracing::warn!(error = %e, "could not renew the partition leases during a re-bind; retrying");
            }
        }
        let ids: Vec<&str> = batch.iter().map(|(id, _)| id.as_str()).collect();
        let mut loaded = backend.load_tickets(&ids)?;
        let mut rebound = Vec::with_capacity(batch.len());
        let mut chunk = Chunk::default();
        if let Some(leases) = leases {
            // Written under the leases of the partitions it touches.
            let count = backend.partitions();
            let touched: Vec<u32> = ids.iter().map(|id| partition_of(id, count)).collect();
            chunk.fence = leases
                .iter()
                .filter(|l| touched.contains(&l.partition))
                .copied()
                .collect();
        }
        for id in ids {
            let Some(Loaded {
                ticket: Some(mut t),
                indexed,
            }) = loaded.remove(id)
            else {
                continue;
            };
            escalier_core::timers::rebind(&mut t, old.unwrap_or(new), new, now);
            chunk
                .tickets
                .push((id.to_owned(), codec::encode_ticket(&t)));
            let plan = plan_index(&t, new);
            if plan != indexed {
                chunk.index_moves.push((id.to_owned(), indexed, plan));
            }
            rebound.push(t);
        }
        backend.commit_chunk(&chunk)?;
        store.index_changed(at_seq, new, rebound.iter());
    }
    let change = serde_json::json!({
        "kind": "books",
        "from": from,
        "to": new.version,
        "after_seq": at_seq,
        "at": now,
        "tickets": stale.len(),
        "old_books_known": old.is_some(),
    });
    backend.put_version(
        &format!("books-change:{at_seq:020}"),
        change.to_string().as_bytes(),
    )?;
    if partitions.is_none() {
        backend.put_version(INDEXED_WITH, new.version.as_bytes())?;
    }
    store.alarm().ring();
    tracing::info!(from, to = %new.version, tickets = stale.len(), took = ?started.elapsed(), "SLA and ladder files changed; clocks re-bound");
    Ok(())
}

/// The leases a re-bind on a shared store writes under, and what keeps
/// them alive while it runs.
struct Under<'a> {
    leases: &'a [Lease],
    node: &'a Node,
    renew: Duration,
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

/// Process `inputs` (in seq order) and commit the result with `cursor`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn process_range(
    store: &Store,
    source: &dyn ReactorSource,
    books: &Books,
    limits: &Limits,
    inputs: Vec<Arc<Record>>,
    cursor: Option<(Lease, u64)>,
    durable: bool,
    cache: &mut Cache,
) -> Result<(), StoreError> {
    // Reactors per pinned version, resolved once per chunk.
    let mut by_version: HashMap<Option<String>, Vec<Arc<dyn Reactor + Send + Sync>>> =
        HashMap::new();
    let mut tickets: HashMap<String, Option<Ticket>> = HashMap::new();
    // Each ticket's index rows, and the clock state they were computed from
    // (known for cached tickets only).
    let mut indexed: HashMap<String, (Option<Fingerprint>, Indexed)> = HashMap::new();
    let mut outputs: Vec<(Arc<Record>, Vec<Record>)> = Vec::with_capacity(inputs.len());
    {
        // Tickets not cached are read in one go, with their index rows, so
        // the write below only writes.
        let mut missing: Vec<&str> = Vec::new();
        for input in &inputs {
            let id = input.event.ticket_id.as_str();
            if tickets.contains_key(id) {
                continue;
            }
            match cache.take(id) {
                Some(c) => {
                    if let Some((fp, rows)) = c.indexed {
                        indexed.insert(id.to_owned(), (Some(fp), rows));
                    }
                    tickets.insert(id.to_owned(), Some(c.ticket));
                }
                None => {
                    tickets.insert(id.to_owned(), None);
                    missing.push(id);
                }
            }
        }
        if !missing.is_empty() {
            for (id, loaded) in store.backend().load_tickets(&missing)? {
                indexed.insert(id.clone(), (None, loaded.indexed));
                tickets.insert(id, loaded.ticket);
            }
        }
    }
    for input in inputs {
        let Some(slot) = tickets.get_mut(input.event.ticket_id.as_str()) else {
            continue;
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

    // Everything is encoded and every index change computed before the
    // commit: on redb the ingest writer waits for the single write lock
    // while it is open, so it holds nothing but inserts.
    let mut chunk = Chunk {
        cursor,
        durable,
        ..Chunk::default()
    };
    chunk.inputs.reserve(outputs.len());
    for (input, records) in &outputs {
        chunk
            .inputs
            .push((input.seq, input.event.ticket_id.as_str().to_owned()));
        for r in records {
            chunk.derived.push(DerivedRow {
                seq: r.seq,
                index: r.index,
                ticket_id: r.event.ticket_id.as_str().to_owned(),
                bytes: codec::encode_record(r),
            });
            let (request, due) = match &r.event.kind {
                escalier_core::EventKind::DeliveryRequested(d) => {
                    (crate::outbox::OutboxRequest::Http(d.clone()), r.recorded_at)
                }
                // Held by quiet hours: due when the target's calendar opens.
                escalier_core::EventKind::NotificationRequested(n) => (
                    crate::outbox::OutboxRequest::Notification(n.clone()),
                    n.hold_until.map_or(r.recorded_at, |h| h.max(r.recorded_at)),
                ),
                _ => continue,
            };
            let entry = crate::outbox::OutboxEntry::new(r.event.ticket_id.as_str(), request);
            let row = crate::outbox::DeliveryRow::requested(&entry, r.recorded_at);
            chunk.outbox.push((due_ms(due), entry, row));
        }
    }
    let mut after_index: HashMap<&str, (Fingerprint, Indexed)> = HashMap::new();
    for (id, t) in &tickets {
        let Some(t) = t else { continue };
        chunk.tickets.push((id.clone(), codec::encode_ticket(t)));
        let now = Fingerprint::of(t, books);
        let (fp, old) = indexed.remove(id).unwrap_or((None, Indexed::default()));
        let rows = if fp.as_ref() == Some(&now) {
            // Unchanged clock state: the index rows are still right.
            old
        } else {
            let new = plan_index(t, books);
            if new != old {
                chunk.index_moves.push((id.clone(), old, new.clone()));
            }
            new
        };
        after_index.insert(id.as_str(), (now, rows));
    }
    let index_changed = chunk
        .index_moves
        .iter()
        .any(|(_, old, new)| old.rows != new.rows);
    let new_deliveries = !chunk.outbox.is_empty();

    store.backend().commit_chunk(&chunk)?;
    drop(chunk);
    let upto = cursor.map_or(0, |(_, upto)| upto);
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
pub(crate) fn plan_index(ticket: &Ticket, books: &Books) -> Indexed {
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
