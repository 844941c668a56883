//! The simulator keeps the live pipeline's rules: clocks fire at their due
//! instant through scheduler ticks, an event at the very instant of a
//! deadline goes first, refused inputs change nothing, runs repeat exactly.

use std::sync::Arc;

use escalier_core::event::Origin;
use escalier_core::process::Limits;
use escalier_core::timers::Books;
use escalier_core::{Event, RejectionCode, Source, Timestamp};
use escalier_policy::PolicySet;
use serde_json::json;

use super::*;

const SLA: &str = r#"
[calendars.always]
always = true

[[policy]]
name = "all"
calendar = "always"
warning = 0.5
targets.normal = { first_response = "1h" }
"#;

const POLICY: &str = r#"
const ON = ["sla.breached"];
escalate(2, "first response breached");
"#;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn event(id: &str, ty: &str, at: &str, data: serde_json::Value) -> Event {
    let json = json!({"id": id, "type": ty, "ticket_id": "T-1", "occurred_at": at, "data": data});
    Event::decode_one(&json.to_string(), Origin::External).unwrap()
}

fn created(at: &str) -> Event {
    event(
        "e1",
        "ticket.created",
        at,
        json!({"subject": "Hi", "requester": {"id": "c"}, "channel": "email"}),
    )
}

fn reply(id: &str, at: &str) -> Event {
    event(
        id,
        "comment.added",
        at,
        json!({"author": {"kind": "agent"}, "body": "on it"}),
    )
}

fn sim() -> Simulator {
    let set = PolicySet::from_sources([("breach.rhai", POLICY), ("sla.toml", SLA)]).unwrap();
    let mut sim = Simulator::with_policies(Arc::new(set), Limits::default());
    sim.start_at(ts("2026-03-09T09:00:00Z"));
    sim
}

fn web() -> Source {
    Source::Webhook { delivery: None }
}

fn types(records: &[Record]) -> Vec<&'static str> {
    records.iter().map(|r| r.event.type_name()).collect()
}

#[test]
fn deadlines_fire_at_their_instant_through_scheduler_ticks() {
    let mut sim = sim();
    sim.submit(
        created("2026-03-09T09:00:00Z"),
        web(),
        ts("2026-03-09T09:00:00Z"),
    );
    let out = sim.advance_to(ts("2026-03-09T12:00:00Z"));
    assert_eq!(
        types(&out),
        [
            "clock.due",
            "sla.warning",
            "clock.due",
            "sla.breached",
            "action.escalate"
        ]
    );
    assert_eq!(out[2].source, Source::Scheduler);
    assert_eq!(
        out[2].recorded_at,
        ts("2026-03-09T10:00:00Z"),
        "breach tick at exactly the due instant"
    );
    let EventKind::SlaBreached(b) = &out[3].event.kind else {
        panic!()
    };
    assert!(!b.late);
    assert_eq!(sim.ticket("T-1").unwrap().tier.get(), 2);
    assert!(sim.next_deadline().is_none());
}

#[test]
fn an_event_at_the_instant_of_a_deadline_is_applied_first() {
    let mut sim = sim();
    sim.submit(
        created("2026-03-09T09:00:00Z"),
        web(),
        ts("2026-03-09T09:00:00Z"),
    );
    let s = sim.submit(
        reply("e2", "2026-03-09T10:00:00Z"),
        web(),
        ts("2026-03-09T10:00:00Z"),
    );
    assert_eq!(
        types(&s.records),
        ["clock.due", "sla.warning", "comment.added", "sla.met"]
    );
    let EventKind::SlaMet(m) = &s.records[3].event.kind else {
        panic!()
    };
    assert!(!m.breached, "a reply exactly on the due time is on time");
    assert!(sim.advance_to(ts("2026-03-10T09:00:00Z")).is_empty());
}

#[test]
fn a_refused_input_changes_nothing_but_due_ticks_still_fire() {
    let mut sim = sim();
    let first = sim.submit(
        reply("e0", "2026-03-09T09:00:00Z"),
        web(),
        ts("2026-03-09T09:00:00Z"),
    );
    assert_eq!(
        first.refused.map(|r| r.code),
        Some(RejectionCode::UnknownTicket)
    );
    sim.submit(
        created("2026-03-09T09:00:00Z"),
        web(),
        ts("2026-03-09T09:00:00Z"),
    );
    let again = sim.submit(
        created("2026-03-09T11:00:00Z"),
        web(),
        ts("2026-03-09T11:00:00Z"),
    );
    assert_eq!(
        again.refused.map(|r| r.code),
        Some(RejectionCode::TicketExists)
    );
    assert_eq!(
        types(&again.records),
        [
            "clock.due",
            "sla.warning",
            "clock.due",
            "sla.breached",
            "action.escalate"
        ]
    );
    assert_eq!(sim.counters().refused, 2);
    assert_eq!(sim.counters().inputs, 1);
}

#[test]
fn runs_are_deterministic_and_time_never_goes_back() {
    let run = || {
        let mut sim = sim();
        sim.submit(
            created("2026-03-09T09:00:00Z"),
            web(),
            ts("2026-03-09T09:00:00Z"),
        );
        sim.advance_to(ts("2026-03-09T09:40:00Z"));
        // Earlier than the clock: processed at the clock's time.
        sim.submit(
            reply("e2", "2026-03-09T09:10:00Z"),
            web(),
            ts("2026-03-09T09:10:00Z"),
        );
        (sim.log().to_vec(), sim.counters())
    };
    let (a, counters) = run();
    assert_eq!(a, run().0);
    assert_eq!(counters.clamped, 1);
    let reply = a
        .iter()
        .find(|r| r.event.type_name() == "comment.added")
        .unwrap();
    assert_eq!(reply.recorded_at, ts("2026-03-09T09:40:00Z"));
}

#[test]
fn books_without_policies_still_run_clocks() {
    let books = Arc::new(Books::parse(Some(SLA), None).unwrap());
    let mut sim = Simulator::new(Vec::new(), books, Limits::default());
    sim.start_at(ts("2026-03-09T09:00:00Z"));
    sim.submit(
        created("2026-03-09T09:00:00Z"),
        web(),
        ts("2026-03-09T09:00:00Z"),
    );
    assert_eq!(
        types(&sim.advance(jiff::SignedDuration::from_hours(2))),
        ["clock.due", "sla.warning", "clock.due", "sla.breached"]
    );
}
