//! The Freshdesk adapter as shipped (`target/plugins/freshdesk`) against
//! automation-rule webhook bodies rendered from the README's template:
//! the shared-secret header and basic authentication, every mapped
//! `event`, derived idempotent ids, and a deterministic fuzz.

use base64::Engine;
use escalier_core::{EventKind, Timestamp};
use escalier_plugin::AdaptError;
use serde_json::Value;

use crate::util::*;
use crate::zendesk::{check, fixture_body, host_at, sweep_and_fuzz};

const TOKEN: &str = "fd-7Jq2-long-random-token";
const NOW: &str = "2026-03-02T12:00:00Z";

fn host() -> Host {
    host_at("freshdesk", ("freshdesk_webhook_token", TOKEN), NOW).0
}

fn with_token(token: &str) -> Vec<(String, String)> {
    vec![
        ("Content-Type".to_owned(), "application/json".to_owned()),
        ("X-Escalier-Token".to_owned(), token.to_owned()),
    ]
}

fn with_basic(user: &str, password: &str) -> Vec<(String, String)> {
    let creds = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    vec![
        ("Content-Type".to_owned(), "application/json".to_owned()),
        ("Authorization".to_owned(), format!("Basic {creds}")),
    ]
}

fn send(h: &Host, body: &[u8]) -> Result<Vec<escalier_core::Event>, AdaptError> {
    h.set().adapt("freshdesk", &with_token(TOKEN), body)
}

fn one(h: &Host, file: &str) -> (escalier_core::Event, Value) {
    let mut ev =
        send(h, &fixture_body("freshdesk", file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    assert_eq!(ev.len(), 1, "{file}");
    let e = ev.remove(0);
    let data = serde_json::to_value(&e).unwrap()["data"].clone();
    (e, data)
}

#[test]
fn the_shared_secret_is_required_in_the_header_or_basic_auth() {
    let h = host();
    let body = fixture_body("freshdesk", "ticket_created.json");
    assert_eq!(
        h.set()
            .adapt("freshdesk", &with_token(TOKEN), &body)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        h.set()
            .adapt("freshdesk", &with_basic("escalier", TOKEN), &body)
            .unwrap()
            .len(),
        1,
        "basic authentication, any user name"
    );
    let refused: [(&str, Vec<(String, String)>); 7] = [
        ("wrong token", with_token("fd-7Jq2-long-random-tokem")),
        ("a prefix of the token", with_token("fd-7Jq2")),
        ("token plus more", with_token(&format!("{TOKEN}x"))),
        ("wrong password", with_basic("escalier", "guess")),
        ("the token as user name", with_basic(TOKEN, "")),
        (
            "not basic",
            vec![("Authorization".to_owned(), format!("Bearer {TOKEN}"))],
        ),
        (
            "nothing",
            vec![("Content-Type".to_owned(), "application/json".to_owned())],
        ),
    ];
    for (why, headers) in refused {
        let e = h.set().adapt("freshdesk", &headers, &body).unwrap_err();
        assert!(matches!(e, AdaptError::Unauthorized { .. }), "{why}: {e}");
        assert_eq!(e.http_status(), 401, "{why}");
    }
}

#[test]
fn every_rule_event_maps_to_an_escalier_event() {
    let h = host();
    let (e, _) = one(&h, "ticket_created.json");
    assert_eq!(e.ticket_id.as_str(), "freshdesk:1042");
    assert!(
        e.id.as_str().starts_with("fd:1042:ticket_created:"),
        "{}",
        e.id
    );
    assert_eq!(
        e.occurred_at,
        NOW.parse::<Timestamp>().unwrap(),
        "no time in the body: the request's arrival"
    );
    let EventKind::TicketCreated(t) = &e.kind else {
        panic!("{e}")
    };
    assert_eq!(t.subject, "Invoice PDF shows the wrong VAT number");
    assert_eq!(t.requester.id, "freshdesk:robin@example.com");
    assert_eq!(t.requester.name.as_deref(), Some("Robin Buyer"));
    assert_eq!(t.priority, escalier_core::Priority::High);
    assert_eq!(t.status, Some(escalier_core::Status::Open));
    assert_eq!(t.channel, escalier_core::Channel::Email);
    assert_eq!(t.tags, ["billing", "invoice"]);
    assert_eq!(t.team.as_deref(), Some("freshdesk:group:Billing"));
    assert_eq!(
        t.fields["freshdesk_url"],
        "https://acme.freshdesk.com/helpdesk/tickets/1042"
    );

    let cases: [(&str, &str, Value); 10] = [
        (
            "status_changed.json",
            "status.changed",
            serde_json::json!({"status": "pending"}),
        ),
        (
            "status_changed.third_party.json",
            "status.changed",
            serde_json::json!({"status": "on_hold"}),
        ),
        (
            "status_changed.resolved.json",
            "status.changed",
            serde_json::json!({"status": "solved"}),
        ),
        (
            "priority_changed.json",
            "ticket.updated",
            serde_json::json!({"priority": "urgent"}),
        ),
        (
            "tags_changed.json",
            "ticket.updated",
            serde_json::json!({"tags_added": ["billing", "invoice", "vat-issue"]}),
        ),
        (
            "assignment_changed.json",
            "ticket.assigned",
            serde_json::json!({"team": "freshdesk:group:Billing_L2", "agent": "freshdesk:sam@acme.example"}),
        ),
        (
            "agent_reply.json",
            "comment.added",
            serde_json::json!({"author": {"kind": "agent", "id": "freshdesk:sam@acme.example"}, "public": true,
                "body": "Hi Robin, we are correcting the invoice now."}),
        ),
        (
            "customer_reply.json",
            "comment.added",
            serde_json::json!({"author": {"kind": "customer", "id": "freshdesk:robin@example.com"}, "public": true,
                "body": "Thank you, we need it by Friday."}),
        ),
        (
            "note_added.json",
            "comment.added",
            serde_json::json!({"author": {"kind": "agent", "id": "freshdesk:sam@acme.example"}, "public": false,
                "body": "Finance confirmed the new VAT number."}),
        ),
        (
            "satisfaction_rated.json",
            "csat.received",
            serde_json::json!({"score": 5, "comment": "Fast fix"}),
        ),
    ];
    for (file, ty, want) in cases {
        let (e, data) = one(&h, file);
        assert_eq!(e.type_name(), ty, "{file}");
        assert_eq!(e.ticket_id.as_str(), "freshdesk:1042", "{file}");
        for (k, v) in want.as_object().unwrap() {
            assert_eq!(&data[k], v, "{file}: {k} in {data}");
        }
    }
}

#[test]
fn numeric_codes_and_a_time_in_the_body_are_understood() {
    let h = host();
    let mut v: Value =
        serde_json::from_slice(&fixture_body("freshdesk", "ticket_created.json")).unwrap();
    v["ticket"]["status"] = 3.into();
    v["ticket"]["priority"] = "4".into();
    v["ticket"]["source"] = 7.into();
    v["ticket"]["updated_at"] = "2026-03-02T10:30:00+01:00".into();
    let e = send(&h, v.to_string().as_bytes()).unwrap().remove(0);
    let EventKind::TicketCreated(t) = &e.kind else {
        panic!("{e}")
    };
    assert_eq!(t.status, Some(escalier_core::Status::Pending));
    assert_eq!(t.priority, escalier_core::Priority::Urgent);
    assert_eq!(t.channel, escalier_core::Channel::Chat);
    assert_eq!(
        e.occurred_at,
        "2026-03-02T09:30:00Z".parse::<Timestamp>().unwrap()
    );
}

#[test]
fn a_redelivery_has_the_same_id_and_another_delivery_does_not() {
    let h = host();
    for file in [
        "ticket_created.json",
        "agent_reply.json",
        "status_changed.json",
    ] {
        assert_eq!(one(&h, file).0.id, one(&h, file).0.id, "{file}");
    }
    let a = one(&h, "agent_reply.json").0;
    let mut v: Value =
        serde_json::from_slice(&fixture_body("freshdesk", "agent_reply.json")).unwrap();
    v["ticket"]["latest_public_comment"] = "A second reply.".into();
    let b = send(&h, v.to_string().as_bytes()).unwrap().remove(0);
    assert_ne!(a.id, b.id);
}

#[test]
fn unmapped_events_produce_nothing_and_odd_bodies_are_handled() {
    let h = host();
    assert_eq!(
        send(&h, &fixture_body("freshdesk", "unmapped.json")).unwrap(),
        vec![]
    );
    // A custom status without an Escalier equivalent.
    let mut v: Value =
        serde_json::from_slice(&fixture_body("freshdesk", "status_changed.json")).unwrap();
    v["ticket"]["status"] = "Awaiting Legal".into();
    assert_eq!(send(&h, v.to_string().as_bytes()).unwrap(), vec![]);

    let mut v: Value =
        serde_json::from_slice(&fixture_body("freshdesk", "ticket_created.json")).unwrap();
    v["ticket"]["subject"] = "".into();
    v["ticket"]["id"] = "..".into();
    v["ticket"]["requester_email"] = "not-an-email".into();
    v["ticket"]["tags"] = format!("{}, ,a b", "t".repeat(80)).into();
    let e = send(&h, v.to_string().as_bytes()).unwrap().remove(0);
    assert_eq!(e.ticket_id.as_str(), "freshdesk:..");
    let EventKind::TicketCreated(t) = &e.kind else {
        panic!("{e}")
    };
    assert_eq!(t.subject, "Freshdesk ticket #..");
    assert_eq!(t.requester.email, None);
    assert_eq!(t.tags, ["t".repeat(64).as_str(), "a-b"]);

    for body in [
        &br#"{"event":"ticket_created","ticket":{"subject":"no id"}}"#[..],
        br#"{"event":"ticket_created"}"#,
        b"not json",
    ] {
        let e = send(&h, body).unwrap_err();
        assert!(matches!(e, AdaptError::NotUnderstood { .. }), "{e}");
        assert_eq!(e.http_status(), 422);
    }
}

const FUZZ_SEED: u64 = 0x00e5_ca1e_f2e5;

const FIXTURES: [&str; 12] = [
    "ticket_created.json",
    "status_changed.json",
    "status_changed.third_party.json",
    "status_changed.resolved.json",
    "priority_changed.json",
    "assignment_changed.json",
    "tags_changed.json",
    "agent_reply.json",
    "customer_reply.json",
    "note_added.json",
    "satisfaction_rated.json",
    "unmapped.json",
];

const VOCABULARY: [&str; 16] = [
    "ticket_created",
    "status_changed",
    "assignment_changed",
    "customer_reply",
    "note_added",
    "satisfaction_rated",
    "Waiting on Third Party",
    "Closed",
    "5",
    "Medium",
    "-103",
    "Phone",
    "..",
    "a@b",
    "2026-03-02T09:00:00Z",
    "not a date",
];

#[test]
fn fuzzed_payloads_map_to_valid_events_or_are_refused() {
    let h = host();
    let seeds: Vec<String> = FIXTURES
        .iter()
        .map(|f| String::from_utf8(fixture_body("freshdesk", f)).unwrap())
        .collect();
    for (f, s) in FIXTURES.iter().zip(&seeds) {
        let n = check(
            "freshdesk",
            send(&h, s.as_bytes()),
            "freshdesk:",
            s.as_bytes(),
        );
        assert_eq!(n, usize::from(*f != "unmapped.json"), "{f}");
    }
    let mapped = sweep_and_fuzz(
        &seeds,
        &["Closed", "Resolved", "5", ".."],
        &VOCABULARY,
        FUZZ_SEED,
        |body| check("freshdesk", send(&h, body), "freshdesk:", body),
    );
    assert!(
        mapped > 50,
        "the fuzz reaches the mapping ({mapped} events)"
    );
}
