//! Escalier's plugin host: vendors' WebAssembly components, sandboxed and
//! limited, reacting to ticket events and adapting foreign webhooks.
//!
//! The interface is the `escalier:plugin@0.1.2` WIT world in `wit/` at the
//! repository root; `docs/plugins.md` is the guide. In short:
//!
//! - a plugin directory holds `plugin.toml` ([`manifest`]) and a component;
//! - [`PluginRegistry`] loads a directory of them, compiles each once
//!   (cached on disk by content hash), and serves an immutable
//!   [`PluginSet`] that is swapped atomically on reload ([`watch`]);
//! - [`PluginSet`] is an [`escalier_core::Reactor`]: the processor offers
//!   it records in log order, each subscribed plugin runs in a fresh
//!   instance (or a warm one, for `instances = "reuse"`) with a time and
//!   memory limit, and what it does comes back as
//!   reactions (actions, `plugin.state`, `delivery.requested`, or
//!   `plugin.error`); [`PluginSet::adapt`] runs adapters;
//! - [`outbound`] sends the requests plugins queued, after commit.
//!
//! Deny by default: a plugin gets no filesystem, environment, network or
//! real clock, and sees no other plugin's state; only what its manifest
//! grants, checked when it loads and again at every call.
//!
//! # Layout
//!
//! - [`bindings`]: the one `bindgen!` of the WIT world.
//! - [`manifest`]: `plugin.toml`, parsed and validated.
//! - [`secrets`]: secret values by reference (environment, secrets file).
//! - `engine`: the wasmtime engine, pooling allocator, epoch ticker, linker.
//! - `cache`: the on-disk compile cache.
//! - `wasi`: the deny-by-default WASI context.
//! - `call`: per-call store data, limits, failure classification.
//! - `host`: the host capabilities, one module each (log, clock,
//!   snapshot, kv, timers, config, outbound HTTP).
//! - `convert`: core types to WIT types and back.
//! - `plugin`: one loaded plugin and how it is called.
//! - [`breaker`]: the per-plugin circuit breaker, on record time.
//! - `set`: [`PluginSet`], the reactor and adapter entry point.
//! - `registry`: [`PluginRegistry`], loading, reload, status.
//! - [`status`]: what `GET /v1/plugins` shows.
//! - [`watch`]: hot reload from the file system.
//! - [`outbound`]: allowlist and address policy, delivery, signing, retries.
//! - [`error`]: the error types.

pub mod bindings;
pub mod breaker;
mod cache;
mod call;
mod convert;
mod engine;
pub mod error;
mod host;
pub mod manifest;
pub mod outbound;
mod plugin;
mod registry;
pub mod secrets;
mod set;
pub mod status;
mod wasi;
pub mod watch;

pub use breaker::{BreakerConfig, BreakerState};
pub use cache::{CacheOutcome, WASMTIME_VERSION};
pub use engine::PoolConfig;
pub use error::{AdaptError, HostError, LoadError, ManifestError, WatchError};
pub use manifest::Manifest;
pub use outbound::{
    AddressPolicy, DeliveryOutcome, NextStep, Outbound, OutboundConfig, RetrySchedule,
};
pub use plugin::LastError;
pub use registry::{DisabledPlugin, FailedLoad, HostConfig, PluginRegistry, ReloadReport};
pub use secrets::Secrets;
pub use set::PluginSet;
pub use status::PluginStatus;
pub use watch::{PluginWatcher, watch};
