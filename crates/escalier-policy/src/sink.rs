//! Per-run state the script API writes to: the actions taken so far, the
//! run's deadline, and which policy is running (for `print`).
//!
//! Thread-local because a run is synchronous: one policy, one event, on
//! the calling thread, start to finish. [`begin`] resets everything, so a
//! run that panicked cannot leak actions into the next one.

use std::cell::{Cell, RefCell};
use std::time::Instant;

use escalier_core::Action;
use rhai::{EvalAltResult, ImmutableString, Position};

use crate::api::ApiError;

thread_local! {
    // Separate from RUN: `on_progress` reads it on every 256th operation,
    // and a `Cell` read is cheaper than a `RefCell` borrow.
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
    static RUN: RefCell<Run> = RefCell::new(Run::default());
}

#[derive(Default)]
struct Run {
    policy: ImmutableString,
    actions: Vec<Action>,
    max_actions: usize,
    /// Where the first action past `max_actions` was attempted. Sticky: a
    /// script that catches the error still fails, since it has lost actions.
    overflow: Option<Position>,
}

/// Start a run of `policy`.
pub(crate) fn begin(policy: &ImmutableString, deadline: Instant, max_actions: usize) {
    DEADLINE.with(|d| d.set(Some(deadline)));
    RUN.with(|r| {
        let mut r = r.borrow_mut();
        r.policy.clone_from(policy);
        r.actions.clear();
        r.max_actions = max_actions;
        r.overflow = None;
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
    DEADLINE.with(|d| d.set(None));
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
    DEADLINE.with(|d| d.set(None));
    RUN.with(|r| r.borrow_mut().actions.clear());
}

pub(crate) fn past_deadline() -> bool {
    DEADLINE
        .with(|d| d.get())
        .is_some_and(|deadline| Instant::now() >= deadline)
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
