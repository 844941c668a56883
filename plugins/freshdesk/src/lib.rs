//! Freshdesk adapter: maps the "Trigger webhook" action of Freshdesk
//! automation rules, sending the JSON body template in the plugin's
//! README, to Escalier events.
//!
//! **Authentication.** Freshdesk does not sign webhooks. The rule sends a
//! shared secret instead, either in a custom header
//! `X-Escalier-Token: <secret>` or as the password of the webhook's basic
//! authentication (any user name). It is compared with the configured
//! secret in constant time; a missing or wrong secret is `unauthorized`.
//!
//! **Mapping.** Each rule's body names what it means in `event`:
//!
//! | `event` | Escalier |
//! |---|---|
//! | `ticket_created` | `ticket.created` |
//! | `status_changed` | `status.changed` |
//! | `priority_changed` | `ticket.updated` (priority) |
//! | `tags_changed` | `ticket.updated` (the ticket's tags, added) |
//! | `assignment_changed` | `ticket.assigned` (group as team, agent) |
//! | `agent_reply` / `customer_reply` | `comment.added`, public, by an agent / the customer |
//! | `note_added` | `comment.added`, private, by an agent |
//! | `satisfaction_rated` | `csat.received` |
//!
//! Freshdesk placeholders render statuses and priorities by name (`Open`,
//! `Medium`); Freshdesk's numeric codes are taken too (status 2 Open,
//! 3 Pending, 4 Resolved, 5 Closed; priority 1 Low to 4 Urgent).
//! `Waiting on Customer` is `pending` and `Waiting on Third Party` (or
//! any status named "on hold") is `on_hold`; other custom statuses produce
//! no status event.
//!
//! Freshdesk sends no delivery id, so the event id is derived:
//! `fd:<ticket id>:<event>:<hash>`, the hash being the first 12 bytes of
//! SHA-256 of the body, in hex: the same request sent again is a
//! duplicate. The event time is the body's `updated_at` if it has one in
//! RFC 3339, else the request's arrival (`clock.now`).
//!
//! Tickets are `freshdesk:<id>`, people `freshdesk:<email>`, groups
//! `freshdesk:group:<name>`. Every event returned passes Escalier's checks
//! whatever the body (blank subjects named after the ticket, text cut to
//! Escalier's limits, tags it cannot hold dropped, ids cleaned); a body
//! without a ticket id is refused as invalid input, and events the adapter
//! does not map produce no events.

use base64::Engine;
use escalier_plugin_sdk::adapter::{self, cut, header, hex, now};
use escalier_plugin_sdk::{Error, Header, Plugin, config, export_plugin};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const SECRET: &str = "freshdesk_webhook_token";

/// Whether `given` is the secret, in time independent of where they
/// differ and of their lengths (both are hashed to 32 bytes first).
fn same_secret(given: &[u8], secret: &[u8]) -> bool {
    let a = Sha256::digest(given);
    let b = Sha256::digest(secret);
    a.ct_eq(&b).into()
}

/// The password of `Authorization: Basic base64(user:password)`.
fn basic_password(value: &str) -> Option<Vec<u8>> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let colon = raw.iter().position(|&b| b == b':')?;
    Some(raw[colon + 1..].to_vec())
}

fn verify(headers: &[Header]) -> Result<(), Error> {
    let secret = config::secret(SECRET)?;
    if secret.is_empty() {
        return Err(Error::Failed("the Freshdesk webhook token is empty".into()));
    }
    let given = match (
        header(headers, "x-escalier-token"),
        header(headers, "authorization"),
    ) {
        (Some(t), _) => t.trim().as_bytes().to_vec(),
        (None, Some(a)) => basic_password(a).ok_or_else(|| {
            Error::Unauthorized("Authorization is not `Basic` with a user and password".into())
        })?,
        (None, None) => {
            return Err(Error::Unauthorized(
                "no X-Escalier-Token header and no basic authentication".into(),
            ));
        }
    };
    if same_secret(&given, secret.as_bytes()) {
        Ok(())
    } else {
        Err(Error::Unauthorized(
            "the webhook's token does not match the configured secret".into(),
        ))
    }
}

/// An Escalier id: `prefix` + `name` with characters ids do not allow
/// replaced by `_`; when too long, shortened and made unique again with a
/// hash of the original.
fn ident(prefix: &str, name: &str) -> String {
    adapter::ident(prefix, adapter::ID_CHARS, name, "")
}

/// `freshdesk:<id>`; a `/` becomes `_` (Escalier refuses ticket ids with
/// a `.` or `..` path part, which a URL cannot address).
fn ticket_id(id: &str) -> String {
    ident("freshdesk:", &id.replace('/', "_"))
}

fn person(email: &str) -> String {
    ident("freshdesk:", &email.to_lowercase())
}

/// A string or a number as text; null and blanks are absent.
fn text(v: Option<&Value>) -> Option<String> {
    let s = match v? {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    (!s.is_empty()).then_some(s)
}

fn tag(label: &str) -> Option<String> {
    adapter::tag(label, '-')
}

/// Tags from an array or from `{{ticket.tags}}` (comma-separated).
fn tags(v: Option<&Value>) -> Vec<String> {
    let raw: Vec<String> = match v {
        Some(Value::Array(a)) => a.iter().filter_map(|t| text(Some(t))).collect(),
        Some(Value::String(s)) => s.split(',').map(str::to_owned).collect(),
        _ => Vec::new(),
    };
    let mut out: Vec<String> = Vec::new();
    adapter::push_tags(&mut out, raw.iter().filter_map(|t| tag(t)));
    out
}

fn status(s: &str) -> Option<&'static str> {
    let s = s.trim().to_ascii_lowercase().replace(['-', '_'], " ");
    Some(match s.as_str() {
        "2" | "open" => "open",
        "3" | "pending" | "waiting on customer" => "pending",
        "4" | "resolved" => "solved",
        "5" | "closed" => "closed",
        "waiting on third party" | "on hold" | "onhold" => "on_hold",
        _ => return None,
    })
}

fn priority(s: &str) -> Option<&'static str> {
    Some(match s.trim().to_ascii_lowercase().as_str() {
        "1" | "low" => "low",
        "2" | "medium" => "normal",
        "3" | "high" => "high",
        "4" | "urgent" => "urgent",
        _ => return None,
    })
}

/// Freshdesk source (name or code) → Escalier channel.
fn channel(source: Option<&str>) -> &'static str {
    match source.unwrap_or("").trim().to_ascii_lowercase().as_str() {
        "1" | "email" | "10" | "outbound email" => "email",
        "3" | "phone" => "phone",
        "7" | "chat" => "chat",
        "5" | "twitter" | "6" | "facebook" => "social_public",
        "whatsapp" | "sms" | "instagram" => "social_private",
        "e-commerce" | "ecommerce" | "api" => "api",
        _ => "web",
    }
}

/// A Freshdesk rating → a 1–5 score: 1 to 5 as they are; Freshdesk's
/// survey codes 103/102/101/100/-101/-102/-103 and their names.
fn csat(rating: &str) -> Option<i64> {
    let r = rating.trim().to_ascii_lowercase();
    Some(match r.as_str() {
        "103" | "extremely happy" | "awesome" => 5,
        "102" | "very happy" => 4,
        "101" | "happy" => 4,
        "100" | "neutral" | "just okay" => 3,
        "-101" | "unhappy" | "not good" => 2,
        "-102" | "very unhappy" => 1,
        "-103" | "extremely unhappy" => 1,
        _ => return r.parse::<i64>().ok().filter(|n| (1..=5).contains(n)),
    })
}

struct Freshdesk;

impl Plugin for Freshdesk {
    fn adapt(headers: Vec<Header>, body: Vec<u8>) -> Result<Vec<String>, Error> {
        verify(&headers)?;
        let v: Value = serde_json::from_slice(&body)
            .map_err(|e| Error::InvalidInput(format!("not a Freshdesk webhook body: {e}")))?;
        let event = text(v.get("event")).unwrap_or_default();
        let Some(t) = v.get("ticket").filter(|t| t.is_object()) else {
            return Err(Error::InvalidInput(
                "the body has no `ticket` object; use the template in the plugin's README".into(),
            ));
        };
        let ticket = text(t.get("id"))
            .ok_or_else(|| Error::InvalidInput("the body has no `ticket.id`".into()))?;
        let team = text(t.get("group")).map(|g| ident("freshdesk:group:", &g));
        let agent = text(t.get("agent_email")).map(|a| person(&a));
        let requester_email = text(t.get("requester_email"));
        let comment = |public: bool, kind: &str| {
            let (author, field) = match (kind, public) {
                ("customer", _) => (requester_email.clone(), "latest_public_comment"),
                (_, true) => (text(t.get("agent_email")), "latest_public_comment"),
                (_, false) => (text(t.get("agent_email")), "latest_private_comment"),
            };
            let mut who = json!({ "kind": kind });
            if let Some(a) = author {
                who["id"] = json!(person(&a));
            }
            let body = match t.get(field) {
                Some(Value::String(s)) => cut(s, 64 * 1024),
                _ => String::new(),
            };
            (
                "comment.added",
                json!({ "author": who, "public": public, "body": body }),
            )
        };
        let (ty, data) = match event.as_str() {
            "ticket_created" => {
                let subject = match text(t.get("subject")) {
                    Some(s) => cut(&s, 1024),
                    None => cut(&format!("Freshdesk ticket #{ticket}"), 1024),
                };
                let mut requester = Map::new();
                requester.insert(
                    "id".into(),
                    json!(match &requester_email {
                        Some(e) => person(e),
                        None => "freshdesk:unknown".to_owned(),
                    }),
                );
                if let Some(n) = text(t.get("requester_name")) {
                    requester.insert("name".into(), json!(cut(&n, 256)));
                }
                if let Some(e) = requester_email
                    .as_ref()
                    .filter(|e| e.contains('@') && e.len() <= 320)
                {
                    requester.insert("email".into(), json!(e));
                }
                let mut fields = json!({ "freshdesk_ticket": cut(&ticket, 256) });
                if let Some(u) = text(t.get("url")) {
                    fields["freshdesk_url"] = json!(cut(&u, 2048));
                }
                let mut data = json!({
                    "subject": subject,
                    "description": cut(&text(t.get("description")).unwrap_or_default(), 64 * 1024),
                    "requester": requester,
                    "channel": channel(text(t.get("source")).as_deref()),
                    "tags": tags(t.get("tags")),
                    "fields": fields,
                });
                if let Some(p) = text(t.get("priority")).as_deref().and_then(priority) {
                    data["priority"] = json!(p);
                }
                if let Some(s) = text(t.get("status")).as_deref().and_then(status)
                    && matches!(s, "open" | "pending" | "on_hold")
                {
                    data["status"] = json!(s);
                }
                if let Some(a) = &agent {
                    data["agent"] = json!(a);
                }
                if let Some(g) = &team {
                    data["team"] = json!(g);
                }
                ("ticket.created", data)
            }
            "status_changed" => {
                let Some(s) = text(t.get("status")).as_deref().and_then(status) else {
                    return Ok(Vec::new());
                };
                (
                    "status.changed",
                    json!({ "status": s, "reason": "changed in Freshdesk" }),
                )
            }
            "priority_changed" => {
                let Some(p) = text(t.get("priority")).as_deref().and_then(priority) else {
                    return Ok(Vec::new());
                };
                ("ticket.updated", json!({ "priority": p }))
            }
            "tags_changed" => {
                let added = tags(t.get("tags"));
                if added.is_empty() {
                    return Ok(Vec::new());
                }
                ("ticket.updated", json!({ "tags_added": added }))
            }
            "assignment_changed" => {
                if agent.is_none() && team.is_none() {
                    return Ok(Vec::new());
                }
                let mut data = json!({});
                if let Some(a) = &agent {
                    data["agent"] = json!(a);
                }
                if let Some(g) = &team {
                    data["team"] = json!(g);
                }
                ("ticket.assigned", data)
            }
            "agent_reply" => comment(true, "agent"),
            "customer_reply" => comment(true, "customer"),
            "note_added" => comment(false, "agent"),
            "satisfaction_rated" => {
                let s = v.get("satisfaction").unwrap_or(&Value::Null);
                let Some(score) = text(s.get("rating")).as_deref().and_then(csat) else {
                    return Ok(Vec::new());
                };
                let mut data = json!({ "score": score });
                if let Some(c) = text(s.get("comment")) {
                    data["comment"] = json!(cut(&c, 16 * 1024));
                }
                ("csat.received", data)
            }
            _ => return Ok(Vec::new()),
        };
        let at = match text(t.get("updated_at")).map(|u| u.parse::<jiff::Timestamp>()) {
            Some(Ok(ts)) => ts.to_string(),
            _ => now()?,
        };
        let hash = hex(&Sha256::digest(&body)[..12]);
        let id = ident(
            "fd:",
            &format!("{}:{}:{hash}", cut(&ticket, 40), cut(&event, 24)),
        );
        Ok(vec![
            json!({
                "id": id,
                "type": ty,
                "ticket_id": ticket_id(&ticket),
                "occurred_at": at,
                "data": data,
            })
            .to_string(),
        ])
    }
}

export_plugin!(Freshdesk);
