//! A ticket's story: events, clock changes, ladder steps and actions, with
//! the policy and line behind each action and the record it reacted to.

use std::path::Path;
use std::sync::Arc;

use escalier_core::event::Origin;
use escalier_core::process::Limits;
use escalier_core::{Event, Source, Timestamp};
use escalier_lab::explain::{self, Story};
use escalier_lab::policies::Policies;
use escalier_lab::sim::Simulator;
use serde_json::json;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn story() -> (Story, Policies) {
    let (log, policies) = recorded();
    let books = Arc::clone(policies.books());
    let story = explain::explain(log, "ZD-7", Some(&books), Some(&policies)).unwrap();
    (story, policies)
}

/// A day of ZD-7 run through the example policies: its log and the policies.
fn recorded() -> (Vec<escalier_core::Record>, Policies) {
    let policies =
        Policies::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies")).unwrap();
    let mut sim = Simulator::with_policies(Arc::clone(policies.set()), Limits::default());
    sim.start_at(ts("2026-03-09T08:00:00Z"));
    let mut send = |id: &str, ty: &str, at: &str, data: serde_json::Value| {
        let json =
            json!({"id": id, "type": ty, "ticket_id": "ZD-7", "occurred_at": at, "data": data});
        let e = Event::decode_one(&json.to_string(), Origin::External).unwrap();
        let s = sim.submit(
            e,
            Source::Webhook {
                delivery: Some(format!("msg-{id}")),
            },
            ts(at),
        );
        assert!(s.refused.is_none());
    };
    send(
        "e1",
        "ticket.created",
        "2026-03-09T08:00:00Z",
        json!({"subject": "App crashes", "channel": "email", "requester": {"id": "c"}}),
    );
    send(
        "e2",
        "status.changed",
        "2026-03-09T09:00:00Z",
        json!({"status": "pending"}),
    );
    send(
        "e3",
        "status.changed",
        "2026-03-09T10:00:00Z",
        json!({"status": "open"}),
    );
    sim.advance_to(ts("2026-03-09T14:00:00Z"));
    (sim.log().to_vec(), policies)
}

#[test]
fn a_stored_policy_set_locates_records_as_the_policies_directory_does() {
    let (log, policies) = recorded();
    let books = Arc::clone(policies.books());
    let from_dir = explain::explain(log.clone(), "ZD-7", Some(&books), Some(&policies)).unwrap();
    // What the server keeps of a version: each file's name and text.
    let stored = explain::Sources::new(
        &policies.dir().display().to_string(),
        policies.set().sources().iter().cloned(),
    );
    let from_store =
        explain::explain_with(log, "ZD-7", Some(&books), &|r, c| stored.locate(r, c)).unwrap();
    let locations = |s: &Story| -> Vec<Option<String>> {
        s.entries
            .iter()
            .map(|e| e.location.as_ref().map(ToString::to_string))
            .collect()
    };
    assert!(
        locations(&from_dir)
            .iter()
            .flatten()
            .any(|l| l.contains(".rhai:")),
        "{:?}",
        locations(&from_dir)
    );
    assert_eq!(locations(&from_store), locations(&from_dir));
}

#[test]
fn the_story_has_every_record_with_what_made_it() {
    let (story, _) = story();
    let types: Vec<&str> = story.entries.iter().map(|e| e.ty.as_str()).collect();
    assert_eq!(types[..2], ["ticket.created", "action.route"]);
    assert!(
        types.contains(&"sla.warning") && types.contains(&"sla.breached"),
        "{types:?}"
    );

    let route = &story.entries[1];
    assert_eq!(route.by.kind, "policy");
    assert_eq!(route.by.name, "routing/functional.rhai");
    assert!(route.by.hash.as_deref().unwrap().starts_with("sha256:"));
    let at = route.location.as_ref().unwrap().to_string();
    assert!(at.ends_with("policies/routing/functional.rhai:18"), "{at}");
    let trigger = route.trigger.as_ref().unwrap();
    assert_eq!(
        (trigger.pos.as_str(), trigger.ty.as_str()),
        ("1.0", "ticket.created")
    );
    assert_eq!(route.depth, 1);
}

#[test]
fn clock_changes_are_recovered_from_the_log() {
    let (story, _) = story();
    let created = &story.entries[0];
    assert!(
        created
            .clocks
            .iter()
            .any(|c| c == "SLA policy none -> standard"),
        "{:?}",
        created.clocks
    );
    assert!(
        created
            .clocks
            .iter()
            .any(|c| c.starts_with("first_response started, running (target 4h)")),
        "{:?}",
        created.clocks
    );
    let pending = story
        .entries
        .iter()
        .find(|e| e.summary == "status pending")
        .unwrap();
    assert!(
        pending
            .clocks
            .iter()
            .any(|c| c.starts_with("first_response paused at 1h")),
        "{:?}",
        pending.clocks
    );
    let open = story
        .entries
        .iter()
        .find(|e| e.summary == "status open")
        .unwrap();
    assert!(
        open.clocks
            .iter()
            .any(|c| c.starts_with("first_response resumed")),
        "{:?}",
        open.clocks
    );
    // Paused for an hour: the 4-hour target is reached at 13:00Z, not 12:00Z.
    let breach = story
        .entries
        .iter()
        .find(|e| e.ty == "sla.breached")
        .unwrap();
    assert!(
        breach.summary.contains("due 2026-03-09T13:00:00Z"),
        "{}",
        breach.summary
    );
    let text = explain::render(&story);
    assert!(text.contains("reacting to 1.0 ticket.created"), "{text}");
    assert!(text.contains("clock: first_response breached"), "{text}");
}

#[test]
fn a_ticket_not_in_the_log_has_no_story() {
    assert!(explain::explain(Vec::new(), "nope", None, None).is_none());
}
