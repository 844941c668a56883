//! An in-memory index of every ticket: a [`Summary`] each (what the
//! queue filters and sorts on, and the [`Facts`] the statistics need),
//! so the console's queue and `GET /v1/stats` answer without reading a
//! million tickets.
//!
//! Built once at start from a read snapshot (in a background thread;
//! until it is ready, callers read the store as before), then kept up to
//! date by the processor: after each commit it hands the index the
//! tickets that commit changed ([`Store::index_changed`]). The processor
//! never waits for the index: when a reader holds it, the summaries wait
//! in a queue that the next writer or reader applies, in commit order.
//! Updates from commits the snapshot already holds are skipped (each
//! carries the processed seq of its commit), and so is an update older
//! than the one a ticket already has.
//!
//! With several nodes on one database ([`crate::Backend::tickets_changed`]
//! answers), this node's processor sees only the partitions it holds: a
//! thread reads the tickets the other nodes changed every half second and
//! applies them the same way, so every node's index holds every ticket.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use escalier_core::sla::ClockState;
use escalier_core::stats::Facts;
use escalier_core::timers::Books;
use escalier_core::{Priority, Status, Ticket, Timestamp};

use crate::{Store, StoreError};

/// Where a ticket's SLA stands (as the queue shows it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SlaState {
    /// A clock ran past its target.
    Breached,
    /// A clock is counting towards a target.
    Running,
    /// Every open clock is paused.
    Paused,
    /// No clock with a target.
    None,
}

/// One ticket in the index.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub id: Box<str>,
    pub status: Status,
    pub priority: Priority,
    pub updated_at: Timestamp,
    pub sla: SlaState,
    /// The soonest instant a running clock breaches.
    pub next_breach: Option<Timestamp>,
    pub facts: Facts,
}

impl Summary {
    /// The summary of `t` under the SLA and ladder files `books`.
    pub fn of(t: &Ticket, books: &Books) -> Summary {
        // A clock's due instant does not depend on the instant of the
        // view (only its elapsed time does), so any instant will do.
        let mut sla = SlaState::None;
        let mut next_breach: Option<Timestamp> = None;
        for c in t.clocks.view(&books.sla, t.updated_at) {
            if !(matches!(c.state, ClockState::Running | ClockState::Paused) && c.target.is_some())
            {
                continue;
            }
            if c.breached {
                sla = SlaState::Breached;
            } else if c.state == ClockState::Running && sla != SlaState::Breached {
                sla = SlaState::Running;
            } else if sla == SlaState::None {
                sla = SlaState::Paused;
            }
            if c.state == ClockState::Running
                && let Some(due) = c.due
            {
                next_breach = Some(next_breach.map_or(due, |n| n.min(due)));
            }
        }
        Summary {
            id: t.id.as_str().into(),
            status: t.status,
            priority: t.priority,
            updated_at: t.updated_at,
            sla,
            next_breach,
            facts: Facts::of(t),
        }
    }

    /// Not solved or closed.
    pub fn is_open(&self) -> bool {
        !matches!(self.status, Status::Solved | Status::Closed)
    }
}

/// The summaries, one slot per ticket.
#[derive(Default)]
pub struct Slots {
    slots: Vec<Summary>,
    /// The seq of the commit each slot's summary comes from.
    at: Vec<u64>,
    by_id: HashMap<Box<str>, u32>,
    /// Channel, team and SLA names, shared between summaries.
    names: HashSet<Arc<str>>,
    /// The processed seq the snapshot the index was built from holds.
    built_at: u64,
}

impl Slots {
    pub fn all(&self) -> &[Summary] {
        &self.slots
    }

    pub fn get(&self, id: &str) -> Option<&Summary> {
        self.by_id.get(id).map(|i| &self.slots[*i as usize])
    }

    fn intern(names: &mut HashSet<Arc<str>>, s: &mut Arc<str>) {
        match names.get(&**s) {
            Some(known) => *s = known.clone(),
            None => {
                names.insert(s.clone());
            }
        }
    }

    fn put(&mut self, mut s: Summary, seq: u64) {
        // An older state of the ticket than the one held (another node's
        // change read back after this node's own newer one) is dropped.
        if let Some(i) = self.by_id.get(&s.id)
            && self.at.get(*i as usize).is_some_and(|held| *held > seq)
        {
            return;
        }
        Self::intern(&mut self.names, &mut s.facts.channel);
        if let Some(t) = s.facts.team.as_mut() {
            Self::intern(&mut self.names, t);
        }
        if let Some(p) = s.facts.sla.as_mut() {
            Self::intern(&mut self.names, p);
        }
        match self.by_id.get(&s.id) {
            Some(i) => {
                self.slots[*i as usize] = s;
                self.at[*i as usize] = seq;
            }
            None => {
                let i = u32::try_from(self.slots.len()).unwrap_or(u32::MAX);
                self.by_id.insert(s.id.clone(), i);
                self.slots.push(s);
                self.at.push(seq);
            }
        }
    }

    fn apply(&mut self, batch: Vec<(u64, Vec<Summary>)>) {
        for (seq, summaries) in batch {
            // The snapshot holds every commit before `built_at`; the ones
            // at it are applied again (they equal it, or are re-bindings
            // after it, which must win).
            if seq < self.built_at {
                continue;
            }
            for s in summaries {
                self.put(s, seq);
            }
        }
    }
}

/// The index: see the module documentation.
#[derive(Default)]
pub struct TicketIndex {
    slots: RwLock<Slots>,
    /// The SLA and ladder files summaries are made with: those the
    /// processor last used.
    books: RwLock<Option<Arc<Books>>>,
    pending: Mutex<Vec<(u64, Vec<Summary>)>>,
    ready: AtomicBool,
}

impl TicketIndex {
    /// Whether the start-up build has finished (before, readers get `None`).
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Tickets in the index (0 while building).
    pub fn len(&self) -> usize {
        self.read(|s| s.slots.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Summaries of the tickets a commit up to `seq` changed.
    fn push(&self, seq: u64, batch: Vec<Summary>) {
        if batch.is_empty() {
            return;
        }
        if self.is_ready()
            && let Ok(mut slots) = self.slots.try_write()
        {
            let mut waiting = std::mem::take(&mut *self.lock_pending());
            waiting.push((seq, batch));
            slots.apply(waiting);
            return;
        }
        self.lock_pending().push((seq, batch));
    }

    fn lock_pending(&self) -> std::sync::MutexGuard<'_, Vec<(u64, Vec<Summary>)>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Read the summaries, once the index is ready: first applies what
    /// waits, so a reader sees at least every commit finished before it
    /// was called.
    pub fn read<R>(&self, f: impl FnOnce(&Slots) -> R) -> Option<R> {
        if !self.is_ready() {
            return None;
        }
        if !self.lock_pending().is_empty() {
            let mut slots = self.slots.write().unwrap_or_else(|p| p.into_inner());
            let waiting = std::mem::take(&mut *self.lock_pending());
            slots.apply(waiting);
        }
        let slots = self.slots.read().unwrap_or_else(|p| p.into_inner());
        Some(f(&slots))
    }

    /// Fill the index from a read snapshot of `store`, then mark it ready.
    fn build(&self, store: &Store, books: &Books) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        // Updates from commits up to this mark are skipped; tickets read
        // below may already be newer, and later updates bring them on.
        let built_at = store.backend().marks()?.processed;
        let mut fresh = Slots {
            built_at,
            ..Slots::default()
        };
        let mut last: Option<String> = None;
        loop {
            let page = store.backend().tickets_after(last.as_deref(), 1024)?;
            let full = page.len() == 1024;
            for (id, t) in page {
                fresh.put(Summary::of(&t, books), built_at);
                last = Some(id);
            }
            if !full {
                break;
            }
        }
        let n = fresh.slots.len();
        {
            let mut slots = self.slots.write().unwrap_or_else(|p| p.into_inner());
            *slots = fresh;
            let waiting = std::mem::take(&mut *self.lock_pending());
            slots.apply(waiting);
            self.ready.store(true, Ordering::Release);
        }
        tracing::info!(tickets = n, took = ?started.elapsed(), "ticket index built");
        if let Some(ix) = store.index.get()
            && store.backend().shared()
        {
            spawn_follower(store.clone(), ix.clone(), built_at);
        }
        metrics::gauge!("escalier_ticket_index_build_seconds").set(started.elapsed().as_secs_f64());
        Ok(())
    }
}

impl TicketIndex {
    fn books(&self) -> Option<Arc<Books>> {
        self.books.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set_books(&self, books: &Books) {
        let mut held = self.books.write().unwrap_or_else(|p| p.into_inner());
        if held.as_ref().is_none_or(|b| b.version != books.version) {
            *held = Some(Arc::new(books.clone()));
        }
    }
}

/// Follow the tickets other nodes change (several nodes on one database),
/// from watermark `from` (the build's), until the store closes.
fn spawn_follower(store: Store, index: Arc<TicketIndex>, from: u64) {
    let spawned = std::thread::Builder::new()
        .name("escalier-index-follow".into())
        .spawn(move || {
            let mut mark = from;
            while !store.progress().is_closing() {
                match store.backend().tickets_changed(mark, 1000) {
                    Ok((changed, next)) => {
                        if let Some(books) = index.books() {
                            for (seq, t) in &changed {
                                index.push(*seq, vec![Summary::of(t, &books)]);
                            }
                        }
                        mark = next;
                        if changed.len() >= 1000 {
                            continue;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot read the tickets other nodes changed; retrying");
                    }
                }
                std::thread::sleep(std::time::Duration::from_millis(500));
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the index follower thread");
    }
}

impl Store {
    /// The ticket index, once [`Store::start_index`] was called.
    pub fn index(&self) -> Option<&Arc<TicketIndex>> {
        self.index.get()
    }

    /// Start keeping the ticket index: from now on the processor feeds
    /// it, and a background thread builds it from a snapshot (`books`:
    /// the SLA and ladder files, for the clocks' due instants). Once per
    /// store; later calls return the same index.
    pub fn start_index(&self, books: Arc<Books>) -> Arc<TicketIndex> {
        let mut started = false;
        let ix = self
            .index
            .get_or_init(|| {
                started = true;
                Arc::new(TicketIndex::default())
            })
            .clone();
        if started {
            ix.set_books(&books);
            let store = self.clone();
            let index = ix.clone();
            let spawned = std::thread::Builder::new()
                .name("escalier-index".into())
                .spawn(move || {
                    if let Err(e) = index.build(&store, &books) {
                        tracing::error!(error = %e, "the ticket index could not be built; the queue and statistics read the store");
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start the index thread");
            }
        }
        ix
    }

    /// Build the index on this thread (tests, tools): as
    /// [`Store::start_index`], but returns once it is ready.
    pub fn build_index(&self, books: &Books) -> Result<Arc<TicketIndex>, StoreError> {
        let mut fresh = false;
        let ix = self
            .index
            .get_or_init(|| {
                fresh = true;
                Arc::new(TicketIndex::default())
            })
            .clone();
        if fresh {
            ix.set_books(books);
            ix.build(self, books)?;
        }
        Ok(ix)
    }

    /// The processor committed `tickets` with everything up to `seq`.
    pub(crate) fn index_changed<'a>(
        &self,
        seq: u64,
        books: &Books,
        tickets: impl Iterator<Item = &'a Ticket>,
    ) {
        if let Some(ix) = self.index.get() {
            ix.set_books(books);
            ix.push(seq, tickets.map(|t| Summary::of(t, books)).collect());
        }
    }
}
