//! The approval plugin: approvers told, decisions recorded, undecided
//! approvals escalated when their timer fires, on a ticket where nothing
//! else happens. Ticks are fed as the scheduler would record them, from
//! `timers::deadlines`, at chosen record times (no sleeping).

use std::path::Path;
use std::sync::Arc;

use escalier_core::event::{ClockDue, Event};
use escalier_core::process::{self, Limits, Processed};
use escalier_core::ticket::ApprovalState;
use escalier_core::timers::{self, Books};
use escalier_core::{EventId, EventKind, Record, Source, Ticket, Timestamp};

use crate::util::*;

fn run() -> (Run, Host) {
    let h = host(&[(&example("approval"), "approval", None)]);
    let mut run = Run::with_policy(h.set());
    run.create();
    (run, h)
}

/// The ticket's pending plugin deadlines, as the store would index them.
fn plugin_deadlines(t: &Ticket) -> Vec<escalier_core::Due> {
    timers::deadlines(t, &Books::empty())
        .into_iter()
        .filter(|d| d.key.starts_with("plugin:"))
        .collect()
}

/// Record the scheduler's `clock.due` tick for `key` at `now` and process it.
fn tick(run: &mut Run, key: &str, due: Timestamp, now: Timestamp) -> Vec<Record> {
    run.seq += 1;
    let rec = Arc::new(Record {
        seq: run.seq,
        index: 0,
        recorded_at: now,
        source: Source::Scheduler,
        event: Event {
            id: EventId::new(format!("tick:{}", run.seq)).unwrap(),
            ticket_id: run.ticket().id.clone(),
            occurred_at: due,
            kind: EventKind::ClockDue(ClockDue {
                key: key.to_owned(),
                due,
            }),
        },
    });
    let reactors = run.set.reactors();
    let Processed { ticket, derived } = process::process(
        run.ticket.take(),
        &rec,
        &reactors,
        &Limits::default(),
        &Books::empty(),
    )
    .unwrap();
    run.ticket = Some(ticket);
    run.log.push((*rec).clone());
    run.log.extend(derived.iter().cloned());
    derived
}

/// Fold the recorded log as a replay does.
fn replayed(run: &Run) -> Ticket {
    let mut t = None;
    for r in &run.log {
        t = Some(timers::replay(t, r, &Books::empty()).unwrap());
    }
    t.unwrap()
}

#[test]
fn a_required_approval_notifies_the_approvers_and_sets_its_timer() {
    let (mut run, _h) = run();
    let out = run.send("comment.added", &comment("agent", "approve refund"), at(1));
    let t = run.ticket();
    assert_eq!(t.approvals.len(), 1);
    let id = t.approvals[0].id.clone();
    assert_eq!(t.approvals[0].state, ApprovalState::Pending);
    let notify = data(of_type(&out, "action.notify")[0]);
    assert_eq!(notify["channel"], "duty-manager");
    let msg = notify["message"].as_str().unwrap();
    assert!(
        msg.contains(&format!("/v1/tickets/T-1/approvals/{id}")),
        "{msg}"
    );
    let state = data(of_type(&out, "plugin.state")[0]);
    assert_eq!(
        state["set_timers"][&id],
        at(1 + 240).to_string(),
        "timeout_minutes = 240 from record time"
    );
    assert_eq!(t.plugin_timers["approval"][&id].at, at(1 + 240));
    assert!(!t.plugin_state.contains_key("approval"), "no kv deadline");
    assert_eq!(
        plugin_deadlines(t)
            .iter()
            .map(|d| (d.at, d.key.as_str()))
            .collect::<Vec<_>>(),
        [(at(241), format!("plugin:approval:2:{id}").as_str())]
    );
}

#[test]
fn a_decision_is_recorded_with_who_and_why_and_cancels_the_timer() {
    let (mut run, _h) = run();
    run.send("comment.added", &comment("agent", "approve refund"), at(1));
    let id = run.ticket().approvals[0].id.clone();
    let deadline = plugin_deadlines(run.ticket()).remove(0);
    let out = run.send(
        "approval.decided",
        &format!(r#"{{"approval_id":"{id}","decision":"approved","by":"mgr-ana","reason":"loyal customer"}}"#),
        at(30),
    );
    let t = run.ticket();
    assert_eq!(t.approvals[0].state, ApprovalState::Approved);
    let d = t.approvals[0].decision.as_ref().unwrap();
    assert_eq!(
        (d.by.as_str(), d.reason.as_str(), d.at),
        ("mgr-ana", "loyal customer", at(30))
    );
    assert!(t.has_tag("refund-approved"), "{:#?}", summary(&out));
    let note = data(of_type(&out, "action.note")[0]);
    assert_eq!(note["text"], "refund approved by mgr-ana: loyal customer");
    assert!(t.plugin_timers.is_empty(), "{:?}", t.plugin_timers);
    assert!(plugin_deadlines(t).is_empty());
    // A tick recorded before the cancellation was indexed fires nothing.
    let out = tick(&mut run, &deadline.key, deadline.at, at(300));
    assert!(out.is_empty(), "{:#?}", summary(&out));
    assert_eq!(run.ticket().tier.get(), 1);
}

/// The regression: an approval requested, then no event at all on the
/// ticket. Before timers the plugin only looked at deadlines when another
/// event arrived, so a quiet ticket never escalated.
#[test]
fn an_undecided_approval_on_a_silent_ticket_escalates_when_its_timer_fires_once() {
    let (mut run, _h) = run();
    run.send("comment.added", &comment("agent", "approve refund"), at(1));
    let id = run.ticket().approvals[0].id.clone();
    let deadlines = plugin_deadlines(run.ticket());
    assert_eq!(
        deadlines.len(),
        1,
        "the timer is a deadline the scheduler indexes"
    );
    let d = deadlines[0].clone();
    assert_eq!(d.at, at(241));

    // A tick recorded a millisecond early (a clock skew) fires nothing.
    let early = d.at - jiff::SignedDuration::from_millis(1);
    let out = tick(&mut run, &d.key, d.at, early);
    assert!(out.is_empty(), "{:#?}", summary(&out));
    assert_eq!(
        plugin_deadlines(run.ticket()),
        std::slice::from_ref(&d),
        "still pending"
    );

    let out = tick(&mut run, &d.key, d.at, d.at);
    assert_eq!(
        out.iter().map(|r| r.event.type_name()).collect::<Vec<_>>(),
        ["plugin.timer", "action.escalate", "action.notify"],
        "{:#?}",
        summary(&out)
    );
    let fired = data(&out[0]);
    assert_eq!(
        (fired["plugin"].as_str(), fired["key"].as_str()),
        (Some("approval"), Some(id.as_str()))
    );
    assert_eq!(out[1].source.producer_name(), "approval");
    let esc = data(&out[1]);
    assert_eq!(esc["tier"], 3);
    assert_eq!(
        esc["reason"],
        format!("approval {id} undecided past its deadline")
    );
    assert_eq!(run.ticket().tier.get(), 3);
    assert!(plugin_deadlines(run.ticket()).is_empty());

    // The same tick again, as after a restart, fires nothing.
    let out = tick(&mut run, &d.key, d.at, at(250));
    assert!(out.is_empty(), "{:#?}", summary(&out));
    assert_eq!(of_type(&run.log, "action.escalate").len(), 1, "once");
    assert_eq!(
        replayed(&run),
        *run.ticket(),
        "a replay rebuilds the ticket"
    );
}

#[test]
fn a_timer_that_fires_late_says_how_late() {
    let (mut run, _h) = run();
    run.send("comment.added", &comment("agent", "approve refund"), at(1));
    let d = plugin_deadlines(run.ticket()).remove(0);
    // The server was down at the deadline; its tick is recorded 90 min on.
    let out = tick(&mut run, &d.key, d.at, at(241 + 90));
    let esc = data(of_type(&out, "action.escalate")[0]);
    assert!(
        esc["reason"].as_str().unwrap().ends_with("(90 min late)"),
        "{esc}"
    );
}

/// A component built against `escalier:plugin@0.1.0` (version 0.1 of this
/// plugin, with kv deadlines) loads and runs on this host; the current
/// plugin turns the deadline it left in kv into a timer at the next call.
#[test]
fn a_component_built_against_wit_0_1_0_still_loads_and_its_kv_deadlines_become_timers() {
    let old = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wit-0.1.0/approval.wasm");
    let manifest = "name = \"approval\"\nversion = \"0.1.0\"\ncomponent = \"approval.wasm\"\n\
        subscribe = [\"action.require_approval\", \"approval.decided\", \"comment.added\"]\n\
        [capabilities]\nkv = true\nsnapshot = true\nconfig = [\"approvers\", \"timeout_minutes\", \"escalate_to_tier\"]\n\
        [limits]\ntime_ms = 5000\n[config]\ntimeout_minutes = 60\n";
    let src = tempfile::tempdir().unwrap();
    std::fs::copy(&old, src.path().join("approval.wasm")).unwrap();
    std::fs::write(src.path().join("plugin.toml"), manifest).unwrap();
    let h = host(&[(src.path(), "approval", None)]);
    let mut run = Run::with_policy(h.set());
    run.create();
    let out = run.send("comment.added", &comment("agent", "approve refund"), at(1));
    assert_eq!(
        of_type(&out, "action.notify").len(),
        1,
        "{:#?}",
        summary(&out)
    );
    let id = run.ticket().approvals[0].id.clone();
    assert_eq!(
        run.ticket().plugin_state["approval"][&format!("due:{id}")],
        at(61).as_millisecond().to_string()
    );
    assert!(
        plugin_deadlines(run.ticket()).is_empty(),
        "0.1 had no timers"
    );

    // Upgrade: the current plugin serves the same ticket.
    let h2 = host(&[(&example("approval"), "approval", None)]);
    run.set = h2.set();
    let out = run.send(
        "comment.added",
        &comment("agent", "approve discount"),
        at(2),
    );
    assert_eq!(run.ticket().approvals.len(), 2, "{:#?}", summary(&out));
    assert!(!run.ticket().plugin_state.contains_key("approval"));
    let d = plugin_deadlines(run.ticket());
    assert_eq!(d.len(), 2, "{d:?}");
    assert_eq!((d[0].at, d[0].key.ends_with(&id)), (at(61), true));
    let out = tick(&mut run, &d[0].key, d[0].at, d[0].at);
    let esc = data(of_type(&out, "action.escalate")[0]);
    assert!(esc["reason"].as_str().unwrap().contains(&id), "{esc}");
}
