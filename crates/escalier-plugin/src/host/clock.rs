//! `clock`: the record's time, never the wall clock (replay sees the same).

use crate::bindings::escalier::plugin::clock::Host;
use crate::bindings::escalier::plugin::types::Timestamp;
use crate::call::CallState;

impl Host for CallState {
    fn now(&mut self) -> wasmtime::Result<Timestamp> {
        if !self.plugin.capabilities.clock {
            return Err(self.deny("clock.now: the time".into()));
        }
        Ok(self.ctx.now.as_millisecond())
    }
}
