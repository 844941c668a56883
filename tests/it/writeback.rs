//! Decisions written back to the help desk, end to end: the tool's webhook
//! comes in through its adapter, a policy escalates, routes, tags and
//! notes, and the write-back plugin's REST calls reach a stand-in of the
//! tool's API on loopback — which checks method, path, the credential the
//! host added from a secret the plugin never sees, and the body against
//! the tool's documented schema, and answers like the tool does (`429`
//! with `Retry-After`, `409` conflicts, `422` validation errors). The
//! write-back's echo (the same change reported back by the tool, made by
//! the integration user) is recognised and ends the round trip. Needs
//! `scripts/build-plugins`.

use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::standins::schema::assert_valid;
use crate::standins::{Reply, Request, StandIn, metric};
use crate::util::*;

/// Monday 2026-03-09 10:00 UTC: the simulated clock the servers start on,
/// and the time the webhooks are signed at.
const T0: &str = "2026-03-09T10:00:00Z";

const ZENDESK_SECRET: &str = "dGhlIHNpZ25pbmcgc2VjcmV0";
const ZENDESK_TOKEN: &str = "zdApiT0ken6f1e2d3c4b5a69788";
const ZENDESK_EMAIL: &str = "escalier@acme.example";
/// The Zendesk user the API token belongs to.
const ZENDESK_INTEGRATION_USER: &str = "8447388090499";
const BILLING_GROUP: u64 = 360_001_234;
const TIER2_GROUP: u64 = 360_002_345;

fn fixture(dir: &str, name: &str) -> Vec<u8> {
    std::fs::read(
        repo()
            .join("crates/escalier-plugin/tests/fixtures")
            .join(dir)
            .join(name),
    )
    .unwrap()
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// `escalier.toml` letting plugins reach loopback stand-ins.
fn loopback_config(dir: &std::path::Path) -> String {
    let path = dir.join("escalier.toml");
    std::fs::write(&path, "[plugins]\nallow_private = [\"127.0.0.0/8\"]\n").unwrap();
    path.to_str().unwrap().to_owned()
}

/// A shipped adapter manifest, enabled, with its integration user set.
fn adapter_manifest(plugin: &str, integration_user: &str) -> String {
    let path = repo().join("plugins").join(plugin).join("plugin.toml");
    let shipped = std::fs::read_to_string(&path).unwrap();
    let kept: Vec<&str> = shipped
        .lines()
        .filter(|l| !l.starts_with("enabled =") && !l.starts_with("disabled_reason ="))
        .filter(|l| !l.trim_start().starts_with("# integration_user"))
        .collect();
    let mut m = kept.join("\n") + "\n";
    if !m.contains("\n[config]\n") {
        m.push_str("\n[config]\n");
    }
    m.replacen(
        "\n[config]\n",
        &format!("\n[config]\nintegration_user = \"{integration_user}\"\n"),
        1,
    )
}

/// A shipped write-back manifest pointed at a stand-in: enabled, its
/// allow-list the stand-in's origin only, its `[config]` replaced by
/// `config` (which names the site).
fn writeback_manifest(plugin: &str, site: &str, config: &str) -> String {
    let path = repo().join("plugins").join(plugin).join("plugin.toml");
    let shipped =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    let mut in_config = false;
    for line in shipped.lines() {
        if line.starts_with("enabled =") || line.starts_with("disabled_reason =") {
            continue;
        }
        if line.starts_with('[') {
            in_config = line.starts_with("[config");
        }
        if in_config {
            continue;
        }
        if line.trim_start().starts_with("allowed_hosts") {
            out.push(format!("allowed_hosts = [\"{site}\"]"));
            continue;
        }
        out.push(line.to_owned());
    }
    out.push(config.to_owned());
    out.join("\n")
}

fn zendesk_writeback_manifest(site: &str) -> String {
    writeback_manifest(
        "zendesk-writeback",
        site,
        &format!(
            r#"
[config]
site = "{site}"
email = "{ZENDESK_EMAIL}"

[config.team_groups]
billing = {BILLING_GROUP}

[config.tier_groups]
2 = {TIER2_GROUP}
"#
        ),
    )
}

/// A Zendesk stand-in: accepts only the Basic credential Zendesk expects
/// for an API token (`{email}/token:{token}`), answers 200 with a ticket.
fn zendesk_standin() -> StandIn {
    let rx = StandIn::start(Reply::json(
        200,
        json!({"ticket": {"id": 5158, "url": "https://acme.zendesk.com/api/v2/tickets/5158.json"}}),
    ));
    rx.require_authorization(
        &format!(
            "Basic {}",
            b64(&format!("{ZENDESK_EMAIL}/token:{ZENDESK_TOKEN}"))
        ),
        Reply::json(401, json!({"error": "Couldn't authenticate you"})),
    );
    rx
}

fn zendesk_server(rx: &StandIn, policy: &str) -> (Server, tempfile::TempDir) {
    let conf = tempfile::tempdir().unwrap();
    let config = loopback_config(conf.path());
    let adapter = adapter_manifest("zendesk", ZENDESK_INTEGRATION_USER);
    let writeback = zendesk_writeback_manifest(&rx.url);
    let mut s = Server::start_with_plugins(
        &[("writeback.rhai", policy)],
        &[
            ("zendesk", Some(&adapter)),
            ("zendesk-writeback", Some(&writeback)),
        ],
        &["--config", &config, "--simulated-clock", T0],
    );
    s.set_env(&[
        ("ESCALIER_SECRET_ZENDESK_WEBHOOK_SECRET", ZENDESK_SECRET),
        ("ESCALIER_SECRET_ZENDESK_API_TOKEN", ZENDESK_TOKEN),
    ]);
    s.set_log_level("debug");
    s.restart();
    (s, conf)
}

/// POST a Zendesk delivery signed as Zendesk signs it, at the simulated
/// time `at`: base64(HMAC-SHA256(secret, timestamp + body)).
fn zendesk_post(s: &Server, body: &[u8], at: &str) -> Resp {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(ZENDESK_SECRET.as_bytes()).unwrap();
    mac.update(at.as_bytes());
    mac.update(body);
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    s.post_raw(
        "/v1/sources/zendesk",
        &[
            ("content-type", "application/json"),
            ("user-agent", "Zendesk Webhook"),
            ("x-zendesk-webhook-signature", &sig),
            ("x-zendesk-webhook-signature-timestamp", at),
        ],
        body.to_vec(),
    )
}

/// A Zendesk fixture with its event time and delivery id changed.
fn zendesk_event(file: &str, id: &str, actor: Option<&str>) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(&fixture("zendesk", file)).unwrap();
    v["id"] = json!(id);
    if let Some(actor) = actor {
        v["detail"]["actor_id"] = json!(actor);
    }
    serde_json::to_vec(&v).unwrap()
}

/// Delivery rows of a ticket (`GET /v1/deliveries?ticket=`).
fn deliveries_of(s: &Server, ticket: &str) -> Vec<Value> {
    let r = s.get(&format!("/v1/deliveries?ticket={}", encode(ticket)));
    assert_eq!(r.status, 200, "GET /v1/deliveries: {}", r.body);
    r.body["deliveries"].as_array().cloned().unwrap_or_default()
}

/// Wait until every delivery of `ticket` has settled in one of `states`
/// and there are `n` of them.
fn wait_settled(s: &Server, ticket: &str, n: usize, states: &[&str]) -> Vec<Value> {
    let mut last = Vec::new();
    wait_until(
        &format!("{n} deliveries of {ticket} in {states:?}"),
        Duration::from_secs(30),
        || {
            last = deliveries_of(s, ticket);
            last.len() == n
                && last
                    .iter()
                    .all(|d| states.iter().any(|st| d["state"] == *st))
        },
    );
    last
}

fn is_ticket_put(r: &Request) -> bool {
    r.method == "PUT" && r.path == "/api/v2/tickets/5158.json"
}

fn is_tags_put(r: &Request) -> bool {
    r.method == "PUT" && r.path == "/api/v2/tickets/5158/tags.json"
}

const ROUTE_TAG_NOTE: &str = r#"const ON = ["ticket.created"];
if ticket.has_tag("billing") {
    route("billing", "invoice question");
    escalate(2, "billing needs tier 2");
    tag("escalated");
    note("Routed to billing: the customer asks about an invoice");
}
"#;

#[test]
fn a_zendesk_webhook_escalates_and_the_write_back_reaches_zendesk_and_its_echo_ends_the_loop() {
    let rx = zendesk_standin();
    let (s, _conf) = zendesk_server(&rx, ROUTE_TAG_NOTE);

    let r = zendesk_post(&s, &zendesk_event("ticket.created.json", "evt-1", None), T0);
    assert_eq!(r.status, 202, "{}", r.body);
    let settled = wait_settled(&s, "zendesk:5158", 4, &["delivered"]);
    assert!(
        settled.iter().all(|d| d["plugin"] == "zendesk-writeback"),
        "{settled:?}"
    );

    let got = rx.received();
    assert_eq!(got.len(), 4, "route, escalate, tag, note: {got:#?}");
    for r in &got {
        assert_eq!(r.answered, 200, "the credential was right: {r:?}");
        assert!(
            r.header("content-type")
                .is_some_and(|c| c.starts_with("application/json")),
            "{r:?}"
        );
    }
    let puts: Vec<Value> = got
        .iter()
        .filter(|r| is_ticket_put(r))
        .map(|r| r.json())
        .collect();
    for body in &puts {
        assert_valid("zendesk-ticket-update", body);
    }
    assert!(
        puts.iter()
            .any(|b| b["ticket"]["group_id"] == BILLING_GROUP),
        "route → the billing group: {puts:?}"
    );
    assert!(
        puts.iter().any(|b| b["ticket"]["group_id"] == TIER2_GROUP),
        "escalate to tier 2 → the tier-2 group: {puts:?}"
    );
    let comments: Vec<&Value> = puts
        .iter()
        .filter_map(|b| {
            b["ticket"]["comment"]
                .as_object()
                .map(|_| &b["ticket"]["comment"])
        })
        .collect();
    assert!(
        comments.iter().all(|c| c["public"] == false),
        "notes are internal: {comments:?}"
    );
    let note = comments
        .iter()
        .find(|c| {
            c["body"]
                .as_str()
                .is_some_and(|b| b.contains("the customer asks about an invoice"))
        })
        .unwrap_or_else(|| panic!("the note as an internal comment: {puts:?}"));
    let text = note["body"].as_str().unwrap();
    assert!(
        text.contains("writeback.rhai"),
        "which policy decided: {text}"
    );
    let route = puts
        .iter()
        .find(|b| b["ticket"]["group_id"] == BILLING_GROUP)
        .unwrap();
    let why = route["ticket"]["comment"]["body"].as_str().unwrap_or("");
    assert!(
        why.contains("invoice question") && why.contains("writeback.rhai"),
        "the group change says who decided and why: {route}"
    );
    let tags: Vec<&Request> = got.iter().filter(|r| is_tags_put(r)).collect();
    assert_eq!(
        tags.len(),
        1,
        "tags are added with PUT (never replaced): {got:#?}"
    );
    assert_valid("zendesk-ticket-tags", &tags[0].json());
    assert_eq!(tags[0].json()["tags"], json!(["escalated"]));

    // Delivered shows on the timeline.
    let delivered = s.records_of("zendesk:5158", "delivery.delivered");
    assert_eq!(delivered.len(), 4, "{delivered:?}");
    assert!(
        delivered
            .iter()
            .all(|r| r["event"]["data"]["status"] == 200)
    );

    // Zendesk reports the write-back's changes as new events, made by the
    // integration user: answered ignored, nothing stored, nothing written.
    let before = s.committed();
    for (i, file) in [
        "ticket.group_assignment_changed.json",
        "ticket.tags_changed.json",
        "ticket.priority_changed.json",
    ]
    .iter()
    .enumerate()
    {
        let echo = zendesk_event(file, &format!("echo-{i}"), Some(ZENDESK_INTEGRATION_USER));
        let r = zendesk_post(&s, &echo, T0);
        assert_eq!(r.status, 200, "{file}: {}", r.body);
        assert_eq!(r.body["ignored"], true, "{file}: {}", r.body);
        assert_eq!(r.body["events"], json!([]), "{file}: {}", r.body);
    }
    assert_eq!(s.committed(), before, "the echoes stored nothing");
    assert!(
        s.get_text("/metrics")
            .lines()
            .any(|l| l.starts_with("escalier_adapter_ignored_total{source=\"zendesk\"} 3")),
        "counted"
    );
    // A change by a person is still an event (and no write-back follows:
    // the policy reacts to ticket.created only).
    let human = zendesk_event("ticket.tags_changed.json", "human-1", Some("8447388090494"));
    let r = zendesk_post(&s, &human, T0);
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(
        rx.received().len(),
        4,
        "one round trip, no second write-back"
    );

    // The token is added by the host; it is nowhere in what Escalier shows or logs.
    let shown = [
        s.get_text("/v1/tickets/zendesk%3A5158"),
        s.get_text("/v1/deliveries"),
        s.log(),
    ];
    for text in &shown {
        assert!(!text.contains(ZENDESK_TOKEN));
        assert!(!text.contains(&b64(&format!("{ZENDESK_EMAIL}/token:{ZENDESK_TOKEN}"))));
    }
}

const ROUTE_ONLY: &str = r#"const ON = ["ticket.created"];
route("billing", "invoice question");
"#;

/// Post the created event and wait for its one write-back's first attempt.
fn first_attempt(s: &Server, rx: &StandIn) {
    let r = zendesk_post(s, &zendesk_event("ticket.created.json", "evt-1", None), T0);
    assert_eq!(r.status, 202, "{}", r.body);
    wait_until("the first attempt", Duration::from_secs(30), || {
        !rx.received().is_empty()
    });
}

#[test]
fn zendesk_429_with_retry_after_is_retried_then_delivered() {
    let rx = zendesk_standin();
    rx.script(
        Some("PUT"),
        "/api/v2/tickets/5158.json",
        1,
        Reply::json(
            429,
            json!({"error": "TooManyRequests", "description": "Rate limit exceeded"}),
        )
        .header("retry-after", "93"),
    );
    let (s, _conf) = zendesk_server(&rx, ROUTE_ONLY);
    first_attempt(&s, &rx);
    let d = wait_settled(&s, "zendesk:5158", 1, &["retrying"]).remove(0);
    assert_eq!(d["status"], 429, "{d}");
    assert_eq!(d["attempts"], 1, "{d}");
    assert_eq!(
        d["next_at"], "2026-03-09T10:01:33Z",
        "Retry-After: 93 honoured: {d}"
    );
    let retrying = s.records_of("zendesk:5158", "delivery.retrying");
    assert_eq!(retrying.len(), 1, "on the timeline");
    assert_eq!(retrying[0]["event"]["data"]["plugin"], "zendesk-writeback");

    s.clock(r#"{"set": "2026-03-09T10:01:33Z"}"#);
    let d = wait_settled(&s, "zendesk:5158", 1, &["delivered"]).remove(0);
    assert_eq!(d["attempts"], 2, "{d}");
    let got = rx.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].body, got[1].body, "the same request again");
    assert_valid("zendesk-ticket-update", &got[1].json());
    assert_eq!(got[1].json()["ticket"]["group_id"], BILLING_GROUP);
    for (outcome, n) in [("retry", 1.0), ("delivered", 1.0)] {
        assert_eq!(
            metric(
                &s,
                "escalier_deliveries_total",
                &[("by", "zendesk-writeback"), ("outcome", outcome)]
            ),
            Some(n),
            "{outcome} counted per plugin"
        );
    }
}

#[test]
fn zendesk_409_conflict_is_retried_then_delivered() {
    let rx = zendesk_standin();
    rx.script(
        Some("PUT"),
        "/api/v2/tickets/5158.json",
        1,
        Reply::json(
            409,
            json!({"error": "UpdateConflict", "description": "Safe Update prevented the update due to outdated ticket data. Please fetch the latest ticket data and try again."}),
        ),
    );
    let (s, _conf) = zendesk_server(&rx, ROUTE_ONLY);
    first_attempt(&s, &rx);
    let d = wait_settled(&s, "zendesk:5158", 1, &["retrying"]).remove(0);
    assert_eq!(d["status"], 409, "{d}");
    let next = d["next_at"].as_str().unwrap().to_owned();
    s.clock(&format!(r#"{{"set": "{next}"}}"#));
    let d = wait_settled(&s, "zendesk:5158", 1, &["delivered"]).remove(0);
    assert_eq!(d["attempts"], 2, "{d}");
    assert_eq!(rx.received().len(), 2);
    assert_eq!(s.records_of("zendesk:5158", "delivery.delivered").len(), 1);
}

#[test]
fn zendesk_422_fails_at_once_recording_zendesks_error_body() {
    let rx = zendesk_standin();
    rx.script(
        Some("PUT"),
        "/api/v2/tickets/5158.json",
        1,
        Reply::json(
            422,
            json!({"error": "RecordInvalid", "description": "Record validation errors", "details": {"group": [{"description": "Group: is not valid for this ticket", "error": "InvalidValue"}]}}),
        ),
    );
    let (s, _conf) = zendesk_server(&rx, ROUTE_ONLY);
    first_attempt(&s, &rx);
    let d = wait_settled(&s, "zendesk:5158", 1, &["failed"]).remove(0);
    assert_eq!(d["attempts"], 1, "{d}");
    assert_eq!(d["status"], 422, "{d}");
    let failed = s.records_of("zendesk:5158", "delivery.failed");
    assert_eq!(failed.len(), 1);
    let data = &failed[0]["event"]["data"];
    assert_eq!(data["plugin"], "zendesk-writeback", "{data}");
    assert_eq!(data["status"], 422, "{data}");
    assert!(
        data["response"]
            .as_str()
            .unwrap_or("")
            .contains("RecordInvalid"),
        "Zendesk's error body is recorded: {data}"
    );
    // Hours pass and another ticket is routed: only its request is sent.
    // Had the failed one been scheduled again, it would be due long before.
    s.clock(r#"{"advance": "6h"}"#);
    let mut other: Value =
        serde_json::from_slice(&zendesk_event("ticket.created.json", "evt-2", None)).unwrap();
    other["detail"]["id"] = json!("5159");
    other["subject"] = json!("zen:ticket:5159");
    let r = zendesk_post(
        &s,
        &serde_json::to_vec(&other).unwrap(),
        "2026-03-09T16:00:00Z",
    );
    assert_eq!(r.status, 202, "{}", r.body);
    wait_settled(&s, "zendesk:5159", 1, &["delivered"]);
    let got = rx.received();
    assert_eq!(got.len(), 2, "a 422 is not retried: {got:#?}");
    assert_eq!(got[1].path, "/api/v2/tickets/5159.json");
    assert_eq!(deliveries_of(&s, "zendesk:5158")[0]["state"], "failed");
}

#[test]
fn zendesk_503_with_an_http_date_retry_after_waits_until_that_date() {
    let rx = zendesk_standin();
    rx.script(
        Some("PUT"),
        "/api/v2/tickets/5158.json",
        1,
        Reply::status(503).header("retry-after", "Mon, 09 Mar 2026 10:05:00 GMT"),
    );
    let (s, _conf) = zendesk_server(&rx, ROUTE_ONLY);
    first_attempt(&s, &rx);
    let d = wait_settled(&s, "zendesk:5158", 1, &["retrying"]).remove(0);
    assert_eq!(d["status"], 503, "{d}");
    assert_eq!(
        d["next_at"], "2026-03-09T10:05:00Z",
        "the date honoured: {d}"
    );
    s.clock(r#"{"set": "2026-03-09T10:05:00Z"}"#);
    let d = wait_settled(&s, "zendesk:5158", 1, &["delivered"]).remove(0);
    assert_eq!(d["attempts"], 2, "{d}");
    assert_eq!(rx.received().len(), 2);
}

#[test]
fn zendesk_409_three_times_running_is_a_recorded_failure() {
    let rx = zendesk_standin();
    let conflict = Reply::json(
        409,
        json!({"error": "UpdateConflict", "description": "Safe Update prevented the update due to outdated ticket data."}),
    );
    rx.script(Some("PUT"), "/api/v2/tickets/5158.json", 3, conflict);
    let (s, _conf) = zendesk_server(&rx, ROUTE_ONLY);
    first_attempt(&s, &rx);
    for attempt in 1..3 {
        let mut d = Value::Null;
        wait_until(
            &format!("attempt {attempt} retrying"),
            Duration::from_secs(30),
            || {
                d = deliveries_of(&s, "zendesk:5158")
                    .pop()
                    .unwrap_or(Value::Null);
                d["state"] == "retrying" && d["attempts"] == attempt
            },
        );
        let next = d["next_at"].as_str().unwrap().to_owned();
        s.clock(&format!(r#"{{"set": "{next}"}}"#));
    }
    let d = wait_settled(&s, "zendesk:5158", 1, &["failed"]).remove(0);
    assert_eq!(
        (d["attempts"].clone(), d["status"].clone()),
        (json!(3), json!(409)),
        "{d}"
    );
    let failed = s.records_of("zendesk:5158", "delivery.failed");
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0]["event"]["data"]["response"]
            .as_str()
            .unwrap_or("")
            .contains("UpdateConflict"),
        "{}",
        failed[0]
    );
    assert_eq!(s.records_of("zendesk:5158", "delivery.retrying").len(), 2);
    assert_eq!(rx.received().len(), 3);
}

#[test]
fn a_write_back_whose_token_is_not_set_fails_saying_so_and_sends_nothing() {
    let rx = zendesk_standin();
    let (mut s, _conf) = zendesk_server(&rx, ROUTE_ONLY);
    s.set_env(&[("ESCALIER_SECRET_ZENDESK_WEBHOOK_SECRET", ZENDESK_SECRET)]);
    s.restart();
    let r = zendesk_post(&s, &zendesk_event("ticket.created.json", "evt-1", None), T0);
    assert_eq!(r.status, 202, "{}", r.body);
    let d = wait_settled(&s, "zendesk:5158", 1, &["failed"]).remove(0);
    assert_eq!(d["attempts"], 1, "not retried: {d}");
    let failed = s.records_of("zendesk:5158", "delivery.failed");
    assert_eq!(failed.len(), 1);
    let error = failed[0]["event"]["data"]["error"].as_str().unwrap_or("");
    assert!(
        error.contains("zendesk_api_token") && error.contains("not set"),
        "{error}"
    );
    assert!(
        rx.received().is_empty(),
        "no request without its credential"
    );
}

/// One help desk's round trip through the real binary: the adapter and
/// the write-back plugin installed, the stand-in as the tool's site.
fn helpdesk_server(
    adapter: &str,
    adapter_user: &str,
    writeback: &str,
    writeback_config: &str,
    rx: &StandIn,
    policy: &str,
    secrets: &[(&str, &str)],
) -> (Server, tempfile::TempDir) {
    let conf = tempfile::tempdir().unwrap();
    let config = loopback_config(conf.path());
    let a = adapter_manifest(adapter, adapter_user);
    let w = writeback_manifest(writeback, &rx.url, writeback_config);
    let mut s = Server::start_with_plugins(
        &[("writeback.rhai", policy)],
        &[(adapter, Some(&a)), (writeback, Some(&w))],
        &["--config", &config, "--simulated-clock", T0],
    );
    s.set_env(secrets);
    s.set_log_level("debug");
    s.restart();
    (s, conf)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

const JIRA_SECRET: &str = "jira-webhook-secret-for-tests";
const JIRA_TOKEN: &str = "ATATT3xFfGF0jiraApiToken9e8d7c";
const JIRA_EMAIL: &str = "escalier@acme.example";
const JIRA_INTEGRATION_USER: &str = "712020:0e1f2a3b-escalier-integration";

/// POST a Jira delivery as Jira sends it (`X-Hub-Signature: sha256=`).
fn jira_post(s: &Server, body: &[u8], delivery: &str) -> Resp {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(JIRA_SECRET.as_bytes()).unwrap();
    mac.update(body);
    let sig = format!("sha256={}", hex(&mac.finalize().into_bytes()));
    s.post_raw(
        "/v1/sources/jira",
        &[
            ("content-type", "application/json"),
            ("user-agent", "Atlassian Webhook HTTP Client"),
            ("x-atlassian-webhook-identifier", delivery),
            ("x-hub-signature", &sig),
        ],
        body.to_vec(),
    )
}

#[test]
fn a_jira_issue_is_routed_labelled_and_noted_in_jira_and_its_echo_ends_the_loop() {
    let rx = StandIn::start(Reply::status(204));
    rx.require_authorization(
        &format!("Basic {}", b64(&format!("{JIRA_EMAIL}:{JIRA_TOKEN}"))),
        Reply::json(
            401,
            json!({"errorMessages": ["You are not authenticated."]}),
        ),
    );
    rx.script(
        Some("POST"),
        "/rest/servicedeskapi/request/",
        10,
        Reply::json(201, json!({"id": "1000", "body": "note", "public": false})),
    );
    let policy = r#"const ON = ["ticket.created"];
if ticket.has_tag("vpn") {
    route("identity", "VPN trouble");
    tag("escalated");
    note("Routed to identity: VPN gateway rejects logins");
}
"#;
    let config = format!(
        r#"
[config]
site = "{}"
email = "{JIRA_EMAIL}"
group_field = "components"

[config.team_groups]
identity = [{{ name = "Identity" }}]
"#,
        rx.url
    );
    let (s, _conf) = helpdesk_server(
        "jira",
        JIRA_INTEGRATION_USER,
        "jira-writeback",
        &config,
        &rx,
        policy,
        &[
            ("ESCALIER_SECRET_JIRA_WEBHOOK_SECRET", JIRA_SECRET),
            ("ESCALIER_SECRET_JIRA_API_TOKEN", JIRA_TOKEN),
        ],
    );
    let r = jira_post(&s, &fixture("jira", "issue_created.json"), "jira-d-1");
    assert_eq!(r.status, 202, "{}", r.body);
    // route: the group field and an internal comment; tag: a label; note: a comment.
    let settled = wait_settled(&s, "jira:HELP-42", 4, &["delivered"]);
    assert!(
        settled.iter().all(|d| d["plugin"] == "jira-writeback"),
        "{settled:?}"
    );

    let got = rx.received();
    assert!(
        got.iter().all(|r| r.answered < 300),
        "credential accepted: {got:#?}"
    );
    let edits: Vec<Value> = got
        .iter()
        .filter(|r| r.method == "PUT" && r.path == "/rest/api/3/issue/HELP-42")
        .map(|r| r.json())
        .collect();
    for e in &edits {
        assert_valid("jira-issue-edit", e);
    }
    assert!(
        edits
            .iter()
            .any(|e| e["update"]["labels"] == json!([{"add": "escalated"}])),
        "the label is added, the others kept: {edits:?}"
    );
    let comments: Vec<Value> = got
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/rest/servicedeskapi/request/HELP-42/comment")
        .map(|r| r.json())
        .collect();
    assert_eq!(comments.len(), 2, "the route's and the note's: {got:#?}");
    for c in &comments {
        assert_valid("jsm-request-comment", c);
        assert_eq!(c["public"], false, "internal: {c}");
    }
    assert!(
        edits
            .iter()
            .any(|e| e["fields"]["components"] == json!([{"name": "Identity"}])),
        "route sets the group field: {edits:?}"
    );
    assert!(
        comments.iter().any(|c| {
            let b = c["body"].as_str().unwrap_or("");
            b.contains("VPN gateway rejects logins") && b.contains("writeback.rhai")
        }),
        "{comments:?}"
    );

    // Jira reports the write-back as an update by the integration user.
    let before = s.committed();
    let mut echo: Value =
        serde_json::from_slice(&fixture("jira", "issue_updated.fields.json")).unwrap();
    echo["user"]["accountId"] = json!(JIRA_INTEGRATION_USER);
    let r = jira_post(&s, &serde_json::to_vec(&echo).unwrap(), "jira-d-2");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["ignored"], true, "{}", r.body);
    assert_eq!(s.committed(), before, "the echo stored nothing");
    assert_eq!(rx.received().len(), got.len(), "no second write-back");
    for text in [s.get_text("/v1/tickets/jira%3AHELP-42"), s.log()] {
        assert!(!text.contains(JIRA_TOKEN));
    }
}

const ZAMMAD_SIGNATURE: &str = "zammad-signature-token-for-tests";
const ZAMMAD_TOKEN: &str = "zammadApiT0ken-5f4e3d2c1b0a";
const ZAMMAD_INTEGRATION_USER: &str = "escalier@chrispresso.example";

/// POST a Zammad delivery as Zammad sends it (`X-Hub-Signature: sha1=`).
fn zammad_post(s: &Server, body: &[u8], delivery: &str) -> Resp {
    let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(ZAMMAD_SIGNATURE.as_bytes()).unwrap();
    mac.update(body);
    let sig = format!("sha1={}", hex(&mac.finalize().into_bytes()));
    s.post_raw(
        "/v1/sources/zammad",
        &[
            ("content-type", "application/json"),
            ("user-agent", "Zammad User Agent"),
            ("x-zammad-trigger", "Escalier: ticket events"),
            ("x-zammad-delivery", delivery),
            ("x-hub-signature", &sig),
        ],
        body.to_vec(),
    )
}

#[test]
fn a_zammad_ticket_is_routed_tagged_and_noted_in_zammad_and_its_echo_ends_the_loop() {
    let rx = StandIn::start(Reply::json(200, json!({"id": 81})));
    rx.require_authorization(
        &format!("Token token={ZAMMAD_TOKEN}"),
        Reply::json(401, json!({"error": "Authentication required"})),
    );
    let policy = r#"const ON = ["ticket.created"];
route("2nd-level", "descaling fault");
tag("escalated");
note("Routed to 2nd level: leaks after descaling");
"#;
    let config = format!(
        r#"
[config]
site = "{}"

[config.team_groups]
2nd-level = "2nd Level"
"#,
        rx.url
    );
    let (s, _conf) = helpdesk_server(
        "zammad",
        ZAMMAD_INTEGRATION_USER,
        "zammad-writeback",
        &config,
        &rx,
        policy,
        &[
            ("ESCALIER_SECRET_ZAMMAD_SIGNATURE_TOKEN", ZAMMAD_SIGNATURE),
            ("ESCALIER_SECRET_ZAMMAD_API_TOKEN", ZAMMAD_TOKEN),
        ],
    );
    let r = zammad_post(&s, &fixture("zammad", "ticket.created.json"), "5d2c0e7a-1");
    assert_eq!(r.status, 202, "{}", r.body);
    // route: the group and an internal note; tag; note: an internal note.
    let settled = wait_settled(&s, "zammad:10081", 4, &["delivered"]);
    assert!(
        settled.iter().all(|d| d["plugin"] == "zammad-writeback"),
        "{settled:?}"
    );

    let got = rx.received();
    assert!(
        got.iter().all(|r| r.answered < 300),
        "credential accepted: {got:#?}"
    );
    // Zammad's REST API addresses a ticket by its id (81), not its number (10081).
    let update = got
        .iter()
        .find(|r| r.method == "PUT" && r.path == "/api/v1/tickets/81")
        .unwrap_or_else(|| panic!("PUT /api/v1/tickets/81: {got:#?}"));
    assert_valid("zammad-ticket-update", &update.json());
    assert_eq!(update.json()["group"], "2nd Level");
    let tag = got
        .iter()
        .find(|r| r.method == "POST" && r.path == "/api/v1/tags/add")
        .unwrap_or_else(|| panic!("POST /api/v1/tags/add: {got:#?}"));
    assert_valid("zammad-tag-add", &tag.json());
    assert_eq!(tag.json()["item"], "escalated");
    assert_eq!(tag.json()["o_id"].to_string().trim_matches('"'), "81");
    let notes: Vec<Value> = got
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/api/v1/ticket_articles")
        .map(|r| r.json())
        .collect();
    assert_eq!(notes.len(), 2, "the route's and the note's: {got:#?}");
    for n in &notes {
        assert_valid("zammad-ticket-article", n);
        assert_eq!(
            (&n["ticket_id"], &n["type"], &n["internal"]),
            (&json!(81), &json!("note"), &json!(true)),
            "an internal note on ticket id 81: {n}"
        );
    }
    assert!(
        notes.iter().any(|n| {
            let b = n["body"].as_str().unwrap_or("");
            b.contains("leaks after descaling") && b.contains("writeback.rhai")
        }),
        "{notes:?}"
    );

    // Zammad reports the note back, created by the integration user.
    let before = s.committed();
    let mut echo: Value =
        serde_json::from_slice(&fixture("zammad", "ticket.updated.note.json")).unwrap();
    echo["article"]["created_by"]["login"] = json!(ZAMMAD_INTEGRATION_USER);
    echo["article"]["created_by"]["email"] = json!(ZAMMAD_INTEGRATION_USER);
    let r = zammad_post(&s, &serde_json::to_vec(&echo).unwrap(), "5d2c0e7a-2");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["ignored"], true, "{}", r.body);
    assert_eq!(s.committed(), before, "the echo stored nothing");
    assert_eq!(rx.received().len(), got.len(), "no second write-back");
    for text in [s.get_text("/v1/tickets/zammad%3A10081"), s.log()] {
        assert!(!text.contains(ZAMMAD_TOKEN));
    }
}
