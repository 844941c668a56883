//! The approval plugin.
//!
//! - `action.require_approval`: the reducer has opened a pending approval
//!   (`apr-<seq>.<index>`); notify the approvers and remember its deadline
//!   (kv `due:<approval id>` = record time + `timeout_minutes`).
//! - `approval.decided`: note and tag the decision; forget the deadline.
//! - any other subscribed event: escalate to `escalate_to_tier` every
//!   pending approval whose deadline has passed, once.
//!
//! Time is `clock::now()`, the record's time, so a replay escalates at the
//! same records.

use escalier_plugin_sdk::{
    Action, Error, Event, Plugin, Ticket, action, clock, config, export_plugin, kv,
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
        match event.type_.as_str() {
            "action.require_approval" => requested(&ticket, &event),
            "approval.decided" => decided(&ticket, &event),
            _ => overdue(&ticket),
        }
    }
}

fn requested(ticket: &Ticket, event: &Event) -> Result<Vec<Action>, Error> {
    // The reducer names the approval after the record that asked for it.
    let id = format!("apr-{}", event.id.strip_prefix("esc:").unwrap_or(&event.id));
    let Some(a) = approval(ticket, &id)? else {
        // One pending approval per kind: this request was folded into it.
        return Ok(Vec::new());
    };
    let minutes = config::get::<i64>("timeout_minutes")?.unwrap_or(240);
    kv::set(
        &format!("due:{id}"),
        &(clock::now() + minutes * 60_000).to_string(),
    )?;
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
    kv::delete(&format!("due:{}", d.approval_id));
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

fn overdue(ticket: &Ticket) -> Result<Vec<Action>, Error> {
    let now = clock::now();
    let tier = config::get::<u8>("escalate_to_tier")?.unwrap_or(3);
    let mut out = Vec::new();
    for key in kv::keys() {
        let Some(id) = key.strip_prefix("due:") else {
            continue;
        };
        let due: i64 = kv::get(&key)
            .and_then(|v| v.parse().ok())
            .unwrap_or(i64::MAX);
        if due > now {
            continue;
        }
        kv::delete(&key);
        let pending = approval(ticket, id)?.is_some_and(|a| a["state"] == "pending");
        if pending {
            let minutes = (now - due) / 60_000;
            out.push(action::escalate(
                tier,
                format!("approval {id} undecided past its deadline ({minutes} min late)"),
            ));
            out.push(action::notify(
                approvers()?,
                format!(
                    "Approval {id} on {} is overdue; escalated to tier {tier}",
                    ticket.id
                ),
            ));
        }
    }
    Ok(out)
}

export_plugin!(Approvals);
