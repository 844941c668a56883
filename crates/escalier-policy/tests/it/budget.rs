//! Built-ins whose work grows with their input count it against the run's
//! operation budget. The worst input of each (the longest text the API
//! accepts, the most words an array may hold, the biggest custom field, the
//! longest lists a ticket can collect) stops the run with a limit error in
//! the middle of the call, and the run takes none of its actions.
//!
//! Before the budget, `contains_any` over a 64 KiB text and 9,999 words ran
//! for seconds and then acted as if nothing had happened.
//!
//! Built-ins of the API not tested here do work bounded by a limit of their
//! own: the string getters copy at most `max_string_size` bytes, `tags` and
//! `has_tag` see at most 100 tags, actions refuse long text after one copy.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use escalier_core::Ticket;
use escalier_core::ticket::{Approval, ApprovalState};
use escalier_policy::{PolicyEngine, PolicyLimits, PolicySet};
use serde_json::{Value, json};

use crate::util::*;

/// Default limits except the clock: the outcome must not depend on the
/// machine's speed, so only the (deterministic) operation budget may stop
/// these runs.
fn ops_only() -> Arc<PolicyEngine> {
    static E: OnceLock<Arc<PolicyEngine>> = OnceLock::new();
    E.get_or_init(|| {
        Arc::new(PolicyEngine::new(PolicyLimits {
            max_time: Duration::from_secs(600),
            ..PolicyLimits::default()
        }))
    })
    .clone()
}

/// The longest description the API accepts.
const MAX_TEXT: usize = 64 * 1024;

fn run(
    engine: &Arc<PolicyEngine>,
    on: &str,
    body: &str,
    ticket: &Ticket,
    rec: &Arc<escalier_core::Record>,
) -> Vec<escalier_core::Reaction> {
    let src = format!("const ON = [\"{on}\"];\ntag(\"started\");\n{body}\ntag(\"finished\");\n");
    let s = PolicySet::from_sources_with(engine, [("worst.rhai", src.as_str())])
        .unwrap_or_else(|e| panic!("{e}"));
    react(&s, ticket, rec)
}

/// The run was stopped by the operation budget on line 3 (the body's first
/// line) and took none of its actions.
#[track_caller]
fn assert_stopped_on_line_3(rs: &[escalier_core::Reaction], case: &str) {
    let e = the_error(rs);
    assert_eq!(e.code, "too_many_operations", "{case}: {e:?}");
    assert_eq!(e.line, Some(3), "{case}: {e:?}");
    assert_eq!(rs.len(), 1, "{case}: no actions: {:?}", describe_all(rs));
}

fn with_description(text: String) -> (Ticket, Arc<escalier_core::Record>) {
    let extra = json!({ "description": text });
    (ticket(extra.clone()), created("T-1", extra))
}

/// Texts that cost the most: every byte a candidate match that is glued to
/// its neighbours, no match at all (a full scan per word), and non-ASCII
/// text that is lowered char by char.
fn worst_texts() -> Vec<(&'static str, String, &'static str)> {
    vec![
        ("glued candidates", "a".repeat(MAX_TEXT), "a"),
        ("no match", "a".repeat(MAX_TEXT), "b"),
        ("non-ASCII", "É".repeat(MAX_TEXT / 2), "éé"),
        ("glued digits", "500".repeat(MAX_TEXT / 3), "500"),
    ]
}

#[test]
fn contains_any_over_the_longest_text_and_most_words_is_stopped() {
    for (case, text, word) in worst_texts() {
        let (t, rec) = with_description(text);
        // Line 3 builds the words; the call is on line 4.
        let body = format!(
            "let words = []; words.pad(9999, \"{word}\");\nif contains_any(ticket.description, words) {{ tag(\"found\"); }}"
        );
        let rs = run(&ops_only(), "ticket.created", &body, &t, &rec);
        let e = the_error(&rs);
        assert_eq!(e.code, "too_many_operations", "{case}: {e:?}");
        assert_eq!(e.line, Some(4), "{case}: {e:?}");
        assert_eq!(rs.len(), 1, "{case}: no actions: {:?}", describe_all(&rs));
    }
}

#[test]
fn contains_word_in_a_loop_over_the_longest_text_is_stopped() {
    for (case, text, word) in worst_texts() {
        let (t, rec) = with_description(text);
        let body = format!(
            "for i in 0..10000 {{ if contains_word(ticket.description, \"{word}\") {{ tag(\"found\"); }} }}"
        );
        let rs = run(&ops_only(), "ticket.created", &body, &t, &rec);
        assert_stopped_on_line_3(&rs, case);
    }
}

#[test]
fn replace_in_a_loop_over_the_longest_text_is_stopped() {
    // Rhai's `replace` is sized and charged like the helpers (see `bounded`).
    let (t, rec) = with_description("a".repeat(MAX_TEXT));
    let body = "for i in 0..5000 { let r = ticket.description; r.replace(\"a\", \"b\"); }";
    let rs = run(&ops_only(), "ticket.created", body, &t, &rec);
    assert_stopped_on_line_3(&rs, "replace");
}

#[test]
fn a_replacement_longer_than_a_string_may_be_is_refused() {
    // 64 KiB of "a", each replaced by 64 KiB: 4 GiB if it were built.
    let (t, rec) = with_description("a".repeat(MAX_TEXT));
    let body = "let s = ticket.description; s.replace(\"a\", ticket.description);";
    let rs = run(&ops_only(), "ticket.created", body, &t, &rec);
    let e = the_error(&rs);
    assert_eq!(e.code, "data_too_large", "{e:?}");
    assert_eq!(e.line, Some(3), "{e:?}");
    assert_eq!(rs.len(), 1, "{:?}", describe_all(&rs));
}

#[test]
fn catching_does_not_escape_the_budget_of_a_helper() {
    let (t, rec) = with_description("a".repeat(MAX_TEXT));
    let body = "try { let w = []; w.pad(9999, \"a\"); contains_any(ticket.description, w); } catch (e) { tag(\"escaped\"); }";
    let rs = run(&ops_only(), "ticket.created", body, &t, &rec);
    assert_stopped_on_line_3(&rs, "try/catch");
}

#[test]
fn reading_a_huge_custom_field_in_a_loop_is_stopped() {
    // Any JSON is a legal custom field: here 10,000 numbers (about 40 KB).
    let items: Vec<Value> = (0..10_000).map(Value::from).collect();
    let extra = json!({ "fields": { "items": items } });
    let body = "for i in 0..10000 { let f = ticket.field(\"items\"); }";
    let rs = run(
        &ops_only(),
        "ticket.created",
        body,
        &ticket(extra.clone()),
        &created("T-1", extra),
    );
    assert_stopped_on_line_3(&rs, "field");
}

#[test]
fn reading_the_data_of_a_large_event_in_a_loop_is_stopped() {
    let t = ticket(json!({}));
    let comment = record(
        2,
        "T-1",
        "comment.added",
        json!({"author": {"kind": "customer", "id": "c-1"}, "body": "a".repeat(MAX_TEXT)}),
    );
    let body = "for i in 0..10000 { let d = event.data; }";
    let rs = run(&ops_only(), "comment.added", body, &t, &comment);
    assert_stopped_on_line_3(&rs, "event.data");
}

#[test]
fn lists_that_grow_with_the_ticket_are_paid_for() {
    // A ticket keeps every checklist and approval it was ever asked for.
    let mut t = ticket(json!({}));
    // Fewer checklists than an array may hold, so reading them all is legal.
    t.checklists = (0..9_000).map(|i| format!("checklist-{i}")).collect();
    t.approvals = (0..50_000)
        .map(|i| Approval {
            id: format!("apr-{i}"),
            kind: format!("kind-{i}"),
            reason: String::new(),
            state: ApprovalState::Approved,
            requested_at: at(),
            requested_by: "p.rhai".into(),
            decision: None,
        })
        .collect();
    let rec = created("T-1", json!({}));
    for (case, body) in [
        (
            "has_checklist",
            "for i in 0..10000 { if ticket.has_checklist(\"absent\") { tag(\"x\"); } }",
        ),
        (
            "checklists",
            "for i in 0..10000 { let c = ticket.checklists; }",
        ),
        (
            "approval",
            "for i in 0..10000 { if ticket.approval(\"absent\") != () { tag(\"x\"); } }",
        ),
    ] {
        let rs = run(&ops_only(), "ticket.created", body, &t, &rec);
        assert_stopped_on_line_3(&rs, case);
    }
}

#[test]
fn a_helper_past_the_deadline_stops_inside_the_call_as_timeout() {
    // No time at all: the first look at the clock inside the helper stops
    // it, whatever the machine's speed; the operation limit is out of reach.
    let engine = Arc::new(PolicyEngine::new(PolicyLimits {
        max_operations: u64::MAX,
        max_time: Duration::ZERO,
        ..PolicyLimits::default()
    }));
    let (t, rec) = with_description("a".repeat(MAX_TEXT));
    let body = "if contains_any(ticket.description, [\"a\", \"b\", \"c\", \"d\", \"e\"]) { tag(\"found\"); }";
    let rs = run(&engine, "ticket.created", body, &t, &rec);
    let e = the_error(&rs);
    assert_eq!(e.code, "timeout", "{e:?}");
    assert_eq!(e.line, Some(3), "{e:?}");
    assert_eq!(rs.len(), 1, "{:?}", describe_all(&rs));
}

#[test]
fn with_default_limits_the_worst_input_is_a_policy_error_and_takes_no_action() {
    // Which limit comes first depends on the machine; either way the run
    // ends as one policy.error and nothing else.
    let set = PolicySet::from_sources([(
        "worst.rhai",
        "const ON = [\"ticket.created\"];\ntag(\"started\");\nlet w = []; w.pad(9999, \"a\");\nif contains_any(ticket.description, w) { tag(\"found\"); }\n",
    )])
    .unwrap();
    let (t, rec) = with_description("a".repeat(MAX_TEXT));
    let rs = react(&set, &t, &rec);
    let e = the_error(&rs);
    assert!(
        matches!(e.code.as_str(), "too_many_operations" | "timeout"),
        "{e:?}"
    );
    assert_eq!(rs.len(), 1, "{:?}", describe_all(&rs));
}
