//! Per-ticket ladder state ([`LadderSet`]) and the pure functions that move
//! it: start, stop, reach the next step when due, re-derive on a reload.
//!
//! A run keeps only what cannot be recomputed: which ladder, why, how far
//! it got (levels reached, the last level and its cycle), when that level
//! was reached, and how it ended. The next step and its due instant are
//! derived from these and the ladder's definition.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{Ladder, LadderBook, LevelTarget};
use crate::sla::{FireRefused, is_late};

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LadderState {
    /// Walking its levels.
    Running,
    /// Someone acknowledged (`ladder.acknowledged`).
    Acknowledged,
    /// `stop_ladder`, or the ladder was removed from the file.
    Stopped,
    /// The ticket was solved or closed.
    Resolved,
    /// Every level of every cycle timed out (`ladder.exhausted`).
    Exhausted,
}

/// How and when a run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LadderEnd {
    pub at: Timestamp,
    /// Who acknowledged, or the policy that stopped it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// The acknowledgement's note or the stop's reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The latest run of one ladder on a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LadderRun {
    ladder: String,
    /// Runs of this ladder on this ticket before this one: names deadlines
    /// so one from an earlier run is never fired.
    #[serde(default, skip_serializing_if = "is_zero")]
    run: u32,
    reason: String,
    started_at: Timestamp,
    /// Levels reached in this run, repeats included (1 once started).
    reached: u32,
    /// The last level reached, 1-based.
    level: u32,
    /// The walk it was reached in: 0 first, 1 the first repeat, ...
    #[serde(default, skip_serializing_if = "is_zero")]
    cycle: u32,
    /// When the last level was reached: its timeout runs from here.
    since: Timestamp,
    state: LadderState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ended: Option<LadderEnd>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What the next step of a running run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    /// Reach a level (`ladder.level_reached`).
    Level,
    /// Give up (`ladder.exhausted`).
    Exhausted,
}

/// The next step of a running run, and when it is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NextStep {
    pub kind: StepKind,
    /// The level it reaches (for `exhausted`: the last one reached).
    pub level: u32,
    pub cycle: u32,
    /// Levels reached before it: the step's number within the run.
    pub step: u32,
    pub at: Timestamp,
}

/// A step to index: `ladder:<name>:<run>:<step>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LadderDeadline {
    pub due: Timestamp,
    pub ladder: String,
    pub run: u32,
    pub step: u32,
}

/// The data of `ladder.level_reached`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LevelReached {
    pub ladder: String,
    pub run: u32,
    /// 1-based.
    pub level: u32,
    /// Levels in the ladder.
    pub levels: u32,
    /// 0 on the first walk, 1 on the first repeat, ...
    pub cycle: u32,
    /// What the level does. Informational: the effects are the `action.*`
    /// records that follow this one.
    pub target: LevelTarget,
    /// Why the ladder was started.
    pub reason: String,
    /// When the step was due (the start, for level 1).
    pub due: Timestamp,
    pub reached_at: Timestamp,
    /// Reached more than a second after `due` (downtime, lag).
    pub late: bool,
    /// When the next step is due if nobody acknowledges.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_at: Option<Timestamp>,
}

/// The data of `ladder.exhausted`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LadderExhausted {
    pub ladder: String,
    pub run: u32,
    /// Levels reached in the run, repeats included.
    pub reached: u32,
    /// Walks made.
    pub cycles: u32,
    pub reason: String,
    pub due: Timestamp,
    pub at: Timestamp,
    pub late: bool,
}

/// One step taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LadderStep {
    Level(LevelReached),
    Exhausted(LadderExhausted),
}

/// Why a ladder did not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StartRefused {
    #[error("no ladder named `{name}` in ladders.toml{}", suggestion.as_ref().map(|s| format!("; did you mean `{s}`?")).unwrap_or_default())]
    UnknownLadder {
        name: String,
        suggestion: Option<String>,
    },
    /// Already running: starting it again does nothing.
    #[error("ladder `{0}` is already running on this ticket")]
    AlreadyRunning(String),
}

/// A run as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LadderView {
    pub ladder: String,
    pub run: u32,
    pub state: LadderState,
    pub reason: String,
    pub started_at: Timestamp,
    /// The last level reached and its cycle.
    pub level: u32,
    pub cycle: u32,
    /// Levels and repeats of the ladder as now defined (0 if it was removed).
    pub levels: u32,
    pub repeat: u32,
    /// What the last level reached did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<LevelTarget>,
    /// The next step while running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<NextStep>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<LadderEnd>,
}

impl LadderRun {
    pub fn ladder(&self) -> &str {
        &self.ladder
    }

    pub fn run(&self) -> u32 {
        self.run
    }

    pub fn reason(&self) -> &str {
        &self.reason
    }

    pub fn started_at(&self) -> Timestamp {
        self.started_at
    }

    pub fn reached(&self) -> u32 {
        self.reached
    }

    pub fn level(&self) -> u32 {
        self.level
    }

    pub fn cycle(&self) -> u32 {
        self.cycle
    }

    pub fn since(&self) -> Timestamp {
        self.since
    }

    pub fn state(&self) -> LadderState {
        self.state
    }

    pub fn ended(&self) -> Option<&LadderEnd> {
        self.ended.as_ref()
    }

    pub fn is_running(&self) -> bool {
        self.state == LadderState::Running
    }

    /// The next step, if running and it can come due.
    pub fn next(&self, ladder: &Ladder) -> Option<NextStep> {
        if !self.is_running() {
            return None;
        }
        let levels = u32::try_from(ladder.levels.len()).unwrap_or(u32::MAX);
        // The level's own timeout; if a reload removed it, the last level's.
        let after = ladder.level(self.level.min(levels))?.after;
        let at = ladder.timeout_from(self.since, after)?;
        let (kind, level, cycle) = if self.level < levels {
            (StepKind::Level, self.level + 1, self.cycle)
        } else if self.cycle < ladder.repeat {
            (StepKind::Level, 1, self.cycle + 1)
        } else {
            (StepKind::Exhausted, self.level, self.cycle)
        };
        Some(NextStep {
            kind,
            level,
            cycle,
            step: self.reached,
            at,
        })
    }

    /// Take `next` at `now`.
    fn take(&mut self, ladder: &Ladder, next: NextStep, now: Timestamp) -> LadderStep {
        match next.kind {
            StepKind::Level => {
                self.reached = self.reached.saturating_add(1);
                self.level = next.level;
                self.cycle = next.cycle;
                self.since = now;
                LadderStep::Level(self.reached_data(ladder, next.at, now))
            }
            StepKind::Exhausted => {
                self.state = LadderState::Exhausted;
                self.ended = Some(LadderEnd {
                    at: now,
                    by: None,
                    note: None,
                });
                LadderStep::Exhausted(LadderExhausted {
                    ladder: self.ladder.clone(),
                    run: self.run,
                    reached: self.reached,
                    cycles: self.cycle + 1,
                    reason: self.reason.clone(),
                    due: next.at,
                    at: now,
                    late: is_late(next.at, now),
                })
            }
        }
    }

    fn reached_data(&self, ladder: &Ladder, due: Timestamp, now: Timestamp) -> LevelReached {
        LevelReached {
            ladder: self.ladder.clone(),
            run: self.run,
            level: self.level,
            levels: u32::try_from(ladder.levels.len()).unwrap_or(u32::MAX),
            cycle: self.cycle,
            target: ladder
                .level(self.level)
                .map(|l| l.target.clone())
                .unwrap_or_default(),
            reason: self.reason.clone(),
            due,
            reached_at: now,
            late: is_late(due, now),
            next_at: self.next(ladder).map(|n| n.at),
        }
    }

    fn end(&mut self, state: LadderState, end: LadderEnd) {
        self.state = state;
        self.ended = Some(end);
    }
}

/// The ladders of one ticket: the latest run of each ladder started on it.
/// Small and serializable, stored as a field of the ticket.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LadderSet {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    runs: Vec<LadderRun>,
}

impl LadderSet {
    pub fn new() -> LadderSet {
        LadderSet::default()
    }

    /// Latest runs, in the order the ladders were first started.
    pub fn runs(&self) -> &[LadderRun] {
        &self.runs
    }

    pub fn run(&self, ladder: &str) -> Option<&LadderRun> {
        self.runs.iter().find(|r| r.ladder == ladder)
    }

    pub fn is_running(&self, ladder: &str) -> bool {
        self.run(ladder).is_some_and(LadderRun::is_running)
    }

    /// Start `name` at `at` and reach its level 1 at once. Refused if the
    /// ladder is unknown or already running (then nothing changes). A
    /// ladder that ran before on this ticket starts a new run from level 1.
    pub fn start(
        &mut self,
        book: &LadderBook,
        name: &str,
        reason: &str,
        at: Timestamp,
    ) -> Result<LadderStep, StartRefused> {
        let Some(ladder) = book.ladder(name) else {
            return Err(StartRefused::UnknownLadder {
                name: name.to_owned(),
                suggestion: crate::suggest::nearest(name, book.ladders.keys().map(String::as_str))
                    .map(str::to_owned),
            });
        };
        let run = match self.runs.iter().position(|r| r.ladder == name) {
            Some(i) if self.runs[i].is_running() => {
                return Err(StartRefused::AlreadyRunning(name.to_owned()));
            }
            Some(i) => {
                let n = self.runs[i].run.saturating_add(1);
                self.runs[i] = LadderRun::new(name, n, reason, at);
                &mut self.runs[i]
            }
            None => {
                self.runs.push(LadderRun::new(name, 0, reason, at));
                let last = self.runs.len() - 1;
                &mut self.runs[last]
            }
        };
        Ok(LadderStep::Level(run.reached_data(ladder, at, at)))
    }

    /// End running runs: the one named, or all of them. Returns the names
    /// of the runs ended.
    pub fn stop(
        &mut self,
        ladder: Option<&str>,
        state: LadderState,
        end: LadderEnd,
    ) -> Vec<String> {
        let mut out = Vec::new();
        for r in &mut self.runs {
            if r.is_running() && ladder.is_none_or(|n| n == r.ladder) {
                r.end(state, end.clone());
                out.push(r.ladder.clone());
            }
        }
        out
    }

    /// Take every step due before `at` (or at `at` if `inclusive`): at most
    /// one per run, since a step reached at `at` gives the next a full timeout.
    pub fn fire_due(
        &mut self,
        book: &LadderBook,
        at: Timestamp,
        inclusive: bool,
    ) -> Vec<LadderStep> {
        let mut out = Vec::new();
        for r in &mut self.runs {
            let Some(ladder) = book.ladder(&r.ladder) else {
                continue;
            };
            if let Some(next) = r.next(ladder)
                && (next.at < at || (inclusive && next.at == at))
            {
                out.push(r.take(ladder, next, at));
            }
        }
        out
    }

    /// The next step of each running run.
    pub fn deadlines<'a>(
        &'a self,
        book: &'a LadderBook,
    ) -> impl Iterator<Item = LadderDeadline> + 'a {
        self.runs.iter().filter_map(|r| {
            let next = r.next(book.ladder(&r.ladder)?)?;
            Some(LadderDeadline {
                due: next.at,
                ladder: r.ladder.clone(),
                run: r.run,
                step: next.step,
            })
        })
    }

    /// Take step `step` of run `run` of `ladder` at `now`. Never early
    /// (`NotDue`), once (`AlreadyFired`), and only for the run and step the
    /// ladder is at now (`Stale`).
    pub fn fire(
        &mut self,
        book: &LadderBook,
        ladder: &str,
        run: u32,
        step: u32,
        now: Timestamp,
    ) -> Result<LadderStep, FireRefused> {
        let r = self
            .runs
            .iter_mut()
            .find(|r| r.ladder == ladder && r.run == run)
            .ok_or(FireRefused::Stale)?;
        let def = book.ladder(ladder).ok_or(FireRefused::Stale)?;
        if step < r.reached || (r.state == LadderState::Exhausted && step == r.reached) {
            return Err(FireRefused::AlreadyFired);
        }
        let next = r.next(def).ok_or(FireRefused::Stale)?;
        if next.step != step {
            return Err(FireRefused::Stale);
        }
        if next.at > now {
            return Err(FireRefused::NotDue { due: next.at });
        }
        Ok(r.take(def, next, now))
    }

    /// The ladders file was reloaded: runs of a ladder that no longer
    /// exists stop. Others carry on under their new definition (levels,
    /// timeouts, calendar), keeping how far they got.
    pub fn rebind(&mut self, new: &LadderBook, at: Timestamp) {
        for r in &mut self.runs {
            if r.is_running() && new.ladder(&r.ladder).is_none() {
                r.end(
                    LadderState::Stopped,
                    LadderEnd {
                        at,
                        by: None,
                        note: Some("removed from ladders.toml".to_owned()),
                    },
                );
            }
        }
    }

    /// The runs as of `now`, for the API.
    pub fn view(&self, book: &LadderBook) -> Vec<LadderView> {
        self.runs
            .iter()
            .map(|r| {
                let def = book.ladder(&r.ladder);
                LadderView {
                    ladder: r.ladder.clone(),
                    run: r.run,
                    state: r.state,
                    reason: r.reason.clone(),
                    started_at: r.started_at,
                    level: r.level,
                    cycle: r.cycle,
                    levels: def.map_or(0, |l| u32::try_from(l.levels.len()).unwrap_or(u32::MAX)),
                    repeat: def.map_or(0, |l| l.repeat),
                    target: def.and_then(|l| l.level(r.level)).map(|l| l.target.clone()),
                    next: def.and_then(|l| r.next(l)),
                    ended: r.ended.clone(),
                }
            })
            .collect()
    }
}

impl LadderRun {
    fn new(ladder: &str, run: u32, reason: &str, at: Timestamp) -> LadderRun {
        LadderRun {
            ladder: ladder.to_owned(),
            run,
            reason: reason.to_owned(),
            started_at: at,
            reached: 1,
            level: 1,
            cycle: 0,
            since: at,
            state: LadderState::Running,
            ended: None,
        }
    }
}

impl LadderDeadline {
    /// The index key: `ladder:<name>:<run>:<step>`.
    pub fn key(&self) -> String {
        format!("ladder:{}:{}:{}", self.ladder, self.run, self.step)
    }
}
