//! One call into a plugin: the store data every host function sees
//! ([`CallState`]), the limits set on the store, and how a failed call is
//! classified into a `plugin.error` code.
//!
//! A fresh store and instance per call is the default; the store (and so
//! every guest global) is dropped afterwards. Warm instances (`instances =
//! "reuse"`) keep the store but reset everything in [`CallState`] that
//! belongs to a call, and every call, warm or fresh, seeds the WASI
//! generators again right before the export runs ([`CallState::reseed`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use escalier_core::event::DeliveryRequested;
use escalier_core::{Ticket, Timestamp};
use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, Trap};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::plugin::PluginCtx;
use crate::wasi::{self, Sandbox, Seeds, SharedNow};

/// What a call is for; decides which capabilities make sense.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallKind {
    Handler,
    Command,
    Adapter,
}

/// The per-call inputs host functions read.
pub(crate) struct CallCtx {
    pub kind: CallKind,
    pub ticket: Option<Arc<Ticket>>,
    pub now: Timestamp,
    /// Position of the record being handled: names delivery ids.
    pub pos: Option<(u64, u32)>,
}

/// What a call produced besides its return value.
#[derive(Default)]
pub(crate) struct CallOutput {
    /// Buffered kv writes: `None` deletes.
    pub kv: BTreeMap<String, Option<String>>,
    /// Buffered timer changes: `None` cancels.
    pub timers: BTreeMap<String, Option<Timestamp>>,
    pub deliveries: Vec<DeliveryRequested>,
    /// Outbound requests refused by the allowlist or address policy.
    pub denied: Vec<String>,
    /// Set by a host function before it traps: why (`capability_denied`).
    pub fault: Option<(&'static str, String)>,
    pub log_lines: u32,
}

/// The store data of a plugin instance.
pub(crate) struct CallState {
    pub plugin: Arc<PluginCtx>,
    pub ctx: CallCtx,
    pub out: CallOutput,
    pub limiter: MemoryLimiter,
    pub now: SharedNow,
    pub stderr: MemoryOutputPipe,
    seeds: Seeds,
    wasi: WasiCtx,
    table: ResourceTable,
}

impl CallState {
    /// `plugin_seed` derives from the plugin's hash; `seed` from that and
    /// the record's position.
    pub fn new(plugin: Arc<PluginCtx>, ctx: CallCtx, plugin_seed: u64, seed: u64) -> CallState {
        let now = SharedNow::default();
        now.set_ms(ctx.now.as_millisecond());
        let stderr = MemoryOutputPipe::new(wasi::STDERR_BYTES);
        let (wasi, seeds) = wasi::sandbox(Sandbox {
            now: &now,
            clock: plugin.capabilities.clock,
            seed,
            plugin_seed,
            stderr: &stderr,
        });
        let limiter = MemoryLimiter::new(plugin.limits.memory_mib);
        CallState {
            plugin,
            ctx,
            out: CallOutput::default(),
            limiter,
            now,
            stderr,
            seeds,
            wasi,
            table: ResourceTable::new(),
        }
    }

    /// Start another call on a warm instance.
    pub fn begin(&mut self, ctx: CallCtx) {
        self.now.set_ms(ctx.now.as_millisecond());
        self.ctx = ctx;
        self.out = CallOutput::default();
    }

    /// Seed the WASI generators for the call about to run, so what it
    /// draws depends on the plugin and the record alone, not on what
    /// instantiation or earlier calls on a warm instance drew.
    pub fn reseed(&mut self, seed: u64) {
        self.seeds.reseed(seed);
    }

    /// Refuse a call to something the manifest does not grant: remember
    /// why, then trap.
    pub fn deny(&mut self, what: String) -> wasmtime::Error {
        let msg = format!("{what}; the plugin's manifest does not grant it");
        self.out.fault = Some(("capability_denied", msg.clone()));
        wasmtime::Error::msg(msg)
    }

    /// The stderr tail, for trap messages (panics print there).
    pub fn stderr_tail(&self) -> String {
        let bytes = self.stderr.contents();
        let text = String::from_utf8_lossy(&bytes);
        let text = text.trim();
        let start = text.len().saturating_sub(1024);
        let start = (start..=text.len())
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(text.len());
        text[start..].to_owned()
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Enforces `limits.memory_mib` and remembers that it did, so the trap
/// that follows (an allocator aborting) is reported as `memory_limit`.
pub(crate) struct MemoryLimiter {
    max_bytes: usize,
    pub hit: bool,
}

impl MemoryLimiter {
    fn new(memory_mib: u32) -> MemoryLimiter {
        MemoryLimiter {
            max_bytes: (memory_mib as usize) << 20,
            hit: false,
        }
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.hit = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Tables are bounded by the pool (`table_elements`); growth past it fails there.
        Ok(desired <= 1 << 20)
    }
}

/// A call that did not return normally, as a `plugin.error` code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub code: &'static str,
    pub message: String,
}

impl Failure {
    pub fn new(code: &'static str, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }

    /// Whether it counts against the circuit breaker (the plugin
    /// misbehaved, as opposed to answering with an error of its own).
    pub fn trips_breaker(&self) -> bool {
        matches!(
            self.code,
            "trap"
                | "timeout"
                | "memory_limit"
                | "capability_denied"
                | "instantiate"
                | "host_panic"
        )
    }
}

/// Classify a wasmtime error from instantiating or calling.
pub(crate) fn classify(err: &wasmtime::Error, state: &CallState, time_ms: u32) -> Failure {
    if let Some((code, msg)) = &state.out.fault {
        return Failure::new(code, msg.clone());
    }
    let trap = err.downcast_ref::<Trap>().copied();
    if trap == Some(Trap::Interrupt) {
        return Failure::new(
            "timeout",
            format!("stopped after its time limit of {time_ms} ms (limits.time_ms)"),
        );
    }
    if state.limiter.hit {
        return Failure::new(
            "memory_limit",
            format!(
                "refused memory past its limit of {} MiB (limits.memory_mib) and then failed: {}",
                state.plugin.limits.memory_mib,
                first_line(err)
            ),
        );
    }
    let stderr = state.stderr_tail();
    let mut message = match trap {
        Some(t) => format!("trapped: {t}"),
        None => format!("failed: {}", first_line(err)),
    };
    if !stderr.is_empty() {
        message.push_str("; stderr: ");
        message.push_str(&stderr);
    }
    Failure::new("trap", message)
}

fn first_line(err: &wasmtime::Error) -> String {
    let s = format!("{err:#}");
    s.lines().next().unwrap_or_default().to_owned()
}
