//! Policy tests: scenarios in `*.test.toml` files beside the policies,
//! run through the real policy engine, SLA clocks, ladders and reducer in
//! the [`Simulator`]. Behind `escalier test`.
//!
//! A file holds one or more `[[test]]`; each starts a fresh simulator at
//! its `start` instant and runs its steps in order: events sent as a tool
//! would send them, approval decisions, and clock advances. After each
//! step its expectations are checked against what the step produced and
//! the ticket afterwards. A test stops at its first failing step, whose
//! every failed expectation is reported, with the policy file and line
//! behind each record the step produced.
//!
//! # Layout
//!
//! - `file`: the file format, parsed and checked into a plan.
//! - `matching`: records and tickets against expectations.
//! - [`report`]: readable output.

mod file;
mod matching;
pub mod report;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use escalier_core::event::{EventKind, Origin};
use escalier_core::process::Limits;
use escalier_core::ticket::ApprovalState;
use escalier_core::{Event, Record, Source, Timestamp};
use escalier_policy::PolicyEngine;
use serde::Serialize;
use serde_json::{Value, json};

use self::file::{RecordExpectation, StepAction, StepPlan, TestPlan, TicketExpectation};
use crate::locate::Location;
use crate::policies::{Extras, Policies};
use crate::sim::Simulator;
use crate::when::When;

/// How tests run.
#[derive(Clone)]
pub struct TestOptions {
    /// The policies directory for files that do not name one.
    pub policies_dir: PathBuf,
    /// The engine (and its limits) policies compile and run with.
    pub engine: Arc<PolicyEngine>,
    /// The processor's depth and flood limits.
    pub limits: Limits,
}

impl TestOptions {
    pub fn new(policies_dir: impl Into<PathBuf>) -> TestOptions {
        TestOptions {
            policies_dir: policies_dir.into(),
            engine: PolicyEngine::shared_default(),
            limits: Limits::default(),
        }
    }
}

/// The outcome of one test file.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    pub file: String,
    /// The file could not be used at all (syntax, policies that do not
    /// load): `file:line: message`. No test ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub tests: Vec<TestReport>,
}

impl FileReport {
    pub fn passed(&self) -> bool {
        self.error.is_none() && self.tests.iter().all(|t| t.passed)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TestReport {
    pub name: String,
    /// Line of its `[[test]]`.
    pub line: u32,
    pub passed: bool,
    pub steps: usize,
    /// Steps run: all of them, or up to the first that failed.
    pub steps_run: usize,
    pub failures: Vec<Failure>,
}

/// One failed expectation.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// 1-based step number within the test.
    pub step: usize,
    /// `file:line` of the step.
    pub step_at: String,
    /// What the step did: `ticket.created T-1 at 2026-03-09T09:00:00Z`.
    pub step_did: String,
    /// `file:line` of the expectation, when one failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expectation_at: Option<String>,
    /// Stable: `missing_record`, `wrong_count`, `forbidden_record`,
    /// `ticket_state`, `refused`, `not_refused`, `invalid_step`.
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub got: Option<Value>,
    /// The records behind the failure (a forbidden one), or everything the
    /// step produced (for a missing one), each with where it came from.
    pub records: Vec<Produced>,
}

/// A record a step produced, with its origin.
#[derive(Debug, Clone, Serialize)]
pub struct Produced {
    /// `seq.index` in the simulated log.
    pub pos: String,
    pub ticket_id: String,
    #[serde(rename = "type")]
    pub ty: String,
    pub data: Value,
    /// Policy file, `clock`, `escalier`, `scheduler`.
    pub by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

/// Totals over many files.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Summary {
    pub files: usize,
    pub tests: usize,
    pub passed: usize,
    pub failed: usize,
    /// Files that could not be run at all.
    pub broken_files: usize,
}

impl Summary {
    pub fn of(reports: &[FileReport]) -> Summary {
        let mut s = Summary {
            files: reports.len(),
            ..Summary::default()
        };
        for r in reports {
            s.broken_files += usize::from(r.error.is_some());
            s.tests += r.tests.len();
            s.passed += r.tests.iter().filter(|t| t.passed).count();
        }
        s.failed = s.tests - s.passed;
        s
    }

    pub fn ok(&self) -> bool {
        self.failed == 0 && self.broken_files == 0
    }
}

/// `*.test.toml` files: `path` itself if it is a file, else every one
/// under it (names starting with `.` skipped), sorted.
pub fn discover(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_owned()]);
    }
    let mut out = Vec::new();
    let mut pending = vec![path.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let p = entry.path();
            if entry.file_type()?.is_dir() {
                pending.push(p);
            } else if name.ends_with(".test.toml") {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Runs test files, loading each policies directory once.
pub struct Runner {
    opts: TestOptions,
    cache: HashMap<(PathBuf, Option<PathBuf>, Option<PathBuf>), Arc<Policies>>,
}

impl Runner {
    pub fn new(opts: TestOptions) -> Runner {
        Runner {
            opts,
            cache: HashMap::new(),
        }
    }

    /// Run every test of the file at `path`.
    pub fn run_file(&mut self, path: &Path) -> FileReport {
        let shown = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let base = path.parent().unwrap_or(Path::new("."));
                self.run_text(&text, &shown, base)
            }
            Err(e) => FileReport {
                file: shown.clone(),
                error: Some(format!("{shown}: cannot read: {e}")),
                tests: Vec::new(),
            },
        }
    }

    /// Run the tests of `text`, shown as `file`; relative paths in it are
    /// relative to `base`.
    pub fn run_text(&mut self, text: &str, file: &str, base: &Path) -> FileReport {
        let broken = |message: String| FileReport {
            file: file.to_owned(),
            error: Some(message),
            tests: Vec::new(),
        };
        let parsed = match file::parse(text) {
            Ok(p) => p,
            Err(e) => return broken(format!("{file}:{}: {}", e.line, e.message)),
        };
        let plans = match parsed.tests {
            Ok(p) => p,
            Err(e) => return broken(format!("{file}:{}: {}", e.line, e.message)),
        };
        let spec = parsed.spec;
        let dir = spec
            .policies
            .as_ref()
            .map(|p| base.join(p))
            .unwrap_or_else(|| self.opts.policies_dir.clone());
        let extras = Extras {
            policies: spec
                .extra_policies
                .iter()
                .map(|(name, src)| {
                    (
                        name.clone(),
                        src.clone(),
                        format!("{file} [extra_policies] {name}"),
                    )
                })
                .collect(),
            sla: spec.sla.as_ref().map(|p| base.join(p)),
            ladders: spec.ladders.as_ref().map(|p| base.join(p)),
        };
        let policies = match self.policies(&dir, &extras) {
            Ok(p) => p,
            Err(e) => {
                return broken(format!(
                    "{file}: the policies in {} do not load: {e}",
                    dir.display()
                ));
            }
        };
        FileReport {
            file: file.to_owned(),
            error: None,
            tests: plans
                .iter()
                .map(|t| self.run_test(t, &policies, file))
                .collect(),
        }
    }

    fn policies(
        &mut self,
        dir: &Path,
        extras: &Extras,
    ) -> Result<Arc<Policies>, crate::policies::PoliciesError> {
        let key = (dir.to_owned(), extras.sla.clone(), extras.ladders.clone());
        if extras.policies.is_empty()
            && let Some(p) = self.cache.get(&key)
        {
            return Ok(Arc::clone(p));
        }
        let p = Arc::new(Policies::load_with(&self.opts.engine, dir, extras)?);
        if extras.policies.is_empty() {
            self.cache.insert(key, Arc::clone(&p));
        }
        Ok(p)
    }

    fn run_test(&self, plan: &TestPlan, policies: &Policies, file: &str) -> TestReport {
        let mut sim = Simulator::with_policies(Arc::clone(policies.set()), self.opts.limits);
        sim.start_at(plan.start);
        let mut steps_run = 0;
        let mut failures = Vec::new();
        for (i, step) in plan.steps.iter().enumerate() {
            steps_run = i + 1;
            let ctx = StepCtx {
                n: i + 1,
                file,
                step,
                policies,
            };
            failures = run_step(&mut sim, &ctx);
            if !failures.is_empty() {
                break;
            }
        }
        TestReport {
            name: plan.name.clone(),
            line: plan.line,
            passed: failures.is_empty(),
            steps: plan.steps.len(),
            steps_run,
            failures,
        }
    }
}

struct StepCtx<'a> {
    n: usize,
    file: &'a str,
    step: &'a StepPlan,
    policies: &'a Policies,
}

impl StepCtx<'_> {
    fn failure(&self, did: &str, code: &'static str, message: String) -> Failure {
        Failure {
            step: self.n,
            step_at: format!("{}:{}", self.file, self.step.line),
            step_did: did.to_owned(),
            expectation_at: None,
            code,
            message,
            expected: None,
            got: None,
            records: Vec::new(),
        }
    }

    fn at_line(&self, line: u32) -> Option<String> {
        Some(format!("{}:{line}", self.file))
    }
}

/// Run one step and check its expectations. Empty: it passed.
fn run_step(sim: &mut Simulator, ctx: &StepCtx<'_>) -> Vec<Failure> {
    let step = ctx.step;
    let (did, records, refused) = match perform(sim, ctx) {
        Ok(r) => r,
        Err((did, message)) => return vec![ctx.failure(&did, "invalid_step", message)],
    };
    let derived: Vec<&Record> = records.iter().filter(|r| r.index > 0).collect();
    let all_produced = || -> Vec<Produced> {
        derived
            .iter()
            .map(|r| produced(r, &records, ctx.policies))
            .collect()
    };
    let mut failures = Vec::new();
    match (&step.refused, &refused) {
        (None, Some(r)) => failures.push(Failure {
            message: format!("the event was refused: {r}"),
            ..ctx.failure(&did, "refused", String::new())
        }),
        (Some(code), None) => failures.push(ctx.failure(
            &did,
            "not_refused",
            format!("expected the event to be refused ({code}), but it was accepted"),
        )),
        (Some(code), Some(r)) if code != "any" && code != r.code.as_str() => {
            failures.push(Failure {
                expected: Some(json!(code)),
                got: Some(json!(r.code.as_str())),
                ..ctx.failure(&did, "refused", format!("refused for another reason: {r}"))
            })
        }
        _ => {}
    }
    for e in &step.expect {
        let matching: Vec<&&Record> = derived
            .iter()
            .filter(|r| matching::record_matches(e, r).is_ok())
            .collect();
        let ok = match e.count {
            Some(n) => matching.len() == n as usize,
            None => !matching.is_empty(),
        };
        if ok {
            continue;
        }
        let (code, message) = match (e.count, matching.len()) {
            (Some(n), got) if got > 0 || n == 0 => (
                "wrong_count",
                format!("expected {n} × {}, got {got}", describe(e)),
            ),
            _ => (
                "missing_record",
                format!("expected {}{}", describe(e), nearest(e, &derived)),
            ),
        };
        failures.push(Failure {
            expectation_at: ctx.at_line(e.line),
            expected: Some(expectation_json(e)),
            records: all_produced(),
            ..ctx.failure(&did, code, message)
        });
    }
    for e in &step.forbid {
        let hits: Vec<&&Record> = derived
            .iter()
            .filter(|r| matching::record_matches(e, r).is_ok())
            .collect();
        if hits.is_empty() {
            continue;
        }
        failures.push(Failure {
            expectation_at: ctx.at_line(e.line),
            expected: Some(expectation_json(e)),
            records: hits
                .iter()
                .map(|r| produced(r, &records, ctx.policies))
                .collect(),
            ..ctx.failure(
                &did,
                "forbidden_record",
                format!("forbidden: {}, but the step produced it", describe(e)),
            )
        });
    }
    if let Some(t) = &step.ticket
        && let Some(f) = check_ticket(sim, t, ctx, &did)
    {
        failures.push(Failure {
            records: all_produced(),
            ..f
        });
    }
    failures
}

type Performed = (String, Vec<Record>, Option<escalier_core::Rejection>);

/// Do what the step says. `Err`: the step itself is wrong (bad event data,
/// a time in the past), with what it tried to do.
fn perform(sim: &mut Simulator, ctx: &StepCtx<'_>) -> Result<Performed, (String, String)> {
    let now = sim.now();
    let resolve = |w: &Option<When>, what: &str| -> Result<Timestamp, String> {
        let at = match w {
            Some(w) => w.resolve(now)?,
            None => now,
        };
        if at < now {
            return Err(format!(
                "{what} {at} is before the previous step ({now}); steps go forward in time"
            ));
        }
        Ok(at)
    };
    match &ctx.step.action {
        StepAction::Event {
            ty,
            ticket_id,
            id,
            at,
            occurred_at,
            data,
        } => {
            let did = format!("{ty} {ticket_id}");
            let at = resolve(at, "at").map_err(|m| (did.clone(), m))?;
            let did = format!("{did} at {at}");
            let occurred = match occurred_at {
                Some(w) => w.resolve(at).map_err(|m| (did.clone(), m))?,
                None => at,
            };
            let external = escalier_core::event::EXTERNAL_TYPES.contains(&ty.as_str());
            if !external {
                let hint = if ty == "approval.decided" {
                    "; use `decide = { kind = \"refund\", decision = \"approved\", by = \"...\" }`"
                } else {
                    ""
                };
                return Err((
                    did,
                    format!(
                        "`{ty}` is not an event tools send{hint}. Tests send: {}",
                        escalier_core::event::EXTERNAL_TYPES.join(", ")
                    ),
                ));
            }
            let id = id.clone().unwrap_or_else(|| format!("test-{}", ctx.n));
            let envelope = json!({"id": id, "type": ty, "ticket_id": ticket_id, "occurred_at": occurred, "data": data});
            let event = Event::decode_one(&envelope.to_string(), Origin::External)
                .map_err(|r| (did.clone(), format!("the event does not decode: {r}")))?;
            let s = sim.submit(event, Source::Webhook { delivery: None }, at);
            Ok((did, s.records, s.refused))
        }
        StepAction::Decide {
            ticket_id,
            at,
            kind,
            decision,
            by,
            reason,
        } => {
            let did = format!("decide {kind} {decision} on {ticket_id}");
            let at = resolve(at, "at").map_err(|m| (did.clone(), m))?;
            let did = format!("{did} at {at}");
            let approval = sim.ticket(ticket_id).and_then(|t| {
                t.approvals
                    .iter()
                    .rev()
                    .find(|a| a.kind == *kind && a.state == ApprovalState::Pending)
            });
            let Some(approval) = approval else {
                return Err((
                    did,
                    format!("ticket {ticket_id} has no pending `{kind}` approval to decide"),
                ));
            };
            let envelope = json!({
                "id": format!("test-{}", ctx.n), "type": "approval.decided", "ticket_id": ticket_id,
                "occurred_at": at, "data": {"approval_id": approval.id, "decision": decision, "by": by, "reason": reason},
            });
            let event = Event::decode_one(&envelope.to_string(), Origin::Internal)
                .map_err(|r| (did.clone(), format!("the decision does not decode: {r}")))?;
            let s = sim.submit(
                event,
                Source::Api {
                    token: "escalier-test".into(),
                },
                at,
            );
            Ok((did, s.records, s.refused))
        }
        StepAction::Advance(to) => {
            let to = to.resolve(now).map_err(|m| ("advance".to_owned(), m))?;
            let did = format!("advance to {to}");
            if to < now {
                return Err((
                    did,
                    format!("{to} is before the previous step ({now}); steps go forward in time"),
                ));
            }
            Ok((did, sim.advance_to(to), None))
        }
    }
}

fn check_ticket(
    sim: &Simulator,
    t: &TicketExpectation,
    ctx: &StepCtx<'_>,
    did: &str,
) -> Option<Failure> {
    let base = Failure {
        expectation_at: ctx.at_line(t.line),
        ..ctx.failure(did, "ticket_state", String::new())
    };
    let Some(ticket) = sim.ticket(&t.ticket_id) else {
        return Some(Failure {
            message: format!("ticket {} does not exist", t.ticket_id),
            ..base
        });
    };
    let view = matching::ticket_view(ticket);
    if let Err(m) = matching::subset(&t.fields, &view, "") {
        return Some(Failure {
            message: format!("ticket {}: {m}", t.ticket_id),
            expected: Some(m.expected),
            got: m.got,
            ..base
        });
    }
    if let Some(field) = t.unset.iter().find(|f| !matching::is_unset(&view, f)) {
        return Some(Failure {
            message: format!(
                "ticket {}: {field}: expected unset, got {}",
                t.ticket_id,
                view[field.as_str()]
            ),
            got: Some(view[field.as_str()].clone()),
            ..base
        });
    }
    if let Some(tag) = t.without_tags.iter().find(|tag| ticket.has_tag(tag)) {
        return Some(Failure {
            message: format!(
                "ticket {}: expected no tag {tag:?}, but it has it",
                t.ticket_id
            ),
            got: Some(json!(ticket.tags)),
            ..base
        });
    }
    None
}

fn describe(e: &RecordExpectation) -> String {
    let mut s = e.ty.clone();
    if let Some(d) = &e.data {
        s.push(' ');
        s.push_str(&d.to_string());
    }
    if let Some(p) = &e.policy {
        s.push_str(" by ");
        s.push_str(p);
    }
    if let Some(t) = &e.ticket_id {
        s.push_str(" on ");
        s.push_str(t);
    }
    s
}

fn expectation_json(e: &RecordExpectation) -> Value {
    json!({"type": e.ty, "data": e.data, "policy": e.policy, "ticket_id": e.ticket_id, "count": e.count})
}

/// Why the closest records of the expected type did not match.
fn nearest(e: &RecordExpectation, derived: &[&Record]) -> String {
    let reasons: Vec<String> = derived
        .iter()
        .filter_map(|r| matching::record_matches(e, r).err().flatten())
        .map(|m| m.to_string())
        .collect();
    match reasons.as_slice() {
        [] => format!("; the step produced no {}", e.ty),
        [one] => format!("; the {} it produced differs: {one}", e.ty),
        many => format!(
            "; none of the {} {} it produced match: {}",
            many.len(),
            e.ty,
            many.join("; ")
        ),
    }
}

fn produced(r: &Record, context: &[Record], policies: &Policies) -> Produced {
    let hash = match &r.source {
        Source::Policy { hash, .. } | Source::Plugin { hash, .. } => Some(hash.clone()),
        _ => None,
    };
    let data = match &r.event.kind {
        EventKind::ClockRebound(_) => json!({}),
        _ => matching::data_of(r),
    };
    Produced {
        pos: r.pos().to_string(),
        ticket_id: r.event.ticket_id.to_string(),
        ty: r.event.type_name().to_owned(),
        data,
        by: r.source.producer_name().to_owned(),
        hash,
        location: policies.locate(r, context),
    }
}
