//! SLA tests: the named scenarios end to end through the real reducer,
//! data-file errors, and property tests over random event sequences.

use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::calendar::ConfigErrorCode;
use crate::event::{Event, Origin};
use crate::record::{Record, Source};
use crate::reduce;
use crate::ticket::Ticket;

const BOOK: &str = r#"
[calendars.office]
time_zone = "UTC"
hours = { mon = ["09:00-17:00"], tue = ["09:00-17:00"], wed = ["09:00-17:00"], thu = ["09:00-17:00"], fri = ["09:00-17:00"] }

[calendars.round-the-clock]
always = true

[[policy]]
name = "vip"
calendar = "round-the-clock"
when = { vip = true }
targets.urgent = { first_response = "15m", resolution = "4h" }
targets.normal = { first_response = "1h", resolution = "1d" }

[[policy]]
name = "standard"
calendar = "office"
targets.urgent = { first_response = "30m", next_response = "1h", periodic_update = "2h", resolution = "4h" }
targets.normal = { first_response = "1h", next_response = "4h", periodic_update = "8h", resolution = "3d" }
targets.low = { resolution = "5d" }
"#;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn h(n: i64) -> SignedDuration {
    SignedDuration::from_hours(n)
}

fn m(n: i64) -> SignedDuration {
    SignedDuration::from_mins(n)
}

/// A ticket driven through the real reducer, with its clocks beside it.
struct Sim {
    book: SlaBook,
    ticket: Option<Ticket>,
    clocks: ClockSet,
    seq: u64,
}

impl Sim {
    fn new(book: &str) -> Sim {
        Sim {
            book: SlaBook::from_toml(book).unwrap(),
            ticket: None,
            clocks: ClockSet::new(),
            seq: 0,
        }
    }

    fn send(&mut self, at: &str, type_name: &str, data: serde_json::Value) -> ClockReport {
        self.send_at(ts(at), type_name, data)
    }

    fn send_at(&mut self, at: Timestamp, type_name: &str, data: serde_json::Value) -> ClockReport {
        self.seq += 1;
        let body = json!({
            "id": format!("e{}", self.seq),
            "type": type_name,
            "ticket_id": "T-1",
            "occurred_at": at.to_string(),
            "data": data,
        });
        let event = Event::decode_one(&body.to_string(), Origin::Internal).unwrap();
        let rec = Record {
            seq: self.seq,
            index: 0,
            recorded_at: at,
            source: Source::Webhook { delivery: None },
            event,
        };
        let t = reduce::apply(self.ticket.take(), &rec).unwrap();
        let report = self.clocks.on_event(&self.book, &t, &rec.event, at);
        self.ticket = Some(t);
        report
    }

    fn create(&mut self, at: &str, priority: &str, vip: bool) -> ClockReport {
        self.send(
            at,
            "ticket.created",
            json!({"subject": "Printer on fire", "channel": "email", "priority": priority,
                   "requester": {"id": "c-1", "vip": vip}}),
        )
    }

    fn reply(&mut self, at: &str) -> ClockReport {
        self.send(
            at,
            "comment.added",
            json!({"author": {"kind": "agent"}, "body": "On it"}),
        )
    }

    fn customer(&mut self, at: &str) -> ClockReport {
        self.send(
            at,
            "comment.added",
            json!({"author": {"kind": "customer"}, "body": "Any news?"}),
        )
    }

    fn status(&mut self, at: &str, status: &str) -> ClockReport {
        self.send(at, "status.changed", json!({"status": status}))
    }

    fn update(&mut self, at: &str, data: serde_json::Value) -> ClockReport {
        self.send(at, "ticket.updated", data)
    }

    fn deadline(&self, kind: ClockKind, threshold: Threshold) -> Option<Deadline> {
        self.clocks
            .deadlines(&self.book)
            .find(|d| d.clock == kind && d.threshold == threshold)
    }

    fn due(&self, kind: ClockKind) -> Option<Timestamp> {
        self.deadline(kind, Threshold::Breach).map(|d| d.due)
    }

    fn clock(&self, kind: ClockKind) -> &SlaClock {
        self.clocks.clock(kind).unwrap()
    }
}

fn met(report: &ClockReport, kind: ClockKind) -> Option<bool> {
    report
        .transitions
        .iter()
        .find_map(|t| match (&t.change, t.clock == kind) {
            (Change::Met { breached, .. }, true) => Some(*breached),
            _ => None,
        })
}

#[test]
fn friday_1655_with_a_one_hour_first_response_is_due_monday_0955() {
    let mut sim = Sim::new(BOOK);
    let report = sim.create("2026-03-06T16:55:00Z", "normal", false);
    assert_eq!(
        report.policy_changed,
        Some((None, Some("standard".to_owned())))
    );
    assert_eq!(
        sim.due(ClockKind::FirstResponse),
        Some(ts("2026-03-09T09:55:00Z"))
    );
    // The warning at 75%: 45 business minutes.
    let warning = sim
        .deadline(ClockKind::FirstResponse, Threshold::Warning)
        .unwrap();
    assert_eq!(warning.due, ts("2026-03-09T09:40:00Z"));

    // Early: refused, and nothing changes.
    let breach = sim
        .deadline(ClockKind::FirstResponse, Threshold::Breach)
        .unwrap();
    assert_eq!(
        sim.clocks
            .fire(&sim.book, &breach, ts("2026-03-09T09:54:59Z")),
        Err(FireRefused::NotDue {
            due: ts("2026-03-09T09:55:00Z")
        })
    );
    let fired = sim
        .clocks
        .fire(&sim.book, &warning, ts("2026-03-09T09:40:00Z"))
        .unwrap();
    assert_eq!(
        (fired.threshold, fired.elapsed, fired.late),
        (Threshold::Warning, m(45), false)
    );
    let fired = sim
        .clocks
        .fire(&sim.book, &breach, ts("2026-03-09T09:55:00Z"))
        .unwrap();
    assert_eq!(fired.clock, ClockKind::FirstResponse);
    assert_eq!(fired.sla.as_deref(), Some("standard"));
    assert_eq!(
        (fired.target, fired.elapsed, fired.late),
        (h(1), h(1), false)
    );
    // Idempotent.
    assert_eq!(
        sim.clocks
            .fire(&sim.book, &breach, ts("2026-03-09T09:56:00Z")),
        Err(FireRefused::AlreadyFired)
    );
    assert_eq!(
        sim.deadline(ClockKind::FirstResponse, Threshold::Breach),
        None
    );

    // The reply meets the clock, late.
    let report = sim.reply("2026-03-09T10:10:00Z");
    assert_eq!(met(&report, ClockKind::FirstResponse), Some(true));
    assert_eq!(sim.clock(ClockKind::FirstResponse).elapsed(), m(75));
    assert_eq!(sim.clock(ClockKind::FirstResponse).state(), ClockState::Met);
}

#[test]
fn late_means_more_than_a_second_after_due() {
    let due = ts("2026-03-09T09:55:00Z");
    assert!(!is_late(due, due));
    assert!(!is_late(due, due + SignedDuration::from_millis(800)));
    assert!(!is_late(due, due + SignedDuration::from_secs(1)));
    assert!(is_late(
        due,
        due + SignedDuration::from_secs(1) + SignedDuration::from_nanos(1)
    ));
    assert!(!is_late(due, due - SignedDuration::from_secs(5)));
}

#[test]
fn a_reply_exactly_at_the_due_time_is_on_time() {
    let mut sim = Sim::new(BOOK);
    sim.create("2026-03-06T16:55:00Z", "normal", false);
    let report = sim.reply("2026-03-09T09:55:00Z");
    assert!(
        report
            .fired
            .iter()
            .all(|f| f.threshold == Threshold::Warning),
        "{report:?}"
    );
    assert_eq!(met(&report, ClockKind::FirstResponse), Some(false));
}

#[test]
fn pending_pauses_and_resuming_keeps_the_remaining_time() {
    let mut sim = Sim::new(BOOK);
    sim.create("2026-03-09T09:00:00Z", "urgent", false);
    assert_eq!(
        sim.due(ClockKind::Resolution),
        Some(ts("2026-03-09T13:00:00Z"))
    );
    let report = sim.status("2026-03-09T10:00:00Z", "pending");
    assert!(
        report
            .transitions
            .iter()
            .any(|t| t.clock == ClockKind::Resolution
                && t.change == Change::Paused
                && t.elapsed == h(1))
    );
    assert_eq!(sim.clock(ClockKind::Resolution).state(), ClockState::Paused);
    assert_eq!(
        sim.clocks.deadlines(&sim.book).count(),
        0,
        "paused clocks never fire"
    );
    let view = sim.clocks.view(&sim.book, ts("2026-03-10T12:00:00Z"));
    let res = view
        .iter()
        .find(|v| v.clock == ClockKind::Resolution)
        .unwrap();
    assert_eq!(
        (res.elapsed, res.remaining, res.due),
        (h(1), Some(h(3)), None)
    );

    // The customer answers the next day at 11:00: three business hours left.
    sim.status("2026-03-10T11:00:00Z", "open");
    assert_eq!(
        sim.due(ClockKind::Resolution),
        Some(ts("2026-03-10T14:00:00Z"))
    );
    let view = sim.clocks.view(&sim.book, ts("2026-03-10T12:30:00Z"));
    let res = view
        .iter()
        .find(|v| v.clock == ClockKind::Resolution)
        .unwrap();
    assert_eq!((res.elapsed, res.remaining), (m(150), Some(m(90))));
}

#[test]
fn a_priority_change_re_selects_targets_and_keeps_elapsed_time() {
    let mut sim = Sim::new(BOOK);
    sim.create("2026-03-09T09:00:00Z", "normal", false);
    assert_eq!(
        sim.due(ClockKind::FirstResponse),
        Some(ts("2026-03-09T10:00:00Z"))
    );
    // 20 minutes in, it becomes urgent: 30m target, 20m already used.
    let report = sim.update("2026-03-09T09:20:00Z", json!({"priority": "urgent"}));
    assert_eq!(report.policy_changed, None);
    assert!(
        report
            .transitions
            .iter()
            .any(|t| t.clock == ClockKind::FirstResponse
                && t.change
                    == Change::Retargeted {
                        from: Some(h(1)),
                        to: Some(m(30))
                    })
    );
    assert_eq!(
        sim.due(ClockKind::FirstResponse),
        Some(ts("2026-03-09T09:30:00Z"))
    );
    // The scheduler fires the warning and the breach on time.
    for threshold in [Threshold::Warning, Threshold::Breach] {
        let d = sim.deadline(ClockKind::FirstResponse, threshold).unwrap();
        let fired = sim.clocks.fire(&sim.book, &d, d.due).unwrap();
        assert!(!fired.late);
    }
    // Down to low: the policy still applies but has no first-response
    // target for low (no fall through); time is still measured.
    sim.update("2026-03-09T09:40:00Z", json!({"priority": "low"}));
    assert_eq!(sim.due(ClockKind::FirstResponse), None);
    assert_eq!(sim.clock(ClockKind::FirstResponse).target(), None);
    // Back to urgent: still breached, and it does not fire twice.
    let report = sim.update("2026-03-09T09:50:00Z", json!({"priority": "urgent"}));
    assert!(report.fired.is_empty(), "{report:?}");
    assert!(sim.clock(ClockKind::FirstResponse).breached());
    // To normal (1h) with 55 minutes elapsed: no longer breached, due at 10:00.
    sim.update("2026-03-09T09:55:00Z", json!({"priority": "normal"}));
    assert!(!sim.clock(ClockKind::FirstResponse).breached());
    assert_eq!(
        sim.due(ClockKind::FirstResponse),
        Some(ts("2026-03-09T10:00:00Z"))
    );
    assert_eq!(
        sim.clock(ClockKind::FirstResponse).elapsed(),
        SignedDuration::ZERO,
        "nothing committed without a calendar change"
    );
    let view = sim.clocks.view(&sim.book, ts("2026-03-09T09:55:00Z"));
    assert_eq!(view[0].elapsed, m(55));
}

#[test]
fn a_policy_change_accounts_time_on_the_calendar_it_ran_under() {
    let mut sim = Sim::new(BOOK);
    // Friday 16:30 on the office calendar: 30 business minutes to 17:00.
    sim.create("2026-03-06T16:30:00Z", "normal", false);
    // Saturday 10:00 the requester turns VIP: the 24×7 policy applies, and
    // only the 30 office minutes count so far (the night was closed).
    let report = sim.update(
        "2026-03-07T10:00:00Z",
        json!({"requester": {"id": "c-1", "vip": true}}),
    );
    assert_eq!(
        report.policy_changed,
        Some((Some("standard".to_owned()), Some("vip".to_owned())))
    );
    assert_eq!(sim.clock(ClockKind::FirstResponse).elapsed(), m(30));
    // 1h target on 24×7: 30 minutes left from 10:00.
    assert_eq!(
        sim.due(ClockKind::FirstResponse),
        Some(ts("2026-03-07T10:30:00Z"))
    );
    assert_eq!(sim.clocks.policy(), Some("vip"));
}

#[test]
fn deadlines_missed_while_down_fire_late_with_the_next_event() {
    let mut sim = Sim::new(BOOK);
    sim.create("2026-03-09T09:00:00Z", "urgent", false);
    // Nobody fired anything; a customer comment arrives at 11:00.
    let report = sim.customer("2026-03-09T11:00:00Z");
    let fired: Vec<_> = report
        .fired
        .iter()
        .map(|f| (f.threshold, f.due, f.late))
        .collect();
    assert_eq!(
        fired,
        [
            (Threshold::Warning, ts("2026-03-09T09:22:30Z"), true),
            (Threshold::Breach, ts("2026-03-09T09:30:00Z"), true),
        ]
    );
    // The scheduler's copy of the same deadline, delivered later, is refused.
    let stale = Deadline {
        due: ts("2026-03-09T09:30:00Z"),
        clock: ClockKind::FirstResponse,
        cycle: 0,
        threshold: Threshold::Breach,
    };
    assert_eq!(
        sim.clocks
            .fire(&sim.book, &stale, ts("2026-03-09T11:00:01Z")),
        Err(FireRefused::AlreadyFired)
    );
    // A scheduler waking up after downtime fires late, with the exact due.
    let res = sim
        .deadline(ClockKind::Resolution, Threshold::Warning)
        .unwrap();
    assert_eq!(res.due, ts("2026-03-09T12:00:00Z"));
    let fired = sim
        .clocks
        .fire(&sim.book, &res, ts("2026-03-09T15:00:00Z"))
        .unwrap();
    assert!(fired.late);
    assert_eq!(fired.fired_at, ts("2026-03-09T15:00:00Z"));
}

#[test]
fn next_response_runs_from_a_customer_comment_to_the_next_reply() {
    let mut sim = Sim::new(BOOK);
    sim.create("2026-03-09T09:00:00Z", "urgent", false);
    // A customer comment before any agent reply is covered by first response.
    sim.customer("2026-03-09T09:05:00Z");
    assert!(sim.clocks.clock(ClockKind::NextResponse).is_none());
    sim.reply("2026-03-09T09:10:00Z");
    assert!(sim.clocks.clock(ClockKind::NextResponse).is_none());
    sim.customer("2026-03-09T10:00:00Z");
    assert_eq!(
        sim.due(ClockKind::NextResponse),
        Some(ts("2026-03-09T11:00:00Z"))
    );
    // A second customer comment does not restart it.
    sim.customer("2026-03-09T10:30:00Z");
    assert_eq!(
        sim.due(ClockKind::NextResponse),
        Some(ts("2026-03-09T11:00:00Z"))
    );
    // A private note does not stop it.
    sim.send(
        "2026-03-09T10:40:00Z",
        "comment.added",
        json!({"author": {"kind": "agent"}, "public": false, "body": "checking logs"}),
    );
    assert_eq!(
        sim.clock(ClockKind::NextResponse).state(),
        ClockState::Running
    );
    let report = sim.reply("2026-03-09T10:45:00Z");
    assert_eq!(met(&report, ClockKind::NextResponse), Some(false));
    assert_eq!(sim.clock(ClockKind::NextResponse).elapsed(), m(45));
    // The next customer comment opens a new cycle.
    sim.customer("2026-03-09T12:00:00Z");
    let c = sim.clock(ClockKind::NextResponse);
    assert_eq!(
        (c.cycle(), c.elapsed(), c.state()),
        (1, SignedDuration::ZERO, ClockState::Running)
    );
}

#[test]
fn periodic_update_needs_a_reply_every_period_while_open() {
    let mut sim = Sim::new(BOOK);
    sim.create("2026-03-09T09:00:00Z", "urgent", false);
    assert!(
        sim.clocks.clock(ClockKind::PeriodicUpdate).is_none(),
        "starts at the first reply"
    );
    sim.reply("2026-03-09T09:10:00Z");
    assert_eq!(
        sim.due(ClockKind::PeriodicUpdate),
        Some(ts("2026-03-09T11:10:00Z"))
    );
    let report = sim.reply("2026-03-09T10:00:00Z");
    assert_eq!(met(&report, ClockKind::PeriodicUpdate), Some(false));
    assert_eq!(sim.clock(ClockKind::PeriodicUpdate).cycle(), 1);
    assert_eq!(
        sim.due(ClockKind::PeriodicUpdate),
        Some(ts("2026-03-09T12:00:00Z"))
    );
    // Solving ends the cadence without a met: nobody owes an update.
    let report = sim.status("2026-03-09T10:30:00Z", "solved");
    assert!(
        report
            .transitions
            .iter()
            .any(|t| t.clock == ClockKind::PeriodicUpdate && t.change == Change::Cancelled)
    );
    assert_eq!(met(&report, ClockKind::Resolution), Some(false));
    assert_eq!(sim.clocks.deadlines(&sim.book).count(), 0);
}

#[test]
fn solving_before_any_reply_cancels_first_response_and_a_reopen_resumes_it() {
    let mut sim = Sim::new(BOOK);
    sim.create("2026-03-09T09:00:00Z", "normal", false);
    let report = sim.status("2026-03-09T09:20:00Z", "solved");
    assert!(
        report
            .transitions
            .iter()
            .any(|t| t.clock == ClockKind::FirstResponse && t.change == Change::Cancelled)
    );
    assert_eq!(met(&report, ClockKind::FirstResponse), None);
    // Reopened: the first response is still owed, with 40 minutes left.
    let report = sim.status("2026-03-09T11:00:00Z", "open");
    assert!(
        report
            .transitions
            .iter()
            .any(|t| t.clock == ClockKind::FirstResponse && t.change == Change::Reactivated)
    );
    assert_eq!(
        sim.due(ClockKind::FirstResponse),
        Some(ts("2026-03-09T11:40:00Z"))
    );
}

#[test]
fn reopen_resumes_or_restarts_resolution_per_policy() {
    let book = |reopen: &str| {
        format!(
            "[calendars.c]\nalways = true\n[[policy]]\nname = \"p\"\ncalendar = \"c\"\nreopen = \"{reopen}\"\ntargets.normal = {{ resolution = \"10h\" }}\n"
        )
    };
    for (reopen, elapsed, cycle, due) in [
        ("resume", h(2), 0, "2026-03-10T08:00:00Z"),
        ("restart", SignedDuration::ZERO, 1, "2026-03-10T10:00:00Z"),
    ] {
        let mut sim = Sim::new(&book(reopen));
        sim.create("2026-03-09T10:00:00Z", "normal", false);
        sim.status("2026-03-09T12:00:00Z", "solved");
        assert_eq!(sim.clock(ClockKind::Resolution).state(), ClockState::Met);
        sim.status("2026-03-10T00:00:00Z", "open");
        let c = sim.clock(ClockKind::Resolution);
        assert_eq!((c.elapsed(), c.cycle()), (elapsed, cycle), "{reopen}");
        assert_eq!(sim.due(ClockKind::Resolution), Some(ts(due)), "{reopen}");
        assert_eq!(sim.ticket.as_ref().unwrap().reopen_count, 1);
    }
}

#[test]
fn a_stale_deadline_from_an_earlier_cycle_is_refused() {
    let mut sim = Sim::new(BOOK);
    sim.create("2026-03-09T09:00:00Z", "urgent", false);
    sim.reply("2026-03-09T09:05:00Z");
    let first = sim
        .deadline(ClockKind::PeriodicUpdate, Threshold::Breach)
        .unwrap();
    sim.reply("2026-03-09T09:30:00Z");
    assert_eq!(
        sim.clocks
            .fire(&sim.book, &first, ts("2026-03-09T12:00:00Z")),
        Err(FireRefused::Stale)
    );
}

#[test]
fn a_book_reload_re_targets_open_tickets_from_their_elapsed_time() {
    let mut sim = Sim::new(BOOK);
    sim.create("2026-03-09T09:00:00Z", "normal", false);
    let faster = BOOK.replace(
        r#"targets.normal = { first_response = "1h", next_response"#,
        r#"targets.normal = { first_response = "45m", next_response"#,
    );
    let new = SlaBook::from_toml(&faster).unwrap();
    let ticket = sim.ticket.clone().unwrap();
    let report = sim
        .clocks
        .retarget(&sim.book, &new, &ticket, ts("2026-03-09T09:30:00Z"));
    assert!(
        report
            .transitions
            .iter()
            .any(|t| t.clock == ClockKind::FirstResponse
                && t.change
                    == Change::Retargeted {
                        from: Some(h(1)),
                        to: Some(m(45))
                    })
    );
    sim.book = new;
    let cal = sim.book.calendar_of(sim.clocks.policy());
    assert_eq!(
        sim.clock(ClockKind::FirstResponse)
            .elapsed_at(cal, ts("2026-03-09T09:30:00Z")),
        m(30)
    );
    assert_eq!(
        sim.due(ClockKind::FirstResponse),
        Some(ts("2026-03-09T09:45:00Z"))
    );
    // A reload that removes every policy keeps the clocks, untargeted.
    let report = sim.clocks.retarget(
        &sim.book,
        &SlaBook::default(),
        &ticket,
        ts("2026-03-09T09:40:00Z"),
    );
    assert_eq!(
        report.policy_changed,
        Some((Some("standard".to_owned()), None))
    );
    assert_eq!(sim.clock(ClockKind::FirstResponse).elapsed(), m(40));
    assert_eq!(sim.clocks.deadlines(&SlaBook::default()).count(), 0);
}

#[test]
fn first_matching_policy_wins() {
    let sim = Sim::new(BOOK);
    let mut t = {
        let mut s = Sim::new(BOOK);
        s.create("2026-03-09T09:00:00Z", "normal", true);
        s.ticket.unwrap()
    };
    assert_eq!(sim.book.select(&t).map(|p| p.name.as_str()), Some("vip"));
    t.requester.vip = false;
    assert_eq!(
        sim.book.select(&t).map(|p| p.name.as_str()),
        Some("standard")
    );
    let only_enterprise = SlaBook::from_toml(
        "[[policy]]\nname = \"ent\"\nwhen = { plan = [\"enterprise\"], channel = [\"email\", \"chat\"] }\ntargets.normal = { resolution = \"1d\" }\n",
    )
    .unwrap();
    assert!(
        only_enterprise.select(&t).is_none(),
        "no plan never matches a plan condition"
    );
    t.requester.plan = Some("enterprise".to_owned());
    assert_eq!(
        only_enterprise.select(&t).map(|p| p.name.as_str()),
        Some("ent")
    );
    // No calendar named: the book's default (24×7).
    assert!(only_enterprise.calendar_of(Some("ent")).is_continuous());
}

#[test]
fn clock_sets_are_small_and_round_trip() {
    let mut sim = Sim::new(BOOK);
    sim.create("2026-03-09T09:00:00Z", "urgent", false);
    sim.reply("2026-03-09T09:05:00Z");
    sim.customer("2026-03-09T09:30:00Z");
    let json = serde_json::to_string(&sim.clocks).unwrap();
    let back: ClockSet = serde_json::from_str(&json).unwrap();
    assert_eq!(back, sim.clocks);
    // Four clocks with their state: about 100 bytes of JSON each, and
    // 64 bytes each in memory on 64-bit targets.
    assert_eq!(sim.clocks.clocks().len(), 4);
    assert!(json.len() < 450, "{} bytes: {json}", json.len());
    assert!(
        std::mem::size_of::<SlaClock>() <= 80,
        "{}",
        std::mem::size_of::<SlaClock>()
    );
}

// ---------------------------------------------------------------------
// Data-file errors.

fn book_err(src: &str) -> crate::calendar::ConfigError {
    SlaBook::from_toml(src).unwrap_err()
}

#[test]
fn sla_file_errors_name_the_key() {
    let e = book_err(
        "[calendars.office]\nalways = true\n[[policy]]\nname = \"p\"\ncalendar = \"ofice\"\ntargets.normal = { resolution = \"1d\" }\n",
    );
    assert_eq!(
        (e.code, e.key.as_str()),
        (ConfigErrorCode::UnknownName, "policy[0].calendar")
    );
    assert!(e.message.contains("did you mean `office`?"), "{e}");
    assert_eq!((e.line, e.column), (5, 12));

    let e = book_err("[[policy]]\nname = \"p\"\ntargets.normal = { resolution = \"1 day\" }\n");
    assert_eq!(e.key, "policy[0].targets.normal.resolution");
    assert!(e.message.contains("`1 day` is not a duration"), "{e}");

    let e = book_err("[[policy]]\nname = \"p\"\ntargets.critical = { resolution = \"1d\" }\n");
    assert_eq!(
        (e.code, e.key.as_str()),
        (ConfigErrorCode::UnknownKey, "policy[0].targets.critical")
    );

    let e = book_err("[[policy]]\nname = \"p\"\ntargets.normal = { first_reply = \"1h\" }\n");
    assert_eq!(e.key, "policy[0].targets.normal.first_reply");
    assert!(e.message.contains("did you mean `first_response`?"), "{e}");

    let e = book_err(
        "[[policy]]\nname = \"p\"\nwhen = { priority = [\"urgnet\"] }\ntargets.normal = { resolution = \"1d\" }\n",
    );
    assert_eq!(e.key, "policy[0].when.priority[0]");
    assert!(e.message.contains("did you mean `urgent`?"), "{e}");

    let e = book_err(
        "[[policy]]\nname = \"p\"\nwhen = { tier = 2 }\ntargets.normal = { resolution = \"1d\" }\n",
    );
    assert_eq!(e.key, "policy[0].when.tier");

    let e = book_err(
        "[[policy]]\nname = \"p\"\nwarning = 1.5\ntargets.normal = { resolution = \"1d\" }\n",
    );
    assert_eq!(e.key, "policy[0].warning");

    let e = book_err(
        "[[policy]]\nname = \"p\"\npause_on = [\"solved\"]\ntargets.normal = { resolution = \"1d\" }\n",
    );
    assert_eq!(e.key, "policy[0].pause_on[0]");

    let e = book_err(
        "[[policy]]\nname = \"p\"\nreopen = \"reset\"\ntargets.normal = { resolution = \"1d\" }\n",
    );
    assert_eq!(e.key, "policy[0].reopen");

    let e = book_err(
        "[[policy]]\nname = \"p\"\ntargets.normal = { resolution = \"1d\" }\n[[policy]]\nname = \"p\"\ntargets.normal = { resolution = \"2d\" }\n",
    );
    assert_eq!(
        (e.code, e.key.as_str()),
        (ConfigErrorCode::Duplicate, "policy[1].name")
    );

    let e = book_err("[[policy]]\nname = \"p\"\n");
    assert_eq!(
        (e.code, e.key.as_str()),
        (ConfigErrorCode::MissingKey, "policy[0].targets")
    );

    let e = book_err("[[policies]]\nname = \"p\"\n");
    assert_eq!(e.key, "policies");
    assert!(e.message.contains("did you mean `policy`?"), "{e}");

    let e = book_err("default_calendar = \"nope\"\n");
    assert_eq!(
        (e.code, e.key.as_str()),
        (ConfigErrorCode::UnknownName, "default_calendar")
    );
}

#[test]
fn the_documented_example_loads() {
    let src =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/sla.md")).unwrap();
    let start = src.find("```toml\n").unwrap() + "```toml\n".len();
    let end = start + src[start..].find("```").unwrap();
    let book = SlaBook::from_toml(&src[start..end]).unwrap();
    assert!(book.policies().len() >= 3);
    assert_eq!(
        book.policy("enterprise-urgent").map(|p| p.reopen),
        Some(Reopen::Restart)
    );
}

// ---------------------------------------------------------------------
// Properties over random event sequences.

#[derive(Debug, Clone)]
enum Step {
    Pending,
    Open,
    Reply,
    Customer,
    Priority(&'static str),
}

fn step_strategy() -> impl Strategy<Value = (i64, Step)> {
    (
        1i64..36 * 60,
        prop_oneof![
            3 => Just(Step::Pending),
            3 => Just(Step::Open),
            2 => Just(Step::Reply),
            2 => Just(Step::Customer),
            1 => prop_oneof![Just("low"), Just("normal"), Just("urgent")].prop_map(Step::Priority),
        ],
    )
}

const PROP_BOOK: &str = r#"
[calendars.paris]
time_zone = "Europe/Paris"
hours = { mon = ["09:00-12:00", "13:00-17:00"], tue = ["09:00-17:00"], wed = ["09:00-17:00"], thu = ["09:00-17:00"], fri = ["09:00-16:00"], sat = ["10:00-12:00"] }
holidays = ["2026-03-27", { date = "2026-03-30", hours = ["10:00-11:00"] }]

[[policy]]
name = "all"
calendar = "paris"
targets.urgent = { first_response = "30m", next_response = "1h", periodic_update = "2h", resolution = "4h" }
targets.normal = { first_response = "2h", next_response = "4h", periodic_update = "8h", resolution = "2d" }
"#;

/// Reproducible runs: cases come from a fixed seed unless
/// `PROPTEST_RNG_SEED` names another.
fn seed() -> proptest::test_runner::RngSeed {
    use proptest::test_runner::RngSeed;
    match ProptestConfig::default().rng_seed {
        RngSeed::Random => RngSeed::Fixed(0x51a0_0000_0001),
        chosen => chosen,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, rng_seed: seed(), ..ProptestConfig::default() })]

    /// Business time is conserved across any pattern of pauses: the
    /// resolution clock's elapsed time equals the business time of the
    /// running stretches, measured independently.
    #[test]
    fn pausing_and_resuming_never_loses_or_gains_time(steps in proptest::collection::vec(step_strategy(), 1..25)) {
        let mut sim = Sim::new(PROP_BOOK);
        let mut at = ts("2026-03-25T08:00:00Z");
        sim.send_at(at, "ticket.created", json!({"subject": "s", "channel": "web", "priority": "normal", "requester": {"id": "c"}}));
        let cal = sim.book.calendar_of(Some("all")).clone();
        let mut expected = SignedDuration::ZERO;
        let mut running_since = Some(at);
        for (gap, step) in steps {
            at += SignedDuration::from_mins(gap);
            match step {
                Step::Pending => { sim.send_at(at, "status.changed", json!({"status": "pending"})); }
                Step::Open => { sim.send_at(at, "status.changed", json!({"status": "open"})); }
                Step::Reply => { sim.send_at(at, "comment.added", json!({"author": {"kind": "agent"}, "body": "b"})); }
                Step::Customer => { sim.send_at(at, "comment.added", json!({"author": {"kind": "customer"}, "body": "b"})); }
                Step::Priority(p) => { sim.send_at(at, "ticket.updated", json!({"priority": p})); }
            }
            let paused = sim.ticket.as_ref().unwrap().status == crate::vocab::Status::Pending;
            match (running_since, paused) {
                (Some(s), true) => { expected += cal.business_between(s, at).unwrap(); running_since = None; }
                (None, false) => running_since = Some(at),
                _ => {}
            }
            let res = sim.clock(ClockKind::Resolution);
            prop_assert_eq!(res.elapsed_at(&cal, at), expected + running_since.map_or(SignedDuration::ZERO, |s| cal.business_between(s, at).unwrap()));
        }
    }

    /// Deadlines are exact: at a breach's due instant the clock has exactly
    /// its target of business time, and one second earlier less. Firing
    /// before due is refused; at due it succeeds once.
    #[test]
    fn deadlines_are_never_early_and_fire_once(steps in proptest::collection::vec(step_strategy(), 0..12), probe in prop_oneof![Just(1i64), 1i64..3600]) {
        let mut sim = Sim::new(PROP_BOOK);
        let mut at = ts("2026-03-25T08:00:00Z");
        sim.send_at(at, "ticket.created", json!({"subject": "s", "channel": "web", "priority": "urgent", "requester": {"id": "c"}}));
        for (gap, step) in steps {
            at += SignedDuration::from_mins(gap);
            match step {
                Step::Pending => { sim.send_at(at, "status.changed", json!({"status": "pending"})); }
                Step::Open => { sim.send_at(at, "status.changed", json!({"status": "open"})); }
                Step::Reply => { sim.send_at(at, "comment.added", json!({"author": {"kind": "agent"}, "body": "b"})); }
                Step::Customer => { sim.send_at(at, "comment.added", json!({"author": {"kind": "customer"}, "body": "b"})); }
                Step::Priority(p) => { sim.send_at(at, "ticket.updated", json!({"priority": p})); }
            }
        }
        let cal = sim.book.calendar_of(sim.clocks.policy()).clone();
        let deadlines: Vec<Deadline> = sim.clocks.deadlines(&sim.book).collect();
        for d in &deadlines {
            prop_assert!(d.due >= at, "nothing overdue is left after an event: {d:?} at {at}");
            let c = sim.clocks.clock(d.clock).unwrap().clone();
            let amount = match d.threshold {
                Threshold::Breach => c.target().unwrap(),
                Threshold::Warning => sim.book.policy("all").unwrap().warn_after(c.target().unwrap()).unwrap(),
            };
            prop_assert!(c.elapsed_at(&cal, d.due) >= amount);
            if d.due > c.since() {
                prop_assert!(c.elapsed_at(&cal, d.due - SignedDuration::from_secs(1)) < amount);
            }
            let early = d.due - SignedDuration::from_secs(probe);
            let mut clocks = sim.clocks.clone();
            prop_assert_eq!(clocks.fire(&sim.book, d, early), Err(FireRefused::NotDue { due: d.due }));
            let fired = clocks.fire(&sim.book, d, d.due);
            prop_assert!(fired.is_ok(), "{:?}", fired);
            prop_assert_eq!(clocks.fire(&sim.book, d, d.due + SignedDuration::from_secs(1)), Err(FireRefused::AlreadyFired));
        }
    }
}

#[test]
fn pending_and_on_hold_pause_by_default() {
    use crate::vocab::Status;
    let statuses: Vec<Status> = PauseOn::DEFAULT.statuses().collect();
    assert_eq!(statuses, [Status::Pending, Status::OnHold]);
    assert!(PauseOn::new(&[Status::New]).contains(Status::New));
    assert!(!PauseOn::new(&[Status::New]).contains(Status::Pending));
}
