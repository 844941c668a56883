//! Running policies against one record: the hot path.
//!
//! Per `react` call: one `Scope` (thread-local, reused, so no allocation
//! after warm-up) holding `ticket` and `event` as constants; each
//! subscribed policy runs against it in order and the scope is rewound to
//! those two between policies, which is the same as a fresh scope since
//! scripts cannot change constants.
//!
//! Invariants:
//! - A run that fails contributes exactly one `policy.error` and no actions.
//! - A later policy sees the ticket with earlier policies' actions applied,
//!   as `escalier_core::process` promises for reactors. Only when an action
//!   was taken does this cost a private copy of the ticket.
//! - Nothing keeps the processor's `Arc`s after `react` returns: the scope
//!   is cleared on the way out.

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Instant;

use escalier_core::action::ApplyCtx;
use escalier_core::event::{EventKind, PolicyError};
use escalier_core::{Reaction, Record, Ticket};
use rhai::{Dynamic, EvalAltResult, Position, Scope};

use crate::api::{ApiError, EventView, TicketView};
use crate::diagnostic::line_col;
use crate::engine::PolicyEngine;
use crate::set::{Policy, PolicySet};
use crate::sink::{self, OutOfOperations, TimeUp};

thread_local! {
    static SCOPE: RefCell<Scope<'static>> = RefCell::new(Scope::new());
}

/// Run the policies at `indices` (in set order) against `record`.
pub(crate) fn react(
    set: &PolicySet,
    indices: &[u32],
    ticket: &Arc<Ticket>,
    record: &Arc<Record>,
    out: &mut Vec<Reaction>,
) {
    SCOPE.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scope) => run_all(set, indices, ticket, record, out, &mut scope),
        // Only if a policy run ever re-entered `react` on this thread.
        Err(_) => run_all(set, indices, ticket, record, out, &mut Scope::new()),
    });
}

fn fill(scope: &mut Scope<'static>, ticket: &Arc<Ticket>, record: &Arc<Record>) {
    scope.clear();
    scope.push_constant(
        "ticket",
        TicketView::new(Arc::clone(ticket), record.recorded_at),
    );
    scope.push_constant("event", EventView::new(Arc::clone(record)));
}

fn run_all(
    set: &PolicySet,
    indices: &[u32],
    ticket: &Arc<Ticket>,
    record: &Arc<Record>,
    out: &mut Vec<Reaction>,
    scope: &mut Scope<'static>,
) {
    let engine = set.engine();
    let mut view = Arc::clone(ticket);
    fill(scope, &view, record);
    // One clock read per policy: each run ends when the next one starts.
    let mut start = Instant::now();
    for (n, &i) in indices.iter().enumerate() {
        let Some(policy) = set.policies().get(i as usize) else {
            continue;
        };
        let first_new = out.len();
        start = run_one(engine, policy, scope, out, start);
        scope.rewind(2);

        let more_to_run = n + 1 < indices.len();
        if more_to_run
            && out[first_new..]
                .iter()
                .any(|r| matches!(r.kind, EventKind::Action(_)))
        {
            // Release the scope's reference first, or make_mut copies every time.
            scope.clear();
            let t = Arc::make_mut(&mut view);
            let ctx = ApplyCtx {
                at: record.recorded_at,
                seq: record.seq,
                index: record.index,
                by: policy.name(),
            };
            for r in &out[first_new..] {
                if let EventKind::Action(a) = &r.kind {
                    a.apply(t, ctx);
                }
            }
            fill(scope, &view, record);
            start = Instant::now();
        }
    }
    scope.clear();
}

/// One policy, one event, started at `start`. Pushes its actions, or one
/// `policy.error`. Returns when it finished.
fn run_one(
    engine: &PolicyEngine,
    policy: &Policy,
    scope: &mut Scope<'static>,
    out: &mut Vec<Reaction>,
    start: Instant,
) -> Instant {
    let limits = engine.limits();
    sink::begin(
        policy.name_rhai(),
        start + limits.max_time,
        limits.max_operations.max(1),
        limits.max_actions,
    );
    // Rhai does not panic on script errors; this is a backstop so a bug in
    // it or in our API cannot take the dispatcher down.
    let result = catch_unwind(AssertUnwindSafe(|| {
        engine.engine.run_ast_with_scope(scope, policy.ast())
    }));
    let failure = match result {
        Ok(Ok(())) => {
            let mut taken = |action| {
                out.push(Reaction {
                    producer: policy.producer(),
                    kind: EventKind::Action(action),
                })
            };
            match sink::finish(&mut taken) {
                Ok(()) => None,
                Err((pos, max)) => Some(Failure {
                    code: "too_many_actions",
                    message: ApiError::too_many_actions(max).message,
                    pos,
                }),
            }
        }
        Ok(Err(err)) => {
            sink::discard();
            Some(classify(*err, limits))
        }
        Err(_) => {
            sink::discard();
            Some(Failure {
                code: "internal_error",
                message: "the policy engine failed on this event; this is a bug in Escalier, please report it".into(),
                pos: Position::NONE,
            })
        }
    };
    let end = Instant::now();
    policy.record_eval(end.duration_since(start));
    if let Some(f) = failure {
        policy.record_error(f.code);
        tracing::warn!(
            target: "escalier::policy",
            policy = policy.name(),
            code = f.code,
            line = f.pos.line(),
            column = f.pos.position(),
            "policy failed: {}",
            f.message
        );
        let (line, column) = line_col(f.pos).unzip();
        out.push(Reaction {
            producer: policy.producer(),
            kind: EventKind::PolicyError(PolicyError {
                policy: policy.name().to_owned(),
                code: f.code.to_owned(),
                message: f.message,
                line,
                column,
            }),
        });
    }
    end
}

struct Failure {
    code: &'static str,
    message: String,
    pos: Position,
}

/// A Rhai error as a stable code, a message for a support-ops reader, and
/// the position in the policy file.
fn classify(err: EvalAltResult, limits: &crate::PolicyLimits) -> Failure {
    // An error inside a function defined in the file: report where it
    // happened, and say which call led there.
    if let EvalAltResult::ErrorInFunctionCall(name, _, inner, call_pos) = err {
        let mut f = classify(*inner, limits);
        if f.pos.is_none() {
            f.pos = call_pos;
        }
        if !name.starts_with("anon$") {
            f.message = format!("{} (in function `{name}`)", f.message);
        }
        return f;
    }
    let mut err = err;
    let pos = err.take_position();
    let (code, message) = match &err {
        EvalAltResult::ErrorTooManyOperations(_) => {
            ("too_many_operations", too_many_operations(limits))
        }
        EvalAltResult::ErrorTerminated(token, _) if token.is::<OutOfOperations>() => {
            ("too_many_operations", too_many_operations(limits))
        }
        EvalAltResult::ErrorTerminated(token, _) if token.is::<TimeUp>() => (
            "timeout",
            format!(
                "stopped after running for {:?}, the limit for one policy run",
                limits.max_time
            ),
        ),
        EvalAltResult::ErrorStackOverflow(_) => (
            "call_depth",
            format!(
                "functions called each other more than {} levels deep; look for recursion that does not end",
                limits.max_call_depth
            ),
        ),
        EvalAltResult::ErrorDataTooLarge(what, _) => {
            // Rhai says "Length of string", "Size of array/BLOB", "Size of object map".
            let (what, max) = if what.contains("string") {
                ("a string", format!("{} bytes", limits.max_string_size))
            } else if what.contains("map") {
                ("a map", format!("{} entries", limits.max_map_size))
            } else {
                ("an array", format!("{} items", limits.max_array_size))
            };
            (
                "data_too_large",
                format!("{what} grew past the limit of {max}"),
            )
        }
        EvalAltResult::ErrorTooManyVariables(_) => (
            "too_many_variables",
            format!("more than {} variables at once", limits.max_variables),
        ),
        EvalAltResult::ErrorRuntime(value, _) => match value.read_lock::<ApiError>() {
            Some(api) => (api.code, api.message.clone()),
            None => ("runtime_error", thrown_message(value)),
        },
        EvalAltResult::ErrorFunctionNotFound(..) => ("function_not_found", err.to_string()),
        EvalAltResult::ErrorVariableNotFound(..) | EvalAltResult::ErrorPropertyNotFound(..) => {
            ("not_found", err.to_string())
        }
        EvalAltResult::ErrorMismatchDataType(..)
        | EvalAltResult::ErrorMismatchOutputType(..)
        | EvalAltResult::ErrorIndexingType(..)
        | EvalAltResult::ErrorFor(..)
        | EvalAltResult::ErrorDotExpr(..) => ("type_mismatch", err.to_string()),
        EvalAltResult::ErrorArrayBounds(..)
        | EvalAltResult::ErrorStringBounds(..)
        | EvalAltResult::ErrorBitFieldBounds(..)
        | EvalAltResult::ErrorIndexNotFound(..) => ("index_out_of_bounds", err.to_string()),
        EvalAltResult::ErrorArithmetic(..) => ("arithmetic", err.to_string()),
        EvalAltResult::ErrorAssignmentToConstant(..)
        | EvalAltResult::ErrorNonPureMethodCallOnConstant(..) => ("read_only", err.to_string()),
        _ => ("runtime_error", err.to_string()),
    };
    Failure { code, message, pos }
}

fn too_many_operations(limits: &crate::PolicyLimits) -> String {
    format!(
        "stopped after {} operations, the limit for one policy run; look for a loop that does not \
         end, or a helper searching many words in long texts",
        limits.max_operations
    )
}

/// `throw "refund over limit"` reads as that text, not as a debug dump.
fn thrown_message(value: &Dynamic) -> String {
    match value.read_lock::<rhai::ImmutableString>() {
        Some(s) => s.to_string(),
        None => format!("the policy threw {value}"),
    }
}
