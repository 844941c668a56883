//! The Zammad adapter against trigger webhooks shaped like Zammad's
//! default payload: signature checks, creation and update deliveries,
//! articles as comments, idempotent ids, deliveries that map to nothing,
//! and a property test feeding the built component altered payloads.

use std::sync::{Arc, OnceLock};

use escalier_core::{Channel, EventKind, Priority, Status};
use escalier_plugin::{AdaptError, Secrets};
use hmac::{Hmac, Mac};
use proptest::prelude::*;
use serde_json::{Value, json};
use sha1::Sha1;

use crate::util::*;

const TOKEN: &str = "zammad-signature-token-for-tests";
const DELIVERY: &str = "8c1f7e1a-2b3d-4e5f-9a8b-7c6d5e4f3a2b";

fn host() -> Host {
    let mut secrets = Secrets::none();
    secrets.insert("zammad_signature_token", TOKEN);
    host_with(&[(&example("zammad"), "zammad", None)], secrets)
}

fn payload(name: &str) -> Vec<u8> {
    fixture_payload("zammad", name)
}

fn sign(body: &[u8], token: &str) -> String {
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(token.as_bytes()).unwrap();
    mac.update(body);
    let hex = hex(&mac.finalize().into_bytes());
    format!("sha1={hex}")
}

/// The headers Zammad sends with a trigger webhook.
fn headers(delivery: Option<&str>, signature: Option<String>) -> Vec<(String, String)> {
    let mut h = vec![
        ("Content-Type".to_owned(), "application/json".to_owned()),
        ("User-Agent".to_owned(), "Zammad User Agent".to_owned()),
        (
            "X-Zammad-Trigger".to_owned(),
            "Escalier: ticket events".to_owned(),
        ),
    ];
    if let Some(d) = delivery {
        h.push(("X-Zammad-Delivery".to_owned(), d.to_owned()));
    }
    if let Some(s) = signature {
        h.push(("X-Hub-Signature".to_owned(), s));
    }
    h
}

fn send(h: &Host, body: &[u8], delivery: &str) -> Result<Vec<escalier_core::Event>, AdaptError> {
    h.set().adapt(
        "zammad",
        &headers(Some(delivery), Some(sign(body, TOKEN))),
        body,
    )
}

fn adapt(h: &Host, file: &str, delivery: &str) -> Vec<escalier_core::Event> {
    send(h, &payload(file), delivery).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// Adapt an edited copy of a fixture.
fn adapt_edited(
    h: &Host,
    file: &str,
    edit: impl FnOnce(&mut Value),
) -> Result<Vec<escalier_core::Event>, AdaptError> {
    let mut v: Value = serde_json::from_slice(&payload(file)).unwrap();
    edit(&mut v);
    send(h, v.to_string().as_bytes(), DELIVERY)
}

fn data(e: &escalier_core::Event) -> Value {
    serde_json::to_value(e).unwrap()["data"].clone()
}

fn types(ev: &[escalier_core::Event]) -> Vec<&'static str> {
    ev.iter().map(|e| e.type_name()).collect()
}

#[test]
fn the_signature_is_checked_against_the_raw_body() {
    let h = host();
    let body = payload("ticket.created.json");
    let refused = |hs: Vec<(String, String)>, body: &[u8]| {
        let e = h.set().adapt("zammad", &hs, body).unwrap_err();
        assert!(matches!(e, AdaptError::Unauthorized { .. }), "{e}");
        assert_eq!(e.http_status(), 401);
    };
    // Forged: signed with another token.
    refused(
        headers(Some(DELIVERY), Some(sign(&body, "not the token"))),
        &body,
    );
    // Unsigned: a webhook without a signature token.
    refused(headers(Some(DELIVERY), None), &body);
    // Tampered: one byte more than was signed.
    let mut tampered = body.clone();
    tampered.push(b'\n');
    refused(headers(Some(DELIVERY), Some(sign(&body, TOKEN))), &tampered);
    // The right digest under another algorithm's name.
    let sig = sign(&body, TOKEN);
    refused(
        headers(Some(DELIVERY), Some(sig.replace("sha1=", "sha256="))),
        &body,
    );
    // Even a payload it would not map is checked first.
    refused(headers(None, None), br#"{"text":"hello"}"#);
    assert_eq!(send(&h, &body, DELIVERY).unwrap().len(), 1);
}

#[test]
fn the_first_article_makes_a_ticket() {
    let h = host();
    let ev = adapt(&h, "ticket.created.json", DELIVERY);
    assert_eq!(types(&ev), ["ticket.created"]);
    let e = &ev[0];
    assert_eq!(e.id.as_str(), format!("zammad:{DELIVERY}"));
    assert_eq!(e.ticket_id.as_str(), "zammad:10081", "the ticket number");
    assert_eq!(e.occurred_at, "2026-03-02T09:15:00.282Z".parse().unwrap());
    let EventKind::TicketCreated(t) = &e.kind else {
        panic!("{e}")
    };
    assert_eq!(t.subject, "Espresso machine leaks after descaling");
    assert!(t.description.contains("CP-7731"), "{}", t.description);
    assert_eq!(t.requester.id, "zammad:emily@customer.example");
    assert_eq!(t.requester.name.as_deref(), Some("Emily Adams"));
    assert_eq!(t.requester.email.as_deref(), Some("emily@customer.example"));
    assert!(t.requester.vip, "Zammad's VIP flag");
    assert_eq!(t.channel, Channel::Email);
    assert_eq!(t.priority, Priority::High, "3 high");
    assert_eq!(t.status, Some(Status::New));
    assert_eq!(t.team.as_deref(), Some("Service Desk"));
    assert_eq!(t.agent, None, "owner 1 is nobody");
    assert_eq!(t.tags, ["zammad"]);
    assert_eq!(t.fields["zammad_id"], 81);
    assert_eq!(t.fields["zammad_number"], "10081");
    assert_eq!(t.fields["zammad_organization"], "Awesome Customer Inc.");
}

#[test]
fn an_update_with_an_agent_reply() {
    let h = host();
    let ev = adapt(&h, "ticket.updated.reply.json", DELIVERY);
    assert_eq!(
        types(&ev),
        [
            "ticket.updated",
            "ticket.assigned",
            "status.changed",
            "comment.added"
        ]
    );
    let ids: Vec<&str> = ev.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            format!("zammad:{DELIVERY}:fields"),
            format!("zammad:{DELIVERY}:assignment"),
            format!("zammad:{DELIVERY}:status"),
            format!("zammad:{DELIVERY}:article"),
        ]
    );
    assert!(ev.iter().all(|e| e.ticket_id.as_str() == "zammad:10081"));
    let u = data(&ev[0]);
    assert_eq!(u["subject"], "Espresso machine leaks after descaling");
    assert_eq!(u["priority"], "high");
    assert_eq!(u["requester"]["id"], "zammad:emily@customer.example");
    let a = data(&ev[1]);
    assert_eq!(
        a,
        json!({ "team": "Service Desk", "agent": "zammad:emma@chrispresso.example" })
    );
    assert_eq!(data(&ev[2])["status"], "open");
    let c = data(&ev[3]);
    assert_eq!(
        c["author"],
        json!({ "kind": "agent", "id": "zammad:emma@chrispresso.example" })
    );
    assert_eq!(c["public"], true);
    assert!(c["body"].as_str().unwrap().contains("gasket"));
    assert_eq!(
        ev[3].occurred_at,
        "2026-03-02T09:40:00.101Z".parse().unwrap(),
        "the article's time"
    );
    assert_eq!(
        ev[0].occurred_at,
        "2026-03-02T09:40:00.120Z".parse().unwrap()
    );
}

#[test]
fn articles_are_internal_or_public_and_by_their_sender() {
    let h = host();
    let comment = |file: &str| {
        let ev = adapt(&h, file, DELIVERY);
        data(ev.last().unwrap())
    };
    let note = comment("ticket.updated.note.json");
    assert_eq!(note["public"], false, "internal note");
    assert_eq!(note["author"]["kind"], "agent");
    let phone = comment("ticket.updated.phone.json");
    assert_eq!(phone["public"], true);
    assert_eq!(
        phone["author"],
        json!({ "kind": "customer", "id": "zammad:emily@customer.example" }),
        "recorded by the agent for the customer (origin_by)"
    );
    let ev = adapt_edited(&h, "ticket.updated.note.json", |v| {
        v["article"]["sender"] = "System".into();
    })
    .unwrap();
    assert_eq!(data(ev.last().unwrap())["author"]["kind"], "system");
}

#[test]
fn states_and_priorities_map_to_escaliers() {
    let h = host();
    let ev = adapt(&h, "ticket.updated.pending.json", DELIVERY);
    assert_eq!(
        types(&ev),
        ["ticket.updated", "ticket.assigned", "status.changed"],
        "no article, no comment"
    );
    assert_eq!(data(&ev[0])["priority"], "normal", "2 normal");
    assert_eq!(data(&ev[2])["status"], "pending", "pending reminder");
    let ev = adapt(&h, "ticket.closed.json", DELIVERY);
    assert_eq!(data(&ev[2])["status"], "solved", "closed can reopen");

    for (state, want) in [
        ("open", Some("open")),
        ("pending close", Some("pending")),
        ("merged", Some("solved")),
        ("on hold", Some("on_hold")),
        ("new", None),
        ("removed", None),
    ] {
        let ev = adapt_edited(&h, "ticket.updated.pending.json", |v| {
            v["ticket"]["state"] = state.into();
        })
        .unwrap();
        let got = ev
            .iter()
            .find(|e| e.type_name() == "status.changed")
            .map(|e| data(e)["status"].clone());
        assert_eq!(got, want.map(Value::from), "{state}");
    }
    for (name, want) in [
        ("1 low", "low"),
        ("2 normal", "normal"),
        ("3 high", "high"),
        ("4 urgent", "urgent"),
    ] {
        let ev = adapt_edited(&h, "ticket.created.json", |v| {
            v["ticket"]["priority"]["name"] = name.into();
        })
        .unwrap();
        assert_eq!(data(&ev[0])["priority"], want, "{name}");
    }
    // A name of its own leaves the priority as it was.
    let ev = adapt_edited(&h, "ticket.updated.pending.json", |v| {
        v["ticket"]["priority"]["name"] = "whenever".into();
    })
    .unwrap();
    assert_eq!(data(&ev[0]).get("priority"), None);
    // Created straight into closed: created, then solved.
    let ev = adapt_edited(&h, "ticket.created.json", |v| {
        v["ticket"]["state"] = "closed".into();
    })
    .unwrap();
    assert_eq!(types(&ev), ["ticket.created", "status.changed"]);
    assert_eq!(data(&ev[1])["status"], "solved");
}

#[test]
fn tags_and_channels_when_the_payload_has_them() {
    let h = host();
    let ev = adapt_edited(&h, "ticket.created.json", |v| {
        v["ticket"]["tags"] = json!(["Barista Pro", "warranty", "warranty", ""]);
        v["ticket"]["create_article_type"] = "phone".into();
    })
    .unwrap();
    let EventKind::TicketCreated(t) = &ev[0].kind else {
        panic!("{}", ev[0])
    };
    assert_eq!(t.tags, ["zammad", "barista-pro", "warranty"]);
    assert_eq!(t.channel, Channel::Phone);
    let ev = adapt_edited(&h, "ticket.updated.pending.json", |v| {
        v["ticket"]["tags"] = json!(["warranty"]);
    })
    .unwrap();
    assert_eq!(data(&ev[0])["tags_added"], json!(["warranty"]));
}

#[test]
fn adapted_events_drive_a_ticket_through_the_processor() {
    let h = host();
    let mut ticket = None;
    let mut seq = 0;
    for (i, file) in [
        "ticket.created.json",
        "ticket.updated.reply.json",
        "ticket.updated.note.json",
        "ticket.updated.phone.json",
        "ticket.updated.pending.json",
        "ticket.closed.json",
    ]
    .iter()
    .enumerate()
    {
        for (index, ev) in adapt(&h, file, &format!("d-{i}")).into_iter().enumerate() {
            seq += 1;
            let rec = Arc::new(escalier_core::Record {
                seq,
                index: index as u32,
                recorded_at: ev.occurred_at,
                source: escalier_core::Source::Webhook { delivery: None },
                event: ev,
            });
            ticket = Some(
                escalier_core::reduce::apply(ticket, &rec)
                    .unwrap_or_else(|e| panic!("{file}: {e}")),
            );
        }
    }
    let t = ticket.unwrap();
    assert_eq!(t.status, Status::Solved);
    assert_eq!(t.priority, Priority::Normal);
    assert_eq!(t.agent.as_deref(), Some("zammad:emma@chrispresso.example"));
    assert_eq!(t.comment_count, 3);
    assert!(t.first_response_at.is_some(), "Emma's public reply");
    assert!(t.last_customer_comment_at.is_some(), "the phone call");
}

#[test]
fn a_redelivery_has_the_same_ids() {
    let h = host();
    for file in ["ticket.created.json", "ticket.updated.reply.json"] {
        let ids = |d: &str| -> Vec<String> {
            adapt(&h, file, d)
                .iter()
                .map(|e| e.id.as_str().to_owned())
                .collect()
        };
        assert_eq!(ids(DELIVERY), ids(DELIVERY), "{file}");
        assert_ne!(ids(DELIVERY), ids("another-delivery"), "{file}");
    }
}

#[test]
fn payloads_without_a_ticket_produce_nothing() {
    let h = host();
    // A custom payload, and one with an empty ticket.
    for body in [
        &br#"{"text":"Ticket 10081 was updated"}"#[..],
        br#"{"ticket":{},"article":{}}"#,
        br#"{"ticket":null}"#,
    ] {
        assert_eq!(send(&h, body, DELIVERY).unwrap(), [], "{body:?}");
    }
}

#[test]
fn payloads_it_does_not_understand_are_refused_as_such() {
    let h = host();
    let not_understood = |r: Result<Vec<escalier_core::Event>, AdaptError>| {
        let e = r.unwrap_err();
        assert!(matches!(e, AdaptError::NotUnderstood { .. }), "{e}");
        assert_eq!(e.http_status(), 422);
    };
    not_understood(send(&h, b"<xml/>", DELIVERY));
    not_understood(adapt_edited(&h, "ticket.created.json", |v| {
        v["ticket"].as_object_mut().unwrap().remove("number");
    }));
    not_understood(adapt_edited(&h, "ticket.updated.pending.json", |v| {
        v["ticket"]["updated_at"] = "yesterday".into();
    }));
    not_understood(adapt_edited(&h, "ticket.created.json", |v| {
        v["ticket"]["created_at"] = "-012345-01-01T00:00:00Z".into();
    }));
    let body = payload("ticket.created.json");
    not_understood(
        h.set()
            .adapt("zammad", &headers(None, Some(sign(&body, TOKEN))), &body),
    );
}

#[test]
fn odd_values_are_cut_to_what_escalier_takes() {
    let h = host();
    let ev = adapt_edited(&h, "ticket.created.json", |v| {
        let t = &mut v["ticket"];
        t["title"] = "\t \n".into();
        t["number"] = format!("{}/../#1", "9".repeat(300)).into();
        t["customer"]["login"] = "   ".into();
        t["customer"]["email"] = "".into();
        t["customer"]["firstname"] = "".into();
        t["customer"]["lastname"] = "".into();
        t["group"]["name"] = "G".repeat(500).into();
        v["article"]["body"] = "😀".repeat(20_000).into();
    })
    .unwrap();
    let EventKind::TicketCreated(t) = &ev[0].kind else {
        panic!("{}", ev[0])
    };
    assert_eq!(t.subject, "(no title)");
    assert_eq!(
        t.requester.id, "zammad:user-8",
        "the customer's id at least"
    );
    assert_eq!(t.requester.name, None);
    assert_eq!(t.team.as_ref().map(String::len), Some(128));
    assert!(t.description.len() <= 64 * 1024);
    let id = ev[0].ticket_id.as_str();
    assert!(
        id.len() <= 128 && !id.contains('/') && !id.contains('#'),
        "{id}"
    );
    // A numeric ticket number works as well as Zammad's text one.
    let ev = adapt_edited(&h, "ticket.created.json", |v| {
        v["ticket"]["number"] = 10081.into();
    })
    .unwrap();
    assert_eq!(ev[0].ticket_id.as_str(), "zammad:10081");
}

// ---- The adapter as shipped, fed altered payloads ----

/// The seed the test command uses; `PROPTEST_RNG_SEED` picks another.
const SEED: u64 = 0x00e5_ca1e_2a3d;

fn config(cases: u32) -> ProptestConfig {
    proptest_config(SEED, cases)
}

const SEEDS: [&str; 6] = [
    "ticket.created.json",
    "ticket.updated.reply.json",
    "ticket.updated.note.json",
    "ticket.updated.phone.json",
    "ticket.updated.pending.json",
    "ticket.closed.json",
];

fn shared() -> &'static Host {
    static HOST: OnceLock<Host> = OnceLock::new();
    HOST.get_or_init(host)
}

fn fixtures() -> &'static [Value] {
    static FIXTURES: OnceLock<Vec<Value>> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        SEEDS
            .iter()
            .map(|f| serde_json::from_slice(&payload(f)).unwrap())
            .collect()
    })
}

fn value() -> impl Strategy<Value = Option<Value>> {
    // Weighted toward the text Escalier limits: blank, control
    // characters, and long.
    prop_oneof![
        1 => Just(None),
        1 => Just(Some(Value::Null)),
        1 => any::<bool>().prop_map(|b| Some(b.into())),
        1 => any::<i64>().prop_map(|n| Some(n.into())),
        1 => any::<f64>().prop_map(|f| Some(f.into())),
        2 => "\\PC{0,40}".prop_map(|s| Some(s.into())),
        3 => "[\\x00-\\x1f \u{a0}\u{2028}\u{fe0f}\u{1f600}İ/#.]{0,12}".prop_map(|s| Some(s.into())),
        // Long multi-byte text around the adapter's limits.
        3 => (60usize..70_000, "[é😀a ]").prop_map(|(n, c)| Some(c.repeat(n / c.len()).into())),
        3 => prop::sample::select(vec![
            "new",
            "open",
            "pending reminder",
            "closed",
            "merged",
            "1 low",
            "3 high",
            "Customer",
            "Agent",
            "System",
            "email",
            "-",
            "..",
            "2026-03-02T09:00:00Z",
            "not a date",
        ])
        .prop_map(|s| Some(s.into())),
        1 => Just(Some(json!({}))),
        1 => Just(Some(json!([]))),
        1 => Just(Some(json!(1))),
        1 => Just(Some(json!(["a tag", "", 7]))),
    ]
}

fn altered() -> impl Strategy<Value = Vec<u8>> {
    altered_payloads(fixtures(), &READ, value())
}

/// The fields the adapter reads: where edits find its edge cases.
const READ: [&str; 36] = [
    "/ticket",
    "/article",
    "/ticket/title",
    "/ticket/number",
    "/ticket/id",
    "/ticket/state",
    "/ticket/priority",
    "/ticket/priority/name",
    "/ticket/group/name",
    "/ticket/owner",
    "/ticket/owner/id",
    "/ticket/owner/login",
    "/ticket/owner_id",
    "/ticket/customer",
    "/ticket/customer/login",
    "/ticket/customer/email",
    "/ticket/customer/firstname",
    "/ticket/customer/lastname",
    "/ticket/customer/vip",
    "/ticket/customer_id",
    "/ticket/tags",
    "/ticket/created_at",
    "/ticket/updated_at",
    "/ticket/article_ids",
    "/ticket/article_ids/0",
    "/ticket/article_count",
    "/ticket/create_article_type",
    "/ticket/organization/name",
    "/article/id",
    "/article/body",
    "/article/sender",
    "/article/internal",
    "/article/origin_by",
    "/article/created_at",
    "/article/created_by",
    "/article/created_by/login",
];

/// Signed: whatever the payload, valid Escalier events (the host checks
/// each one and answers `InvalidOutput` otherwise) or "not understood".
fn outcome(body: &[u8]) -> Result<(), String> {
    signed_outcome(send(shared(), body, DELIVERY), "zammad:", DELIVERY)
}

fn check(body: &[u8]) {
    if let Err(e) = outcome(body) {
        panic!("{e}");
    }
}

/// Every field the adapter reads, in every fixture, replaced in turn by
/// each value at or past Escalier's limits (or removed): the edge cases
/// random edits rarely reach, every one every run.
#[test]
fn every_field_it_reads_survives_every_edge_value() {
    every_field_survives(fixtures(), &SEEDS, &READ, outcome);
}

proptest! {
    // Each case runs the component in a fresh instance.
    #![proptest_config(config(2000))]

    #[test]
    fn any_altered_payload_maps_to_valid_events_or_is_refused(body in altered()) {
        check(&body);
    }

    #[test]
    fn any_bytes_map_to_valid_events_or_are_refused(b in prop::collection::vec(any::<u8>(), 0..512)) {
        check(&b);
    }
}
