//! The pages, as maud templates. Everything the model gives is escaped
//! by maud; links are built from percent-encoded ids.

use jiff::{SignedDuration, Timestamp};
use maud::{DOCTYPE, Markup, html};
use serde_json::Value;

use crate::model::{
    Migrated, ModelError, Principal, QueueRow, Scope, SlaState, StatusView, TicketView,
};
use crate::queue::{QueryChoices, QueuePage, QueueQuery, SlaFilter, Sort};

/// What every signed-in page knows about its viewer.
pub struct Viewer<'a> {
    pub who: &'a Principal,
    pub csrf: &'a str,
    pub now: Timestamp,
    pub simulated: bool,
}

/// Percent-encode one path segment.
pub fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `1h 05m`, `3d 2h`, `45s`; negative durations are prefixed with `-`.
pub fn human(d: SignedDuration) -> String {
    let neg = d.is_negative();
    let mut s = d.as_secs().unsigned_abs();
    let days = s / 86_400;
    s %= 86_400;
    let h = s / 3600;
    s %= 3600;
    let m = s / 60;
    s %= 60;
    let t = if days > 0 {
        format!("{days}d {h}h")
    } else if h > 0 {
        format!("{h}h {m:02}m")
    } else if m > 0 {
        format!("{m}m {s:02}s")
    } else {
        format!("{s}s")
    };
    if neg { format!("-{t}") } else { t }
}

/// A countdown to `due`, as of `now`; the page's script keeps it live.
pub fn countdown(due: Timestamp, now: Timestamp) -> Markup {
    let left = due.duration_since(now);
    let text = if left.is_negative() {
        format!("breached {} ago", human(-left))
    } else {
        format!("in {}", human(left))
    };
    let class = if left.is_negative() {
        "countdown breached"
    } else if left < SignedDuration::from_mins(15) {
        "countdown soon"
    } else {
        "countdown"
    };
    html! { time class=(class) datetime=(due) data-deadline=(due) { (text) } }
}

fn when(t: &Value) -> Markup {
    match t.as_str() {
        Some(s) => {
            html! { time datetime=(s) { (s.replace('T', " ").trim_end_matches('Z')) " UTC" } }
        }
        None => html! { "—" },
    }
}

fn dur(v: &Value) -> String {
    v.as_str()
        .and_then(|s| s.parse::<SignedDuration>().ok())
        .map(human)
        .unwrap_or_else(|| "—".to_owned())
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "—".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The page frame: head, skip link, navigation, who is signed in.
pub fn layout(title: &str, viewer: Option<&Viewer<'_>>, current: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="htmx-config" content=r#"{"includeIndicatorStyles":false,"allowEval":false,"historyCacheSize":0}"#;
                @if let Some(v) = viewer { meta name="csrf-token" content=(v.csrf); }
                title { (title) " · Escalier" }
                link rel="stylesheet" href="/assets/console.css";
                script src="/assets/htmx.min.js" defer {}
                script src="/assets/console.js" defer {}
            }
            body data-now=[viewer.map(|v| v.now.to_string())] data-simulated=[viewer.map(|v| v.simulated.to_string())] {
                a.skip href="#main" { "Skip to content" }
                header.top {
                    a.brand href="/" { "Escalier" }
                    @if let Some(v) = viewer {
                        nav aria-label="Main" {
                            ul {
                                li { a href="/" aria-current=[(current == "queue").then_some("page")] { "Queue" } }
                                li { a href="/matrix" aria-current=[(current == "matrix").then_some("page")] { "Matrix" } }
                                li { a href="/reports" aria-current=[(current == "reports").then_some("page")] { "Reports" } }
                                li { a href="/policies" aria-current=[(current == "policies").then_some("page")] { "Policies & plugins" } }
                                li { a href="/backtest" aria-current=[(current == "backtest").then_some("page")] { "Backtest" } }
                            }
                        }
                        div.who {
                            span { "Signed in as " strong { (v.who.name) } " (" (scopes(v.who)) ")" }
                            @if v.simulated { span.badge { "simulated clock: " (v.now) } }
                            form method="post" action="/signout" {
                                input type="hidden" name="csrf" value=(v.csrf);
                                button type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                main #main { (body) }
            }
        }
    }
}

fn scopes(p: &Principal) -> String {
    p.scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn error_box(message: Option<&str>) -> Markup {
    html! {
        @if let Some(m) = message {
            div.error role="alert" { p { (m) } }
        }
    }
}

pub fn notice_box(message: Option<&str>) -> Markup {
    html! {
        @if let Some(m) = message {
            div.notice role="status" { p { (m) } }
        }
    }
}

pub fn signin(error: Option<&str>) -> Markup {
    layout(
        "Sign in",
        None,
        "",
        html! {
            section.signin aria-labelledby="signin-h" {
                h1 #signin-h { "Sign in" }
                p { "Sign in with an API token (" code { "escalier token create --name NAME --scope read" } "). "
                    "A " code { "read" } " token sees; " code { "ingest" } " also acts on tickets; " code { "admin" } " does everything." }
                (error_box(error))
                form method="post" action="/signin" {
                    label for="token" { "API token" }
                    input #token type="password" name="token" autocomplete="current-password" required spellcheck="false" autofocus;
                    button type="submit" { "Sign in" }
                }
            }
        },
    )
}

/// A message page (not found, refused, failed), with a way back.
pub fn message(title: &str, viewer: Option<&Viewer<'_>>, message: &str) -> Markup {
    layout(
        title,
        viewer,
        "",
        html! {
            h1 { (title) }
            (error_box(Some(message)))
            p { a href="/" { "Back to the queue" } }
        },
    )
}

fn select(
    name: &str,
    label: &str,
    current: Option<&str>,
    options: &[(String, String)],
    any: &str,
) -> Markup {
    html! {
        div.field {
            label for=(format!("f-{name}")) { (label) }
            select id=(format!("f-{name}")) name=(name) {
                option value="" { (any) }
                @for (value, text) in options {
                    option value=(value) selected[current == Some(value.as_str())] { (text) }
                }
            }
        }
    }
}

fn pairs(v: &[&str]) -> Vec<(String, String)> {
    v.iter()
        .map(|s| ((*s).to_owned(), (*s).to_owned()))
        .collect()
}

pub fn queue(
    viewer: &Viewer<'_>,
    q: &QueueQuery,
    choices: &QueryChoices,
    page: &QueuePage,
    error: Option<&str>,
) -> Markup {
    let tiers: Vec<(String, String)> = (0..=4)
        .map(|t| (t.to_string(), format!("Tier {t}")))
        .collect();
    let sla: Vec<(String, String)> = SlaFilter::ALL
        .iter()
        .map(|(_, v, t)| ((*v).to_owned(), (*t).to_owned()))
        .collect();
    let statuses = pairs(&["new", "open", "pending", "on_hold", "solved", "closed"]);
    let priorities = pairs(&["urgent", "high", "normal", "low"]);
    let tier = q.base.tier.map(|t| t.to_string());
    layout(
        "Queue",
        Some(viewer),
        "queue",
        html! {
            h1 { "Queue" }
            (error_box(error))
            form.filters method="get" action="/" aria-label="Filter the queue" {
                (select("tier", "Tier", tier.as_deref(), &tiers, "Any tier"))
                (select("team", "Team", q.base.team.as_deref(), &choices.teams, "Any team"))
                (select("priority", "Priority", q.base.priority.as_deref(), &priorities, "Any priority"))
                (select("channel", "Channel", q.channel.as_deref(), &choices.channels, "Any channel"))
                (select("status", "Status", q.base.status.as_deref(), &statuses, "Any open status"))
                (select("sla", "SLA", q.sla.map(SlaFilter::as_str), &sla, "Any SLA state"))
                div.field {
                    label for="f-within" { "Breaching within (minutes)" }
                    input #f-within type="number" name="within" min="1" max="10080" value=(q.within);
                }
                div.field {
                    label for="f-sort" { "Sort by" }
                    select #f-sort name="sort" {
                        @for (s, v, t) in Sort::ALL {
                            option value=(v) selected[q.sort == s] { (t) }
                        }
                    }
                }
                div.actions {
                    button type="submit" { "Apply" }
                    a href="/" { "Clear" }
                }
            }
            (queue_table(viewer, q, page))
        },
    )
}

/// The queue's table: the part the page polls for (with `ETag`).
pub fn queue_table(viewer: &Viewer<'_>, q: &QueueQuery, page: &QueuePage) -> Markup {
    let qs = q.to_query(page.page);
    let poll = if qs.is_empty() {
        "/queue".to_owned()
    } else {
        format!("/queue?{qs}")
    };
    html! {
        section #queue hx-get=(poll) hx-trigger="every 5s" hx-swap="outerHTML"
            data-etag=(crate::queue::etag(page, q, viewer.now, viewer.simulated))
            data-now=[viewer.simulated.then(|| viewer.now.to_string())] aria-labelledby="queue-caption" {
            @if page.truncated {
                p.notice role="status" { "Only the first " (crate::queue::SCAN_CAP) " tickets were read; narrow the filters." }
            }
            @if page.rows.is_empty() {
                p #queue-caption { "No ticket matches." }
            } @else {
                div.scroll {
                    table.queue {
                        caption #queue-caption { (page.total) " tickets · page " (page.page) " of " (page.pages) }
                        thead { tr {
                            th scope="col" { "Ticket" }
                            th scope="col" { "Subject" }
                            th scope="col" { "Priority" }
                            th scope="col" { "Tier" }
                            th scope="col" { "Team" }
                            th scope="col" { "Channel" }
                            th scope="col" { "Status" }
                            th scope="col" { "SLA" }
                        } }
                        tbody {
                            @for r in &page.rows { (queue_row(r, viewer.now)) }
                        }
                    }
                }
            }
            nav.pager aria-label="Pages" {
                @if page.page > 1 {
                    a rel="prev" href=(format!("/?{}", q.to_query(page.page - 1))) { "← Previous" }
                }
                @if page.page < page.pages {
                    a rel="next" href=(format!("/?{}", q.to_query(page.page + 1))) { "Next →" }
                }
            }
        }
    }
}

fn queue_row(r: &QueueRow, now: Timestamp) -> Markup {
    let overdue = r.next_breach.is_some_and(|d| d <= now);
    let state = if overdue { SlaState::Breached } else { r.sla };
    html! {
        tr data-ticket=(r.id) class=(format!("sla-{}", state.as_str())) {
            th scope="row" { a href=(format!("/tickets/{}", seg(&r.id))) { (r.id) } }
            td { (r.subject) }
            td data-label="Priority" { span class=(format!("prio prio-{}", r.priority)) { (r.priority) } }
            td data-label="Tier" { (r.tier) }
            td data-label="Team" { (r.team.as_deref().unwrap_or("—")) }
            td data-label="Channel" { (r.channel) }
            td data-label="Status" { (r.status) }
            td data-label="SLA" {
                @match (r.next_breach, state) {
                    (Some(due), _) => (countdown(due, now)),
                    (None, SlaState::Paused) => span.paused { "paused" },
                    (None, SlaState::Breached) => span.breached { "breached" },
                    _ => "—",
                }
            }
        }
    }
}

/// The ticket page.
pub fn ticket(
    viewer: &Viewer<'_>,
    v: &TicketView,
    error: Option<&str>,
    notice: Option<&str>,
) -> Markup {
    let t = &v.ticket;
    let id = t["id"].as_str().unwrap_or_default();
    let can_act = viewer.who.allows(Scope::Ingest);
    let base = format!("/tickets/{}", seg(id));
    layout(
        id,
        Some(viewer),
        "",
        html! {
            p.crumbs { a href="/" { "Queue" } " › " (id) }
            h1 { (id) ": " (text(&t["subject"])) }
            (error_box(error))
            (notice_box(notice))
            @if !can_act { p.readonly { "Your token has the read scope only: you can see this ticket but not act on it." } }
            (ticket_live(viewer, v))
            section aria-labelledby="approvals-h" {
                h2 #approvals-h { "Approvals" }
                @let approvals = t["approvals"].as_array().cloned().unwrap_or_default();
                @if approvals.is_empty() { p { "No approval asked for." } }
                @for a in &approvals {
                    @let aid = text(&a["id"]);
                    div.card data-approval=(aid) {
                        h3 { (text(&a["kind"])) " " code { (aid) } }
                        p { "Asked by " (text(&a["requested_by"])) " at " (when(&a["requested_at"])) ": " (text(&a["reason"])) }
                        p { "State: " strong { (text(&a["state"])) }
                            @if a["decision"].is_object() { " by " (text(&a["decision"]["by"])) " at " (when(&a["decision"]["at"]))
                                @if a["decision"]["reason"].as_str().is_some_and(|r| !r.is_empty()) { ": " (text(&a["decision"]["reason"])) } } }
                        @if can_act && a["state"] == "pending" {
                            form.decide method="post" action=(format!("{base}/approvals/{}", seg(&aid))) {
                                input type="hidden" name="csrf" value=(viewer.csrf);
                                label for=(format!("reason-{aid}")) { "Reason" }
                                input id=(format!("reason-{aid}")) type="text" name="reason" maxlength="500";
                                button type="submit" name="decision" value="approved" { "Approve" }
                                button.danger type="submit" name="decision" value="rejected" { "Reject" }
                            }
                        }
                    }
                }
            }
            section aria-labelledby="checklists-h" {
                h2 #checklists-h { "Checklists" }
                @let lists = t["checklist_progress"].as_object().cloned().unwrap_or_default();
                @if lists.is_empty() { p { "No checklist." } }
                @for (name, c) in &lists {
                    div.card data-checklist=(name) {
                        h3 { (name) " (" (text(&c["done"])) " of " (c["items"].as_array().map_or(0, Vec::len)) " done)" }
                        @if let Some(tier) = c["required_for_tier"].as_u64() { p { "Required before tier " (tier) "." } }
                        ul.checklist {
                            @for item in c["items"].as_array().cloned().unwrap_or_default() {
                                @let iid = text(&item["id"]);
                                @let done = item["done"].as_bool() == Some(true);
                                li data-item=(iid) {
                                    span.mark aria-hidden="true" { @if done { "☑" } @else { "☐" } }
                                    " " (text(&item["text"]))
                                    @if done { " — " (text(&item["by"])) " at " (when(&item["at"])) }
                                    @if can_act {
                                        form.inline method="post" action=(format!("{base}/checklists/{}/items/{}", seg(name), seg(&iid))) {
                                            input type="hidden" name="csrf" value=(viewer.csrf);
                                            input type="hidden" name="checked" value=(if done { "false" } else { "true" });
                                            button type="submit" aria-label=(format!("{} {}", if done { "Untick" } else { "Tick" }, text(&item["text"]))) {
                                                @if done { "Untick" } @else { "Tick" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            section aria-labelledby="timeline-h" {
                h2 #timeline-h { "Timeline" }
                @match &v.story {
                    None => p { "No story could be told for this ticket." },
                    Some(story) => (timeline(story)),
                }
            }
        },
    )
}

/// The parts of a ticket page that change as time passes or others act
/// (state, history, clocks, ladders): polled by the page every 10 s, and
/// swapped only when changed (see [`ticket_etag`]).
pub fn ticket_live(viewer: &Viewer<'_>, v: &TicketView) -> Markup {
    let t = &v.ticket;
    let id = t["id"].as_str().unwrap_or_default();
    let can_act = viewer.who.allows(Scope::Ingest);
    let base = format!("/tickets/{}", seg(id));
    html! {
        div #live hx-get=(format!("{base}/live")) hx-trigger="every 10s" hx-swap="outerHTML"
            data-etag=(ticket_etag(v, viewer.now, viewer.simulated, can_act))
            data-now=[viewer.simulated.then(|| viewer.now.to_string())] {
                section aria-labelledby="state-h" {
                    h2 #state-h { "State" }
                    dl.state {
                        dt { "Status" } dd { (text(&t["status"])) }
                        dt { "Priority" } dd { (text(&t["priority"])) }
                        dt { "Tier" } dd { (text(&t["tier"])) }
                        dt { "Team" } dd { (text(&t["team"])) }
                        dt { "Agent" } dd { (text(&t["agent"])) }
                        dt { "Channel" } dd { (text(&t["channel"])) }
                        dt { "Requester" } dd { (requester(&t["requester"])) }
                        dt { "Created" } dd { (when(&t["created_at"])) }
                        dt { "Updated" } dd { (when(&t["updated_at"])) }
                        dt { "Policy version" } dd { code { (text(&t["policy_version"])) } }
                    }
                }
                section aria-labelledby="tiers-h" {
                    h2 #tiers-h { "Tier history" }
                    @let steps = t["escalations"].as_array().cloned().unwrap_or_default();
                    @let routes = t["routes"].as_array().cloned().unwrap_or_default();
                    @if steps.is_empty() && routes.is_empty() { p { "Never escalated." } }
                    ol.history {
                        @for s in &steps {
                            li { (when(&s["at"])) ": tier " (text(&s["from"])) " → " strong { "tier " (text(&s["to"])) }
                                " — " (text(&s["reason"])) " (by " code { (text(&s["by"])) } ")" }
                        }
                        @for s in &routes {
                            li { (when(&s["at"])) ": team " (text(&s["from"])) " → " strong { (text(&s["to"])) }
                                " — " (text(&s["reason"])) " (by " code { (text(&s["by"])) } ")" }
                        }
                    }
                }
                section aria-labelledby="clocks-h" {
                    h2 #clocks-h { "SLA clocks" }
                    p { "SLA policy: " (text(&v.timers["sla"])) }
                    @let clocks = v.timers["clocks"].as_array().cloned().unwrap_or_default();
                    @if clocks.is_empty() { p { "No clock." } } @else {
                        div.scroll { table {
                            thead { tr { th scope="col" { "Clock" } th scope="col" { "Target" } th scope="col" { "Elapsed" }
                                th scope="col" { "State" } th scope="col" { "Remaining" } } }
                            tbody { @for c in &clocks { tr class=[c["breached"].as_bool().filter(|b| *b).map(|_| "sla-breached")] {
                                th scope="row" { (text(&c["clock"])) @if c["cycle"].as_u64().unwrap_or(0) > 1 { " (cycle " (text(&c["cycle"])) ")" } }
                                td { (dur(&c["target"])) }
                                td { (dur(&c["elapsed"])) }
                                td { (text(&c["state"])) @if c["breached"].as_bool() == Some(true) { " · " strong.breached { "breached" } } @else if c["warned"].as_bool() == Some(true) { " · warned" } }
                                td {
                                    @if let Some(due) = c["due"].as_str().and_then(|s| s.parse::<Timestamp>().ok()) {
                                        @if c["state"] == "running" { (countdown(due, viewer.now)) } @else { (dur(&c["remaining"])) }
                                    } @else if c["state"] == "paused" { span.paused { "paused, " (dur(&c["remaining"])) " left" } }
                                    @else { (dur(&c["remaining"])) }
                                }
                            } } }
                        } }
                    }
                }
                section aria-labelledby="ladders-h" {
                    h2 #ladders-h { "Escalation ladders" }
                    @let ladders = v.timers["ladders"].as_array().cloned().unwrap_or_default();
                    @if ladders.is_empty() { p { "No ladder ran." } }
                    @for l in &ladders {
                        div.card data-ladder=(text(&l["ladder"])) {
                            h3 { (text(&l["ladder"])) " (run " (text(&l["run"])) ")" }
                            p { "State: " strong { (text(&l["state"])) } " · level " (text(&l["level"])) " of " (text(&l["levels"]))
                                @if l["repeat"].as_u64().unwrap_or(0) > 0 { " · cycle " (text(&l["cycle"])) " of " (text(&l["repeat"])) }
                                " · started " (when(&l["started_at"])) }
                            p { "Why: " (text(&l["reason"])) }
                            @if let Some(at) = l["next"]["at"].as_str().and_then(|s| s.parse::<Timestamp>().ok()) {
                                p { "Next: " (text(&l["next"]["kind"])) " to level " (text(&l["next"]["level"])) " " (countdown(at, viewer.now)) }
                            }
                            @if can_act && l["state"] == "running" {
                                form method="post" action=(format!("{base}/ack")) {
                                    input type="hidden" name="csrf" value=(viewer.csrf);
                                    input type="hidden" name="ladder" value=(text(&l["ladder"]));
                                    button type="submit" { "Acknowledge" }
                                }
                            }
                        }
                    }
                }
        }
    }
}

/// The live part's entity tag: the ticket, its clocks and ladders (not
/// the elapsed and remaining times, which the countdowns keep live), which
/// clocks are overdue, the simulated clock, and whether the viewer may act.
pub fn ticket_etag(v: &TicketView, now: Timestamp, simulated_now: bool, can_act: bool) -> String {
    use sha2::{Digest, Sha256};
    let mut timers = v.timers.clone();
    let mut overdue = Vec::new();
    if let Some(clocks) = timers["clocks"].as_array_mut() {
        for c in clocks {
            if let Some(due) = c["due"].as_str().and_then(|s| s.parse::<Timestamp>().ok()) {
                overdue.push(due <= now);
            }
            if let Some(m) = c.as_object_mut() {
                m.remove("elapsed");
                m.remove("remaining");
            }
        }
    }
    let key = format!(
        "{}|{}|{:?}|{:?}|{}",
        v.ticket,
        timers,
        overdue,
        simulated_now.then_some(now),
        can_act
    );
    let d = Sha256::digest(key.as_bytes());
    format!("\"{}\"", crate::session::hex(&d[..16]))
}

fn requester(r: &Value) -> String {
    match (r["name"].as_str(), r["email"].as_str()) {
        (Some(n), Some(e)) => format!("{n} <{e}>"),
        (Some(n), None) => n.to_owned(),
        (None, Some(e)) => e.to_owned(),
        _ => text(r),
    }
}

fn timeline(story: &Value) -> Markup {
    let entries = story["entries"].as_array().cloned().unwrap_or_default();
    html! {
        @if let Some(b) = story["books"].as_str() { p { "Clock changes derived with SLA and ladder files " code { (short(b)) } "." } }
        ol.timeline {
            @for e in &entries {
                li class=(format!("depth-{}", e["depth"].as_u64().unwrap_or(0).min(3))) data-type=(text(&e["type"])) {
                    div.head {
                        code.pos { (text(&e["pos"])) }
                        " " (when(&e["at"])) " "
                        strong { (text(&e["type"])) }
                    }
                    p.summary { (text(&e["summary"])) }
                    dl.trace {
                        dt { "By" }
                        dd { (text(&e["by"]["kind"])) " " code { (text(&e["by"]["name"])) }
                            @if let Some(h) = e["by"]["hash"].as_str() { " version " code { (short(h)) } } }
                        @if e["trigger"].is_object() {
                            dt { "Trigger" }
                            dd { code { (text(&e["trigger"]["pos"])) } " " (text(&e["trigger"]["type"])) ": " (text(&e["trigger"]["summary"])) }
                        }
                        @if e["location"].is_object() {
                            dt { "Where" }
                            dd { code { (location(&e["location"])) } }
                        }
                        @if let Some(reason) = e["data"]["reason"].as_str() {
                            dt { "Reason" } dd { (reason) }
                        }
                        @if let Some(clocks) = e["clocks"].as_array() {
                            dt { "Clocks" } dd { (clocks.iter().map(text).collect::<Vec<_>>().join("; ")) }
                        }
                    }
                }
            }
        }
    }
}

fn location(l: &Value) -> String {
    let mut s = text(&l["file"]);
    if let Some(line) = l["line"].as_u64() {
        s.push_str(&format!(":{line}"));
        if let Some(col) = l["column"].as_u64() {
            s.push_str(&format!(":{col}"));
        }
    } else if let Some(c) = l["candidates"].as_array() {
        let lines: Vec<String> = c.iter().map(text).collect();
        s.push_str(&format!(" (lines {})", lines.join(", ")));
    }
    s
}

/// A hash as people read it: each `sha256:` word cut to 16 hex digits
/// (`0.2.0 sha256:0123456789abcdef`).
fn short(h: &str) -> String {
    h.split_whitespace()
        .map(|w| match w.strip_prefix("sha256:") {
            Some(hex) => format!("sha256:{}", hex.get(..16).unwrap_or(hex)),
            None => w.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The policies and plugins page.
pub fn status(viewer: &Viewer<'_>, s: &StatusView) -> Markup {
    status_with(viewer, s, None)
}

/// The policies page, with the outcome of moving the open tickets onto
/// the set in force when the admin just did.
pub fn status_with(
    viewer: &Viewer<'_>,
    s: &StatusView,
    migrated: Option<&Result<Migrated, ModelError>>,
) -> Markup {
    let p = &s.policies;
    layout(
        "Policies & plugins",
        Some(viewer),
        "policies",
        html! {
            h1 { "Policies & plugins" }
            @if let Some(m) = migrated { (migrate_outcome(m)) }
            section aria-labelledby="pol-h" {
                h2 #pol-h { "Policy set" }
                dl.state {
                    dt { "Directory" } dd { code { (text(&p["dir"])) } }
                    dt { "Version" } dd { code #policy-version { (text(&p["version"])) } }
                    dt { "Loaded" } dd { (when(&p["loaded_at"])) }
                    dt { "SLA and ladder files" } dd { code { (text(&p["timers"]["version"])) } }
                    dt { "Reloads" } dd { (text(&p["reloads"]["changed"])) " changed, "
                        (text(&p["reloads"]["unchanged"])) " unchanged, " (text(&p["reloads"]["failed"])) " rejected" }
                    @if !p["pin"].is_null() { dt { "Pinning" } dd { (text(&p["pin"])) } }
                }
                @if p["last_error"].is_object() {
                    (reload_error(&p["last_error"]))
                } @else {
                    p.ok role="status" { "The last reload succeeded (or none was tried)." }
                }
                p { small { "Policies reload by themselves when their files change; a rejected reload leaves this set in force." } }
                @let policies = p["policies"].as_array().cloned().unwrap_or_default();
                @if !policies.is_empty() {
                    div.scroll { table {
                        caption { (policies.len()) " policies in force" }
                        thead { tr { th scope="col" { "Policy" } th scope="col" { "Hash" } th scope="col" { "On" } th scope="col" { "Loaded" } } }
                        tbody { @for x in &policies { tr {
                            th scope="row" { code { (text(&x["name"])) } }
                            td { code { (short(x["hash"].as_str().unwrap_or("—"))) } }
                            td { (list(&x["on"])) }
                            td { (when(&x["loaded_at"])) }
                        } } }
                    } }
                }
            }
            section aria-labelledby="ptest-h" {
                h2 #ptest-h { "Policy tests" }
                (policy_tests(&p["tests"], &p["dir"]))
            }
            @if viewer.who.allows(Scope::Admin) {
                section aria-labelledby="migrate-h" {
                    h2 #migrate-h { "Move open tickets to the set in force" }
                    (migrate_form(viewer, p))
                }
            }
            section aria-labelledby="plug-h" {
                h2 #plug-h { "Plugins" }
                @match &s.plugins {
                    None => p { "This server runs without plugins." },
                    Some(pl) => {
                        p { "Directory: " code { (text(&pl["dir"])) } }
                        @let plugins = pl["plugins"].as_array().cloned().unwrap_or_default();
                        @if plugins.is_empty() { p { "No plugin loaded." } } @else {
                            div.scroll { table {
                                thead { tr { th scope="col" { "Plugin" } th scope="col" { "Version" } th scope="col" { "Status" }
                                    th scope="col" { "Circuit breaker" } th scope="col" { "Calls" } th scope="col" { "Errors" } th scope="col" { "Last error" } } }
                                tbody { @for x in &plugins { tr data-plugin=(text(&x["name"])) {
                                    th scope="row" { (text(&x["name"])) }
                                    td { (text(&x["version"])) @if let Some(h) = x["component_hash"].as_str() { " " code { (h) } } }
                                    td { (text(&x["status"]))
                                        @if let Some(r) = x["disabled_reason"].as_str() { br; small { (r) } }
                                        @if x["load_error"].is_object() { br; small.breached { "load failed: " (text(&x["load_error"]["error"])) } } }
                                    td { @match x["status"].as_str() {
                                        Some("circuit_open") => { "open until " (when(&x["circuit_open_until"])) },
                                        Some("half_open") => "half-open (next call is a trial)",
                                        Some("active") => "closed",
                                        _ => "—",
                                    } }
                                    td { (text(&x["counters"]["calls"])) }
                                    td { (text(&x["counters"]["errors"]))
                                        @let extra = ["timeouts", "traps", "denied", "skipped"].iter()
                                            .filter_map(|k| x["counters"][*k].as_u64().filter(|n| *n > 0).map(|n| format!("{n} {k}")))
                                            .collect::<Vec<_>>();
                                        @if !extra.is_empty() { " (" (extra.join(", ")) ")" } }
                                    td { @if x["last_error"].is_object() {
                                        code { (text(&x["last_error"]["code"])) } " " (text(&x["last_error"]["message"]))
                                        " at " (when(&x["last_error"]["at"]))
                                    } @else { "—" } }
                                } } }
                            } }
                        }
                    }
                }
            }
            @if let Some(rows) = s.deliveries.as_ref().and_then(Value::as_array) {
                section aria-labelledby="dlv-h" {
                    h2 #dlv-h { "Deliveries" }
                    (deliveries(rows))
                }
            }
        },
    )
}

fn deliveries(rows: &[Value]) -> Markup {
    html! {
        @if rows.is_empty() { p.ok role="status" { "No delivery is retrying or failed." } } @else {
            div.scroll { table.deliveries {
                caption { (rows.len()) " deliveries retrying or failed, most recent first" }
                thead { tr { th scope="col" { "Ticket" } th scope="col" { "To" } th scope="col" { "Kind" }
                    th scope="col" { "State" } th scope="col" { "Attempts" } th scope="col" { "Next try" }
                    th scope="col" { "Last answer" } th scope="col" { "Updated" } } }
                tbody { @for d in rows { tr data-delivery=(text(&d["delivery_id"])) class=(format!("delivery-{}", text(&d["state"]))) {
                    th scope="row" { a href=(format!("/tickets/{}", seg(&text(&d["ticket_id"])))) { (text(&d["ticket_id"])) } }
                    td { (text(if d["plugin"].is_string() { &d["plugin"] } else { &d["target"] })) }
                    td { (text(&d["kind"])) }
                    td { @if d["state"] == "failed" { strong.breached { "failed" } } @else { (text(&d["state"])) } }
                    td { (text(&d["attempts"])) }
                    td { (when(&d["next_at"])) }
                    td { @if let Some(s) = d["status"].as_u64() { code { (s) } " " } (text(&d["reason"])) }
                    td { (when(&d["updated_at"])) }
                } } }
            } }
        }
    }
}

fn list(v: &Value) -> String {
    v.as_array()
        .map(|a| a.iter().map(text).collect::<Vec<_>>().join(", "))
        .unwrap_or_else(|| text(v))
}

/// The last run of the policy tests (`tests` of `GET /v1/policies`).
fn policy_tests(t: &Value, dir: &Value) -> Markup {
    let failures = t["failures"].as_array().cloned().unwrap_or_default();
    html! {
        div #policy-tests data-state=(text(&t["state"])) {
            @match t["state"].as_str() {
                None => p { "This server does not run the policy tests." },
                Some("pending") => p role="status" { "The policy tests of the set in force are running; reload the page in a moment." },
                Some("no_tests") => p role="status" { "This policy set has no tests: add " code { "*.test.toml" } " files under "
                    code { (text(dir)) } " (format: docs/policies.md, \"Testing policies\")." },
                Some(state) => {
                    @if state == "passed" {
                        p.ok role="status" { strong { "All " (text(&t["passed"])) " tests passed" } " in " (text(&t["files"])) " files" }
                    } @else {
                        div.error role="alert" {
                            p { strong { (text(&t["failed"])) " of " (text(&t["tests"])) " tests failed" }
                                @if t["broken_files"].as_u64().unwrap_or(0) > 0 { ", " (text(&t["broken_files"])) " test files could not run" }
                                " (" (text(&t["passed"])) " passed)." }
                            ul.diagnostics { @for f in &failures {
                                li { code { (text(&f["at"])) }
                                    @if let Some(name) = f["test"].as_str() { " " strong { (name) } }
                                    " " (text(&f["message"])) }
                            } }
                        }
                    }
                    p { small { "Version " code { (short(t["version"].as_str().unwrap_or("—"))) } " tested at " (when(&t["finished_at"]))
                        @if t["matches_set_in_force"] == false { " — the files on disk no longer compile to this version" }
                        @if t["running"] == true { " — a new run is under way" } "." } }
                }
            }
        }
    }
}

fn migrate_form(viewer: &Viewer<'_>, p: &Value) -> Markup {
    html! {
        @if p["pin"] == "latest" {
            p { "Pinning is off (" code { "policies.pin = \"latest\"" } "): every ticket follows the set in force, so there is nothing to move." }
        } @else {
            p { "Open tickets keep the policy version they started with. This records a "
                code { "policy.migrated" } " event on every open ticket that follows another version, so it follows "
                code { (short(p["version"].as_str().unwrap_or("—"))) } " from now on." }
        }
        form #migrate method="post" action="/policies/migrate" {
            input type="hidden" name="csrf" value=(viewer.csrf);
            label { input type="checkbox" name="confirm" value="yes" required; " Move every open ticket to this version" }
            " "
            button.danger type="submit" { "Move open tickets" }
        }
    }
}

fn migrate_outcome(m: &Result<Migrated, ModelError>) -> Markup {
    html! {
        @match m {
            Err(e) => div.error role="alert" #migrated { p { "Moving the open tickets failed: " (e.message) } },
            Ok(m) if m.pinning_off => div.notice role="status" #migrated { p { "Pinning is off: every ticket already follows the set in force; nothing moved." } },
            Ok(m) => div.notice role="status" #migrated {
                p { strong { (m.moved.len()) " tickets moved" } ", " (m.refused.len()) " refused, to " code { (short(&m.to)) } "." }
                @if !m.moved.is_empty() { p { small { "Moved: "
                    @for (i, id) in m.moved.iter().take(50).enumerate() { @if i > 0 { ", " } a href=(format!("/tickets/{}", seg(id))) { (id) } }
                    @if m.moved.len() > 50 { " …" } } } }
                @if !m.refused.is_empty() { ul { @for (id, why) in m.refused.iter().take(50) {
                    li { a href=(format!("/tickets/{}", seg(id))) { (id) } ": " (why) } } } }
            },
        }
    }
}

fn reload_error(e: &Value) -> Markup {
    let diagnostics = e["diagnostics"].as_array().cloned().unwrap_or_default();
    html! {
        div.error role="alert" {
            p { strong { "The last reload was rejected" } " at " (when(&e["at"])) "; the set above stays in force." }
            ul.diagnostics { @for d in &diagnostics {
                li {
                    code { (text(&d["file"]))
                        @if let Some(l) = d["line"].as_u64() { ":" (l) }
                        @if let Some(c) = d["column"].as_u64() { ":" (c) } }
                    " " (text(&d["message"]))
                    @if let Some(h) = d["hint"].as_str() { br; small { (h) } }
                    @if let Some(src) = d["source_line"].as_str() { pre { (src) } }
                }
            } }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_a_person_writes_them() {
        assert_eq!(human(SignedDuration::from_secs(45)), "45s");
        assert_eq!(human(SignedDuration::from_secs(65 * 60)), "1h 05m");
        assert_eq!(human(SignedDuration::from_secs(-(3 * 60 + 5))), "-3m 05s");
        assert_eq!(human(SignedDuration::from_hours(50)), "2d 2h");
    }

    #[test]
    fn hashes_are_shortened_word_by_word() {
        assert_eq!(
            short(&format!("sha256:{}", "a".repeat(64))),
            format!("sha256:{}", "a".repeat(16))
        );
        assert_eq!(
            short("0.2.0 sha256:0123456789abcdef0123"),
            "0.2.0 sha256:0123456789abcdef"
        );
        assert_eq!(short("v1"), "v1");
    }

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(seg("ZD-2003"), "ZD-2003");
        assert_eq!(seg("a/b c"), "a%2Fb%20c");
    }
}
