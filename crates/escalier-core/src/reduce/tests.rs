//! The lifecycle and the fold.

use super::*;
use crate::event::Origin;
use crate::record::Source;
use crate::vocab::Priority;

fn rec(seq: u64, json: &str) -> Record {
    Record {
        seq,
        index: 0,
        recorded_at: "2026-03-02T09:00:00Z".parse().unwrap(),
        source: Source::Webhook { delivery: None },
        event: Event::decode_one(json, Origin::External).unwrap(),
    }
}

fn created() -> Record {
    rec(
        1,
        r#"{"id":"e1","type":"ticket.created","ticket_id":"T","occurred_at":"2026-03-02T09:00:00Z",
            "data":{"subject":"s","requester":{"id":"c"},"channel":"email","tags":["a"]}}"#,
    )
}

fn status(seq: u64, to: &str) -> Record {
    rec(
        seq,
        &format!(
            r#"{{"id":"s{seq}","type":"status.changed","ticket_id":"T","occurred_at":"2026-03-02T10:00:00Z","data":{{"status":"{to}"}}}}"#
        ),
    )
}

fn fold(records: &[Record]) -> Result<Ticket, Rejection> {
    let mut t = None;
    for r in records {
        t = Some(apply(t, r)?);
    }
    t.ok_or_else(|| Rejection::invalid("", "empty"))
}

#[test]
fn creation_sets_defaults() {
    let t = fold(&[created()]).unwrap();
    assert_eq!(
        (t.status, t.priority, t.tier.get()),
        (Status::New, Priority::Normal, 1)
    );
    assert!(t.has_tag("a"));
    assert_eq!(t.last_seq, 1);
}

#[test]
fn events_before_creation_and_double_creation_are_refused() {
    assert_eq!(
        apply(None, &status(1, "open")).unwrap_err().code,
        RejectionCode::UnknownTicket
    );
    let t = fold(&[created()]).unwrap();
    assert_eq!(
        apply(Some(t), &created()).unwrap_err().code,
        RejectionCode::TicketExists
    );
}

#[test]
fn closed_is_final_except_for_csat() {
    let t = fold(&[created(), status(2, "closed")]).unwrap();
    assert_eq!(
        apply(Some(t.clone()), &status(3, "open")).unwrap_err().code,
        RejectionCode::TicketClosed
    );
    let csat = rec(
        4,
        r#"{"id":"c","type":"csat.received","ticket_id":"T","occurred_at":"2026-03-03T09:00:00Z","data":{"score":2}}"#,
    );
    assert_eq!(apply(Some(t), &csat).unwrap().csat.unwrap().score, 2);
}

#[test]
fn nothing_goes_back_to_new_and_repeats_are_harmless() {
    let t = fold(&[created(), status(2, "open")]).unwrap();
    assert_eq!(
        apply(Some(t.clone()), &status(3, "new")).unwrap_err().code,
        RejectionCode::InvalidTransition
    );
    let again = apply(Some(t.clone()), &status(3, "open")).unwrap();
    assert_eq!((again.status, again.reopen_count), (Status::Open, 0));
}

#[test]
fn reopens_are_counted_and_resolution_is_timed() {
    let t = fold(&[
        created(),
        status(2, "solved"),
        status(3, "open"),
        status(4, "solved"),
        status(5, "pending"),
    ])
    .unwrap();
    assert_eq!(t.reopen_count, 2);
    assert!(t.solved_at.is_some());
    let closed = fold(&[created(), status(2, "solved"), status(3, "closed")]).unwrap();
    assert_eq!(
        closed.reopen_count, 0,
        "closing a solved ticket is not a reopen"
    );
}

#[test]
fn first_response_is_the_first_public_agent_comment() {
    let c = |seq: u64, kind: &str, public: bool, at: &str| {
        rec(
            seq,
            &format!(
                r#"{{"id":"c{seq}","type":"comment.added","ticket_id":"T","occurred_at":"{at}","data":{{"author":{{"kind":"{kind}"}},"public":{public},"body":"x"}}}}"#
            ),
        )
    };
    let t = fold(&[
        created(),
        c(2, "customer", true, "2026-03-02T09:01:00Z"),
        c(3, "agent", false, "2026-03-02T09:02:00Z"),
        c(4, "agent", true, "2026-03-02T09:03:00Z"),
        c(5, "agent", true, "2026-03-02T09:04:00Z"),
    ])
    .unwrap();
    assert_eq!(
        t.first_response_at.unwrap().to_string(),
        "2026-03-02T09:03:00Z"
    );
    assert_eq!(
        t.last_agent_reply_at.unwrap().to_string(),
        "2026-03-02T09:04:00Z"
    );
    assert_eq!(
        t.last_customer_comment_at.unwrap().to_string(),
        "2026-03-02T09:01:00Z"
    );
    assert_eq!(t.comment_count, 4);
}

#[test]
fn updates_touch_only_what_they_carry() {
    let u = rec(
        2,
        r#"{"id":"u","type":"ticket.updated","ticket_id":"T","occurred_at":"2026-03-02T09:05:00Z",
            "data":{"priority":"high","tags_added":["b"],"tags_removed":["a"],"fields":{"x":1}}}"#,
    );
    let t = fold(&[created(), u]).unwrap();
    assert_eq!(t.priority, Priority::High);
    assert_eq!(t.tags.iter().collect::<Vec<_>>(), vec!["b"]);
    assert_eq!(t.fields["x"], 1);
    assert_eq!(t.subject, "s");
    let remove = rec(
        3,
        r#"{"id":"u2","type":"ticket.updated","ticket_id":"T","occurred_at":"2026-03-02T09:06:00Z","data":{"fields":{"x":null}}}"#,
    );
    assert!(!fold(&[created(), remove]).unwrap().fields.contains_key("x"));
}

fn notification(seq: u64, index: u32, data: serde_json::Value) -> Record {
    let json = serde_json::json!({
        "id": format!("esc:{seq}.{index}"), "type": "notification.requested", "ticket_id": "T",
        "occurred_at": "2026-03-02T09:00:00Z", "data": data,
    });
    Record {
        seq,
        index,
        recorded_at: "2026-03-02T09:00:00Z".parse().unwrap(),
        source: Source::System {
            trigger: 0,
            depth: 1,
        },
        event: Event::decode_one(&json.to_string(), Origin::Internal).unwrap(),
    }
}

fn page_data(action: &str, key: &str) -> serde_json::Value {
    serde_json::json!({
        "delivery_id": "ntf:2.1:pager", "target": "pager", "kind": "pagerduty",
        "pd_action": action, "dedup_key": key, "urgent": true, "channel": "pager",
        "message": "m", "why": {"producer": "p.rhai"},
        "ticket": {"id": "T", "subject": "s", "status": "open", "priority": "urgent", "tier": 1},
    })
}

#[test]
fn the_ticket_keeps_open_pagerduty_incidents_until_resolved() {
    let mut t = fold(&[created()]).unwrap();
    apply_to(
        &mut t,
        &notification(2, 1, page_data("trigger", "escalier/T/2")),
    )
    .unwrap();
    assert_eq!(
        t.paged.get("pager").map(String::as_str),
        Some("escalier/T/2")
    );
    // A second trigger joins the open incident; an acknowledgement keeps it.
    apply_to(
        &mut t,
        &notification(3, 1, page_data("trigger", "escalier/T/3")),
    )
    .unwrap();
    apply_to(
        &mut t,
        &notification(4, 1, page_data("acknowledge", "escalier/T/2")),
    )
    .unwrap();
    assert_eq!(
        t.paged.get("pager").map(String::as_str),
        Some("escalier/T/2")
    );
    apply_to(
        &mut t,
        &notification(5, 1, page_data("resolve", "escalier/T/2")),
    )
    .unwrap();
    assert!(t.paged.is_empty());
    // Stored tickets from before `paged` existed still decode.
    let mut json = serde_json::to_value(&t).unwrap();
    json.as_object_mut().unwrap().remove("paged");
    assert_eq!(serde_json::from_value::<Ticket>(json).unwrap(), t);
}

#[test]
fn notification_requested_is_internal_and_checked() {
    let json = serde_json::json!({
        "id": "n1", "type": "notification.requested", "ticket_id": "T",
        "occurred_at": "2026-03-02T09:00:00Z", "data": page_data("trigger", "k"),
    })
    .to_string();
    let e = Event::decode_one(&json, Origin::External).unwrap_err();
    assert_eq!(e.code, crate::error::RejectionCode::UnknownEventType);
    Event::decode_one(&json, Origin::Internal).unwrap();

    let bad = |patch: serde_json::Value| {
        let mut data = page_data("trigger", "k");
        for (k, v) in patch.as_object().unwrap() {
            data[k] = v.clone();
        }
        let json = serde_json::json!({"id": "n1", "type": "notification.requested",
            "ticket_id": "T", "occurred_at": "2026-03-02T09:00:00Z", "data": data});
        Event::decode_one(&json.to_string(), Origin::Internal).unwrap_err()
    };
    assert_eq!(
        bad(serde_json::json!({"pd_action": null})).field,
        "data.pd_action"
    );
    assert_eq!(
        bad(serde_json::json!({"dedup_key": null})).field,
        "data.dedup_key"
    );
    assert_eq!(
        bad(serde_json::json!({"kind": "slack"})).field,
        "data.pd_action"
    );
    assert_eq!(bad(serde_json::json!({"kind": "fax"})).field, "data.kind");
    assert_eq!(
        bad(serde_json::json!({"delivery_id": "dlv:1"})).field,
        "data.delivery_id"
    );
    assert_eq!(
        bad(serde_json::json!({"dedup_key": "k".repeat(256)})).field,
        "data.dedup_key"
    );
}
