//! The seam between a replay and a plugin host: something that runs
//! plugins for a record, as the live processor does.
//!
//! The lab knows nothing of WebAssembly: the binary implements
//! [`PluginRunner`] with the real plugin host and hands it to the replay
//! (tests hand it plain reactors). What the runner returns is run after
//! the candidate's policies, exactly where the server runs its plugins.
//!
//! The contract that makes a replay of plugins meaningful: a runner is a
//! pure function of the ticket and the record (time from the record,
//! state from the ticket, randomness seeded from the record's position),
//! and has no side effects. Outbound requests are `delivery.requested`
//! records; a replay compares them and never sends them (nothing runs
//! the outbox).

use std::fmt;

use serde::Serialize;

use crate::sim::SharedReactor;

/// Runs plugins for a replay.
pub trait PluginRunner: Send + Sync {
    /// The reactor the live processor runs after the policies (in the
    /// server: the loaded plugin set, every plugin in name order). Called
    /// once per shard; shards may share one reactor.
    fn reactor(&self) -> SharedReactor;

    /// The plugins it runs, for the report.
    fn plugins(&self) -> Vec<PluginRef>;
}

impl fmt::Debug for dyn PluginRunner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.plugins()).finish()
    }
}

/// One plugin a replay runs: what its records carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PluginRef {
    pub name: String,
    pub version: String,
    /// `sha256:` and 16 hex digits of the component.
    pub hash: String,
}
