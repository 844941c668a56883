//! The script API: what `ticket` and `event` read, what actions record,
//! and the order policies see each other's actions in.

use escalier_core::event::EventKind;
use escalier_core::{Producer, Reactor};
use escalier_policy::{Code, PolicySet};
use serde_json::json;

use crate::util::*;

/// The notes a single policy on `type_name` takes, given `body`.
fn notes(
    on: &str,
    body: &str,
    t: &escalier_core::Ticket,
    rec: &std::sync::Arc<escalier_core::Record>,
) -> Vec<String> {
    let src = format!("const ON = [\"{on}\"];\n{body}");
    let s = set(&[("p.rhai", src.as_str())]);
    react(&s, t, rec)
        .iter()
        .map(|r| match &r.kind {
            EventKind::Action(escalier_core::Action::Note(n)) => n.text.clone(),
            _ => describe(r),
        })
        .collect()
}

#[test]
fn ticket_getters_read_the_ticket() {
    let extra = json!({
        "subject": "Refund please",
        "priority": "high",
        "channel": "social_public",
        "tags": ["billing", "eu"],
        "fields": {"refund_amount": 150, "order": {"id": "o-9"}},
        "requester": {"id": "cust-7", "name": "Grace", "email": "g@example.com", "plan": "enterprise", "vip": true},
        "team": "billing",
    });
    let t = ticket(extra.clone());
    let rec = created("T-1", extra);
    let got = notes(
        "ticket.created",
        r#"
        note(`${ticket.id}|${ticket.subject}|${ticket.status}|${ticket.priority}|${ticket.channel}|${ticket.tier}`);
        note(`${ticket.team}|${ticket.agent == ()}|${ticket.tags}|${ticket.has_tag("eu")}|${ticket.has_tag("us")}`);
        note(`${ticket.field("refund_amount") + 1}|${ticket.field("order").id}|${ticket.field("nope") == ()}|${ticket.has_field("order")}`);
        note(`${ticket.requester_id}|${ticket.requester_name}|${ticket.requester_email}|${ticket.plan}|${ticket.vip}`);
        note(`${ticket.reopen_count}|${ticket.comment_count}|${ticket.escalation_count}|${ticket.route_count}|${ticket.csat == ()}`);
        note(`${ticket.created_at}|${ticket.first_response_at == ()}|${ticket.age_minutes}|${ticket.is_open}|${ticket.approval("refund") == ()}`);
        "#,
        &t,
        &rec,
    );
    assert_eq!(
        got,
        [
            "T-1|Refund please|new|high|social_public|1",
            "billing|true|[\"billing\", \"eu\"]|true|false",
            "151|o-9|true|true",
            "cust-7|Grace|g@example.com|enterprise|true",
            "0|0|0|0|true",
            "2026-03-02T09:15:00Z|true|0|true|true",
        ]
    );
}

#[test]
fn number_field_reads_numbers_and_nothing_else() {
    let extra = json!({
        "fields": {"int": 150, "float": 12.5, "text": "150", "list": [1, 2], "null": null},
    });
    let t = ticket(extra.clone());
    let got = notes(
        "ticket.created",
        r#"
        note(`${ticket.number_field("int") + 1}|${ticket.number_field("float")}`);
        for f in ["text", "list", "null", "absent"] { note(`${f}: ${ticket.number_field(f) == ()}`); }
        "#,
        &t,
        &created("T-1", extra),
    );
    assert_eq!(
        got,
        [
            "151|12.5",
            "text: true",
            "list: true",
            "null: true",
            "absent: true"
        ]
    );
}

#[test]
fn event_getters_read_the_event() {
    let t = ticket(json!({}));
    let rec = record(
        7,
        "T-1",
        "comment.added",
        json!({"author": {"kind": "customer", "id": "cust-1"}, "public": true, "body": "I will call my LAWYER."}),
    );
    let got = notes(
        "comment.added",
        r#"
        note(`${event.id}|${event.type}|${event.seq}|${event.ticket_id}|${event.occurred_at}|${event.by}|${event.is_input}|${event.depth}`);
        note(`${event.body}|${event.is_public}|${event.author}|${event.author_id}|${event.tier == ()}|${event.score == ()}`);
        note(`${event.data.author.kind}|${event.data.body.len()}|${contains_any(event.body, ["lawyer", "chargeback"])}`);
        "#,
        &t,
        &rec,
    );
    assert_eq!(
        got,
        [
            "evt-7|comment.added|7|T-1|2026-03-02T09:15:00Z|webhook|true|0",
            "I will call my LAWYER.|true|customer|cust-1|true|true",
            "customer|22|true",
        ]
    );
}

#[test]
fn fields_an_event_does_not_carry_read_as_unit() {
    let t = ticket(json!({}));
    let rec = record(2, "T-1", "csat.received", json!({"score": 2}));
    let got = notes(
        "csat.received",
        r#"note(`${event.score}|${event.comment == ()}|${event.body == ()}|${contains_any(event.body, ["x"])}`);"#,
        &t,
        &rec,
    );
    assert_eq!(got, ["2|true|true|false"]);
}

#[test]
fn functions_see_only_their_parameters() {
    let e = PolicySet::from_sources([(
        "f.rhai",
        "const ON = [\"ticket.created\"];\nfn vip() { ticket.vip }\n",
    )])
    .expect_err("ticket is not visible in functions");
    assert_eq!(e.diagnostics[0].code, Code::UnknownVariable, "{e}");
    assert_eq!(
        (e.diagnostics[0].line, e.diagnostics[0].column),
        (Some(2), Some(12))
    );

    let s = set(&[(
        "f.rhai",
        "const ON = [\"ticket.created\"];\nfn is_vip(ticket) { ticket.vip }\nif is_vip(ticket) { tag(\"vip\"); }\n",
    )]);
    let t = ticket(json!({"requester": {"id": "c", "vip": true}}));
    assert_eq!(
        describe_all(&react(&s, &t, &created("T-1", json!({})))),
        ["f.rhai: tag vip"]
    );
}

#[test]
fn actions_record_the_policy_and_its_content_hash() {
    let src = "const ON = [\"ticket.created\"];\nroute(\"billing\", \"invoice question\");\n";
    let s = set(&[("billing/route.rhai", src)]);
    let rs = react(&s, &ticket(json!({})), &created("T-1", json!({})));
    assert_eq!(rs.len(), 1);
    let Producer::Policy { policy, hash } = &rs[0].producer else {
        panic!("{:?}", rs[0].producer)
    };
    assert_eq!(policy, "billing/route.rhai");
    assert_eq!(hash, s.policies()[0].hash());
    assert_eq!(hash.len(), "sha256:".len() + 16);
    let EventKind::Action(escalier_core::Action::Route(r)) = &rs[0].kind else {
        panic!()
    };
    assert_eq!(
        (r.team.as_str(), r.reason.as_str()),
        ("billing", "invoice question")
    );
}

#[test]
fn every_action_function_records_its_action() {
    let s = set(&[(
        "all.rhai",
        r#"const ON = ["ticket.created"];
        escalate(2, "r"); route("technical", "r"); set_priority("urgent"); assign("agent-7"); tag("x");
        notify("duty-manager", "m"); note("n"); require_approval("refund", "r"); require_checklist("handoff");
        start_ladder("major-incident", "r"); stop_ladder("major-incident", "r");"#,
    )]);
    let rs = react(&s, &ticket(json!({})), &created("T-1", json!({})));
    assert_eq!(
        describe_all(&rs),
        [
            "all.rhai: escalate 2",
            "all.rhai: route technical",
            "all.rhai: set_priority urgent",
            "all.rhai: assign agent-7",
            "all.rhai: tag x",
            "all.rhai: notify duty-manager",
            "all.rhai: note n",
            "all.rhai: require_approval refund",
            "all.rhai: require_checklist handoff",
            "all.rhai: start_ladder major-incident",
            "all.rhai: stop_ladder major-incident",
        ]
    );
}

#[test]
fn later_policies_see_earlier_policies_actions() {
    // Both guard on the tier: only the first escalates.
    let s = set(&[
        (
            "a.rhai",
            "const ON = [\"ticket.created\"];\nif ticket.tier < 2 { escalate(2, \"a\"); }",
        ),
        (
            "b.rhai",
            "const ON = [\"ticket.created\"];\nif ticket.tier < 2 { escalate(2, \"b\"); }\nnote(`tier ${ticket.tier}`);",
        ),
    ]);
    let rs = react(&s, &ticket(json!({})), &created("T-1", json!({})));
    assert_eq!(
        describe_all(&rs),
        ["a.rhai: escalate 2", "b.rhai: note tier 2"]
    );
}

#[test]
fn subscriptions_decide_who_runs() {
    let s = set(&[
        (
            "a.rhai",
            "const ON = [\"ticket.created\", \"comment.added\"];\ntag(\"a\");",
        ),
        ("b.rhai", "const ON = [\"action.*\"];\nnote(\"b\");"),
        ("c.rhai", "const ON = \"csat.received\";\ntag(\"c\");"),
    ]);
    assert!(s.wants("ticket.created"));
    assert!(s.wants("comment.added"));
    assert!(s.wants("action.escalate"));
    assert!(s.wants("action.require_checklist"));
    assert!(s.wants("csat.received"));
    assert!(!s.wants("status.changed"));
    assert!(!s.wants("policy.error"));
    assert!(!s.wants("no.such.type"));
    assert_eq!(s.subscribers("action.tag").collect::<Vec<_>>(), ["b.rhai"]);
    assert_eq!(
        s.subscribers("comment.added").collect::<Vec<_>>(),
        ["a.rhai"]
    );

    let rec = record(3, "T-1", "status.changed", json!({"status": "open"}));
    assert!(react(&s, &ticket(json!({})), &rec).is_empty());

    let every = set(&[("all.rhai", "const ON = [\"*\"];\n")]);
    for t in escalier_core::event::all_types() {
        assert!(every.wants(t), "{t}");
    }
}

#[test]
fn actions_feed_back_to_policies_that_subscribe_to_them() {
    let s = set(&[
        (
            "1-vip.rhai",
            "const ON = [\"ticket.created\"];\nif ticket.vip && ticket.tier < 3 { escalate(3, \"VIP\"); }",
        ),
        (
            "2-handoff.rhai",
            "const ON = [\"action.escalate\"];\nif event.tier >= 3 { require_checklist(\"engineering-handoff\"); note(`by ${event.by}`); }",
        ),
    ]);
    let input = created("T-1", json!({"requester": {"id": "c", "vip": true}}));
    let p = process(&s, None, &input);
    assert_eq!(
        derived(&p),
        [
            "1-vip.rhai: escalate 3",
            "2-handoff.rhai: require_checklist engineering-handoff",
            "2-handoff.rhai: note by 1-vip.rhai",
        ]
    );
    assert!(
        p.ticket
            .checklists
            .contains(&"engineering-handoff".to_owned())
    );
}

#[test]
fn the_same_policy_set_is_safe_to_share_between_threads() {
    let s = std::sync::Arc::new(set(&[(
        "a.rhai",
        "const ON = [\"ticket.created\"];\nif contains_any(ticket.subject, [\"login\"]) { tag(\"auth\"); }",
    )]));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let s = s.clone();
            std::thread::spawn(move || {
                let t = ticket(json!({"subject": "login broken"}));
                (0..50)
                    .map(|_| react(&s, &t, &created("T-1", json!({}))).len())
                    .sum::<usize>()
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), 50);
    }
}

#[test]
fn closures_can_use_the_ticket() {
    let s = set(&[(
        "c.rhai",
        "const ON = [\"ticket.created\"];\nlet plus = |x| ticket.tier + x;\nnote(`${plus.call(1)}`);\n\
         note(`${[1, 2, 3].filter(|x| x <= ticket.tier)}`);\n",
    )]);
    let rs = react(&s, &ticket(json!({})), &created("T-1", json!({})));
    assert_eq!(describe_all(&rs), ["c.rhai: note 2", "c.rhai: note [1]"]);
}

#[test]
fn a_policy_may_read_its_own_on_list() {
    // `ON` is dropped from the compiled policy only when nothing reads it.
    let s = set(&[(
        "on.rhai",
        "const ON = [\"ticket.created\", \"comment.added\"];\nnote(`${ON.len()} ${ON[0]}`);",
    )]);
    let rs = react(&s, &ticket(json!({})), &created("T-1", json!({})));
    assert_eq!(describe_all(&rs), ["on.rhai: note 2 ticket.created"]);
}

#[test]
fn nothing_keeps_the_ticket_or_record_after_react() {
    // The processor mutates the ticket in place once it holds the only reference.
    let s = set(&[
        (
            "a.rhai",
            "const ON = [\"ticket.created\"];\nlet keep = |x| ticket.tier + x;\ntag(\"a\");",
        ),
        (
            "b.rhai",
            "const ON = [\"ticket.created\"];\nnote(`${event.data.subject}`);",
        ),
        (
            "c.rhai",
            "const ON = [\"ticket.created\"];\nthrow \"fails\";",
        ),
    ]);
    let t = std::sync::Arc::new(ticket(json!({})));
    let rec = created("T-1", json!({}));
    let mut out = Vec::new();
    s.react(&t, &rec, &mut out);
    assert_eq!(out.len(), 3);
    assert_eq!(std::sync::Arc::strong_count(&t), 1);
    assert_eq!(std::sync::Arc::strong_count(&rec), 1);
}
