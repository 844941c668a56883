//! Escalier's policy host: the ops team's escalation rules, written in
//! Rhai, run against every ticket event.
//!
//! A policy is one `*.rhai` file under the policies directory. It declares
//! the events it reacts to (`const ON = ["ticket.created"];`), reads the
//! ticket and the event through cheap getters, and acts through functions
//! (`escalate`, `route`, `notify`, ...) that become `action.*` records with
//! the policy's file name and content hash. The language reference for
//! policy authors is `docs/policies.md`.
//!
//! The engine is sandboxed (no files, processes, clock, `eval` or
//! `import`; limits on operations, time, depth and sizes), compiled policies
//! are checked for typos before they may serve, and a failing policy
//! produces one `policy.error` without disturbing anything else.
//!
//! # Layout
//!
//! - [`limits`]: `PolicyLimits`, every bound in one struct.
//! - [`engine`]: `harden()`, the sandboxed Rhai engine; `PolicyEngine`, the
//!   engine with the script API registered.
//! - `api`: what scripts see and do: `ticket`, `event`, actions, helpers.
//! - `bounded`: Rhai built-ins replaced so their results are sized first (`replace`).
//! - `compile`: one file to an AST: `ON`, name checks, optimisation.
//! - `subscription`: `ON` entries (with wildcards) to event types.
//! - [`diagnostic`]: load-time problems with file:line:col, code and hint.
//! - `load`: finding and reading the files of a policies directory.
//! - [`set`]: `PolicySet`, all policies compiled and indexed by event type;
//!   implements `escalier_core::Reactor`.
//! - `eval`: running the subscribed policies for one record (the hot path).
//! - `sink`: per-run state: the actions taken, the budget built-ins charge
//!   their work to, the `print`/`debug` quota.
//! - [`registry`]: `PolicyRegistry`, the serving set, all-or-nothing reload, status.
//! - [`mod@watch`]: hot reload from file-system events.
//! - [`error`]: `LoadError`, `WatchError`, and `Error` over both.
//! - [`check`]: `escalier check`'s report: every file and its problems.
//!
//! # Metrics
//!
//! Through the `metrics` facade (install a recorder before loading
//! policies: the per-policy histogram is registered at load):
//! `escalier_policy_eval_seconds{policy}`,
//! `escalier_policy_eval_max_seconds{policy}` (the longest run since start),
//! `escalier_policy_errors_total{policy,code}`,
//! `escalier_policy_reloads_total{outcome}`.

mod api;
mod bounded;
pub mod check;
mod compile;
pub mod diagnostic;
pub mod engine;
pub mod error;
mod eval;
pub mod limits;
mod load;
pub mod registry;
pub mod set;
mod sink;
mod subscription;
pub mod watch;

pub use diagnostic::{Code, Diagnostic};
pub use engine::{NotifyCheck, PolicyEngine, harden};
pub use error::{Error, LoadError, WatchError};
pub use limits::PolicyLimits;
pub use load::NOTIFY_FILE;
pub use registry::{
    LastError, PolicyInfo, PolicyRegistry, PolicyStatus, ReloadCounts, ReloadOutcome,
};
pub use set::{Policy, PolicySet, check_dir, check_dir_with};
pub use watch::{Watcher, watch};
