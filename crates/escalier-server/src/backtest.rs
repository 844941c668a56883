//! Backtests on the running server: the candidate policy directory
//! (`policies.candidate_dir`) replayed over the stored log of a period with
//! the engine behind `escalier replay` ([`escalier_lab::replay`]), against
//! what the policy set in force recorded.
//!
//! A run reads the log through one read transaction of the store (the
//! server keeps writing meanwhile; the run sees the log as it was when it
//! started, up to the last processed input) on the blocking pool, never in
//! a request. One run at a time per server: starting a run cancels the one
//! in progress, which stops at its next record and is kept as
//! `cancelled`. The last [`KEPT`] runs are kept in memory (not across
//! restarts). `POST /v1/backtests` and `GET /v1/backtests/{id}` serve them,
//! and so does the console's `/backtest` page.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use escalier_core::{Clock, Timestamp};
use escalier_lab::Policies;
use escalier_lab::policies::PoliciesError;
use escalier_lab::replay::{Notifier, PluginRunner, Replay, ReplayOptions, ReplayReport};
use escalier_store::{Store, StoreError};
use serde::Serialize;
use serde_json::{Value, json};

/// Runs kept for `GET /v1/backtests/{id}`.
pub const KEPT: usize = 8;

/// A candidate set ready to replay.
pub struct Prepared {
    pub policies: Policies,
    /// Plugins to run after the policies; `None`: policies only.
    pub plugins: Option<Arc<dyn PluginRunner>>,
    /// The candidate's notification reactor (`notify.toml`), run after
    /// the plugins as in the server, with or without them.
    pub notify: Option<Notifier>,
    pub limits: escalier_core::Limits,
}

/// Why the candidate could not be prepared.
pub enum Unprepared {
    /// The set does not load (every compile error, with file:line:col).
    Policies(PoliciesError),
    /// Anything else (the plugins did not load).
    Other(String),
}

/// Loads the candidate directory (the binary provides it: it knows the
/// policy limits and the plugin host).
pub type Loader = Arc<dyn Fn(&Path) -> Result<Prepared, Unprepared> + Send + Sync>;

/// How the server runs backtests.
pub struct BacktestConfig {
    /// `policies.candidate_dir`; `None`: not configured.
    pub candidate_dir: Option<PathBuf>,
    /// What runs after the policies, in words (`the installed plugins in
    /// DIR ...`, `no plugins ...`).
    pub plugins: String,
    /// Worker threads a run shards tickets over.
    pub threads: usize,
    pub load: Loader,
}

/// The server's backtests.
pub struct Backtests {
    config: BacktestConfig,
    store: Store,
    clock: Arc<dyn Clock>,
    runs: Mutex<Runs>,
    /// Held by the run in progress: one at a time.
    gate: Arc<Mutex<()>>,
}

#[derive(Default)]
struct Runs {
    next: u64,
    kept: VecDeque<Arc<Run>>,
}

struct Run {
    id: String,
    from: Timestamp,
    to: Timestamp,
    requested_by: String,
    started_at: Timestamp,
    candidate_dir: String,
    cancel: AtomicBool,
    read: AtomicU64,
    total: AtomicU64,
    outcome: Mutex<Outcome>,
}

#[derive(Clone)]
enum Outcome {
    Running,
    Done {
        at: Timestamp,
        report: Arc<ReplayReport>,
    },
    Failed {
        at: Timestamp,
        message: String,
        diagnostics: Vec<Value>,
    },
    Cancelled {
        at: Timestamp,
    },
}

/// Why a run could not start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartError {
    /// `policies.candidate_dir` is not set.
    NotConfigured,
    /// `from` is not before `to`.
    EmptyPeriod,
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::NotConfigured => write!(
                f,
                "no candidate policy directory is configured: set policies.candidate_dir (or ESCALIER_CANDIDATE_POLICIES) and restart"
            ),
            StartError::EmptyPeriod => write!(f, "`from` must be before `to`"),
        }
    }
}

/// The period's default: the last 7 days.
pub fn default_period(now: Timestamp) -> (Timestamp, Timestamp) {
    (now - jiff::SignedDuration::from_hours(7 * 24), now)
}

impl Backtests {
    pub fn new(config: BacktestConfig, store: Store, clock: Arc<dyn Clock>) -> Backtests {
        Backtests {
            config,
            store,
            clock,
            runs: Mutex::new(Runs::default()),
            gate: Arc::new(Mutex::new(())),
        }
    }

    /// The server's time (the default period ends now).
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// `{"candidate_dir", "plugins", "threads"}`.
    pub fn setup(&self) -> Value {
        json!({
            "candidate_dir": self.config.candidate_dir.as_ref().map(|d| d.display().to_string()),
            "plugins": self.config.plugins,
            "threads": self.config.threads,
        })
    }

    /// Start a run over the inputs recorded in `from..to`, cancelling the
    /// one in progress; its state as `get` answers it. Needs a Tokio
    /// runtime (the run goes to its blocking pool).
    pub fn start(
        self: &Arc<Self>,
        requested_by: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Value, StartError> {
        let Some(dir) = self.config.candidate_dir.clone() else {
            return Err(StartError::NotConfigured);
        };
        if from >= to {
            return Err(StartError::EmptyPeriod);
        }
        let run = {
            let mut runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
            for r in &runs.kept {
                r.cancel.store(true, Ordering::Relaxed);
            }
            runs.next += 1;
            let run = Arc::new(Run {
                id: format!("bt-{}", runs.next),
                from,
                to,
                requested_by: requested_by.to_owned(),
                started_at: self.clock.now(),
                candidate_dir: dir.display().to_string(),
                cancel: AtomicBool::new(false),
                read: AtomicU64::new(0),
                total: AtomicU64::new(0),
                outcome: Mutex::new(Outcome::Running),
            });
            runs.kept.push_back(run.clone());
            while runs.kept.len() > KEPT {
                runs.kept.pop_front();
            }
            run
        };
        tracing::info!(id = %run.id, by = requested_by, %from, %to, "backtest started");
        let this = Arc::clone(self);
        let job = run.clone();
        tokio::task::spawn_blocking(move || this.execute(&job, &dir));
        Ok(self.view(&run, false))
    }

    /// Cancel every run (at shutdown: a run stops at its next record).
    pub fn cancel_all(&self) {
        let runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        for r in &runs.kept {
            r.cancel.store(true, Ordering::Relaxed);
        }
    }

    /// A run by id (`None`: the latest), with its report when done.
    pub fn get(&self, id: Option<&str>) -> Option<Value> {
        let runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        let run = match id {
            Some(id) => runs.kept.iter().find(|r| r.id == id),
            None => runs.kept.back(),
        }?
        .clone();
        drop(runs);
        Some(self.view(&run, true))
    }

    fn view(&self, run: &Run, report: bool) -> Value {
        let outcome = run
            .outcome
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let mut v = json!({
            "id": run.id,
            "from": run.from,
            "to": run.to,
            "requested_by": run.requested_by,
            "started_at": run.started_at,
            "candidate_dir": run.candidate_dir,
            "plugins": self.config.plugins,
            "progress": {
                "read": run.read.load(Ordering::Relaxed),
                "total": run.total.load(Ordering::Relaxed),
            },
        });
        let (state, at) = match &outcome {
            Outcome::Running => ("running", None),
            Outcome::Done { at, .. } => ("done", Some(*at)),
            Outcome::Failed { at, .. } => ("failed", Some(*at)),
            Outcome::Cancelled { at } => ("cancelled", Some(*at)),
        };
        v["state"] = json!(state);
        if let Some(at) = at {
            v["finished_at"] = json!(at);
        }
        match outcome {
            Outcome::Done { report: r, .. } => {
                v["differs"] = json!(!r.is_empty());
                v["tickets_differing"] = json!(r.tickets.len());
                if report {
                    v["report"] = serde_json::to_value(&*r).unwrap_or(Value::Null);
                }
            }
            Outcome::Failed {
                message,
                diagnostics,
                ..
            } => {
                v["error"] = json!(message);
                v["diagnostics"] = Value::Array(diagnostics);
            }
            _ => {}
        }
        v
    }

    /// The run itself, on the blocking pool.
    fn execute(&self, run: &Run, dir: &Path) {
        // Wait for a cancelled run to let go; it stops at its next record.
        let _gate = self.gate.lock().unwrap_or_else(|e| e.into_inner());
        let outcome = match self.replay(run, dir) {
            _ if run.cancel.load(Ordering::Relaxed) => Outcome::Cancelled {
                at: self.clock.now(),
            },
            Ok(report) => Outcome::Done {
                at: self.clock.now(),
                report: Arc::new(report),
            },
            Err((message, diagnostics)) => Outcome::Failed {
                at: self.clock.now(),
                message,
                diagnostics,
            },
        };
        let state = match &outcome {
            Outcome::Done { report, .. } => {
                format!("done, {} tickets differ", report.tickets.len())
            }
            Outcome::Failed { message, .. } => format!("failed: {message}"),
            _ => "cancelled".to_owned(),
        };
        tracing::info!(id = %run.id, %state, "backtest finished");
        *run.outcome.lock().unwrap_or_else(|e| e.into_inner()) = outcome;
    }

    fn replay(&self, run: &Run, dir: &Path) -> Result<ReplayReport, (String, Vec<Value>)> {
        if run.cancel.load(Ordering::Relaxed) {
            return Err(("cancelled".into(), Vec::new()));
        }
        let prepared = (self.config.load)(dir).map_err(|e| match e {
            Unprepared::Policies(PoliciesError::Load(l)) => (
                format!(
                    "the candidate set in {} does not compile ({} errors)",
                    dir.display(),
                    l.diagnostics.len()
                ),
                l.diagnostics.iter().map(diagnostic).collect(),
            ),
            Unprepared::Policies(other) => (other.to_string(), Vec::new()),
            Unprepared::Other(m) => (m, Vec::new()),
        })?;
        let opts = ReplayOptions {
            plugins: prepared.plugins,
            notify: prepared.notify,
            since: Some(run.from),
            until: Some(run.to),
            limits: prepared.limits,
            threads: self.config.threads,
            ..ReplayOptions::default()
        };
        run.total
            .store(self.store.progress().processed(), Ordering::Relaxed);
        let mut replay = Replay::new(&prepared.policies, opts);
        let mut cancelled = false;
        let read = self.store.for_each_record(|r| {
            if r.index == 0 {
                if run.cancel.load(Ordering::Relaxed) {
                    cancelled = true;
                    return Err(StoreError::Closed);
                }
                run.read.store(r.seq, Ordering::Relaxed);
            }
            replay.push(r);
            Ok(())
        });
        if cancelled {
            return Err(("cancelled".into(), Vec::new()));
        }
        read.map_err(|e| (format!("reading the log: {e}"), Vec::new()))?;
        replay
            .finish()
            .map_err(|(seq, m)| (format!("record {seq}: {m}"), Vec::new()))
    }
}

/// A compile error as JSON, with the offending source line when the file
/// reads.
fn diagnostic(d: &impl Serialize) -> Value {
    let mut v = serde_json::to_value(d).unwrap_or(Value::Null);
    let source = match (v["file"].as_str(), v["line"].as_u64()) {
        (Some(file), Some(line)) => std::fs::read_to_string(file).ok().and_then(|text| {
            text.lines()
                .nth(line.saturating_sub(1) as usize)
                .map(str::to_owned)
        }),
        _ => None,
    };
    if let Some(src) = source {
        v["source_line"] = json!(src);
    }
    v
}

/// The console's handle on the backtests.
pub struct Shared(pub Arc<Backtests>);

impl escalier_console::backtest::BacktestModel for Shared {
    fn setup(&self) -> Value {
        self.0.setup()
    }

    fn start(
        &self,
        who: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<String, escalier_console::ModelError> {
        let v = self.0.start(who, from, to).map_err(|e| {
            escalier_console::ModelError::new(
                match e {
                    StartError::NotConfigured => 409,
                    StartError::EmptyPeriod => 400,
                },
                e.to_string(),
            )
        })?;
        Ok(v["id"].as_str().unwrap_or_default().to_owned())
    }

    fn run(&self, id: Option<&str>) -> Option<Value> {
        self.0.get(id)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    use super::*;

    fn backtests(dir: &Path, load: Loader, candidate: bool) -> Arc<Backtests> {
        let store = Store::open(
            &dir.join("escalier.redb"),
            &escalier_store::StoreOptions::default(),
        )
        .unwrap();
        Arc::new(Backtests::new(
            BacktestConfig {
                candidate_dir: candidate.then(|| dir.join("candidate")),
                plugins: "none".into(),
                threads: 1,
                load,
            },
            store,
            Arc::new(escalier_core::SystemClock),
        ))
    }

    fn empty_set(dir: &Path) -> Result<Prepared, Unprepared> {
        std::fs::create_dir_all(dir).map_err(|e| Unprepared::Other(e.to_string()))?;
        Ok(Prepared {
            policies: Policies::load(dir).map_err(Unprepared::Policies)?,
            plugins: None,
            notify: None,
            limits: escalier_core::Limits::default(),
        })
    }

    /// Poll (bounded) until the run is over.
    async fn over(b: &Backtests, id: &str) -> Value {
        let limit = Instant::now() + Duration::from_secs(30);
        loop {
            let v = b.get(Some(id)).unwrap();
            if v["state"] != "running" || Instant::now() > limit {
                return v;
            }
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_new_run_cancels_the_one_in_progress() {
        let dir = tempfile::tempdir().unwrap();
        // The first run's loading waits until the test lets it go.
        let (release, wait) = mpsc::channel::<()>();
        let wait = Mutex::new(Some(wait));
        let load: Loader = Arc::new(move |d: &Path| {
            if let Some(w) = wait.lock().unwrap().take() {
                let _ = w.recv();
            }
            empty_set(d)
        });
        let b = backtests(dir.path(), load, true);
        let now = Timestamp::now();
        let (from, to) = default_period(now);
        let first = b.start("lead", from, to).unwrap();
        assert_eq!(first["state"], "running");
        let second = b.start("lead", from, to).unwrap();
        assert_ne!(first["id"], second["id"]);
        release.send(()).unwrap();
        let first = over(&b, first["id"].as_str().unwrap()).await;
        let second = over(&b, second["id"].as_str().unwrap()).await;
        assert_eq!(first["state"], "cancelled", "{first}");
        assert_eq!(second["state"], "done", "{second}");
        assert_eq!(second["differs"], false, "{second}");
        assert_eq!(b.get(None).unwrap()["id"], second["id"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn shutting_down_cancels_the_run_in_progress() {
        let dir = tempfile::tempdir().unwrap();
        let (release, wait) = mpsc::channel::<()>();
        let wait = Mutex::new(wait);
        let load: Loader = Arc::new(move |d: &Path| {
            let _ = wait.lock().unwrap().recv();
            empty_set(d)
        });
        let b = backtests(dir.path(), load, true);
        let (from, to) = default_period(Timestamp::now());
        let run = b.start("lead", from, to).unwrap();
        b.cancel_all();
        release.send(()).unwrap();
        let run = over(&b, run["id"].as_str().unwrap()).await;
        assert_eq!(run["state"], "cancelled", "{run}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn without_a_candidate_dir_or_with_an_empty_period_nothing_starts() {
        let dir = tempfile::tempdir().unwrap();
        let b = backtests(dir.path(), Arc::new(empty_set), false);
        let now = Timestamp::now();
        assert_eq!(
            b.start("lead", now - jiff::SignedDuration::from_hours(1), now),
            Err(StartError::NotConfigured)
        );
        assert!(b.get(None).is_none());
        let other = tempfile::tempdir().unwrap();
        let b = backtests(other.path(), Arc::new(empty_set), true);
        assert_eq!(b.start("lead", now, now), Err(StartError::EmptyPeriod));
    }

    #[test]
    fn a_compile_error_carries_its_source_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("vip.rhai");
        std::fs::write(&file, "const ON = [];\nif x {\n").unwrap();
        let d = json!({"file": file.display().to_string(), "line": 2, "column": 4, "message": "m"});
        assert_eq!(diagnostic(&d)["source_line"], "if x {");
        let gone = json!({"file": "/nonexistent/x.rhai", "line": 1});
        assert!(diagnostic(&gone).get("source_line").is_none());
    }
}
