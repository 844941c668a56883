//! The reducer: `Ticket × Record → Ticket`, and the lifecycle rules.
//!
//! Lifecycle (status and existence) changes only through input events sent
//! by tools; actions never touch it. So the writer can validate a
//! transition with [`check_transition`] against the ticket's last status
//! alone, before any policy has run, and the processor's [`apply`] can
//! never disagree with what the writer accepted.
//!
//! The rules:
//! - `ticket.created` needs a ticket id not seen before; everything else
//!   needs an existing ticket.
//! - `closed` is final: a closed ticket accepts only `csat.received`.
//! - Nothing moves back to `new`. Any other move is allowed; a move to the
//!   current status is accepted and changes nothing.
//! - `solved` → `open`/`pending`/`on_hold` is a reopen and counts as one.

use crate::action::ApplyCtx;
use crate::error::{Rejection, RejectionCode};
use crate::event::{Event, EventKind, NotificationRequested, PdAction, TicketCreated};
use crate::record::{Record, Source};
use crate::ticket::{Csat, MAX_FIELDS, MAX_TAGS, Ticket};
use crate::vocab::{Status, Tier};

/// Check an input event against the ticket's current status (`None`: the
/// ticket does not exist) and return the status after it.
pub fn check_transition(current: Option<Status>, event: &Event) -> Result<Status, Rejection> {
    let Some(status) = current else {
        return match &event.kind {
            EventKind::TicketCreated(d) => Ok(d.status.unwrap_or(Status::New)),
            _ => Err(Rejection::new(
                RejectionCode::UnknownTicket,
                "ticket_id",
                format!(
                    "ticket `{}` does not exist; send `{}` first",
                    event.ticket_id,
                    TicketCreated::TYPE
                ),
            )),
        };
    };
    match &event.kind {
        EventKind::TicketCreated(_) => Err(Rejection::new(
            RejectionCode::TicketExists,
            "ticket_id",
            format!("ticket `{}` already exists", event.ticket_id),
        )),
        EventKind::CsatReceived(_) => Ok(status),
        _ if status == Status::Closed => Err(Rejection::new(
            RejectionCode::TicketClosed,
            "ticket_id",
            format!(
                "ticket `{}` is closed and accepts only csat.received; open a follow-up ticket",
                event.ticket_id
            ),
        )),
        EventKind::StatusChanged(d) => {
            if d.status == Status::New && status != Status::New {
                return Err(Rejection::new(
                    RejectionCode::InvalidTransition,
                    "data.status",
                    format!(
                        "ticket `{}` is `{status}`; it cannot go back to `new`",
                        event.ticket_id
                    ),
                ));
            }
            Ok(d.status)
        }
        _ => Ok(status),
    }
}

/// Apply one record. Input events are checked against the lifecycle;
/// derived records (actions, errors) need an existing ticket.
pub fn apply(ticket: Option<Ticket>, rec: &Record) -> Result<Ticket, Rejection> {
    match ticket {
        Some(mut t) => {
            apply_to(&mut t, rec)?;
            Ok(t)
        }
        None => {
            check_transition(None, &rec.event)?;
            match &rec.event.kind {
                EventKind::TicketCreated(d) => Ok(create(&rec.event, d, rec.seq)),
                _ => unreachable!(
                    "check_transition refuses anything but ticket.created for a new ticket"
                ),
            }
        }
    }
}

/// Apply one record to an existing ticket, in place. On error the ticket
/// is unchanged.
pub fn apply_to(t: &mut Ticket, rec: &Record) -> Result<(), Rejection> {
    let ev = &rec.event;
    if rec.source.is_input() {
        check_transition(Some(t.status), ev)?;
    }
    t.last_seq = rec.seq;
    let at = ev.occurred_at;
    match &ev.kind {
        EventKind::TicketCreated(_) => {
            // Only derived records skip check_transition, and they are never ticket.created.
            return Err(Rejection::new(
                RejectionCode::TicketExists,
                "ticket_id",
                format!("ticket `{}` already exists", ev.ticket_id),
            ));
        }
        EventKind::TicketUpdated(d) => {
            if let Some(s) = &d.subject {
                t.subject.clone_from(s);
            }
            if let Some(p) = d.priority {
                t.priority = p;
            }
            if let Some(c) = d.channel {
                t.channel = c;
            }
            if let Some(r) = &d.requester {
                t.requester = r.clone();
            }
            for tag in &d.tags_removed {
                t.tags.remove(tag);
            }
            for tag in &d.tags_added {
                if t.tags.len() < MAX_TAGS {
                    t.tags.insert(tag.clone());
                }
            }
            for (k, v) in &d.fields {
                if v.is_null() {
                    t.fields.remove(k);
                } else if t.fields.len() < MAX_FIELDS || t.fields.contains_key(k) {
                    t.fields.insert(k.clone(), v.clone());
                }
            }
        }
        EventKind::CommentAdded(d) => {
            t.comment_count += 1;
            if d.is_public_agent_reply() {
                t.first_response_at.get_or_insert(at);
                t.last_agent_reply_at = Some(at);
            } else if d.author.kind == crate::vocab::AuthorKind::Customer {
                t.last_customer_comment_at = Some(at);
            }
        }
        EventKind::StatusChanged(d) => {
            if d.status != t.status {
                if t.status == Status::Solved && d.status != Status::Closed {
                    t.reopen_count += 1;
                }
                match d.status {
                    Status::Solved => t.solved_at = Some(at),
                    Status::Closed => t.closed_at = Some(at),
                    _ => {}
                }
                t.status = d.status;
            }
        }
        EventKind::TicketAssigned(d) => {
            if let Some(team) = &d.team {
                t.team = Some(team.clone());
            }
            if let Some(agent) = &d.agent {
                t.agent = Some(agent.clone());
            }
        }
        EventKind::CsatReceived(d) => {
            t.csat = Some(Csat {
                score: d.score,
                comment: d.comment.clone(),
                at,
            });
        }
        EventKind::Action(a) => a.apply(
            t,
            ApplyCtx {
                at,
                seq: rec.seq,
                index: rec.index,
                by: rec.source.producer_name(),
            },
        ),
        EventKind::PolicyError(_) => t.policy_errors += 1,
        EventKind::PluginError(_) => t.plugin_errors += 1,
        EventKind::PluginState(d) => d.apply(t, rec.seq),
        EventKind::PolicyMigrated(d) => t.policy_version = Some(d.to.clone()),
        // A fired timer left `plugin_timers` when `crate::timers::fire` fired it.
        EventKind::DeliveryRequested(_)
        | EventKind::PluginCommand(_)
        | EventKind::PluginTimer(_) => {}
        // Delivery progress is on the timeline and in the deliveries table.
        EventKind::DeliveryDelivered(_) | EventKind::DeliveryRetrying(_) => {}
        EventKind::DeliveryFailed(_) => t.deliveries_failed += 1,
        EventKind::NotificationRequested(n) => page(t, n),
        // Clocks and ladders themselves are kept by `crate::timers`.
        EventKind::SlaBreached(_) => t.sla_breaches += 1,
        EventKind::LadderLevelReached(_) => t.ladder_levels_reached += 1,
        EventKind::LadderExhausted(_) => t.ladders_exhausted += 1,
        EventKind::SlaWarning(_)
        | EventKind::SlaMet(_)
        | EventKind::LadderAcknowledged(_)
        | EventKind::ClockDue(_)
        | EventKind::ClockRebound(_) => {}
        EventKind::ChecklistOpened(d) => d.apply(t, at, rec.source.producer_name()),
        EventKind::ChecklistItemChecked(d) => d.apply(t, at, rec.seq, rec.index),
        EventKind::ApprovalDecided(d) => d.apply(t, at),
    }
    // A scheduler tick is not an update of the ticket.
    if rec.source.is_input() && rec.source != Source::Scheduler && at > t.updated_at {
        t.updated_at = at;
    }
    Ok(())
}

/// Keep the ticket's open PagerDuty incidents: a trigger opens one per
/// target (a trigger for a target already paged joins its incident), a
/// resolve closes it.
fn page(t: &mut Ticket, n: &NotificationRequested) {
    let Some(key) = &n.dedup_key else {
        return;
    };
    match n.pd_action {
        Some(PdAction::Trigger) => {
            t.paged
                .entry(n.target.clone())
                .or_insert_with(|| key.clone());
        }
        Some(PdAction::Resolve) => {
            if t.paged.get(&n.target) == Some(key) {
                t.paged.remove(&n.target);
            }
        }
        Some(PdAction::Acknowledge) | None => {}
    }
}

fn create(ev: &Event, d: &TicketCreated, seq: u64) -> Ticket {
    Ticket {
        id: ev.ticket_id.clone(),
        subject: d.subject.clone(),
        description: d.description.clone(),
        status: d.status.unwrap_or(Status::New),
        priority: d.priority,
        channel: d.channel,
        requester: d.requester.clone(),
        tier: d.tier.unwrap_or(Tier::FRONTLINE),
        team: d.team.clone(),
        agent: d.agent.clone(),
        tags: d.tags.iter().cloned().collect(),
        fields: d.fields.clone(),
        created_at: ev.occurred_at,
        updated_at: ev.occurred_at,
        first_response_at: None,
        solved_at: None,
        closed_at: None,
        last_customer_comment_at: None,
        last_agent_reply_at: None,
        reopen_count: 0,
        comment_count: 0,
        csat: None,
        escalations: Vec::new(),
        routes: Vec::new(),
        approvals: Vec::new(),
        checklists: Vec::new(),
        notifications: 0,
        policy_errors: 0,
        plugin_errors: 0,
        plugin_state: Default::default(),
        plugin_timers: Default::default(),
        checklist_progress: Default::default(),
        held_escalations: Vec::new(),
        deliveries_failed: 0,
        policy_version: None,
        clocks: Default::default(),
        ladders: Default::default(),
        sla_breaches: 0,
        ladder_levels_reached: 0,
        ladders_exhausted: 0,
        paged: Default::default(),
        last_seq: seq,
    }
}

#[cfg(test)]
mod tests;
