//! `kv`: state scoped to (plugin, ticket). Reads see the ticket's
//! `plugin_state[plugin]` with this call's writes on top; writes are
//! buffered in the call output and become one `plugin.state` event after
//! a successful call. The quota counts keys plus values of the state as
//! it would be after the write.

use escalier_core::event::PluginState;

const MAX_KEY_LEN: usize = PluginState::MAX_KEY_LEN;
const MAX_VALUE_LEN: usize = PluginState::MAX_VALUE_LEN;

use crate::bindings::escalier::plugin::kv::Host;
use crate::bindings::escalier::plugin::types::Error;
use crate::call::CallState;

impl CallState {
    fn kv_granted(&mut self, what: &str) -> wasmtime::Result<()> {
        if self.plugin.capabilities.kv {
            Ok(())
        } else {
            Err(self.deny(format!("kv.{what}: key-value state")))
        }
    }

    fn stored(&self) -> Option<&std::collections::BTreeMap<String, String>> {
        self.ctx
            .ticket
            .as_ref()?
            .plugin_state
            .get(&self.plugin.name)
    }

    /// Bytes (keys plus values) of the state with this call's writes applied.
    fn kv_bytes_after(&self, key: &str, value_len: usize) -> usize {
        let mut total = 0;
        if let Some(stored) = self.stored() {
            for (k, v) in stored {
                if k == key || self.out.kv.contains_key(k) {
                    continue;
                }
                total += k.len() + v.len();
            }
        }
        for (k, v) in &self.out.kv {
            if k == key {
                continue;
            }
            if let Some(v) = v {
                total += k.len() + v.len();
            }
        }
        total + key.len() + value_len
    }
}

impl Host for CallState {
    fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        self.kv_granted("get")?;
        if let Some(w) = self.out.kv.get(&key) {
            return Ok(w.clone());
        }
        Ok(self.stored().and_then(|s| s.get(&key)).cloned())
    }

    fn set(&mut self, key: String, value: String) -> wasmtime::Result<Result<(), Error>> {
        self.kv_granted("set")?;
        if self.ctx.ticket.is_none() {
            return Ok(Err(Error::Denied(
                "an adapter has no ticket to keep state on".into(),
            )));
        }
        if key.is_empty() || key.len() > MAX_KEY_LEN {
            return Ok(Err(Error::InvalidInput(format!(
                "keys are 1 to {MAX_KEY_LEN} bytes"
            ))));
        }
        if value.len() > MAX_VALUE_LEN {
            return Ok(Err(Error::QuotaExceeded(format!(
                "a value is {} bytes; at most {MAX_VALUE_LEN}",
                value.len()
            ))));
        }
        let after = self.kv_bytes_after(&key, value.len());
        let quota = self.plugin.limits.kv_bytes as usize;
        if after > quota {
            return Ok(Err(Error::QuotaExceeded(format!(
                "this plugin's state on this ticket would be {after} bytes; limits.kv_bytes is {quota}"
            ))));
        }
        self.out.kv.insert(key, Some(value));
        Ok(Ok(()))
    }

    fn delete(&mut self, key: String) -> wasmtime::Result<()> {
        self.kv_granted("delete")?;
        if self.ctx.ticket.is_some() {
            self.out.kv.insert(key, None);
        }
        Ok(())
    }

    fn keys(&mut self) -> wasmtime::Result<Vec<String>> {
        self.kv_granted("keys")?;
        let mut keys: std::collections::BTreeSet<String> = self
            .stored()
            .map(|s| s.keys().cloned().collect())
            .unwrap_or_default();
        for (k, v) in &self.out.kv {
            if v.is_some() {
                keys.insert(k.clone());
            } else {
                keys.remove(k);
            }
        }
        Ok(keys.into_iter().collect())
    }
}
