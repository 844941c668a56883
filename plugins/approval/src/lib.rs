//! The approval plugin.
//!
//! - `action.require_approval`: the reducer has opened a pending approval
//!   (`apr-<seq>.<index>`); notify the approvers and set a timer under the
//!   approval's id for record time + `timeout_minutes`.
//! - `approval.decided`: note and tag the decision; cancel the timer.
//! - `plugin.timer` (the host calls the plugin with it when the timer's
//!   time has passed, even if nothing else happened to the ticket):
//!   escalate to `escalate_to_tier` if the approval is still pending.
//!
//! The host fires each timer once, durably, and at the same record in a
//! replay; time is `clock::now()`, the record's time.

use escalier_plugin_sdk::{
    Action, Error, Event, Plugin, Ticket, action, clock, config, export_plugin, kv, timers,
};
use serde::Deserialize;

struct Approvals;

fn approvers() -> Result<String, Error> {
    Ok(config::get::<String>("approvers")?.unwrap_or_else(|| "duty-manager".into()))
}

/// The approval as the ticket shows it.
fn approval(ticket: &Ticket, id: &str) -> Result<Option<serde_json::Value>, Error> {
    let full = ticket.full()?;
    Ok(full["approvals"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["id"] == id).cloned()))
}

impl Plugin for Approvals {
    fn handle(ticket: Ticket, event: Event) -> Result<Vec<Action>, Error> {
        adopt_kv_deadlines()?;
        if let Some(t) = timers::fired(&event) {
            return timed_out(&ticket, &t.key, t.due);
        }
        match event.type_.as_str() {
            "action.require_approval" => requested(&ticket, &event),
            "approval.decided" => decided(&ticket, &event),
            _ => Ok(Vec::new()),
        }
    }
}

/// Version 0.1 kept deadlines in kv (`due:<approval id>`) and checked them
/// only when another event arrived: turn any left on this ticket into timers.
fn adopt_kv_deadlines() -> Result<(), Error> {
    for key in kv::keys() {
        let Some(id) = key.strip_prefix("due:") else {
            continue;
        };
        if let Some(due) = kv::get(&key).and_then(|v| v.parse::<i64>().ok()) {
            timers::set(id, due)?;
        }
        kv::delete(&key);
    }
    Ok(())
}

fn requested(ticket: &Ticket, event: &Event) -> Result<Vec<Action>, Error> {
    // The reducer names the approval after the record that asked for it.
    let id = format!("apr-{}", event.id.strip_prefix("esc:").unwrap_or(&event.id));
    let Some(a) = approval(ticket, &id)? else {
        // One pending approval per kind: this request was folded into it.
        return Ok(Vec::new());
    };
    let minutes = config::get::<i64>("timeout_minutes")?.unwrap_or(240);
    timers::set_after(&id, minutes.saturating_mul(timers::MINUTE))?;
    Ok(vec![action::notify(
        approvers()?,
        format!(
            "Approval needed on {} ({}): {} — {}. Decide: POST /v1/tickets/{}/approvals/{id}",
            ticket.id,
            ticket.subject,
            a["kind"].as_str().unwrap_or_default(),
            a["reason"].as_str().unwrap_or_default(),
            ticket.id
        ),
    )])
}

fn decided(ticket: &Ticket, event: &Event) -> Result<Vec<Action>, Error> {
    #[derive(Deserialize)]
    struct Decided {
        approval_id: String,
        decision: String,
        by: String,
        #[serde(default)]
        reason: String,
    }
    let d: Decided = event.data()?;
    timers::cancel(&d.approval_id);
    let kind = approval(ticket, &d.approval_id)?
        .and_then(|a| a["kind"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "approval".into());
    let mut note = format!("{kind} {} by {}", d.decision, d.by);
    if !d.reason.is_empty() {
        note.push_str(": ");
        note.push_str(&d.reason);
    }
    Ok(vec![
        action::tag(format!("{kind}-{}", d.decision)),
        action::note(note),
    ])
}

/// The timer of approval `id` fired: escalate if nobody decided it.
fn timed_out(ticket: &Ticket, id: &str, due: i64) -> Result<Vec<Action>, Error> {
    let pending = approval(ticket, id)?.is_some_and(|a| a["state"] == "pending");
    if !pending {
        return Ok(Vec::new());
    }
    let tier = config::get::<u8>("escalate_to_tier")?.unwrap_or(3);
    let late = (clock::now() - due) / timers::MINUTE;
    let mut reason = format!("approval {id} undecided past its deadline");
    if late > 0 {
        reason.push_str(&format!(" ({late} min late)"));
    }
    Ok(vec![
        action::escalate(tier, reason),
        action::notify(
            approvers()?,
            format!(
                "Approval {id} on {} is overdue; escalated to tier {tier}",
                ticket.id
            ),
        ),
    ])
}

export_plugin!(Approvals);
