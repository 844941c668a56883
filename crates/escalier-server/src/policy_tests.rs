//! The policy tests (`escalier test`: the `*.test.toml` files under the
//! policies directory) of the set in force, run by the server in the
//! background: once at start and again whenever the set in force changes
//! (a successful reload to a new version) or a test file changes. The last
//! result is kept for `GET /v1/policies` (`tests`) and the console's
//! policies page.
//!
//! A run happens on the blocking pool, one at a time, through the same
//! runner as `escalier test` (policies compiled with the server's engine
//! and limits). A rejected reload leaves the set in force, and the result
//! that goes with it, unchanged.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use escalier_core::{Clock, Timestamp};
use escalier_lab::policy_test::{self, FileReport, Runner, Summary, TestOptions};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Most failures kept in a result (the counts are always complete).
pub const MAX_FAILURES: usize = 100;

/// One failed test, or a test file that could not run.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TestFailure {
    /// The test file, relative to the policies directory.
    pub file: String,
    /// The test's name; `None`: the whole file could not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test: Option<String>,
    /// `file:line` of the failed expectation (or step, or the file).
    pub at: String,
    pub message: String,
}

/// The outcome of one run.
#[derive(Debug, Clone, Serialize)]
pub struct TestRun {
    /// `passed`, `failed`, or `no_tests` (the set has no `*.test.toml`).
    pub state: &'static str,
    /// The version of the set in force that was tested.
    pub version: String,
    /// Whether the files the tests ran against compiled to `version`
    /// (`false`: the files changed on disk since and did not load as the
    /// set in force, e.g. a reload was rejected).
    pub matches_set_in_force: bool,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    pub files: usize,
    pub tests: usize,
    pub passed: usize,
    pub failed: usize,
    /// Test files that could not run at all (syntax, policies that do not load).
    pub broken_files: usize,
    /// At most [`MAX_FAILURES`], in file order.
    pub failures: Vec<TestFailure>,
}

/// The server's policy tests: settings and the last result.
pub struct PolicyTests {
    dir: PathBuf,
    opts: TestOptions,
    clock: Arc<dyn Clock>,
    last: Mutex<Option<TestRun>>,
    /// What the last run (or the one in progress) was for.
    tested: Mutex<Option<(String, String)>>,
    running: AtomicBool,
}

impl PolicyTests {
    /// Tests under `opts.policies_dir`, timed by `clock`.
    pub fn new(opts: TestOptions, clock: Arc<dyn Clock>) -> PolicyTests {
        PolicyTests {
            dir: opts.policies_dir.clone(),
            opts,
            clock,
            last: Mutex::new(None),
            tested: Mutex::new(None),
            running: AtomicBool::new(false),
        }
    }

    /// The last result, if a run finished.
    pub fn last(&self) -> Option<TestRun> {
        self.last.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// As `GET /v1/policies` shows it (`tests`): the last result, with
    /// `running` (a run for a newer set or newer tests is under way);
    /// `{"state": "pending"}` before the first run finished.
    pub fn status(&self) -> serde_json::Value {
        let running = self.running.load(Ordering::Relaxed);
        match self.last() {
            Some(run) => {
                let mut v = serde_json::to_value(run).unwrap_or_default();
                if let Some(map) = v.as_object_mut() {
                    map.insert("running".into(), running.into());
                }
                v
            }
            None => serde_json::json!({"state": "pending", "running": running}),
        }
    }

    /// Run the tests if the set in force (`version`) or the test files
    /// changed since the last run; blocking. Returns whether a run happened.
    pub fn run_if_changed(&self, version: &str) -> bool {
        let files = policy_test::discover(&self.dir).unwrap_or_default();
        let key = (version.to_owned(), fingerprint(&files));
        {
            let mut tested = self.tested.lock().unwrap_or_else(|p| p.into_inner());
            if tested.as_ref() == Some(&key) {
                return false;
            }
            *tested = Some(key);
        }
        self.running.store(true, Ordering::Relaxed);
        let run = self.run(version, &files);
        match run.state {
            "failed" => tracing::warn!(
                target: "escalier::policy",
                version, failed = run.failed, broken_files = run.broken_files,
                "policy tests of the set in force failed"
            ),
            _ => tracing::info!(
                target: "escalier::policy",
                version, passed = run.passed, "policy tests of the set in force ran"
            ),
        }
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(run);
        self.running.store(false, Ordering::Relaxed);
        true
    }

    fn run(&self, version: &str, files: &[PathBuf]) -> TestRun {
        let started_at = self.clock.now();
        let loaded = escalier_lab::policies::Policies::load_with(
            &self.opts.engine,
            &self.dir,
            &escalier_lab::policies::Extras::default(),
        );
        let matches_set_in_force = loaded.is_ok_and(|p| p.set().version() == version);
        let mut runner = Runner::new(self.opts.clone());
        let reports: Vec<FileReport> = files
            .iter()
            .map(|f| {
                let shown = shown(&self.dir, f);
                match std::fs::read_to_string(f) {
                    Ok(text) => {
                        let base = f.parent().unwrap_or(Path::new("."));
                        runner.run_text(&text, &shown, base)
                    }
                    Err(e) => FileReport {
                        file: shown.clone(),
                        error: Some(format!("{shown}: cannot read: {e}")),
                        tests: Vec::new(),
                    },
                }
            })
            .collect();
        let summary = Summary::of(&reports);
        TestRun {
            state: if summary.files == 0 {
                "no_tests"
            } else if summary.ok() {
                "passed"
            } else {
                "failed"
            },
            version: version.to_owned(),
            matches_set_in_force,
            started_at,
            finished_at: self.clock.now(),
            files: summary.files,
            tests: summary.tests,
            passed: summary.passed,
            failed: summary.failed,
            broken_files: summary.broken_files,
            failures: failures(&reports),
        }
    }

    /// Check every `every` on the blocking pool whether the set in force
    /// (`version()`) or the tests changed, and run them if so; the first
    /// check is at once.
    pub fn spawn(
        self: Arc<Self>,
        version: Arc<dyn Fn() -> String + Send + Sync>,
        every: Duration,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let (me, v) = (self.clone(), version.clone());
                // One at a time: the next check waits for this run.
                if tokio::task::spawn_blocking(move || me.run_if_changed(&v()))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        })
    }
}

/// A file's name relative to the policies directory.
fn shown(dir: &Path, f: &Path) -> String {
    f.strip_prefix(dir).unwrap_or(f).display().to_string()
}

/// The test files' names and contents, hashed.
fn fingerprint(files: &[PathBuf]) -> String {
    let mut h = Sha256::new();
    for f in files {
        h.update(f.to_string_lossy().as_bytes());
        h.update([0]);
        match std::fs::read(f) {
            Ok(bytes) => h.update(&bytes),
            Err(e) => h.update(e.to_string().as_bytes()),
        }
        h.update([0]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn failures(reports: &[FileReport]) -> Vec<TestFailure> {
    let mut out = Vec::new();
    for r in reports {
        if let Some(e) = &r.error {
            out.push(TestFailure {
                file: r.file.clone(),
                test: None,
                at: r.file.clone(),
                message: e.clone(),
            });
        }
        for t in r.tests.iter().filter(|t| !t.passed) {
            let first = t.failures.first();
            out.push(TestFailure {
                file: r.file.clone(),
                test: Some(t.name.clone()),
                at: first
                    .map(|f| {
                        f.expectation_at
                            .clone()
                            .unwrap_or_else(|| f.step_at.clone())
                    })
                    .unwrap_or_else(|| format!("{}:{}", r.file, t.line)),
                message: t
                    .failures
                    .iter()
                    .map(|f| f.message.as_str())
                    .collect::<Vec<_>>()
                    .join("; "),
            });
        }
    }
    out.truncate(MAX_FAILURES);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) {
        let p = dir.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    fn tests_in(dir: &Path) -> PolicyTests {
        PolicyTests::new(
            TestOptions::new(dir),
            Arc::new(escalier_core::ManualClock::new(
                "2026-03-09T09:00:00Z".parse().unwrap(),
            )),
        )
    }

    fn version_of(dir: &Path) -> String {
        escalier_lab::policies::Policies::load(dir)
            .unwrap()
            .set()
            .version()
            .to_owned()
    }

    const POLICY: &str = r#"
const ON = ["ticket.created"];
if ticket.priority == "urgent" {
    route("on-call", "Urgent priority");
}
"#;

    const TEST: &str = r#"
start = 2026-03-09T08:00:00Z

[[test]]
name = "urgent goes on call"

[[test.step]]
event = "ticket.created"
data = { subject = "down", channel = "email", priority = "urgent", requester = { id = "c-1" } }

[test.step.ticket]
team = "on-call"
"#;

    #[test]
    fn a_set_without_tests_says_so() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "routing/a.rhai", POLICY);
        let t = tests_in(dir.path());
        assert_eq!(t.status()["state"], "pending");
        let v = version_of(dir.path());
        assert!(t.run_if_changed(&v));
        let run = t.last().unwrap();
        assert_eq!(run.state, "no_tests");
        assert_eq!((run.files, run.tests), (0, 0));
        assert!(run.matches_set_in_force);
        assert!(!t.run_if_changed(&v), "nothing changed: no second run");
    }

    #[test]
    fn a_failing_test_is_reported_with_its_place_and_a_change_reruns() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "routing/a.rhai", POLICY);
        write(dir.path(), "tests/a.test.toml", TEST);
        let t = tests_in(dir.path());
        let v = version_of(dir.path());
        assert!(t.run_if_changed(&v));
        let run = t.last().unwrap();
        assert_eq!(run.state, "passed", "{run:?}");
        assert_eq!((run.tests, run.passed, run.failed), (1, 1, 0));
        assert_eq!(run.version, v);

        // The test changes (the set does not): it runs again, and fails.
        write(
            dir.path(),
            "tests/a.test.toml",
            &TEST.replace("team = \"on-call\"", "team = \"billing\""),
        );
        assert!(t.run_if_changed(&v));
        let run = t.last().unwrap();
        assert_eq!(run.state, "failed");
        assert_eq!((run.tests, run.passed, run.failed), (1, 0, 1));
        let f = &run.failures[0];
        assert_eq!(f.file, "tests/a.test.toml");
        assert_eq!(f.test.as_deref(), Some("urgent goes on call"));
        assert!(f.at.starts_with("tests/a.test.toml:"), "{f:?}");
        assert!(!f.message.is_empty());
        let json = t.status();
        assert_eq!(json["state"], "failed");
        assert_eq!(json["running"], false);
        assert_eq!(json["failures"][0]["file"], "tests/a.test.toml");
    }

    #[test]
    fn a_broken_test_file_counts_and_says_where() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "routing/a.rhai", POLICY);
        write(dir.path(), "tests/b.test.toml", "[[test]\nname = ");
        let t = tests_in(dir.path());
        t.run_if_changed(&version_of(dir.path()));
        let run = t.last().unwrap();
        assert_eq!(run.state, "failed");
        assert_eq!(run.broken_files, 1);
        assert_eq!(run.failures[0].test, None);
        assert!(
            run.failures[0].message.starts_with("tests/b.test.toml:"),
            "{:?}",
            run.failures[0]
        );
    }

    #[test]
    fn tests_of_files_that_are_not_the_set_in_force_say_so() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "routing/a.rhai", POLICY);
        let t = tests_in(dir.path());
        t.run_if_changed("some-other-version");
        assert!(!t.last().unwrap().matches_set_in_force);
    }
}
