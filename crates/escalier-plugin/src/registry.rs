//! The plugin registry: loads every plugin directory under the plugins
//! directory, serves them as an atomically swapped [`PluginSet`], reloads
//! on request (or from [`crate::watch`]) and reports status.
//!
//! Reload is per plugin: a directory that was added, changed (manifest,
//! component or one of its secrets) or removed takes effect; one that
//! fails to load is reported with the reason and the version of that
//! plugin that was serving keeps serving. Unchanged plugins keep their
//! instance, breaker and counters.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use arc_swap::ArcSwap;
use escalier_core::{Clock, SystemClock, Timestamp};
use serde::Serialize;

use crate::breaker::BreakerConfig;
use crate::engine::{PoolConfig, Runtime};
use crate::error::{HostError, LoadError};
use crate::outbound::allow::AddressPolicy;
use crate::plugin::{Candidate, LoadedPlugin};
use crate::secrets::Secrets;
use crate::set::PluginSet;
use crate::status::{self, PluginStatus};

/// Everything the host needs; the binary fills it from its config.
#[derive(Clone)]
pub struct HostConfig {
    /// One subdirectory per plugin, each with `plugin.toml` and its component.
    pub plugins_dir: PathBuf,
    /// Where compiled components are cached (`<data dir>/plugin-cache`).
    /// `None` compiles on every start. Must be private to Escalier.
    pub cache_dir: Option<PathBuf>,
    pub secrets: Secrets,
    /// Non-public addresses plugins may reach (`outbound.allow_private`).
    pub address_policy: AddressPolicy,
    pub pool: PoolConfig,
    pub breaker: BreakerConfig,
    /// Epoch tick: the granularity of time limits.
    pub epoch_tick: Duration,
    /// Time for adapters and load timestamps (handlers use record time).
    pub clock: Arc<dyn Clock>,
}

impl HostConfig {
    pub fn new(plugins_dir: impl Into<PathBuf>) -> HostConfig {
        HostConfig {
            plugins_dir: plugins_dir.into(),
            cache_dir: None,
            secrets: Secrets::none(),
            address_policy: AddressPolicy::default(),
            pool: PoolConfig::default(),
            breaker: BreakerConfig::default(),
            epoch_tick: Duration::from_millis(1),
            clock: Arc::new(SystemClock),
        }
    }
}

/// What a reload did, by plugin directory name.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReloadReport {
    pub loaded: Vec<String>,
    pub replaced: Vec<String>,
    pub removed: Vec<String>,
    pub unchanged: Vec<String>,
    /// Directories that failed, with the reason; a previous version of the
    /// plugin, if any, still serves.
    pub failed: Vec<FailedLoad>,
    /// Directories whose manifest says `enabled = false`: not loaded (and
    /// also under `removed` if they were serving).
    pub disabled: Vec<String>,
}

impl ReloadReport {
    /// Whether anything serving changed.
    pub fn changed(&self) -> bool {
        !(self.loaded.is_empty() && self.replaced.is_empty() && self.removed.is_empty())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailedLoad {
    pub dir: String,
    pub error: String,
    pub at: Timestamp,
}

/// A plugin directory whose manifest says `enabled = false`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DisabledPlugin {
    pub name: String,
    pub version: String,
    /// The manifest's `disabled_reason`: what to configure before enabling.
    pub reason: String,
}

struct State {
    by_dir: BTreeMap<String, Arc<LoadedPlugin>>,
    failures: BTreeMap<String, FailedLoad>,
    disabled: BTreeMap<String, DisabledPlugin>,
    secrets: Secrets,
}

/// The loaded plugins and how to reload them.
pub struct PluginRegistry {
    runtime: Arc<Runtime>,
    dir: PathBuf,
    address_policy: AddressPolicy,
    breaker: BreakerConfig,
    clock: Arc<dyn Clock>,
    current: ArcSwap<PluginSet>,
    /// Also serializes reloads.
    state: Mutex<State>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl PluginRegistry {
    /// Start the engine and load every plugin directory. Plugins that fail
    /// to load are reported in [`PluginRegistry::status`] and the returned
    /// report; only a host that cannot start at all is an error.
    pub fn open(config: HostConfig) -> Result<(Arc<PluginRegistry>, ReloadReport), HostError> {
        if !config.plugins_dir.is_dir() {
            return Err(HostError::PluginsDir {
                path: config.plugins_dir.clone(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "not a directory"),
            });
        }
        let runtime = Runtime::new(
            config.pool.clone(),
            config.cache_dir.clone(),
            config.epoch_tick,
        )?;
        let registry = Arc::new(PluginRegistry {
            current: ArcSwap::from_pointee(PluginSet::new(Vec::new(), config.clock.clone())),
            runtime,
            dir: config.plugins_dir,
            address_policy: config.address_policy,
            breaker: config.breaker,
            clock: config.clock,
            state: Mutex::new(State {
                by_dir: BTreeMap::new(),
                failures: BTreeMap::new(),
                disabled: BTreeMap::new(),
                secrets: config.secrets,
            }),
        });
        let report = registry.reload();
        Ok((registry, report))
    }

    /// The plugins serving now. Cheap; hold it for one batch of records,
    /// not forever (it keeps replaced plugins alive).
    pub fn current(&self) -> Arc<PluginSet> {
        self.current.load_full()
    }

    pub fn plugins_dir(&self) -> &Path {
        &self.dir
    }

    /// The secrets file re-read on every reload, if there is one.
    pub fn secrets_file(&self) -> Option<PathBuf> {
        lock(&self.state).secrets.file().map(Path::to_owned)
    }

    /// The current value of secret `name` (environment, then the secrets
    /// file as last read). For the send path only: authenticated requests
    /// take their `Authorization` value from here, never from the sandbox.
    pub fn secret(&self, name: &str) -> Option<String> {
        lock(&self.state).secrets.get(name).map(str::to_owned)
    }

    /// Re-read the plugins directory and the secrets file; swap in the new set.
    pub fn reload(&self) -> ReloadReport {
        let mut st = lock(&self.state);
        let now = self.clock.now();
        let mut report = ReloadReport::default();
        if let Err(e) = st.secrets.reload_file() {
            // Keep the secrets we had; say why.
            report.failed.push(FailedLoad {
                dir: "(secrets file)".into(),
                error: e.to_string(),
                at: now,
            });
        }
        let dirs = match plugin_dirs(&self.dir) {
            Ok(d) => d,
            Err(e) => {
                report.failed.push(FailedLoad {
                    dir: self.dir.display().to_string(),
                    error: format!("cannot list the plugins directory: {e}"),
                    at: now,
                });
                return report;
            }
        };

        let previous = st.by_dir.clone();
        let mut next: BTreeMap<String, Arc<LoadedPlugin>> = BTreeMap::new();
        let mut failures = BTreeMap::new();
        let mut disabled = BTreeMap::new();
        for (name, path) in &dirs {
            let old = previous.get(name);
            let loaded = Candidate::read(
                path,
                &st.secrets,
                &self.address_policy,
                self.runtime.pool.max_memory_mib,
                self.runtime.cache.as_ref(),
            )
            .and_then(|c| {
                if let Some(old) = old
                    && old.fingerprint == c.fingerprint
                {
                    return Ok(None);
                }
                LoadedPlugin::build(c, &self.runtime, &self.address_policy, self.breaker, now)
                    .map(Some)
            });
            match loaded {
                Ok(None) => {
                    if let Some(old) = old {
                        next.insert(name.clone(), old.clone());
                        report.unchanged.push(name.clone());
                    }
                }
                Ok(Some(p)) => {
                    tracing::info!(
                        plugin = p.name(),
                        version = p.manifest.version,
                        hash = p.short_hash,
                        cache = ?p.load.cache,
                        ms = p.load.took.as_secs_f64() * 1000.0,
                        "plugin loaded"
                    );
                    if old.is_some() {
                        report.replaced.push(name.clone());
                    } else {
                        report.loaded.push(name.clone());
                    }
                    next.insert(name.clone(), Arc::new(p));
                }
                Err(LoadError::Disabled {
                    plugin,
                    version,
                    reason,
                }) => {
                    if !st.disabled.contains_key(name) {
                        tracing::info!(dir = %path.display(), plugin, "plugin disabled: {reason}");
                    }
                    report.disabled.push(name.clone());
                    if old.is_some() {
                        report.removed.push(name.clone());
                    }
                    disabled.insert(
                        name.clone(),
                        DisabledPlugin {
                            name: plugin,
                            version,
                            reason,
                        },
                    );
                }
                Err(e) => {
                    tracing::warn!(dir = %path.display(), "plugin not loaded: {e}");
                    failures.insert(name.clone(), failed(name, &e, now));
                    if let Some(old) = old {
                        next.insert(name.clone(), old.clone());
                    }
                }
            }
        }
        for name in previous.keys() {
            if !dirs.contains_key(name) {
                report.removed.push(name.clone());
            }
        }
        resolve_conflicts(&mut next, &previous, &mut failures, &mut report, now);
        report.failed.extend(failures.values().cloned());
        st.by_dir = next;
        st.failures = failures;
        st.disabled = disabled;
        self.current.store(Arc::new(PluginSet::new(
            st.by_dir.values().cloned().collect(),
            self.clock.clone(),
        )));
        report
    }

    /// Every plugin directory's status, for `GET /v1/plugins`.
    pub fn status(&self) -> Vec<PluginStatus> {
        let st = lock(&self.state);
        let mut out = Vec::new();
        for (dir, p) in &st.by_dir {
            out.push(status::serving(dir, p, st.failures.get(dir)));
        }
        for (dir, f) in &st.failures {
            if !st.by_dir.contains_key(dir) {
                out.push(status::failed(dir, f));
            }
        }
        for (dir, d) in &st.disabled {
            out.push(status::disabled(dir, d));
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }
}

fn failed(dir: &str, e: &LoadError, at: Timestamp) -> FailedLoad {
    FailedLoad {
        dir: dir.to_owned(),
        error: e.to_string(),
        at,
    }
}

/// Subdirectories holding a `plugin.toml`, by directory name. Hidden
/// directories (`.tmp-upload`) are skipped so a deploy can stage there.
fn plugin_dirs(root: &Path) -> std::io::Result<BTreeMap<String, PathBuf>> {
    let mut dirs = BTreeMap::new();
    for entry in std::fs::read_dir(root)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if name.starts_with('.')
            || !path.is_dir()
            || !path.join(crate::manifest::FILE_NAME).is_file()
        {
            continue;
        }
        dirs.insert(name, path);
    }
    Ok(dirs)
}

/// Two directories may not define the same plugin name or adapter: the one
/// that was serving before keeps it (else the first by directory name).
fn resolve_conflicts(
    next: &mut BTreeMap<String, Arc<LoadedPlugin>>,
    previous: &BTreeMap<String, Arc<LoadedPlugin>>,
    failures: &mut BTreeMap<String, FailedLoad>,
    report: &mut ReloadReport,
    now: Timestamp,
) {
    let mut order: Vec<String> = next.keys().cloned().collect();
    // Directories whose current plugin was already serving claim names first.
    order.sort_by_key(|d| {
        let kept = previous
            .get(d)
            .zip(next.get(d))
            .is_some_and(|(a, b)| Arc::ptr_eq(a, b));
        (!kept, d.clone())
    });
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let mut adapters: BTreeMap<String, String> = BTreeMap::new();
    for dir in order {
        let Some(p) = next.get(&dir).cloned() else {
            continue;
        };
        let clash = if let Some(first) = names.get(p.name()) {
            Some(LoadError::Duplicate {
                name: p.name().to_owned(),
                first: PathBuf::from(first),
                second: PathBuf::from(&dir),
            })
        } else if let Some(a) = &p.manifest.adapter
            && let Some(first) = adapters.get(a)
        {
            Some(LoadError::DuplicateAdapter {
                adapter: a.clone(),
                first: first.clone(),
                second: p.name().to_owned(),
            })
        } else {
            None
        };
        match clash {
            Some(e) => {
                next.remove(&dir);
                report.loaded.retain(|d| d != &dir);
                report.replaced.retain(|d| d != &dir);
                failures.insert(dir.clone(), failed(&dir, &e, now));
            }
            None => {
                names.insert(p.name().to_owned(), dir.clone());
                if let Some(a) = &p.manifest.adapter {
                    adapters.insert(a.clone(), p.name().to_owned());
                }
            }
        }
    }
}
