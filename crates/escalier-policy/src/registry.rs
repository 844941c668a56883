//! `PolicyRegistry`: the policy set currently serving, and reloading it.
//!
//! Reload is all-or-nothing: the whole directory is compiled into a new
//! set, and only if every file passes is it swapped in (`ArcSwap`, so
//! readers never wait). A broken file leaves the old set serving and is
//! reported, with file:line:col, by [`PolicyRegistry::status`] (the
//! `GET /v1/policies` body), the log, and the return value.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use arc_swap::ArcSwap;
use escalier_core::{Clock, Timestamp};
use serde::Serialize;

use crate::diagnostic::{Diagnostic, Listing};
use crate::engine::PolicyEngine;
use crate::error::LoadError;
use crate::limits::PolicyLimits;
use crate::set::PolicySet;

/// The serving policy set of one policies directory.
pub struct PolicyRegistry {
    dir: PathBuf,
    engine: Arc<PolicyEngine>,
    clock: Arc<dyn Clock>,
    current: ArcSwap<PolicySet>,
    /// Held for a whole reload, so two reloads (watcher, API) never interleave.
    reloading: Mutex<()>,
    state: Mutex<State>,
    /// Called with every set that comes into force (see [`PolicyRegistry::on_change`]).
    on_change: Mutex<Vec<ChangeHook>>,
}

type ChangeHook = Arc<dyn Fn(&PolicySet) + Send + Sync>;

struct State {
    loaded_at: Timestamp,
    /// Name → (hash, when that content was first loaded). A policy whose
    /// file did not change keeps its time across reloads.
    first_seen: HashMap<String, (String, Timestamp)>,
    last_error: Option<LastError>,
    reloads: ReloadCounts,
}

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReloadOutcome {
    /// A new version is serving.
    Changed { from: String, to: String },
    /// The files compile to the version already serving; nothing swapped.
    Unchanged { version: String },
}

/// The registry as `GET /v1/policies` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyStatus {
    pub dir: String,
    /// Version of the serving set.
    pub version: String,
    /// When the serving set was swapped in.
    pub loaded_at: Timestamp,
    pub policies: Vec<PolicyInfo>,
    /// What `sla.toml` and `ladders.toml` define, in force with this set.
    pub timers: TimersInfo,
    /// The last rejected reload, until a later reload succeeds.
    pub last_error: Option<LastError>,
    pub reloads: ReloadCounts,
}

/// Names defined by the SLA and ladder files.
#[derive(Debug, Clone, Serialize)]
pub struct TimersInfo {
    pub version: String,
    pub sla_policies: Vec<String>,
    pub calendars: Vec<String>,
    pub ladders: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PolicyInfo {
    pub name: String,
    pub hash: String,
    /// `ON` as written.
    pub on: Vec<String>,
    /// `ON` with wildcards resolved.
    pub event_types: Vec<&'static str>,
    /// When this content of the file was first loaded.
    pub loaded_at: Timestamp,
}

#[derive(Debug, Clone, Serialize)]
pub struct LastError {
    pub at: Timestamp,
    pub diagnostics: Vec<Diagnostic>,
}

/// Reloads since start, by outcome. The initial load is not counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ReloadCounts {
    pub changed: u64,
    pub unchanged: u64,
    pub failed: u64,
}

impl PolicyRegistry {
    /// Load `dir` with an engine built for `limits`. Fails if any policy is
    /// broken: a server should not start with half its rules.
    pub fn new(
        dir: impl Into<PathBuf>,
        limits: PolicyLimits,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, LoadError> {
        Self::with_engine(dir, Arc::new(PolicyEngine::new(limits)), clock)
    }

    /// Like [`PolicyRegistry::new`], sharing an engine already built.
    pub fn with_engine(
        dir: impl Into<PathBuf>,
        engine: Arc<PolicyEngine>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, LoadError> {
        let dir = dir.into();
        let set = PolicySet::load_dir_with(&engine, &dir)?;
        let now = clock.now();
        let mut state = State {
            loaded_at: now,
            first_seen: HashMap::new(),
            last_error: None,
            reloads: ReloadCounts::default(),
        };
        state.remember(&set, now);
        tracing::info!(
            target: "escalier::policy",
            dir = %dir.display(),
            version = set.version(),
            policies = set.len(),
            "policies loaded"
        );
        Ok(PolicyRegistry {
            dir,
            engine,
            clock,
            current: ArcSwap::from_pointee(set),
            reloading: Mutex::new(()),
            state: Mutex::new(state),
            on_change: Mutex::new(Vec::new()),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn engine(&self) -> &Arc<PolicyEngine> {
        &self.engine
    }

    /// Call `hook` with the set in force now, and with every set a reload
    /// brings into force, right after it does (on the reloading thread).
    /// The server keeps each version's files this way, so a version can
    /// be named (a migration to the set in force) as soon as it serves.
    pub fn on_change(&self, hook: impl Fn(&PolicySet) + Send + Sync + 'static) {
        let hook: ChangeHook = Arc::new(hook);
        hook(&self.current());
        lock(&self.on_change).push(hook);
    }

    /// The serving set. Hold it for one event (or one batch) and ask again:
    /// a reload swaps in a new one without waiting for holders.
    pub fn current(&self) -> Arc<PolicySet> {
        self.current.load_full()
    }

    /// Recompile the directory and swap the result in if every file passed.
    /// On failure the serving set stays, and the error is kept for
    /// [`PolicyRegistry::status`].
    pub fn reload(&self) -> Result<ReloadOutcome, LoadError> {
        let _one_at_a_time = lock(&self.reloading);
        let result = PolicySet::load_dir_with(&self.engine, &self.dir);
        let now = self.clock.now();
        let serving = self.current.load();
        match result {
            Ok(set) if set.version() == serving.version() => {
                let version = set.version().to_owned();
                let mut st = lock(&self.state);
                st.reloads.unchanged += 1;
                st.last_error = None;
                count("unchanged");
                tracing::debug!(target: "escalier::policy", version, "policies unchanged");
                Ok(ReloadOutcome::Unchanged { version })
            }
            Ok(set) => {
                let from = serving.version().to_owned();
                let to = set.version().to_owned();
                {
                    let mut st = lock(&self.state);
                    st.remember(&set, now);
                    st.loaded_at = now;
                    st.reloads.changed += 1;
                    st.last_error = None;
                }
                let policies = set.len();
                let set = Arc::new(set);
                self.current.store(set.clone());
                let hooks = lock(&self.on_change).clone();
                for hook in hooks {
                    hook(&set);
                }
                count("changed");
                tracing::info!(target: "escalier::policy", from, to, policies, "policies reloaded");
                Ok(ReloadOutcome::Changed { from, to })
            }
            Err(e) => {
                {
                    let mut st = lock(&self.state);
                    st.reloads.failed += 1;
                    st.last_error = Some(LastError {
                        at: now,
                        diagnostics: e.diagnostics.clone(),
                    });
                }
                count("failed");
                tracing::warn!(
                    target: "escalier::policy",
                    serving = serving.version(),
                    "policy reload rejected, the previous policies keep serving:\n{}",
                    Listing(&e.diagnostics)
                );
                Err(e)
            }
        }
    }

    pub fn status(&self) -> PolicyStatus {
        let set = self.current();
        let st = lock(&self.state);
        let policies = set
            .policies()
            .iter()
            .map(|p| PolicyInfo {
                name: p.name().to_owned(),
                hash: p.hash().to_owned(),
                on: p.on().to_vec(),
                event_types: p.event_types().collect(),
                loaded_at: st
                    .first_seen
                    .get(p.name())
                    .filter(|(h, _)| h == p.hash())
                    .map_or(st.loaded_at, |(_, at)| *at),
            })
            .collect();
        let books = set.books();
        let timers = TimersInfo {
            version: books.version.clone(),
            sla_policies: books
                .sla
                .policies()
                .iter()
                .map(|p| p.name.clone())
                .collect(),
            calendars: books.sla.calendars().map(|(n, _)| n.to_owned()).collect(),
            ladders: books.ladders.ladders().map(|l| l.name.clone()).collect(),
        };
        PolicyStatus {
            timers,
            dir: self.dir.display().to_string(),
            version: set.version().to_owned(),
            loaded_at: st.loaded_at,
            policies,
            last_error: st.last_error.clone(),
            reloads: st.reloads,
        }
    }
}

impl State {
    fn remember(&mut self, set: &PolicySet, now: Timestamp) {
        let mut seen = HashMap::with_capacity(set.len());
        for p in set.policies() {
            let at = match self.first_seen.get(p.name()) {
                Some((hash, at)) if hash == p.hash() => *at,
                _ => now,
            };
            seen.insert(p.name().to_owned(), (p.hash().to_owned(), at));
        }
        self.first_seen = seen;
    }
}

fn count(outcome: &'static str) {
    metrics::counter!("escalier_policy_reloads_total", "outcome" => outcome).increment(1);
}

/// A poisoned lock only means a reload panicked; the data is still whole.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl std::fmt::Debug for PolicyRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyRegistry")
            .field("dir", &self.dir)
            .field("version", &self.current.load().version())
            .finish_non_exhaustive()
    }
}
