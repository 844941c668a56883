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
