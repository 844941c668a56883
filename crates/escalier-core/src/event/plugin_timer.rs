//! `plugin.timer`: a timer a plugin set (`timers.set`) fired. Derived
//! (source `clock`) from the scheduler's `clock.due` tick for the timer's
//! deadline by `timers::fire`, once; the plugin host hands it to the
//! plugin it names (and to no other plugin), so the plugin acts on a
//! quiet ticket as if an event had arrived at the timer's time.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::check;
use crate::error::Rejection;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginTimer {
    /// The plugin that set it.
    pub plugin: String,
    /// The key it was set under.
    pub key: String,
    /// When it was due; the record's time is when it fired (later if the
    /// server was down at `due`).
    pub due: Timestamp,
}

impl PluginTimer {
    pub const TYPE: &'static str = "plugin.timer";

    pub(crate) fn validate(&self) -> Result<(), Rejection> {
        check::name("plugin", &self.plugin)?;
        check::name("key", &self.key)
    }
}
