//! The policy test file format (`*.test.toml`), parsed and checked into a
//! plan of steps before anything runs. Reference: `docs/policies.md`,
//! "Testing policies".
//!
//! ```toml
//! start = 2026-03-09T09:00:00Z          # defaults for every [[test]]
//!
//! [[test]]
//! name = "a refund above the limit needs approval"
//!
//! [[test.step]]
//! event = "ticket.created"
//! data = { subject = "Refund", channel = "email", requester = { id = "c-1" }, fields = { refund_amount = 150 } }
//!
//! [[test.step.expect]]
//! type = "require_approval"
//! policy = "approvals/refund-limit.rhai"
//! data = { kind = "refund" }
//!
//! [test.step.ticket]
//! approvals = { refund = "pending" }
//!
//! [[test.step]]
//! advance = "4h"
//! ```
//!
//! Every problem is reported with the file and line of the key at fault.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Deserialize;
use serde_json::Value;
use toml::Spanned;

use crate::when::{When, parse_duration};

/// The whole file: defaults, then one or more `[[test]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileSpec {
    #[allow(dead_code)]
    #[serde(default)]
    description: Option<String>,
    /// Policies directory, relative to the test file.
    pub policies: Option<String>,
    /// Another `sla.toml` / `ladders.toml`, relative to the test file.
    pub sla: Option<String>,
    pub ladders: Option<String>,
    /// Policies only this file's tests run (name → Rhai source).
    #[serde(default)]
    pub extra_policies: BTreeMap<String, String>,
    start: Option<Spanned<toml::Value>>,
    ticket_id: Option<String>,
    #[serde(default, rename = "test")]
    tests: Vec<Spanned<TestSpec>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TestSpec {
    name: String,
    #[allow(dead_code)]
    #[serde(default)]
    description: Option<String>,
    start: Option<Spanned<toml::Value>>,
    ticket_id: Option<String>,
    #[serde(default, rename = "step")]
    steps: Vec<Spanned<StepSpec>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepSpec {
    event: Option<String>,
    decide: Option<DecideSpec>,
    advance: Option<toml::Value>,
    at: Option<toml::Value>,
    ticket_id: Option<String>,
    id: Option<String>,
    occurred_at: Option<toml::Value>,
    data: Option<toml::Table>,
    refused: Option<String>,
    #[serde(default)]
    expect: Vec<Spanned<ExpectSpec>>,
    #[serde(default)]
    forbid: Vec<Spanned<ForbidSpec>>,
    ticket: Option<Spanned<toml::Table>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DecideSpec {
    kind: String,
    decision: String,
    by: String,
    #[serde(default)]
    reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectSpec {
    #[serde(rename = "type")]
    ty: String,
    data: Option<toml::Table>,
    policy: Option<String>,
    ticket_id: Option<String>,
    count: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ForbidSpec {
    #[serde(rename = "type")]
    ty: String,
    data: Option<toml::Table>,
    policy: Option<String>,
    ticket_id: Option<String>,
}

/// A problem in the file, at a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SpecError {
    pub line: u32,
    pub message: String,
}

/// One test, checked and ready to run.
#[derive(Debug, Clone)]
pub(crate) struct TestPlan {
    pub name: String,
    pub line: u32,
    pub start: Timestamp,
    pub steps: Vec<StepPlan>,
}

#[derive(Debug, Clone)]
pub(crate) struct StepPlan {
    pub line: u32,
    pub action: StepAction,
    pub refused: Option<String>,
    pub expect: Vec<RecordExpectation>,
    pub forbid: Vec<RecordExpectation>,
    pub ticket: Option<TicketExpectation>,
}

#[derive(Debug, Clone)]
pub(crate) enum StepAction {
    /// An event as a tool sends it: the envelope without `occurred_at`
    /// resolved yet (it defaults to the step's time).
    Event {
        ty: String,
        ticket_id: String,
        id: Option<String>,
        at: Option<When>,
        occurred_at: Option<When>,
        data: Value,
    },
    /// `approval.decided` for the ticket's latest pending approval of a kind.
    Decide {
        ticket_id: String,
        at: Option<When>,
        kind: String,
        decision: String,
        by: String,
        reason: String,
    },
    Advance(When),
}

/// `[[test.step.expect]]` or `[[test.step.forbid]]`.
#[derive(Debug, Clone)]
pub(crate) struct RecordExpectation {
    pub line: u32,
    /// Full type (`action.escalate`), or a family (`action.*`, `*`).
    pub ty: String,
    pub data: Option<Value>,
    pub policy: Option<String>,
    pub ticket_id: Option<String>,
    pub count: Option<u32>,
}

/// `[test.step.ticket]`.
#[derive(Debug, Clone)]
pub(crate) struct TicketExpectation {
    pub line: u32,
    pub ticket_id: String,
    /// Subset of the ticket's view (see `matching::ticket_view`).
    pub fields: Value,
    /// Fields that must be absent or empty.
    pub unset: Vec<String>,
    pub without_tags: Vec<String>,
}

/// What the whole file asks for, once parsed.
#[derive(Debug)]
pub(crate) struct ParsedFile {
    pub spec: FileSpec,
    pub tests: Result<Vec<TestPlan>, SpecError>,
}

pub(crate) fn parse(text: &str) -> Result<ParsedFile, SpecError> {
    let mut spec: FileSpec = toml::from_str(text).map_err(|e| SpecError {
        line: e.span().map(|s| line_of(text, s.start)).unwrap_or(1),
        message: e.message().to_owned(),
    })?;
    let tests = std::mem::take(&mut spec.tests);
    let tests = plan(&spec, tests, text);
    Ok(ParsedFile { spec, tests })
}

fn plan(
    file: &FileSpec,
    tests: Vec<Spanned<TestSpec>>,
    text: &str,
) -> Result<Vec<TestPlan>, SpecError> {
    if tests.is_empty() {
        return Err(SpecError {
            line: 1,
            message: "no [[test]] in this file".into(),
        });
    }
    let mut out = Vec::new();
    for t in tests {
        let line = line_of(text, t.span().start);
        let t = t.into_inner();
        let start_value = t
            .start
            .as_ref()
            .or(file.start.as_ref())
            .ok_or_else(|| SpecError {
                line,
                message: format!(
                    "test {:?} has no `start` (an instant, e.g. start = 2026-03-09T09:00:00Z)",
                    t.name
                ),
            })?;
        let start = match when(start_value.get_ref()) {
            Ok(When::At(ts)) => ts,
            Ok(When::After(_)) => {
                return Err(SpecError {
                    line: line_of(text, start_value.span().start),
                    message: "`start` must be an instant, not an offset".into(),
                });
            }
            Err(message) => {
                return Err(SpecError {
                    line: line_of(text, start_value.span().start),
                    message: format!("start: {message}"),
                });
            }
        };
        let ticket_id = t
            .ticket_id
            .clone()
            .or_else(|| file.ticket_id.clone())
            .unwrap_or_else(|| "T-1".to_owned());
        let mut steps = Vec::new();
        for s in t.steps {
            steps.push(step(s, &ticket_id, text)?);
        }
        if steps.is_empty() {
            return Err(SpecError {
                line,
                message: format!("test {:?} has no [[test.step]]", t.name),
            });
        }
        out.push(TestPlan {
            name: t.name,
            line,
            start,
            steps,
        });
    }
    Ok(out)
}

fn step(s: Spanned<StepSpec>, default_ticket: &str, text: &str) -> Result<StepPlan, SpecError> {
    let line = line_of(text, s.span().start);
    let s = s.into_inner();
    let err = |message: String| SpecError { line, message };
    let ticket_id = s
        .ticket_id
        .clone()
        .unwrap_or_else(|| default_ticket.to_owned());
    let at =
        s.at.as_ref()
            .map(when)
            .transpose()
            .map_err(|m| err(format!("at: {m}")))?;
    let kinds = [s.event.is_some(), s.decide.is_some(), s.advance.is_some()];
    if kinds.iter().filter(|k| **k).count() != 1 {
        return Err(err(
            "a step does exactly one of: `event = \"<type>\"` (with `data`), `advance = \"2h\"`, `decide = { ... }`"
                .into(),
        ));
    }
    let event_only = [
        ("id", s.id.is_some()),
        ("occurred_at", s.occurred_at.is_some()),
        ("data", s.data.is_some()),
    ];
    if s.event.is_none()
        && let Some((key, _)) = event_only.iter().find(|(_, set)| *set)
    {
        return Err(err(format!("`{key}` belongs to an `event` step")));
    }
    let action = if let Some(ty) = s.event {
        StepAction::Event {
            ty,
            ticket_id: ticket_id.clone(),
            id: s.id,
            at,
            occurred_at: s
                .occurred_at
                .as_ref()
                .map(when)
                .transpose()
                .map_err(|m| err(format!("occurred_at: {m}")))?,
            data: Value::Object(s.data.map(table_to_json).unwrap_or_default()),
        }
    } else if let Some(d) = s.decide {
        if !matches!(d.decision.as_str(), "approved" | "rejected") {
            return Err(err(format!(
                "decide.decision is {:?}; write \"approved\" or \"rejected\"",
                d.decision
            )));
        }
        StepAction::Decide {
            ticket_id: ticket_id.clone(),
            at,
            kind: d.kind,
            decision: d.decision,
            by: d.by,
            reason: d.reason,
        }
    } else {
        if at.is_some() {
            return Err(err("`advance` says when; `at` is for events".into()));
        }
        let value = s
            .advance
            .as_ref()
            .ok_or_else(|| err("advance: missing".into()))?;
        let to = match value {
            toml::Value::String(v) if !v.trim_start().starts_with('+') => match parse_duration(v) {
                Ok(d) => When::After(d),
                Err(_) => When::parse(v).map_err(|_| {
                    err(format!(
                        "advance: `{v}` is neither a duration (e.g. 15m, 2h, 1h30m, 1d) nor an instant \
                         (e.g. 2026-03-09T09:00:00Z)"
                    ))
                })?,
            },
            other => when(other).map_err(|m| err(format!("advance: {m}")))?,
        };
        StepAction::Advance(to)
    };
    let expect = s
        .expect
        .into_iter()
        .map(|e| {
            let line = line_of(text, e.span().start);
            let e = e.into_inner();
            record_expectation(line, e.ty, e.data, e.policy, e.ticket_id, e.count)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let forbid = s
        .forbid
        .into_iter()
        .map(|e| {
            let line = line_of(text, e.span().start);
            let e = e.into_inner();
            record_expectation(line, e.ty, e.data, e.policy, e.ticket_id, None)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let ticket = s
        .ticket
        .map(|t| ticket_expectation(line_of(text, t.span().start), t.into_inner(), &ticket_id))
        .transpose()?;
    Ok(StepPlan {
        line,
        action,
        refused: s.refused,
        expect,
        forbid,
        ticket,
    })
}

fn record_expectation(
    line: u32,
    ty: String,
    data: Option<toml::Table>,
    policy: Option<String>,
    ticket_id: Option<String>,
    count: Option<u32>,
) -> Result<RecordExpectation, SpecError> {
    let ty = full_type(&ty).ok_or_else(|| SpecError {
        line,
        message: format!(
            "type {ty:?} names no record Escalier produces; write an action (`escalate`, `action.route`), \
             `sla.breached`, `ladder.level_reached`, `policy.error`, a family (`action.*`) or `*`"
        ),
    })?;
    Ok(RecordExpectation {
        line,
        ty,
        data: data.map(|d| Value::Object(table_to_json(d))),
        policy,
        ticket_id,
        count,
    })
}

/// `escalate` → `action.escalate`; checks the name against the types
/// Escalier records, with a suggestion for typos.
fn full_type(ty: &str) -> Option<String> {
    let ty = ty.trim();
    if ty == "*" || ty.ends_with(".*") {
        return Some(ty.to_owned());
    }
    let full = if ty.contains('.') {
        ty.to_owned()
    } else {
        format!("action.{ty}")
    };
    escalier_core::event::all_types()
        .any(|t| t == full)
        .then_some(full)
}

fn ticket_expectation(
    line: u32,
    mut t: toml::Table,
    default_ticket: &str,
) -> Result<TicketExpectation, SpecError> {
    let err = |message: String| SpecError { line, message };
    let strings = |v: Option<toml::Value>, key: &str| -> Result<Vec<String>, SpecError> {
        match v {
            None => Ok(Vec::new()),
            Some(toml::Value::Array(items)) => items
                .into_iter()
                .map(|i| match i {
                    toml::Value::String(s) => Ok(s),
                    other => Err(err(format!("ticket.{key}: {other} is not a string"))),
                })
                .collect(),
            Some(other) => Err(err(format!(
                "ticket.{key} must be a list of strings, not {other}"
            ))),
        }
    };
    let ticket_id = match t.remove("ticket_id") {
        Some(toml::Value::String(s)) => s,
        Some(other) => {
            return Err(err(format!(
                "ticket.ticket_id must be a string, not {other}"
            )));
        }
        None => default_ticket.to_owned(),
    };
    let unset = strings(t.remove("unset"), "unset")?;
    let without_tags = strings(t.remove("without_tags"), "without_tags")?;
    Ok(TicketExpectation {
        line,
        ticket_id,
        fields: Value::Object(table_to_json(t)),
        unset,
        without_tags,
    })
}

/// A time in the file: an RFC 3339 string or TOML datetime (with an
/// offset), or `+15m`.
fn when(v: &toml::Value) -> Result<When, String> {
    match v {
        toml::Value::String(s) => When::parse(s),
        toml::Value::Datetime(d) => {
            if d.offset.is_none() || d.date.is_none() || d.time.is_none() {
                return Err(format!(
                    "{d} needs a date, a time and an offset (Z or +01:00)"
                ));
            }
            crate::when::parse_instant(&d.to_string()).map(When::At)
        }
        other => Err(format!(
            "{other} is not a time; write an instant or an offset like \"+15m\""
        )),
    }
}

fn table_to_json(t: toml::Table) -> serde_json::Map<String, Value> {
    t.into_iter().map(|(k, v)| (k, to_json(v))).collect()
}

pub(crate) fn to_json(v: toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.into_iter().map(to_json).collect()),
        toml::Value::Table(t) => Value::Object(table_to_json(t)),
    }
}

/// 1-based line of a byte offset.
pub(crate) fn line_of(text: &str, offset: usize) -> u32 {
    let upto = &text.as_bytes()[..offset.min(text.len())];
    u32::try_from(upto.iter().filter(|b| **b == b'\n').count() + 1).unwrap_or(u32::MAX)
}
