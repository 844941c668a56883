//! The checklist plugin: puts configured checklists on tickets and says
//! what they hold.
//!
//! - `ticket.created`: opens every checklist with `auto = true`;
//! - `action.require_checklist`: opens the named checklist (a policy asked);
//! - command `open {"name": ...}`: opens one on request;
//! - `action.escalate`: if a checklist held the escalation, notes what is
//!   still open (the hold itself is the reducer's: see escalier-core `checklist`);
//! - `checklist.item_checked`: notes and tags a checklist once complete.

use std::collections::BTreeMap;

use escalier_plugin_sdk::{Action, Error, Event, Plugin, Ticket, action, config, export_plugin};
use serde::Deserialize;

#[derive(Deserialize)]
struct Item {
    id: String,
    text: String,
}

#[derive(Deserialize)]
struct Definition {
    items: Vec<Item>,
    #[serde(default)]
    required_for_tier: Option<u8>,
    #[serde(default)]
    auto: bool,
}

fn definitions() -> Result<BTreeMap<String, Definition>, Error> {
    Ok(config::get("checklists")?.unwrap_or_default())
}

fn open(name: &str, def: &Definition) -> Action {
    action::open_checklist(
        name,
        def.items.iter().map(|i| (i.id.as_str(), i.text.as_str())),
        def.required_for_tier,
    )
}

fn open_named(name: &str) -> Result<Vec<Action>, Error> {
    let defs = definitions()?;
    match defs.get(name) {
        Some(def) => Ok(vec![open(name, def)]),
        None => Ok(vec![action::note(format!(
            "checklist `{name}` is not configured (known: {})",
            defs.keys().cloned().collect::<Vec<_>>().join(", ")
        ))]),
    }
}

struct Checklists;

impl Plugin for Checklists {
    fn handle(ticket: Ticket, event: Event) -> Result<Vec<Action>, Error> {
        match event.type_.as_str() {
            "ticket.created" => Ok(definitions()?
                .iter()
                .filter(|(_, d)| d.auto)
                .map(|(name, d)| open(name, d))
                .collect()),
            "action.require_checklist" => {
                #[derive(Deserialize)]
                struct Req {
                    name: String,
                }
                open_named(&event.data::<Req>()?.name)
            }
            "action.escalate" => held_note(&ticket, &event),
            "checklist.item_checked" => completed(&ticket, &event),
            _ => Ok(Vec::new()),
        }
    }

    fn command(_: Ticket, name: String, args: String, _by: String) -> Result<Vec<Action>, Error> {
        #[derive(Deserialize)]
        struct Open {
            name: String,
        }
        match name.as_str() {
            "open" => {
                let a: Open = serde_json::from_str(&args).map_err(|e| {
                    Error::InvalidInput(format!("open takes {{\"name\": ...}}: {e}"))
                })?;
                open_named(&a.name)
            }
            other => Err(Error::Unsupported(format!("no command `{other}`"))),
        }
    }
}

/// If the escalation this event records was held, say by what.
fn held_note(ticket: &Ticket, event: &Event) -> Result<Vec<Action>, Error> {
    let full = ticket.full()?;
    let pos = event.id.strip_prefix("esc:").unwrap_or_default();
    let Some(held) = full["held_escalations"].as_array().and_then(|h| {
        h.iter()
            .find(|e| format!("{}.{}", e["seq"], e["index"]) == pos)
    }) else {
        return Ok(Vec::new());
    };
    let name = held["checklist"].as_str().unwrap_or_default();
    let list = &full["checklist_progress"][name];
    let open: Vec<&str> = list["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter(|i| i["done"] == false)
                .filter_map(|i| i["text"].as_str())
                .collect()
        })
        .unwrap_or_default();
    Ok(vec![action::note(format!(
        "Escalation to tier {} is on hold until checklist `{name}` is complete. Still open: {}",
        held["tier"],
        open.join("; ")
    ))])
}

fn completed(ticket: &Ticket, event: &Event) -> Result<Vec<Action>, Error> {
    #[derive(Deserialize)]
    struct Tick {
        checklist: String,
        #[serde(default = "yes")]
        checked: bool,
    }
    fn yes() -> bool {
        true
    }
    let tick: Tick = event.data()?;
    if !tick.checked {
        return Ok(Vec::new());
    }
    let full = ticket.full()?;
    let list = &full["checklist_progress"][&tick.checklist];
    // Only the tick that completed it: completed_at is that record's time.
    let completed_now = list["completed_at"]
        .as_str()
        .is_some_and(|at| escalier_plugin_sdk::clock::parse_rfc3339(at) == Some(event.occurred_at));
    if !completed_now {
        return Ok(Vec::new());
    }
    Ok(vec![
        action::tag(format!("checklist-{}-done", tick.checklist)),
        action::note(format!(
            "Checklist `{}` complete; held escalations (if any) now apply. Ticket is at tier {}.",
            tick.checklist, ticket.tier
        )),
    ])
}

export_plugin!(Checklists);
