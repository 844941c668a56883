//! The Jira Service Management adapter against payloads shaped like Jira
//! Cloud's webhooks: signature checks, every mapped event, idempotent ids,
//! events that map to nothing, and a property test feeding the built
//! component altered payloads.

use std::sync::{Arc, OnceLock};

use escalier_core::{EventKind, Priority, Status};
use escalier_plugin::{AdaptError, Secrets};
use hmac::{Hmac, Mac};
use proptest::prelude::*;
use serde_json::Value;
use sha2::Sha256;

use crate::util::*;

const SECRET: &str = "jira-webhook-secret-for-tests";
const DELIVERY: &str = "3f1c2a7e-5b9d-4c8e-a1f0-7d6e5c4b3a21";

fn host() -> Host {
    let mut secrets = Secrets::none();
    secrets.insert("jira_webhook_secret", SECRET);
    host_with(&[(&example("jira"), "jira", None)], secrets)
}

fn payload(name: &str) -> Vec<u8> {
    fixture_payload("jira", name)
}

fn sign(body: &[u8], secret: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let hex = hex(&mac.finalize().into_bytes());
    format!("sha256={hex}")
}

/// The headers Jira sends with a webhook.
fn headers(delivery: Option<&str>, signature: Option<String>) -> Vec<(String, String)> {
    let mut h = vec![
        ("Content-Type".to_owned(), "application/json".to_owned()),
        (
            "User-Agent".to_owned(),
            "Atlassian Webhook HTTP Client".to_owned(),
        ),
        ("X-Atlassian-Webhook-Flow".to_owned(), "Primary".to_owned()),
    ];
    if let Some(d) = delivery {
        h.push(("X-Atlassian-Webhook-Identifier".to_owned(), d.to_owned()));
    }
    if let Some(s) = signature {
        h.push(("X-Hub-Signature".to_owned(), s));
    }
    h
}

fn send(h: &Host, body: &[u8], delivery: &str) -> Result<Vec<escalier_core::Event>, AdaptError> {
    h.set().adapt(
        "jira",
        &headers(Some(delivery), Some(sign(body, SECRET))),
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

#[test]
fn the_signature_is_checked_against_the_raw_body() {
    let h = host();
    let body = payload("issue_created.json");
    let refused = |hs: Vec<(String, String)>, body: &[u8]| {
        let e = h.set().adapt("jira", &hs, body).unwrap_err();
        assert!(matches!(e, AdaptError::Unauthorized { .. }), "{e}");
        assert_eq!(e.http_status(), 401);
    };
    // Forged: signed with another secret.
    refused(
        headers(Some(DELIVERY), Some(sign(&body, "not the secret"))),
        &body,
    );
    // Unsigned: a webhook without a secret.
    refused(headers(Some(DELIVERY), None), &body);
    // Tampered: one byte more than was signed.
    let mut tampered = body.clone();
    tampered.push(b' ');
    refused(
        headers(Some(DELIVERY), Some(sign(&body, SECRET))),
        &tampered,
    );
    // The right digest under another algorithm's name, and no name.
    let sig = sign(&body, SECRET);
    refused(
        headers(Some(DELIVERY), Some(sig.replace("sha256=", "sha1="))),
        &body,
    );
    refused(
        headers(Some(DELIVERY), Some(sig.replace("sha256=", ""))),
        &body,
    );
    // Even a delivery it would not map is checked first.
    refused(headers(None, None), &payload("issue_deleted.json"));
    // And the genuine one passes.
    assert_eq!(send(&h, &body, DELIVERY).unwrap().len(), 1);
}

#[test]
fn an_issue_created_becomes_a_ticket() {
    let h = host();
    let ev = adapt(&h, "issue_created.json", DELIVERY);
    assert_eq!(ev.len(), 1);
    let e = &ev[0];
    assert_eq!(e.id.as_str(), format!("jira:{DELIVERY}"));
    assert_eq!(e.ticket_id.as_str(), "jira:HELP-42");
    assert_eq!(
        e.occurred_at,
        "2026-03-02T09:15:00.120Z".parse().unwrap(),
        "the delivery's timestamp"
    );
    let EventKind::TicketCreated(t) = &e.kind else {
        panic!("{e}")
    };
    assert_eq!(t.subject, "VPN rejects my password since this morning");
    assert!(t.description.contains("ACME-7731"), "{}", t.description);
    assert_eq!(
        t.requester.id,
        "jira:qm:5c3e1d9a-8b7f-4d2e-9a61-0f4b2c7d1e88:7a1f3c92-4e6b-4c1d-b8a5-2d9e0f6c3b17"
    );
    assert_eq!(t.requester.name.as_deref(), Some("Dana Customer"));
    assert_eq!(t.requester.email.as_deref(), Some("dana@customer.example"));
    assert_eq!(t.priority, Priority::High);
    assert_eq!(t.status, Some(Status::New), "Waiting for support is To Do");
    assert_eq!(t.tags, ["jira", "vpn", "remote-work"]);
    assert_eq!(t.team.as_deref(), Some("Network"), "the first component");
    assert_eq!(t.agent, None, "unassigned");
    assert_eq!(t.fields["jira_key"], "HELP-42");
    assert_eq!(
        t.fields["jira_url"],
        "https://acme-support.atlassian.net/browse/HELP-42"
    );
    assert_eq!(t.fields["jira_project"], "HELP");
}

#[test]
fn an_issue_updated_maps_its_changelog() {
    let h = host();
    let ev = adapt(&h, "issue_updated.fields.json", DELIVERY);
    let types: Vec<&str> = ev.iter().map(|e| e.type_name()).collect();
    assert_eq!(types, ["ticket.updated", "ticket.assigned"]);
    assert_eq!(ev[0].id.as_str(), format!("jira:{DELIVERY}:fields"));
    assert_eq!(ev[1].id.as_str(), format!("jira:{DELIVERY}:assignment"));
    let u = data(&ev[0]);
    assert_eq!(u["priority"], "urgent", "Highest");
    assert_eq!(u["subject"], "VPN rejects valid passwords (EU gateway)");
    assert_eq!(u["tags_added"], serde_json::json!(["vip-customer"]));
    assert_eq!(u["tags_removed"], serde_json::json!(["remote-work"]));
    let a = data(&ev[1]);
    assert_eq!(a["agent"], "jira:5b10ac8d82e05b22cc7d4ef5");
    assert_eq!(a["team"], "Identity", "the component it moved to");

    let ev = adapt(&h, "issue_updated.status.json", DELIVERY);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].id.as_str(), format!("jira:{DELIVERY}:status"));
    let s = data(&ev[0]);
    assert_eq!(s["status"], "pending", "Waiting for customer");
    assert!(
        s["reason"]
            .as_str()
            .unwrap()
            .contains("Waiting for customer"),
        "{s}"
    );

    let ev = adapt(&h, "issue_updated.resolved.json", DELIVERY);
    assert_eq!(ev.len(), 1, "the resolution item maps to nothing");
    assert_eq!(data(&ev[0])["status"], "solved", "a done category");
}

#[test]
fn statuses_go_by_category_and_name() {
    let h = host();
    let cases = [
        ("Waiting for support", "new", "open"),
        ("In Progress", "indeterminate", "open"),
        ("Waiting for customer", "indeterminate", "pending"),
        ("Pending", "indeterminate", "on_hold"),
        ("Waiting for third party", "indeterminate", "on_hold"),
        ("Escalated", "indeterminate", "open"),
        ("Canceled", "done", "solved"),
    ];
    for (name, category, want) in cases {
        let ev = adapt_edited(&h, "issue_updated.status.json", |v| {
            v["issue"]["fields"]["status"]["name"] = name.into();
            v["issue"]["fields"]["status"]["statusCategory"]["key"] = category.into();
        })
        .unwrap();
        assert_eq!(data(&ev[0])["status"], want, "{name} ({category})");
    }
    // Created in an in-progress status, and straight into a done one.
    let ev = adapt_edited(&h, "issue_created.json", |v| {
        v["issue"]["fields"]["status"]["name"] = "Waiting for customer".into();
        v["issue"]["fields"]["status"]["statusCategory"]["key"] = "indeterminate".into();
    })
    .unwrap();
    assert_eq!(data(&ev[0])["status"], "pending");
    let ev = adapt_edited(&h, "issue_created.json", |v| {
        v["issue"]["fields"]["status"]["statusCategory"]["key"] = "done".into();
    })
    .unwrap();
    assert_eq!(
        ev.iter().map(|e| e.type_name()).collect::<Vec<_>>(),
        ["ticket.created", "status.changed"]
    );
    assert_eq!(data(&ev[0]).get("status"), None, "created with the default");
    assert_eq!(data(&ev[1])["status"], "solved");
}

#[test]
fn priorities_map_to_escaliers() {
    let h = host();
    for (jira, want) in [
        ("Highest", "urgent"),
        ("High", "high"),
        ("Medium", "normal"),
        ("Low", "low"),
        ("Lowest", "low"),
    ] {
        let ev = adapt_edited(&h, "issue_created.json", |v| {
            v["issue"]["fields"]["priority"]["name"] = jira.into();
        })
        .unwrap();
        assert_eq!(data(&ev[0])["priority"], want, "{jira}");
    }
    // A scheme of its own leaves the priority as it was.
    let ev = adapt_edited(&h, "issue_updated.fields.json", |v| {
        v["issue"]["fields"]["priority"]["name"] = "P2 - something custom".into();
        v["changelog"]["items"][0]["toString"] = "P2 - something custom".into();
    })
    .unwrap();
    let u = data(&ev[0]);
    assert_eq!(u.get("priority"), None, "{u}");
    assert!(u.get("subject").is_some(), "the rest still maps");
}

#[test]
fn comments_are_public_or_internal_and_by_customers_or_agents() {
    let h = host();
    let one = |file: &str| -> (escalier_core::Event, Value) {
        let mut ev = adapt(&h, file, DELIVERY);
        assert_eq!(ev.len(), 1, "{file}");
        let e = ev.remove(0);
        let d = data(&e);
        (e, d)
    };
    let (e, c) = one("comment_created.public.json");
    assert_eq!(e.type_name(), "comment.added");
    assert_eq!(e.id.as_str(), format!("jira:{DELIVERY}"));
    assert_eq!(e.ticket_id.as_str(), "jira:HELP-42");
    assert_eq!(c["author"]["kind"], "agent");
    assert_eq!(c["author"]["id"], "jira:5b10ac8d82e05b22cc7d4ef5");
    assert_eq!(c["public"], true);
    assert!(c["body"].as_str().unwrap().contains("screenshot"));

    let (_, c) = one("comment_created.internal.json");
    assert_eq!(c["public"], false, "sd.public.comment internal");
    assert_eq!(c["author"]["kind"], "agent");

    let (_, c) = one("comment_created.customer.json");
    assert_eq!(c["author"]["kind"], "customer", "a portal customer account");
    assert_eq!(c["public"], true);

    // The property alone marks it internal, whatever jsdPublic says.
    let ev = adapt_edited(&h, "comment_created.internal.json", |v| {
        v["comment"]["jsdPublic"] = true.into();
    })
    .unwrap();
    assert_eq!(data(&ev[0])["public"], false);
    // jsdPublic false alone too.
    let ev = adapt_edited(&h, "comment_created.public.json", |v| {
        v["comment"]["jsdPublic"] = false.into();
    })
    .unwrap();
    assert_eq!(data(&ev[0])["public"], false);
    // The reporter counts as the customer even with an Atlassian account.
    let ev = adapt_edited(&h, "comment_created.customer.json", |v| {
        v["comment"]["author"]["accountType"] = "atlassian".into();
    })
    .unwrap();
    assert_eq!(data(&ev[0])["author"]["kind"], "customer");

    // An edit is recorded as a private system note, not as a new reply.
    let (e, c) = one("comment_updated.json");
    assert_eq!(e.type_name(), "comment.added");
    assert_eq!(c["author"]["kind"], "system");
    assert_eq!(c["public"], false);
    let body = c["body"].as_str().unwrap();
    assert!(
        body.contains("10101") && body.contains("error message"),
        "{body}"
    );
}

#[test]
fn adapted_events_drive_a_ticket_through_the_processor() {
    let h = host();
    let mut ticket = None;
    let mut seq = 0;
    for (i, file) in [
        "issue_created.json",
        "issue_updated.fields.json",
        "comment_created.public.json",
        "comment_created.internal.json",
        "issue_updated.status.json",
        "comment_created.customer.json",
        "issue_updated.resolved.json",
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
    assert_eq!(t.priority, Priority::Urgent);
    assert_eq!(t.team.as_deref(), Some("Identity"));
    assert_eq!(t.agent.as_deref(), Some("jira:5b10ac8d82e05b22cc7d4ef5"));
    assert!(t.tags.contains("vip-customer") && !t.tags.contains("remote-work"));
    assert_eq!(t.comment_count, 3);
    assert!(t.first_response_at.is_some(), "the agent's public comment");
    assert!(t.last_customer_comment_at.is_some());
}

#[test]
fn a_redelivery_has_the_same_ids() {
    let h = host();
    for file in [
        "issue_created.json",
        "issue_updated.fields.json",
        "comment_created.public.json",
    ] {
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
fn events_it_does_not_map_produce_nothing() {
    let h = host();
    assert!(adapt(&h, "issue_deleted.json", DELIVERY).is_empty());
    // Jira's issue_commented update: the comment comes as comment_created.
    assert!(adapt(&h, "issue_updated.commented.json", DELIVERY).is_empty());
    for other in ["worklog_created", "jira:version_released", "sprint_started"] {
        let ev = adapt_edited(&h, "issue_deleted.json", |v| {
            v["webhookEvent"] = other.into();
            v.as_object_mut().unwrap().remove("issue");
        })
        .unwrap();
        assert!(ev.is_empty(), "{other}");
    }
    // A changelog of fields Escalier does not keep.
    let ev = adapt_edited(&h, "issue_updated.resolved.json", |v| {
        v["changelog"]["items"].as_array_mut().unwrap().pop();
    })
    .unwrap();
    assert!(ev.is_empty());
}

#[test]
fn payloads_it_does_not_understand_are_refused_as_such() {
    let h = host();
    let not_understood = |r: Result<Vec<escalier_core::Event>, AdaptError>| {
        let e = r.unwrap_err();
        assert!(matches!(e, AdaptError::NotUnderstood { .. }), "{e}");
        assert_eq!(e.http_status(), 422);
    };
    not_understood(send(&h, b"not json", DELIVERY));
    not_understood(send(&h, b"{}", DELIVERY));
    not_understood(adapt_edited(&h, "issue_created.json", |v| {
        v["issue"].as_object_mut().unwrap().remove("key");
    }));
    not_understood(adapt_edited(&h, "issue_created.json", |v| {
        v["timestamp"] = "2026-03-02T09:15:00Z".into();
    }));
    // Far outside the years RFC 3339 can write.
    not_understood(adapt_edited(&h, "issue_created.json", |v| {
        v["timestamp"] = (-100_000_000_000_000_i64).into();
    }));
    let body = payload("issue_created.json");
    not_understood(
        h.set()
            .adapt("jira", &headers(None, Some(sign(&body, SECRET))), &body),
    );
    not_understood(h.set().adapt(
        "jira",
        &headers(Some("has spaces/and slashes"), Some(sign(&body, SECRET))),
        &body,
    ));
}

#[test]
fn odd_values_are_cut_to_what_escalier_takes() {
    let h = host();
    let ev = adapt_edited(&h, "issue_created.json", |v| {
        let f = &mut v["issue"]["fields"];
        f["summary"] = "   ".into();
        f["description"] = "é".repeat(40_000).into();
        f["labels"] = serde_json::json!(["ok", "", "tab\there", "x".repeat(200)]);
        f["reporter"]["displayName"] = "".into();
        f["reporter"]["emailAddress"] = "not an address".into();
        f["components"] = serde_json::json!([{ "name": "  " }, { "name": "Tier 2 / EU" }]);
        v["issue"]["key"] = format!("{}-1", "K".repeat(300)).into();
    })
    .unwrap();
    let EventKind::TicketCreated(t) = &ev[0].kind else {
        panic!("{}", ev[0])
    };
    assert_eq!(t.subject, "(no summary)");
    assert!(t.description.len() <= 64 * 1024);
    assert_eq!(t.tags[..3], ["jira", "ok", "tab-here"]);
    assert_eq!(t.tags[3].len(), 64);
    assert_eq!(t.requester.name, None);
    assert_eq!(t.requester.email, None);
    assert_eq!(t.team.as_deref(), Some("Tier 2 / EU"));
    let id = ev[0].ticket_id.as_str();
    assert!(id.len() <= 128 && id.starts_with("jira:KKK"), "{id}");

    // A description in Atlassian Document Format reads as its text.
    let ev = adapt_edited(&h, "issue_created.json", |v| {
        v["issue"]["fields"]["description"] = serde_json::json!({
            "type": "doc", "version": 1,
            "content": [{ "type": "paragraph", "content": [{ "type": "text", "text": "VPN down" }] }]
        });
    })
    .unwrap();
    let EventKind::TicketCreated(t) = &ev[0].kind else {
        panic!("{}", ev[0])
    };
    assert_eq!(t.description, "VPN down");
}

// ---- The adapter as shipped, fed altered payloads ----

/// The seed the test command uses; `PROPTEST_RNG_SEED` picks another.
const SEED: u64 = 0x00e5_ca1e_51aa;

fn config(cases: u32) -> ProptestConfig {
    proptest_config(SEED, cases)
}

const SEEDS: [&str; 10] = [
    "issue_created.json",
    "issue_updated.fields.json",
    "issue_updated.status.json",
    "issue_updated.resolved.json",
    "issue_updated.commented.json",
    "comment_created.public.json",
    "comment_created.internal.json",
    "comment_created.customer.json",
    "comment_updated.json",
    "issue_deleted.json",
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
            "jira:issue_created",
            "jira:issue_updated",
            "comment_created",
            "comment_updated",
            "status",
            "labels",
            "assignee",
            "priority",
            "summary",
            "Component",
            "done",
            "new",
            "indeterminate",
            "customer",
            "app",
            "sd.public.comment",
            "Highest",
            "..",
        ])
        .prop_map(|s| Some(s.into())),
        1 => Just(Some(serde_json::json!({}))),
        1 => Just(Some(serde_json::json!([]))),
        1 => Just(Some(
            serde_json::json!([{ "name": "" }, { "key": "sd.public.comment", "value": { "internal": "true" } }])
        )),
    ]
}

fn altered() -> impl Strategy<Value = Vec<u8>> {
    altered_payloads(fixtures(), &READ, value())
}

/// The fields the adapter reads: where edits find its edge cases.
const READ: [&str; 44] = [
    "/webhookEvent",
    "/timestamp",
    "/issue",
    "/issue/key",
    "/issue/self",
    "/issue/fields",
    "/issue/fields/summary",
    "/issue/fields/description",
    "/issue/fields/labels",
    "/issue/fields/labels/0",
    "/issue/fields/priority/name",
    "/issue/fields/status",
    "/issue/fields/status/name",
    "/issue/fields/status/statusCategory/key",
    "/issue/fields/reporter",
    "/issue/fields/reporter/accountId",
    "/issue/fields/reporter/displayName",
    "/issue/fields/reporter/emailAddress",
    "/issue/fields/reporter/accountType",
    "/issue/fields/assignee",
    "/issue/fields/assignee/accountId",
    "/issue/fields/components",
    "/issue/fields/components/0/name",
    "/issue/fields/project/key",
    "/issue/fields/issuetype/name",
    "/user",
    "/changelog",
    "/changelog/items",
    "/changelog/items/0/field",
    "/changelog/items/0/toString",
    "/changelog/items/0/fromString",
    "/changelog/items/0/to",
    "/changelog/items/1/field",
    "/changelog/items/1/toString",
    "/comment",
    "/comment/body",
    "/comment/id",
    "/comment/author",
    "/comment/author/accountId",
    "/comment/author/accountType",
    "/comment/jsdPublic",
    "/comment/properties",
    "/comment/visibility",
    "/comment/updateAuthor/displayName",
];

/// Signed: whatever the payload, valid Escalier events (the host checks
/// each one and answers `InvalidOutput` otherwise) or "not understood".
fn outcome(body: &[u8]) -> Result<(), String> {
    signed_outcome(send(shared(), body, DELIVERY), "jira:", DELIVERY)
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
