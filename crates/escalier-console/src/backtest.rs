//! The backtest page (`/backtest`): run the candidate policy directory the
//! server is configured with (`policies.candidate_dir`) over the stored log
//! of a period, against what the set in force recorded, and show the
//! per-ticket diff.
//!
//! The run happens in the server, in the background, one at a time (a new
//! run cancels the one in progress); the page polls its state with htmx
//! (`GET /backtest/run?id=`) until it is done. What the page shows is the
//! JSON of `GET /v1/backtests/{id}`, read through [`BacktestModel`].
//!
//! Scopes: `read` sees the runs and their diffs; starting one (`POST
//! /backtest`) needs `admin`, since it costs the server CPU.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use jiff::{SignedDuration, Timestamp, ToSpan};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;

use crate::model::{ModelError, Principal, Scope};
use crate::pages::{self, Viewer};
use crate::{Console, field, forbidden, html as page, post_guard, see_other, status_of};

/// Tickets listed in detail on the page; the API has them all.
pub const PAGE_TICKETS: usize = 200;

/// The server's backtests, as the page needs them. The JSON is the API's
/// (`GET /v1/backtests/{id}`).
pub trait BacktestModel: Send + Sync + 'static {
    /// `{"candidate_dir": path or null, "plugins": what runs after the
    /// policies, "threads": n}`.
    fn setup(&self) -> Value;
    /// Start a run over inputs recorded in `from..to` as `who`; its id.
    /// A run in progress is cancelled.
    fn start(&self, who: &str, from: Timestamp, to: Timestamp) -> Result<String, ModelError>;
    /// A run by id, or the latest (`None`); `None` if there is none.
    fn run(&self, id: Option<&str>) -> Option<Value>;
}

/// A run as the API describes it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RunView {
    pub id: String,
    /// `running`, `done`, `failed`, `cancelled`.
    pub state: String,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub requested_by: String,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub candidate_dir: String,
    pub plugins: String,
    pub progress: Progress,
    pub error: Option<String>,
    pub diagnostics: Vec<Diagnostic>,
    pub report: Option<Report>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(default)]
pub struct Progress {
    /// The last input seq read.
    pub read: u64,
    /// The last input seq stored when the run started.
    pub total: u64,
}

/// A compile error of the candidate set.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Diagnostic {
    pub file: String,
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub code: Value,
    pub message: String,
    pub hint: Option<String>,
    pub source_line: Option<String>,
}

impl Diagnostic {
    /// `file:line:col`, as far as known.
    pub fn location(&self) -> String {
        let mut s = self.file.clone();
        if let Some(l) = self.line {
            s.push_str(&format!(":{l}"));
            if let Some(c) = self.column {
                s.push_str(&format!(":{c}"));
            }
        }
        s
    }
}

/// The replay report (`escalier replay --format json`), as far as the
/// page shows it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Report {
    pub window: ReportWindow,
    pub candidate: ReportCandidate,
    pub counts: BTreeMap<String, u64>,
    pub summary: Summary,
    pub tickets: Vec<TicketDiff>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ReportWindow {
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    pub first_at: Option<Timestamp>,
    pub last_at: Option<Timestamp>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ReportCandidate {
    pub policies_dir: String,
    pub version: String,
    pub books: String,
    pub policies: Vec<Value>,
    pub plugins: Vec<PluginRef>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PluginRef {
    pub name: String,
    pub version: String,
    pub hash: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Counts {
    pub added: u64,
    pub removed: u64,
    pub changed: u64,
    pub unchanged: u64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Summary {
    pub total: Counts,
    pub by_type: BTreeMap<String, Counts>,
    pub by_policy: BTreeMap<String, Counts>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TicketDiff {
    pub ticket_id: String,
    pub added: Vec<Item>,
    pub removed: Vec<Item>,
    pub changed: Vec<Changed>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Item {
    #[serde(rename = "type")]
    pub ty: String,
    pub data: Value,
    pub by: String,
    pub trigger: Value,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Changed {
    pub before: Item,
    pub after: Item,
    pub fields: Vec<String>,
}

/// One line of a ticket's diff, as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffLine {
    /// `added`, `removed`, `changed`.
    pub kind: &'static str,
    /// The record type (`action.escalate`).
    pub ty: String,
    /// Who produced it (the candidate's for added and changed records).
    pub by: String,
    /// What caused it.
    pub trigger: String,
    /// The record's data in short (added, removed), or each differing
    /// field as `field: before → after` (changed).
    pub detail: Vec<String>,
}

/// The lines of one ticket's diff: removed, added, then changed, each in
/// trigger order (as the report lists them).
pub fn diff_lines(t: &TicketDiff) -> Vec<DiffLine> {
    let mut out = Vec::new();
    for (kind, items) in [("removed", &t.removed), ("added", &t.added)] {
        for i in items {
            out.push(DiffLine {
                kind,
                ty: i.ty.clone(),
                by: i.by.clone(),
                trigger: trigger(&i.trigger),
                detail: vec![short_data(&i.data)],
            });
        }
    }
    for c in &t.changed {
        let detail = c
            .fields
            .iter()
            .map(|f| {
                let (before, after) = if f == "by" {
                    (c.before.by.clone(), c.after.by.clone())
                } else {
                    (
                        short(&c.before.data[f.as_str()]),
                        short(&c.after.data[f.as_str()]),
                    )
                };
                format!("{f}: {before} → {after}")
            })
            .collect();
        out.push(DiffLine {
            kind: "changed",
            ty: c.after.ty.clone(),
            by: c.after.by.clone(),
            trigger: trigger(&c.before.trigger),
            detail,
        });
    }
    out
}

/// Longest text shown for a record's data.
const DATA_CHARS: usize = 160;

fn short(v: &Value) -> String {
    let s = match v {
        Value::Null => "(none)".to_owned(),
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    };
    cut(s)
}

fn cut(mut s: String) -> String {
    if s.chars().count() > DATA_CHARS {
        s = s.chars().take(DATA_CHARS - 1).collect();
        s.push('…');
    }
    s
}

/// A record's data as `key=value` pairs, timing fields left out.
fn short_data(v: &Value) -> String {
    match v {
        Value::Object(m) => cut(m
            .iter()
            .filter(|(k, _)| !["fired_at", "late", "reached_at", "next_at"].contains(&k.as_str()))
            .map(|(k, v)| format!("{k}={}", short(v)))
            .collect::<Vec<_>>()
            .join(" ")),
        other => short(other),
    }
}

/// What caused a record, in words.
pub fn trigger(t: &Value) -> String {
    let s = |k: &str| t[k].as_str().unwrap_or("?").to_owned();
    match t["kind"].as_str() {
        Some("input") => format!(
            "after {} {} (seq {}, {})",
            s("type"),
            s("event_id"),
            t["seq"],
            s("at")
        ),
        Some("clock") => format!("clock {} at {}", s("key"), s("at")),
        Some("rebound") => format!("SLA/ladder reload (seq {}, {})", t["seq"], s("at")),
        _ => String::new(),
    }
}

/// The period a form asks for. Dates are whole UTC days: `from`'s
/// midnight to the midnight after `to`. RFC 3339 instants are taken as
/// they are. Empty fields: the last 7 days up to `now`.
pub fn period(
    from: Option<&str>,
    to: Option<&str>,
    now: Timestamp,
) -> Result<(Timestamp, Timestamp), String> {
    let parse = |v: &str, end: bool| -> Result<Timestamp, String> {
        if let Ok(t) = v.parse::<Timestamp>() {
            return Ok(t);
        }
        let d: jiff::civil::Date = v
            .parse()
            .map_err(|_| format!("`{v}` is neither a date (2026-03-01) nor an RFC 3339 instant"))?;
        let d = if end {
            d.checked_add(1.day()).map_err(|e| e.to_string())?
        } else {
            d
        };
        jiff::tz::Offset::UTC
            .to_timestamp(d.to_datetime(jiff::civil::Time::midnight()))
            .map_err(|e| e.to_string())
    };
    let from = match from.map(str::trim).filter(|s| !s.is_empty()) {
        Some(v) => parse(v, false)?,
        None => now - SignedDuration::from_hours(7 * 24),
    };
    let to = match to.map(str::trim).filter(|s| !s.is_empty()) {
        Some(v) => parse(v, true)?,
        None => now,
    };
    if from >= to {
        return Err(format!("the period is empty: {from} is not before {to}"));
    }
    Ok((from, to))
}

fn date_of(t: Timestamp) -> String {
    jiff::tz::Offset::UTC.to_datetime(t).date().to_string()
}

/// The whole page.
pub fn page_markup(
    viewer: &Viewer<'_>,
    setup: &Value,
    run: Option<&RunView>,
    error: Option<&str>,
) -> Markup {
    let now = viewer.now;
    let from = date_of(now - SignedDuration::from_hours(7 * 24));
    let to = date_of(now);
    let dir = setup["candidate_dir"].as_str();
    let admin = viewer.who.allows(Scope::Admin);
    pages::layout(
        "Backtest",
        Some(viewer),
        "backtest",
        html! {
            h1 { "Backtest" }
            p { "Replay the log stored for a period with the candidate policy directory, and compare what it does with what the policy set in force recorded: the actions each ticket would gain, lose or get differently. Nothing is written and nothing is sent." }
            (pages::error_box(error))
            @match dir {
                Some(d) => {
                    dl.facts {
                        dt { "Candidate" } dd { code { (d) } " (" code { "policies.candidate_dir" } ")" }
                        dt { "Plugins" } dd { (text(&setup["plugins"])) }
                    }
                }
                None => {
                    div.notice role="status" {
                        p { "No candidate policy directory is configured. Put the candidate set (its " code { "*.rhai" } ", " code { "sla.toml" } " and " code { "ladders.toml" } ") in a directory the server can read and name it in " code { "escalier.toml" } ":" }
                        pre { "[policies]\ncandidate_dir = \"./policies-candidate\"" }
                        p { "or set " code { "ESCALIER_CANDIDATE_POLICIES" } ", then restart the server." }
                    }
                }
            }
            @if dir.is_some() {
                @if admin {
                    form.backtest method="post" action="/backtest" {
                        input type="hidden" name="csrf" value=(viewer.csrf);
                        label for="bt-from" { "From (UTC day)" }
                        input #bt-from type="date" name="from" value=(from) required;
                        label for="bt-to" { "To (UTC day, included)" }
                        input #bt-to type="date" name="to" value=(to) required;
                        button type="submit" { "Run backtest" }
                    }
                    p { small { "One run at a time: starting a run cancels the one in progress." } }
                } @else {
                    p { "Starting a run needs a token with the " code { "admin" } " scope (a run costs the server CPU); this token can see the results." }
                }
            }
            @match run {
                Some(r) => (run_markup(r)),
                None => p #backtest-run { "No backtest has run since the server started." },
            }
        },
    )
}

/// A run: its progress while it runs (the fragment polls itself), its
/// outcome when it is over.
pub fn run_markup(r: &RunView) -> Markup {
    let poll = format!("/backtest/run?id={}", pages::seg(&r.id));
    html! {
        @if r.state == "running" {
            section #backtest-run aria-live="polite" hx-get=(poll) hx-trigger="every 1s" hx-swap="outerHTML" {
                h2 { "Run " (r.id) ": running" }
                (period_line(r))
                @let pct = r.progress.read.saturating_mul(100).checked_div(r.progress.total).unwrap_or(0);
                p { progress max="100" value=(pct) { (pct) "%" } " read seq " (r.progress.read) " of " (r.progress.total) }
                p { a href=(format!("/backtest?id={}", pages::seg(&r.id))) { "Reload" } " (the page updates by itself)" }
            }
        } @else {
            section #backtest-run {
                h2 { "Run " (r.id) ": " (r.state) }
                (period_line(r))
                @if r.state == "cancelled" {
                    div.notice role="status" { p { "This run was cancelled: a newer run replaced it. " a href="/backtest" { "See the latest run" } "." } }
                }
                @if let Some(e) = &r.error {
                    div.error role="alert" {
                        p { (e) }
                        @if !r.diagnostics.is_empty() {
                            ul.diagnostics { @for d in &r.diagnostics {
                                li {
                                    code { (d.location()) } " " (d.message)
                                    @if let Some(h) = &d.hint { br; small { (h) } }
                                    @if let Some(src) = &d.source_line { pre { (src) } }
                                }
                            } }
                        }
                    }
                }
                @if let Some(rep) = &r.report { (report_markup(rep)) }
            }
        }
    }
}

fn period_line(r: &RunView) -> Markup {
    let t = |t: &Option<Timestamp>| t.map(|t| t.to_string()).unwrap_or_else(|| "—".into());
    html! {
        p { "Inputs recorded from " (t(&r.from)) " to " (t(&r.to)) ", started by " strong { (r.requested_by) } " at " (t(&r.started_at))
            @if let Some(f) = r.finished_at { ", finished at " (f) } "." }
    }
}

fn counts_table(title: &str, rows: &BTreeMap<String, Counts>, total: &Counts) -> Markup {
    html! {
        table.counts {
            thead { tr { th scope="col" { (title) } th scope="col" { "added" } th scope="col" { "removed" } th scope="col" { "changed" } th scope="col" { "unchanged" } } }
            tbody {
                @for (k, c) in rows { tr { th scope="row" { code { (k) } } td { (c.added) } td { (c.removed) } td { (c.changed) } td { (c.unchanged) } } }
                tr.total { th scope="row" { "total" } td { (total.added) } td { (total.removed) } td { (total.changed) } td { (total.unchanged) } }
            }
        }
    }
}

/// A finished run's report: what was compared, the totals, each ticket.
pub fn report_markup(rep: &Report) -> Markup {
    let t = &rep.summary.total;
    let c = &rep.candidate;
    html! {
        @match (rep.window.first_seq, rep.window.last_seq) {
            (Some(a), Some(b)) => p { "Replayed inputs seq " (a) "–" (b) " (" (rep.counts.get("inputs").copied().unwrap_or(0)) " from outside)." },
            _ => p { "Nothing to replay: no input was recorded in this period." },
        }
        p { "Candidate " code { (c.policies_dir) } ": " (c.policies.len()) " policies, set " code { (c.version) } ", SLA and ladder files " code { (c.books) } "."
            @if !c.plugins.is_empty() {
                " Plugins: " (c.plugins.iter().map(|p| format!("{} {}", p.name, p.version)).collect::<Vec<_>>().join(", ")) "."
            } }
        @for n in &rep.notes { p { small { (n) } } }
        p.totals #backtest-totals {
            strong { (rep.tickets.len()) } " tickets differ: "
            strong { (t.added) } " records added, " strong { (t.removed) } " removed, " strong { (t.changed) } " changed, " (t.unchanged) " unchanged."
        }
        @if rep.tickets.is_empty() {
            div.notice role="status" { p { "No differences: the candidate does exactly what was recorded." } }
        } @else {
            h3 { "Tickets" }
            @for td in rep.tickets.iter().take(PAGE_TICKETS) {
                section.ticket-diff {
                    h4 { a href=(format!("/tickets/{}", pages::seg(&td.ticket_id))) { (td.ticket_id) }
                        " " small { (td.added.len()) " added, " (td.removed.len()) " removed, " (td.changed.len()) " changed" } }
                    ul.diff { @for l in diff_lines(td) {
                        li class=(l.kind) {
                            span.kind { (match l.kind { "added" => "+ added", "removed" => "− removed", _ => "~ changed" }) }
                            " " code { (l.ty) } " by " code { (l.by) } " " small { (l.trigger) }
                            @if l.kind == "changed" {
                                ul { @for d in &l.detail { li { code { (d) } } } }
                            } @else {
                                @for d in &l.detail { br; code.data { (d) } }
                            }
                        }
                    } }
                }
            }
            @if rep.tickets.len() > PAGE_TICKETS {
                p { "… and " (rep.tickets.len() - PAGE_TICKETS) " more tickets: " code { "GET /v1/backtests/{id}" } " has them all." }
            }
        }
        details {
            summary { "Counts by record type and by producer" }
            (counts_table("record type", &rep.summary.by_type, t))
            (counts_table("producer", &rep.summary.by_policy, t))
        }
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "—".into(),
        other => other.to_string(),
    }
}

fn model(c: &Console) -> Option<std::sync::Arc<dyn BacktestModel>> {
    c.model.backtests()
}

fn run_view(v: Value) -> Result<RunView, String> {
    serde_json::from_value(v).map_err(|e| format!("the run does not read: {e}"))
}

fn query_id(raw: Option<&str>) -> Option<String> {
    let q: Vec<(String, String)> =
        serde_urlencoded::from_str(raw.unwrap_or("")).unwrap_or_default();
    field(&q, "id").filter(|s| !s.is_empty()).map(str::to_owned)
}

async fn render(
    c: &Console,
    s: &crate::session::Session,
    who: &Principal,
    id: Option<&str>,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let viewer = c.viewer(s, who);
    let Some(m) = model(c) else {
        return page(
            StatusCode::NOT_FOUND,
            pages::message("Backtest", Some(&viewer), "This server runs no backtests."),
        );
    };
    let setup = m.setup();
    let run = match m.run(id) {
        Some(v) => match run_view(v) {
            Ok(r) => Some(r),
            Err(e) => {
                return page(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    pages::message("Backtest", Some(&viewer), &e),
                );
            }
        },
        None if id.is_some() => {
            return page(
                StatusCode::NOT_FOUND,
                page_markup(
                    &viewer,
                    &setup,
                    None,
                    Some("No such run: runs are kept in memory, the most recent few only."),
                ),
            );
        }
        None => None,
    };
    page(status, page_markup(&viewer, &setup, run.as_ref(), error))
}

/// `GET /backtest`: the form and a run (`?id=`, default the latest).
pub(crate) async fn page_get(
    State(c): State<Console>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let Some((s, who)) = c.signed_in(&headers) else {
        return see_other("/");
    };
    let id = query_id(raw.as_deref());
    render(&c, &s, &who, id.as_deref(), StatusCode::OK, None).await
}

/// `GET /backtest/run?id=`: a run's fragment, polled while it runs.
pub(crate) async fn run_part(
    State(c): State<Console>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    if c.signed_in(&headers).is_none() {
        return (
            StatusCode::UNAUTHORIZED,
            [("HX-Redirect", "/")],
            "sign in again",
        )
            .into_response();
    }
    let id = query_id(raw.as_deref());
    let Some(v) = model(&c).and_then(|m| m.run(id.as_deref())) else {
        return (StatusCode::NOT_FOUND, "no such run").into_response();
    };
    match run_view(v) {
        Ok(r) => page(StatusCode::OK, run_markup(&r)),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
    }
}

/// `POST /backtest`: start a run (`admin`), then show it.
pub(crate) async fn start(State(c): State<Console>, headers: HeaderMap, body: Body) -> Response {
    let (s, who, f) = match post_guard(&c, &headers, body).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    if !who.allows(Scope::Admin) {
        return forbidden(
            &c,
            Some((&s, &who)),
            &format!(
                "Token `{}` lacks the admin scope needed to start a backtest (it costs the server CPU).",
                who.name
            ),
        );
    }
    let Some(m) = model(&c) else {
        return forbidden(&c, Some((&s, &who)), "This server runs no backtests.");
    };
    let (from, to) = match period(field(&f, "from"), field(&f, "to"), c.model.now()) {
        Ok(p) => p,
        Err(e) => return render(&c, &s, &who, None, StatusCode::BAD_REQUEST, Some(&e)).await,
    };
    let name = who.name.clone();
    let started = crate::blocking(move || m.start(&name, from, to)).await;
    match started {
        Ok(id) => see_other(&format!("/backtest?id={}", pages::seg(&id))),
        Err(e) => render(&c, &s, &who, None, status_of(&e), Some(&e.message)).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report() -> Report {
        serde_json::from_value(json!({
            "window": {"first_seq": 1, "last_seq": 9, "first_at": "2026-03-01T09:00:00Z", "last_at": "2026-03-01T10:00:00Z"},
            "candidate": {"policies_dir": "cand", "version": "sha256:aa", "books": "sha256:bb", "policies": [{"name": "vip.rhai", "hash": "h"}], "plugins": []},
            "counts": {"inputs": 4},
            "summary": {
                "total": {"added": 1, "removed": 1, "changed": 1, "unchanged": 5},
                "by_type": {"action.escalate": {"added": 1, "removed": 0, "changed": 0, "unchanged": 0}},
                "by_policy": {"cand/vip.rhai": {"added": 1, "removed": 0, "changed": 1, "unchanged": 2}}
            },
            "tickets": [{
                "ticket_id": "ZD 1/<b>",
                "added": [{"type": "action.escalate", "data": {"tier": 2, "reason": "vip"}, "by": "cand/vip.rhai", "depth": 1,
                           "trigger": {"kind": "input", "seq": 3, "event_id": "e1", "type": "ticket.created", "at": "2026-03-01T09:00:00Z"}}],
                "removed": [{"type": "action.tag", "data": {"tag": "old"}, "by": "policies/tag.rhai", "depth": 1,
                             "trigger": {"kind": "clock", "key": "sla:first_response:0:breach", "at": "2026-03-01T09:30:00Z", "seq": 5}}],
                "changed": [{
                    "before": {"type": "action.route", "data": {"team": "billing", "reason": "r"}, "by": "policies/route.rhai", "depth": 1,
                               "trigger": {"kind": "input", "seq": 3, "event_id": "e1", "type": "ticket.created", "at": "2026-03-01T09:00:00Z"}},
                    "after": {"type": "action.route", "data": {"team": "vip", "reason": "r"}, "by": "cand/route.rhai", "depth": 1,
                              "trigger": {"kind": "input", "seq": 3, "event_id": "e1", "type": "ticket.created", "at": "2026-03-01T09:00:00Z"}},
                    "fields": ["by", "team"]
                }]
            }],
            "notes": ["no plugins were run"]
        }))
        .unwrap()
    }

    #[test]
    fn a_ticket_diff_reads_as_removed_added_and_changed_lines() {
        let r = report();
        let lines = diff_lines(&r.tickets[0]);
        assert_eq!(
            lines.iter().map(|l| l.kind).collect::<Vec<_>>(),
            ["removed", "added", "changed"]
        );
        assert_eq!(lines[0].ty, "action.tag");
        assert_eq!(
            lines[0].trigger,
            "clock sla:first_response:0:breach at 2026-03-01T09:30:00Z"
        );
        assert_eq!(lines[1].ty, "action.escalate");
        assert_eq!(lines[1].by, "cand/vip.rhai");
        assert_eq!(lines[1].detail, ["reason=\"vip\" tier=2"]);
        assert_eq!(
            lines[1].trigger,
            "after ticket.created e1 (seq 3, 2026-03-01T09:00:00Z)"
        );
        // Changed: only the differing fields, before → after; `by` too.
        assert_eq!(
            lines[2].detail,
            [
                "by: policies/route.rhai → cand/route.rhai",
                "team: \"billing\" → \"vip\""
            ]
        );
    }

    #[test]
    fn long_data_is_cut_on_a_character_boundary() {
        let s = short_data(&json!({"note": "é".repeat(400)}));
        assert_eq!(s.chars().count(), DATA_CHARS);
        assert!(s.ends_with('…'));
    }

    #[test]
    fn the_report_links_each_ticket_escaped_and_shows_totals() {
        let html = report_markup(&report()).into_string();
        assert!(
            html.contains(r#"href="/tickets/ZD%201%2F%3Cb%3E""#),
            "{html}"
        );
        assert!(html.contains("ZD 1/&lt;b&gt;"), "{html}");
        assert!(!html.contains("<b>"));
        assert!(html.contains("<strong>1</strong> tickets differ"), "{html}");
        assert!(html.contains("− removed"));
        assert!(
            html.contains("team: &quot;billing&quot; → &quot;vip&quot;"),
            "{html}"
        );
    }

    #[test]
    fn no_differences_say_so() {
        let mut r = report();
        r.tickets.clear();
        let html = report_markup(&r).into_string();
        assert!(html.contains("No differences"), "{html}");
    }

    #[test]
    fn compile_errors_show_file_line_col_and_the_source_line() {
        let r: RunView = serde_json::from_value(json!({
            "id": "bt-1", "state": "failed", "error": "the candidate set does not compile",
            "diagnostics": [{"file": "cand/vip.rhai", "line": 3, "column": 7, "code": "syntax", "message": "expected ')'", "source_line": "if (x {"}]
        }))
        .unwrap();
        let html = run_markup(&r).into_string();
        assert!(
            html.contains("<code>cand/vip.rhai:3:7</code> expected ')'"),
            "{html}"
        );
        assert!(html.contains("<pre>if (x {</pre>"), "{html}");
        assert!(!html.contains("hx-trigger"), "a finished run does not poll");
    }

    #[test]
    fn a_running_run_polls_itself_and_shows_progress() {
        let r: RunView = serde_json::from_value(json!({
            "id": "bt-2", "state": "running", "progress": {"read": 25, "total": 100}
        }))
        .unwrap();
        let html = run_markup(&r).into_string();
        assert!(html.contains(r#"hx-get="/backtest/run?id=bt-2""#), "{html}");
        assert!(html.contains(r#"hx-trigger="every 1s""#));
        assert!(html.contains(r#"value="25""#), "{html}");
    }

    #[test]
    fn periods_are_whole_utc_days_or_instants_and_default_to_the_last_week() {
        let now: Timestamp = "2026-03-10T12:00:00Z".parse().unwrap();
        let (f, t) = period(Some("2026-03-01"), Some("2026-03-02"), now).unwrap();
        assert_eq!(f.to_string(), "2026-03-01T00:00:00Z");
        assert_eq!(t.to_string(), "2026-03-03T00:00:00Z");
        let (f, t) = period(None, Some(""), now).unwrap();
        assert_eq!(f.to_string(), "2026-03-03T12:00:00Z");
        assert_eq!(t, now);
        let (f, _) = period(Some("2026-03-05T10:00:00Z"), None, now).unwrap();
        assert_eq!(f.to_string(), "2026-03-05T10:00:00Z");
        assert!(period(Some("2026-03-05"), Some("2026-03-01"), now).is_err());
        assert!(
            period(Some("yesterday"), None, now)
                .unwrap_err()
                .contains("yesterday")
        );
    }
}
