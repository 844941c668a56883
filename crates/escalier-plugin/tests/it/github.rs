//! The GitHub adapter against payloads shaped like GitHub's: signature
//! checks, the event mapping, idempotent ids, and the adapter errors the
//! API turns into HTTP statuses.

use escalier_core::EventKind;
use escalier_plugin::{AdaptError, Secrets};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::util::*;

const SECRET: &str = "It's a Secret to Everybody";

fn host() -> Host {
    let mut secrets = Secrets::none();
    secrets.insert("github_webhook_secret", SECRET);
    host_with(&[(&example("github"), "github", None)], secrets)
}

fn payload(name: &str) -> Vec<u8> {
    fixture_payload("github", name)
}

fn sign(body: &[u8], secret: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let hex = hex(&mac.finalize().into_bytes());
    format!("sha256={hex}")
}

fn headers(event: &str, delivery: &str, signature: Option<String>) -> Vec<(String, String)> {
    let mut h = vec![
        ("X-GitHub-Event".to_owned(), event.to_owned()),
        ("X-GitHub-Delivery".to_owned(), delivery.to_owned()),
        ("Content-Type".to_owned(), "application/json".to_owned()),
        (
            "User-Agent".to_owned(),
            "GitHub-Hookshot/a1b2c3d".to_owned(),
        ),
    ];
    if let Some(s) = signature {
        h.push(("X-Hub-Signature-256".to_owned(), s));
    }
    h
}

fn adapt(
    h: &Host,
    event: &str,
    file: &str,
    delivery: &str,
) -> Result<Vec<escalier_core::Event>, AdaptError> {
    let body = payload(file);
    h.set().adapt(
        "github",
        &headers(event, delivery, Some(sign(&body, SECRET))),
        &body,
    )
}

#[test]
fn the_signature_is_checked_against_the_raw_body() {
    let h = host();
    let body = payload("issues.opened.json");
    let wrong = h.set().adapt(
        "github",
        &headers("issues", "d-1", Some(sign(&body, "not the secret"))),
        &body,
    );
    let e = wrong.unwrap_err();
    assert!(matches!(e, AdaptError::Unauthorized { .. }), "{e}");
    assert_eq!(e.http_status(), 401);
    let missing = h
        .set()
        .adapt("github", &headers("issues", "d-1", None), &body)
        .unwrap_err();
    assert_eq!(missing.http_status(), 401);
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    let e = h
        .set()
        .adapt(
            "github",
            &headers("issues", "d-1", Some(sign(&body, SECRET))),
            &tampered,
        )
        .unwrap_err();
    assert_eq!(e.http_status(), 401);
}

#[test]
fn issue_deliveries_map_to_ticket_events() {
    let h = host();
    let delivery = "72d3162e-cc78-11e3-81ab-4c9367dc0958";
    let ev = adapt(&h, "issues", "issues.opened.json", delivery).unwrap();
    assert_eq!(ev.len(), 1);
    let e = &ev[0];
    assert_eq!(
        e.id.as_str(),
        format!("gh:{delivery}"),
        "idempotent by delivery id"
    );
    assert_eq!(e.ticket_id.as_str(), "github:acme/helpdesk-app#42");
    assert_eq!(e.occurred_at.to_string(), "2026-03-02T09:15:00Z");
    let EventKind::TicketCreated(t) = &e.kind else {
        panic!("{e}")
    };
    assert_eq!(t.subject, "Export to CSV does nothing since Monday");
    assert!(t.description.contains("ACME-7731"));
    assert_eq!(t.requester.id, "github:dana-customer");
    assert_eq!(t.tags, ["github", "bug"]);
    assert_eq!(
        t.fields["github_url"],
        "https://github.com/acme/helpdesk-app/issues/42"
    );

    let cases = [
        ("issues", "issues.edited.json", "ticket.updated"),
        ("issues", "issues.labeled.json", "ticket.updated"),
        ("issues", "issues.assigned.json", "ticket.assigned"),
        (
            "issue_comment",
            "issue_comment.created.json",
            "comment.added",
        ),
        ("issues", "issues.closed.json", "status.changed"),
        ("issues", "issues.reopened.json", "status.changed"),
    ];
    for (i, (event, file, ty)) in cases.iter().enumerate() {
        let ev = adapt(
            &h,
            event,
            file,
            &format!("0000000{i}-cc78-11e3-81ab-4c9367dc0958"),
        )
        .unwrap();
        assert_eq!(ev[0].type_name(), *ty, "{file}");
        let data = serde_json::to_value(&ev[0]).unwrap()["data"].clone();
        match *file {
            "issues.labeled.json" => assert_eq!(data["tags_added"][0], "customer-impact"),
            "issues.assigned.json" => assert_eq!(data["agent"], "github:sam-support"),
            "issue_comment.created.json" => {
                assert_eq!(
                    data["author"]["kind"], "agent",
                    "MEMBER comments are the team's"
                );
                assert_eq!(ev[0].occurred_at.to_string(), "2026-03-02T09:40:00Z");
            }
            "issues.closed.json" => assert_eq!(data["status"], "solved"),
            "issues.reopened.json" => assert_eq!(data["status"], "open"),
            _ => {}
        }
    }
}

#[test]
fn adapted_events_drive_a_ticket_through_the_processor() {
    let h = host();
    let mut ticket = None;
    for (i, (event, file)) in [
        ("issues", "issues.opened.json"),
        ("issue_comment", "issue_comment.created.json"),
        ("issues", "issues.closed.json"),
    ]
    .iter()
    .enumerate()
    {
        let ev = adapt(&h, event, file, &format!("d-{i}")).unwrap().remove(0);
        let rec = std::sync::Arc::new(escalier_core::Record {
            seq: i as u64 + 1,
            index: 0,
            recorded_at: ev.occurred_at,
            source: escalier_core::Source::Webhook { delivery: None },
            event: ev,
        });
        ticket = Some(escalier_core::reduce::apply(ticket, &rec).unwrap());
    }
    let t = ticket.unwrap();
    assert_eq!(t.status, escalier_core::Status::Solved);
    assert_eq!(t.comment_count, 1);
    assert!(
        t.first_response_at.is_some(),
        "the member's comment is the first response"
    );
}

#[test]
fn pings_and_other_events_produce_nothing() {
    let h = host();
    assert!(adapt(&h, "ping", "ping.json", "p-1").unwrap().is_empty());
    assert!(adapt(&h, "star", "ping.json", "p-2").unwrap().is_empty());
}

#[test]
fn a_payload_that_is_not_githubs_is_not_understood() {
    let h = host();
    let body = br#"{"action":"opened","issue":{"number":"forty-two"}}"#.to_vec();
    let e = h
        .set()
        .adapt(
            "github",
            &headers("issues", "d-9", Some(sign(&body, SECRET))),
            &body,
        )
        .unwrap_err();
    assert!(matches!(e, AdaptError::NotUnderstood { .. }), "{e}");
    assert_eq!(e.http_status(), 422);
}

#[test]
fn an_unknown_source_is_a_404_naming_the_adapters() {
    let h = host();
    let e = h.set().adapt("gitlab", &[], b"{}").unwrap_err();
    assert_eq!(e.http_status(), 404);
    assert!(e.to_string().contains("github"), "{e}");
}

/// Adapt an edited copy of a fixture.
fn adapt_edited(
    h: &Host,
    event: &str,
    file: &str,
    edit: impl FnOnce(&mut serde_json::Value),
) -> Result<Vec<escalier_core::Event>, AdaptError> {
    let mut v: serde_json::Value = serde_json::from_slice(&payload(file)).unwrap();
    edit(&mut v);
    let body = v.to_string().into_bytes();
    h.set().adapt(
        "github",
        &headers(event, "e-1", Some(sign(&body, SECRET))),
        &body,
    )
}

// Found by the fuzz target (crates/escalier-fuzz): names GitHub allows
// made ids Escalier refuses, which answered 502 instead of an event.
#[test]
fn bot_logins_and_long_repository_names_still_make_valid_ids() {
    let h = host();
    let ev = adapt_edited(&h, "issues", "issues.opened.json", |v| {
        v["issue"]["user"]["login"] = "dependabot[bot]".into();
    })
    .unwrap();
    let EventKind::TicketCreated(t) = &ev[0].kind else {
        panic!("{}", ev[0])
    };
    assert_eq!(t.requester.id, "github:dependabot_bot_");

    // Owners reach 39 characters and repositories 100.
    let long = format!("{}/{}", "o".repeat(39), "r".repeat(100));
    let make = |name: &str| {
        adapt_edited(&h, "issues", "issues.opened.json", |v| {
            v["repository"]["full_name"] = name.into();
        })
        .unwrap()
        .remove(0)
        .ticket_id
    };
    let a = make(&long);
    assert!(a.as_str().len() <= 128, "{a}");
    assert!(a.as_str().starts_with("github:ooo"), "{a}");
    assert!(a.as_str().ends_with("#42"), "{a}");
    let other = make(&format!("{long}x"));
    assert_ne!(a, other, "shortened ids stay distinct");
    assert_eq!(a, make(&long), "and stable");
}

#[test]
fn a_malformed_event_time_is_not_understood() {
    let h = host();
    let e = adapt_edited(&h, "issues", "issues.opened.json", |v| {
        v["issue"]["created_at"] = "yesterday".into();
    })
    .unwrap_err();
    assert!(matches!(e, AdaptError::NotUnderstood { .. }), "{e}");
    assert_eq!(e.http_status(), 422);
}
