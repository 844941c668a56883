//! Clocks end to end, on a simulated clock: SLA breaches in business time,
//! pauses, escalation ladders and acknowledgement, deadlines that pass while
//! the server is down. No sleeping: moving the clock answers once everything
//! due has fired and been processed.

use crate::util::*;

/// 9–17 Monday to Friday in Paris; 1 h first response for normal tickets.
const SLA: &str = r#"
[calendars.desk]
time_zone = "Europe/Paris"
hours = { mon = ["09:00-17:00"], tue = ["09:00-17:00"], wed = ["09:00-17:00"], thu = ["09:00-17:00"], fri = ["09:00-17:00"] }

[[policy]]
name = "standard"
calendar = "desk"
pause_on = ["pending", "on_hold"]
targets.normal = { first_response = "1h", resolution = "40h" }
targets.urgent = { first_response = "15m" }
"#;

const LADDERS: &str = r#"
[ladders.major-incident]
[[ladders.major-incident.level]]
notify = "oncall-engineer"
after = "15m"
[[ladders.major-incident.level]]
notify = "team-lead"
tier = 2
after = "15m"
[[ladders.major-incident.level]]
notify = "head-of-support"
tier = 3
after = "15m"
"#;

const ON_BREACH: &str = r#"
const ON = ["sla.breached"];
if ticket.tier < 2 { escalate(2, `${event.data.clock} breached`); }
notify("team-lead", `SLA breached on ${ticket.id}`);
"#;

const URGENT_LADDER: &str = r#"
const ON = ["ticket.created"];
if ticket.priority == "urgent" { start_ladder("major-incident", "urgent ticket"); }
"#;

pub(crate) fn files() -> Vec<(&'static str, &'static str)> {
    vec![
        ("sla.toml", SLA),
        ("ladders.toml", LADDERS),
        ("breach.rhai", ON_BREACH),
        ("ladder.rhai", URGENT_LADDER),
    ]
}

/// Friday 2026-03-06 16:55 in Paris (CET, UTC+1).
const FRIDAY_1655: &str = "2026-03-06T15:55:00Z";

pub(crate) fn created_at(event_id: &str, ticket: &str, at: &str, priority: &str) -> String {
    format!(
        r#"{{"id":"{event_id}","type":"ticket.created","ticket_id":"{ticket}","occurred_at":"{at}",
            "data":{{"subject":"Export fails","requester":{{"id":"c1"}},"channel":"email","priority":"{priority}"}}}}"#
    )
}

#[test]
fn a_first_response_breach_on_friday_afternoon_fires_monday_at_the_right_minute() {
    let s = Server::start_with(&files(), &["--simulated-clock", FRIDAY_1655]);
    let seq = s.ingest(&created_at("e1", "T-1", FRIDAY_1655, "normal"));
    let t = s.ticket("T-1", seq);
    let clock = t["timers"]["clocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["clock"] == "first_response")
        .unwrap()
        .clone();
    assert_eq!(
        clock["due"], "2026-03-09T08:55:00Z",
        "Monday 09:55 Paris: {clock}"
    );
    assert_eq!(t["timers"]["sla"], "standard");

    // The whole weekend passes: nothing fires.
    s.clock(r#"{"set": "2026-03-09T08:54:59Z"}"#);
    assert!(s.records_of("T-1", "sla.breached").is_empty());
    // Listed as about to breach.
    let soon = s.get("/v1/tickets?breaching_within=5m");
    assert_eq!(soon.body["tickets"][0]["id"], "T-1", "{}", soon.body);

    let r = s.clock(r#"{"set": "2026-03-09T08:55:00Z"}"#);
    assert!(r.body["fired"].as_u64().unwrap() >= 1);
    let breaches = s.records_of("T-1", "sla.breached");
    assert_eq!(breaches.len(), 1);
    let b = &breaches[0];
    assert_eq!(b["event"]["data"]["clock"], "first_response");
    assert_eq!(b["event"]["data"]["late"], false);
    assert_eq!(b["recorded_at"], "2026-03-09T08:55:00Z");
    assert_eq!(b["source"]["kind"], "clock");
    // The policy reacted to the breach.
    let t = s.ticket("T-1", s.committed());
    assert_eq!(t["ticket"]["tier"], 2);
    assert_eq!(t["ticket"]["sla_breaches"], 1);
    assert!(s.records_of("T-1", "action.notify").len() == 1);
    // Moving on fires nothing more for that clock.
    s.clock(r#"{"advance": "3h"}"#);
    assert_eq!(s.records_of("T-1", "sla.breached").len(), 1);
}

#[test]
fn pending_pauses_the_clock_and_it_resumes_with_the_time_left() {
    let monday_9 = "2026-03-09T08:00:00Z"; // 09:00 Paris
    let s = Server::start_with(&files(), &["--simulated-clock", monday_9]);
    s.ingest(&created_at("e1", "T-1", monday_9, "normal"));
    s.clock(r#"{"advance": "30m"}"#);
    s.ingest(&status("e2", "T-1", "pending"));
    s.clock(r#"{"advance": "2h"}"#); // 11:30 Paris: would have breached at 10:00 without the pause
    assert!(s.records_of("T-1", "sla.breached").is_empty());
    let seq = s.ingest(&status("e3", "T-1", "open"));
    let t = s.ticket("T-1", seq);
    let clock = t["timers"]["clocks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["clock"] == "first_response")
        .unwrap()
        .clone();
    assert_eq!(
        clock["due"], "2026-03-09T11:00:00Z",
        "30 minutes left after resuming at 11:30 Paris: {clock}"
    );
    s.clock(r#"{"set": "2026-03-09T10:59:59Z"}"#);
    assert!(s.records_of("T-1", "sla.breached").is_empty());
    s.clock(r#"{"set": "2026-03-09T11:00:00Z"}"#);
    assert_eq!(s.records_of("T-1", "sla.breached").len(), 1);
}

#[test]
fn a_ladder_walks_its_levels_and_stops_on_acknowledgement() {
    let t0 = "2026-03-09T10:00:00Z";
    let s = Server::start_with(&files(), &["--simulated-clock", t0]);
    s.ingest(&created_at("e1", "T-1", t0, "urgent"));
    assert_eq!(
        s.records_of("T-1", "ladder.level_reached").len(),
        1,
        "level 1 at once"
    );
    s.clock(r#"{"advance": "14m"}"#);
    assert_eq!(s.records_of("T-1", "ladder.level_reached").len(), 1);
    s.clock(r#"{"advance": "1m"}"#);
    let levels = s.records_of("T-1", "ladder.level_reached");
    assert_eq!(levels.len(), 2);
    assert_eq!(levels[1]["event"]["data"]["level"], 2);
    assert_eq!(levels[1]["recorded_at"], "2026-03-09T10:15:00Z");
    assert_eq!(
        s.ticket("T-1", s.committed())["ticket"]["tier"],
        2,
        "level 2 escalates to tier 2"
    );

    // The team lead acknowledges through the API.
    let r = s.post_json(
        "/v1/tickets/T-1/ack",
        Some(TOKEN),
        r#"{"by": "lead-sam", "note": "on it"}"#,
    );
    assert_eq!(r.status, 202, "{}", r.body);
    s.clock(r#"{"advance": "2h"}"#);
    assert_eq!(
        s.records_of("T-1", "ladder.level_reached").len(),
        2,
        "no level after the ack"
    );
    assert!(s.records_of("T-1", "ladder.exhausted").is_empty());
    let t = s.ticket("T-1", s.committed());
    assert_eq!(t["ticket"]["tier"], 2);
    assert_eq!(
        t["timers"]["ladders"][0]["state"], "acknowledged",
        "{}",
        t["timers"]
    );
}

#[test]
fn deadlines_that_pass_while_the_server_is_down_fire_once_flagged_late() {
    let t0 = "2026-03-09T08:00:00Z"; // Monday 09:00 Paris
    let mut s = Server::start_with(&files(), &["--simulated-clock", t0]);
    s.ingest(&created_at("e1", "T-1", t0, "normal"));
    s.ingest(&created_at("e2", "T-2", t0, "normal"));
    s.kill_and_restart_with(&["--simulated-clock", "2026-03-09T12:00:00Z"]);
    // Settle at the restart time: both overdue deadlines fire, once each, late.
    s.clock(r#"{"set": "2026-03-09T12:00:00Z"}"#);
    for t in ["T-1", "T-2"] {
        let b = s.records_of(t, "sla.breached");
        assert_eq!(b.len(), 1, "{t}");
        assert_eq!(b[0]["event"]["data"]["late"], true);
        assert_eq!(b[0]["event"]["data"]["due"], "2026-03-09T09:00:00Z");
    }
    s.restart();
    s.clock(r#"{"advance": "1m"}"#);
    assert_eq!(
        s.records_of("T-1", "sla.breached").len(),
        1,
        "not again after another restart"
    );
}

#[test]
fn the_clock_moves_only_when_simulated_and_only_for_admins() {
    let s = Server::start(&[]);
    let r = s.post_json("/v1/admin/clock", Some(TOKEN), r#"{"advance": "1h"}"#);
    assert_eq!((r.status, r.code()), (409, "simulated_clock_disabled"));
    let s = Server::start_with(&[], &["--simulated-clock", "2026-03-09T08:00:00Z"]);
    let out = s.cli(&["token", "create", "--name", "reader", "--scope", "read"]);
    let reader = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let r = s.post_json("/v1/admin/clock", Some(&reader), r#"{"advance": "1h"}"#);
    assert_eq!((r.status, r.code()), (403, "scope_missing"));
    let r = s.post_json(
        "/v1/admin/clock",
        Some(TOKEN),
        r#"{"set": "2026-03-09T07:00:00Z"}"#,
    );
    assert_eq!((r.status, r.code()), (422, "clock_backwards"));
    assert_eq!(
        s.clock(r#"{"advance": "90m"}"#).body["now"],
        "2026-03-09T09:30:00Z"
    );
}
