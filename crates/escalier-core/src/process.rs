//! Processing one input record: apply it, let reactors (policies, plugins)
//! react, apply their actions, and feed actions back to reactors that
//! subscribe to them, up to a depth limit.
//!
//! Semantics, which `escalier test` and `escalier replay` share with the
//! live server because they all call [`process`]:
//! - Reactors run in the order given; each sees the ticket with every
//!   earlier reaction already applied (so two policies guarding with
//!   `ticket.tier < 2` escalate once, not twice).
//! - Reactions are recorded at `(seq, 1)`, `(seq, 2)`, ... in the order
//!   produced, then offered to reactors in that order (breadth first).
//! - A record at depth `max_depth` is not offered to anyone; if some
//!   reactor wanted it, one `policy.error` (`depth_limit`) says so.
//! - At most `max_derived` records per input; past that, one
//!   `policy.error` (`too_many_actions`) and processing of the input stops.
//! - A reaction whose data breaks a rule becomes a `policy.error`
//!   (`invalid_action`) instead of being applied.
//! - After the input and after every derived record is applied,
//!   [`timers::on_record`] moves the ticket's SLA clocks and ladders; what
//!   it returns (`sla.*`, `ladder.*`, a ladder level's actions) is recorded
//!   right after that record with source `clock`, then offered to reactors
//!   like any reaction, under the same depth and flood limits. A
//!   `clock.due` input fires its deadline the same way.

use std::sync::Arc;

use crate::error::Rejection;
use crate::event::{Event, EventKind, PolicyError};
use crate::id::EventId;
use crate::record::{Producer, Record};
use crate::reduce;
use crate::ticket::Ticket;
use crate::timers::{self, Books};

/// Something that reacts to records: the policy set, the plugin host.
pub trait Reactor {
    /// Whether this reactor wants records of this type. Lets the processor
    /// skip reactors cheaply.
    fn wants(&self, event_type: &str) -> bool;

    /// React to `record`, seeing `ticket` after `record` was applied.
    /// Failures are reported as reactions too (`policy.error`), never as panics.
    ///
    /// Both arrive behind `Arc` so a reactor can hand them to a script or a
    /// plugin without copying; it must not keep them past the call (the
    /// processor mutates the ticket in place once the refcount is back to 1).
    fn react(&self, ticket: &Arc<Ticket>, record: &Arc<Record>, out: &mut Vec<Reaction>);
}

/// A reactor's output before it has a position in the log.
#[derive(Debug, Clone, PartialEq)]
pub struct Reaction {
    pub producer: Producer,
    pub kind: EventKind,
}

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Records at this depth are not fed back to reactors.
    pub max_depth: u8,
    /// Most records derived from one input.
    pub max_derived: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 4,
            max_derived: 256,
        }
    }
}

/// The outcome for one input: the ticket after it and everything derived.
#[derive(Debug, Clone, PartialEq)]
pub struct Processed {
    pub ticket: Ticket,
    pub derived: Vec<Record>,
}

/// Apply `input` to `ticket` and run `reactors`, with the SLA policies and
/// ladders of `books`. Fails only if the input itself breaks the
/// lifecycle, which the writer has already ruled out for anything it
/// committed.
pub fn process(
    ticket: Option<Ticket>,
    input: &Arc<Record>,
    reactors: &[&dyn Reactor],
    limits: &Limits,
    books: &Books,
) -> Result<Processed, Rejection> {
    let mut ticket = Arc::new(reduce::apply(ticket, input)?);
    let mut derived: Vec<Arc<Record>> = Vec::new();
    let mut out = Vec::new();
    let mut i = 0usize;
    let ctx = Ctx {
        input,
        limits,
        books,
    };
    let timed = timers::on_record(Arc::make_mut(&mut ticket), books, input);
    let mut full = false;
    for kind in timed {
        if push(&mut ticket, &mut derived, &ctx, 0, 0, clock(kind)).is_err() {
            full = true;
            break;
        }
    }
    'records: while !full && i <= derived.len() {
        let (type_name, depth) = {
            let rec = if i == 0 { input } else { &derived[i - 1] };
            (rec.event.type_name(), rec.depth())
        };
        for reactor in reactors {
            if !reactor.wants(type_name) {
                continue;
            }
            if depth >= limits.max_depth {
                let err = system_error(
                    "depth_limit",
                    format!(
                        "`{type_name}` was not fed back to policies: {} levels of actions reacting to \
                         actions is the limit; look for policies that react to their own actions",
                        limits.max_depth
                    ),
                );
                if push(&mut ticket, &mut derived, &ctx, i, depth, err).is_err() {
                    break 'records;
                }
                break;
            }
            {
                let rec = if i == 0 { input } else { &derived[i - 1] };
                reactor.react(&ticket, rec, &mut out);
            }
            for reaction in out.drain(..) {
                if push(&mut ticket, &mut derived, &ctx, i, depth, reaction).is_err() {
                    break 'records;
                }
            }
        }
        i += 1;
    }
    Ok(Processed {
        ticket: Arc::unwrap_or_clone(ticket),
        derived: derived.into_iter().map(Arc::unwrap_or_clone).collect(),
    })
}

fn system_error(code: &str, message: String) -> Reaction {
    Reaction {
        producer: Producer::System,
        kind: EventKind::PolicyError(PolicyError {
            policy: "*".into(),
            code: code.into(),
            message,
            line: None,
            column: None,
        }),
    }
}

fn clock(kind: EventKind) -> Reaction {
    Reaction {
        producer: Producer::Clock,
        kind,
    }
}

struct Full;

/// What every `push` for one input shares.
struct Ctx<'a> {
    input: &'a Record,
    limits: &'a Limits,
    books: &'a Books,
}

/// Record one reaction at the next index and apply it to the ticket, then
/// record what the timers make of it, right after it.
fn push(
    ticket: &mut Arc<Ticket>,
    derived: &mut Vec<Arc<Record>>,
    ctx: &Ctx<'_>,
    trigger: usize,
    trigger_depth: u8,
    reaction: Reaction,
) -> Result<(), Full> {
    let Ctx {
        input,
        limits,
        books,
    } = *ctx;
    let room = limits.max_derived as usize;
    let (producer, kind) = if derived.len() + 1 >= room {
        if derived.len() + 1 > room {
            return Err(Full);
        }
        // The last slot explains why processing stopped.
        let Reaction { producer, kind } = system_error(
            "too_many_actions",
            format!("stopped after {room} records derived from one event; the rest were dropped"),
        );
        (producer, kind)
    } else {
        match reaction.kind.validate() {
            Ok(()) => (reaction.producer, reaction.kind),
            Err(r) => {
                let policy = reaction.producer.name().to_owned();
                (
                    reaction.producer,
                    EventKind::PolicyError(PolicyError {
                        policy,
                        code: "invalid_action".into(),
                        message: format!("{} refused: {r}", reaction.kind.type_name()),
                        line: None,
                        column: None,
                    }),
                )
            }
        }
    };
    let full = derived.len() + 1 >= room;
    let index = derived.len() as u32 + 1;
    let trigger = trigger as u32;
    let depth = trigger_depth.saturating_add(1);
    let source = producer.at(trigger, depth);
    let rec = Record {
        seq: input.seq,
        index,
        recorded_at: input.recorded_at,
        source,
        event: Event {
            id: derived_id(input.seq, index),
            ticket_id: input.event.ticket_id.clone(),
            occurred_at: input.recorded_at,
            kind,
        },
    };
    // Derived records skip lifecycle checks; applying them to an existing
    // ticket cannot fail, and if it ever did the ticket is left unchanged.
    let _ = reduce::apply_to(Arc::make_mut(ticket), &rec);
    let timed = timers::on_record(Arc::make_mut(ticket), books, &rec);
    derived.push(Arc::new(rec));
    if full {
        return Err(Full);
    }
    for kind in timed {
        push(ticket, derived, ctx, index as usize, depth, clock(kind))?;
    }
    Ok(())
}

/// Id of a derived record: `esc:<seq>.<index>`.
pub fn derived_id(seq: u64, index: u32) -> EventId {
    EventId::new(format!("esc:{seq}.{index}"))
        .unwrap_or_else(|_| unreachable!("digits and punctuation only"))
}

#[cfg(test)]
mod tests;
