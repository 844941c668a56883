//! Plugins through the real binary: each example plugin end to end, the
//! outbox delivering signed webhooks, adapters, and hostile plugins being
//! contained while ingestion carries on. Needs `scripts/build-plugins`.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::util::*;

#[test]
fn a_checklist_holds_the_escalation_until_its_items_are_ticked() {
    let s = Server::start_with_plugins(
        &[
            (
                "a.rhai",
                "const ON = [\"ticket.created\"];\nrequire_checklist(\"engineering-handoff\");\n",
            ),
            (
                "b.rhai",
                "const ON = [\"comment.added\"];\nif event.body.contains(\"engineering\") { escalate(3, \"needs engineering\"); }\n",
            ),
        ],
        &[("checklist", None)],
        &[],
    );
    let seq = s.ingest(&created("e1", "T-1", ""));
    let t = s.ticket("T-1", seq);
    let items = t["ticket"]["checklist_progress"]["engineering-handoff"]["items"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(items.len(), 2, "{}", t["ticket"]["checklist_progress"]);
    let seq = s.ingest(&comment(
        "e2",
        "T-1",
        "agent",
        "handing over to engineering",
    ));
    let t = s.ticket("T-1", seq);
    assert_eq!(t["ticket"]["tier"], 1, "held until the checklist is done");
    assert_eq!(t["ticket"]["held_escalations"].as_array().unwrap().len(), 1);

    let r = s.post_json(
        "/v1/tickets/T-1/checklists/engineering-handoff/items/nope",
        Some(TOKEN),
        "",
    );
    assert_eq!((r.status, r.code()), (404, "not_found"), "{}", r.body);
    let mut last = 0;
    for item in items {
        let id = item["id"].as_str().unwrap();
        let r = s.post_json(
            &format!("/v1/tickets/T-1/checklists/engineering-handoff/items/{id}"),
            Some(TOKEN),
            r#"{"by": "agent-7"}"#,
        );
        assert_eq!(r.status, 202, "{}", r.body);
        last = r.body["seq"].as_u64().unwrap();
    }
    let t = s.ticket("T-1", last);
    assert_eq!(t["ticket"]["tier"], 3, "released by the last tick");
    assert_eq!(t["ticket"]["escalations"][0]["by"], "b.rhai");
}

#[test]
fn an_approval_is_decided_through_the_api_once() {
    let s = Server::start_with_plugins(
        &[(
            "refund.rhai",
            "const ON = [\"ticket.created\"];\nrequire_approval(\"refund\", \"refund of 300\");\n",
        )],
        &[("approval", None)],
        &[],
    );
    let seq = s.ingest(&created("e1", "T-1", ""));
    let t = s.ticket("T-1", seq);
    let approval = t["ticket"]["approvals"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(t["ticket"]["approvals"][0]["state"], "pending");
    // The plugin told the approvers.
    assert!(
        timeline_types(&t).iter().any(|x| x == "action.notify"),
        "{:?}",
        timeline_types(&t)
    );

    let r = s.post_json(
        "/v1/tickets/T-1/approvals/apr-nope",
        Some(TOKEN),
        r#"{"decision": "approved"}"#,
    );
    assert_eq!(r.status, 404);
    let r = s.post_json(
        &format!("/v1/tickets/T-1/approvals/{approval}"),
        Some(TOKEN),
        r#"{"decision": "approved", "by": "manager-kim", "reason": "loyal customer"}"#,
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let t = s.ticket("T-1", r.body["seq"].as_u64().unwrap());
    assert_eq!(t["ticket"]["approvals"][0]["state"], "approved");
    assert_eq!(t["ticket"]["approvals"][0]["decision"]["by"], "manager-kim");
    let again = s.post_json(
        &format!("/v1/tickets/T-1/approvals/{approval}"),
        Some(TOKEN),
        r#"{"decision": "rejected"}"#,
    );
    assert_eq!((again.status, again.code()), (409, "already_decided"));
}

pub(crate) fn notify_manifest(url: &str) -> String {
    format!(
        r#"name = "notify-http"
version = "0.1.0"
component = "notify_http.wasm"
subscribe = ["action.notify"]

[capabilities]
config = ["targets"]
http = {{ allowed_hosts = ["{url}"], signing_secret = "notify_signing_secret" }}

[limits]
# Room for a loaded test machine (the suite runs many servers at once):
# these tests are about delivery, not the time limit.
time_ms = 250
memory_mib = 16

[config.targets.duty-manager]
url = "{url}/escalier"
format = "generic"
"#
    )
}

pub(crate) const NOTIFY_SECRET: &str = "whsec_c2VjcmV0LWZvci10ZXN0cy1vbmx5LTEyMzQ1Njc4";
pub(crate) const NOTIFY_POLICY: &str =
    "const ON = [\"ticket.created\"];\nnotify(\"duty-manager\", `new ticket ${ticket.id}`);\n";

#[test]
fn notify_actions_are_delivered_through_the_outbox_signed() {
    let rx = Receiver::start();
    let conf = tempfile::tempdir().unwrap();
    let path = conf.path().join("escalier.toml");
    std::fs::write(&path, "[plugins]\nallow_private = [\"127.0.0.0/8\"]\n").unwrap();
    let manifest = notify_manifest(&rx.url);
    let mut s = Server::start_with_plugins(
        &[("notify.rhai", NOTIFY_POLICY)],
        &[("notify-http", Some(&manifest))],
        &["--config", path.to_str().unwrap()],
    );
    s.set_env(&[("ESCALIER_SECRET_NOTIFY_SIGNING_SECRET", NOTIFY_SECRET)]);
    s.restart();
    s.ingest(&created("e1", "T-1", ""));
    wait_until("the delivery", Duration::from_secs(20), || {
        !rx.received().is_empty()
    });
    let got = &rx.received()[0];
    assert_eq!(got.path, "/escalier");
    // Signed per Standard Webhooks with the plugin's secret: verify it like a receiver would.
    let mut headers = http::HeaderMap::new();
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        headers.insert(
            name,
            got.header(name)
                .unwrap_or_else(|| panic!("{name} missing"))
                .parse()
                .unwrap(),
        );
    }
    let verifier = escalier_server::Verifier::new(vec![
        escalier_server::Secret::parse(NOTIFY_SECRET).unwrap(),
    ]);
    let now = jiff::Timestamp::now().as_second();
    assert!(
        verifier.verify(&headers, &got.body, now).is_ok(),
        "signature verifies"
    );
    let body: serde_json::Value = serde_json::from_slice(&got.body).unwrap();
    assert!(body.to_string().contains("new ticket T-1"), "{body}");
    assert_eq!(
        got.header("webhook-id"),
        Some("dlv:1.1:notify-http:0"),
        "the id names the notify action it delivers"
    );
    // The delivery's fate is on the ticket's timeline and in /v1/deliveries.
    wait_until("delivery.delivered", Duration::from_secs(20), || {
        !s.records_of("T-1", "delivery.delivered").is_empty()
    });
    let delivered = &s.records_of("T-1", "delivery.delivered")[0];
    assert_eq!(delivered["event"]["id"], "delivered:dlv:1.1:notify-http:0");
    assert_eq!(delivered["event"]["data"]["status"], 200);
    assert_eq!(delivered["event"]["data"]["plugin"], "notify-http");
    assert_eq!(delivered["source"]["kind"], "outbox", "{delivered}");
    let listed = s.get("/v1/deliveries?state=delivered&ticket=T-1");
    assert_eq!(listed.status, 200, "{}", listed.body);
    let rows = listed.body["deliveries"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{}", listed.body);
    assert_eq!(rows[0]["delivery_id"], "dlv:1.1:notify-http:0");
    assert_eq!(rows[0]["kind"], "http");
    assert_eq!(
        (rows[0]["attempts"].as_u64(), rows[0]["status"].as_u64()),
        (Some(1), Some(200))
    );
    assert!(listed.body["next"].is_null());
    let none = s.get("/v1/deliveries?state=failed");
    assert_eq!(none.body["deliveries"], serde_json::json!([]));
    let bad = s.get("/v1/deliveries?state=lost");
    assert_eq!((bad.status, bad.field()), (400, "state"));
}

#[test]
fn private_addresses_the_operator_did_not_allow_are_refused_before_any_io() {
    let rx = Receiver::start();
    // A literal loopback address: refused when the plugin asks, recorded as plugin.error.
    let mut s = Server::start_with_plugins(
        &[("notify.rhai", NOTIFY_POLICY)],
        &[("notify-http", Some(&notify_manifest(&rx.url)))],
        &[],
    );
    s.set_env(&[("ESCALIER_SECRET_NOTIFY_SIGNING_SECRET", NOTIFY_SECRET)]);
    s.restart();
    let seq = s.ingest(&created("e1", "T-1", ""));
    let t = s.ticket("T-1", seq);
    let denied: Vec<_> = t["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["event"]["type"] == "plugin.error" && r["event"]["data"]["code"] == "denied")
        .collect();
    assert_eq!(denied.len(), 1, "{}", t["timeline"]);
    assert!(
        denied[0]["event"]["data"]["message"]
            .as_str()
            .unwrap()
            .contains("loopback")
    );

    // A name for loopback is refused the same way. (A public name that
    // resolves to a private address is refused after resolving, before
    // connecting: crates/escalier-plugin/tests/it/outbound.rs, with an
    // injected resolver.)
    let port = rx.url.rsplit(':').next().unwrap();
    std::fs::write(
        s.dir.path().join("plugins/notify-http/plugin.toml"),
        notify_manifest(&format!("http://localhost:{port}")),
    )
    .unwrap();
    s.restart();
    let seq = s.ingest(&created("e2", "T-2", ""));
    let t = s.ticket("T-2", seq);
    assert!(
        t["timeline"].to_string().contains("\"denied\""),
        "{}",
        t["timeline"]
    );
    assert!(
        rx.received().is_empty(),
        "nothing reached the private address"
    );
}

const GITHUB_SECRET: &str = "It's a Secret to Everybody";

fn github(s: &Server, event: &str, file: &str, delivery: &str, secret: &str) -> Resp {
    let body = std::fs::read(
        repo()
            .join("crates/escalier-plugin/tests/fixtures/github")
            .join(file),
    )
    .unwrap();
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(&body);
    let sig: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    s.post_raw(
        "/v1/sources/github",
        &[
            ("content-type", "application/json"),
            ("x-github-event", event),
            ("x-github-delivery", delivery),
            ("x-hub-signature-256", &format!("sha256={sig}")),
        ],
        body,
    )
}

#[test]
fn github_deliveries_become_tickets_once() {
    let mut s = Server::start_with_plugins(&[], &[("github", None)], &[]);
    s.set_env(&[("ESCALIER_SECRET_GITHUB_WEBHOOK_SECRET", GITHUB_SECRET)]);
    s.restart();
    let r = github(
        &s,
        "issues",
        "issues.opened.json",
        "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        GITHUB_SECRET,
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let seq = r.body["events"][0]["seq"].as_u64().unwrap();
    let list = s.get(&format!("/v1/tickets?wait_for_seq={seq}"));
    let ticket = list.body["tickets"][0].clone();
    assert!(
        ticket["id"].as_str().unwrap().starts_with("github:"),
        "{ticket}"
    );
    let t = s.ticket(ticket["id"].as_str().unwrap(), seq);
    assert_eq!(t["timeline"][0]["source"]["kind"], "adapter");
    assert_eq!(t["timeline"][0]["source"]["plugin"], "github");

    let again = github(
        &s,
        "issues",
        "issues.opened.json",
        "72d3162e-cc78-11e3-81ab-4c9367dc0958",
        GITHUB_SECRET,
    );
    assert_eq!(
        again.status, 200,
        "redelivery is a duplicate: {}",
        again.body
    );
    let forged = github(
        &s,
        "issues",
        "issues.opened.json",
        "another-delivery",
        "not the secret",
    );
    assert_eq!(forged.status, 401, "{}", forged.body);
    let r = s.post_raw(
        "/v1/sources/gitlab",
        &[("content-type", "application/json")],
        b"{}".to_vec(),
    );
    assert_eq!(r.status, 404);
    assert_eq!(s.committed(), seq);
}

#[test]
fn the_python_plugin_triages_new_tickets() {
    let s = Server::start_with_plugins(&[], &[("triage-py", None)], &[]);
    let seq = s
        .ingest(&created("e1", "T-1", "").replace("Cannot log in", "Full outage of the EU region"));
    let t = s.ticket("T-1", seq);
    assert_eq!(t["ticket"]["priority"], "urgent", "{}", t["timeline"]);
    assert!(t["ticket"]["tags"].to_string().contains("outage"));
    assert_eq!(t["timeline"][1]["source"]["plugin"], "triage-py");
}

#[test]
fn hostile_plugins_are_contained_and_ingestion_carries_on() {
    let s = Server::start_with_plugins(&[], &[("hostile", None), ("noop", None)], &[]);
    let mut seq = s.ingest(&created("e0", "T-1", ""));
    for (i, mode) in ["loop", "grow", "panic", "file", "private", "flood"]
        .iter()
        .enumerate()
    {
        let r = s.post_events(&comment(&format!("e{}", i + 1), "T-1", "customer", mode));
        assert_eq!(r.status, 202, "ingestion is unaffected by `{mode}`");
        seq = r.body["seq"].as_u64().unwrap();
    }
    let t = s.ticket("T-1", seq);
    let errors: Vec<String> = t["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["event"]["type"] == "plugin.error")
        .map(|r| r["event"]["data"]["code"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        !t["timeline"].to_string().contains("flood 0"),
        "a flood applies nothing"
    );
    for code in ["timeout", "memory_limit", "trap", "too_many_actions"] {
        assert!(
            errors.iter().any(|c| c == code),
            "`{code}` recorded: {errors:?}"
        );
    }
    let status = s.get("/v1/plugins");
    assert_eq!(status.status, 200);
    let text = status.body.to_string();
    assert!(text.contains("hostile") && text.contains("noop"), "{text}");
    assert_eq!(s.get("/healthz").body["status"], "ok");
}

/// The approval plugin's timeout is a durable timer: on a ticket where
/// nothing happens after the approval is requested, the simulated clock
/// passing the deadline escalates it, exactly once, and neither a restart
/// nor a deadline passing while the server is down fires it twice.
#[test]
fn an_undecided_approval_on_a_silent_ticket_escalates_once_on_the_clock_across_restarts() {
    let t0 = "2026-03-02T09:00:00Z";
    let mut s = Server::start_with_plugins(
        &[(
            "refund.rhai",
            "const ON = [\"ticket.updated\"];\nrequire_approval(\"refund\", \"refund of 300\");\n",
        )],
        &[("approval", None)],
        &["--simulated-clock", t0],
    );
    let plugins = s.dir.path().join("plugins");
    let plugins = plugins.to_str().unwrap().to_owned();
    // Asked for on an update processed after the creation, so the ticket is
    // already known (and its clock index cached) when its timer is set.
    let ask = |s: &Server, ticket: &str| {
        let seq = s.ingest(&created(&format!("{ticket}-c"), ticket, ""));
        s.ticket(ticket, seq);
        s.ingest(&format!(
            r#"{{"id":"{ticket}-u","type":"ticket.updated","ticket_id":"{ticket}","occurred_at":"2026-03-02T09:00:00Z","data":{{"tags_added":["refund"]}}}}"#
        ))
    };
    let seq = ask(&s, "T-1");
    let t = s.ticket("T-1", seq);
    let approval = t["ticket"]["approvals"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        t["ticket"]["plugin_timers"]["approval"][&approval]["at"], "2026-03-02T13:00:00Z",
        "timeout_minutes = 240: {}",
        t["ticket"]
    );

    s.clock(r#"{"advance": "3h59m"}"#);
    assert!(
        s.records_of("T-1", "action.escalate").is_empty(),
        "not early"
    );
    s.clock(r#"{"advance": "1m"}"#);
    let fired = s.records_of("T-1", "plugin.timer");
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0]["recorded_at"], "2026-03-02T13:00:00Z");
    assert_eq!(fired[0]["event"]["data"]["key"], approval.as_str());
    let esc = s.records_of("T-1", "action.escalate");
    assert_eq!(esc.len(), 1);
    assert_eq!(esc[0]["source"]["plugin"], "approval");
    let t = s.ticket("T-1", s.committed());
    assert_eq!(t["ticket"]["tier"], 3);
    assert!(
        t["ticket"].get("plugin_timers").is_none(),
        "{}",
        t["ticket"]
    );

    // A second ticket, created at 13:00: its deadline (17:00) passes while
    // the server is down.
    ask(&s, "T-2");
    s.kill_and_restart_with(&[
        "--plugins",
        &plugins,
        "--simulated-clock",
        "2026-03-02T17:30:00Z",
    ]);
    s.clock(r#"{"set": "2026-03-02T17:30:00Z"}"#);
    let esc = s.records_of("T-2", "action.escalate");
    assert_eq!(esc.len(), 1, "fired once when back");
    assert_eq!(esc[0]["recorded_at"], "2026-03-02T17:30:00Z");
    assert!(
        esc[0]["event"]["data"]["reason"]
            .as_str()
            .unwrap()
            .ends_with("(30 min late)"),
        "{}",
        esc[0]
    );

    s.restart();
    s.clock(r#"{"advance": "1d"}"#);
    for t in ["T-1", "T-2"] {
        assert_eq!(s.records_of(t, "plugin.timer").len(), 1, "{t}: not again");
        assert_eq!(
            s.records_of(t, "action.escalate").len(),
            1,
            "{t}: not again"
        );
    }
}
