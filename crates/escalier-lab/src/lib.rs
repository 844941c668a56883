//! Escalier's policy lab: prove a policy before it goes live.
//!
//! Everything here runs Escalier's processing in memory, through the one
//! processing step the live server uses
//! ([`escalier_core::process::process`]), with simulated time: policy
//! tests (`escalier test`), backtests of a candidate policy set over a
//! recorded log with a diff against what was recorded (`escalier replay`),
//! the story of one ticket (`escalier explain`), and review statistics
//! over tickets (`GET /v1/stats`). Nothing here serves traffic or writes
//! to a data directory; logs are read from exports or from a stopped
//! server's database. The lab does not load plugins itself: a replay runs
//! them through a [`replay::PluginRunner`] the caller provides (the binary
//! provides the WebAssembly host), with side effects off.
//!
//! # Layout
//!
//! - [`sim`]: the simulator: inputs, scheduler ticks at their due
//!   instants, and the processing step, in one deterministic loop.
//! - [`policies`]: a policy set loaded with the texts behind it.
//! - [`locate`]: which file and line produced a record.
//! - [`when`]: times and durations as people write them (`+15m`, `1d`).
//! - [`policy_test`]: the `*.test.toml` format, its runner and report.
//! - [`log`]: reading recorded logs (NDJSON exports, a stopped store).
//! - `recorded`: recorded records decoded only as far as replay needs.
//! - [`replay`]: backtests: re-simulation, sharding by ticket, the plugin
//!   seam ([`replay::PluginRunner`]), the report.
//! - [`diff`]: how recorded and replayed records are aligned and compared.
//! - [`explain`]: a ticket's story, clock changes included.
//! - `stats` (re-exported from `escalier_core::stats`): escalation rate, response
//!   and resolution times, breaches, CSAT.
//! - [`traffic`]: deterministic synthetic support traffic for benchmarks
//!   and property tests.

pub mod diff;
pub mod explain;
pub mod locate;
pub mod log;
pub mod policies;
pub mod policy_test;
mod recorded;
pub mod replay;
pub mod sim;
pub mod traffic;
pub mod when;

pub use escalier_core::stats::{self, Stats, stats};

// The figures are computed in core; they are tested here, on tickets the simulator makes.
#[cfg(test)]
mod stats_tests;
pub use policies::Policies;
pub use replay::{Replay, ReplayOptions, ReplayReport};
pub use sim::Simulator;
