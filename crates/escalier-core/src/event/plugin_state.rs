//! `plugin.state`: key-value writes a plugin made while handling one event.
//!
//! The plugin host buffers a plugin's `kv.set`/`kv.delete` calls and
//! records them as one of these after the call; the reducer applies it to
//! `ticket.plugin_state[plugin]`. So plugin state lives in the ticket
//! projection: exactly-once, replayable, and scoped to (plugin, ticket).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::check;
use crate::error::Rejection;
use crate::ticket::Ticket;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginState {
    pub plugin: String,
    /// Keys set, with their new values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub set: BTreeMap<String, String>,
    /// Keys removed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub delete: Vec<String>,
}

impl PluginState {
    pub const TYPE: &'static str = "plugin.state";
    /// Longest key, in bytes.
    pub const MAX_KEY_LEN: usize = 128;
    /// Largest single value, in bytes. The host also enforces a quota per
    /// plugin and ticket (keys plus values).
    pub const MAX_VALUE_LEN: usize = 64 * 1024;

    pub(crate) fn validate(&self) -> Result<(), Rejection> {
        check::name("plugin", &self.plugin)?;
        for (k, v) in &self.set {
            check_key(&format!("set.{k}"), k)?;
            check::text(&format!("set.{k}"), v, Self::MAX_VALUE_LEN)?;
        }
        for (i, k) in self.delete.iter().enumerate() {
            check_key(&format!("delete[{i}]"), k)?;
        }
        Ok(())
    }

    /// Deletes first, then sets; a plugin left with no keys disappears.
    pub(crate) fn apply(&self, t: &mut Ticket) {
        let state = t.plugin_state.entry(self.plugin.clone()).or_default();
        for k in &self.delete {
            state.remove(k);
        }
        for (k, v) in &self.set {
            state.insert(k.clone(), v.clone());
        }
        if state.is_empty() {
            t.plugin_state.remove(&self.plugin);
        }
    }
}

fn check_key(field: &str, k: &str) -> Result<(), Rejection> {
    const MAX_KEY_LEN: usize = PluginState::MAX_KEY_LEN;
    if k.is_empty() || k.len() > MAX_KEY_LEN {
        return Err(Rejection::invalid(
            field,
            format!("keys are 1 to {MAX_KEY_LEN} bytes"),
        ));
    }
    Ok(())
}
