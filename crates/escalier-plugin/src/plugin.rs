//! One loaded plugin: its manifest, compiled component, pre-linked
//! instance (`PluginPre`), breaker and counters, and the three ways to
//! call it (handler, command, adapter).
//!
//! Invariant: a `LoadedPlugin` is complete and immutable once built;
//! reloading builds a new one. Only its health (breaker, counters, warm
//! instances) changes while it serves.

use std::collections::{BTreeMap, HashMap};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use escalier_core::event::{PluginCommand, PluginError, PluginState, PluginTimer};
use escalier_core::{EventKind, Producer, Reaction, Reactor, Record, Source, Ticket, Timestamp};
use sha2::{Digest, Sha256};
use wasmtime::Store;
use wasmtime::component::Component;

use crate::bindings::escalier::plugin::types as wit;
use crate::bindings::{Plugin, PluginPre};
use crate::breaker::{Breaker, BreakerConfig, BreakerState};
use crate::cache::{CacheOutcome, CompileCache};
use crate::call::{self, CallCtx, CallKind, CallOutput, CallState, Failure};
use crate::convert;
use crate::engine::Runtime;
use crate::error::LoadError;
use crate::manifest::{Capabilities, InstanceMode, Limits, Manifest, ManifestError};
use crate::outbound::allow::AddressPolicy;
use crate::secrets::Secrets;

/// What host functions need to know about the plugin they serve.
pub(crate) struct PluginCtx {
    pub name: String,
    pub capabilities: Capabilities,
    pub limits: Limits,
    /// `[config]` values as JSON text.
    pub config_json: BTreeMap<String, String>,
    /// Resolved secrets: those in `capabilities.secrets` and the signing secret.
    pub secrets: HashMap<String, String>,
    pub address_policy: AddressPolicy,
}

/// A plugin directory read from disk, before compiling: enough to tell
/// whether anything changed since the version that is serving.
pub(crate) struct Candidate {
    pub manifest: Manifest,
    pub component_path: PathBuf,
    /// Read only if the component's hash had to be computed.
    pub bytes: Option<Vec<u8>>,
    pub sha256: String,
    pub secrets: HashMap<String, String>,
    /// Hash of manifest text, component and resolved secrets.
    pub fingerprint: [u8; 32],
    /// Time spent reading and hashing.
    pub read_took: Duration,
}

impl Candidate {
    pub fn read(
        dir: &Path,
        secrets: &Secrets,
        address_policy: &AddressPolicy,
        max_memory_mib: u32,
        cache: Option<&CompileCache>,
    ) -> Result<Candidate, LoadError> {
        let started = Instant::now();
        let (manifest, text) = Manifest::load(dir)?;
        if let Some(reason) = &manifest.disabled {
            return Err(LoadError::Disabled {
                plugin: manifest.name.clone(),
                version: manifest.version.clone(),
                reason: reason.clone(),
            });
        }
        manifest.check_auth_transport(
            address_policy,
            &text,
            &dir.join(crate::manifest::FILE_NAME),
        )?;
        if manifest.limits.memory_mib > max_memory_mib {
            return Err(ManifestError {
                path: dir.join(crate::manifest::FILE_NAME),
                line: None,
                key: "limits.memory_mib".into(),
                message: format!(
                    "{} MiB is above this host's ceiling of {max_memory_mib} MiB (pool.max_memory_mib)",
                    manifest.limits.memory_mib
                ),
            }
            .into());
        }
        let mut resolved = HashMap::new();
        for name in manifest.secret_names() {
            let value = secrets.get(name).ok_or_else(|| LoadError::MissingSecret {
                plugin: manifest.name.clone(),
                name: name.to_owned(),
            })?;
            resolved.insert(name.to_owned(), value.to_owned());
        }
        // A signing secret that cannot sign is refused now, not at the first
        // delivery (which would otherwise go out unsigned or fail late).
        if let Some(name) = manifest
            .capabilities
            .http
            .as_ref()
            .and_then(|h| h.signing_secret.as_deref())
            && let Some(value) = resolved.get(name)
            && let Err(e) = escalier_webhook::Secret::parse(value)
        {
            return Err(LoadError::BadSigningSecret {
                plugin: manifest.name.clone(),
                name: name.to_owned(),
                reason: e.to_string(),
            });
        }
        let component_path = dir.join(&manifest.component);
        let io = |source| LoadError::Io {
            path: component_path.clone(),
            source,
        };
        let meta = std::fs::metadata(&component_path).map_err(io)?;
        let (sha256, bytes) = match cache.and_then(|c| c.known_hash(&component_path, &meta)) {
            Some(sha) => (sha, None),
            None => {
                let bytes = std::fs::read(&component_path).map_err(io)?;
                let sha = hex(&Sha256::digest(&bytes));
                if let Some(c) = cache {
                    c.remember_hash(&component_path, &meta, &sha);
                }
                (sha, Some(bytes))
            }
        };
        let mut h = Sha256::new();
        h.update(text.as_bytes());
        h.update(sha256.as_bytes());
        let mut names: Vec<_> = resolved.iter().collect();
        names.sort();
        for (k, v) in names {
            h.update(k.as_bytes());
            h.update([0]);
            h.update(v.as_bytes());
            h.update([0]);
        }
        Ok(Candidate {
            manifest,
            component_path,
            bytes,
            sha256,
            secrets: resolved,
            fingerprint: h.finalize().into(),
            read_took: started.elapsed(),
        })
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How a load went, for status.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LoadInfo {
    pub at: Timestamp,
    pub took: Duration,
    pub cache: CacheOutcome,
}

/// The last failure, for status.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LastError {
    pub code: String,
    pub message: String,
    /// Record time (handler, command) or arrival time (adapter).
    pub at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
}

/// Counters since this version was loaded.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub calls: AtomicU64,
    pub errors: AtomicU64,
    pub timeouts: AtomicU64,
    pub traps: AtomicU64,
    pub memory_limits: AtomicU64,
    pub denied: AtomicU64,
    pub skipped: AtomicU64,
}

pub(crate) struct Health {
    breaker: Mutex<Breaker>,
    pub stats: Stats,
    last_error: Mutex<Option<LastError>>,
    last_record_time: Mutex<Option<Timestamp>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock only means a panic elsewhere; the data is still usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Health {
    pub fn breaker_state(&self) -> BreakerState {
        let now = *lock(&self.last_record_time);
        lock(&self.breaker).state(now)
    }

    pub fn last_error(&self) -> Option<LastError> {
        lock(&self.last_error).clone()
    }
}

struct Warm {
    store: Store<CallState>,
    plugin: Plugin,
    calls: u32,
}

pub(crate) struct LoadedPlugin {
    pub manifest: Manifest,
    pub component_path: PathBuf,
    pub sha256: String,
    /// `sha256:` and the first 16 hex digits: what records carry.
    pub short_hash: String,
    pub fingerprint: [u8; 32],
    pub load: LoadInfo,
    pub ctx: Arc<PluginCtx>,
    pub health: Health,
    pre: PluginPre<CallState>,
    runtime: Arc<Runtime>,
    warm: Mutex<Vec<Warm>>,
    seed: u64,
}

impl LoadedPlugin {
    /// Compile (or map from the cache) and pre-link a candidate.
    pub fn build(
        c: Candidate,
        runtime: &Arc<Runtime>,
        address_policy: &AddressPolicy,
        breaker: BreakerConfig,
        now: Timestamp,
    ) -> Result<LoadedPlugin, LoadError> {
        let started = Instant::now();
        let compile_err = |e: wasmtime::Error| LoadError::Compile {
            path: c.component_path.clone(),
            message: format!("{e:#}"),
        };
        // The bytes, read now if the hash came from the cache's index; they
        // must still be the bytes that hash names.
        let component_path = c.component_path.clone();
        let (expected, known) = (c.sha256.clone(), c.bytes);
        let read = move || -> wasmtime::Result<Vec<u8>> {
            let bytes = match known {
                Some(b) => return Ok(b),
                None => std::fs::read(&component_path)?,
            };
            if hex(&Sha256::digest(&bytes)) != expected {
                return Err(wasmtime::Error::msg(
                    "the component changed while it was being loaded",
                ));
            }
            Ok(bytes)
        };
        let (component, cache) = match &runtime.cache {
            Some(cache) => cache
                .load(&runtime.engine, &c.sha256, read)
                .map_err(compile_err)?,
            None => (
                Component::new(&runtime.engine, read().map_err(compile_err)?)
                    .map_err(compile_err)?,
                CacheOutcome::Off,
            ),
        };
        let link_err = |e: wasmtime::Error| LoadError::Link {
            path: c.component_path.clone(),
            message: format!("{e:#}"),
        };
        let instance_pre = runtime
            .linker
            .instantiate_pre(&component)
            .map_err(link_err)?;
        let pre = PluginPre::new(instance_pre).map_err(link_err)?;
        let config_json = c
            .manifest
            .config
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect();
        let ctx = Arc::new(PluginCtx {
            name: c.manifest.name.clone(),
            capabilities: c.manifest.capabilities.clone(),
            limits: c.manifest.limits,
            config_json,
            secrets: c.secrets,
            address_policy: address_policy.clone(),
        });
        let seed = u64::from_str_radix(&c.sha256[..16], 16).unwrap_or(0);
        Ok(LoadedPlugin {
            short_hash: format!("sha256:{}", &c.sha256[..16]),
            manifest: c.manifest,
            component_path: c.component_path,
            sha256: c.sha256,
            fingerprint: c.fingerprint,
            load: LoadInfo {
                at: now,
                took: c.read_took + started.elapsed(),
                cache,
            },
            ctx,
            health: Health {
                breaker: Mutex::new(Breaker::new(breaker)),
                stats: Stats::default(),
                last_error: Mutex::new(None),
                last_record_time: Mutex::new(None),
            },
            pre,
            runtime: runtime.clone(),
            warm: Mutex::new(Vec::new()),
            seed,
        })
    }

    pub fn name(&self) -> &str {
        &self.manifest.name
    }

    fn producer(&self) -> Producer {
        Producer::Plugin {
            plugin: self.manifest.name.clone(),
            version: self.manifest.version.clone(),
            hash: self.short_hash.clone(),
        }
    }

    fn error(&self, code: &str, message: String) -> Reaction {
        Reaction {
            producer: self.producer(),
            kind: EventKind::PluginError(PluginError {
                plugin: self.manifest.name.clone(),
                code: code.to_owned(),
                message,
            }),
        }
    }

    /// Whether the handler subscribes to `event_type`.
    pub fn subscribes(&self, event_type: &str) -> bool {
        self.manifest
            .subscribe
            .iter()
            .any(|s| s == "*" || s == event_type)
    }

    /// Whether the handler is offered `record`: a `plugin.timer` goes to
    /// the plugin that set it (subscribed or not) and to no other; any
    /// other record to subscribers, except the plugin that produced it.
    pub fn takes(&self, record: &Record) -> bool {
        match &record.event.kind {
            EventKind::PluginTimer(t) => t.plugin == self.manifest.name,
            _ => {
                let own = matches!(&record.source, Source::Plugin { plugin, .. } if *plugin == self.manifest.name);
                !own && self.subscribes(record.event.type_name())
            }
        }
    }

    /// Run `f` against an instance with the store's limits set. Never
    /// panics: a panic inside wasmtime or a host function becomes a
    /// `host_panic` failure.
    fn run<R>(
        &self,
        ctx: CallCtx,
        seed: u64,
        f: impl FnOnce(&Plugin, &mut Store<CallState>) -> wasmtime::Result<R>,
    ) -> (Result<R, Failure>, CallOutput) {
        let caught =
            std::panic::catch_unwind(AssertUnwindSafe(|| match self.manifest.limits.instances {
                InstanceMode::Fresh => self.run_fresh(ctx, seed, f),
                InstanceMode::Reuse => self.run_warm(ctx, seed, f),
            }));
        caught.unwrap_or_else(|panic| {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            tracing::error!(
                plugin = self.name(),
                "host panicked during a plugin call: {msg}"
            );
            (
                Err(Failure::new(
                    "host_panic",
                    format!("the host failed during the call: {msg}"),
                )),
                CallOutput::default(),
            )
        })
    }

    fn new_store(&self, ctx: CallCtx, seed: u64) -> Store<CallState> {
        let mut store = Store::new(
            &self.runtime.engine,
            CallState::new(self.ctx.clone(), ctx, self.seed, seed),
        );
        store.limiter(|s| &mut s.limiter);
        store.epoch_deadline_trap();
        store
    }

    fn run_fresh<R>(
        &self,
        ctx: CallCtx,
        seed: u64,
        f: impl FnOnce(&Plugin, &mut Store<CallState>) -> wasmtime::Result<R>,
    ) -> (Result<R, Failure>, CallOutput) {
        let time_ms = self.ctx.limits.time_ms;
        let mut store = self.new_store(ctx, seed);
        store.set_epoch_deadline(self.runtime.deadline_ticks(time_ms));
        let result = match self.pre.instantiate(&mut store) {
            Ok(instance) => {
                store.data_mut().reseed(seed);
                f(&instance, &mut store).map_err(|e| call::classify(&e, store.data(), time_ms))
            }
            Err(e) => Err(instantiate_failure(&e, store.data(), time_ms)),
        };
        let out = std::mem::take(&mut store.data_mut().out);
        (result, out)
    }

    fn run_warm<R>(
        &self,
        ctx: CallCtx,
        seed: u64,
        f: impl FnOnce(&Plugin, &mut Store<CallState>) -> wasmtime::Result<R>,
    ) -> (Result<R, Failure>, CallOutput) {
        let time_ms = self.ctx.limits.time_ms;
        let ticks = self.runtime.deadline_ticks(time_ms);
        let pooled = lock(&self.warm).pop();
        let mut warm = match pooled {
            Some(mut w) => {
                w.store.data_mut().begin(ctx);
                w
            }
            None => {
                let mut store = self.new_store(ctx, seed);
                // Starting a slow guest may take longer than one call may:
                // give instantiation ten times the call limit.
                store.set_epoch_deadline(ticks.saturating_mul(10));
                match self.pre.instantiate(&mut store) {
                    Ok(plugin) => Warm {
                        store,
                        plugin,
                        calls: 0,
                    },
                    Err(e) => {
                        let failure = instantiate_failure(&e, store.data(), time_ms);
                        return (Err(failure), std::mem::take(&mut store.data_mut().out));
                    }
                }
            }
        };
        warm.store.set_epoch_deadline(ticks);
        warm.store.data_mut().reseed(seed);
        let result = f(&warm.plugin, &mut warm.store)
            .map_err(|e| call::classify(&e, warm.store.data(), time_ms));
        let out = std::mem::take(&mut warm.store.data_mut().out);
        warm.calls += 1;
        // An instance that failed may be in any state: never reuse it.
        if result.is_ok()
            && warm.calls < self.manifest.limits.max_reuse
            && !warm.store.data().limiter.hit
        {
            lock(&self.warm).push(warm);
        }
        (result, out)
    }

    /// For the benchmark: one fresh-instance handler call, timed by phase
    /// (instantiate, call, drop). Not for production use.
    pub fn time_phases(&self, ticket: &Arc<Ticket>, record: &Arc<Record>) -> [Duration; 3] {
        let ctx = CallCtx {
            kind: CallKind::Handler,
            ticket: Some(ticket.clone()),
            now: record.recorded_at,
            pos: Some((record.seq, record.index)),
        };
        let t0 = Instant::now();
        let mut store = self.new_store(ctx, self.seed);
        store.set_epoch_deadline(self.runtime.deadline_ticks(self.ctx.limits.time_ms));
        let Ok(instance) = self.pre.instantiate(&mut store) else {
            return [Duration::ZERO; 3];
        };
        let t1 = Instant::now();
        let t = convert::ticket(ticket);
        let e = convert::event(record, self.name());
        let _ = std::hint::black_box(
            instance
                .escalier_plugin_handler()
                .call_handle(&mut store, &t, &e),
        );
        let t2 = Instant::now();
        drop(store);
        let t3 = Instant::now();
        [t1 - t0, t2 - t1, t3 - t2]
    }

    fn seed_for(&self, seq: u64, index: u32) -> u64 {
        self.seed ^ seq.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ u64::from(index).rotate_left(32)
    }

    /// Record time moves the breaker; `Err` reaction if the circuit is open.
    fn admit(&self, now: Timestamp) -> Result<(), Box<Reaction>> {
        *lock(&self.health.last_record_time) = Some(now);
        let admitted = lock(&self.health.breaker).admit(now);
        admitted.map_err(|until| {
            self.health.stats.skipped.fetch_add(1, Ordering::Relaxed);
            Box::new(self.error(
                "circuit_open",
                format!(
                    "not called: the plugin failed {} times in a row; the next call is tried at {until} (record time)",
                    lock(&self.health.breaker).failures_to_open()
                ),
            ))
        })
    }

    /// Offer `record` to the handler export.
    pub fn handle(&self, ticket: &Arc<Ticket>, record: &Arc<Record>, out: &mut Vec<Reaction>) {
        self.call_on_record(CallKind::Handler, ticket, record, out, |plugin, store| {
            let t = convert::ticket(ticket);
            let e = convert::event(record, self.name());
            plugin.escalier_plugin_handler().call_handle(store, &t, &e)
        });
    }

    /// Run a `plugin.command` addressed to this plugin.
    pub fn command(
        &self,
        ticket: &Arc<Ticket>,
        record: &Arc<Record>,
        cmd: &PluginCommand,
        out: &mut Vec<Reaction>,
    ) {
        if !self.manifest.commands.contains(&cmd.command) {
            out.push(self.error(
                "unknown_command",
                format!(
                    "`{}` is not one of this plugin's commands ({})",
                    cmd.command,
                    self.manifest.commands.join(", ")
                ),
            ));
            return;
        }
        let args = cmd.args.to_string();
        self.call_on_record(CallKind::Command, ticket, record, out, |plugin, store| {
            let t = convert::ticket(ticket);
            plugin
                .escalier_plugin_commands()
                .call_run(store, &t, &cmd.command, &args, &cmd.by)
        });
    }

    /// One call made for `record` on `ticket`: through the circuit breaker,
    /// on an instance seeded by the record's position, its actions or
    /// failure turned into reactions.
    fn call_on_record(
        &self,
        kind: CallKind,
        ticket: &Arc<Ticket>,
        record: &Record,
        out: &mut Vec<Reaction>,
        call: impl FnOnce(
            &Plugin,
            &mut Store<CallState>,
        ) -> wasmtime::Result<Result<Vec<wit::Action>, wit::Error>>,
    ) {
        let now = record.recorded_at;
        if let Err(skipped) = self.admit(now) {
            out.push(*skipped);
            return;
        }
        let ctx = CallCtx {
            kind,
            ticket: Some(ticket.clone()),
            now,
            pos: Some((record.seq, record.index)),
        };
        let seed = self.seed_for(record.seq, record.index);
        let (result, output) = self.run(ctx, seed, call);
        self.finish(result, output, now, Some(ticket), out);
    }

    /// Call the adapter export. `Err` is a failure or the guest's error.
    pub fn adapt(
        &self,
        headers: &[(String, String)],
        body: &[u8],
        now: Timestamp,
    ) -> Result<Result<Vec<String>, wit::Error>, Failure> {
        let ctx = CallCtx {
            kind: CallKind::Adapter,
            ticket: None,
            now,
            pos: None,
        };
        let headers: Vec<wit::Header> = headers
            .iter()
            .map(|(n, v)| wit::Header {
                name: n.to_ascii_lowercase(),
                value: v.clone(),
            })
            .collect();
        let seed = self.seed ^ (now.as_millisecond() as u64);
        let (result, _output) = self.run(ctx, seed, |plugin, store| {
            plugin
                .escalier_plugin_adapter()
                .call_adapt(store, &headers, body)
        });
        let stats = &self.health.stats;
        stats.calls.fetch_add(1, Ordering::Relaxed);
        match &result {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                stats.errors.fetch_add(1, Ordering::Relaxed);
                let (case, msg) = convert::guest_error(e);
                self.remember(LastError {
                    code: "guest_error".into(),
                    message: format!("{case}: {msg}"),
                    at: now,
                    ticket: None,
                });
            }
            Err(f) => self.count_failure(f, now, None),
        }
        result
    }

    fn remember(&self, e: LastError) {
        *lock(&self.health.last_error) = Some(e);
    }

    fn count_failure(&self, f: &Failure, now: Timestamp, ticket: Option<&Ticket>) {
        let stats = &self.health.stats;
        stats.errors.fetch_add(1, Ordering::Relaxed);
        match f.code {
            "timeout" => stats.timeouts.fetch_add(1, Ordering::Relaxed),
            "memory_limit" => stats.memory_limits.fetch_add(1, Ordering::Relaxed),
            _ => stats.traps.fetch_add(1, Ordering::Relaxed),
        };
        tracing::warn!(
            plugin = self.name(),
            code = f.code,
            "plugin call failed: {}",
            f.message
        );
        self.remember(LastError {
            code: f.code.to_owned(),
            message: f.message.clone(),
            at: now,
            ticket: ticket.map(|t| t.id.as_str().to_owned()),
        });
    }

    /// Turn a handler or command call's result into reactions: state
    /// first, then deliveries, then actions; failures as `plugin.error`.
    fn finish(
        &self,
        result: Result<Result<Vec<wit::Action>, wit::Error>, Failure>,
        output: CallOutput,
        now: Timestamp,
        ticket: Option<&Arc<Ticket>>,
        out: &mut Vec<Reaction>,
    ) {
        let stats = &self.health.stats;
        stats.calls.fetch_add(1, Ordering::Relaxed);
        for reason in output.denied {
            stats.denied.fetch_add(1, Ordering::Relaxed);
            out.push(self.error("denied", format!("outbound request refused: {reason}")));
        }
        match result {
            Ok(Ok(actions)) if actions.len() > MAX_ACTIONS_PER_CALL => {
                // A call that floods the log is a failure like a trap: none
                // of what it did applies, and repeats open the breaker.
                stats.errors.fetch_add(1, Ordering::Relaxed);
                let mut message = format!(
                    "returned {} actions; at most {MAX_ACTIONS_PER_CALL} per call, so none were applied",
                    actions.len()
                );
                tracing::warn!(
                    plugin = self.name(),
                    code = "too_many_actions",
                    "plugin call failed: {message}"
                );
                self.remember(LastError {
                    code: "too_many_actions".into(),
                    message: message.clone(),
                    at: now,
                    ticket: ticket.map(|t| t.id.as_str().to_owned()),
                });
                if lock(&self.health.breaker).failure(now) {
                    message
                        .push_str("; circuit opened: calls are skipped until the cooldown passes");
                }
                out.push(self.error("too_many_actions", message));
            }
            Ok(Ok(actions)) => {
                lock(&self.health.breaker).success();
                if !output.kv.is_empty() || !output.timers.is_empty() {
                    let mut state = PluginState {
                        plugin: self.manifest.name.clone(),
                        set: BTreeMap::new(),
                        delete: Vec::new(),
                        set_timers: BTreeMap::new(),
                        cancel_timers: Vec::new(),
                    };
                    for (k, v) in output.kv {
                        match v {
                            Some(v) => {
                                state.set.insert(k, v);
                            }
                            None => state.delete.push(k),
                        }
                    }
                    for (k, at) in output.timers {
                        match at {
                            Some(at) => {
                                state.set_timers.insert(k, at);
                            }
                            None => state.cancel_timers.push(k),
                        }
                    }
                    out.push(Reaction {
                        producer: self.producer(),
                        kind: EventKind::PluginState(state),
                    });
                }
                for d in output.deliveries {
                    out.push(Reaction {
                        producer: self.producer(),
                        kind: EventKind::DeliveryRequested(d),
                    });
                }
                for a in actions {
                    match convert::action(a) {
                        Ok(kind) => out.push(Reaction {
                            producer: self.producer(),
                            kind,
                        }),
                        Err(msg) => out.push(self.error("invalid_action", msg)),
                    }
                }
            }
            Ok(Err(e)) => {
                stats.errors.fetch_add(1, Ordering::Relaxed);
                let (case, msg) = convert::guest_error(&e);
                let message = format!("{case}: {msg}");
                self.remember(LastError {
                    code: "guest_error".into(),
                    message: message.clone(),
                    at: now,
                    ticket: ticket.map(|t| t.id.as_str().to_owned()),
                });
                out.push(self.error("guest_error", message));
            }
            Err(f) => {
                self.count_failure(&f, now, ticket.map(|t| &**t));
                let mut message = f.message.clone();
                if f.trips_breaker() && lock(&self.health.breaker).failure(now) {
                    message
                        .push_str("; circuit opened: calls are skipped until the cooldown passes");
                }
                out.push(self.error(f.code, message));
            }
        }
    }
}

/// Most actions one handler or command call may return. More is a
/// failure (`too_many_actions`): a plugin is not meant to flood the log.
pub const MAX_ACTIONS_PER_CALL: usize = 32;

fn instantiate_failure(e: &wasmtime::Error, state: &CallState, time_ms: u32) -> Failure {
    let f = call::classify(e, state, time_ms);
    if f.code == "trap" {
        Failure::new("instantiate", format!("could not start an instance: {e:#}"))
    } else {
        f
    }
}

impl Breaker {
    pub(crate) fn failures_to_open(&self) -> u32 {
        self.config().failures
    }
}

/// One plugin as a reactor of its own (see `PluginSet::reactors`).
impl Reactor for LoadedPlugin {
    fn wants(&self, event_type: &str) -> bool {
        self.subscribes(event_type)
            || (event_type == PluginCommand::TYPE && !self.manifest.commands.is_empty())
            || event_type == PluginTimer::TYPE
    }

    fn react(&self, ticket: &Arc<Ticket>, record: &Arc<Record>, out: &mut Vec<Reaction>) {
        if let EventKind::PluginCommand(cmd) = &record.event.kind
            && cmd.plugin == self.manifest.name
        {
            self.command(ticket, record, cmd, out);
        }
        if self.takes(record) {
            self.handle(ticket, record, out);
        }
    }
}
