//! `snapshot`: the ticket projection as JSON, on request only
//! (serializing it on every call would cost more than the call), and only
//! with `capabilities.snapshot` (off unless the manifest grants it).
//!
//! Invariant: a plugin sees its own key-value state and timers and nobody
//! else's; `plugin_state` and `plugin_timers` in the snapshot hold the
//! calling plugin's entry alone.

use crate::bindings::escalier::plugin::snapshot::Host;
use crate::call::CallState;

impl Host for CallState {
    fn ticket_json(&mut self) -> wasmtime::Result<String> {
        if !self.plugin.capabilities.snapshot {
            return Err(self.deny("snapshot.ticket-json: the full ticket".into()));
        }
        let Some(t) = &self.ctx.ticket else {
            return Ok("{}".to_owned());
        };
        let mut json = serde_json::to_value(&**t)?;
        for field in ["plugin_state", "plugin_timers"] {
            if let Some(state) = json
                .get_mut(field)
                .and_then(serde_json::Value::as_object_mut)
            {
                state.retain(|plugin, _| *plugin == self.plugin.name);
            }
        }
        Ok(json.to_string())
    }
}
