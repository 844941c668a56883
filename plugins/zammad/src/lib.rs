//! Zammad adapter: verifies `X-Hub-Signature` (`sha1=` and the hex
//! HMAC-SHA1 of the raw body with the webhook's signature token, compared
//! in constant time) and maps a trigger webhook's default payload,
//! `{"ticket": {...}, "article": {...}}`, to Escalier events.
//!
//! The default payload carries the ticket as it is now and the article
//! the trigger fired for (`{}` when there is none), not what changed. A
//! delivery is the ticket's **creation** when its article is the ticket's
//! first one (or the ticket has no articles and was never updated):
//!
//! | delivery | Escalier |
//! |---|---|
//! | creation | `ticket.created` (title, first article as description, customer as requester, channel from the first article's type, priority, state, group as team, owner as agent, tags) |
//! | any other | `ticket.updated` (title, priority, customer, tags added), `ticket.assigned` (group, owner), `status.changed` (state, except `new`), and `comment.added` for its article |
//!
//! Re-sending a ticket's current state is harmless in Escalier (a move to
//! the current status and an unchanged field change nothing); tags
//! removed in Zammad are not seen (the payload lists the tags there are).
//!
//! States: `new` → new; `open` → open; `pending reminder`, `pending
//! close` (and any other state named "pending ...") → pending; a state
//! named "... hold ..." → on_hold; `closed` and `merged` → solved (not
//! closed: Zammad reopens a closed ticket on a customer's follow-up).
//! Priorities `1 low`, `2 normal`, `3 high` (and "urgent" or "critical"
//! names) → low, normal, high, urgent. Articles: sender `Customer` →
//! customer, `Agent` → agent, `System` → system; `internal` → private.
//! The owner with id 1 is Zammad's "nobody" and is not an agent.
//!
//! The ticket id is `zammad:<ticket number>` (the number agents and
//! customers see, e.g. `zammad:10081`, not the database id); event ids are
//! `zammad:<X-Zammad-Delivery>` plus `:status`, `:fields`, `:assignment`
//! or `:article` when one delivery maps to several events. Zammad retries
//! a failed delivery as the same job, with the same `X-Zammad-Delivery`,
//! so a retry is a duplicate Escalier drops. People are `zammad:<login>`.
//!
//! **Echoes.** With `integration_user` set in the config (the login, email
//! or user id of the Zammad user the write-back plugin's token belongs
//! to), a delivery caused by that user produces no events: one whose
//! article was created by that user, or, without an article, whose ticket
//! was last updated by that user. It is Zammad reporting back a change
//! Escalier itself made, and recording it again would run the policies
//! that made it a second time.

use escalier_plugin_sdk::adapter::{self, MAX_ID, MAX_TEXT, cut, header, name, unhex};
use escalier_plugin_sdk::{Error, Header, Plugin, config, export_plugin, log};
use serde_json::{Value, json};

/// `X-Hub-Signature: sha1=<hex HMAC-SHA1 of the body>`.
fn verify(headers: &[Header], body: &[u8]) -> Result<(), Error> {
    let secret = config::secret("zammad_signature_token")?;
    let sig = header(headers, "x-hub-signature").ok_or_else(|| {
        Error::Unauthorized(
            "X-Hub-Signature is missing; set an HMAC SHA1 signature token on the Zammad webhook"
                .into(),
        )
    })?;
    let sig = sig
        .strip_prefix("sha1=")
        .and_then(unhex)
        .ok_or_else(|| Error::Unauthorized("X-Hub-Signature is not `sha1=<hex>`".into()))?;
    if adapter::hmac_sha1_matches(secret.as_bytes(), &[body], &sig) {
        Ok(())
    } else {
        Err(Error::Unauthorized(
            "X-Hub-Signature does not match the body and signature token".into(),
        ))
    }
}

fn text<'a>(v: &'a Value, ptr: &str) -> Option<&'a str> {
    v.pointer(ptr)?.as_str()
}

/// An Escalier id: `zammad:` + `name` + `suffix`, characters ids do not
/// allow replaced by `_` (`/` and `#` too, so the id is one URL path
/// part), and when too long a readable prefix plus a hash of the whole.
fn ident(name: &str, suffix: &str) -> String {
    adapter::ident("zammad:", "._~:@+-", name, suffix)
}

/// A string or a whole number, as text.
fn scalar(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) if n.is_u64() || n.is_i64() => Some(n.to_string()),
        _ => None,
    }
}

/// A Zammad user (an object of the payload) as an Escalier id: its login,
/// else its email, else its id.
fn person(user: &Value) -> Option<String> {
    ["login", "email"]
        .iter()
        .find_map(|k| name(text(user, &format!("/{k}")), 1024))
        .filter(|l| l != "-")
        .or_else(|| scalar(user.get("id")).map(|id| format!("user-{id}")))
        .map(|id| ident(&id, ""))
}

/// The ticket's owner, unless it is Zammad's "nobody" (id 1).
fn owner(ticket: &Value) -> Option<String> {
    if ticket.get("owner_id").and_then(Value::as_i64) == Some(1) {
        return None;
    }
    let o = ticket.get("owner").filter(|o| o.is_object())?;
    if o.get("id").and_then(Value::as_i64) == Some(1) {
        return None;
    }
    person(o)
}

/// Zammad tag → Escalier tag: lower case, no spaces, at most 64 bytes.
fn tag(label: &str) -> Option<String> {
    adapter::tag(label, '-')
}

fn tags<'a>(labels: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    adapter::push_tags(&mut out, labels.filter_map(tag));
    out
}

fn ticket_tags(ticket: &Value) -> impl Iterator<Item = &str> {
    ticket
        .get("tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
}

fn priority(ticket: &Value) -> Option<&'static str> {
    let n = text(ticket, "/priority/name")?.trim().to_lowercase();
    let word = n.trim_start_matches(|c: char| c.is_ascii_digit() || c.is_whitespace());
    match word {
        "low" => Some("low"),
        "normal" => Some("normal"),
        "high" => Some("high"),
        w if w.contains("urgent") || w.contains("critical") => Some("urgent"),
        _ => None,
    }
}

fn state(ticket: &Value) -> Option<(&'static str, String)> {
    let raw = text(ticket, "/state")
        .or_else(|| text(ticket, "/state/name"))?
        .trim();
    let n = raw.to_lowercase();
    let s = match n.as_str() {
        "new" => "new",
        "open" => "open",
        "closed" | "merged" => "solved",
        n if n.starts_with("pending") => "pending",
        n if n.contains("hold") => "on_hold",
        _ => return None,
    };
    Some((s, cut(raw, 200)))
}

fn channel(ticket: &Value) -> &'static str {
    match text(ticket, "/create_article_type")
        .unwrap_or_default()
        .to_lowercase()
        .as_str()
    {
        "email" => "email",
        "phone" => "phone",
        "chat" => "chat",
        "twitter status" | "facebook feed post" | "facebook feed comment" => "social_public",
        "sms" | "twitter direct-message" | "telegram personal-message" | "whatsapp message" => {
            "social_private"
        }
        _ => "web",
    }
}

/// A Zammad time as Escalier's RFC 3339 (years 0001 to 9999), or refuse
/// the delivery rather than return an event Escalier would refuse.
fn time(v: &Value, ptr: &str) -> Result<String, Error> {
    let raw = text(v, ptr)
        .ok_or_else(|| Error::InvalidInput(format!("`{ptr}` is missing or not text")))?;
    raw.parse::<jiff::Timestamp>()
        .ok()
        .filter(adapter::four_digit_year)
        .map(|t| t.to_string())
        .ok_or_else(|| {
            Error::InvalidInput(format!(
                "`{ptr}` {:?} is not an RFC 3339 time",
                cut(raw, 64)
            ))
        })
}

fn requester(ticket: &Value) -> Value {
    let c = ticket.get("customer").filter(|c| c.is_object());
    let mut r = json!({
        "id": c.and_then(person)
            .or_else(|| scalar(ticket.get("customer_id")).map(|id| ident(&format!("user-{id}"), "")))
            .unwrap_or_else(|| "zammad:unknown".into()),
    });
    if let Some(c) = c {
        let full = format!(
            "{} {}",
            text(c, "/firstname").unwrap_or_default().trim(),
            text(c, "/lastname").unwrap_or_default().trim()
        );
        if let Some(n) = name(Some(&full), 256) {
            r["name"] = json!(n);
        }
        if let Some(e) = text(c, "/email")
            .map(str::trim)
            .filter(|e| e.contains('@') && e.len() <= 320)
        {
            r["email"] = json!(e);
        }
        if c.get("vip") == Some(&Value::Bool(true)) {
            r["vip"] = json!(true);
        }
    }
    r
}

fn event(id: String, ty: &str, ticket: &str, at: &str, data: Value) -> String {
    json!({ "id": id, "type": ty, "ticket_id": ticket, "occurred_at": at, "data": data })
        .to_string()
}

/// Whether this delivery is the ticket's creation (see the module docs).
fn is_creation(ticket: &Value, article: &Value) -> bool {
    let first = ticket
        .get("article_ids")
        .and_then(Value::as_array)
        .and_then(|ids| ids.iter().filter_map(Value::as_i64).min());
    let count = ticket.get("article_count").and_then(Value::as_i64);
    match article.get("id").and_then(Value::as_i64) {
        Some(a) => first.map_or(count.is_some_and(|c| c <= 1), |f| f == a),
        None => {
            count.unwrap_or(0) == 0
                && ticket.get("created_at").is_some()
                && ticket.get("created_at") == ticket.get("updated_at")
        }
    }
}

fn created(
    t: &Value,
    article: &Value,
    base: &str,
    ticket: &str,
    number: &str,
) -> Result<Vec<String>, Error> {
    let at = time(t, "/created_at")?;
    let mut fields = json!({ "zammad_number": cut(number, 256) });
    if let Some(id) = t.get("id").and_then(Value::as_i64) {
        fields["zammad_id"] = json!(id);
    }
    if let Some(o) = name(text(t, "/organization/name"), 256) {
        fields["zammad_organization"] = json!(o);
    }
    let mut data = json!({
        "subject": name(text(t, "/title"), 1024).unwrap_or_else(|| "(no title)".into()),
        "description": cut(text(article, "/body").unwrap_or_default(), MAX_TEXT),
        "requester": requester(t),
        "channel": channel(t),
        "tags": tags(std::iter::once("zammad").chain(ticket_tags(t))),
        "fields": fields,
    });
    if let Some(p) = priority(t) {
        data["priority"] = json!(p);
    }
    let st = state(t);
    if let Some((s @ ("new" | "open" | "pending" | "on_hold"), _)) = &st {
        data["status"] = json!(s);
    }
    if let Some(g) = name(text(t, "/group/name"), MAX_ID) {
        data["team"] = json!(g);
    }
    if let Some(o) = owner(t) {
        data["agent"] = json!(o);
    }
    let mut out = vec![event(
        format!("zammad:{base}"),
        "ticket.created",
        ticket,
        &at,
        data,
    )];
    // Created closed: Escalier creates tickets open at most, so the solve
    // follows as its own event.
    if let Some(("solved", n)) = st {
        out.push(event(
            format!("zammad:{base}:status"),
            "status.changed",
            ticket,
            &at,
            json!({ "status": "solved", "reason": format!("created in Zammad state {n}") }),
        ));
    }
    Ok(out)
}

fn updated(t: &Value, article: &Value, base: &str, ticket: &str) -> Result<Vec<String>, Error> {
    let at = time(t, "/updated_at")?;
    let mut out = Vec::new();
    let mut fields = json!({ "requester": requester(t) });
    if let Some(s) = name(text(t, "/title"), 1024) {
        fields["subject"] = json!(s);
    }
    if let Some(p) = priority(t) {
        fields["priority"] = json!(p);
    }
    let added = tags(ticket_tags(t));
    if !added.is_empty() {
        fields["tags_added"] = json!(added);
    }
    out.push(event(
        format!("zammad:{base}:fields"),
        "ticket.updated",
        ticket,
        &at,
        fields,
    ));
    let mut assign = serde_json::Map::new();
    if let Some(g) = name(text(t, "/group/name"), MAX_ID) {
        assign.insert("team".into(), json!(g));
    }
    if let Some(o) = owner(t) {
        assign.insert("agent".into(), json!(o));
    }
    if !assign.is_empty() {
        out.push(event(
            format!("zammad:{base}:assignment"),
            "ticket.assigned",
            ticket,
            &at,
            Value::Object(assign),
        ));
    }
    // `new` again is not a change Escalier takes (nothing moves back to new).
    if let Some((s, n)) = state(t).filter(|(s, _)| *s != "new") {
        out.push(event(
            format!("zammad:{base}:status"),
            "status.changed",
            ticket,
            &at,
            json!({ "status": s, "reason": format!("Zammad state {n}") }),
        ));
    }
    if article.get("id").is_some() {
        let at = time(article, "/created_at").or_else(|_| time(t, "/updated_at"))?;
        let kind = match text(article, "/sender") {
            Some("Customer") => "customer",
            Some("Agent") => "agent",
            _ => "system",
        };
        let id = name(text(article, "/origin_by"), 1024)
            .filter(|o| o != "-")
            .map(|o| ident(&o, ""))
            .or_else(|| article.get("created_by").and_then(person));
        let mut author = json!({ "kind": kind });
        if let Some(id) = id {
            author["id"] = json!(id);
        }
        out.push(event(
            format!("zammad:{base}:article"),
            "comment.added",
            ticket,
            &at,
            json!({
                "author": author,
                "public": article.get("internal") != Some(&Value::Bool(true)),
                "body": cut(text(article, "/body").unwrap_or_default(), MAX_TEXT),
            }),
        ));
    }
    Ok(out)
}

/// The `integration_user` config value as text (a login, an email or a
/// user id), if set.
fn integration_user() -> Result<Option<String>, Error> {
    Ok(match config::get::<Value>("integration_user")? {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

/// Whether delivery `d` reports a change made by Zammad user `user` (a
/// login, an email or an id): the delivery's article was created by that
/// user, or, when it carries no article, the ticket was last updated by
/// that user.
pub fn is_echo(d: &Value, user: &str) -> bool {
    let by = |obj: &Value, key: &str| {
        let named = obj.get(key).filter(|u| u.is_object()).is_some_and(|u| {
            ["login", "email"].iter().any(|k| {
                text(u, &format!("/{k}")).is_some_and(|v| v.trim().eq_ignore_ascii_case(user))
            }) || scalar(u.get("id")).as_deref() == Some(user)
        });
        named || scalar(obj.get(format!("{key}_id"))).as_deref() == Some(user)
    };
    match d.get("article").filter(|a| a.get("id").is_some()) {
        Some(a) => by(a, "created_by"),
        None => d.get("ticket").is_some_and(|t| by(t, "updated_by")),
    }
}

struct Zammad;

impl Plugin for Zammad {
    fn adapt(headers: Vec<Header>, body: Vec<u8>) -> Result<Vec<String>, Error> {
        verify(&headers, &body)?;
        let d: Value = serde_json::from_slice(&body)
            .map_err(|e| Error::InvalidInput(format!("not a Zammad webhook payload: {e}")))?;
        let Some(t) = d
            .get("ticket")
            .filter(|t| t.as_object().is_some_and(|m| !m.is_empty()))
        else {
            // Not the default ticket payload (a custom payload, or a
            // webhook's test delivery without a ticket): nothing to map.
            return Ok(Vec::new());
        };
        if let Some(user) = integration_user()?
            && is_echo(&d, &user)
        {
            log::info("ignored: an echo of a change made by the integration user");
            return Ok(Vec::new());
        }
        let article = d.get("article").unwrap_or(&Value::Null);
        let delivery = header(&headers, "x-zammad-delivery")
            .filter(|d| {
                !d.is_empty()
                    && d.len() <= 100
                    && d.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
            })
            .ok_or_else(|| {
                Error::InvalidInput("X-Zammad-Delivery is missing or malformed".into())
            })?;
        let number = scalar(t.get("number"))
            .ok_or_else(|| Error::InvalidInput("the ticket has no `number`".into()))?;
        let ticket = ident(&number, "");
        if is_creation(t, article) {
            created(t, article, delivery, &ticket, &number)
        } else {
            updated(t, article, delivery, &ticket)
        }
    }
}

export_plugin!(Zammad);
