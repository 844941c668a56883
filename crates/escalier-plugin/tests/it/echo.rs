//! Echo-loop suppression in the Zendesk, Jira and Zammad adapters as
//! shipped: with `integration_user` set, a signed delivery caused by that
//! user (a write-back coming back as a webhook) maps to no events, while
//! the same delivery by anyone else still maps; without it nothing is
//! suppressed; and the signature is still checked first.

use base64::Engine;
use escalier_core::{ManualClock, Timestamp};
use escalier_plugin::{AdaptError, PluginRegistry, Secrets};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha1::Sha1;
use sha2::Sha256;

use crate::util::*;

/// The shipped manifest of adapter `plugin`, enabled, with
/// `integration_user = <value>` (TOML) when given.
fn manifest(plugin: &str, integration_user: Option<&str>) -> String {
    let shipped = std::fs::read_to_string(example(plugin).join("plugin.toml")).unwrap();
    shipped
        .lines()
        .filter(|l| !l.starts_with("enabled =") && !l.starts_with("disabled_reason ="))
        .map(|l| {
            if l.starts_with("time_ms = ") {
                "time_ms = 5000".to_owned()
            } else if l.starts_with("# integration_user = ") {
                match integration_user {
                    Some(v) => format!("integration_user = {v}"),
                    None => l.to_owned(),
                }
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn adapter_host(
    plugin: &str,
    secret: (&str, &str),
    integration_user: Option<&str>,
    now: Option<&str>,
) -> Host {
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(plugin, integration_user);
    if integration_user.is_some() {
        assert!(m.contains("\nintegration_user = "), "{m}");
    }
    install(dir.path(), &example(plugin), plugin, Some(&m));
    let mut c = config(dir.path());
    let mut secrets = Secrets::none();
    secrets.insert(secret.0, secret.1);
    c.secrets = secrets;
    if let Some(now) = now {
        c.clock = std::sync::Arc::new(ManualClock::new(now.parse::<Timestamp>().unwrap()));
    }
    let (registry, report) = PluginRegistry::open(c).unwrap();
    assert!(report.failed.is_empty(), "{:#?}", report.failed);
    Host { dir, registry }
}

fn fixture(tool: &str, name: &str) -> Value {
    serde_json::from_slice(&fixture_payload(tool, name)).unwrap()
}

// Zendesk: base64 HMAC-SHA256 of the timestamp then the body.

const ZD_SECRET: &str = "dGhlIHNpZ25pbmcgc2VjcmV0";
const ZD_NOW: &str = "2026-03-02T12:00:00Z";
const ZD_AT: &str = "2026-03-02T11:59:30Z";
/// The write-back's API user.
const ZD_USER: &str = "8447388090499";

fn zendesk(h: &Host, v: &Value) -> Result<Vec<escalier_core::Event>, AdaptError> {
    zendesk_signed(h, v, ZD_SECRET)
}

fn zendesk_signed(
    h: &Host,
    v: &Value,
    secret: &str,
) -> Result<Vec<escalier_core::Event>, AdaptError> {
    let body = v.to_string().into_bytes();
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(ZD_AT.as_bytes());
    mac.update(&body);
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    h.set().adapt(
        "zendesk",
        &[
            ("Content-Type".to_owned(), "application/json".to_owned()),
            ("X-Zendesk-Webhook-Signature".to_owned(), sig),
            (
                "X-Zendesk-Webhook-Signature-Timestamp".to_owned(),
                ZD_AT.to_owned(),
            ),
        ],
        &body,
    )
}

fn zendesk_host(user: Option<&str>) -> Host {
    adapter_host(
        "zendesk",
        ("zendesk_webhook_secret", ZD_SECRET),
        user,
        Some(ZD_NOW),
    )
}

#[test]
fn zendesk_events_by_the_integration_user_are_echoes() {
    // Configured as a number, the way Zendesk shows user ids.
    let h = zendesk_host(Some(ZD_USER));
    for file in [
        "ticket.group_assignment_changed.json",
        "ticket.priority_changed.json",
        "ticket.tags_changed.json",
        "ticket.agent_assignment_changed.json",
    ] {
        let mut v = fixture("zendesk", file);
        assert_eq!(zendesk(&h, &v).unwrap().len(), 1, "{file} by an agent");
        v["detail"]["actor_id"] = ZD_USER.into();
        assert!(
            zendesk(&h, &v).unwrap().is_empty(),
            "{file} by the integration user"
        );
    }
    // The internal note the write-back adds comes back as comment_added:
    // its author is the integration user.
    let mut v = fixture("zendesk", "ticket.comment_added.private.json");
    assert_eq!(zendesk(&h, &v).unwrap().len(), 1);
    v["event"]["comment"]["author"]["id"] = ZD_USER.into();
    assert!(zendesk(&h, &v).unwrap().is_empty());
}

#[test]
fn zendesk_trigger_deliveries_by_the_integration_user_are_echoes() {
    let h = zendesk_host(Some(&format!("\"{ZD_USER}\"")));
    let mut v = fixture("zendesk", "trigger.assignment_changed.json");
    assert_eq!(zendesk(&h, &v).unwrap().len(), 1);
    // `comment_author_id` is `{{current_user.id}}`: who made the update.
    v["ticket"]["comment_author_id"] = ZD_USER.into();
    assert!(zendesk(&h, &v).unwrap().is_empty());
}

#[test]
fn zendesk_without_an_integration_user_suppresses_nothing() {
    let h = zendesk_host(None);
    let mut v = fixture("zendesk", "ticket.group_assignment_changed.json");
    v["detail"]["actor_id"] = ZD_USER.into();
    assert_eq!(zendesk(&h, &v).unwrap().len(), 1);
}

#[test]
fn zendesk_echoes_are_still_authenticated() {
    let h = zendesk_host(Some(ZD_USER));
    let mut v = fixture("zendesk", "ticket.group_assignment_changed.json");
    v["detail"]["actor_id"] = ZD_USER.into();
    let e = zendesk_signed(&h, &v, "not the secret").unwrap_err();
    assert_eq!(e.http_status(), 401, "{e}");
}

// Jira: X-Hub-Signature sha256= hex HMAC of the body.

const JIRA_SECRET: &str = "jira-webhook-secret-for-tests";
/// The accountId of the write-back's API account.
const JIRA_USER: &str = "712020:4f1e2d3c-escalier-bot";

fn jira(h: &Host, v: &Value) -> Result<Vec<escalier_core::Event>, AdaptError> {
    let body = v.to_string().into_bytes();
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(JIRA_SECRET.as_bytes()).unwrap();
    mac.update(&body);
    let sig = format!("sha256={}", hex(&mac.finalize().into_bytes()));
    h.set().adapt(
        "jira",
        &[
            ("Content-Type".to_owned(), "application/json".to_owned()),
            (
                "X-Atlassian-Webhook-Identifier".to_owned(),
                "3f1c2a7e-5b9d-4c8e-a1f0-7d6e5c4b3a21".to_owned(),
            ),
            ("X-Hub-Signature".to_owned(), sig),
        ],
        &body,
    )
}

fn jira_host(user: Option<&str>) -> Host {
    adapter_host("jira", ("jira_webhook_secret", JIRA_SECRET), user, None)
}

#[test]
fn jira_changes_and_comments_by_the_integration_account_are_echoes() {
    let h = jira_host(Some(&format!("\"{JIRA_USER}\"")));
    let mut v = fixture("jira", "issue_updated.fields.json");
    assert!(!jira(&h, &v).unwrap().is_empty(), "by an agent");
    v["user"]["accountId"] = JIRA_USER.into();
    assert!(jira(&h, &v).unwrap().is_empty(), "by the integration user");

    let mut v = fixture("jira", "comment_created.internal.json");
    assert_eq!(jira(&h, &v).unwrap().len(), 1);
    v["comment"]["author"]["accountId"] = JIRA_USER.into();
    assert!(jira(&h, &v).unwrap().is_empty());

    // An edit is the updater's, whoever wrote the comment first.
    let mut v = fixture("jira", "comment_updated.json");
    assert_eq!(jira(&h, &v).unwrap().len(), 1);
    v["comment"]["updateAuthor"] = serde_json::json!({ "accountId": JIRA_USER });
    assert!(jira(&h, &v).unwrap().is_empty());
}

#[test]
fn jira_without_an_integration_user_suppresses_nothing() {
    let h = jira_host(None);
    let mut v = fixture("jira", "issue_updated.fields.json");
    v["user"]["accountId"] = JIRA_USER.into();
    assert!(!jira(&h, &v).unwrap().is_empty());
}

// Zammad: X-Hub-Signature sha1= hex HMAC-SHA1 of the body.

const ZAMMAD_TOKEN: &str = "zammad-signature-token-for-tests";
const ZAMMAD_LOGIN: &str = "escalier-bot@chrispresso.example";
const ZAMMAD_ID: i64 = 17;

fn zammad(h: &Host, v: &Value) -> Result<Vec<escalier_core::Event>, AdaptError> {
    let body = v.to_string().into_bytes();
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(ZAMMAD_TOKEN.as_bytes()).unwrap();
    mac.update(&body);
    let sig = format!("sha1={}", hex(&mac.finalize().into_bytes()));
    h.set().adapt(
        "zammad",
        &[
            ("Content-Type".to_owned(), "application/json".to_owned()),
            (
                "X-Zammad-Delivery".to_owned(),
                "8c1f7e1a-2b3d-4e5f-9a8b-7c6d5e4f3a2b".to_owned(),
            ),
            ("X-Hub-Signature".to_owned(), sig),
        ],
        &body,
    )
}

fn zammad_host(user: &str) -> Host {
    adapter_host(
        "zammad",
        ("zammad_signature_token", ZAMMAD_TOKEN),
        Some(user),
        None,
    )
}

fn by_bot(v: &mut Value, key: &str) {
    v[key] = serde_json::json!({ "id": ZAMMAD_ID, "login": ZAMMAD_LOGIN, "email": ZAMMAD_LOGIN });
    v[format!("{key}_id")] = ZAMMAD_ID.into();
}

#[test]
fn zammad_articles_by_the_integration_user_are_echoes() {
    for user in [format!("\"{ZAMMAD_LOGIN}\""), ZAMMAD_ID.to_string()] {
        let h = zammad_host(&user);
        let mut v = fixture("zammad", "ticket.updated.note.json");
        assert!(!zammad(&h, &v).unwrap().is_empty(), "{user}: by an agent");
        // The write-back's internal note.
        by_bot(&mut v["article"], "created_by");
        assert!(zammad(&h, &v).unwrap().is_empty(), "{user}: its own note");
    }
}

#[test]
fn zammad_updates_without_an_article_by_the_integration_user_are_echoes() {
    let h = zammad_host(&format!("\"{ZAMMAD_LOGIN}\""));
    let mut v = fixture("zammad", "ticket.updated.note.json");
    v["article"] = serde_json::json!({});
    assert!(!zammad(&h, &v).unwrap().is_empty(), "updated by an agent");
    by_bot(&mut v["ticket"], "updated_by");
    assert!(zammad(&h, &v).unwrap().is_empty(), "its own group change");

    // Someone else's article on a ticket the integration user updated
    // last is news, not an echo.
    let mut v = fixture("zammad", "ticket.updated.note.json");
    by_bot(&mut v["ticket"], "updated_by");
    assert!(!zammad(&h, &v).unwrap().is_empty());
}
