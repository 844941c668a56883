//! The example policies in the repository's `policies/` directory: they
//! load, and representative tickets get the treatment their headers promise.

use std::sync::OnceLock;

use escalier_core::{Reactor, Ticket};
use escalier_policy::PolicySet;
use serde_json::json;

use crate::util::*;

fn examples() -> &'static PolicySet {
    static SET: OnceLock<PolicySet> = OnceLock::new();
    SET.get_or_init(|| {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies");
        PolicySet::load_dir(dir).unwrap_or_else(|e| panic!("{e}"))
    })
}

fn on_create(extra: serde_json::Value) -> (Ticket, Vec<String>) {
    let p = process(examples(), None, &created("T-1", extra));
    let d = derived(&p);
    (p.ticket, d)
}

#[test]
fn the_examples_pass_check_dir() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies");
    assert_eq!(escalier_policy::check_dir(dir), []);
    assert!(examples().len() >= 7);
}

#[test]
fn a_vip_ticket_goes_to_tier_2_and_pages_the_duty_manager_once() {
    let vip = json!({"requester": {"id": "c-1", "vip": true}});
    let (t, d) = on_create(vip);
    assert_eq!(
        d,
        [
            "escalation/vip-and-public.rhai: escalate 2",
            "escalation/vip-and-public.rhai: notify duty-manager",
            "escalation/vip-and-public.rhai: tag duty-manager-notified",
        ]
    );
    assert_eq!(t.tier.get(), 2);

    let update = record(
        2,
        "T-1",
        "ticket.updated",
        json!({"subject": "Still cannot log in"}),
    );
    assert_eq!(
        derived(&process(examples(), Some(t), &update)),
        Vec::<String>::new()
    );
}

#[test]
fn a_public_social_post_is_treated_like_a_vip() {
    let (_, d) = on_create(json!({"channel": "social_public"}));
    assert_eq!(d[0], "escalation/vip-and-public.rhai: escalate 2");
    assert_eq!(d[1], "escalation/vip-and-public.rhai: notify duty-manager");
}

#[test]
fn a_refund_above_the_limit_needs_approval_once() {
    let (t, d) = on_create(json!({"subject": "Refund", "fields": {"refund_amount": 150}}));
    assert!(
        d.contains(&"approvals/refund-limit.rhai: require_approval refund".to_owned()),
        "{d:?}"
    );
    let update = record(
        2,
        "T-1",
        "ticket.updated",
        json!({"fields": {"refund_amount": 180}}),
    );
    let again = derived(&process(examples(), Some(t), &update));
    assert!(
        !again.iter().any(|a| a.contains("require_approval")),
        "{again:?}"
    );

    let (_, d) = on_create(json!({"fields": {"refund_amount": 80}}));
    assert!(!d.iter().any(|a| a.contains("require_approval")), "{d:?}");
}

#[test]
fn churn_wording_from_the_customer_escalates_and_tags() {
    let (t, d) = on_create(json!({}));
    assert_eq!(
        d,
        Vec::<String>::new(),
        "a plain login problem triggers nothing"
    );
    let comment = record(
        2,
        "T-1",
        "comment.added",
        json!({"author": {"kind": "customer"}, "body": "Fix this or I will file a chargeback."}),
    );
    let p = process(examples(), Some(t.clone()), &comment);
    assert_eq!(
        derived(&p),
        [
            "escalation/churn-risk.rhai: tag churn-risk",
            "escalation/churn-risk.rhai: escalate 2"
        ]
    );

    // The same words from an agent's internal note do nothing.
    let note = record(
        3,
        "T-1",
        "comment.added",
        json!({"author": {"kind": "agent"}, "public": false, "body": "Customer threatens a chargeback"}),
    );
    assert_eq!(
        derived(&process(examples(), Some(t), &note)),
        Vec::<String>::new()
    );
}

#[test]
fn urgent_tickets_go_to_on_call() {
    let (t, d) = on_create(json!({"priority": "urgent", "subject": "Payment page crashes"}));
    assert_eq!(
        d,
        [
            "routing/urgent-on-call.rhai: route on-call",
            "routing/urgent-on-call.rhai: notify #on-call"
        ],
        "functional routing leaves urgent tickets to on-call"
    );
    assert_eq!(t.team.as_deref(), Some("on-call"));
}

#[test]
fn tickets_are_routed_by_what_they_are_about() {
    let (_, d) =
        on_create(json!({"subject": "Wrong invoice", "description": "I was charged twice"}));
    assert_eq!(d, ["routing/functional.rhai: route billing"]);
    let (_, d) = on_create(
        json!({"subject": "App crashes on start", "description": "Error 500 since the update"}),
    );
    assert_eq!(d, ["routing/functional.rhai: route technical"]);
}

#[test]
fn a_ticket_reopened_twice_goes_to_tier_3_with_the_engineering_checklist() {
    let mut t = process(examples(), None, &created("T-1", json!({}))).ticket;
    let mut last = Vec::new();
    for (seq, status) in [(2, "solved"), (3, "open"), (4, "solved"), (5, "open")] {
        let p = process(
            examples(),
            Some(t),
            &record(seq, "T-1", "status.changed", json!({"status": status})),
        );
        last = derived(&p);
        t = p.ticket;
        if seq == 3 {
            assert_eq!(last, Vec::<String>::new(), "one reopen is not enough");
        }
    }
    assert_eq!(
        last,
        [
            "escalation/reopened-twice.rhai: escalate 3",
            "handoff/engineering-checklist.rhai: require_checklist engineering-handoff",
            "handoff/engineering-checklist.rhai: note Engineering hand-off checklist required (escalated by \
             escalation/reopened-twice.rhai: Reopened 2 times)",
        ]
    );
    assert_eq!(t.tier.get(), 3);
}

#[test]
fn a_poor_rating_goes_to_the_team_lead() {
    let t = process(examples(), None, &created("T-1", json!({}))).ticket;
    let csat = record(
        2,
        "T-1",
        "csat.received",
        json!({"score": 1, "comment": "slow"}),
    );
    assert_eq!(
        derived(&process(examples(), Some(t), &csat)),
        [
            "review/low-csat.rhai: tag low-csat",
            "review/low-csat.rhai: notify team-lead"
        ]
    );
}

#[test]
fn the_examples_subscribe_only_to_what_they_use() {
    assert!(!examples().wants("ticket.assigned"));
    assert!(examples().wants("action.escalate"));
    assert!(
        !examples().wants("action.tag"),
        "no example reacts to tags: no feedback loops"
    );
}

#[test]
fn a_set_rebuilt_from_its_sources_has_the_same_version() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../policies");
    let set = escalier_policy::PolicySet::load_dir(&dir).unwrap();
    let again = escalier_policy::PolicySet::from_sources(
        set.sources().iter().map(|(n, t)| (n.clone(), t.clone())),
    )
    .unwrap();
    assert_eq!(again.version(), set.version());
    assert_eq!(again.books().version, set.books().version);
    assert!(set.sources().iter().any(|(n, _)| n == "sla.toml"));
}
