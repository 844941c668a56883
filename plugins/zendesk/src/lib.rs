//! Zendesk adapter: verifies `X-Zendesk-Webhook-Signature` and maps two
//! kinds of Zendesk webhook to Escalier events.
//!
//! **Authentication.** Zendesk signs every webhook request:
//! `X-Zendesk-Webhook-Signature` is base64(HMAC-SHA256(signing secret,
//! timestamp + body)), the timestamp being the exact text of
//! `X-Zendesk-Webhook-Signature-Timestamp` followed directly by the raw
//! body (no separator), as Zendesk's "Verifying webhook authenticity"
//! documents it. The signature is compared in constant time (with each of
//! the secrets when the configured value holds several, separated by
//! whitespace: every Zendesk webhook has its own); a request
//! whose timestamp is more than [`TOLERANCE_MS`] (5 minutes) away from its
//! arrival (`clock.now`, which for an adapter call is the request's
//! arrival) is refused as a replay. Either failure is `unauthorized`.
//!
//! **Event subscriptions** (`{"type": "zen:event-type:ticket.…", "id",
//! "time", "detail": {the ticket}, "event": {the change}}`):
//!
//! | Zendesk `type` | Escalier |
//! |---|---|
//! | `ticket.created` | `ticket.created` |
//! | `ticket.status_changed` | `status.changed` |
//! | `ticket.priority_changed` | `ticket.updated` (priority) |
//! | `ticket.subject_changed` | `ticket.updated` (subject) |
//! | `ticket.tags_changed` | `ticket.updated` (tags added / removed) |
//! | `ticket.agent_assignment_changed` | `ticket.assigned` (agent) |
//! | `ticket.group_assignment_changed` | `ticket.assigned` (team) |
//! | `ticket.comment_added` | `comment.added` (staff are agents, others customers, no author system) |
//!
//! The event id is `zd:<the event's id>`, so a redelivery is a duplicate.
//!
//! **Trigger and automation webhooks** carry the JSON body template in
//! the plugin's README: `{"event": "<what the trigger means>", "ticket":
//! {...}, "satisfaction": {...}}`, filled in by Zendesk placeholders. Their
//! event id is derived: `zdt:<ticket id>@<updated_at>/<hash>`, the hash
//! being the first 12 bytes of SHA-256 of the body, in hex, so the same
//! request sent again is a duplicate.
//!
//! Tickets are `zendesk:<id>`, people `zendesk:user:<id>`, groups
//! `zendesk:group:<id>` (or the group's name, from triggers). Every event
//! returned passes Escalier's checks whatever the payload: a blank subject
//! becomes `Zendesk ticket #<id>`, text is cut to Escalier's limits, tags
//! Escalier cannot hold are dropped and ids are cleaned. A payload that
//! cannot be mapped (no ticket id, an unreadable event time) is refused as
//! invalid input; event types and trigger events the adapter does not map
//! produce no events.
//!
//! **Echoes.** With `integration_user` set in the config (the Zendesk user
//! id the write-back plugin's API token belongs to), a delivery caused by
//! that user (an event whose `detail.actor_id` or comment author is that
//! user, a trigger delivery whose `comment_author_id`, rendered from
//! `{{current_user.id}}`, is that user) produces no events: it is Zendesk
//! reporting back a change Escalier itself made, and recording it again
//! would run the policies that made it a second time.

use base64::Engine;
use escalier_plugin_sdk::adapter::{self, cut, header, hex, now};
use escalier_plugin_sdk::{Error, Header, Plugin, clock, config, export_plugin, log};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// How far the signature timestamp may be from the request's arrival.
pub const TOLERANCE_MS: i64 = 5 * 60 * 1000;

const SECRET: &str = "zendesk_webhook_secret";

/// Milliseconds since the epoch of a signature timestamp: RFC 3339 (what
/// Zendesk sends) or Unix seconds.
fn timestamp_ms(value: &str) -> Option<i64> {
    let v = value.trim();
    if !v.is_empty() && v.len() <= 12 && v.bytes().all(|b| b.is_ascii_digit()) {
        return v.parse::<i64>().ok()?.checked_mul(1000);
    }
    v.parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_millisecond())
}

fn verify(headers: &[Header], body: &[u8]) -> Result<(), Error> {
    let secret = config::secret(SECRET)?;
    let sig = header(headers, "x-zendesk-webhook-signature")
        .ok_or_else(|| Error::Unauthorized("X-Zendesk-Webhook-Signature is missing".into()))?;
    let ts = header(headers, "x-zendesk-webhook-signature-timestamp").ok_or_else(|| {
        Error::Unauthorized("X-Zendesk-Webhook-Signature-Timestamp is missing".into())
    })?;
    let sig = base64::engine::general_purpose::STANDARD
        .decode(sig.trim())
        .map_err(|_| Error::Unauthorized("X-Zendesk-Webhook-Signature is not base64".into()))?;
    // Each Zendesk webhook has its own signing secret: the configured
    // value may hold several, separated by whitespace (one webhook for
    // event subscriptions, one for triggers).
    let mut matched = false;
    for key in secret.split_whitespace() {
        // Every key is tried, so the time taken does not say which matched.
        matched |= adapter::hmac_sha256_matches(key.as_bytes(), &[ts.as_bytes(), body], &sig);
    }
    if !matched {
        return Err(Error::Unauthorized(
            "X-Zendesk-Webhook-Signature does not match the timestamp, body and signing secret"
                .into(),
        ));
    }
    let at = timestamp_ms(ts).ok_or_else(|| {
        Error::Unauthorized("X-Zendesk-Webhook-Signature-Timestamp is not a time".into())
    })?;
    let now = clock::now();
    if now.abs_diff(at) > TOLERANCE_MS as u64 {
        return Err(Error::Unauthorized(format!(
            "the signature timestamp {} is more than 5 minutes from now: a replayed or delayed request",
            cut(ts, 64)
        )));
    }
    Ok(())
}

/// An Escalier id: `prefix` + `name` with characters ids do not allow
/// replaced by `_`; when too long, shortened and made unique again with a
/// hash of the original.
fn ident(prefix: &str, name: &str) -> String {
    adapter::ident(prefix, adapter::ID_CHARS, name, "")
}

/// A string or a number as text; anything else (null, blank) is absent.
fn text(v: Option<&Value>) -> Option<String> {
    let s = match v? {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    (!s.is_empty()).then_some(s)
}

/// An id Zendesk sends as a string or a number; `0`, `-1` and blanks
/// mean "nobody".
fn zid(v: Option<&Value>) -> Option<String> {
    text(v).filter(|s| s != "0" && s != "-1" && s != "null")
}

/// `zendesk:<id>`. A `/` becomes `_`: Escalier refuses ticket ids with a
/// `.` or `..` path part, which a URL cannot address.
fn ticket_id(id: &str) -> String {
    ident("zendesk:", &id.replace('/', "_"))
}

fn person(id: &str) -> String {
    ident("zendesk:user:", id)
}

/// Zendesk tag → Escalier tag: no spaces, at most 64 bytes.
fn tag(label: &str) -> Option<String> {
    adapter::tag(label, '_')
}

/// Tags from an array or from Zendesk's space-separated `{{ticket.tags}}`.
fn tags(v: Option<&Value>) -> Vec<String> {
    let raw: Vec<String> = match v {
        Some(Value::Array(a)) => a.iter().filter_map(|t| text(Some(t))).collect(),
        Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        _ => Vec::new(),
    };
    let mut out: Vec<String> = Vec::new();
    adapter::push_tags(&mut out, raw.iter().filter_map(|t| tag(t)));
    out
}

/// Zendesk status (`OPEN` in events, `Open` or `open` from placeholders,
/// `hold` / `On-hold`) → Escalier status.
fn status(s: &str) -> Option<&'static str> {
    let s = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
    Some(match s.as_str() {
        "new" => "new",
        "open" => "open",
        "pending" => "pending",
        "hold" | "on_hold" | "onhold" => "on_hold",
        "solved" => "solved",
        "closed" => "closed",
        _ => return None,
    })
}

fn priority(s: &str) -> Option<&'static str> {
    Some(match s.trim().to_ascii_lowercase().as_str() {
        "low" => "low",
        "normal" => "normal",
        "high" => "high",
        "urgent" => "urgent",
        _ => return None,
    })
}

/// Zendesk's `via.channel` (or `{{ticket.via}}`) → Escalier channel.
fn channel(via: Option<&str>) -> &'static str {
    let v = via.unwrap_or("").trim().to_ascii_lowercase();
    match v.as_str() {
        "email" | "mail" => "email",
        "chat" | "native_messaging" | "messaging" | "chat_transcript" => "chat",
        "voice" | "phone" | "phone call (incoming)" | "phone call (outgoing)" | "voicemail" => {
            "phone"
        }
        "api" | "web service" | "web_service" | "rule" | "closed_ticket" => "api",
        "twitter" | "facebook" | "instagram" => "social_public",
        "whatsapp" | "line" | "wechat" | "facebook_messenger" | "sms" | "text" => "social_private",
        _ => "web",
    }
}

/// An RFC 3339 time in Escalier's form, or invalid input naming it.
fn rfc3339(what: &str, value: Option<&Value>) -> Result<String, Error> {
    let raw = text(value).ok_or_else(|| Error::InvalidInput(format!("`{what}` is missing")))?;
    raw.parse::<jiff::Timestamp>()
        .map(|t| t.to_string())
        .map_err(|e| {
            Error::InvalidInput(format!(
                "`{what}` {:?} is not an RFC 3339 time: {e}",
                cut(&raw, 64)
            ))
        })
}

fn subject(raw: Option<String>, ticket: &str) -> String {
    match raw {
        Some(s) if !s.trim().is_empty() => cut(s.trim(), 1024),
        _ => cut(&format!("Zendesk ticket #{ticket}"), 1024),
    }
}

/// Escalier's `requester`: an id is required, the name and email only
/// when Escalier would take them.
fn requester(id: Option<String>, name: Option<String>, email: Option<String>) -> Value {
    let mut r = Map::new();
    let id = match (&id, &email) {
        (Some(id), _) => person(id),
        (None, Some(e)) => ident("zendesk:", &e.to_lowercase()),
        (None, None) => "zendesk:unknown".to_owned(),
    };
    r.insert("id".into(), json!(id));
    if let Some(n) = name {
        r.insert("name".into(), json!(cut(&n, 256)));
    }
    if let Some(e) = email.filter(|e| e.contains('@') && e.len() <= 320) {
        r.insert("email".into(), json!(e));
    }
    Value::Object(r)
}

fn comment_body(raw: Option<&Value>) -> String {
    match raw {
        Some(Value::String(s)) => cut(s, 64 * 1024),
        _ => String::new(),
    }
}

struct Mapped {
    ty: &'static str,
    data: Value,
}

/// An event-subscription delivery (`zen:event-type:…`).
fn subscription(v: &Value, ty: &str) -> Result<Vec<String>, Error> {
    let Some(kind) = ty.strip_prefix("zen:event-type:ticket.") else {
        return Ok(Vec::new());
    };
    let detail = v.get("detail").unwrap_or(&Value::Null);
    let event = v.get("event").unwrap_or(&Value::Null);
    let delivery =
        text(v.get("id")).ok_or_else(|| Error::InvalidInput("the event has no `id`".into()))?;
    let ticket = text(detail.get("id"))
        .or_else(|| {
            text(v.get("subject")).and_then(|s| s.strip_prefix("zen:ticket:").map(str::to_owned))
        })
        .ok_or_else(|| Error::InvalidInput("the event names no ticket (`detail.id`)".into()))?;
    let current = event.get("current");
    let mapped = match kind {
        "created" => {
            let mut data = json!({
                "subject": subject(text(detail.get("subject")), &ticket),
                "description": cut(&text(detail.get("description")).unwrap_or_default(), 64 * 1024),
                "requester": requester(zid(detail.get("requester_id")), None, None),
                "channel": channel(detail.pointer("/via/channel").and_then(Value::as_str)),
                "tags": tags(detail.get("tags")),
                "fields": { "zendesk_ticket": cut(&ticket, 256) },
            });
            if let Some(p) = text(detail.get("priority")).as_deref().and_then(priority) {
                data["priority"] = json!(p);
            }
            if let Some(s) = text(detail.get("status")).as_deref().and_then(status)
                && matches!(s, "open" | "pending" | "on_hold")
            {
                data["status"] = json!(s);
            }
            if let Some(a) = zid(detail.get("assignee_id")) {
                data["agent"] = json!(person(&a));
            }
            if let Some(g) = zid(detail.get("group_id")) {
                data["team"] = json!(ident("zendesk:group:", &g));
            }
            Mapped {
                ty: "ticket.created",
                data,
            }
        }
        "status_changed" => {
            let Some(s) = text(current).as_deref().and_then(status) else {
                return Ok(Vec::new());
            };
            let mut data = json!({ "status": s });
            if let Some(p) = text(event.get("previous")) {
                data["reason"] = json!(cut(&format!("changed from {p} in Zendesk"), 1024));
            }
            Mapped {
                ty: "status.changed",
                data,
            }
        }
        "priority_changed" => {
            let Some(p) = text(current).as_deref().and_then(priority) else {
                return Ok(Vec::new());
            };
            Mapped {
                ty: "ticket.updated",
                data: json!({ "priority": p }),
            }
        }
        "subject_changed" => {
            let Some(s) = text(current) else {
                return Ok(Vec::new());
            };
            Mapped {
                ty: "ticket.updated",
                data: json!({ "subject": subject(Some(s), &ticket) }),
            }
        }
        "tags_changed" => {
            let added = tags(event.get("tags_added"));
            let removed = tags(event.get("tags_removed"));
            if added.is_empty() && removed.is_empty() {
                return Ok(Vec::new());
            }
            Mapped {
                ty: "ticket.updated",
                data: json!({ "tags_added": added, "tags_removed": removed }),
            }
        }
        "agent_assignment_changed" | "group_assignment_changed" => {
            // `current` is the new assignee: an id, or an object with one.
            // The ticket in `detail` carries it too.
            let id = match current {
                Some(Value::Object(o)) => zid(o.get("id")),
                other => zid(other),
            }
            .or_else(|| {
                zid(detail.get(if kind == "agent_assignment_changed" {
                    "assignee_id"
                } else {
                    "group_id"
                }))
            });
            let Some(id) = id else {
                // Unassigned: Escalier has no "unassign".
                return Ok(Vec::new());
            };
            let data = if kind == "agent_assignment_changed" {
                json!({ "agent": person(&id) })
            } else {
                json!({ "team": ident("zendesk:group:", &id) })
            };
            Mapped {
                ty: "ticket.assigned",
                data,
            }
        }
        "comment_added" => {
            let c = event.get("comment").unwrap_or(&Value::Null);
            let author = c.get("author").unwrap_or(&Value::Null);
            let kind = match author.get("is_staff") {
                Some(Value::Bool(true)) => "agent",
                Some(Value::Bool(false)) => "customer",
                _ => "system",
            };
            let mut who = json!({ "kind": kind });
            if let Some(id) = zid(author.get("id")) {
                who["id"] = json!(person(&id));
            }
            Mapped {
                ty: "comment.added",
                data: json!({
                    "author": who,
                    "public": !matches!(c.get("is_public"), Some(Value::Bool(false))),
                    "body": comment_body(c.get("body")),
                }),
            }
        }
        _ => return Ok(Vec::new()),
    };
    let at = rfc3339("time", v.get("time"))?;
    Ok(vec![
        json!({
            "id": ident("zd:", &delivery),
            "type": mapped.ty,
            "ticket_id": ticket_id(&ticket),
            "occurred_at": at,
            "data": mapped.data,
        })
        .to_string(),
    ])
}

/// Zendesk's satisfaction rating → a 1–5 score: `good` 5, `bad` 1, or a
/// number from 1 to 5 as it is.
fn csat(rating: &str) -> Option<i64> {
    let r = rating.trim().to_ascii_lowercase();
    match r.as_str() {
        "good" | "good, i'm satisfied" => Some(5),
        "bad" | "bad, i'm unsatisfied" => Some(1),
        _ => r.parse::<i64>().ok().filter(|n| (1..=5).contains(n)),
    }
}

/// A trigger or automation webhook with the README's body template.
fn trigger(v: &Value, body: &[u8]) -> Result<Vec<String>, Error> {
    let event = text(v.get("event")).unwrap_or_default();
    let t = v
        .get("ticket")
        .filter(|t| t.is_object())
        .ok_or_else(|| Error::InvalidInput("the trigger body has no `ticket` object".into()))?;
    let ticket = text(t.get("id"))
        .ok_or_else(|| Error::InvalidInput("the trigger body has no `ticket.id`".into()))?;
    let updated = text(t.get("updated_at"));
    // A time the placeholder did not render as RFC 3339 falls back to the
    // request's arrival.
    let at = match updated.as_deref().map(str::parse::<jiff::Timestamp>) {
        Some(Ok(ts)) => ts.to_string(),
        _ => now()?,
    };
    let team = text(t.get("group")).map(|g| ident("zendesk:group:", &g));
    let agent = zid(t.get("assignee_id")).map(|a| person(&a));
    let comment = |public: bool, kind: &str| {
        let mut who = json!({ "kind": kind });
        if let Some(id) = zid(t.get("comment_author_id")) {
            who["id"] = json!(person(&id));
        }
        let body = if public {
            t.get("latest_public_comment")
        } else {
            t.get("latest_comment")
        };
        Mapped {
            ty: "comment.added",
            data: json!({ "author": who, "public": public, "body": comment_body(body) }),
        }
    };
    let mapped = match event.as_str() {
        "ticket_created" => {
            let mut data = json!({
                "subject": subject(text(t.get("subject")), &ticket),
                "description": cut(&text(t.get("description")).unwrap_or_default(), 64 * 1024),
                "requester": requester(
                    zid(t.get("requester_id")),
                    text(t.get("requester_name")),
                    text(t.get("requester_email")),
                ),
                "channel": channel(text(t.get("via")).as_deref()),
                "tags": tags(t.get("tags")),
                "fields": { "zendesk_ticket": cut(&ticket, 256) },
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
            Mapped {
                ty: "ticket.created",
                data,
            }
        }
        "status_changed" => {
            let Some(s) = text(t.get("status")).as_deref().and_then(status) else {
                return Ok(Vec::new());
            };
            Mapped {
                ty: "status.changed",
                data: json!({ "status": s, "reason": "changed in Zendesk" }),
            }
        }
        "priority_changed" => {
            let Some(p) = text(t.get("priority")).as_deref().and_then(priority) else {
                return Ok(Vec::new());
            };
            Mapped {
                ty: "ticket.updated",
                data: json!({ "priority": p }),
            }
        }
        "tags_changed" => {
            let added = tags(t.get("tags"));
            if added.is_empty() {
                return Ok(Vec::new());
            }
            Mapped {
                ty: "ticket.updated",
                data: json!({ "tags_added": added }),
            }
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
            Mapped {
                ty: "ticket.assigned",
                data,
            }
        }
        "agent_comment" => comment(true, "agent"),
        "customer_comment" => comment(true, "customer"),
        "private_comment" => comment(false, "agent"),
        "satisfaction_rated" => {
            let s = v.get("satisfaction").unwrap_or(&Value::Null);
            let Some(score) = text(s.get("rating")).as_deref().and_then(csat) else {
                return Ok(Vec::new());
            };
            let mut data = json!({ "score": score });
            if let Some(c) = text(s.get("comment")) {
                data["comment"] = json!(cut(&c, 16 * 1024));
            }
            Mapped {
                ty: "csat.received",
                data,
            }
        }
        _ => return Ok(Vec::new()),
    };
    let hash = hex(&Sha256::digest(body)[..12]);
    let id = ident(
        "zdt:",
        &format!(
            "{}@{}/{hash}",
            cut(&ticket, 40),
            cut(updated.as_deref().unwrap_or("-"), 40)
        ),
    );
    Ok(vec![
        json!({
            "id": id,
            "type": mapped.ty,
            "ticket_id": ticket_id(&ticket),
            "occurred_at": at,
            "data": mapped.data,
        })
        .to_string(),
    ])
}

/// The `integration_user` config value as text (a number or a string), if set.
fn integration_user() -> Result<Option<String>, Error> {
    Ok(match config::get::<Value>("integration_user")? {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

/// Whether delivery `v` reports a change made by Zendesk user `user`: the
/// event's actor or the comment's author (event subscriptions), or the
/// trigger's `comment_author_id` (`{{current_user.id}}`, who made the
/// update).
pub fn is_echo(v: &Value, user: &str) -> bool {
    let is = |x: Option<&Value>| zid(x).is_some_and(|id| id == user);
    if v.get("type").and_then(Value::as_str).is_some() {
        is(v.pointer("/detail/actor_id")) || is(v.pointer("/event/comment/author/id"))
    } else {
        is(v.pointer("/ticket/comment_author_id"))
    }
}

struct Zendesk;

impl Plugin for Zendesk {
    fn adapt(headers: Vec<Header>, body: Vec<u8>) -> Result<Vec<String>, Error> {
        verify(&headers, &body)?;
        let v: Value = serde_json::from_slice(&body)
            .map_err(|e| Error::InvalidInput(format!("not a Zendesk webhook body: {e}")))?;
        if !v.is_object() {
            return Err(Error::InvalidInput(
                "a Zendesk webhook body is a JSON object".into(),
            ));
        }
        if let Some(user) = integration_user()?
            && is_echo(&v, &user)
        {
            log::info("ignored: an echo of a change made by the integration user");
            return Ok(Vec::new());
        }
        match v.get("type") {
            Some(Value::String(ty)) if ty.starts_with("zen:event-type:") => subscription(&v, ty),
            _ if v.get("ticket").is_some() => trigger(&v, &body),
            // A webhook test from Zendesk's settings, or another template.
            _ => Ok(Vec::new()),
        }
    }
}

export_plugin!(Zendesk);
