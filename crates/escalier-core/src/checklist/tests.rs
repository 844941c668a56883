//! Reducer rules for the plugin concepts: checklists holding escalations,
//! approval decisions, plugin state, and which of their event types
//! outside tools may send.

use crate::event::{Event, Origin};
use crate::record::{Record, Source};
use crate::reduce;
use crate::ticket::Ticket;
use crate::vocab::Tier;

fn rec(seq: u64, index: u32, source: Source, json: &str) -> Record {
    let event = Event::decode_one(json, Origin::Internal).unwrap();
    Record {
        seq,
        index,
        recorded_at: event.occurred_at,
        source,
        event,
    }
}

fn input(seq: u64, ty: &str, at: &str, data: &str) -> Record {
    let json = format!(
        r#"{{"id":"e{seq}","type":"{ty}","ticket_id":"T-1","occurred_at":"{at}","data":{data}}}"#
    );
    rec(seq, 0, Source::Webhook { delivery: None }, &json)
}

fn from_plugin(seq: u64, index: u32, ty: &str, data: &str) -> Record {
    let json = format!(
        r#"{{"id":"esc:{seq}.{index}","type":"{ty}","ticket_id":"T-1","occurred_at":"2026-03-02T09:{seq:02}:00Z","data":{data}}}"#
    );
    let source = Source::Plugin {
        plugin: "checklist".into(),
        version: "0.1.0".into(),
        hash: "sha256:0123456789abcdef".into(),
        trigger: 0,
        depth: 1,
    };
    rec(seq, index, source, &json)
}

fn from_policy(seq: u64, index: u32, ty: &str, data: &str) -> Record {
    let json = format!(
        r#"{{"id":"esc:{seq}.{index}","type":"{ty}","ticket_id":"T-1","occurred_at":"2026-03-02T09:{seq:02}:00Z","data":{data}}}"#
    );
    let source = Source::Policy {
        policy: "tiers.rhai".into(),
        hash: "sha256:0123456789abcdef".into(),
        trigger: 0,
        depth: 1,
    };
    rec(seq, index, source, &json)
}

fn created() -> Ticket {
    reduce::apply(
        None,
        &input(
            1,
            "ticket.created",
            "2026-03-02T09:00:00Z",
            r#"{"subject":"Export fails","requester":{"id":"c-1"},"channel":"email"}"#,
        ),
    )
    .unwrap()
}

fn apply(t: &mut Ticket, r: &Record) {
    reduce::apply_to(t, r).unwrap();
}

const HANDOFF: &str = r#"{"name":"handoff","required_for_tier":2,
    "items":[{"id":"repro","text":"Steps to reproduce"},{"id":"account","text":"Account id"}]}"#;

fn tick(seq: u64, item: &str, checked: bool) -> Record {
    input(
        seq,
        "checklist.item_checked",
        &format!("2026-03-02T10:{seq:02}:00Z"),
        &format!(r#"{{"checklist":"handoff","item":"{item}","checked":{checked},"by":"agent-7"}}"#),
    )
}

#[test]
fn escalation_to_a_tier_needing_an_open_checklist_is_held_until_it_completes() {
    let mut t = created();
    apply(&mut t, &from_plugin(2, 1, "checklist.opened", HANDOFF));
    apply(
        &mut t,
        &from_policy(
            3,
            1,
            "action.escalate",
            r#"{"tier":3,"reason":"enterprise outage"}"#,
        ),
    );
    assert_eq!(t.tier, Tier::FRONTLINE, "held, not applied");
    assert_eq!(t.held_escalations.len(), 1);
    assert_eq!(t.held_escalations[0].checklist, "handoff");
    assert_eq!(t.held_escalations[0].by, "tiers.rhai");

    apply(&mut t, &tick(4, "repro", true));
    assert_eq!(t.tier, Tier::FRONTLINE, "one item still open");
    assert_eq!(t.checklist_progress["handoff"].done, 1);

    apply(&mut t, &tick(5, "account", true));
    let c = &t.checklist_progress["handoff"];
    assert!(c.is_complete());
    assert_eq!(
        c.completed_at,
        Some("2026-03-02T10:05:00Z".parse().unwrap())
    );
    assert_eq!(t.tier.get(), 3);
    assert!(t.held_escalations.is_empty());
    let step = t.escalations.last().unwrap();
    assert_eq!((step.from.get(), step.to.get()), (1, 3));
    assert_eq!(step.by, "tiers.rhai");
    assert_eq!(step.reason, "enterprise outage");
    assert_eq!(
        (step.seq, step.index),
        (5, 0),
        "points at the record that released it"
    );
    assert_eq!(
        step.held_since,
        Some("2026-03-02T09:03:00Z".parse().unwrap())
    );
}

#[test]
fn escalations_below_the_required_tier_are_not_held() {
    let mut t = created();
    apply(&mut t, &from_plugin(2, 1, "checklist.opened", HANDOFF));
    let mut t2 = t.clone();
    apply(
        &mut t,
        &from_policy(3, 1, "action.escalate", r#"{"tier":1,"reason":"same"}"#),
    );
    assert!(t.held_escalations.is_empty());
    // Tier 2 is what the checklist guards.
    apply(
        &mut t2,
        &from_policy(
            3,
            1,
            "action.escalate",
            r#"{"tier":2,"reason":"specialist"}"#,
        ),
    );
    assert_eq!(t2.held_escalations.len(), 1);
    assert_eq!(t2.tier, Tier::FRONTLINE);
}

#[test]
fn unticking_reopens_the_checklist_and_ticking_twice_changes_nothing() {
    let mut t = created();
    apply(&mut t, &from_plugin(2, 1, "checklist.opened", HANDOFF));
    apply(&mut t, &tick(3, "repro", true));
    let once = t.clone();
    apply(&mut t, &tick(4, "repro", true));
    assert_eq!(t.checklist_progress, once.checklist_progress);
    apply(&mut t, &tick(5, "account", true));
    assert!(t.checklist_progress["handoff"].completed_at.is_some());
    apply(&mut t, &tick(6, "account", false));
    let c = &t.checklist_progress["handoff"];
    assert_eq!((c.done, c.completed_at), (1, None));
    // Incomplete again: new escalations to tier 2 are held again.
    apply(
        &mut t,
        &from_policy(7, 1, "action.escalate", r#"{"tier":2,"reason":"again"}"#),
    );
    assert_eq!(t.held_escalations.len(), 1);
}

#[test]
fn a_release_skips_escalations_already_covered_and_keeps_ones_another_checklist_holds() {
    let mut t = created();
    apply(&mut t, &from_plugin(2, 1, "checklist.opened", HANDOFF));
    apply(
        &mut t,
        &from_plugin(
            2,
            2,
            "checklist.opened",
            r#"{"name":"engineering","required_for_tier":4,"items":[{"id":"logs","text":"Logs attached"}]}"#,
        ),
    );
    apply(
        &mut t,
        &from_policy(3, 1, "action.escalate", r#"{"tier":4,"reason":"code fix"}"#),
    );
    apply(
        &mut t,
        &from_policy(
            3,
            2,
            "action.escalate",
            r#"{"tier":2,"reason":"specialist"}"#,
        ),
    );
    assert_eq!(t.held_escalations.len(), 2);
    apply(&mut t, &tick(4, "repro", true));
    apply(&mut t, &tick(5, "account", true));
    // Tier 2 released; tier 4 still waits for `engineering`.
    assert_eq!(t.tier.get(), 2);
    assert_eq!(t.held_escalations.len(), 1);
    assert_eq!(t.held_escalations[0].tier.get(), 4);
}

#[test]
fn opening_a_checklist_twice_keeps_the_first_and_its_progress() {
    let mut t = created();
    apply(&mut t, &from_plugin(2, 1, "checklist.opened", HANDOFF));
    apply(&mut t, &tick(3, "repro", true));
    apply(&mut t, &from_plugin(4, 1, "checklist.opened", HANDOFF));
    assert_eq!(t.checklist_progress["handoff"].done, 1);
    assert_eq!(t.checklist_progress["handoff"].opened_by, "checklist");
}

#[test]
fn plugin_state_is_per_plugin_and_deletes_come_before_sets() {
    let mut t = created();
    apply(
        &mut t,
        &from_plugin(
            2,
            1,
            "plugin.state",
            r#"{"plugin":"checklist","set":{"a":"1","b":"2"}}"#,
        ),
    );
    apply(
        &mut t,
        &from_plugin(
            3,
            1,
            "plugin.state",
            r#"{"plugin":"checklist","set":{"a":"3"},"delete":["a","b"]}"#,
        ),
    );
    assert_eq!(t.plugin_state["checklist"].len(), 1);
    assert_eq!(t.plugin_state["checklist"]["a"], "3");
    apply(
        &mut t,
        &from_plugin(
            4,
            1,
            "plugin.state",
            r#"{"plugin":"checklist","delete":["a"]}"#,
        ),
    );
    assert!(
        t.plugin_state.is_empty(),
        "a plugin with no keys leaves no entry"
    );
}

#[test]
fn the_first_approval_decision_wins() {
    use crate::ticket::ApprovalState;
    let mut t = created();
    apply(
        &mut t,
        &from_policy(
            2,
            1,
            "action.require_approval",
            r#"{"kind":"refund","reason":"€900"}"#,
        ),
    );
    let id = t.approvals[0].id.clone();
    assert_eq!(id, "apr-2.1");
    let decide = |seq: u64, decision: &str| {
        input(
            seq,
            "approval.decided",
            "2026-03-02T11:00:00Z",
            &format!(
                r#"{{"approval_id":"{id}","decision":"{decision}","by":"mgr-1","reason":"ok"}}"#
            ),
        )
    };
    let first = decide(3, "approved");
    let EventKind::ApprovalDecided(d) = &first.event.kind else {
        unreachable!()
    };
    assert!(d.check(&t).is_ok());
    apply(&mut t, &first);
    assert_eq!(t.approvals[0].state, ApprovalState::Approved);
    assert_eq!(t.approvals[0].decision.as_ref().unwrap().by, "mgr-1");
    assert_eq!(
        d.check(&t).unwrap_err().code,
        crate::RejectionCode::InvalidTransition
    );
    apply(&mut t, &decide(4, "rejected"));
    assert_eq!(t.approvals[0].state, ApprovalState::Approved);
}

use crate::event::EventKind;

#[test]
fn commands_and_plugin_products_are_refused_from_outside_tools() {
    let body = |ty: &str, data: &str| {
        format!(
            r#"{{"id":"x","type":"{ty}","ticket_id":"T-1","occurred_at":"2026-03-02T09:00:00Z","data":{data}}}"#
        )
    };
    for (ty, data) in [
        (
            "approval.decided",
            r#"{"approval_id":"apr-1.1","decision":"approved","by":"m"}"#,
        ),
        (
            "plugin.command",
            r#"{"plugin":"checklist","command":"open","by":"m"}"#,
        ),
        ("plugin.state", r#"{"plugin":"p"}"#),
        ("checklist.opened", HANDOFF),
        (
            "delivery.requested",
            r#"{"delivery_id":"dlv:1.1:p:0","plugin":"p","method":"POST","url":"https://x"}"#,
        ),
    ] {
        let err = Event::decode_one(&body(ty, data), Origin::External).unwrap_err();
        assert_eq!(err.code, crate::RejectionCode::UnknownEventType, "{ty}");
        assert!(
            Event::decode_one(&body(ty, data), Origin::Internal).is_ok(),
            "{ty}"
        );
    }
    let tick = body(
        "checklist.item_checked",
        r#"{"checklist":"handoff","item":"repro","by":"a"}"#,
    );
    assert!(
        Event::decode_one(&tick, Origin::External).is_ok(),
        "tools may tick items"
    );
}

#[test]
fn bad_checklists_and_deliveries_name_the_field() {
    let body = |ty: &str, data: &str| {
        format!(
            r#"{{"id":"x","type":"{ty}","ticket_id":"T-1","occurred_at":"2026-03-02T09:00:00Z","data":{data}}}"#
        )
    };
    let dup = r#"{"name":"h","items":[{"id":"a","text":"x"},{"id":"a","text":"y"}]}"#;
    let err = Event::decode_one(&body("checklist.opened", dup), Origin::Internal).unwrap_err();
    assert_eq!(err.field, "data.items[1].id");
    let bad = r#"{"delivery_id":"dlv:1","plugin":"p","method":"TRACE","url":"https://x"}"#;
    let err = Event::decode_one(&body("delivery.requested", bad), Origin::Internal).unwrap_err();
    assert_eq!(err.field, "data.method");
}

#[test]
fn new_ticket_fields_default_when_reading_old_tickets() {
    let t = created();
    let mut v = serde_json::to_value(&t).unwrap();
    let o = v.as_object_mut().unwrap();
    for k in [
        "plugin_state",
        "checklist_progress",
        "held_escalations",
        "deliveries_failed",
    ] {
        o.remove(k);
    }
    let back: Ticket = serde_json::from_value(v).unwrap();
    assert_eq!(back, t);
}
