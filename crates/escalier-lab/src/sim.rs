//! The simulator: Escalier's processing pipeline in memory, driven by a
//! simulated clock. The engine behind `escalier test` and `escalier replay`.
//!
//! What the live server spreads over a writer, a processor and a scheduler
//! happens here in one call, in the same order and through the same pure
//! step, [`escalier_core::process::process`]:
//!
//! - an input is refused exactly when the writer would refuse it
//!   (`reduce::check_transition`; an approval decision for an approval the
//!   ticket does not have, as the API refuses it);
//! - before an input at time `t`, every deadline due **strictly before**
//!   `t` is fired by a `clock.due` tick (source `scheduler`) recorded at
//!   exactly its due instant, in due order. A deadline due exactly at `t`
//!   fires after the input: an event at the very instant of a deadline is
//!   applied first, as `docs/sla.md` ("Ties") promises;
//! - [`Simulator::advance_to`] fires everything due up to and including
//!   the instant given.
//!
//! Nothing sleeps, reads the system clock or does I/O, so a run is a pure
//! function of its inputs. The simulator runs the reactors it is given:
//! policies, and for a replay with plugins, the plugin host's reactor.
//!
//! Invariants:
//! - time never goes backwards: an input given an earlier time than the
//!   simulator's current time is processed at the current time (counted in
//!   [`Counters::clamped`]);
//! - the deadline queue holds exactly `timers::deadlines` of every ticket
//!   after its last record, minus deadlines already ticked (a tick that
//!   fires nothing is not retried until the ticket's next input, so a
//!   refused deadline cannot loop).

use std::collections::{BTreeSet, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use escalier_core::event::{ClockDue, EventKind};
use escalier_core::process::{Limits, process};
use escalier_core::timers::{self, Books, Due};
use escalier_core::{
    Event, EventId, Reaction, Reactor, Record, Rejection, Source, Ticket, Timestamp, reduce,
};
use escalier_policy::PolicySet;
use jiff::SignedDuration;

/// A reactor the simulator can share with other threads (one per shard).
pub type SharedReactor = Arc<dyn Reactor + Send + Sync>;

/// What one [`Simulator::submit`] produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Submitted {
    /// Ticks for deadlines that came due before the input, with what they
    /// caused, then the input and its derived records (nothing of the input
    /// if it was refused). In log order.
    pub records: Vec<Record>,
    /// The input's seq, if it was accepted.
    pub seq: Option<u64>,
    /// Why the input was refused (as the writer or the API would refuse it).
    pub refused: Option<Rejection>,
}

/// Running totals, for reports and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counters {
    /// Inputs accepted (ticks not included).
    pub inputs: u64,
    /// Inputs refused.
    pub refused: u64,
    /// `clock.due` ticks recorded.
    pub ticks: u64,
    /// Derived records produced (for inputs and ticks).
    pub derived: u64,
    /// Inputs given a time earlier than the simulated clock, processed at
    /// the clock's time instead.
    pub clamped: u64,
}

/// One ticket and its rows in the deadline queue.
struct Slot {
    /// `None` only while `process` holds it, or if processing ever failed
    /// after `check_transition` passed (unreachable: see `input`).
    ticket: Option<Ticket>,
    id: escalier_core::TicketId,
    rows: Vec<Due>,
    /// Deadlines ticked since the ticket's last input; never queued again.
    spent: Vec<Due>,
}

/// The in-memory pipeline. See the module documentation for its rules.
pub struct Simulator {
    reactors: Vec<Guarded>,
    books: Arc<Books>,
    limits: Limits,
    slots: Vec<Slot>,
    ids: HashMap<String, u32>,
    /// (due, slot, key): the scheduler's index.
    queue: BTreeSet<(Timestamp, u32, Box<str>)>,
    now: Timestamp,
    next_seq: u64,
    seq_stride: u64,
    /// The seq the next input gets instead of `next_seq` (a replay keeps
    /// the recorded positions).
    next_input_seq: Option<u64>,
    /// Seqs for ticks, by (ticket, key, due): what the recorded scheduler
    /// gave them.
    tick_seqs: HashMap<(String, Box<str>, Timestamp), u64>,
    log: Option<Vec<Record>>,
    counters: Counters,
}

impl Simulator {
    /// A simulator running `reactors` in order, with the SLA policies and
    /// ladders of `books`. Starts at the Unix epoch with an empty log; call
    /// [`Simulator::start_at`] first to start elsewhere.
    pub fn new(reactors: Vec<SharedReactor>, books: Arc<Books>, limits: Limits) -> Simulator {
        Simulator {
            reactors: reactors.into_iter().map(Guarded).collect(),
            books,
            limits,
            slots: Vec::new(),
            ids: HashMap::new(),
            queue: BTreeSet::new(),
            now: Timestamp::UNIX_EPOCH,
            next_seq: 1,
            seq_stride: 1,
            next_input_seq: None,
            tick_seqs: HashMap::new(),
            log: Some(Vec::new()),
            counters: Counters::default(),
        }
    }

    /// A simulator running one policy set, with the SLA policies and
    /// ladders loaded beside it (`sla.toml`, `ladders.toml`).
    pub fn with_policies(set: Arc<PolicySet>, limits: Limits) -> Simulator {
        let books = Arc::clone(set.books());
        Simulator::new(vec![set], books, limits)
    }

    /// Set the clock. Only moves forward.
    pub fn start_at(&mut self, at: Timestamp) -> &mut Self {
        self.now = self.now.max(at);
        self
    }

    /// Number inputs and ticks `first`, `first + stride`, ... (several
    /// simulators sharding one log by ticket keep their seqs apart).
    pub fn with_seqs(&mut self, first: u64, stride: u64) -> &mut Self {
        self.next_seq = first.max(1);
        self.seq_stride = stride.max(1);
        self
    }

    /// Number the next input `seq` rather than the next number in turn
    /// (for that input only, accepted or refused). A replay keeps the
    /// recorded positions this way: they are in derived event ids,
    /// approval and delivery ids, and seed plugins' randomness. The caller
    /// keeps them apart from the numbers ticks take ([`Simulator::with_seqs`]).
    pub fn number_next_input(&mut self, seq: u64) -> &mut Self {
        self.next_input_seq = Some(seq);
        self
    }

    /// Number the tick for `ticket`'s deadline `key` due at `due` `seq`,
    /// if it fires later (a replay gives the recorded scheduler's numbers;
    /// ticks without one take the next number in turn).
    pub fn number_tick(&mut self, ticket: &str, key: &str, due: Timestamp, seq: u64) -> &mut Self {
        self.tick_seqs
            .insert((ticket.to_owned(), key.into(), due), seq);
        self
    }

    /// Keep every record produced in [`Simulator::log`] (the default), or
    /// not (long replays consume what each call returns instead).
    pub fn keep_log(&mut self, keep: bool) -> &mut Self {
        self.log = keep.then(Vec::new);
        self
    }

    /// The simulated time: the last input's or tick's, or the last
    /// [`Simulator::advance_to`].
    pub fn now(&self) -> Timestamp {
        self.now
    }

    pub fn books(&self) -> &Arc<Books> {
        &self.books
    }

    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Every record produced so far, in log order (empty if
    /// [`Simulator::keep_log`] was turned off).
    pub fn log(&self) -> &[Record] {
        self.log.as_deref().unwrap_or_default()
    }

    pub fn ticket(&self, id: &str) -> Option<&Ticket> {
        self.ids
            .get(id)
            .and_then(|&i| self.slots[i as usize].ticket.as_ref())
    }

    /// Every ticket, in order of creation.
    pub fn tickets(&self) -> impl Iterator<Item = &Ticket> {
        self.slots.iter().filter_map(|s| s.ticket.as_ref())
    }

    /// The earliest pending deadline: (due, ticket, key).
    pub fn next_deadline(&self) -> Option<(Timestamp, &str, &str)> {
        self.queue
            .first()
            .map(|(at, slot, key)| (*at, self.slots[*slot as usize].id.as_str(), &**key))
    }

    /// Put a ticket in as it is (a replay window starting from recorded
    /// state), replacing any of the same id, and queue its deadlines.
    pub fn insert_ticket(&mut self, ticket: Ticket) {
        let slot = match self.ids.get(ticket.id.as_str()) {
            Some(&i) => {
                self.slots[i as usize].ticket = Some(ticket);
                self.slots[i as usize].spent.clear();
                i
            }
            None => self.intern(ticket),
        };
        self.reindex(slot);
    }

    /// Fire what is due before `at`, then process `event` as an input
    /// recorded at `at` with `source`. See [`Simulator::submit_into`].
    pub fn submit(&mut self, event: Event, source: Source, at: Timestamp) -> Submitted {
        let mut records = Vec::new();
        let (seq, refused) = match self.submit_into(event, source, at, &mut records) {
            Ok(seq) => (Some(seq), None),
            Err(r) => (None, Some(r)),
        };
        Submitted {
            records,
            seq,
            refused,
        }
    }

    /// [`Simulator::submit`] appending to `out`: ticks due strictly before
    /// `at` (with what they caused), then the input and its derived
    /// records. Returns the input's seq, or why it was refused (the ticks
    /// are in `out` either way).
    pub fn submit_into(
        &mut self,
        event: Event,
        source: Source,
        at: Timestamp,
        out: &mut Vec<Record>,
    ) -> Result<u64, Rejection> {
        let start = out.len();
        let at = if at < self.now {
            self.counters.clamped += 1;
            self.now
        } else {
            at
        };
        self.fire_while(|due| due < at, out);
        self.now = at;
        let result = self.input(event, source, at, out);
        if result.is_err() {
            self.counters.refused += 1;
        }
        if let Some(log) = &mut self.log {
            log.extend_from_slice(&out[start..]);
        }
        result
    }

    /// Move the clock to `to`, firing every deadline due up to and
    /// including it. Returns what the ticks produced, in log order.
    pub fn advance_to(&mut self, to: Timestamp) -> Vec<Record> {
        let mut out = Vec::new();
        self.advance_into(to, &mut out);
        out
    }

    /// [`Simulator::advance_to`] appending to `out`.
    pub fn advance_into(&mut self, to: Timestamp, out: &mut Vec<Record>) {
        let start = out.len();
        self.fire_while(|due| due <= to, out);
        self.now = self.now.max(to);
        if let Some(log) = &mut self.log {
            log.extend_from_slice(&out[start..]);
        }
    }

    /// Move the clock forward by `by` (wall-clock time).
    pub fn advance(&mut self, by: SignedDuration) -> Vec<Record> {
        let to = self.now.checked_add(by).unwrap_or(self.now);
        self.advance_to(to)
    }

    fn intern(&mut self, ticket: Ticket) -> u32 {
        let i = u32::try_from(self.slots.len()).unwrap_or(u32::MAX);
        self.ids.insert(ticket.id.as_str().to_owned(), i);
        self.slots.push(Slot {
            id: ticket.id.clone(),
            ticket: Some(ticket),
            rows: Vec::new(),
            spent: Vec::new(),
        });
        i
    }

    fn take_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += self.seq_stride;
        seq
    }

    /// Process one input at `at`, as the writer then the processor would.
    fn input(
        &mut self,
        event: Event,
        source: Source,
        at: Timestamp,
        out: &mut Vec<Record>,
    ) -> Result<u64, Rejection> {
        let numbered = self.next_input_seq.take();
        let slot = self.ids.get(event.ticket_id.as_str()).copied();
        let before = slot.and_then(|i| self.slots[i as usize].ticket.as_ref());
        reduce::check_transition(before.map(|t| t.status), &event)?;
        if let (EventKind::ApprovalDecided(d), Some(t)) = (&event.kind, before) {
            d.check(t)?;
        }
        let seq = match numbered {
            Some(seq) => seq,
            None => self.take_seq(),
        };
        let record = Arc::new(Record {
            seq,
            index: 0,
            recorded_at: at,
            source,
            event,
        });
        let ticket = slot.and_then(|i| self.slots[i as usize].ticket.take());
        let before = ticket.as_ref().map(TimerState::of);
        // `process` fails only on a lifecycle rejection, which
        // check_transition has just ruled out for this very ticket.
        let processed = self.run(ticket, &record)?;
        let unchanged = before.is_some_and(|b| b.same_as(&processed.ticket));
        let i = match slot {
            Some(i) => {
                self.slots[i as usize].ticket = Some(processed.ticket);
                i
            }
            None => self.intern(processed.ticket),
        };
        let s = &mut self.slots[i as usize];
        if !(unchanged && s.spent.is_empty()) {
            s.spent.clear();
            self.reindex(i);
        }
        self.counters.inputs += 1;
        self.counters.derived += processed.derived.len() as u64;
        out.push(Arc::unwrap_or_clone(record));
        out.extend(processed.derived);
        Ok(seq)
    }

    fn run(
        &self,
        ticket: Option<Ticket>,
        record: &Arc<Record>,
    ) -> Result<escalier_core::Processed, Rejection> {
        let refs: Vec<&dyn Reactor> = self.reactors.iter().map(|g| g as &dyn Reactor).collect();
        process(ticket, record, &refs, &self.limits, &self.books)
    }

    /// Fire queued deadlines, earliest first, while `due(at)` holds.
    fn fire_while(&mut self, due: impl Fn(Timestamp) -> bool, out: &mut Vec<Record>) {
        while let Some((at, _, _)) = self.queue.first() {
            if !due(*at) {
                break;
            }
            let Some((at, slot, key)) = self.queue.pop_first() else {
                break;
            };
            self.tick(at, slot, key, out);
        }
    }

    /// Record a `clock.due` tick for one deadline and process it.
    fn tick(&mut self, at: Timestamp, slot: u32, key: Box<str>, out: &mut Vec<Record>) {
        let when = at.max(self.now);
        self.now = when;
        let numbered = if self.tick_seqs.is_empty() {
            None
        } else {
            let id = self.slots[slot as usize].id.as_str().to_owned();
            self.tick_seqs.remove(&(id, key.clone(), at))
        };
        let seq = match numbered {
            Some(seq) => seq,
            None => self.take_seq(),
        };
        let s = &mut self.slots[slot as usize];
        s.rows.retain(|d| !(d.at == at && *d.key == *key));
        s.spent.push(Due {
            at,
            key: key.to_string(),
        });
        let Ok(id) = EventId::new(format!("sim-tick:{seq}")) else {
            return;
        };
        let record = Arc::new(Record {
            seq,
            index: 0,
            recorded_at: when,
            source: Source::Scheduler,
            event: Event {
                id,
                ticket_id: s.id.clone(),
                occurred_at: at,
                kind: EventKind::ClockDue(ClockDue {
                    key: key.into_string(),
                    due: at,
                }),
            },
        });
        // Only open tickets have deadlines, and a tick applies to any ticket
        // that is not closed, so `process` cannot refuse it.
        let Some(ticket) = self.slots[slot as usize].ticket.take() else {
            return;
        };
        if let Ok(p) = self.run(Some(ticket), &record) {
            self.slots[slot as usize].ticket = Some(p.ticket);
            self.counters.ticks += 1;
            self.counters.derived += p.derived.len() as u64;
            out.push(Arc::unwrap_or_clone(record));
            out.extend(p.derived);
        }
        self.reindex(slot);
    }

    /// Replace a ticket's queue rows with its current deadlines.
    fn reindex(&mut self, slot: u32) {
        let s = &mut self.slots[slot as usize];
        let mut rows = match &s.ticket {
            Some(t) => timers::deadlines(t, &self.books),
            None => Vec::new(),
        };
        if !s.spent.is_empty() {
            rows.retain(|d| !s.spent.contains(d));
        }
        if rows == s.rows {
            return;
        }
        for d in s.rows.drain(..) {
            self.queue.remove(&(d.at, slot, d.key.into_boxed_str()));
        }
        for d in &rows {
            self.queue.insert((d.at, slot, d.key.as_str().into()));
        }
        s.rows = rows;
    }
}

/// What a ticket's deadlines depend on (besides the books): when it is
/// the same after a record, so are the deadlines, and computing them again
/// (calendar arithmetic per running clock) can be skipped.
struct TimerState {
    clocks: escalier_core::sla::ClockSet,
    ladders: escalier_core::ladder::LadderSet,
    closed: bool,
}

impl TimerState {
    fn of(t: &Ticket) -> TimerState {
        TimerState {
            clocks: t.clocks.clone(),
            ladders: t.ladders.clone(),
            closed: t.status == escalier_core::Status::Closed,
        }
    }

    fn same_as(&self, t: &Ticket) -> bool {
        self.closed == (t.status == escalier_core::Status::Closed)
            && self.clocks == t.clocks
            && self.ladders == t.ladders
    }
}

/// Runs a reactor with a panic guard, as the store's processor does: a
/// panicking reactor contributes nothing for that record.
struct Guarded(SharedReactor);

impl Reactor for Guarded {
    fn wants(&self, event_type: &str) -> bool {
        self.0.wants(event_type)
    }

    fn react(&self, ticket: &Arc<Ticket>, record: &Arc<Record>, out: &mut Vec<Reaction>) {
        let before = out.len();
        if catch_unwind(AssertUnwindSafe(|| self.0.react(ticket, record, out))).is_err() {
            out.truncate(before);
        }
    }
}

#[cfg(test)]
mod tests;
