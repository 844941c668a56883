//! `snapshot`: the whole ticket projection as JSON, on request only
//! (serializing it on every call would cost more than the call).

use crate::bindings::escalier::plugin::snapshot::Host;
use crate::call::CallState;

impl Host for CallState {
    fn ticket_json(&mut self) -> wasmtime::Result<String> {
        if !self.plugin.capabilities.snapshot {
            return Err(self.deny("snapshot.ticket-json: the full ticket".into()));
        }
        Ok(match &self.ctx.ticket {
            Some(t) => serde_json::to_string(&**t)?,
            None => "{}".to_owned(),
        })
    }
}
