//! Per-run state the script API writes to: the actions taken so far, the
//! run's budget (deadline and operations), which policy is running, and
//! how much it has logged.
//!
//! Thread-local because a run is synchronous: one policy, one event, on
//! the calling thread, start to finish. [`begin`] resets everything, so a
//! run that panicked cannot leak actions, budget or log quota into the next.
//!
//! # The budget
//!
//! Rhai counts one operation per expression or call, whatever the call
//! does. Built-ins whose work grows with their input (`contains_any` over a
//! long text and many words) add what they did with [`charge`], so the
//! operation limit bounds the work of a run and not only its length in
//! expressions. Invariant: Rhai's count (as last seen by `on_progress`,
//! at most [`CLOCK_CHECK_EVERY`] behind) plus the charged work never
//! passes `max_operations` by more than [`CLOCK_CHECK_EVERY`] before the
//! run stops; and the clock is looked at every [`CLOCK_CHECK_EVERY`]
//! operations, counted either way.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::time::Instant;

use escalier_core::Action;
use rhai::{Dynamic, EvalAltResult, ImmutableString, Position};

use crate::api::ApiError;

/// How many operations pass between two looks at the clock. Reading the
/// clock costs about as much as one or two operations, so every 128 keeps
/// the check near 1% of run time. It also bounds how far past its deadline
/// a run can go: 128 operations, each either cheap or (a Rhai string
/// built-in over a `max_string_size` text, a fraction of a millisecond)
/// bounded by the string limit; built-ins that do more charge their work
/// and so reach the clock sooner.
pub(crate) const CLOCK_CHECK_EVERY: u64 = 128;

/// Longest `print`/`debug` line, in bytes; longer ones are cut (as plugin
/// log lines are).
pub(crate) const MAX_LOG_LINE: usize = 4096;
/// Most `print`/`debug` lines one run may write.
pub(crate) const MAX_LOG_LINES: u32 = 64;
/// Most `print`/`debug` bytes one run may write.
pub(crate) const MAX_LOG_BYTES: usize = 32 * 1024;

/// The value a run is stopped with when its time is up.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TimeUp;

/// The value a run is stopped with when Rhai's operations plus the work
/// charged by built-ins pass `max_operations`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OutOfOperations;

thread_local! {
    // Separate from RUN: `on_progress` reads it every 128th operation, and
    // a `Cell` read is cheaper than a `RefCell` borrow.
    static BUDGET: Cell<Budget> = const { Cell::new(Budget::IDLE) };
    static RUN: RefCell<Run> = RefCell::new(Run::default());
}

#[derive(Clone, Copy)]
struct Budget {
    deadline: Option<Instant>,
    max_operations: u64,
    /// Rhai's operation count when `on_progress` last reported it.
    seen: u64,
    /// Work charged by built-ins, in operations.
    charged: u64,
    /// `charged` at which the clock is next looked at.
    next_clock_check: u64,
}

impl Budget {
    const IDLE: Budget = Budget {
        deadline: None,
        max_operations: u64::MAX,
        seen: 0,
        charged: 0,
        next_clock_check: CLOCK_CHECK_EVERY,
    };

    fn past_deadline(&self) -> bool {
        self.deadline
            .is_some_and(|deadline| Instant::now() >= deadline)
    }

    fn over(&self) -> bool {
        self.seen.saturating_add(self.charged) > self.max_operations
    }
}

#[derive(Default)]
struct Run {
    policy: ImmutableString,
    actions: Vec<Action>,
    max_actions: usize,
    /// Where the first action past `max_actions` was attempted. Sticky: a
    /// script that catches the error still fails, since it has lost actions.
    overflow: Option<Position>,
    log_lines: u32,
    log_bytes: usize,
}

/// Start a run of `policy`.
pub(crate) fn begin(
    policy: &ImmutableString,
    deadline: Instant,
    max_operations: u64,
    max_actions: usize,
) {
    BUDGET.with(|b| {
        b.set(Budget {
            deadline: Some(deadline),
            max_operations,
            ..Budget::IDLE
        })
    });
    RUN.with(|r| {
        let mut r = r.borrow_mut();
        r.policy.clone_from(policy);
        r.actions.clear();
        r.max_actions = max_actions;
        r.overflow = None;
        r.log_lines = 0;
        r.log_bytes = 0;
    });
}

/// Record an action taken by the running policy.
pub(crate) fn push(action: Action, pos: Position) -> Result<(), Box<EvalAltResult>> {
    RUN.with(|r| {
        let mut r = r.borrow_mut();
        if r.actions.len() >= r.max_actions {
            r.overflow.get_or_insert(pos);
            return Err(ApiError::too_many_actions(r.max_actions).into_eval());
        }
        r.actions.push(action);
        Ok(())
    })
}

/// End the run. On success hands every action to `take` in order and
/// returns `Ok`; if the run overflowed its action budget, drops them and
/// returns where.
pub(crate) fn finish(mut take: impl FnMut(Action)) -> Result<(), (Position, usize)> {
    BUDGET.with(|b| b.set(Budget::IDLE));
    RUN.with(|r| {
        let mut r = r.borrow_mut();
        if let Some(pos) = r.overflow {
            r.actions.clear();
            return Err((pos, r.max_actions));
        }
        r.actions.drain(..).for_each(&mut take);
        Ok(())
    })
}

/// End a run that failed: its actions are dropped.
pub(crate) fn discard() {
    BUDGET.with(|b| b.set(Budget::IDLE));
    RUN.with(|r| r.borrow_mut().actions.clear());
}

/// `on_progress`, every [`CLOCK_CHECK_EVERY`] operations: Rhai has done
/// `ops` operations. `Some` stops the run.
pub(crate) fn progress(ops: u64) -> Option<Dynamic> {
    BUDGET.with(|cell| {
        let mut b = cell.get();
        b.seen = ops;
        cell.set(b);
        if b.over() {
            Some(Dynamic::from(OutOfOperations))
        } else if b.past_deadline() {
            Some(Dynamic::from(TimeUp))
        } else {
            None
        }
    })
}

/// Count `ops` operations of work done by a built-in against the run's
/// budget, and look at the clock when enough work has passed. An error
/// stops the run (neither can be caught by the script); `pos` is the call.
pub(crate) fn charge(ops: u64, pos: Position) -> Result<(), Box<EvalAltResult>> {
    BUDGET.with(|cell| {
        let mut b = cell.get();
        b.charged = b.charged.saturating_add(ops);
        let look_at_clock = b.charged >= b.next_clock_check;
        if look_at_clock {
            b.next_clock_check = b.charged.saturating_add(CLOCK_CHECK_EVERY);
        }
        cell.set(b);
        if b.over() {
            Err(EvalAltResult::ErrorTooManyOperations(pos).into())
        } else if look_at_clock && b.past_deadline() {
            Err(EvalAltResult::ErrorTerminated(Dynamic::from(TimeUp), pos).into())
        } else {
            Ok(())
        }
    })
}

/// Work measured in bytes examined, charged as operations: one operation
/// per [`Meter::BYTES_PER_OP`] bytes. Charges in batches so a loop over many
/// small pieces does not touch the thread-local each time; a batch is small
/// enough (a few operations' worth) that no built-in outruns its budget by
/// more than that between two charges.
pub(crate) struct Meter {
    bytes: u64,
    pos: Position,
}

impl Meter {
    /// Bytes of text one operation stands for. An operation costs tens of
    /// nanoseconds; scanning a byte for a word a fraction of one, walking
    /// it char by char (lowercasing non-ASCII text) a few.
    pub const BYTES_PER_OP: u64 = 64;
    /// Charge once this many operations' worth has built up.
    const BATCH: u64 = 16 * Self::BYTES_PER_OP;

    pub fn new(pos: Position) -> Self {
        Meter { bytes: 0, pos }
    }

    /// `bytes` more examined.
    pub fn add(&mut self, bytes: usize) -> Result<(), Box<EvalAltResult>> {
        self.bytes = self
            .bytes
            .saturating_add(u64::try_from(bytes).unwrap_or(u64::MAX));
        if self.bytes >= Self::BATCH {
            self.flush()
        } else {
            Ok(())
        }
    }

    /// Charge what has built up (rounded down; the rest carries over).
    pub fn flush(&mut self) -> Result<(), Box<EvalAltResult>> {
        let ops = self.bytes / Self::BYTES_PER_OP;
        self.bytes %= Self::BYTES_PER_OP;
        if ops == 0 {
            return Ok(());
        }
        charge(ops, self.pos)
    }
}

/// Call `f` with the running policy's name (`""` outside a run).
pub(crate) fn with_policy(f: impl FnOnce(&str)) {
    // try_borrow: print is never called while RUN is borrowed, but a log
    // line is not worth a panic if that ever changes.
    RUN.with(|r| match r.try_borrow() {
        Ok(r) => f(r.policy.as_str()),
        Err(_) => f("?"),
    });
}

/// What a `print`/`debug` call may write, within the run's quota.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum LogLine<'a> {
    /// Write this (the text, or its first [`MAX_LOG_LINE`] bytes and a note).
    Write(Cow<'a, str>),
    /// The quota ran out at this call: write a note that the rest of the
    /// run's output is dropped, once.
    QuotaReached,
    /// Write nothing.
    Drop,
}

/// Count `text` against the running policy's log quota and say what to write.
pub(crate) fn log_line(text: &str) -> LogLine<'_> {
    let line = cut(text, MAX_LOG_LINE);
    RUN.with(|r| {
        let Ok(mut r) = r.try_borrow_mut() else {
            return LogLine::Drop;
        };
        let fits = r.log_lines < MAX_LOG_LINES && r.log_bytes + line.len() <= MAX_LOG_BYTES;
        let first_refusal = r.log_lines <= MAX_LOG_LINES && !fits;
        if fits {
            r.log_lines += 1;
            r.log_bytes += line.len();
            LogLine::Write(line)
        } else if first_refusal {
            // Past MAX_LOG_LINES: later calls are dropped without a note.
            r.log_lines = MAX_LOG_LINES + 1;
            LogLine::QuotaReached
        } else {
            LogLine::Drop
        }
    })
}

/// `text`, or its first `max` bytes (at a char boundary) and a note saying how much was cut.
fn cut(text: &str, max: usize) -> Cow<'_, str> {
    if text.len() <= max {
        return Cow::Borrowed(text);
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!(
        "{}… ({} more bytes not logged)",
        &text[..end],
        text.len() - end
    ))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn start(max_operations: u64, time: Duration) {
        begin(&"p.rhai".into(), Instant::now() + time, max_operations, 32);
    }

    #[test]
    fn charged_work_and_rhai_operations_share_one_budget() {
        start(1000, Duration::from_secs(600));
        assert!(progress(256).is_none());
        assert!(charge(700, Position::NONE).is_ok());
        assert!(
            charge(100, Position::NONE).is_err(),
            "256 seen + 800 charged is over 1000"
        );
        start(1000, Duration::from_secs(600));
        assert!(charge(900, Position::NONE).is_ok());
        let stop = progress(256).expect("Rhai's count plus the charge is over the limit");
        assert!(stop.is::<OutOfOperations>());
        discard();
    }

    #[test]
    fn charging_looks_at_the_clock() {
        start(u64::MAX, Duration::ZERO);
        // Below one clock period: not looked at yet.
        assert!(charge(CLOCK_CHECK_EVERY - 1, Position::NONE).is_ok());
        let err = charge(1, Position::new(3, 5)).expect_err("the deadline has passed");
        match *err {
            EvalAltResult::ErrorTerminated(token, pos) => {
                assert!(token.is::<TimeUp>());
                assert_eq!(pos, Position::new(3, 5));
            }
            other => panic!("{other:?}"),
        }
        discard();
    }

    #[test]
    fn a_meter_charges_bytes_as_operations() {
        start(10, Duration::from_secs(600));
        let mut m = Meter::new(Position::NONE);
        m.add(usize::try_from(Meter::BYTES_PER_OP * 10).unwrap())
            .unwrap();
        m.flush().unwrap();
        assert!(m.add(usize::try_from(Meter::BATCH).unwrap()).is_err());
        discard();
    }

    #[test]
    fn log_lines_are_cut_and_counted_per_run() {
        start(u64::MAX, Duration::from_secs(600));
        let long = "é".repeat(MAX_LOG_LINE);
        let LogLine::Write(line) = log_line(&long) else {
            panic!("the first line is written");
        };
        assert!(line.len() < MAX_LOG_LINE + 64, "{}", line.len());
        assert!(line.ends_with("more bytes not logged)"), "{line}");

        let mut written = 1;
        let mut notes = 0;
        for _ in 0..1000 {
            match log_line("x") {
                LogLine::Write(_) => written += 1,
                LogLine::QuotaReached => notes += 1,
                LogLine::Drop => {}
            }
        }
        assert_eq!(written, MAX_LOG_LINES);
        assert_eq!(notes, 1, "one note when the quota runs out");

        // A new run has a new quota.
        start(u64::MAX, Duration::from_secs(600));
        assert_eq!(log_line("again"), LogLine::Write("again".into()));
        discard();
    }

    #[test]
    fn log_bytes_are_capped_per_run() {
        start(u64::MAX, Duration::from_secs(600));
        let line = "x".repeat(MAX_LOG_LINE);
        let mut bytes = 0;
        for _ in 0..MAX_LOG_LINES {
            if let LogLine::Write(l) = log_line(&line) {
                bytes += l.len();
            }
        }
        assert_eq!(bytes, MAX_LOG_BYTES);
        discard();
    }
}
