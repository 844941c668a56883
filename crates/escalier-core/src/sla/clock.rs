//! Per-ticket SLA clock state ([`ClockSet`]) and the pure functions that
//! move it: on each event, on each deadline, on an SLA book reload.
//!
//! A clock keeps only what cannot be recomputed: its kind, cycle, target,
//! state, the business time **accounted** so far (`elapsed`), the instant
//! accounting stopped (`since`: while running, the start of the current
//! running segment), and whether its warning and breach have fired. Due
//! times are derived from these and the calendar, never stored, so an SLA
//! or calendar change re-derives them from the kept elapsed time.
//!
//! Invariants:
//! - at most one clock per kind; `elapsed` never decreases within a cycle;
//! - only a running clock has deadlines (a paused clock never fires);
//! - a clock breaches at the instant its business time reaches its target
//!   while running; an event at that very instant is applied first (a
//!   reply exactly on the due time is on time);
//! - each threshold fires at most once per cycle; a breach suppresses a
//!   warning not yet fired.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::policy::{ClockKind, Reopen, SlaBook};
use crate::calendar::Calendar;
use crate::event::{Event, EventKind};
use crate::ticket::Ticket;
use crate::vocab::Status;

/// Where a clock is in its cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockState {
    /// Counting business time.
    Running,
    /// Not counting: the ticket is in a pausing status.
    Paused,
    /// Stopped by what it measures (a reply, a solve). `breached` tells if late.
    Met,
    /// Stopped because it no longer applies (solved before any reply).
    Cancelled,
}

impl ClockState {
    /// Running or paused: the cycle is still open.
    pub fn is_active(self) -> bool {
        matches!(self, ClockState::Running | ClockState::Paused)
    }
}

/// The two instants a clock announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Threshold {
    /// The policy's warning fraction of the target has elapsed: `sla.warning`.
    Warning,
    /// The whole target has elapsed: `sla.breached`.
    Breach,
}

/// One SLA clock of a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaClock {
    kind: ClockKind,
    /// Next response and periodic update start a new cycle each time; so
    /// does resolution on a `restart` reopen. Deadlines name their cycle so
    /// a stale one is refused.
    #[serde(default, skip_serializing_if = "is_zero")]
    cycle: u32,
    /// `None`: tracked without a target (the policy has none for this
    /// priority, or no policy applies), so a later re-selection keeps time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    target: Option<SignedDuration>,
    state: ClockState,
    /// Business time accounted up to `since`.
    #[serde(default, skip_serializing_if = "SignedDuration::is_zero")]
    elapsed: SignedDuration,
    since: Timestamp,
    #[serde(default, skip_serializing_if = "is_false")]
    warned: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    breached: bool,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl SlaClock {
    fn new(
        kind: ClockKind,
        cycle: u32,
        target: Option<SignedDuration>,
        running: bool,
        at: Timestamp,
    ) -> SlaClock {
        SlaClock {
            kind,
            cycle,
            target,
            state: if running {
                ClockState::Running
            } else {
                ClockState::Paused
            },
            elapsed: SignedDuration::ZERO,
            since: at,
            warned: false,
            breached: false,
        }
    }

    pub fn kind(&self) -> ClockKind {
        self.kind
    }

    pub fn cycle(&self) -> u32 {
        self.cycle
    }

    pub fn target(&self) -> Option<SignedDuration> {
        self.target
    }

    pub fn state(&self) -> ClockState {
        self.state
    }

    /// Business time accounted up to [`since`](Self::since); see
    /// [`elapsed_at`](Self::elapsed_at) for the time at a given instant.
    pub fn elapsed(&self) -> SignedDuration {
        self.elapsed
    }

    /// When the current state began; for a running clock, when it last
    /// started running (start, resume, or a change of calendar).
    pub fn since(&self) -> Timestamp {
        self.since
    }

    pub fn warned(&self) -> bool {
        self.warned
    }

    pub fn breached(&self) -> bool {
        self.breached
    }

    /// Business time elapsed as of `now` on `cal`.
    pub fn elapsed_at(&self, cal: &Calendar, now: Timestamp) -> SignedDuration {
        self.elapsed + self.running_since(cal, now)
    }

    /// Business time in the current running segment, up to `now` (never negative).
    fn running_since(&self, cal: &Calendar, now: Timestamp) -> SignedDuration {
        if self.state != ClockState::Running {
            return SignedDuration::ZERO;
        }
        // Only fails at the ends of the supported date range; count nothing then.
        let d = cal
            .business_between(self.since, now)
            .unwrap_or(SignedDuration::ZERO);
        if d.is_negative() {
            SignedDuration::ZERO
        } else {
            d
        }
    }

    /// Fold the running segment into `elapsed` and restart it at `at`.
    fn commit(&mut self, cal: &Calendar, at: Timestamp) {
        if self.state == ClockState::Running {
            self.elapsed += self.running_since(cal, at);
            self.since = at;
        }
    }

    /// When running business time reaches `amount`; `since` if already there.
    fn reaches(&self, cal: &Calendar, amount: SignedDuration) -> Option<Timestamp> {
        if self.state != ClockState::Running {
            return None;
        }
        let left = amount - self.elapsed;
        if !left.is_positive() {
            return Some(self.since);
        }
        cal.add_business(self.since, left).ok()
    }

    fn fired(&self, threshold: Threshold) -> bool {
        match threshold {
            Threshold::Warning => self.warned || self.breached,
            Threshold::Breach => self.breached,
        }
    }

    fn start_cycle(&mut self, target: Option<SignedDuration>, running: bool, at: Timestamp) {
        *self = SlaClock::new(self.kind, self.cycle.wrapping_add(1), target, running, at);
    }
}

/// An instant at which a clock announces something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Deadline {
    pub due: Timestamp,
    pub clock: ClockKind,
    pub cycle: u32,
    pub threshold: Threshold,
}

/// A warning or breach that fired: the data of `sla.warning` / `sla.breached`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockFired {
    pub clock: ClockKind,
    pub cycle: u32,
    pub threshold: Threshold,
    /// The policy in force; `None` never happens for a fired clock today
    /// (no policy means no target) but is kept honest in the type.
    pub sla: Option<String>,
    pub target: SignedDuration,
    /// Business time elapsed at `due`: the warning amount, or the target.
    pub elapsed: SignedDuration,
    pub due: Timestamp,
    /// When it was fired: the scheduler's `now`, or the log time of the
    /// event that found it overdue.
    pub fired_at: Timestamp,
    /// Fired more than [`LATE_TOLERANCE`] after `due` (the server was
    /// down, or the scheduler lagged); a tick handled a few milliseconds
    /// after its due time is on time.
    pub late: bool,
}

/// How long after its due instant a deadline may fire and still be on
/// time: the scheduler's wake-up and the write take a few milliseconds.
pub const LATE_TOLERANCE: SignedDuration = SignedDuration::from_secs(1);

/// Whether something due at `due` and fired at `now` is late: strictly more
/// than [`LATE_TOLERANCE`] after `due`.
pub fn is_late(due: Timestamp, now: Timestamp) -> bool {
    now.duration_since(due) > LATE_TOLERANCE
}

impl ClockFired {
    /// The deadline this answers, to replay it through [`ClockSet::fire`].
    pub fn deadline(&self) -> Deadline {
        Deadline {
            due: self.due,
            clock: self.clock,
            cycle: self.cycle,
            threshold: self.threshold,
        }
    }
}

/// Why [`ClockSet::fire`] refused a deadline. Each means "drop it".
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FireRefused {
    /// Not due yet: the clock has not reached the threshold by `now`.
    #[error("not due until {due}")]
    NotDue { due: Timestamp },
    /// Already fired in this cycle (or a breach made the warning moot).
    #[error("already fired")]
    AlreadyFired,
    /// The clock moved on: other cycle, stopped, paused, or no target now.
    #[error("no longer pending for this clock")]
    Stale,
}

/// What happened to one clock at one instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockTransition {
    pub clock: ClockKind,
    pub cycle: u32,
    pub change: Change,
    /// Business time accounted after the change.
    pub elapsed: SignedDuration,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Change {
    /// A new cycle began (paused if the ticket is in a pausing status).
    Started {
        paused: bool,
    },
    Paused,
    Resumed,
    /// Stopped by what it measures: emit `sla.met` (with `breached`: met late).
    Met {
        sla: Option<String>,
        target: Option<SignedDuration>,
        breached: bool,
    },
    /// Stopped because it no longer applies.
    Cancelled,
    /// A stopped cycle became active again (reopen with `resume`, or a
    /// first response still owed after a reopen).
    Reactivated,
    /// The target changed (SLA re-selection, priority change, book reload).
    Retargeted {
        from: Option<SignedDuration>,
        to: Option<SignedDuration>,
    },
}

/// Everything [`ClockSet::on_event`] or [`ClockSet::retarget`] changed.
/// Emit `fired` (as `sla.warning` / `sla.breached`) before `transitions`:
/// they happened at or before the event's instant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClockReport {
    /// The policy in force changed: `(from, to)`.
    pub policy_changed: Option<(Option<String>, Option<String>)>,
    pub fired: Vec<ClockFired>,
    pub transitions: Vec<ClockTransition>,
}

impl ClockReport {
    pub fn is_empty(&self) -> bool {
        self.policy_changed.is_none() && self.fired.is_empty() && self.transitions.is_empty()
    }
}

/// A clock as the API shows it at some instant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockView {
    pub clock: ClockKind,
    pub cycle: u32,
    pub sla: Option<String>,
    pub target: Option<SignedDuration>,
    pub state: ClockState,
    pub warned: bool,
    pub breached: bool,
    /// Business time elapsed as of the view's instant.
    pub elapsed: SignedDuration,
    /// When the target runs out (or ran out) if the clock keeps running;
    /// `None` when paused, stopped or without a target.
    pub due: Option<Timestamp>,
    /// Target minus elapsed: negative when overdue.
    pub remaining: Option<SignedDuration>,
}

/// The SLA clocks of one ticket. Small and serializable: store it beside
/// the ticket (or as a field of it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockSet {
    /// The SLA policy in force; `None`: none matched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    policy: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    clocks: Vec<SlaClock>,
}

impl ClockSet {
    pub fn new() -> ClockSet {
        ClockSet::default()
    }

    /// The SLA policy in force.
    pub fn policy(&self) -> Option<&str> {
        self.policy.as_deref()
    }

    pub fn clocks(&self) -> &[SlaClock] {
        &self.clocks
    }

    pub fn clock(&self, kind: ClockKind) -> Option<&SlaClock> {
        self.clocks.iter().find(|c| c.kind == kind)
    }

    /// Apply one log record's event. `ticket` is the ticket **after** the
    /// reducer applied the event; `at` is the record's log time. Pure: the
    /// same inputs always give the same state and report.
    ///
    /// Order: thresholds crossed strictly before `at` fire first (a late
    /// deadline); then the SLA is re-selected (keeping elapsed time); then
    /// the event starts, stops or restarts clocks; then clocks pause or
    /// resume for the ticket's status; finally anything due at `at` fires.
    pub fn on_event(
        &mut self,
        book: &SlaBook,
        ticket: &Ticket,
        event: &Event,
        at: Timestamp,
    ) -> ClockReport {
        let mut report = ClockReport::default();
        self.fire_due(book, at, false, &mut report.fired);
        self.reselect(book, book, ticket, at, false, &mut report);
        let reply = matches!(&event.kind, EventKind::CommentAdded(c) if c.is_public_agent_reply());
        self.apply(book, ticket, reply, at, &mut report.transitions);
        self.settle(book, ticket, at, &mut report.transitions);
        self.fire_due(book, at, true, &mut report.fired);
        report
    }

    /// The SLA book was reloaded: re-select the policy on `new` and
    /// re-target, keeping elapsed time; deadlines must then be re-indexed.
    /// Fires nothing: what is due is left to the next
    /// [`on_event`](Self::on_event) or [`fire`](Self::fire), judged on `new`. Running time is accounted
    /// on the old calendar only when the calendar actually changed (policy
    /// switch, or the same policy's calendar edited), so a reload that does
    /// not concern this ticket leaves its clocks exactly as they were.
    pub fn retarget(
        &mut self,
        old: &SlaBook,
        new: &SlaBook,
        ticket: &Ticket,
        at: Timestamp,
    ) -> ClockReport {
        let mut report = ClockReport::default();
        let calendar_changed = old.calendar_of(self.policy()) != new.calendar_of(self.policy());
        self.reselect(old, new, ticket, at, calendar_changed, &mut report);
        self.settle(new, ticket, at, &mut report.transitions);
        report
    }

    /// The instants at which something will fire if nothing else happens:
    /// each running clock's warning (if not fired) and breach (if not fired).
    pub fn deadlines<'a>(&'a self, book: &'a SlaBook) -> impl Iterator<Item = Deadline> + 'a {
        self.clocks.iter().flat_map(move |c| {
            [Threshold::Warning, Threshold::Breach]
                .into_iter()
                .filter_map(move |threshold| {
                    self.due(book, c, threshold).map(|due| Deadline {
                        due,
                        clock: c.kind,
                        cycle: c.cycle,
                        threshold,
                    })
                })
        })
    }

    /// The earliest deadline, for a scheduler that sleeps until the next one.
    pub fn next_deadline(&self, book: &SlaBook) -> Option<Deadline> {
        self.deadlines(book).min()
    }

    /// Fire a deadline at `now`: mark it and return the event data.
    /// Idempotent (a second call is refused with `AlreadyFired`), never
    /// early (`NotDue`), and stale deadlines (`Stale`) are refused. The due
    /// time is recomputed, so a deadline indexed before a change is judged
    /// on the clock as it is now.
    pub fn fire(
        &mut self,
        book: &SlaBook,
        deadline: &Deadline,
        now: Timestamp,
    ) -> Result<ClockFired, FireRefused> {
        let i = self
            .clocks
            .iter()
            .position(|c| c.kind == deadline.clock && c.cycle == deadline.cycle)
            .ok_or(FireRefused::Stale)?;
        let c = &self.clocks[i];
        if c.fired(deadline.threshold) {
            return Err(FireRefused::AlreadyFired);
        }
        let due = self
            .due(book, c, deadline.threshold)
            .ok_or(FireRefused::Stale)?;
        if due > now {
            return Err(FireRefused::NotDue { due });
        }
        Ok(self.mark(book, i, deadline.threshold, due, now))
    }

    /// The clocks as of `now`, for the API.
    pub fn view(&self, book: &SlaBook, now: Timestamp) -> Vec<ClockView> {
        let cal = book.calendar_of(self.policy());
        self.clocks
            .iter()
            .map(|c| {
                let elapsed = c.elapsed_at(cal, now);
                ClockView {
                    clock: c.kind,
                    cycle: c.cycle,
                    sla: self.policy.clone(),
                    target: c.target,
                    state: c.state,
                    warned: c.warned,
                    breached: c.breached,
                    elapsed,
                    due: c.target.and_then(|t| c.reaches(cal, t)),
                    remaining: c.target.map(|t| t - elapsed),
                }
            })
            .collect()
    }

    /// When `threshold` of `c` is due, if it is pending.
    fn due(&self, book: &SlaBook, c: &SlaClock, threshold: Threshold) -> Option<Timestamp> {
        if c.fired(threshold) {
            return None;
        }
        let amount = self.amount(book, c, threshold)?;
        c.reaches(book.calendar_of(self.policy()), amount)
    }

    /// Business time at which `threshold` is reached.
    fn amount(&self, book: &SlaBook, c: &SlaClock, threshold: Threshold) -> Option<SignedDuration> {
        let target = c.target?;
        match threshold {
            Threshold::Breach => Some(target),
            Threshold::Warning => {
                let w = book.policy(self.policy()?)?.warn_after(target)?;
                w.is_positive().then_some(w)
            }
        }
    }

    fn mark(
        &mut self,
        book: &SlaBook,
        i: usize,
        threshold: Threshold,
        due: Timestamp,
        now: Timestamp,
    ) -> ClockFired {
        let c = &self.clocks[i];
        let fired = ClockFired {
            clock: c.kind,
            cycle: c.cycle,
            threshold,
            sla: self.policy.clone(),
            target: c.target.unwrap_or_default(),
            elapsed: self.amount(book, c, threshold).unwrap_or_default(),
            due,
            fired_at: now,
            late: is_late(due, now),
        };
        let c = &mut self.clocks[i];
        match threshold {
            Threshold::Warning => c.warned = true,
            Threshold::Breach => {
                c.breached = true;
                c.warned = true;
            }
        }
        fired
    }

    /// Fire every pending threshold due before `at` (or at `at` if `inclusive`).
    fn fire_due(
        &mut self,
        book: &SlaBook,
        at: Timestamp,
        inclusive: bool,
        out: &mut Vec<ClockFired>,
    ) {
        for i in 0..self.clocks.len() {
            for threshold in [Threshold::Warning, Threshold::Breach] {
                if let Some(due) = self.due(book, &self.clocks[i], threshold)
                    && (due < at || (inclusive && due == at))
                {
                    out.push(self.mark(book, i, threshold, due, at));
                }
            }
        }
    }

    /// Re-select the policy for `ticket` on `new` and re-target active
    /// clocks. When the policy (so possibly the calendar) changes, or on a
    /// reload (`force_commit`), running time so far is accounted on the
    /// calendar it ran under (`old`'s) before the switch.
    fn reselect(
        &mut self,
        old: &SlaBook,
        new: &SlaBook,
        ticket: &Ticket,
        at: Timestamp,
        force_commit: bool,
        report: &mut ClockReport,
    ) {
        let chosen = new.select(ticket);
        let name = chosen.map(|p| p.name.clone());
        let targets = chosen
            .map(|p| p.targets_for(ticket.priority))
            .unwrap_or_default();
        let switching = name != self.policy;
        if switching || force_commit {
            let cal = old.calendar_of(self.policy());
            for c in &mut self.clocks {
                c.commit(cal, at);
            }
        }
        if switching {
            report.policy_changed = Some((self.policy.clone(), name.clone()));
            self.policy = name;
        }
        let cal = new.calendar_of(self.policy());
        let policy = self.policy.as_deref().and_then(|p| new.policy(p));
        for c in self.clocks.iter_mut().filter(|c| c.state.is_active()) {
            let to = targets.get(c.kind);
            if to == c.target {
                continue;
            }
            // A threshold moved beyond the time already elapsed can fire
            // again; one still behind it (or removed) has fired for good.
            let now_elapsed = c.elapsed_at(cal, at);
            if to.is_some_and(|t| t > now_elapsed) {
                c.breached = false;
            }
            let warn = to.and_then(|t| policy.and_then(|p| p.warn_after(t)));
            if warn.is_some_and(|w| w > now_elapsed) && !c.breached {
                c.warned = false;
            }
            report.transitions.push(ClockTransition {
                clock: c.kind,
                cycle: c.cycle,
                change: Change::Retargeted { from: c.target, to },
                elapsed: c.elapsed,
            });
            c.target = to;
        }
    }

    /// Start, stop and restart clocks for what the ticket now awaits.
    fn apply(
        &mut self,
        book: &SlaBook,
        ticket: &Ticket,
        reply: bool,
        at: Timestamp,
        out: &mut Vec<ClockTransition>,
    ) {
        let policy = self.policy.as_deref().and_then(|p| book.policy(p));
        let targets = policy
            .map(|p| p.targets_for(ticket.priority))
            .unwrap_or_default();
        let reopen = policy.map(|p| p.reopen).unwrap_or_default();
        let run = !book.pause_on(self.policy()).contains(ticket.status);
        let cal = book.calendar_of(self.policy());
        let solved = matches!(ticket.status, Status::Solved | Status::Closed);
        for kind in ClockKind::ALL {
            let want = awaits(kind, ticket);
            let Some(i) = self.clocks.iter().position(|c| c.kind == kind) else {
                if want {
                    self.clocks
                        .push(SlaClock::new(kind, 0, targets.get(kind), run, at));
                    out.push(started(kind, 0, run));
                }
                continue;
            };
            let c = &mut self.clocks[i];
            if c.state.is_active() {
                // Replies meet the response clocks; solving meets resolution.
                // Anything else that ends a cycle (solving before a reply) cancels it.
                let meets = match kind {
                    ClockKind::Resolution => solved,
                    _ => reply,
                };
                if want && !(kind == ClockKind::PeriodicUpdate && reply) {
                    continue;
                }
                c.commit(cal, at);
                let change = if meets {
                    Change::Met {
                        sla: self.policy.clone(),
                        target: c.target,
                        breached: c.breached,
                    }
                } else {
                    Change::Cancelled
                };
                c.state = if meets {
                    ClockState::Met
                } else {
                    ClockState::Cancelled
                };
                c.since = at;
                out.push(ClockTransition {
                    clock: kind,
                    cycle: c.cycle,
                    change,
                    elapsed: c.elapsed,
                });
                if want {
                    // Periodic update: each reply meets one cycle and opens the next.
                    c.start_cycle(targets.get(kind), run, at);
                    out.push(started(kind, c.cycle, run));
                }
            } else if want {
                let resume = match kind {
                    ClockKind::FirstResponse => true,
                    ClockKind::Resolution => reopen == Reopen::Resume,
                    ClockKind::NextResponse | ClockKind::PeriodicUpdate => false,
                };
                if resume {
                    c.state = if run {
                        ClockState::Running
                    } else {
                        ClockState::Paused
                    };
                    c.since = at;
                    out.push(ClockTransition {
                        clock: kind,
                        cycle: c.cycle,
                        change: Change::Reactivated,
                        elapsed: c.elapsed,
                    });
                    let to = targets.get(kind);
                    if to != c.target {
                        out.push(ClockTransition {
                            clock: kind,
                            cycle: c.cycle,
                            change: Change::Retargeted { from: c.target, to },
                            elapsed: c.elapsed,
                        });
                        c.target = to;
                    }
                } else {
                    c.start_cycle(targets.get(kind), run, at);
                    out.push(started(kind, c.cycle, run));
                }
            }
        }
    }

    /// Pause or resume active clocks for the ticket's status.
    fn settle(
        &mut self,
        book: &SlaBook,
        ticket: &Ticket,
        at: Timestamp,
        out: &mut Vec<ClockTransition>,
    ) {
        let run = !book.pause_on(self.policy()).contains(ticket.status);
        let cal = book.calendar_of(self.policy());
        for c in &mut self.clocks {
            let change = match (c.state, run) {
                (ClockState::Running, false) => {
                    c.commit(cal, at);
                    c.state = ClockState::Paused;
                    Change::Paused
                }
                (ClockState::Paused, true) => {
                    c.state = ClockState::Running;
                    Change::Resumed
                }
                _ => continue,
            };
            c.since = at;
            out.push(ClockTransition {
                clock: c.kind,
                cycle: c.cycle,
                change,
                elapsed: c.elapsed,
            });
        }
    }
}

fn started(kind: ClockKind, cycle: u32, running: bool) -> ClockTransition {
    ClockTransition {
        clock: kind,
        cycle,
        change: Change::Started { paused: !running },
        elapsed: SignedDuration::ZERO,
    }
}

/// Whether the ticket, as it is now, awaits what `kind` measures.
fn awaits(kind: ClockKind, t: &Ticket) -> bool {
    if !t.is_open() {
        return false;
    }
    match kind {
        ClockKind::FirstResponse => t.first_response_at.is_none(),
        ClockKind::NextResponse => match (t.last_agent_reply_at, t.last_customer_comment_at) {
            (Some(agent), Some(customer)) => customer > agent,
            _ => false,
        },
        ClockKind::PeriodicUpdate => t.first_response_at.is_some(),
        ClockKind::Resolution => true,
    }
}
