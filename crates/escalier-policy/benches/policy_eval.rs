//! What one event costs in policies: a realistic 20-policy set (about 60
//! conditions, mixed subscriptions) and the worst case where all 20
//! subscribe to the event.
//!
//! `cargo bench -p escalier-policy --bench policy_eval`. The target from
//! DESIGN.md is at most 10 µs median per event for the realistic set.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use escalier_core::event::Origin;
use escalier_core::{Event, Reactor, Record, Source, Ticket, Timestamp};
use escalier_policy::PolicySet;

/// Twenty policies in the style of `policies/`: the eight examples plus
/// twelve more rules a support team plausibly has.
const POLICIES: &[(&str, &str)] = &[
    (
        "01-vip-and-public.rhai",
        r##"const ON = ["ticket.created", "ticket.updated"];
let public_post = ticket.channel == "social_public";
if (ticket.vip || public_post) && !ticket.has_tag("duty-manager-notified") {
    let why = if ticket.vip { "VIP customer" } else { "public social media post" };
    if ticket.tier < 2 { escalate(2, why); }
    notify("duty-manager", `${why}: ${ticket.id}`);
    tag("duty-manager-notified");
}"##,
    ),
    (
        "02-refund-limit.rhai",
        r##"const ON = ["ticket.created", "ticket.updated"];
let amount = ticket.field("refund_amount");
if type_of(amount) == "i64" && amount > 100 && ticket.approval("refund") == () {
    require_approval("refund", `Refund of ${amount} is above the limit`);
}"##,
    ),
    (
        "03-churn-risk.rhai",
        r##"const ON = ["ticket.created", "comment.added"];
let text = if event.type == "comment.added" {
    if event.author == "customer" && event.is_public { event.body } else { "" }
} else { ticket.subject };
if contains_any(text, ["cancel*", "lawyer", "attorney", "chargeback", "refund now"]) {
    if !ticket.has_tag("churn-risk") { tag("churn-risk"); }
    if ticket.tier < 2 { escalate(2, "churn wording"); }
}"##,
    ),
    (
        "04-urgent-on-call.rhai",
        r##"const ON = ["ticket.created", "ticket.updated", "action.set_priority"];
if ticket.priority == "urgent" && ticket.team != "on-call" {
    route("on-call", "Urgent priority");
    notify("#on-call", `Urgent ticket ${ticket.id}`);
}"##,
    ),
    (
        "05-reopened-twice.rhai",
        r##"const ON = ["status.changed"];
if ticket.reopen_count >= 2 && ticket.tier < 3 && ticket.is_open {
    escalate(3, `Reopened ${ticket.reopen_count} times`);
}"##,
    ),
    (
        "06-functional.rhai",
        r##"const ON = ["ticket.created"];
if ticket.team == () && ticket.priority != "urgent" {
    if contains_any(ticket.subject, ["billing", "invoice*", "charged", "payment*", "refund*"]) {
        route("billing", "Billing question");
    } else if contains_any(ticket.subject, ["error*", "crash*", "bug*", "broken", "outage"]) {
        route("technical", "Technical problem");
    }
}"##,
    ),
    (
        "07-engineering-checklist.rhai",
        r##"const ON = ["action.escalate"];
if event.tier >= 3 && !ticket.has_checklist("engineering-handoff") {
    require_checklist("engineering-handoff");
}"##,
    ),
    (
        "08-low-csat.rhai",
        r##"const ON = ["csat.received"];
if event.score <= 2 {
    tag("low-csat");
    notify("team-lead", `CSAT ${event.score} on ${ticket.id}`);
}"##,
    ),
    (
        "09-enterprise-floor.rhai",
        r##"const ON = ["ticket.created", "ticket.updated"];
if ticket.plan == "enterprise" && ticket.priority == "low" {
    set_priority("normal");
}"##,
    ),
    (
        "10-long-wait.rhai",
        r##"const ON = ["comment.added"];
if event.author == "customer" && ticket.status == "pending" && ticket.comment_count > 10 {
    note("Customer keeps writing while the ticket is pending");
}"##,
    ),
    (
        "11-security.rhai",
        r##"const ON = ["ticket.created", "comment.added"];
let text = if event.type == "comment.added" { event.body } else { ticket.subject };
if ticket.team != "security" && contains_any(text, ["hacked", "breach", "phishing", "password leak"]) {
    route("security", "Possible account compromise");
    set_priority("urgent");
}"##,
    ),
    (
        "12-outage.rhai",
        r##"const ON = ["ticket.created"];
if ticket.tier < 3 && contains_any(ticket.subject, ["outage", "down for everyone", "all users"]) {
    escalate(3, "Reported outage");
}"##,
    ),
    (
        "13-long-thread.rhai",
        r##"const ON = ["comment.added"];
if ticket.comment_count >= 15 && ticket.tier < 2 && ticket.is_open {
    escalate(2, "Long thread without resolution");
}"##,
    ),
    (
        "14-vip-escalated.rhai",
        r##"const ON = ["action.escalate"];
if ticket.vip && event.tier >= 2 && ticket.plan == "enterprise" {
    notify("account-manager", `VIP ticket ${ticket.id} escalated to tier ${event.tier}`);
}"##,
    ),
    (
        "15-language.rhai",
        r##"const ON = ["ticket.created"];
if ticket.team == () && (ticket.has_tag("lang-de") || ticket.has_tag("lang-at")) {
    route("support-de", "German-speaking customer");
}"##,
    ),
    (
        "16-privacy.rhai",
        r##"const ON = ["ticket.created", "comment.added"];
let text = if event.type == "comment.added" { event.body } else { ticket.subject };
if !ticket.has_tag("privacy") && contains_any(text, ["gdpr", "delete my data", "data export"]) {
    tag("privacy");
    route("privacy", "Data protection request");
}"##,
    ),
    (
        "17-enterprise-queue.rhai",
        r##"const ON = ["ticket.created"];
if ticket.plan == "enterprise" && ticket.agent == () && ticket.priority != "low" {
    assign("enterprise-queue");
}"##,
    ),
    (
        "18-urgent-on-hold.rhai",
        r##"const ON = ["status.changed"];
if event.status == "on_hold" && ticket.priority == "urgent" && ticket.tier >= 2 {
    notify("duty-manager", `Urgent ticket ${ticket.id} put on hold`);
}"##,
    ),
    (
        "19-phone-high.rhai",
        r##"const ON = ["ticket.created", "comment.added"];
if ticket.channel == "phone" && ticket.priority == "high" && ticket.tier < 2 {
    note("High-priority phone ticket: call back within the hour");
}"##,
    ),
    (
        "20-credit-limit.rhai",
        r##"const ON = ["ticket.created", "ticket.updated"];
let credit = ticket.field("credit_amount");
if type_of(credit) == "i64" && credit > 50 && ticket.approval("credit") == () {
    require_approval("credit", `Credit of ${credit} is above the limit`);
}"##,
    ),
];

fn at() -> Timestamp {
    "2026-03-02T09:15:00Z".parse().unwrap()
}

fn record(seq: u64, type_name: &str, data: serde_json::Value) -> Arc<Record> {
    let json = serde_json::json!({
        "id": format!("evt-{seq}"), "type": type_name, "ticket_id": "ZD-1042",
        "occurred_at": at().to_string(), "data": data,
    });
    Arc::new(Record {
        seq,
        index: 0,
        recorded_at: at(),
        source: Source::Webhook { delivery: None },
        event: Event::decode_one(&json.to_string(), Origin::Internal).unwrap(),
    })
}

fn fixture() -> (Arc<Ticket>, Arc<Record>, Arc<Record>) {
    let created = record(
        1,
        "ticket.created",
        serde_json::json!({
            "subject": "Report export broken since the update",
            "description": "Since the update the export button does nothing. I tried two browsers.",
            "requester": {"id": "cust-88", "name": "Ada", "email": "ada@example.com", "plan": "pro"},
            "channel": "email", "priority": "normal", "tags": ["reports", "web"],
            "fields": {"account": "acme-co"},
        }),
    );
    let ticket = escalier_core::reduce::apply(None, &created).unwrap();
    let comment = record(
        2,
        "comment.added",
        serde_json::json!({
            "author": {"kind": "customer", "id": "cust-88"},
            "body": "Hi, any update on this? It is still not working for me and my team needs the numbers by Friday.",
        }),
    );
    (Arc::new(ticket), created, comment)
}

/// The same policies, all subscribed to `comment.added`.
fn all_on_comments() -> Vec<(String, String)> {
    POLICIES
        .iter()
        .map(|(name, src)| {
            let body = src.split_once('\n').map_or("", |(_, rest)| rest);
            (
                name.to_string(),
                format!("const ON = [\"comment.added\"];\n{body}"),
            )
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let (ticket, created, comment) = fixture();
    let set = PolicySet::from_sources(POLICIES.iter().copied()).unwrap_or_else(|e| panic!("{e}"));
    let worst = PolicySet::from_sources(all_on_comments()).unwrap_or_else(|e| panic!("{e}"));
    let subscribed = |s: &PolicySet, t: &str| s.subscribers(t).count();
    println!(
        "subscribers: comment.added {}, ticket.created {}, worst case {}",
        subscribed(&set, "comment.added"),
        subscribed(&set, "ticket.created"),
        subscribed(&worst, "comment.added")
    );

    let mut out = Vec::with_capacity(16);
    // Sanity: the fixtures take the paths they are meant to.
    set.react(&ticket, &comment, &mut out);
    assert!(
        out.is_empty(),
        "a plain follow-up triggers nothing: {out:?}"
    );
    set.react(&ticket, &created, &mut out);
    assert_eq!(out.len(), 1, "the new ticket is routed once: {out:?}");
    out.clear();
    worst.react(&ticket, &comment, &mut out);
    assert!(
        out.iter()
            .all(|r| !matches!(r.kind, escalier_core::EventKind::PolicyError(_))),
        "{out:?}"
    );
    out.clear();

    let mut g = c.benchmark_group("policy_eval");
    g.bench_function("20 policies, comment.added (typical event)", |b| {
        b.iter(|| {
            set.react(black_box(&ticket), black_box(&comment), &mut out);
            out.clear();
        })
    });
    g.bench_function("20 policies, ticket.created (one action)", |b| {
        b.iter(|| {
            set.react(black_box(&ticket), black_box(&created), &mut out);
            out.clear();
        })
    });
    g.bench_function(
        "20 policies, all subscribed to comment.added (worst case)",
        |b| {
            b.iter(|| {
                worst.react(black_box(&ticket), black_box(&comment), &mut out);
                out.clear();
            })
        },
    );
    // The fixed cost of running a policy at all: scope, limits, bookkeeping.
    let empty: Vec<(String, String)> = (0..20)
        .map(|i| {
            (
                format!("{i:02}.rhai"),
                "const ON = [\"comment.added\"];\n".to_owned(),
            )
        })
        .collect();
    let empty = PolicySet::from_sources(empty).unwrap_or_else(|e| panic!("{e}"));
    g.bench_function(
        "20 empty policies subscribed to comment.added (fixed cost)",
        |b| {
            b.iter(|| {
                empty.react(black_box(&ticket), black_box(&comment), &mut out);
                out.clear();
            })
        },
    );
    g.bench_function("wants() for an unsubscribed type", |b| {
        b.iter(|| set.wants(black_box("ticket.assigned")))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
