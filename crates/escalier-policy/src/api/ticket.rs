//! `ticket`: a read-only view of the ticket a policy runs on.
//!
//! The view holds the processor's `Arc<Ticket>` and reads from it on
//! demand: nothing is copied into a map up front, so a policy that looks
//! at two fields pays for two fields. Absent optional values are `()`.
//!
//! Reads whose cost grows with the ticket (a custom field's JSON, lists that
//! grow with the ticket's history) charge it to the run's operation budget.

use std::sync::Arc;

use escalier_core::Ticket;
use escalier_core::ticket::ApprovalState;
use jiff::Timestamp;
use rhai::{Array, Dynamic, Engine, EvalAltResult, INT, ImmutableString, NativeCallContext};

use super::value;
use crate::sink::Meter;

type Res<T> = Result<T, Box<EvalAltResult>>;

/// Charge looking at `items` list entries (names of checklists, approvals).
fn charge_items(ctx: &NativeCallContext, items: usize) -> Res<()> {
    let mut meter = Meter::new(ctx.call_position());
    meter.add(items.saturating_mul(value::NODE_BYTES))?;
    meter.flush()
}

/// What `ticket` is in a script. Lives only for one `react` call.
#[derive(Clone)]
pub(crate) struct TicketView {
    pub ticket: Arc<Ticket>,
    /// When the event being handled was recorded: "now" for this run, so
    /// `age_minutes` is the same live and in a replay.
    pub now: Timestamp,
}

impl TicketView {
    pub fn new(ticket: Arc<Ticket>, now: Timestamp) -> Self {
        TicketView { ticket, now }
    }
}

fn minutes(from: Timestamp, to: Timestamp) -> INT {
    to.duration_since(from).as_secs() / 60
}

pub(super) fn register(engine: &mut Engine) {
    engine.register_type_with_name::<TicketView>("Ticket");
    engine.register_fn("to_string", |t: &mut TicketView| {
        format!("Ticket({})", t.ticket.id)
    });
    engine.register_fn("to_debug", |t: &mut TicketView| {
        format!("Ticket({})", t.ticket.id)
    });

    engine.register_get("id", |t: &mut TicketView| -> ImmutableString {
        t.ticket.id.as_str().into()
    });
    engine.register_get("subject", |t: &mut TicketView| -> ImmutableString {
        t.ticket.subject.as_str().into()
    });
    engine.register_get("description", |t: &mut TicketView| -> ImmutableString {
        t.ticket.description.as_str().into()
    });
    engine.register_get("status", |t: &mut TicketView| {
        value::word(t.ticket.status.as_str())
    });
    engine.register_get("priority", |t: &mut TicketView| {
        value::word(t.ticket.priority.as_str())
    });
    engine.register_get("channel", |t: &mut TicketView| {
        value::word(t.ticket.channel.as_str())
    });
    engine.register_get("tier", |t: &mut TicketView| -> INT {
        t.ticket.tier.get().into()
    });
    engine.register_get("team", |t: &mut TicketView| {
        value::opt_string(t.ticket.team.as_deref())
    });
    engine.register_get("agent", |t: &mut TicketView| {
        value::opt_string(t.ticket.agent.as_deref())
    });
    engine.register_get("is_open", |t: &mut TicketView| t.ticket.is_open());

    engine.register_get("tags", |t: &mut TicketView| -> Array {
        t.ticket.tags.iter().map(|s| value::string(s)).collect()
    });
    engine.register_fn("has_tag", |t: &mut TicketView, tag: &str| {
        t.ticket.has_tag(tag)
    });
    engine.register_fn(
        "field",
        |ctx: NativeCallContext, t: &mut TicketView, name: &str| -> Res<Dynamic> {
            let Some(v) = t.ticket.fields.get(name) else {
                return Ok(Dynamic::UNIT);
            };
            let mut meter = Meter::new(ctx.call_position());
            meter.add(value::json_size(v))?;
            meter.flush()?;
            Ok(value::json(v))
        },
    );
    // A custom field as a number, without building the value: `()` if it is
    // absent or anything but a number, however large, so a policy that wants
    // an amount never fails on what a tool put there.
    engine.register_fn(
        "number_field",
        |t: &mut TicketView, name: &str| -> Dynamic {
            match t.ticket.fields.get(name) {
                Some(v @ serde_json::Value::Number(_)) => value::json(v),
                _ => Dynamic::UNIT,
            }
        },
    );
    engine.register_fn("has_field", |t: &mut TicketView, name: &str| {
        t.ticket.fields.contains_key(name)
    });

    engine.register_get("requester_id", |t: &mut TicketView| -> ImmutableString {
        t.ticket.requester.id.as_str().into()
    });
    engine.register_get("requester_name", |t: &mut TicketView| {
        value::opt_string(t.ticket.requester.name.as_deref())
    });
    engine.register_get("requester_email", |t: &mut TicketView| {
        value::opt_string(t.ticket.requester.email.as_deref())
    });
    engine.register_get("plan", |t: &mut TicketView| {
        value::opt_string(t.ticket.requester.plan.as_deref())
    });
    engine.register_get("vip", |t: &mut TicketView| t.ticket.requester.vip);

    engine.register_get("reopen_count", |t: &mut TicketView| -> INT {
        t.ticket.reopen_count.into()
    });
    engine.register_get("comment_count", |t: &mut TicketView| -> INT {
        t.ticket.comment_count.into()
    });
    engine.register_get("escalation_count", |t: &mut TicketView| -> INT {
        t.ticket.escalations.len().try_into().unwrap_or(INT::MAX)
    });
    engine.register_get("route_count", |t: &mut TicketView| -> INT {
        t.ticket.routes.len().try_into().unwrap_or(INT::MAX)
    });
    engine.register_get("notification_count", |t: &mut TicketView| -> INT {
        t.ticket.notifications.into()
    });
    engine.register_get("csat", |t: &mut TicketView| {
        t.ticket
            .csat
            .as_ref()
            .map_or(Dynamic::UNIT, |c| value::int(c.score))
    });

    engine.register_get("created_at", |t: &mut TicketView| {
        value::timestamp(t.ticket.created_at)
    });
    engine.register_get("updated_at", |t: &mut TicketView| {
        value::timestamp(t.ticket.updated_at)
    });
    engine.register_get("first_response_at", |t: &mut TicketView| {
        value::opt_timestamp(t.ticket.first_response_at)
    });
    engine.register_get("solved_at", |t: &mut TicketView| {
        value::opt_timestamp(t.ticket.solved_at)
    });
    engine.register_get("closed_at", |t: &mut TicketView| {
        value::opt_timestamp(t.ticket.closed_at)
    });
    engine.register_get("last_customer_comment_at", |t: &mut TicketView| {
        value::opt_timestamp(t.ticket.last_customer_comment_at)
    });
    engine.register_get("last_agent_reply_at", |t: &mut TicketView| {
        value::opt_timestamp(t.ticket.last_agent_reply_at)
    });
    engine.register_get("age_minutes", |t: &mut TicketView| {
        minutes(t.ticket.created_at, t.now)
    });

    engine.register_get(
        "checklists",
        |ctx: NativeCallContext, t: &mut TicketView| -> Res<Array> {
            charge_items(&ctx, t.ticket.checklists.len())?;
            Ok(t.ticket
                .checklists
                .iter()
                .map(|s| value::string(s))
                .collect())
        },
    );
    engine.register_fn(
        "has_checklist",
        |ctx: NativeCallContext, t: &mut TicketView, name: &str| -> Res<bool> {
            charge_items(&ctx, t.ticket.checklists.len())?;
            Ok(t.ticket.checklists.iter().any(|c| c == name))
        },
    );
    // The state of the ticket's latest run of a ladder: "running",
    // "acknowledged", "stopped", "resolved", "exhausted"; () if never started.
    engine.register_fn(
        "ladder_state",
        |t: &mut TicketView, name: &str| -> Dynamic {
            use escalier_core::ladder::LadderState;
            match t.ticket.ladders.run(name).map(|r| r.state()) {
                None => Dynamic::UNIT,
                Some(s) => Dynamic::from(ImmutableString::from(match s {
                    LadderState::Running => "running",
                    LadderState::Acknowledged => "acknowledged",
                    LadderState::Stopped => "stopped",
                    LadderState::Resolved => "resolved",
                    LadderState::Exhausted => "exhausted",
                })),
            }
        },
    );
    engine.register_fn(
        "approval",
        |ctx: NativeCallContext, t: &mut TicketView, kind: &str| -> Res<Dynamic> {
            charge_items(&ctx, t.ticket.approvals.len())?;
            // The latest request of that kind decides: an approved refund
            // followed by a new pending one is pending.
            Ok(t.ticket
                .approvals
                .iter()
                .rev()
                .find(|a| a.kind == kind)
                .map_or(Dynamic::UNIT, |a| {
                    Dynamic::from(ImmutableString::from(match a.state {
                        ApprovalState::Pending => "pending",
                        ApprovalState::Approved => "approved",
                        ApprovalState::Rejected => "rejected",
                    }))
                }))
        },
    );
}
