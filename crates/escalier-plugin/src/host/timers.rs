//! `timers`: callbacks at a time, scoped to (plugin, ticket). Reads the
//! ticket's `plugin_timers[plugin]`; `set` and `cancel` are buffered in the
//! call output and become part of the call's one `plugin.state` event
//! after a successful call, like kv writes. Firing is not done here:
//! `escalier_core::timers` indexes pending timers as deadlines and fires
//! them as `plugin.timer`, which `LoadedPlugin` hands back to the plugin.

use escalier_core::Timestamp;
use escalier_core::event::{PluginState, valid_timer_key};

use crate::bindings::escalier::plugin::timers::Host;
use crate::bindings::escalier::plugin::types::{Error, Timestamp as WitTimestamp};
use crate::call::CallState;

impl CallState {
    fn timers_granted(&mut self, what: &str) -> wasmtime::Result<()> {
        if self.plugin.capabilities.timers {
            Ok(())
        } else {
            Err(self.deny(format!("timers.{what}: timers")))
        }
    }

    /// Timers pending once this call's changes apply, counting `key` as set.
    fn timers_after(&self, key: &str) -> usize {
        let stored = self
            .ctx
            .ticket
            .as_ref()
            .and_then(|t| t.plugin_timers.get(&self.plugin.name));
        let kept = stored.map_or(0, |s| {
            s.keys()
                .filter(|k| *k != key && !self.out.timers.contains_key(*k))
                .count()
        });
        let buffered = self
            .out
            .timers
            .iter()
            .filter(|(k, v)| *k != key && v.is_some())
            .count();
        kept + buffered + 1
    }
}

impl Host for CallState {
    fn set(&mut self, key: String, at: WitTimestamp) -> wasmtime::Result<Result<(), Error>> {
        self.timers_granted("set")?;
        if self.ctx.ticket.is_none() {
            return Ok(Err(Error::Denied(
                "an adapter has no ticket to set a timer on".into(),
            )));
        }
        if !valid_timer_key(&key) {
            return Ok(Err(Error::InvalidInput(format!(
                "timer keys are 1 to {} bytes without spaces or control characters",
                PluginState::MAX_TIMER_KEY_LEN
            ))));
        }
        let Ok(at) = Timestamp::from_millisecond(at) else {
            return Ok(Err(Error::InvalidInput(format!(
                "{at} ms since the Unix epoch is not a time Escalier can represent"
            ))));
        };
        let after = self.timers_after(&key);
        if after > PluginState::MAX_TIMERS {
            return Ok(Err(Error::QuotaExceeded(format!(
                "{after} timers would be pending on this ticket; at most {}",
                PluginState::MAX_TIMERS
            ))));
        }
        self.out.timers.insert(key, Some(at));
        Ok(Ok(()))
    }

    fn cancel(&mut self, key: String) -> wasmtime::Result<()> {
        self.timers_granted("cancel")?;
        if self.ctx.ticket.is_some() && valid_timer_key(&key) {
            self.out.timers.insert(key, None);
        }
        Ok(())
    }
}
