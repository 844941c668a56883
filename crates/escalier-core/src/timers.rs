//! The timers facade: SLA clocks and escalation ladders behind the one API
//! the host uses. Pure: the host (store, scheduler) does the I/O.
//!
//! - [`on_record`] after every record applied to a ticket (input or
//!   derived): moves the ticket's clocks and ladders and returns the events
//!   to record as derived (`sla.*`, `ladder.*`, and the `action.*` a
//!   reached ladder level takes). [`crate::process::process`] calls it.
//! - [`deadlines`]: the ticket's next due instants, with stable keys, for
//!   the host's index: SLA thresholds, ladder steps and the timers plugins
//!   set (`ticket.plugin_timers`, recorded in `plugin.state`). The
//!   scheduler records a `clock.due` tick per key when its instant passes;
//!   processing the tick calls [`fire`], which for a plugin timer records
//!   `plugin.timer` for the plugin host to hand to that plugin.
//! - [`rebind`] when the SLA or ladders file changed; [`view`] for the API.
//! - [`replay`]: the reducer plus the timer update, producing nothing, so
//!   a fold over a recorded log rebuilds the stored tickets exactly.
//!
//! Invariant: a ticket's `clocks` and `ladders` are the result of calling
//! [`on_record`] after each of its records in log order, with the books in
//! force at that record; its `plugin_timers` are the reducer's fold of
//! `plugin.state` records minus those [`fire`] fired, in the same order.
//! Everything they produce is recorded, so the state never depends on when
//! the server happened to run.

use std::fmt;
use std::sync::Arc;

use jiff::Timestamp;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::action::Action;
use crate::calendar::ConfigError;
use crate::error::Rejection;
use crate::event::{ClockRebound, EventKind, PluginTimer, PolicyError, SlaMet};
use crate::ladder::{LadderBook, LadderEnd, LadderState, LadderStep, LadderView, StartRefused};
use crate::record::Record;
use crate::reduce;
use crate::sla::{
    Change, ClockFired, ClockKind, ClockReport, ClockView, Deadline, SlaBook, Threshold,
};
use crate::ticket::Ticket;
use crate::vocab::Status;

/// SLA policies + calendars + ladders in force, with a content version.
#[derive(Debug, Clone)]
pub struct Books {
    pub sla: Arc<SlaBook>,
    pub ladders: Arc<LadderBook>,
    /// `sha256:` and the first 16 hex digits of a hash of both texts (an
    /// absent file counts as empty). Recorded in `clock.rebound`.
    pub version: String,
}

impl Books {
    /// No SLA policies (clocks tracked without targets) and no ladders.
    pub fn empty() -> Books {
        Books {
            sla: Arc::new(SlaBook::default()),
            ladders: Arc::new(LadderBook::default()),
            version: version_of("", ""),
        }
    }

    /// From the texts of `policies/sla.toml` and `policies/ladders.toml`
    /// (either may be absent). Ladders may name the SLA file's calendars.
    pub fn parse(sla_toml: Option<&str>, ladders_toml: Option<&str>) -> Result<Books, BooksError> {
        let sla = match sla_toml {
            Some(src) => SlaBook::from_toml(src).map_err(|error| BooksError {
                file: BooksFile::Sla,
                error,
            })?,
            None => SlaBook::default(),
        };
        let ladders = match ladders_toml {
            Some(src) => LadderBook::from_toml(src, &sla).map_err(|error| BooksError {
                file: BooksFile::Ladders,
                error,
            })?,
            None => LadderBook::default(),
        };
        Ok(Books {
            sla: Arc::new(sla),
            ladders: Arc::new(ladders),
            version: version_of(sla_toml.unwrap_or(""), ladders_toml.unwrap_or("")),
        })
    }
}

fn version_of(sla: &str, ladders: &str) -> String {
    let mut h = Sha256::new();
    for (name, text) in [("sla.toml", sla), ("ladders.toml", ladders)] {
        h.update(name.as_bytes());
        h.update((text.len() as u64).to_le_bytes());
        h.update(text.as_bytes());
    }
    let digest = h.finalize();
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// Which of the two files an error is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BooksFile {
    Sla,
    Ladders,
}

impl BooksFile {
    /// The file's name in the policies directory.
    pub fn as_str(self) -> &'static str {
        match self {
            BooksFile::Sla => "sla.toml",
            BooksFile::Ladders => "ladders.toml",
        }
    }
}

/// A data-file error, with the file it is in, displayed as
/// `sla.toml:12:3: unknown_key at ...: ...`. The caller adds the directory.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct BooksError {
    pub file: BooksFile,
    pub error: ConfigError,
}

impl fmt::Display for BooksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.error.line > 0 {
            write!(f, "{}:{}", self.file.as_str(), self.error)
        } else {
            write!(f, "{}: {}", self.file.as_str(), self.error)
        }
    }
}

/// One due instant to index. `key` is stable and unique within the
/// ticket: `sla:<clock>:<cycle>:<warning|breach>`,
/// `ladder:<name>:<run>:<step>` or `plugin:<plugin>:<seq>:<timer key>`
/// (`seq`: the input whose processing set the timer, so a key set again
/// after it fired is a new deadline with a new tick).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Due {
    pub at: Timestamp,
    pub key: String,
}

/// After every record applied to the ticket (input or derived): update
/// clocks and ladders and return the events to record as derived, in
/// order. A `clock.due` input is handed to [`fire`]; a `clock.rebound`
/// restores the state it carries first.
///
/// Order of what it returns: SLA thresholds crossed (before or at the
/// record's time) and clocks met; then ladder steps that came due before
/// the record (unless the record ends that ladder); then a ladder started
/// by the record, with its level 1; then ladder steps due exactly at the
/// record's time. Each `ladder.level_reached` is followed by its actions.
pub fn on_record(ticket: &mut Ticket, books: &Books, record: &Record) -> Vec<EventKind> {
    let at = record.recorded_at;
    match &record.event.kind {
        EventKind::ClockDue(d) if record.source.is_input() => {
            return fire(ticket, books, &d.key, at);
        }
        EventKind::ClockRebound(d) => {
            ticket.clocks = d.clocks.clone();
            ticket.ladders = d.ladders.clone();
        }
        _ => {}
    }
    let mut out = Vec::new();

    let mut clocks = std::mem::take(&mut ticket.clocks);
    let report = clocks.on_event(&books.sla, ticket, &record.event, at);
    ticket.clocks = clocks;
    sla_events(report, &mut out);

    // What this record ends ends before anything overdue fires: an
    // acknowledgement recorded before the tick of a step wins.
    let by = record.source.producer_name();
    match &record.event.kind {
        EventKind::Action(Action::StopLadder(a)) => {
            let end = LadderEnd {
                at,
                by: Some(by.to_owned()),
                note: Some(a.reason.clone()),
            };
            ticket
                .ladders
                .stop(Some(&a.ladder), LadderState::Stopped, end);
        }
        EventKind::LadderAcknowledged(a) => {
            let end = LadderEnd {
                at,
                by: Some(a.by.clone()),
                note: a.note.clone(),
            };
            ticket
                .ladders
                .stop(a.ladder.as_deref(), LadderState::Acknowledged, end);
        }
        _ => {}
    }
    if !ticket.is_open() {
        let end = LadderEnd {
            at,
            by: None,
            note: Some(format!("ticket {}", ticket.status)),
        };
        ticket.ladders.stop(None, LadderState::Resolved, end);
    }

    for step in ticket.ladders.fire_due(&books.ladders, at, false) {
        step_events(ticket, books, step, &mut out);
    }
    if let EventKind::Action(Action::StartLadder(a)) = &record.event.kind
        && ticket.is_open()
    {
        match ticket
            .ladders
            .start(&books.ladders, &a.ladder, &a.reason, at)
        {
            Ok(step) => step_events(ticket, books, step, &mut out),
            Err(StartRefused::AlreadyRunning(_)) => {}
            Err(e) => out.push(EventKind::PolicyError(PolicyError {
                policy: by.to_owned(),
                code: "unknown_ladder".into(),
                message: format!("start_ladder refused: {e}"),
                line: None,
                column: None,
            })),
        }
    }
    for step in ticket.ladders.fire_due(&books.ladders, at, true) {
        step_events(ticket, books, step, &mut out);
    }
    out
}

/// A `clock.due` tick for `key` processed at `now` (the tick record's
/// `recorded_at`). Refused silently (empty) if not due yet, already fired,
/// stale, or the ticket is closed. Never fires early; fires once.
///
/// A plugin timer fires as one `plugin.timer` and leaves
/// `ticket.plugin_timers`; it is stale if it was cancelled or set again
/// (another seq) since the tick's deadline was indexed.
pub fn fire(ticket: &mut Ticket, books: &Books, key: &str, now: Timestamp) -> Vec<EventKind> {
    let mut out = Vec::new();
    if ticket.status == Status::Closed {
        return out;
    }
    match Key::parse(key) {
        Some(Key::Sla(d)) => {
            if let Ok(fired) = ticket.clocks.fire(&books.sla, &d, now) {
                out.push(fired_event(fired));
            }
        }
        Some(Key::Ladder { name, run, step }) => {
            if let Ok(s) = ticket.ladders.fire(&books.ladders, name, run, step, now) {
                step_events(ticket, books, s, &mut out);
            }
        }
        Some(Key::Plugin { plugin, seq, key }) => {
            if let Some(fired) = fire_plugin_timer(ticket, plugin, seq, key, now) {
                out.push(EventKind::PluginTimer(fired));
            }
        }
        None => {}
    }
    out
}

/// Remove and return plugin `plugin`'s timer `key` if it is the one set at
/// `seq` and is due at `now`.
fn fire_plugin_timer(
    ticket: &mut Ticket,
    plugin: &str,
    seq: u64,
    key: &str,
    now: Timestamp,
) -> Option<PluginTimer> {
    let timers = ticket.plugin_timers.get_mut(plugin)?;
    let pending = *timers.get(key)?;
    if pending.seq != seq || pending.at > now {
        return None;
    }
    timers.remove(key);
    if timers.is_empty() {
        ticket.plugin_timers.remove(plugin);
    }
    Some(PluginTimer {
        plugin: plugin.to_owned(),
        key: key.to_owned(),
        due: pending.at,
    })
}

/// The ticket's next due instants, earliest first: what the host indexes.
/// Empty for closed tickets.
pub fn deadlines(ticket: &Ticket, books: &Books) -> Vec<Due> {
    if ticket.status == Status::Closed {
        return Vec::new();
    }
    let mut out: Vec<Due> = ticket
        .clocks
        .deadlines(&books.sla)
        .map(|d| Due {
            at: d.due,
            key: sla_key(&d),
        })
        .chain(ticket.ladders.deadlines(&books.ladders).map(|d| Due {
            at: d.due,
            key: d.key(),
        }))
        .chain(ticket.plugin_timers.iter().flat_map(|(plugin, timers)| {
            timers.iter().map(move |(key, t)| Due {
                at: t.at,
                key: format!("plugin:{plugin}:{}:{key}", t.seq),
            })
        }))
        .collect();
    out.sort();
    out
}

/// The books changed (`old` → `new`) at `now`: re-select each open
/// ticket's SLA policy and targets (keeping elapsed time; time run so far
/// is accounted on the old calendar if the calendar changed) and stop runs
/// of ladders that were removed. Fires nothing.
///
/// Returns nothing if the ticket's timer state is unchanged, else one
/// `clock.rebound` carrying the new state: record it as an input (source
/// `scheduler`) and process it with `new`, which fires whatever the new
/// books make due. Deadlines may move even when nothing is returned (a
/// ladder timeout or calendar edited): re-index every open ticket.
pub fn rebind(ticket: &mut Ticket, old: &Books, new: &Books, now: Timestamp) -> Vec<EventKind> {
    if !ticket.is_open() {
        return Vec::new();
    }
    let mut clocks = ticket.clocks.clone();
    clocks.retarget(&old.sla, &new.sla, ticket, now);
    let mut ladders = ticket.ladders.clone();
    ladders.rebind(&new.ladders, now);
    if clocks == ticket.clocks && ladders == ticket.ladders {
        return Vec::new();
    }
    ticket.clocks = clocks.clone();
    ticket.ladders = ladders.clone();
    vec![EventKind::ClockRebound(ClockRebound {
        from: old.version.clone(),
        to: new.version.clone(),
        clocks,
        ladders,
    })]
}

/// The ticket's timers as the API shows them at `now`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimersView {
    /// Version of the books the view was computed with.
    pub books: String,
    /// The SLA policy in force; `None` if none matches the ticket.
    pub sla: Option<String>,
    /// Each SLA clock: kind, target, state, whether warned and breached,
    /// business time elapsed, due instant, and business time remaining
    /// (negative: overdue by that much).
    pub clocks: Vec<ClockView>,
    /// Each ladder run: level reached, state, next step and when.
    pub ladders: Vec<LadderView>,
}

/// For the API: each SLA clock and each ladder run as of `now`.
pub fn view(ticket: &Ticket, books: &Books, now: Timestamp) -> TimersView {
    TimersView {
        books: books.version.clone(),
        sla: ticket.clocks.policy().map(str::to_owned),
        clocks: ticket.clocks.view(&books.sla, now),
        ladders: ticket.ladders.view(&books.ladders),
    }
}

/// Apply one recorded record: the reducer, then the clock and ladder
/// update [`on_record`] makes, producing nothing (what it produced is
/// already in the log). Folding a ticket's log with this, with the books
/// in force at each record, rebuilds the ticket `process` stored.
pub fn replay(ticket: Option<Ticket>, record: &Record, books: &Books) -> Result<Ticket, Rejection> {
    let mut t = reduce::apply(ticket, record)?;
    on_record(&mut t, books, record);
    Ok(t)
}

fn sla_events(report: ClockReport, out: &mut Vec<EventKind>) {
    out.extend(report.fired.into_iter().map(fired_event));
    for t in report.transitions {
        // A clock no SLA target applies to is tracked (so time is kept if a
        // policy applies later) but meeting it is not news.
        if let Change::Met {
            sla,
            target,
            breached,
        } = t.change
            && target.is_some()
        {
            out.push(EventKind::SlaMet(SlaMet {
                clock: t.clock,
                cycle: t.cycle,
                sla,
                target,
                elapsed: t.elapsed,
                breached,
            }));
        }
    }
}

fn fired_event(f: ClockFired) -> EventKind {
    match f.threshold {
        Threshold::Warning => EventKind::SlaWarning(f),
        Threshold::Breach => EventKind::SlaBreached(f),
    }
}

/// A ladder step, then the actions of the level it reached.
fn step_events(ticket: &Ticket, books: &Books, step: LadderStep, out: &mut Vec<EventKind>) {
    match step {
        LadderStep::Level(l) => {
            let actions = books
                .ladders
                .ladder(&l.ladder)
                .map(|def| def.actions(l.level, ticket.id.as_str(), &l.reason))
                .unwrap_or_default();
            out.push(EventKind::LadderLevelReached(l));
            out.extend(actions.into_iter().map(EventKind::Action));
        }
        LadderStep::Exhausted(e) => out.push(EventKind::LadderExhausted(e)),
    }
}

fn sla_key(d: &Deadline) -> String {
    let threshold = match d.threshold {
        Threshold::Warning => "warning",
        Threshold::Breach => "breach",
    };
    format!("sla:{}:{}:{threshold}", d.clock, d.cycle)
}

/// A parsed deadline key.
enum Key<'a> {
    Sla(Deadline),
    Ladder {
        name: &'a str,
        run: u32,
        step: u32,
    },
    Plugin {
        plugin: &'a str,
        seq: u64,
        key: &'a str,
    },
}

impl<'a> Key<'a> {
    fn parse(key: &'a str) -> Option<Key<'a>> {
        // A plugin's timer key is its own and may hold `:`.
        if let Some(rest) = key.strip_prefix("plugin:") {
            let mut parts = rest.splitn(3, ':');
            let (plugin, seq, key) = (parts.next()?, parts.next()?, parts.next()?);
            return Some(Key::Plugin {
                plugin,
                seq: seq.parse().ok()?,
                key,
            });
        }
        let mut parts = key.split(':');
        let (kind, name, n, last) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        match kind {
            "sla" => Some(Key::Sla(Deadline {
                // Firing re-derives the due instant; this one is not used.
                due: Timestamp::UNIX_EPOCH,
                clock: ClockKind::parse(name)?,
                cycle: n.parse().ok()?,
                threshold: match last {
                    "warning" => Threshold::Warning,
                    "breach" => Threshold::Breach,
                    _ => return None,
                },
            })),
            "ladder" => Some(Key::Ladder {
                name,
                run: n.parse().ok()?,
                step: last.parse().ok()?,
            }),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
