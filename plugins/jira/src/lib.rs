//! Jira Service Management adapter: verifies `X-Hub-Signature`
//! (`sha256=` and the hex HMAC-SHA256 of the raw body with the webhook's
//! secret, compared in constant time) and maps Jira webhooks to Escalier
//! events.
//!
//! | Jira `webhookEvent` | Escalier |
//! |---|---|
//! | `jira:issue_created` | `ticket.created` (summary, description, reporter, priority, labels as tags, status, first component as team, assignee as agent) |
//! | `jira:issue_updated`, changelog `summary` / `priority` / `labels` | `ticket.updated` (subject, priority, tags added and removed) |
//! | `jira:issue_updated`, changelog `assignee` / `Component` / `Team` | `ticket.assigned` (agent, team) |
//! | `jira:issue_updated`, changelog `status` | `status.changed` (by status category, below) |
//! | `comment_created` | `comment.added` (internal comments private) |
//! | `comment_updated` | `comment.added`: a private system note quoting the edited comment |
//!
//! Statuses go by the issue's status category: `new` (To Do) is `new` on
//! creation and `open` afterwards (Escalier never moves back to `new`),
//! `done` is `solved` (not `closed`: a Jira issue can be reopened), and
//! `indeterminate` is `open`, except a status named like "Waiting for
//! customer" (`pending`, waiting on the customer) or "Pending", "On hold",
//! "Waiting for third party / vendor / approval" (`on_hold`, waiting on
//! someone else). Priorities: Highest, Blocker, Critical → urgent; High,
//! Major → high; Medium → normal; Low, Lowest, Minor, Trivial → low;
//! any other name leaves the priority alone.
//!
//! A comment is internal when its `sd.public.comment` property says
//! `"internal": true`, when `jsdPublic` is false, or when it is restricted
//! to a role or group (`visibility`). Its author is a customer when the
//! account is a Jira Service Management customer account (`accountType`
//! `customer`) or the issue's reporter, the system when it is an app, and
//! an agent otherwise. `jira:issue_updated` deliveries that only carry a
//! comment produce nothing: the comment arrives as `comment_created`.
//!
//! The ticket id is `jira:<issue key>`; event ids are
//! `jira:<X-Atlassian-Webhook-Identifier>` (plus `:fields`,
//! `:assignment` or `:status` when one delivery maps to several events),
//! so a retry (same identifier) is a duplicate Escalier drops. People are
//! `jira:<accountId>` (`key` or `name` on Data Center). The event time is
//! the delivery's `timestamp`. Other webhook events produce nothing.
//!
//! **Echoes.** With `integration_user` set in the config (the accountId of
//! the account the write-back plugin's API token belongs to), a delivery
//! caused by that account (`user`, who made an issue change, or the
//! comment's `author` / `updateAuthor`) produces no events: it is Jira
//! reporting back a change Escalier itself made, and recording it again
//! would run the policies that made it a second time.

use escalier_plugin_sdk::adapter::{self, MAX_ID, MAX_TEXT, cut, header, name, unhex};
use escalier_plugin_sdk::{Error, Header, Plugin, config, export_plugin, log};
use serde_json::{Value, json};

/// `X-Hub-Signature: sha256=<hex HMAC-SHA256 of the body>`.
fn verify(headers: &[Header], body: &[u8]) -> Result<(), Error> {
    let secret = config::secret("jira_webhook_secret")?;
    let sig = header(headers, "x-hub-signature").ok_or_else(|| {
        Error::Unauthorized("X-Hub-Signature is missing; set a secret on the Jira webhook".into())
    })?;
    let sig = sig
        .strip_prefix("sha256=")
        .and_then(unhex)
        .ok_or_else(|| Error::Unauthorized("X-Hub-Signature is not `sha256=<hex>`".into()))?;
    if adapter::hmac_sha256_matches(secret.as_bytes(), &[body], &sig) {
        Ok(())
    } else {
        Err(Error::Unauthorized(
            "X-Hub-Signature does not match the body and secret".into(),
        ))
    }
}

fn text<'a>(v: &'a Value, ptr: &str) -> Option<&'a str> {
    v.pointer(ptr)?.as_str()
}

/// An Escalier id: `jira:` + `name` + `suffix`, characters ids do not
/// allow replaced by `_` (`/` and `#` too, so the id is one URL path
/// part), and when too long a readable prefix plus a hash of the whole.
fn ident(name: &str, suffix: &str) -> String {
    adapter::ident("jira:", "._~:@+-", name, suffix)
}

/// A Jira user (Cloud `accountId`, Data Center `key` or `name`) as an id.
fn person(user: &Value) -> Option<String> {
    ["accountId", "key", "name"]
        .iter()
        .find_map(|k| user.get(k)?.as_str().filter(|s| !s.trim().is_empty()))
        .map(|id| ident(id, ""))
}

/// Jira label → Escalier tag: lower case, no spaces, at most 64 bytes.
fn tag(label: &str) -> Option<String> {
    adapter::tag(label, '-')
}

fn tags<'a>(labels: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    adapter::push_tags(&mut out, labels.filter_map(tag));
    out
}

fn priority(name: &str) -> Option<&'static str> {
    match name.trim().to_lowercase().as_str() {
        "highest" | "blocker" | "critical" => Some("urgent"),
        "high" | "major" => Some("high"),
        "medium" => Some("normal"),
        "low" | "lowest" | "minor" | "trivial" => Some("low"),
        _ => None,
    }
}

/// Escalier status for a Jira status name and category key.
fn status(name: &str, category: Option<&str>) -> Option<&'static str> {
    let n = name.trim().to_lowercase();
    let category = category.unwrap_or(match n.as_str() {
        "done" | "resolved" | "closed" | "canceled" | "cancelled" => "done",
        "to do" | "open" | "new" | "backlog" => "new",
        _ => "indeterminate",
    });
    match category {
        "new" => Some("new"),
        "done" => Some("solved"),
        "indeterminate" => Some(
            if [
                "waiting for customer",
                "awaiting customer",
                "waiting for reporter",
            ]
            .iter()
            .any(|w| n.contains(w))
            {
                "pending"
            } else if [
                "pending",
                "hold",
                "waiting for third party",
                "waiting for vendor",
                "waiting for approval",
                "awaiting approval",
            ]
            .iter()
            .any(|w| n.contains(w))
            {
                "on_hold"
            } else {
                "open"
            },
        ),
        _ => None,
    }
}

/// The issue's current status: (Escalier status, Jira status name).
fn issue_status(issue: &Value) -> Option<(&'static str, String)> {
    let st = issue.pointer("/fields/status")?;
    let n = text(st, "/name")?;
    Some((
        status(n, text(st, "/statusCategory/key"))?,
        cut(n.trim(), 200),
    ))
}

/// Jira text fields are plain strings (REST v2 shape, what webhooks send)
/// or Atlassian Document Format: take the text nodes of the latter.
fn plain(v: Option<&Value>) -> String {
    fn walk(v: &Value, out: &mut String, depth: usize) {
        if depth > 40 || out.len() > MAX_TEXT {
            return;
        }
        match v {
            Value::Object(m) => {
                if let Some(Value::String(t)) = m.get("text") {
                    out.push_str(t);
                }
                if let Some(c) = m.get("content") {
                    walk(c, out, depth + 1);
                }
                if matches!(
                    m.get("type").and_then(Value::as_str),
                    Some("paragraph" | "heading")
                ) {
                    out.push('\n');
                }
            }
            Value::Array(a) => a.iter().for_each(|c| walk(c, out, depth + 1)),
            _ => {}
        }
    }
    match v {
        Some(Value::String(s)) => cut(s, MAX_TEXT),
        Some(other) => {
            let mut out = String::new();
            walk(other, &mut out, 0);
            cut(out.trim_end(), MAX_TEXT)
        }
        None => String::new(),
    }
}

fn event(id: String, ty: &str, ticket: &str, at: &str, data: Value) -> String {
    json!({ "id": id, "type": ty, "ticket_id": ticket, "occurred_at": at, "data": data })
        .to_string()
}

/// The Escalier events for a `jira:issue_created` delivery.
fn created(d: &Value, issue: &Value, base: &str, ticket: &str, at: &str) -> Vec<String> {
    let f = issue.get("fields").unwrap_or(&Value::Null);
    let reporter = f
        .get("reporter")
        .filter(|r| r.is_object())
        .or_else(|| d.get("user"));
    let mut requester = json!({
        "id": reporter.and_then(person).unwrap_or_else(|| "jira:unknown".into())
    });
    if let Some(r) = reporter {
        if let Some(n) = name(text(r, "/displayName"), 256) {
            requester["name"] = json!(n);
        }
        if let Some(e) = text(r, "/emailAddress")
            .map(str::trim)
            .filter(|e| e.contains('@') && e.len() <= 320)
        {
            requester["email"] = json!(e);
        }
    }
    let labels = f
        .get("labels")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str);
    let key = text(issue, "/key").unwrap_or_default();
    let mut fields = json!({ "jira_key": cut(key, 256) });
    if let Some(url) = text(issue, "/self")
        .and_then(|s| s.split_once("/rest/api/"))
        .map(|(site, _)| format!("{}/browse/{}", cut(site, 512), cut(key, 256)))
    {
        fields["jira_url"] = json!(url);
    }
    if let Some(p) = text(f, "/project/key") {
        fields["jira_project"] = json!(cut(p, 256));
    }
    if let Some(t) = text(f, "/issuetype/name") {
        fields["jira_issue_type"] = json!(cut(t, 256));
    }
    let subject = name(text(f, "/summary"), 1024).unwrap_or_else(|| "(no summary)".into());
    let mut data = json!({
        "subject": subject,
        "description": plain(f.get("description")),
        "requester": requester,
        "channel": "web",
        "tags": tags(std::iter::once("jira").chain(labels)),
        "fields": fields,
    });
    if let Some(p) = text(f, "/priority/name").and_then(priority) {
        data["priority"] = json!(p);
    }
    let st = issue_status(issue);
    if let Some((s @ ("new" | "open" | "pending" | "on_hold"), _)) = &st {
        data["status"] = json!(s);
    }
    if let Some(team) = f
        .get("components")
        .and_then(Value::as_array)
        .and_then(|c| c.iter().find_map(|c| name(text(c, "/name"), MAX_ID)))
    {
        data["team"] = json!(team);
    }
    if let Some(a) = f.get("assignee").and_then(person) {
        data["agent"] = json!(a);
    }
    let mut out = vec![event(
        format!("jira:{base}"),
        "ticket.created",
        ticket,
        at,
        data,
    )];
    // Created straight into a done status: Escalier creates tickets open
    // at most, so the solve follows as its own event.
    if let Some(("solved", n)) = st {
        out.push(event(
            format!("jira:{base}:status"),
            "status.changed",
            ticket,
            at,
            json!({ "status": "solved", "reason": format!("created in Jira status {n}") }),
        ));
    }
    out
}

/// The Escalier events for the changelog of a `jira:issue_updated` delivery.
fn updated(d: &Value, issue: &Value, base: &str, ticket: &str, at: &str) -> Vec<String> {
    let f = issue.get("fields").unwrap_or(&Value::Null);
    let items = d
        .pointer("/changelog/items")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut update = serde_json::Map::new();
    let mut assign = serde_json::Map::new();
    let mut status_change = None;
    for item in items {
        let field = text(item, "/field").unwrap_or_default().to_lowercase();
        let to = text(item, "/toString");
        match field.as_str() {
            "summary" => {
                if let Some(s) = name(text(f, "/summary").or(to), 1024) {
                    update.insert("subject".into(), json!(s));
                }
            }
            "priority" => {
                if let Some(p) = text(f, "/priority/name").or(to).and_then(priority) {
                    update.insert("priority".into(), json!(p));
                }
            }
            "labels" => {
                let from = tags(
                    text(item, "/fromString")
                        .unwrap_or_default()
                        .split_whitespace(),
                );
                let to = tags(to.unwrap_or_default().split_whitespace());
                let added: Vec<&String> = to.iter().filter(|t| !from.contains(t)).collect();
                let removed: Vec<&String> = from.iter().filter(|t| !to.contains(t)).collect();
                if !added.is_empty() {
                    update.insert("tags_added".into(), json!(added));
                }
                if !removed.is_empty() {
                    update.insert("tags_removed".into(), json!(removed));
                }
            }
            "assignee" => {
                let agent = f
                    .get("assignee")
                    .and_then(person)
                    .or_else(|| name(text(item, "/to"), 1024).map(|a| ident(&a, "")));
                // Unassigned in Jira: Escalier has no "nobody"; left as it was.
                if let Some(a) = agent {
                    assign.insert("agent".into(), json!(a));
                }
            }
            "component" | "team" => {
                if let Some(t) = name(to, MAX_ID) {
                    assign.insert("team".into(), json!(t));
                }
            }
            "status" => {
                let st = issue_status(issue).or_else(|| {
                    let n = to?;
                    Some((status(n, None)?, cut(n.trim(), 200)))
                });
                if let Some((s, n)) = st {
                    let s = if s == "new" { "open" } else { s };
                    let from = cut(text(item, "/fromString").unwrap_or("?").trim(), 200);
                    status_change = Some(json!({
                        "status": s,
                        "reason": format!("Jira status {from} → {n}"),
                    }));
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    if !update.is_empty() {
        out.push(event(
            format!("jira:{base}:fields"),
            "ticket.updated",
            ticket,
            at,
            Value::Object(update),
        ));
    }
    if !assign.is_empty() {
        out.push(event(
            format!("jira:{base}:assignment"),
            "ticket.assigned",
            ticket,
            at,
            Value::Object(assign),
        ));
    }
    if let Some(data) = status_change {
        out.push(event(
            format!("jira:{base}:status"),
            "status.changed",
            ticket,
            at,
            data,
        ));
    }
    out
}

/// Internal (agents only) per Jira Service Management.
fn internal(c: &Value) -> bool {
    let property = c
        .get("properties")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|p| text(p, "/key") == Some("sd.public.comment"))
        .and_then(|p| p.pointer("/value/internal"));
    matches!(property, Some(Value::Bool(true)))
        || matches!(property, Some(Value::String(s)) if s == "true")
        || c.get("jsdPublic") == Some(&Value::Bool(false))
        || c.get("visibility").is_some_and(Value::is_object)
}

fn comment(
    d: &Value,
    issue: &Value,
    base: &str,
    ticket: &str,
    at: &str,
    edit: bool,
) -> Vec<String> {
    let Some(c) = d.get("comment").filter(|c| c.is_object()) else {
        return Vec::new();
    };
    let body = plain(c.get("body"));
    if edit {
        let who = c
            .get("updateAuthor")
            .or_else(|| c.get("author"))
            .and_then(|a| name(text(a, "/displayName"), 200))
            .unwrap_or_else(|| "someone".into());
        let id = cut(text(c, "/id").unwrap_or("?"), 64);
        let note = format!("Jira comment {id} edited by {who}:\n\n");
        return vec![event(
            format!("jira:{base}"),
            "comment.added",
            ticket,
            at,
            json!({
                "author": { "kind": "system", "id": "jira" },
                "public": false,
                "body": cut(&format!("{note}{body}"), MAX_TEXT),
            }),
        )];
    }
    let author = c.get("author").filter(|a| a.is_object());
    let id = author.and_then(person);
    let reporter = issue.pointer("/fields/reporter").and_then(person);
    let kind = match author.and_then(|a| text(a, "/accountType")) {
        Some("customer") => "customer",
        Some("app") => "system",
        _ if id.is_some() && id == reporter => "customer",
        _ => "agent",
    };
    let mut who = json!({ "kind": kind });
    if let Some(id) = id {
        who["id"] = json!(id);
    }
    vec![event(
        format!("jira:{base}"),
        "comment.added",
        ticket,
        at,
        json!({ "author": who, "public": !internal(c), "body": body }),
    )]
}

/// The `integration_user` config value, if set.
fn integration_user() -> Result<Option<String>, Error> {
    Ok(match config::get::<Value>("integration_user")? {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        _ => None,
    })
}

/// Whether delivery `d` reports a change made by Jira account `user`
/// (Cloud `accountId`, Data Center `key` or `name`): the issue event's
/// `user`, or the comment's author (its `updateAuthor` for an edit).
pub fn is_echo(d: &Value, user: &str) -> bool {
    let is = |who: Option<&Value>| {
        who.is_some_and(|w| {
            ["accountId", "key", "name"]
                .iter()
                .any(|k| w.get(k).and_then(Value::as_str).map(str::trim) == Some(user))
        })
    };
    match d.get("webhookEvent").and_then(Value::as_str) {
        Some("comment_created") => is(d.pointer("/comment/author")),
        Some("comment_updated") => is(d
            .pointer("/comment/updateAuthor")
            .or_else(|| d.pointer("/comment/author"))),
        _ => is(d.get("user")),
    }
}

struct Jira;

impl Plugin for Jira {
    fn adapt(headers: Vec<Header>, body: Vec<u8>) -> Result<Vec<String>, Error> {
        verify(&headers, &body)?;
        let d: Value = serde_json::from_slice(&body)
            .map_err(|e| Error::InvalidInput(format!("not a Jira webhook payload: {e}")))?;
        let kind = d
            .get("webhookEvent")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::InvalidInput("`webhookEvent` is missing".into()))?;
        let edit = match kind {
            "jira:issue_created" | "jira:issue_updated" | "comment_created" => false,
            "comment_updated" => true,
            _ => return Ok(Vec::new()),
        };
        if let Some(user) = integration_user()?
            && is_echo(&d, &user)
        {
            log::info("ignored: an echo of a change made by the integration user");
            return Ok(Vec::new());
        }
        let delivery = header(&headers, "x-atlassian-webhook-identifier")
            .filter(|d| {
                !d.is_empty()
                    && d.len() <= 100
                    && d.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
            })
            .ok_or_else(|| {
                Error::InvalidInput("X-Atlassian-Webhook-Identifier is missing or malformed".into())
            })?;
        let issue = d
            .get("issue")
            .filter(|i| i.is_object())
            .ok_or_else(|| Error::InvalidInput(format!("`{kind}` without `issue`")))?;
        let key = text(issue, "/key")
            .filter(|k| !k.trim().is_empty())
            .ok_or_else(|| Error::InvalidInput("the issue has no `key`".into()))?;
        let ticket = ident(key.trim(), "");
        let ms = d
            .get("timestamp")
            .and_then(Value::as_i64)
            .ok_or_else(|| Error::InvalidInput("`timestamp` is missing or not a number".into()))?;
        // Escalier takes RFC 3339 times: years 0001 to 9999 only.
        let at = jiff::Timestamp::from_millisecond(ms)
            .ok()
            .filter(adapter::four_digit_year)
            .ok_or_else(|| {
                Error::InvalidInput(format!("`timestamp` {ms} is not a time Escalier takes"))
            })?
            .to_string();
        Ok(match kind {
            "jira:issue_created" => created(&d, issue, delivery, &ticket, &at),
            "jira:issue_updated" => updated(&d, issue, delivery, &ticket, &at),
            _ => comment(&d, issue, delivery, &ticket, &at, edit),
        })
    }
}

export_plugin!(Jira);
