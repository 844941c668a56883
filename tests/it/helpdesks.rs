//! Help-desk adapters through the real binary: a delivery shaped like the
//! tool's own, posted to `POST /v1/sources/<tool>` with the tool's
//! authentication, creates the ticket; a redelivery is a duplicate; a
//! forged one is refused and stores nothing. Needs `scripts/build-plugins`.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::util::*;

fn fixture(dir: &str, name: &str) -> Vec<u8> {
    std::fs::read(
        repo()
            .join("crates/escalier-plugin/tests/fixtures")
            .join(dir)
            .join(name),
    )
    .unwrap()
}

const ZENDESK_SECRET: &str = "dGhlIHNpZ25pbmcgc2VjcmV0";

/// POST a Zendesk fixture signed as Zendesk signs: base64(HMAC-SHA256(
/// secret, timestamp + body)), the timestamp being now (the server's
/// clock is the real one; the adapter allows 5 minutes either way).
fn zendesk(s: &Server, file: &str, secret: &str) -> Resp {
    let body = fixture("zendesk", file);
    let ts = jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .unwrap()
        .to_string();
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(ts.as_bytes());
    mac.update(&body);
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    s.post_raw(
        "/v1/sources/zendesk",
        &[
            ("content-type", "application/json"),
            ("user-agent", "Zendesk Webhook"),
            ("x-zendesk-webhook-signature", &sig),
            ("x-zendesk-webhook-signature-timestamp", &ts),
        ],
        body,
    )
}

#[test]
fn zendesk_webhooks_become_tickets_once_and_forged_ones_are_refused() {
    let mut s = Server::start_with_plugins(&[], &[("zendesk", None)], &[]);
    s.set_env(&[("ESCALIER_SECRET_ZENDESK_WEBHOOK_SECRET", ZENDESK_SECRET)]);
    s.restart();

    let r = zendesk(&s, "ticket.created.json", ZENDESK_SECRET);
    assert_eq!(r.status, 202, "{}", r.body);
    let r = zendesk(&s, "ticket.comment_added.agent.json", ZENDESK_SECRET);
    assert_eq!(r.status, 202, "{}", r.body);
    let r = zendesk(&s, "ticket.priority_changed.json", ZENDESK_SECRET);
    assert_eq!(r.status, 202, "{}", r.body);
    let seq = r.body["events"][0]["seq"].as_u64().unwrap();
    let t = s.ticket("zendesk:5158", seq);
    let ticket = &t["ticket"];
    assert_eq!(ticket["subject"], "Export to CSV does nothing since Monday");
    assert_eq!(ticket["priority"], "urgent", "{ticket}");
    assert_eq!(ticket["requester"]["id"], "zendesk:user:8447388090494");
    assert!(ticket["tags"].to_string().contains("billing"), "{ticket}");
    assert!(!ticket["first_response_at"].is_null(), "the staff comment");
    assert_eq!(t["timeline"][0]["source"]["kind"], "adapter");
    assert_eq!(t["timeline"][0]["source"]["plugin"], "zendesk");

    // Zendesk retries with a fresh signature: the same event, stored once.
    let again = zendesk(&s, "ticket.created.json", ZENDESK_SECRET);
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["events"][0]["status"], "duplicate");

    // An event type the adapter does not map: understood, nothing stored.
    let other = zendesk(&s, "user.active_changed.json", ZENDESK_SECRET);
    assert_eq!(other.status, 200, "{}", other.body);

    let forged = zendesk(&s, "ticket.status_changed.json", "not the secret");
    assert_eq!(forged.status, 401, "{}", forged.body);
    let unsigned = s.post_raw(
        "/v1/sources/zendesk",
        &[("content-type", "application/json")],
        fixture("zendesk", "ticket.status_changed.json"),
    );
    assert_eq!(unsigned.status, 401, "{}", unsigned.body);
    assert_eq!(s.committed(), seq, "nothing stored after the first three");
    assert_eq!(
        s.ticket("zendesk:5158", seq)["ticket"]["status"],
        "new",
        "the forged status change was not applied"
    );
}

const FRESHDESK_TOKEN: &str = "fd-7Jq2-long-random-token";

fn freshdesk(s: &Server, file: &str, token: &str) -> Resp {
    s.post_raw(
        "/v1/sources/freshdesk",
        &[
            ("content-type", "application/json"),
            ("x-escalier-token", token),
        ],
        fixture("freshdesk", file),
    )
}

#[test]
fn freshdesk_webhooks_become_tickets_once_and_forged_ones_are_refused() {
    let mut s = Server::start_with_plugins(&[], &[("freshdesk", None)], &[]);
    s.set_env(&[("ESCALIER_SECRET_FRESHDESK_WEBHOOK_TOKEN", FRESHDESK_TOKEN)]);
    s.restart();

    let r = freshdesk(&s, "ticket_created.json", FRESHDESK_TOKEN);
    assert_eq!(r.status, 202, "{}", r.body);
    let r = freshdesk(&s, "status_changed.json", FRESHDESK_TOKEN);
    assert_eq!(r.status, 202, "{}", r.body);
    let seq = r.body["events"][0]["seq"].as_u64().unwrap();
    let t = s.ticket("freshdesk:1042", seq);
    let ticket = &t["ticket"];
    assert_eq!(ticket["subject"], "Invoice PDF shows the wrong VAT number");
    assert_eq!(ticket["priority"], "high", "{ticket}");
    assert_eq!(ticket["status"], "pending", "{ticket}");
    assert_eq!(ticket["team"], "freshdesk:group:Billing");
    assert_eq!(ticket["requester"]["id"], "freshdesk:robin@example.com");
    assert_eq!(t["timeline"][0]["source"]["plugin"], "freshdesk");

    let again = freshdesk(&s, "ticket_created.json", FRESHDESK_TOKEN);
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["events"][0]["status"], "duplicate");

    let forged = freshdesk(&s, "status_changed.resolved.json", "a guess");
    assert_eq!(forged.status, 401, "{}", forged.body);
    let basic_wrong = s.post_raw(
        "/v1/sources/freshdesk",
        &[
            ("content-type", "application/json"),
            ("authorization", "Basic ZXNjYWxpZXI6YSBndWVzcw=="),
        ],
        fixture("freshdesk", "status_changed.resolved.json"),
    );
    assert_eq!(basic_wrong.status, 401, "{}", basic_wrong.body);
    assert_eq!(s.committed(), seq, "nothing stored after the first two");
    assert_eq!(
        s.ticket("freshdesk:1042", seq)["ticket"]["status"],
        "pending"
    );
}

#[test]
fn the_shipped_manifests_wait_for_their_secret() {
    let manifest = |name: &str| {
        std::fs::read_to_string(repo().join("plugins").join(name).join("plugin.toml")).unwrap()
    };
    let (zendesk, freshdesk) = (manifest("zendesk"), manifest("freshdesk"));
    let s = Server::start_with_plugins(
        &[],
        &[("zendesk", Some(&zendesk)), ("freshdesk", Some(&freshdesk))],
        &[],
    );
    let list = s.get("/v1/plugins");
    assert_eq!(list.status, 200, "{}", list.body);
    for (dir, needs) in [
        ("zendesk", "ESCALIER_SECRET_ZENDESK_WEBHOOK_SECRET"),
        ("freshdesk", "ESCALIER_SECRET_FRESHDESK_WEBHOOK_TOKEN"),
    ] {
        let p = list.body["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["dir"] == dir)
            .unwrap_or_else(|| panic!("{dir}: {}", list.body));
        assert_eq!(p["status"], "disabled", "{p}");
        assert!(
            p["disabled_reason"].as_str().unwrap_or("").contains(needs),
            "{p}"
        );
        let r = s.post_raw(
            &format!("/v1/sources/{dir}"),
            &[("content-type", "application/json")],
            b"{}".to_vec(),
        );
        assert_eq!(
            r.status, 404,
            "a disabled adapter takes nothing: {}",
            r.body
        );
    }
}

const JIRA_SECRET: &str = "jira-webhook-secret-for-tests";

/// POST a Jira fixture as Jira sends it: `X-Hub-Signature: sha256=<hex
/// HMAC-SHA256(secret, body)>` and the delivery's identifier.
fn jira(s: &Server, file: &str, delivery: &str, secret: Option<&str>) -> Resp {
    let body = fixture("jira", file);
    let mut headers = vec![
        ("content-type", "application/json".to_owned()),
        ("user-agent", "Atlassian Webhook HTTP Client".to_owned()),
        ("x-atlassian-webhook-identifier", delivery.to_owned()),
        ("x-atlassian-webhook-flow", "Primary".to_owned()),
    ];
    if let Some(secret) = secret {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(&body);
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        headers.push(("x-hub-signature", format!("sha256={hex}")));
    }
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    s.post_raw("/v1/sources/jira", &headers, body)
}

/// The `seq` of the last event a delivery stored.
fn last_seq(r: &Resp) -> u64 {
    r.body["events"]
        .as_array()
        .and_then(|e| e.last())
        .and_then(|e| e["seq"].as_u64())
        .unwrap_or_else(|| panic!("no events: {}", r.body))
}

#[test]
fn jira_webhooks_become_tickets_once_and_forged_ones_are_refused() {
    let mut s = Server::start_with_plugins(&[], &[("jira", None)], &[]);
    s.set_env(&[("ESCALIER_SECRET_JIRA_WEBHOOK_SECRET", JIRA_SECRET)]);
    s.restart();

    let mut seq = 0;
    for (i, file) in [
        "issue_created.json",
        "issue_updated.fields.json",
        "comment_created.public.json",
        "comment_created.internal.json",
        "issue_updated.status.json",
    ]
    .iter()
    .enumerate()
    {
        let r = jira(&s, file, &format!("jira-delivery-{i}"), Some(JIRA_SECRET));
        assert_eq!(r.status, 202, "{file}: {}", r.body);
        seq = last_seq(&r);
    }
    let t = s.ticket("jira:HELP-42", seq);
    let ticket = &t["ticket"];
    assert_eq!(
        ticket["subject"],
        "VPN rejects valid passwords (EU gateway)"
    );
    assert_eq!(ticket["priority"], "urgent", "{ticket}");
    assert_eq!(ticket["status"], "pending", "Waiting for customer");
    assert_eq!(ticket["team"], "Identity");
    assert_eq!(ticket["agent"], "jira:5b10ac8d82e05b22cc7d4ef5");
    assert_eq!(ticket["requester"]["name"], "Dana Customer");
    assert!(
        ticket["tags"].to_string().contains("vip-customer"),
        "{ticket}"
    );
    assert!(
        !ticket["first_response_at"].is_null(),
        "the public agent comment"
    );
    assert_eq!(ticket["comment_count"], 2);
    assert_eq!(t["timeline"][0]["source"]["kind"], "adapter");
    assert_eq!(t["timeline"][0]["source"]["plugin"], "jira");

    // Jira retries with the same identifier: a duplicate, stored once.
    let again = jira(
        &s,
        "issue_created.json",
        "jira-delivery-0",
        Some(JIRA_SECRET),
    );
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["events"][0]["status"], "duplicate");
    let again = jira(
        &s,
        "issue_updated.fields.json",
        "jira-delivery-1",
        Some(JIRA_SECRET),
    );
    assert_eq!(again.status, 200, "{}", again.body);
    assert!(
        again.body["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["status"] == "duplicate"),
        "{}",
        again.body
    );

    // An event the adapter does not map: understood, nothing stored.
    let other = jira(
        &s,
        "issue_deleted.json",
        "jira-delivery-9",
        Some(JIRA_SECRET),
    );
    assert_eq!(other.status, 200, "{}", other.body);
    assert_eq!(other.body["events"], serde_json::json!([]));
    assert_eq!(other.body["ignored"], true, "{}", other.body);
    assert!(
        s.get_text("/metrics")
            .lines()
            .any(|l| l.starts_with("escalier_adapter_ignored_total{source=\"jira\"} 1")),
        "the ignored delivery is counted"
    );

    let forged = jira(
        &s,
        "issue_updated.resolved.json",
        "jira-delivery-10",
        Some("not the secret"),
    );
    assert_eq!(forged.status, 401, "{}", forged.body);
    let unsigned = jira(&s, "issue_updated.resolved.json", "jira-delivery-11", None);
    assert_eq!(unsigned.status, 401, "{}", unsigned.body);
    assert_eq!(s.committed(), seq, "nothing stored after the first five");
    assert_eq!(
        s.ticket("jira:HELP-42", seq)["ticket"]["status"],
        "pending",
        "the forged resolution was not applied"
    );
}

const ZAMMAD_TOKEN: &str = "zammad-signature-token-for-tests";

/// POST a Zammad fixture as Zammad sends it: `X-Hub-Signature: sha1=<hex
/// HMAC-SHA1(token, body)>` and the job's delivery id.
fn zammad(s: &Server, body: Vec<u8>, delivery: &str, token: Option<&str>) -> Resp {
    let mut headers = vec![
        ("content-type", "application/json".to_owned()),
        ("user-agent", "Zammad User Agent".to_owned()),
        ("x-zammad-trigger", "Escalier: ticket events".to_owned()),
        ("x-zammad-delivery", delivery.to_owned()),
    ];
    if let Some(token) = token {
        let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(token.as_bytes()).unwrap();
        mac.update(&body);
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        headers.push(("x-hub-signature", format!("sha1={hex}")));
    }
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    s.post_raw("/v1/sources/zammad", &headers, body)
}

#[test]
fn zammad_webhooks_become_tickets_once_and_forged_ones_are_refused() {
    let mut s = Server::start_with_plugins(&[], &[("zammad", None)], &[]);
    s.set_env(&[("ESCALIER_SECRET_ZAMMAD_SIGNATURE_TOKEN", ZAMMAD_TOKEN)]);
    s.restart();

    let mut seq = 0;
    for (i, file) in [
        "ticket.created.json",
        "ticket.updated.reply.json",
        "ticket.updated.note.json",
        "ticket.updated.pending.json",
    ]
    .iter()
    .enumerate()
    {
        let delivery = format!("5d2c0e7a-0000-4000-8000-00000000000{i}");
        let r = zammad(&s, fixture("zammad", file), &delivery, Some(ZAMMAD_TOKEN));
        assert_eq!(r.status, 202, "{file}: {}", r.body);
        seq = last_seq(&r);
    }
    let t = s.ticket("zammad:10081", seq);
    let ticket = &t["ticket"];
    assert_eq!(ticket["subject"], "Espresso machine leaks after descaling");
    assert_eq!(ticket["status"], "pending", "pending reminder");
    assert_eq!(ticket["priority"], "normal", "2 normal");
    assert_eq!(ticket["team"], "Service Desk");
    assert_eq!(ticket["agent"], "zammad:emma@chrispresso.example");
    assert_eq!(ticket["channel"], "email");
    assert_eq!(ticket["requester"]["id"], "zammad:emily@customer.example");
    assert_eq!(ticket["requester"]["vip"], true);
    assert_eq!(ticket["comment_count"], 2, "the reply and the note");
    assert!(
        !ticket["first_response_at"].is_null(),
        "Emma's public reply"
    );
    assert_eq!(t["timeline"][0]["source"]["plugin"], "zammad");

    // Zammad retries the same job: same X-Zammad-Delivery, a duplicate.
    let again = zammad(
        &s,
        fixture("zammad", "ticket.created.json"),
        "5d2c0e7a-0000-4000-8000-000000000000",
        Some(ZAMMAD_TOKEN),
    );
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.body["events"][0]["status"], "duplicate");

    // A custom payload without a ticket: understood, nothing stored.
    let custom = zammad(
        &s,
        br#"{"text":"Ticket 10081 was updated"}"#.to_vec(),
        "5d2c0e7a-0000-4000-8000-000000000009",
        Some(ZAMMAD_TOKEN),
    );
    assert_eq!(custom.status, 200, "{}", custom.body);
    assert_eq!(custom.body["events"], serde_json::json!([]));

    let forged = zammad(
        &s,
        fixture("zammad", "ticket.closed.json"),
        "5d2c0e7a-0000-4000-8000-000000000010",
        Some("not the token"),
    );
    assert_eq!(forged.status, 401, "{}", forged.body);
    let unsigned = zammad(
        &s,
        fixture("zammad", "ticket.closed.json"),
        "5d2c0e7a-0000-4000-8000-000000000011",
        None,
    );
    assert_eq!(unsigned.status, 401, "{}", unsigned.body);
    assert_eq!(s.committed(), seq, "nothing stored after the first four");
    assert_eq!(
        s.ticket("zammad:10081", seq)["ticket"]["status"],
        "pending",
        "the forged close was not applied"
    );
}
