//! `plugin.state`: key-value writes and timer changes a plugin made while
//! handling one event.
//!
//! The plugin host buffers a plugin's `kv.set`/`kv.delete` and
//! `timers.set`/`timers.cancel` calls and records them as one of these
//! after the call; the reducer applies it to `ticket.plugin_state[plugin]`
//! and `ticket.plugin_timers[plugin]`. So plugin state and pending timers
//! live in the ticket projection: exactly-once, replayable, and scoped to
//! (plugin, ticket).

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::check;
use crate::error::Rejection;
use crate::ticket::{PendingTimer, Ticket};

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
    /// Timers set (or moved), by key, with when they are due.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub set_timers: BTreeMap<String, Timestamp>,
    /// Timers cancelled; cancelling one that is not pending does nothing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cancel_timers: Vec<String>,
}

impl PluginState {
    pub const TYPE: &'static str = "plugin.state";
    /// Longest key, in bytes.
    pub const MAX_KEY_LEN: usize = 128;
    /// Largest single value, in bytes. The host also enforces a quota per
    /// plugin and ticket (keys plus values).
    pub const MAX_VALUE_LEN: usize = 64 * 1024;
    /// Longest timer key, in bytes. Timer keys are also free of
    /// whitespace and control characters: they appear in deadline keys.
    pub const MAX_TIMER_KEY_LEN: usize = 64;
    /// Most timers one plugin may have pending on one ticket.
    pub const MAX_TIMERS: usize = 16;

    pub(crate) fn validate(&self) -> Result<(), Rejection> {
        check::name("plugin", &self.plugin)?;
        for (k, v) in &self.set {
            check_key(&format!("set.{k}"), k)?;
            check::text(&format!("set.{k}"), v, Self::MAX_VALUE_LEN)?;
        }
        for (i, k) in self.delete.iter().enumerate() {
            check_key(&format!("delete[{i}]"), k)?;
        }
        if self.set_timers.len() > Self::MAX_TIMERS {
            return Err(Rejection::invalid(
                "set_timers",
                format!(
                    "{} timers; at most {} allowed",
                    self.set_timers.len(),
                    Self::MAX_TIMERS
                ),
            ));
        }
        for k in self.set_timers.keys() {
            check_timer_key(&format!("set_timers.{k}"), k)?;
        }
        for (i, k) in self.cancel_timers.iter().enumerate() {
            check_timer_key(&format!("cancel_timers[{i}]"), k)?;
        }
        Ok(())
    }

    /// Deletes first, then sets; cancels before sets likewise. A plugin
    /// left with no keys (or no timers) disappears from that map. Timers
    /// set here carry `seq`, the input being processed.
    pub(crate) fn apply(&self, t: &mut Ticket, seq: u64) {
        if !self.set.is_empty() || !self.delete.is_empty() {
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
        if !self.set_timers.is_empty() || !self.cancel_timers.is_empty() {
            let timers = t.plugin_timers.entry(self.plugin.clone()).or_default();
            for k in &self.cancel_timers {
                timers.remove(k);
            }
            for (k, at) in &self.set_timers {
                timers.insert(k.clone(), PendingTimer { at: *at, seq });
            }
            if timers.is_empty() {
                t.plugin_timers.remove(&self.plugin);
            }
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

/// Whether `k` may name a timer: 1 to 64 bytes, no whitespace or control
/// characters. The plugin host checks the same rule when a plugin sets one.
pub fn valid_timer_key(k: &str) -> bool {
    !k.is_empty()
        && k.len() <= PluginState::MAX_TIMER_KEY_LEN
        && !k.chars().any(|c| c.is_whitespace() || c.is_control())
}

fn check_timer_key(field: &str, k: &str) -> Result<(), Rejection> {
    if !valid_timer_key(k) {
        return Err(Rejection::invalid(
            field,
            format!(
                "timer keys are 1 to {} bytes without spaces or control characters",
                PluginState::MAX_TIMER_KEY_LEN
            ),
        ));
    }
    Ok(())
}
