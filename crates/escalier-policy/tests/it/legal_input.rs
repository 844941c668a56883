//! Every example policy handles every event the API accepts: a ticket whose
//! every field is as long as `docs/events.md` allows (subject, description,
//! requester, 100 tags of 64 characters, 100 custom fields of any JSON),
//! and then the longest updates, comments, reasons, notes and CSAT comments,
//! go through the whole example set without a single `policy.error`.
//!
//! The texts are the costliest to search (the matching word only at the
//! very end, candidates glued to their neighbours, non-ASCII to lowercase),
//! under the default operation budget. The clock is left out (see
//! `ops_only`): the time a run takes is the machine's, the operations are not.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use escalier_core::event::EventKind;
use escalier_core::process::{self, Limits, Processed};
use escalier_core::{Reactor, Ticket};
use escalier_policy::{PolicyEngine, PolicyLimits, PolicySet};
use serde_json::{Value, json};

use crate::util::*;

const MAX_SUBJECT: usize = 1024;
const MAX_DESCRIPTION: usize = 64 * 1024;
const MAX_BODY: usize = 64 * 1024;
const MAX_REASON: usize = 1024;
const MAX_CSAT_COMMENT: usize = 16 * 1024;
const MAX_ACK_NOTE: usize = 4096;
const MAX_NAME: usize = 128;
const MAX_TAGS: usize = 100;
const MAX_TAG: usize = 64;
const MAX_FIELDS: usize = 100;

fn examples() -> &'static PolicySet {
    static SET: OnceLock<PolicySet> = OnceLock::new();
    SET.get_or_init(|| {
        let engine = Arc::new(PolicyEngine::new(PolicyLimits {
            max_time: Duration::from_secs(600),
            ..PolicyLimits::default()
        }));
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../policies");
        PolicySet::load_dir_with(&engine, dir).unwrap_or_else(|e| panic!("{e}"))
    })
}

/// Exactly `len` bytes: `pattern` repeated, then `tail`.
fn text(pattern: &str, tail: &str, len: usize) -> String {
    let mut s = String::with_capacity(len);
    while s.len() + pattern.len() + tail.len() <= len {
        s.push_str(pattern);
    }
    while s.len() + tail.len() < len {
        s.push('x');
    }
    s.push_str(tail);
    assert_eq!(s.len(), len, "{pattern:?}");
    s
}

/// Fillers for long texts: plain words, near misses glued to their
/// neighbours ("lawyers", "cancellation" is fine, "500500"), non-ASCII.
/// Each ends with words the examples react to, so they act with long text.
const FILLERS: &[&str] = &["lorem ipsum ", "lawyers500errors", "é", "Ünïcödé "];
const TRIGGERS: &str = " cancel refund outage";

fn name(c: char) -> String {
    c.to_string().repeat(MAX_NAME)
}

fn requester(vip: bool) -> Value {
    json!({
        "id": name('r'),
        "name": "n".repeat(256),
        "email": format!("{}@example.com", "e".repeat(320 - "@example.com".len())),
        "plan": if vip { "enterprise".to_owned() } else { name('p') },
        "vip": vip,
    })
}

fn tags(first: &str) -> Vec<String> {
    let mut tags = vec![first.to_owned()];
    tags.extend((1..MAX_TAGS).map(|i| format!("{i:0>width$}", width = MAX_TAG)));
    tags
}

/// 100 custom fields, `refund_amount` among them, about 800 KB in all: a
/// request body of 1 MiB holds that.
fn fields(refund_amount: Value) -> Value {
    let mut m = serde_json::Map::new();
    m.insert("refund_amount".into(), refund_amount);
    for i in 1..MAX_FIELDS {
        m.insert(
            format!("{i:0>64}"),
            json!({ "text": "f".repeat(8 * 1024), "n": i }),
        );
    }
    Value::Object(m)
}

fn step(set: &PolicySet, before: Option<Ticket>, seq: u64, kind: &str, data: Value) -> Processed {
    let rec = record(seq, "T-1", kind, data);
    let reactors: [&dyn Reactor; 1] = [set];
    let p = process::process(before, &rec, &reactors, &Limits::default(), set.books())
        .unwrap_or_else(|e| panic!("{kind} is legal: {e:?}"));
    let errors: Vec<_> = p
        .derived
        .iter()
        .filter_map(|r| match &r.event.kind {
            EventKind::PolicyError(e) => Some(format!("{}: {}: {}", e.policy, e.code, e.message)),
            _ => None,
        })
        .collect();
    assert!(errors.is_empty(), "{kind} (seq {seq}): {errors:#?}");
    p
}

/// One ticket's life with every field at its longest.
fn a_ticket_at_the_limits(filler: &str, urgent: bool, refund_amount: Value) -> Vec<String> {
    let set = examples();
    let mut all = Vec::new();
    let mut keep = |p: &Processed| all.extend(derived(p));

    let created = step(
        set,
        None,
        1,
        "ticket.created",
        json!({
            "subject": text(filler, TRIGGERS, MAX_SUBJECT),
            "description": text(filler, TRIGGERS, MAX_DESCRIPTION),
            "requester": requester(urgent),
            "channel": if urgent { "social_public" } else { "email" },
            "priority": if urgent { "urgent" } else { "normal" },
            "tags": tags("outage"),
            "fields": fields(refund_amount.clone()),
        }),
    );
    keep(&created);
    let mut t = created.ticket;
    let mut seq = 1;
    let mut next = |t: Ticket, kind: &str, data: Value| {
        seq += 1;
        step(set, Some(t), seq, kind, data)
    };

    for (kind, data) in [
        (
            "ticket.updated",
            json!({
                "subject": text(filler, TRIGGERS, MAX_SUBJECT),
                "priority": "urgent",
                "requester": requester(true),
                "tags_added": tags("vip-watch"),
                "fields": fields(refund_amount.clone()),
            }),
        ),
        (
            "comment.added",
            json!({"author": {"kind": "customer", "id": name('c')}, "public": true,
                   "body": text(filler, TRIGGERS, MAX_BODY)}),
        ),
        (
            "comment.added",
            json!({"author": {"kind": "agent", "id": name('a')}, "public": false,
                   "body": text(filler, TRIGGERS, MAX_BODY)}),
        ),
        (
            "ticket.assigned",
            json!({"team": name('t'), "agent": name('a')}),
        ),
        (
            "ladder.acknowledged",
            json!({"by": name('b'), "note": text(filler, "", MAX_ACK_NOTE)}),
        ),
        (
            "status.changed",
            json!({"status": "solved", "reason": text(filler, "", MAX_REASON)}),
        ),
        (
            "status.changed",
            json!({"status": "open", "reason": text(filler, "", MAX_REASON)}),
        ),
        (
            "status.changed",
            json!({"status": "solved", "reason": text(filler, "", MAX_REASON)}),
        ),
        (
            "status.changed",
            json!({"status": "open", "reason": text(filler, "", MAX_REASON)}),
        ),
        (
            "csat.received",
            json!({"score": 1, "comment": text(filler, TRIGGERS, MAX_CSAT_COMMENT)}),
        ),
    ] {
        let p = next(t, kind, data);
        keep(&p);
        t = p.ticket;
    }
    all
}

#[test]
fn every_example_handles_the_longest_legal_events() {
    for filler in FILLERS {
        let urgent = a_ticket_at_the_limits(filler, true, json!(250));
        // The examples did act on the long texts, not skip them.
        for expected in [
            "escalation/churn-risk.rhai: tag churn-risk",
            "escalation/major-incident.rhai: start_ladder major-incident",
            "escalation/vip-and-public.rhai: notify duty-manager",
            "routing/urgent-on-call.rhai: route on-call",
            "approvals/refund-limit.rhai: require_approval refund",
            "escalation/reopened-twice.rhai: escalate 3",
            "handoff/engineering-checklist.rhai: require_checklist engineering-handoff",
            "review/low-csat.rhai: notify team-lead",
        ] {
            assert!(
                urgent.iter().any(|d| d == expected),
                "{filler:?}: {expected} missing from {urgent:#?}"
            );
        }

        let routine = a_ticket_at_the_limits(filler, false, json!(0));
        assert!(
            routine
                .iter()
                .any(|d| d == "routing/functional.rhai: route billing"),
            "{filler:?}: {routine:#?}"
        );
    }
}

#[test]
fn a_custom_field_of_any_size_or_shape_is_not_an_error() {
    // `refund_amount` as a tool might send it by mistake: a 200 KB string,
    // 100,000 numbers, a deep object. None is a number: no approval.
    for amount in [
        json!("9".repeat(200_000)),
        Value::Array((0..100_000).map(Value::from).collect()),
        json!({"amount": {"value": 250, "currency": "EUR"}}),
    ] {
        let d = a_ticket_at_the_limits("lorem ipsum ", false, amount);
        assert!(!d.iter().any(|d| d.contains("require_approval")), "{d:#?}");
    }
}
