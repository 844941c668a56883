//! Decoding: every refusal names its field; what is accepted round-trips.

use super::*;
use crate::error::RejectionCode;

const CREATED: &str = r#"{"id":"e1","type":"ticket.created","ticket_id":"ZD-1","occurred_at":"2026-03-02T09:00:00+01:00",
  "data":{"subject":"Refund","requester":{"id":"c1","email":"a@b.example","vip":true},"channel":"social_public",
          "priority":"urgent","tags":["billing"],"fields":{"refund_amount":250}}}"#;

fn reject(body: &str) -> Rejection {
    Event::decode_body(body.as_bytes(), Origin::External).expect_err("should be refused")
}

#[test]
fn decodes_a_full_ticket_created() {
    let evs = Event::decode_body(CREATED.as_bytes(), Origin::External).unwrap();
    let EventKind::TicketCreated(d) = &evs[0].kind else {
        panic!("kind")
    };
    assert_eq!(d.channel, crate::Channel::SocialPublic);
    assert!(d.requester.vip);
    assert_eq!(d.fields["refund_amount"], 250);
    assert_eq!(evs[0].occurred_at.to_string(), "2026-03-02T08:00:00Z");
}

#[test]
fn what_is_stored_decodes_to_the_same_event() {
    let ev = Event::decode_one(CREATED, Origin::External).unwrap();
    let json = serde_json::to_string(&ev).unwrap();
    assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), ev);
}

#[test]
fn refusals_name_the_field() {
    let cases = [
        (
            CREATED.replace("social_public", "fax"),
            RejectionCode::InvalidField,
            "data.channel",
        ),
        (
            CREATED.replace("\"urgent\"", "\"URGENT\""),
            RejectionCode::InvalidField,
            "data.priority",
        ),
        (
            CREATED.replace("a@b.example", "nobody"),
            RejectionCode::InvalidField,
            "data.requester.email",
        ),
        (
            CREATED.replace("\"billing\"", "\"two words\""),
            RejectionCode::InvalidField,
            "data.tags[0]",
        ),
        (
            CREATED.replace("\"subject\":\"Refund\"", "\"subject\":\" \""),
            RejectionCode::InvalidField,
            "data.subject",
        ),
        (
            CREATED.replace("\"c1\"", "7"),
            RejectionCode::InvalidField,
            "data.requester.id",
        ),
        (
            CREATED.replace("\"ZD-1\"", "\"ZD 1\""),
            RejectionCode::InvalidField,
            "ticket_id",
        ),
        (
            CREATED.replace("+01:00", ""),
            RejectionCode::InvalidField,
            "occurred_at",
        ),
        (
            CREATED.replace("ticket.created", "ticket.create"),
            RejectionCode::UnknownEventType,
            "type",
        ),
        (
            CREATED.replace("ticket.created", "policy.error"),
            RejectionCode::UnknownEventType,
            "type",
        ),
        (
            CREATED.replace("\"tags\"", "\"tagz\""),
            RejectionCode::InvalidField,
            "data.tagz",
        ),
    ];
    for (body, code, field) in cases {
        let r = reject(&body);
        assert_eq!((r.code, r.field.as_str()), (code, field), "{r}");
    }
}

#[test]
fn unknown_types_suggest_the_nearest() {
    let r = reject(&CREATED.replace("ticket.created", "ticket.create"));
    assert!(
        r.message.contains("did you mean `ticket.created`"),
        "{}",
        r.message
    );
}

#[test]
fn batches_prefix_the_index_and_are_all_or_nothing() {
    let bad = CREATED
        .replace("\"e1\"", "\"e2\"")
        .replace("\"urgent\"", "\"soon\"");
    let r = reject(&format!("[{CREATED},{bad}]"));
    assert_eq!(r.field, "[1].data.priority");
    assert_eq!(reject("[]").code, RejectionCode::InvalidField);
}

#[test]
fn malformed_bodies_are_malformed() {
    for body in [
        "",
        "   ",
        "{",
        "[1,",
        "\"x\"",
        "42",
        "{} {}",
        &format!("{CREATED}x"),
    ] {
        assert_eq!(reject(body).code, RejectionCode::MalformedJson, "{body:?}");
    }
}

#[test]
fn per_type_rules_hold() {
    let csat = |score: i64| {
        format!(
            r#"{{"id":"e","type":"csat.received","ticket_id":"T","occurred_at":"2026-03-02T09:00:00Z","data":{{"score":{score}}}}}"#
        )
    };
    assert_eq!(reject(&csat(0)).field, "data.score");
    assert_eq!(reject(&csat(6)).field, "data.score");
    assert!(Event::decode_one(&csat(5), Origin::External).is_ok());
    let empty_update = r#"{"id":"e","type":"ticket.updated","ticket_id":"T","occurred_at":"2026-03-02T09:00:00Z","data":{}}"#;
    assert_eq!(reject(empty_update).code, RejectionCode::InvalidField);
    let nobody = r#"{"id":"e","type":"ticket.assigned","ticket_id":"T","occurred_at":"2026-03-02T09:00:00Z","data":{}}"#;
    assert_eq!(reject(nobody).field, "data");
    let solved = CREATED.replace("\"tags\"", "\"status\":\"solved\",\"tags\"");
    assert_eq!(reject(&solved).field, "data.status");
}

#[test]
fn internal_types_decode_for_the_store() {
    let json = r#"{"id":"esc:3.1","type":"action.escalate","ticket_id":"T","occurred_at":"2026-03-02T09:00:00Z","data":{"tier":2,"reason":"vip"}}"#;
    let ev = Event::decode_one(json, Origin::Internal).unwrap();
    assert_eq!(ev.type_name(), "action.escalate");
    let bad = json.replace("\"tier\":2", "\"tier\":9");
    assert_eq!(
        Event::decode_one(&bad, Origin::Internal).unwrap_err().field,
        "data.tier"
    );
}

#[test]
fn delivery_outcomes_are_internal_and_read_old_failures() {
    let at = r#""ticket_id":"T","occurred_at":"2026-03-02T09:00:00Z""#;
    let cases = [
        format!(
            r#"{{"id":"delivered:dlv:1.1:p:0","type":"delivery.delivered",{at},"data":{{"delivery_id":"dlv:1.1:p:0","plugin":"p","attempts":1,"status":204}}}}"#
        ),
        format!(
            r#"{{"id":"retrying:ntf:1.1:pager:1","type":"delivery.retrying",{at},"data":{{"delivery_id":"ntf:1.1:pager","target":"pager","attempt":1,"next_at":"2026-03-02T09:00:10Z","reason":"HTTP 429","status":429}}}}"#
        ),
        format!(
            r#"{{"id":"failed:ntf:1.1:pager","type":"delivery.failed",{at},"data":{{"delivery_id":"ntf:1.1:pager","target":"pager","attempts":1,"error":"HTTP 400","status":400,"response":"{{\"status\":\"invalid event\"}}"}}}}"#
        ),
        // Written before `plugin` became optional and `target`, `status`, `response` existed.
        format!(
            r#"{{"id":"failed:dlv:1.1:p:0","type":"delivery.failed",{at},"data":{{"delivery_id":"dlv:1.1:p:0","plugin":"p","attempts":28,"error":"gave up"}}}}"#
        ),
    ];
    for json in &cases {
        let ev =
            Event::decode_one(json, Origin::Internal).unwrap_or_else(|e| panic!("{json}: {e}"));
        let back = serde_json::to_string(&ev).unwrap();
        assert_eq!(Event::decode_one(&back, Origin::Internal).unwrap(), ev);
        // Never from outside: the type is unknown there (and the id reserved).
        let outside = json.replacen("\"id\":\"", "\"id\":\"x-", 1);
        assert_eq!(
            Event::decode_one(&outside, Origin::External)
                .unwrap_err()
                .code,
            RejectionCode::UnknownEventType,
            "{outside}"
        );
    }
    // A delivery outcome names whose it is.
    let nobody = format!(
        r#"{{"id":"delivered:d","type":"delivery.delivered",{at},"data":{{"delivery_id":"d","attempts":1,"status":200}}}}"#
    );
    assert_eq!(
        Event::decode_one(&nobody, Origin::Internal)
            .unwrap_err()
            .field,
        "data.plugin"
    );
}
