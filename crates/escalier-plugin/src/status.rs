//! What `GET /v1/plugins` shows: per plugin directory, the version
//! serving, what it subscribes to and may do, its health (active, failed,
//! circuit open, half-open, disabled), its last error and its counters.

use std::sync::atomic::Ordering;

use escalier_core::Timestamp;
use serde::Serialize;

use crate::breaker::BreakerState;
use crate::cache::CacheOutcome;
use crate::manifest::{Capabilities, Limits};
use crate::plugin::{LastError, LoadedPlugin};
use crate::registry::{DisabledPlugin, FailedLoad};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Serving.
    Active,
    /// Nothing serves from this directory: it never loaded.
    Failed,
    /// Serving, but calls are skipped until the cooldown passes.
    CircuitOpen,
    /// The cooldown has passed; the next call is a trial.
    HalfOpen,
    /// `enabled = false` in the manifest: not loaded; `disabled_reason`
    /// says what to configure first.
    Disabled,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    pub calls: u64,
    pub errors: u64,
    pub timeouts: u64,
    pub traps: u64,
    pub memory_limits: u64,
    /// Outbound requests refused by the allowlist or address policy.
    pub denied: u64,
    /// Calls skipped because the circuit was open.
    pub skipped: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PluginStatus {
    /// Plugin name (the directory name if it never loaded).
    pub name: String,
    /// Directory under the plugins directory.
    pub dir: String,
    pub status: Health,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `sha256:` + 16 hex digits: what its records carry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component_hash: Option<String>,
    /// Full SHA-256 of the component file, and the file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subscribe: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adapter: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Capabilities>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub circuit_open_until: Option<Timestamp>,
    /// The last failed call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<LastError>,
    /// The files on disk failed to load; the version above keeps serving
    /// (or, with status `failed`, nothing does).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_error: Option<FailedLoad>,
    /// Why the manifest disables the plugin (status `disabled`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    pub counters: Counters,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loaded_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compile_cache: Option<CacheOutcome>,
}

pub(crate) fn serving(
    dir: &str,
    p: &LoadedPlugin,
    load_error: Option<&FailedLoad>,
) -> PluginStatus {
    let s = &p.health.stats;
    let (status, until) = match p.health.breaker_state() {
        BreakerState::Closed => (Health::Active, None),
        BreakerState::Open { until } => (Health::CircuitOpen, Some(until)),
        BreakerState::HalfOpen => (Health::HalfOpen, None),
    };
    PluginStatus {
        name: p.name().to_owned(),
        dir: dir.to_owned(),
        status,
        version: Some(p.manifest.version.clone()),
        component_hash: Some(p.short_hash.clone()),
        sha256: Some(p.sha256.clone()),
        component: Some(p.component_path.display().to_string()),
        subscribe: p.manifest.subscribe.clone(),
        adapter: p.manifest.adapter.clone(),
        commands: p.manifest.commands.clone(),
        capabilities: Some(p.manifest.capabilities.clone()),
        limits: Some(p.manifest.limits),
        circuit_open_until: until,
        last_error: p.health.last_error(),
        load_error: load_error.cloned(),
        disabled_reason: None,
        counters: Counters {
            calls: s.calls.load(Ordering::Relaxed),
            errors: s.errors.load(Ordering::Relaxed),
            timeouts: s.timeouts.load(Ordering::Relaxed),
            traps: s.traps.load(Ordering::Relaxed),
            memory_limits: s.memory_limits.load(Ordering::Relaxed),
            denied: s.denied.load(Ordering::Relaxed),
            skipped: s.skipped.load(Ordering::Relaxed),
        },
        loaded_at: Some(p.load.at),
        load_ms: Some(p.load.took.as_secs_f64() * 1000.0),
        compile_cache: Some(p.load.cache),
    }
}

pub(crate) fn failed(dir: &str, f: &FailedLoad) -> PluginStatus {
    PluginStatus {
        name: dir.to_owned(),
        dir: dir.to_owned(),
        status: Health::Failed,
        version: None,
        component_hash: None,
        sha256: None,
        component: None,
        subscribe: Vec::new(),
        adapter: None,
        commands: Vec::new(),
        capabilities: None,
        limits: None,
        circuit_open_until: None,
        last_error: None,
        load_error: Some(f.clone()),
        disabled_reason: None,
        counters: Counters::default(),
        loaded_at: None,
        load_ms: None,
        compile_cache: None,
    }
}

pub(crate) fn disabled(dir: &str, d: &DisabledPlugin) -> PluginStatus {
    PluginStatus {
        name: d.name.clone(),
        dir: dir.to_owned(),
        status: Health::Disabled,
        version: Some(d.version.clone()),
        component_hash: None,
        sha256: None,
        component: None,
        subscribe: Vec::new(),
        adapter: None,
        commands: Vec::new(),
        capabilities: None,
        limits: None,
        circuit_open_until: None,
        last_error: None,
        load_error: None,
        disabled_reason: Some(d.reason.clone()),
        counters: Counters::default(),
        loaded_at: None,
        load_ms: None,
        compile_cache: None,
    }
}
