//! The Zendesk adapter as shipped (`target/plugins/zendesk`) against
//! bodies shaped like Zendesk's documented ones: the signature over the
//! timestamp and body, stale timestamps against an injected clock, every
//! mapped event subscription and trigger event, idempotent ids, and a
//! deterministic fuzz of the adapter with signed, mutated payloads.

use std::sync::Arc;

use base64::Engine;
use escalier_core::{EventKind, ManualClock, Timestamp};
use escalier_plugin::{AdaptError, PluginRegistry, Secrets};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::util::*;

const SECRET: &str = "dGhlIHNpZ25pbmcgc2VjcmV0";
/// The time the requests arrive (the injected clock).
const NOW: &str = "2026-03-02T12:00:00Z";
/// The signature timestamp of a fresh request: 30 seconds before arrival.
const SIGNED_AT: &str = "2026-03-02T11:59:30Z";

pub(crate) fn host_at(plugin: &str, secret: (&str, &str), now: &str) -> (Host, Arc<ManualClock>) {
    let dir = tempfile::tempdir().unwrap();
    install(dir.path(), &example(plugin), plugin, None);
    let mut c = config(dir.path());
    let mut secrets = Secrets::none();
    secrets.insert(secret.0, secret.1);
    c.secrets = secrets;
    let clock = Arc::new(ManualClock::new(now.parse::<Timestamp>().unwrap()));
    c.clock = clock.clone();
    let (registry, report) = PluginRegistry::open(c).unwrap();
    assert!(report.failed.is_empty(), "{:#?}", report.failed);
    (Host { dir, registry }, clock)
}

fn host() -> (Host, Arc<ManualClock>) {
    host_at("zendesk", ("zendesk_webhook_secret", SECRET), NOW)
}

pub(crate) fn fixture_body(dir: &str, name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(dir)
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Zendesk's signature: base64(HMAC-SHA256(secret, timestamp + body)).
fn sign(secret: &str, first: &[u8], second: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(first);
    mac.update(second);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn headers(signature: Option<String>, timestamp: Option<&str>) -> Vec<(String, String)> {
    let mut h = vec![
        ("Content-Type".to_owned(), "application/json".to_owned()),
        ("User-Agent".to_owned(), "Zendesk Webhook".to_owned()),
        (
            "X-Zendesk-Webhook-Id".to_owned(),
            "01GK8E6BKWMJZD2T8Y5AXJQMG5".to_owned(),
        ),
    ];
    if let Some(s) = signature {
        h.push(("X-Zendesk-Webhook-Signature".to_owned(), s));
    }
    if let Some(t) = timestamp {
        h.push((
            "X-Zendesk-Webhook-Signature-Timestamp".to_owned(),
            t.to_owned(),
        ));
    }
    h
}

fn send(h: &Host, body: &[u8], at: &str) -> Result<Vec<escalier_core::Event>, AdaptError> {
    h.set().adapt(
        "zendesk",
        &headers(Some(sign(SECRET, at.as_bytes(), body)), Some(at)),
        body,
    )
}

fn adapt(h: &Host, file: &str) -> Result<Vec<escalier_core::Event>, AdaptError> {
    send(h, &fixture_body("zendesk", file), SIGNED_AT)
}

fn one(h: &Host, file: &str) -> (escalier_core::Event, Value) {
    let mut ev = adapt(h, file).unwrap_or_else(|e| panic!("{file}: {e}"));
    assert_eq!(ev.len(), 1, "{file}");
    let e = ev.remove(0);
    let data = serde_json::to_value(&e).unwrap()["data"].clone();
    (e, data)
}

fn unauthorized(r: Result<Vec<escalier_core::Event>, AdaptError>, why: &str) {
    let e = r.expect_err(why);
    assert!(matches!(e, AdaptError::Unauthorized { .. }), "{why}: {e}");
    assert_eq!(e.http_status(), 401, "{why}");
}

#[test]
fn the_signature_covers_the_timestamp_then_the_body() {
    let (h, _) = host();
    let body = fixture_body("zendesk", "ticket.created.json");
    let ts = SIGNED_AT.as_bytes();
    let ok = h.set().adapt(
        "zendesk",
        &headers(Some(sign(SECRET, ts, &body)), Some(SIGNED_AT)),
        &body,
    );
    assert_eq!(
        ok.unwrap().len(),
        1,
        "timestamp + body, as Zendesk documents"
    );

    // The other order, body + timestamp, is not Zendesk's.
    unauthorized(
        h.set().adapt(
            "zendesk",
            &headers(Some(sign(SECRET, &body, ts)), Some(SIGNED_AT)),
            &body,
        ),
        "body + timestamp",
    );
    // The body alone (GitHub's scheme) is not either.
    unauthorized(
        h.set().adapt(
            "zendesk",
            &headers(Some(sign(SECRET, b"", &body)), Some(SIGNED_AT)),
            &body,
        ),
        "body only",
    );
    unauthorized(
        h.set().adapt(
            "zendesk",
            &headers(Some(sign("not the secret", ts, &body)), Some(SIGNED_AT)),
            &body,
        ),
        "forged with another secret",
    );
    unauthorized(
        h.set()
            .adapt("zendesk", &headers(None, Some(SIGNED_AT)), &body),
        "unsigned",
    );
    unauthorized(
        h.set().adapt(
            "zendesk",
            &headers(Some(sign(SECRET, ts, &body)), None),
            &body,
        ),
        "no timestamp",
    );
    unauthorized(
        h.set().adapt(
            "zendesk",
            &headers(Some("not base64!".into()), Some(SIGNED_AT)),
            &body,
        ),
        "garbage signature",
    );
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    unauthorized(
        h.set().adapt(
            "zendesk",
            &headers(Some(sign(SECRET, ts, &body)), Some(SIGNED_AT)),
            &tampered,
        ),
        "tampered body",
    );
    unauthorized(
        h.set().adapt(
            "zendesk",
            &headers(Some(sign(SECRET, ts, &body)), Some("2026-03-02T11:59:31Z")),
            &body,
        ),
        "tampered timestamp",
    );
}

#[test]
fn each_webhooks_signing_secret_is_accepted_when_several_are_configured() {
    let (h, _) = host_at(
        "zendesk",
        (
            "zendesk_webhook_secret",
            &format!("{SECRET}  other-webhook-secret"),
        ),
        NOW,
    );
    let body = fixture_body("zendesk", "ticket.created.json");
    for (key, ok) in [
        (SECRET, true),
        ("other-webhook-secret", true),
        ("a third secret", false),
    ] {
        let r = h.set().adapt(
            "zendesk",
            &headers(
                Some(sign(key, SIGNED_AT.as_bytes(), &body)),
                Some(SIGNED_AT),
            ),
            &body,
        );
        assert_eq!(r.is_ok(), ok, "{key}: {r:?}");
    }
}

#[test]
fn stale_and_future_timestamps_are_refused() {
    let (h, clock) = host();
    let body = fixture_body("zendesk", "ticket.created.json");
    // Within 5 minutes either way of the arrival: accepted.
    assert!(send(&h, &body, "2026-03-02T11:55:01Z").is_ok());
    assert!(send(&h, &body, "2026-03-02T12:04:59Z").is_ok());
    unauthorized(send(&h, &body, "2026-03-02T11:54:59Z"), "stale");
    unauthorized(send(&h, &body, "2026-03-02T12:05:01Z"), "from the future");
    unauthorized(send(&h, &body, "yesterday"), "not a time");
    // The same signed request replayed 6 minutes later.
    let signed = headers(
        Some(sign(SECRET, SIGNED_AT.as_bytes(), &body)),
        Some(SIGNED_AT),
    );
    assert!(h.set().adapt("zendesk", &signed, &body).is_ok());
    clock.advance(jiff::SignedDuration::from_mins(6)).unwrap();
    unauthorized(h.set().adapt("zendesk", &signed, &body), "replayed later");
}

#[test]
fn event_subscriptions_map_to_ticket_events() {
    let (h, _) = host();
    let (e, _) = one(&h, "ticket.created.json");
    assert_eq!(e.id.as_str(), "zd:cbe4028c-7239-495d-b020-f22348516046");
    assert_eq!(e.ticket_id.as_str(), "zendesk:5158");
    assert_eq!(
        e.occurred_at,
        "2026-03-02T09:15:00.123456789Z"
            .parse::<Timestamp>()
            .unwrap()
    );
    let EventKind::TicketCreated(t) = &e.kind else {
        panic!("{e}")
    };
    assert_eq!(t.subject, "Export to CSV does nothing since Monday");
    assert!(t.description.contains("ACME-7731"));
    assert_eq!(t.requester.id, "zendesk:user:8447388090494");
    assert_eq!(t.priority, escalier_core::Priority::High);
    assert_eq!(t.channel, escalier_core::Channel::Web);
    assert_eq!(t.tags, ["billing", "export"]);
    assert_eq!(t.fields["zendesk_ticket"], "5158");

    let cases: [(&str, &str, Value); 10] = [
        (
            "ticket.status_changed.json",
            "status.changed",
            serde_json::json!({"status": "solved", "reason": "changed from OPEN in Zendesk"}),
        ),
        (
            "ticket.status_changed.hold.json",
            "status.changed",
            serde_json::json!({"status": "on_hold", "reason": "changed from OPEN in Zendesk"}),
        ),
        (
            "ticket.priority_changed.json",
            "ticket.updated",
            serde_json::json!({"priority": "urgent"}),
        ),
        (
            "ticket.subject_changed.json",
            "ticket.updated",
            serde_json::json!({"subject": "CSV export broken for ACME"}),
        ),
        (
            "ticket.tags_changed.json",
            "ticket.updated",
            serde_json::json!({"tags_added": ["customer_impact", "p1_urgent"], "tags_removed": ["export"]}),
        ),
        (
            "ticket.agent_assignment_changed.json",
            "ticket.assigned",
            serde_json::json!({"agent": "zendesk:user:8447388090495"}),
        ),
        (
            "ticket.group_assignment_changed.json",
            "ticket.assigned",
            serde_json::json!({"team": "zendesk:group:8447388090431"}),
        ),
        (
            "ticket.comment_added.agent.json",
            "comment.added",
            serde_json::json!({"author": {"kind": "agent", "id": "zendesk:user:8447388090495"}, "public": true,
                "body": "We are investigating this issue and will update you shortly."}),
        ),
        (
            "ticket.comment_added.private.json",
            "comment.added",
            serde_json::json!({"author": {"kind": "agent", "id": "zendesk:user:8447388090495"}, "public": false,
                "body": "Looks like the export worker queue is stuck."}),
        ),
        (
            "ticket.comment_added.customer.json",
            "comment.added",
            serde_json::json!({"author": {"kind": "customer", "id": "zendesk:user:8447388090494"}, "public": true,
                "body": "Thanks, it is blocking our month-end close."}),
        ),
    ];
    for (file, ty, want) in cases {
        let (e, data) = one(&h, file);
        assert_eq!(e.type_name(), ty, "{file}");
        assert_eq!(e.ticket_id.as_str(), "zendesk:5158", "{file}");
        for (k, v) in want.as_object().unwrap() {
            assert_eq!(&data[k], v, "{file}: {k} in {data}");
        }
    }
}

#[test]
fn trigger_webhooks_map_with_the_readme_template() {
    let (h, _) = host();
    let (e, _) = one(&h, "trigger.ticket_created.json");
    assert_eq!(e.ticket_id.as_str(), "zendesk:5160");
    assert!(
        e.id.as_str().starts_with("zdt:5160@2026-03-02T09:50:00Z/"),
        "{}",
        e.id
    );
    let EventKind::TicketCreated(t) = &e.kind else {
        panic!("{e}")
    };
    assert_eq!(t.subject, "Cannot log in after password reset");
    assert_eq!(t.priority, escalier_core::Priority::Urgent);
    assert_eq!(t.status, Some(escalier_core::Status::Open));
    assert_eq!(t.channel, escalier_core::Channel::Email);
    assert_eq!(t.tags, ["login", "vip_customer"]);
    assert_eq!(t.team.as_deref(), Some("zendesk:group:Tier_2"));
    assert_eq!(t.agent, None, "no assignee yet");
    assert_eq!(t.requester.email.as_deref(), Some("dana@example.com"));

    let (e, data) = one(&h, "trigger.status_changed.json");
    assert_eq!(e.type_name(), "status.changed");
    assert_eq!(data["status"], "pending");
    assert_eq!(
        e.occurred_at,
        "2026-03-02T10:05:00Z".parse::<Timestamp>().unwrap()
    );
    let (e, data) = one(&h, "trigger.assignment_changed.json");
    assert_eq!(e.type_name(), "ticket.assigned");
    assert_eq!(data["agent"], "zendesk:user:8447388090495");
    assert_eq!(data["team"], "zendesk:group:Tier_2");
    let (e, data) = one(&h, "trigger.agent_comment.json");
    assert_eq!(e.type_name(), "comment.added");
    assert_eq!(data["author"]["kind"], "agent");
    assert_eq!(data["public"], true);
    assert!(data["body"].as_str().unwrap().contains("new link"));
    let (e, data) = one(&h, "trigger.satisfaction_rated.json");
    assert_eq!(e.type_name(), "csat.received");
    assert_eq!(data["score"], 5, "Zendesk's `Good`");
    assert_eq!(data["comment"], "Quick and friendly");
}

#[test]
fn redeliveries_have_the_same_ids_and_other_deliveries_do_not() {
    let (h, _) = host();
    for file in [
        "ticket.created.json",
        "ticket.comment_added.agent.json",
        "trigger.ticket_created.json",
        "trigger.agent_comment.json",
    ] {
        let a = one(&h, file).0;
        // Zendesk retries with a new signature timestamp.
        let b = send(&h, &fixture_body("zendesk", file), "2026-03-02T11:59:50Z")
            .unwrap()
            .remove(0);
        assert_eq!(a.id, b.id, "{file}");
    }
    // Two trigger deliveries for the same ticket at the same time that
    // differ in what they say are two events.
    let a = one(&h, "trigger.ticket_created.json").0;
    let mut v: Value =
        serde_json::from_slice(&fixture_body("zendesk", "trigger.ticket_created.json")).unwrap();
    v["ticket"]["subject"] = "Another subject".into();
    let b = send(&h, v.to_string().as_bytes(), SIGNED_AT)
        .unwrap()
        .remove(0);
    assert_ne!(a.id, b.id);
}

#[test]
fn unmapped_event_types_produce_nothing() {
    let (h, _) = host();
    for file in [
        "ticket.brand_changed.json",
        "user.active_changed.json",
        "trigger.unmapped.json",
    ] {
        assert_eq!(adapt(&h, file).unwrap(), vec![], "{file}");
    }
    // Zendesk's "Test webhook" button sends whatever the admin typed.
    assert_eq!(
        send(&h, br#"{"hello":"world"}"#, SIGNED_AT).unwrap(),
        vec![]
    );
    // Unassigning (no current assignee) has no Escalier equivalent.
    let mut v: Value = serde_json::from_slice(&fixture_body(
        "zendesk",
        "ticket.agent_assignment_changed.json",
    ))
    .unwrap();
    v["event"]["current"] = Value::Null;
    v["detail"]["assignee_id"] = Value::Null;
    assert_eq!(
        send(&h, v.to_string().as_bytes(), SIGNED_AT).unwrap(),
        vec![]
    );
}

fn edited(
    h: &Host,
    file: &str,
    edit: impl FnOnce(&mut Value),
) -> Result<Vec<escalier_core::Event>, AdaptError> {
    let mut v: Value = serde_json::from_slice(&fixture_body("zendesk", file)).unwrap();
    edit(&mut v);
    send(h, v.to_string().as_bytes(), SIGNED_AT)
}

#[test]
fn odd_payloads_are_normalised_or_refused_as_not_understood() {
    let (h, _) = host();
    let ev = edited(&h, "ticket.created.json", |v| {
        v["detail"]["subject"] = "   ".into();
        v["detail"]["description"] = "é".repeat(40_000).into();
        v["detail"]["tags"] = serde_json::json!(["", "two words", "x".repeat(100)]);
        v["detail"]["id"] = "../..".into();
        v["detail"]["status"] = "SOLVED".into();
    })
    .unwrap();
    let EventKind::TicketCreated(t) = &ev[0].kind else {
        panic!("{}", ev[0])
    };
    assert_eq!(t.subject, "Zendesk ticket #../..");
    assert!(t.description.len() <= 64 * 1024);
    assert_eq!(t.tags, ["two_words", "x".repeat(64).as_str()]);
    assert_eq!(ev[0].ticket_id.as_str(), "zendesk:.._..");
    assert_eq!(t.status, None, "a ticket cannot be created solved");

    let ev = edited(&h, "ticket.comment_added.agent.json", |v| {
        v["event"]["comment"]
            .as_object_mut()
            .unwrap()
            .remove("author");
    })
    .unwrap();
    let data = serde_json::to_value(&ev[0]).unwrap()["data"].clone();
    assert_eq!(data["author"], serde_json::json!({"kind": "system"}));

    let long = edited(&h, "ticket.created.json", |v| {
        v["id"] = "ü".repeat(200).into();
    })
    .unwrap();
    assert!(long[0].id.as_str().len() <= 128);

    for (what, edit) in [
        (
            "bad time",
            Box::new(|v: &mut Value| v["time"] = "yesterday".into()) as Box<dyn FnOnce(&mut Value)>,
        ),
        (
            "no ticket",
            Box::new(|v: &mut Value| {
                v["detail"] = Value::Null;
                v["subject"] = Value::Null;
            }),
        ),
        (
            "no event id",
            Box::new(|v: &mut Value| v["id"] = Value::Null),
        ),
    ] {
        let e = edited(&h, "ticket.created.json", edit).unwrap_err();
        assert!(matches!(e, AdaptError::NotUnderstood { .. }), "{what}: {e}");
        assert_eq!(e.http_status(), 422, "{what}");
    }
    for body in [&b"not json"[..], b"[1,2]", b"\"text\""] {
        let e = send(&h, body, SIGNED_AT).unwrap_err();
        assert_eq!(e.http_status(), 422, "{}", String::from_utf8_lossy(body));
    }
}

#[test]
fn adapted_events_drive_a_ticket_through_the_processor() {
    let (h, _) = host();
    let mut ticket = None;
    for (i, file) in [
        "ticket.created.json",
        "ticket.group_assignment_changed.json",
        "ticket.agent_assignment_changed.json",
        "ticket.priority_changed.json",
        "ticket.tags_changed.json",
        "ticket.comment_added.agent.json",
        "ticket.comment_added.private.json",
        "ticket.comment_added.customer.json",
        "ticket.status_changed.hold.json",
        "ticket.status_changed.json",
    ]
    .iter()
    .enumerate()
    {
        let ev = one(&h, file).0;
        let rec = Arc::new(escalier_core::Record {
            seq: i as u64 + 1,
            index: 0,
            recorded_at: ev.occurred_at,
            source: escalier_core::Source::Webhook { delivery: None },
            event: ev,
        });
        ticket = Some(
            escalier_core::reduce::apply(ticket, &rec).unwrap_or_else(|e| panic!("{file}: {e}")),
        );
    }
    let t = ticket.unwrap();
    assert_eq!(t.status, escalier_core::Status::Solved);
    assert_eq!(t.priority, escalier_core::Priority::Urgent);
    assert_eq!(t.comment_count, 3);
    assert!(t.first_response_at.is_some());
    assert!(t.tags.iter().any(|t| t == "customer_impact"));
    assert!(!t.tags.iter().any(|t| t == "export"));
}

/// Deterministic fuzzing of an adapter as shipped, in the real host.
///
/// Hand-written rather than with `proptest`, which this crate does not
/// depend on: a fixed-seed SplitMix64 draws the same cases on every run,
/// which is all the property needs. Payloads are the fixtures with values
/// replaced or removed anywhere in the tree (as the `github` target of
/// `crates/escalier-fuzz` does), authenticated as the tool would, plus
/// arbitrary bytes.
pub(crate) mod fuzz {
    use serde_json::{Value, json};

    pub struct Rng(u64);

    impl Rng {
        pub fn new(seed: u64) -> Rng {
            Rng(seed)
        }

        pub fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        pub fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, child) in m {
                    pointers(
                        child,
                        format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                        out,
                    );
                }
            }
            Value::Array(a) => {
                for (i, child) in a.iter().enumerate() {
                    pointers(child, format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
        out.push(at);
    }

    fn string(rng: &mut Rng, alphabet: &[char], max: usize) -> String {
        let n = rng.below(max + 1);
        (0..n)
            .map(|_| alphabet[rng.below(alphabet.len())])
            .collect()
    }

    /// A replacement value (`None`: remove the node).
    fn value(rng: &mut Rng, vocabulary: &[&str]) -> Option<Value> {
        Some(match rng.below(11) {
            0 => return None,
            1 => Value::Null,
            2 => json!(rng.below(2) == 0),
            3 => json!(rng.next() as i64),
            4 => json!(f64::from_bits(rng.next() % 0x7fe0_0000_0000_0000) * 1e-300),
            5 => json!(string(
                rng,
                &[
                    'a', 'Z', '0', '9', ' ', '-', ':', '.', '/', '#', '{', '}', '"'
                ],
                40
            )),
            6 => json!(string(
                rng,
                &[
                    '\u{0}', '\u{1f}', ' ', '\u{a0}', '\u{2028}', '\u{fe0f}', '😀', 'İ'
                ],
                12
            )),
            7 => {
                // Long multi-byte text around the adapters' limits.
                let c = ["é", "😀", "a", " "][rng.below(4)];
                json!(c.repeat((60 + rng.below(70_000)) / c.len()))
            }
            8 => json!(vocabulary[rng.below(vocabulary.len())]),
            9 => json!({}),
            _ => json!([{"name": "P1 Urgent"}, "", "two words", 7]),
        })
    }

    /// `seed` with 0 to 4 values replaced or removed.
    pub fn mutate(rng: &mut Rng, seed: &str, vocabulary: &[&str]) -> Vec<u8> {
        let mut v: Value = serde_json::from_str(seed).expect("fixture is JSON");
        for _ in 0..rng.below(5) {
            let mut all = Vec::new();
            pointers(&v, String::new(), &mut all);
            let ptr = all[rng.below(all.len())].clone();
            match value(rng, vocabulary) {
                Some(r) if ptr.is_empty() => v = r,
                Some(r) => {
                    if let Some(slot) = v.pointer_mut(&ptr) {
                        *slot = r;
                    }
                }
                None => {
                    if let Some((parent, key)) = ptr.rsplit_once('/')
                        && let Some(Value::Object(m)) = v.pointer_mut(parent)
                    {
                        m.remove(&key.replace("~1", "/").replace("~0", "~"));
                    }
                }
            }
        }
        v.to_string().into_bytes()
    }

    /// `seed` with each value in turn (every node of the tree) replaced by
    /// each of `replacements`, or removed (`None`): a systematic sweep
    /// that reaches every field with the values that break limits.
    pub fn sweep(seed: &str, replacements: &[Option<Value>]) -> Vec<Vec<u8>> {
        let v: Value = serde_json::from_str(seed).expect("fixture is JSON");
        let mut all = Vec::new();
        pointers(&v, String::new(), &mut all);
        let mut out = Vec::new();
        for ptr in all.iter().filter(|p| !p.is_empty()) {
            for r in replacements {
                let mut w = v.clone();
                match r {
                    Some(r) => {
                        if let Some(slot) = w.pointer_mut(ptr) {
                            *slot = r.clone();
                        }
                    }
                    None => {
                        if let Some((parent, key)) = ptr.rsplit_once('/')
                            && let Some(Value::Object(m)) = w.pointer_mut(parent)
                        {
                            m.remove(&key.replace("~1", "/").replace("~0", "~"));
                        }
                    }
                }
                out.push(w.to_string().into_bytes());
            }
        }
        out
    }

    /// Values that break limits or types, for [`sweep`]; `extra` are the
    /// adapter's own words (a status it must not pass on, say).
    pub fn nasty(extra: &[&str]) -> Vec<Option<Value>> {
        let mut v = vec![
            None,
            Some(Value::Null),
            Some(json!("é".repeat(40_000))),
            Some(json!(" \u{a0}\u{2028} ")),
            Some(json!("a\u{0}b c/../..")),
            Some(json!(-1)),
            Some(json!({})),
        ];
        v.extend(extra.iter().map(|w| Some(json!(w))));
        v
    }

    pub fn bytes(rng: &mut Rng) -> Vec<u8> {
        (0..rng.below(512)).map(|_| rng.next() as u8).collect()
    }
}

/// The seed the test command uses.
const FUZZ_SEED: u64 = 0x00e5_ca1e_2e4d;

const FIXTURES: [&str; 19] = [
    "ticket.created.json",
    "ticket.status_changed.json",
    "ticket.status_changed.hold.json",
    "ticket.priority_changed.json",
    "ticket.agent_assignment_changed.json",
    "ticket.group_assignment_changed.json",
    "ticket.tags_changed.json",
    "ticket.subject_changed.json",
    "ticket.comment_added.agent.json",
    "ticket.comment_added.private.json",
    "ticket.comment_added.customer.json",
    "ticket.brand_changed.json",
    "user.active_changed.json",
    "trigger.ticket_created.json",
    "trigger.status_changed.json",
    "trigger.assignment_changed.json",
    "trigger.agent_comment.json",
    "trigger.satisfaction_rated.json",
    "trigger.unmapped.json",
];

const VOCABULARY: [&str; 22] = [
    "zen:event-type:ticket.created",
    "zen:event-type:ticket.status_changed",
    "zen:event-type:ticket.comment_added",
    "zen:event-type:ticket.agent_assignment_changed",
    "zen:event-type:ticket.tags_changed",
    "zen:event-type:user.created",
    "ticket_created",
    "status_changed",
    "assignment_changed",
    "customer_comment",
    "satisfaction_rated",
    "HOLD",
    "SOLVED",
    "new",
    "URGENT",
    "Good",
    "0",
    "-1",
    "..",
    "2026-03-02T09:00:00Z",
    "9999-12-31T23:59:59.999999999Z",
    "not a date",
];

/// Every seed swept with [`fuzz::nasty`] values (plus `nasty`), then 300
/// bodies from `fuzz_seed`: random bytes or seeds mutated with
/// `vocabulary`. `run` checks one body and answers how many events it
/// mapped to; the answer is how many the random bodies mapped to.
pub(crate) fn sweep_and_fuzz(
    seeds: &[String],
    nasty: &[&str],
    vocabulary: &[&str],
    fuzz_seed: u64,
    mut run: impl FnMut(&[u8]) -> usize,
) -> usize {
    let nasty = fuzz::nasty(nasty);
    for s in seeds {
        for body in fuzz::sweep(s, &nasty) {
            run(&body);
        }
    }
    let mut rng = fuzz::Rng::new(fuzz_seed);
    let mut mapped = 0;
    for _ in 0..300 {
        let body = if rng.below(8) == 0 {
            fuzz::bytes(&mut rng)
        } else {
            let seed = &seeds[rng.below(seeds.len())];
            fuzz::mutate(&mut rng, seed, vocabulary)
        };
        mapped += run(&body);
    }
    mapped
}

/// The property: whatever the signed payload, the adapter returns at most
/// one event that Escalier accepts, or refuses it as not understood. A
/// trap, a timeout or an event the host refuses is a bug.
pub(crate) fn check(
    source: &str,
    result: Result<Vec<escalier_core::Event>, AdaptError>,
    prefix: &str,
    body: &[u8],
) -> usize {
    match result {
        Ok(events) => {
            assert!(events.len() <= 1, "one delivery maps to at most one event");
            for ev in &events {
                assert!(
                    ev.ticket_id.as_str().starts_with(prefix),
                    "ticket id {}",
                    ev.ticket_id
                );
            }
            events.len()
        }
        Err(AdaptError::NotUnderstood { .. }) => 0,
        Err(e) => panic!(
            "the {source} adapter failed on an authenticated payload: {e}\n{}",
            String::from_utf8_lossy(body)
        ),
    }
}

#[test]
fn fuzzed_payloads_map_to_valid_events_or_are_refused() {
    let (h, _) = host();
    let seeds: Vec<String> = FIXTURES
        .iter()
        .map(|f| String::from_utf8(fixture_body("zendesk", f)).unwrap())
        .collect();
    // Every fixture as it is first: the mapped ones produce an event.
    for (f, s) in FIXTURES.iter().zip(&seeds) {
        let n = check(
            "zendesk",
            send(&h, s.as_bytes(), SIGNED_AT),
            "zendesk:",
            s.as_bytes(),
        );
        let unmapped = f.contains("brand") || f.contains("user.") || f.contains("unmapped");
        assert_eq!(n, usize::from(!unmapped), "{f}");
    }
    let mapped = sweep_and_fuzz(
        &seeds,
        &["SOLVED", "CLOSED", "Closed", ".."],
        &VOCABULARY,
        FUZZ_SEED,
        |body| check("zendesk", send(&h, body, SIGNED_AT), "zendesk:", body),
    );
    assert!(
        mapped > 50,
        "the fuzz reaches the mapping ({mapped} events)"
    );
}
