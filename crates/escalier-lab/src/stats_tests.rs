//! The figures on a small, hand-checked day: four tickets through the
//! example policies, one created before the period.

use std::path::Path;
use std::sync::Arc;

use escalier_core::event::Origin;
use escalier_core::process::Limits;
use escalier_core::{Event, Source, Timestamp};
use serde_json::json;

use crate::policies::Policies;
use crate::sim::Simulator;
use escalier_core::stats::*;

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

struct Day {
    sim: Simulator,
    n: u32,
}

impl Day {
    fn send(&mut self, ticket: &str, ty: &str, at: &str, data: serde_json::Value) {
        self.n += 1;
        let json = json!({"id": format!("e{}", self.n), "type": ty, "ticket_id": ticket, "occurred_at": at, "data": data});
        let event = Event::decode_one(&json.to_string(), Origin::External).unwrap();
        let s = self
            .sim
            .submit(event, Source::Webhook { delivery: None }, ts(at));
        assert!(s.refused.is_none(), "{:?}", s.refused);
    }

    fn create(&mut self, ticket: &str, at: &str, subject: &str, vip: bool) {
        let data =
            json!({"subject": subject, "channel": "email", "requester": {"id": "c", "vip": vip}});
        self.send(ticket, "ticket.created", at, data);
    }

    fn reply(&mut self, ticket: &str, at: &str) {
        self.send(
            ticket,
            "comment.added",
            at,
            json!({"author": {"kind": "agent"}, "body": "hi"}),
        );
    }

    fn status(&mut self, ticket: &str, at: &str, status: &str) {
        self.send(ticket, "status.changed", at, json!({"status": status}));
    }
}

fn day() -> Simulator {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    let policies = Policies::load(&dir).unwrap();
    let mut sim = Simulator::with_policies(Arc::clone(policies.set()), Limits::default());
    sim.start_at(ts("2026-03-08T12:00:00Z"));
    let mut d = Day { sim, n: 0 };
    d.create("OLD", "2026-03-08T12:00:00Z", "Before the period", true);
    // Monday 09:00 Paris.
    d.create("VIP", "2026-03-09T08:00:00Z", "Locked out", true);
    d.create(
        "PLAIN",
        "2026-03-09T08:00:00Z",
        "Question about features",
        false,
    );
    d.create("CHURN", "2026-03-09T08:10:00Z", "I will cancel", false);
    d.reply("VIP", "2026-03-09T08:30:00Z");
    d.reply("PLAIN", "2026-03-09T10:00:00Z");
    d.status("VIP", "2026-03-09T11:00:00Z", "solved");
    d.status("PLAIN", "2026-03-09T12:00:00Z", "closed");
    d.send(
        "VIP",
        "csat.received",
        "2026-03-09T13:00:00Z",
        json!({"score": 2}),
    );
    d.send(
        "PLAIN",
        "csat.received",
        "2026-03-09T13:00:00Z",
        json!({"score": 5}),
    );
    // CHURN never gets a reply: its 4-hour first response breaches at 12:10Z.
    d.sim.advance_to(ts("2026-03-09T15:00:00Z"));
    d.sim
}

#[test]
fn figures_follow_the_definitions() {
    let sim = day();
    let s = stats(
        sim.tickets(),
        ts("2026-03-09T00:00:00Z"),
        ts("2026-03-10T00:00:00Z"),
    );
    assert_eq!(s.tickets, 3, "OLD was created before the period");

    assert_eq!(
        (s.escalation.overall.tickets, s.escalation.overall.escalated),
        (3, 2)
    );
    assert!((s.escalation.overall.rate - 2.0 / 3.0).abs() < 1e-9);
    assert_eq!(s.escalation.by_channel["email"].escalated, 2);
    assert_eq!(s.escalation.by_team["(none)"].tickets, 3);
    assert_eq!(s.escalation.by_tier_reached["2"].tickets, 2);
    assert_eq!(s.escalation.by_tier_reached["1"].tickets, 1);

    let fr = &s.first_response.all;
    assert_eq!((fr.count, fr.missing), (2, 1));
    assert_eq!(fr.median_seconds, Some(1_800), "VIP answered in 30 minutes");
    assert_eq!(fr.p90_seconds, Some(7_200), "PLAIN in two hours");
    assert_eq!(
        s.first_response.by_tier_reached["2"].missing, 1,
        "CHURN, tier 2, has no reply"
    );

    let res = &s.resolution.all;
    assert_eq!((res.count, res.missing), (2, 1));
    assert_eq!(res.median_seconds, Some(10_800), "VIP solved after 3 hours");
    assert_eq!(
        res.p90_seconds,
        Some(14_400),
        "PLAIN closed, never solved: closing counts"
    );

    assert_eq!(s.sla["vip"].tickets, 1);
    assert_eq!(s.sla["standard"].tickets, 2);
    assert_eq!(s.sla["standard"].tickets_breached, 1);
    assert_eq!(s.sla["standard"].breaches_by_clock["first_response"], 1);
    assert_eq!(s.sla["standard"].breach_events, 1);

    assert_eq!(
        s.csat.after_escalation,
        Score {
            count: 1,
            average: Some(2.0)
        }
    );
    assert_eq!(
        s.csat.without_escalation,
        Score {
            count: 1,
            average: Some(5.0)
        }
    );
}

#[test]
fn an_empty_period_has_no_figures_and_no_division_by_zero() {
    let sim = day();
    let s = stats(
        sim.tickets(),
        ts("2027-01-01T00:00:00Z"),
        ts("2027-02-01T00:00:00Z"),
    );
    assert_eq!(s.tickets, 0);
    assert_eq!(s.escalation.overall.rate, 0.0);
    assert_eq!(s.first_response.all.median_seconds, None);
    assert_eq!(s.csat.after_escalation.average, None);
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["escalation"]["overall"]["rate"], 0.0);
}
