//! Backtesting: run a candidate policy set over a recorded log and diff
//! what it does against what was recorded. Behind `escalier replay`.
//!
//! The recorded inputs from outside (webhook events, API calls) are fed to
//! a [`Simulator`] at their recorded times, with the candidate's policies,
//! SLA policies and ladders. What the recorded run derived is not fed back:
//! the simulator derives its own. Recorded scheduler inputs (`clock.due`
//! ticks, `clock.rebound`) are not fed either: the simulator re-fires every
//! deadline at its due instant under the candidate's files.
//!
//! Plugins run when a [`PluginRunner`] is given (`escalier replay` gives
//! the installed plugins unless told not to), after the policies as in the
//! server, and their records are compared like the policies'. Each input
//! is processed at its recorded seq, so what plugins see of positions
//! (derived event ids, approval ids, delivery ids, the seed of their
//! randomness) is what they saw live. A tick the simulator fires takes
//! the seq of the recorded tick for the same deadline when that was read
//! already (the usual case), else a number apart from every recorded seq.
//! Without a runner, records
//! plugins produced are left out of the comparison and counted.
//!
//! The notification reactor (a set's `notify.toml`, given as
//! [`ReplayOptions::notify`]) runs after the plugins, as a reactor of its
//! own as in the server — it sees the ticket as the plugins left it — and
//! whether or not plugins run: it is pure (it only records
//! `notification.requested`, never sends), so its records are compared.
//!
//! A window (`from_seq`..`to_seq`, `since`..`until`) starts from the
//! recorded tickets: every record before it is folded as recorded (with
//! `timers::replay`, so clocks are re-derived under the candidate's SLA
//! and ladder files), then the window is simulated. At the end the clock
//! is advanced to the last recorded instant of the window, so deadlines
//! the recorded scheduler reached are reached here too.
//!
//! Approval ids embed the log position of the action that opened them
//! (`apr-<seq>.<index>`), and the simulator's positions differ from the
//! recorded ones, so a recorded `approval.decided` is pointed at the
//! candidate's approval of the same kind and rank on the ticket.
//!
//! Tickets are independent, so the work is sharded by ticket over threads
//! when asked; each shard is a simulator of its own and results merge.
//! The diff is the same whatever the number of shards.

mod plugins;
mod render;

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;

use escalier_core::event::{ApprovalDecided, EventKind};
use escalier_core::process::Limits;
use escalier_core::timers::{self, Books};
use escalier_core::{Action, Record, Source, Ticket, Timestamp};
use serde::Serialize;

use escalier_store::Store;

use crate::diff::{self, Tally, TicketDiff, Trigger};
use crate::log::LogError;
use crate::policies::Policies;
use crate::recorded::{Derived, Head, Recorded};
use crate::sim::{SharedReactor, Simulator};

pub use plugins::{PluginRef, PluginRunner};
pub use render::render;

/// Ticks the replay fires are numbered from here up: apart from every
/// recorded seq, which inputs keep (and within what a JSON number holds
/// exactly).
const TICK_SEQS: u64 = 1 << 52;

/// Which part of the log to replay, and how.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// Plugins to run after the policies; `None`: policies only, and
    /// records plugins produced are not compared.
    pub plugins: Option<Arc<dyn PluginRunner>>,
    /// The notification reactor, run after the plugins (after the
    /// policies when no plugins run), as the server runs it.
    pub notify: Option<Notifier>,
    /// First input seq replayed (inclusive).
    pub from_seq: Option<u64>,
    /// Last input seq replayed (inclusive).
    pub to_seq: Option<u64>,
    /// Inputs recorded at or after this instant.
    pub since: Option<Timestamp>,
    /// Inputs recorded before this instant.
    pub until: Option<Timestamp>,
    pub limits: Limits,
    /// Worker threads (shards by ticket). 0 or 1: the caller's thread only.
    pub threads: usize,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            plugins: None,
            notify: None,
            from_seq: None,
            to_seq: None,
            since: None,
            until: None,
            limits: Limits::default(),
            threads: 1,
        }
    }
}

/// The reactor that turns `action.notify` and ladder levels into
/// `notification.requested` records (the server's notifier, without its
/// deliveries).
#[derive(Clone)]
pub struct Notifier(pub SharedReactor);

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Notifier")
    }
}

/// What the replay covered and found.
#[derive(Debug, Clone, Serialize)]
pub struct ReplayReport {
    pub window: Window,
    pub candidate: Candidate,
    pub counts: ReplayCounts,
    /// Differences counted by record type and by producer.
    pub summary: Tally,
    /// Tickets with at least one difference, by id.
    pub tickets: Vec<TicketDiff>,
    /// Caveats that apply to this run.
    pub notes: Vec<String>,
}

impl ReplayReport {
    /// No record added, removed or changed.
    pub fn is_empty(&self) -> bool {
        !self.summary.total.differs()
    }
}

/// The part of the log replayed.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Window {
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    pub first_at: Option<Timestamp>,
    /// The clock was advanced to here at the end.
    pub last_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    pub policies_dir: String,
    /// The policy set's version (names and content hashes).
    pub version: String,
    /// Version of the SLA and ladder files.
    pub books: String,
    pub policies: Vec<PolicyRef>,
    /// Plugins run after the policies (none: policies only).
    pub plugins: Vec<PluginRef>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PolicyRef {
    pub name: String,
    pub hash: String,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ReplayCounts {
    /// Inputs from outside fed to the candidate.
    pub inputs: u64,
    /// Of those, refused by the candidate's run (an approval decision for
    /// an approval the candidate never asked for).
    pub refused: u64,
    /// Recorded scheduler inputs (ticks, rebinds) not fed: clocks re-fire.
    pub scheduler_inputs: u64,
    /// Inputs folded as recorded before the window.
    pub before_window: u64,
    /// Inputs after the window, ignored.
    pub after_window: u64,
    /// Recorded derived records compared.
    pub recorded: u64,
    /// Recorded records produced by plugins, left out of the comparison
    /// because no plugins were run.
    pub plugin_records: u64,
    /// Derived records the candidate produced.
    pub replayed: u64,
    /// Clock ticks the simulator fired.
    pub ticks: u64,
}

impl ReplayCounts {
    fn add(&mut self, o: &ReplayCounts) {
        self.inputs += o.inputs;
        self.refused += o.refused;
        self.scheduler_inputs += o.scheduler_inputs;
        self.before_window += o.before_window;
        self.after_window += o.after_window;
        self.recorded += o.recorded;
        self.plugin_records += o.plugin_records;
        self.replayed += o.replayed;
        self.ticks += o.ticks;
    }
}

/// Replay an NDJSON export (`escalier export`) at `path` (`-`: standard
/// input). Lines are decoded by the shards, in parallel when `threads` > 1.
pub fn replay_ndjson(
    policies: &Policies,
    opts: ReplayOptions,
    path: &Path,
) -> Result<ReplayReport, LogError> {
    let parse = |(line, message)| LogError::Parse {
        path: path.to_owned(),
        line,
        message,
    };
    let reader: Box<dyn std::io::BufRead> = if path.as_os_str() == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin().lock()))
    } else {
        let file = std::fs::File::open(path).map_err(|source| LogError::Io {
            path: path.to_owned(),
            source,
        })?;
        Box::new(std::io::BufReader::with_capacity(1 << 20, file))
    };
    let mut replay = Replay::new(policies, opts);
    crate::log::read_lines(reader, path, |n, line| {
        replay.push_line(line.to_owned(), n).map_err(|(_, m)| (m,))
    })?;
    replay.finish().map_err(parse)
}

/// Replay the log of a stopped server's database.
pub fn replay_store(
    policies: &Policies,
    opts: ReplayOptions,
    store: &Store,
) -> Result<ReplayReport, LogError> {
    let mut replay = Replay::new(policies, opts);
    crate::log::read_store(store, |r| replay.push(r))?;
    replay.finish().map_err(|(line, message)| LogError::Parse {
        path: "(database)".into(),
        line,
        message,
    })
}

/// A recorded input with its derived records.
struct Group {
    head: Head,
    input: Recorded,
    derived: Vec<Recorded>,
}

enum Work {
    Before(Group),
    In(Group),
    End(Option<Timestamp>),
}

/// A line that could not be decoded: (line number, message).
pub type LineError = (u64, String);

/// The replay in progress. Push the recorded log in order, then finish.
pub struct Replay {
    opts: ReplayOptions,
    candidate: Candidate,
    shards: Vec<ShardHandle>,
    hasher: std::collections::hash_map::RandomState,
    current: Option<Group>,
    started: bool,
    window: Window,
    after: u64,
    /// Derived records with no input before them (a truncated export).
    orphans: u64,
}

impl Replay {
    /// Replay with `policies` (its policy set, SLA policies and ladders).
    pub fn new(policies: &Policies, opts: ReplayOptions) -> Replay {
        let set = policies.set();
        let candidate = Candidate {
            policies_dir: policies.dir().display().to_string(),
            version: set.version().to_owned(),
            books: policies.books().version.clone(),
            policies: set
                .policies()
                .iter()
                .map(|p| PolicyRef {
                    name: p.name().to_owned(),
                    hash: p.hash().to_owned(),
                })
                .collect(),
            plugins: opts
                .plugins
                .as_ref()
                .map(|p| p.plugins())
                .unwrap_or_default(),
        };
        let reactor: SharedReactor = Arc::clone(set) as SharedReactor;
        Self::with_reactors(vec![reactor], Arc::clone(policies.books()), candidate, opts)
    }

    /// Replay with any reactors and books (then the plugins and the
    /// notifier of `opts`); `candidate` describes them.
    pub fn with_reactors(
        reactors: Vec<SharedReactor>,
        books: Arc<Books>,
        candidate: Candidate,
        opts: ReplayOptions,
    ) -> Replay {
        let n = opts.threads.max(1);
        let plugins = opts.plugins.is_some();
        let shards = (0..n)
            .map(|i| {
                let mut reactors = reactors.clone();
                if let Some(p) = &opts.plugins {
                    reactors.push(p.reactor());
                }
                // A reactor of its own, as in the server: it sees what the
                // plugins' reactions did to the ticket (a priority they set).
                if let Some(n) = &opts.notify {
                    reactors.push(Arc::clone(&n.0));
                }
                let mut sim = Simulator::new(reactors, Arc::clone(&books), opts.limits);
                sim.keep_log(false)
                    .with_seqs(TICK_SEQS + i as u64, n as u64);
                let shard = Shard::new(sim, Arc::clone(&books), plugins);
                if n == 1 {
                    ShardHandle::Inline(Box::new(shard))
                } else {
                    ShardHandle::spawn(shard)
                }
            })
            .collect();
        Replay {
            opts,
            candidate,
            shards,
            // One hasher per replay: a ticket always goes to the same shard.
            hasher: std::collections::hash_map::RandomState::new(),
            current: None,
            started: false,
            window: Window::default(),
            after: 0,
            orphans: 0,
        }
    }

    /// Replay `records` (a whole log, in order) and report.
    pub fn run(
        policies: &Policies,
        opts: ReplayOptions,
        records: impl IntoIterator<Item = Record>,
    ) -> ReplayReport {
        let mut replay = Replay::new(policies, opts);
        for r in records {
            replay.push(r);
        }
        // Decoded records leave nothing to fail on.
        match replay.finish() {
            Ok(r) => r,
            Err((line, m)) => unreachable!("record {line} was decoded already: {m}"),
        }
    }

    /// The next record of the recorded log, in log order.
    pub fn push(&mut self, record: Record) {
        self.push_recorded(Head::of(&record), Recorded::Parsed(Box::new(record)));
    }

    /// The next line of an export (`line`: its number, for errors). Only
    /// its head is read here; the shard owning its ticket decodes the rest.
    pub fn push_line(&mut self, text: String, line: u64) -> Result<(), LineError> {
        // A derived record only needs its position to join its input; its
        // shard reads the rest (and reports it if it is not a record).
        if let Some((seq, _)) = Head::position(&text).filter(|(_, i)| *i > 0) {
            match &mut self.current {
                Some(g) if g.head.seq == seq => g.derived.push(Recorded::Raw { text, line }),
                _ => self.orphans += 1,
            }
            return Ok(());
        }
        let head = Head::parse(&text).map_err(|m| (line, format!("not a log record: {m}")))?;
        self.push_recorded(head, Recorded::Raw { text, line });
        Ok(())
    }

    fn push_recorded(&mut self, head: Head, record: Recorded) {
        if head.index == 0 {
            if let Some(g) = self.current.take() {
                self.dispatch(g);
            }
            self.current = Some(Group {
                head,
                input: record,
                derived: Vec::new(),
            });
        } else {
            match &mut self.current {
                Some(g) if g.head.seq == head.seq => g.derived.push(record),
                _ => self.orphans += 1,
            }
        }
    }

    fn in_window(&self, h: &Head) -> bool {
        let o = &self.opts;
        o.from_seq.is_none_or(|s| h.seq >= s)
            && o.to_seq.is_none_or(|s| h.seq <= s)
            && o.since.is_none_or(|t| h.recorded_at >= t)
            && o.until.is_none_or(|t| h.recorded_at < t)
    }

    fn dispatch(&mut self, g: Group) {
        let h = &g.head;
        let work = if self.in_window(h) {
            self.started = true;
            let w = &mut self.window;
            w.first_seq.get_or_insert(h.seq);
            w.first_at.get_or_insert(h.recorded_at);
            w.last_seq = Some(h.seq);
            w.last_at = Some(w.last_at.map_or(h.recorded_at, |t| t.max(h.recorded_at)));
            Work::In(g)
        } else if !self.started {
            Work::Before(g)
        } else {
            self.after += 1;
            return;
        };
        let shard = match &work {
            Work::Before(g) | Work::In(g) => self.shard_of(&g.head.ticket_id),
            Work::End(_) => 0,
        };
        self.shards[shard].send(work);
    }

    fn shard_of(&self, ticket: &str) -> usize {
        if self.shards.len() == 1 {
            return 0;
        }
        (self.hasher.hash_one(ticket) % self.shards.len() as u64) as usize
    }

    /// Advance the clock to the window's last recorded instant, align what
    /// is left, and report. Fails on the first line a shard could not
    /// decode.
    pub fn finish(mut self) -> Result<ReplayReport, LineError> {
        if let Some(g) = self.current.take() {
            self.dispatch(g);
        }
        let end = self.window.last_at;
        let mut tally = Tally::default();
        let mut counts = ReplayCounts {
            after_window: self.after,
            ..ReplayCounts::default()
        };
        let mut tickets = Vec::new();
        let mut error: Option<LineError> = None;
        for shard in self.shards {
            let r = shard.finish(end);
            tally.merge(&r.tally);
            counts.add(&r.counts);
            tickets.extend(r.diffs);
            if let Some(e) = r.error
                && error.as_ref().is_none_or(|(l, _)| e.0 < *l)
            {
                error = Some(e);
            }
        }
        if let Some(e) = error {
            return Err(e);
        }
        tickets.sort_by(|a, b| a.ticket_id.cmp(&b.ticket_id));
        let mut notes = Vec::new();
        if self.opts.plugins.is_none() {
            notes.push("no plugins were run: records plugins produced are not compared".to_owned());
        } else {
            notes.push(
                "plugins ran after the policies, with side effects off: deliveries are compared, never sent".to_owned(),
            );
        }
        if self.opts.notify.is_some() {
            notes.push(
                "notifications (notify.toml) ran after the plugins, as in the server: compared, never sent".to_owned(),
            );
        }
        if counts.plugin_records > 0 {
            notes.push(format!(
                "{} recorded plugin records were left out; policies reacting to them may differ for that reason",
                counts.plugin_records
            ));
        }
        if counts.refused > 0 {
            notes.push(format!(
                "{} recorded inputs were refused in the replay (approval decisions for approvals the candidate did not ask for)",
                counts.refused
            ));
        }
        if self.orphans > 0 {
            notes.push(format!(
                "{} derived records had no input before them and were ignored",
                self.orphans
            ));
        }
        Ok(ReplayReport {
            window: self.window,
            candidate: self.candidate,
            counts,
            summary: tally,
            tickets,
            notes,
        })
    }
}

/// A shard on the caller's thread, or on its own.
enum ShardHandle {
    Inline(Box<Shard>),
    Thread {
        tx: crossbeam_channel::Sender<Vec<Work>>,
        batch: Vec<Work>,
        handle: JoinHandle<ShardResult>,
    },
}

/// Groups sent to a worker at once: amortises the channel.
const BATCH: usize = 512;

impl ShardHandle {
    fn spawn(mut shard: Shard) -> ShardHandle {
        let (tx, rx) = crossbeam_channel::bounded::<Vec<Work>>(64);
        let handle = std::thread::Builder::new()
            .name("escalier-replay".into())
            .spawn(move || {
                let mut end = None;
                for batch in rx {
                    for w in batch {
                        match w {
                            Work::End(t) => end = t,
                            w => shard.handle(w),
                        }
                    }
                }
                shard.finish(end)
            })
            .unwrap_or_else(|e| panic!("cannot start a replay thread: {e}"));
        ShardHandle::Thread {
            tx,
            batch: Vec::with_capacity(BATCH),
            handle,
        }
    }

    fn send(&mut self, w: Work) {
        match self {
            ShardHandle::Inline(s) => s.handle(w),
            ShardHandle::Thread { tx, batch, .. } => {
                batch.push(w);
                if batch.len() == BATCH {
                    let full = std::mem::replace(batch, Vec::with_capacity(BATCH));
                    // A worker only stops early by panicking; finish() reports that.
                    let _ = tx.send(full);
                }
            }
        }
    }

    fn finish(self, end: Option<Timestamp>) -> ShardResult {
        match self {
            ShardHandle::Inline(s) => s.finish(end),
            ShardHandle::Thread {
                tx,
                mut batch,
                handle,
            } => {
                batch.push(Work::End(end));
                let _ = tx.send(batch);
                drop(tx);
                handle
                    .join()
                    .unwrap_or_else(|_| panic!("a replay thread panicked"))
            }
        }
    }
}

struct ShardResult {
    tally: Tally,
    counts: ReplayCounts,
    diffs: Vec<TicketDiff>,
    /// The first line that did not decode; the shard stops there.
    error: Option<LineError>,
}

/// Approvals as the recorded run opened and decided them, per ticket:
/// (id, kind, still pending).
type RecordedApprovals = HashMap<String, Vec<(String, String, bool)>>;

/// One simulator and the comparison for its tickets.
struct Shard {
    sim: Simulator,
    books: Arc<Books>,
    /// Plugins run: their recorded records are compared.
    plugins: bool,
    /// Tickets folded from the records before the window; `None` once the
    /// window started and they went into the simulator.
    before: Option<HashMap<String, Ticket>>,
    approvals: RecordedApprovals,
    /// Per ticket, records caused by clock ticks: (recorded, replayed).
    clock: HashMap<String, ClockPool>,
    diffs: HashMap<String, TicketDiff>,
    tally: Tally,
    counts: ReplayCounts,
    out: Vec<Record>,
    error: Option<LineError>,
}

type ClockPool = (Vec<(Derived, Trigger)>, Vec<(Record, Trigger)>);

impl Shard {
    fn new(sim: Simulator, books: Arc<Books>, plugins: bool) -> Shard {
        Shard {
            sim,
            books,
            plugins,
            before: Some(HashMap::new()),
            approvals: HashMap::new(),
            clock: HashMap::new(),
            diffs: HashMap::new(),
            tally: Tally::default(),
            counts: ReplayCounts::default(),
            out: Vec::new(),
            error: None,
        }
    }

    fn handle(&mut self, w: Work) {
        if self.error.is_some() {
            return;
        }
        let r = match w {
            Work::Before(g) => self.before(g),
            Work::In(g) => self.window(g),
            Work::End(_) => Ok(()),
        };
        if let Err(e) = r {
            self.error = Some(e);
        }
    }

    /// Fold a group as recorded.
    fn before(&mut self, g: Group) -> Result<(), LineError> {
        self.counts.before_window += 1;
        let input = g.input.decode()?;
        let derived = g
            .derived
            .into_iter()
            .map(Recorded::decode)
            .collect::<Result<Vec<_>, _>>()?;
        track_approvals(&mut self.approvals, &input, &derived);
        let Some(tickets) = &mut self.before else {
            return Ok(());
        };
        for r in std::iter::once(&input).chain(&derived) {
            let id = r.event.ticket_id.as_str();
            let t = tickets.remove(id);
            match timers::replay(t.clone(), r, &self.books) {
                Ok(t) => tickets.insert(id.to_owned(), t),
                Err(_) => t.and_then(|t| tickets.insert(id.to_owned(), t)),
            };
        }
        Ok(())
    }

    /// The window starts: the folded tickets go into the simulator.
    fn start(&mut self, at: Timestamp) {
        if let Some(tickets) = self.before.take() {
            self.sim.start_at(at);
            for (_, t) in tickets {
                self.sim.insert_ticket(t);
            }
        }
    }

    fn window(&mut self, g: Group) -> Result<(), LineError> {
        self.start(g.head.recorded_at);
        let input = g.input.decode()?;
        let mut recorded = Vec::with_capacity(g.derived.len());
        for r in g.derived {
            let d = Derived::new(r)?;
            if !self.plugins && d.is_plugin() {
                self.counts.plugin_records += 1;
            } else {
                recorded.push(d);
            }
        }
        self.counts.recorded += recorded.len() as u64;
        if input.source == Source::Scheduler {
            self.counts.scheduler_inputs += 1;
            if let EventKind::ClockDue(d) = &input.event.kind {
                // Usually recorded before the simulator fires the deadline.
                self.sim
                    .number_tick(input.event.ticket_id.as_str(), &d.key, d.due, input.seq);
            }
            let trigger = match &input.event.kind {
                EventKind::ClockDue(d) => Trigger::Clock {
                    key: d.key.clone(),
                    at: input.recorded_at,
                    seq: Some(input.seq),
                },
                _ => Trigger::Rebound {
                    seq: input.seq,
                    at: input.recorded_at,
                },
            };
            for mut r in recorded {
                if r.ty() == "action.require_approval" {
                    let d = r.decode()?;
                    opened(&mut self.approvals, std::slice::from_ref(&d), None);
                    r = Derived::Parsed(Box::new(d));
                }
                // A tick's records are all on the tick's ticket.
                let pool = self
                    .clock
                    .entry(input.event.ticket_id.as_str().to_owned())
                    .or_default();
                pool.0.push((r, trigger.clone()));
            }
            return Ok(());
        }
        let Record {
            seq,
            recorded_at,
            source,
            mut event,
            ..
        } = input;
        let ticket = event.ticket_id.as_str().to_owned();
        let (event_id, ty) = (event.id.clone(), event.type_name());
        if let EventKind::ApprovalDecided(d) = &mut event.kind {
            // Rank first (the model before this input), then record the decision.
            let recorded_id = d.approval_id.clone();
            self.point_at_candidate_approval(&ticket, d);
            decided(&mut self.approvals, &ticket, &recorded_id);
        }
        self.counts.inputs += 1;
        let mut out = std::mem::take(&mut self.out);
        self.sim.number_next_input(seq);
        if self
            .sim
            .submit_into(event, source, recorded_at, &mut out)
            .is_err()
        {
            self.counts.refused += 1;
        }
        let mut replayed = Vec::new();
        let mut tick: Option<(String, Timestamp)> = None;
        for r in out.drain(..) {
            if r.index == 0 {
                tick = match &r.event.kind {
                    EventKind::ClockDue(d) if r.source == Source::Scheduler => {
                        Some((d.key.clone(), r.recorded_at))
                    }
                    _ => None,
                };
                continue;
            }
            self.counts.replayed += 1;
            match &tick {
                Some((key, at)) => {
                    let trigger = Trigger::Clock {
                        key: key.clone(),
                        at: *at,
                        seq: None,
                    };
                    let pool = self
                        .clock
                        .entry(r.event.ticket_id.as_str().to_owned())
                        .or_default();
                    pool.1.push((r, trigger));
                }
                None => replayed.push(r),
            }
        }
        self.out = out;
        // A closed ticket has no more deadlines on either side: settle its
        // clock records now rather than hold them to the end.
        if self
            .sim
            .ticket(&ticket)
            .is_some_and(|t| t.status == escalier_core::Status::Closed)
            && let Some(pool) = self.clock.remove(&ticket)
        {
            self.settle_clock(ticket.clone(), pool);
        }
        // The usual case: the same records in the same order, equal as text.
        let mut cache = None;
        let same = recorded.len() == replayed.len()
            && recorded.iter().zip(&replayed).all(|(old, new)| {
                cache = None;
                old.quick_eq(new, &mut cache) == Some(true)
            });
        if same {
            for r in &replayed {
                self.tally
                    .unchanged(r.event.type_name(), r.source.producer_name());
            }
            if recorded_has_approvals(&replayed) {
                // The recorded ones are equal: track them from the replayed.
                opened(&mut self.approvals, &replayed, Some(seq));
            }
            return Ok(());
        }
        let recorded = recorded
            .into_iter()
            .map(Derived::decode)
            .collect::<Result<Vec<_>, _>>()?;
        opened(&mut self.approvals, &recorded, None);
        let trigger = |()| Trigger::Input {
            seq,
            event_id: event_id.to_string(),
            ty: ty.to_owned(),
            at: recorded_at,
        };
        let mut d = TicketDiff::default();
        let recorded = recorded.into_iter().map(|r| (r, ())).collect();
        let replayed = replayed.into_iter().map(|r| (r, ())).collect();
        diff::align(recorded, replayed, trigger, &mut d, &mut self.tally);
        if !d.is_empty() {
            let entry = self
                .diffs
                .entry(ticket.clone())
                .or_insert_with(|| TicketDiff {
                    ticket_id: ticket,
                    ..TicketDiff::default()
                });
            entry.added.extend(d.added);
            entry.removed.extend(d.removed);
            entry.changed.extend(d.changed);
        }
        Ok(())
    }

    /// Rewrite a recorded decision's approval id to the candidate's
    /// approval of the same kind and rank on the ticket.
    fn point_at_candidate_approval(&self, ticket: &str, d: &mut ApprovalDecided) {
        let Some(list) = self.approvals.get(ticket) else {
            return;
        };
        let Some(kind) = list
            .iter()
            .find(|(id, _, _)| *id == d.approval_id)
            .map(|(_, k, _)| k)
        else {
            return;
        };
        let rank = list
            .iter()
            .filter(|(_, k, _)| k == kind)
            .position(|(id, _, _)| *id == d.approval_id);
        let candidate = self.sim.ticket(ticket).and_then(|t| {
            t.approvals
                .iter()
                .filter(|a| a.kind == *kind)
                .nth(rank.unwrap_or(usize::MAX))
        });
        if let Some(a) = candidate {
            d.approval_id = a.id.clone();
        }
    }

    fn finish(mut self, end: Option<Timestamp>) -> ShardResult {
        if let Some(end) = end {
            self.start(end);
            let mut out = Vec::new();
            self.sim.advance_into(end, &mut out);
            let mut tick: Option<(String, Timestamp)> = None;
            for r in out {
                if r.index == 0 {
                    if let EventKind::ClockDue(d) = &r.event.kind {
                        tick = Some((d.key.clone(), r.recorded_at));
                    }
                    continue;
                }
                self.counts.replayed += 1;
                let (key, at) = tick.clone().unwrap_or_default();
                let pool = self
                    .clock
                    .entry(r.event.ticket_id.as_str().to_owned())
                    .or_default();
                pool.1.push((r, Trigger::Clock { key, at, seq: None }));
            }
        }
        self.counts.ticks = self.sim.counters().ticks;
        for (ticket, pool) in std::mem::take(&mut self.clock) {
            self.settle_clock(ticket, pool);
        }
        let diffs = self
            .diffs
            .into_values()
            .filter(|d| !d.is_empty())
            .map(|mut d| {
                d.sort();
                d
            })
            .collect();
        ShardResult {
            tally: self.tally,
            counts: self.counts,
            diffs,
            error: self.error,
        }
    }

    /// Align one ticket's records caused by clock ticks.
    fn settle_clock(&mut self, ticket: String, (recorded, replayed): ClockPool) {
        let mut cache = None;
        let same = recorded.len() == replayed.len()
            && recorded.iter().zip(&replayed).all(|((old, _), (new, _))| {
                cache = None;
                old.quick_eq(new, &mut cache) == Some(true)
            });
        if same {
            for (r, _) in &replayed {
                self.tally
                    .unchanged(r.event.type_name(), r.source.producer_name());
            }
            return;
        }
        let mut decoded = Vec::with_capacity(recorded.len());
        for (r, t) in recorded {
            match r.decode() {
                Ok(r) => decoded.push((r, t)),
                Err(e) => {
                    self.error.get_or_insert(e);
                }
            }
        }
        let entry = self
            .diffs
            .entry(ticket.clone())
            .or_insert_with(|| TicketDiff {
                ticket_id: ticket,
                ..TicketDiff::default()
            });
        diff::align(decoded, replayed, |t| t, entry, &mut self.tally);
    }
}

/// Keep the recorded approvals model in step with a recorded input and
/// what it caused.
fn track_approvals(approvals: &mut RecordedApprovals, input: &Record, derived: &[Record]) {
    if let EventKind::ApprovalDecided(d) = &input.event.kind {
        decided(approvals, input.event.ticket_id.as_str(), &d.approval_id);
    }
    opened(approvals, derived, None);
}

/// A recorded decision: the approval is no longer pending.
fn decided(approvals: &mut RecordedApprovals, ticket: &str, id: &str) {
    if let Some(list) = approvals.get_mut(ticket)
        && let Some(a) = list.iter_mut().find(|(a, _, _)| a == id)
    {
        a.2 = false;
    }
}

fn recorded_has_approvals(records: &[Record]) -> bool {
    records
        .iter()
        .any(|r| matches!(r.event.kind, EventKind::Action(Action::RequireApproval(_))))
}

/// Approvals the recorded run opened with these records. `seq`: the
/// recorded seq, when the records are the candidate's copies of them.
fn opened(approvals: &mut RecordedApprovals, derived: &[Record], seq: Option<u64>) {
    for r in derived {
        if let EventKind::Action(Action::RequireApproval(a)) = &r.event.kind {
            let list = approvals
                .entry(r.event.ticket_id.as_str().to_owned())
                .or_default();
            // As `RequireApproval::apply`: one pending approval per kind.
            if !list.iter().any(|(_, k, pending)| *k == a.kind && *pending) {
                list.push((
                    format!("apr-{}.{}", seq.unwrap_or(r.seq), r.index),
                    a.kind.clone(),
                    true,
                ));
            }
        }
    }
}
