//! `config`: the plugin's `[config]` values (JSON text) and the secrets it
//! lists. Reading anything not listed traps: a plugin reaching for a key
//! or secret it did not declare is a packaging error to fix, not a
//! condition to handle.

use crate::bindings::escalier::plugin::config::Host;
use crate::bindings::escalier::plugin::types::Error;
use crate::call::CallState;

impl Host for CallState {
    fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        if !self.plugin.capabilities.config.contains(&key) {
            return Err(self.deny(format!(
                "config.get: config key `{key}` (not in capabilities.config)"
            )));
        }
        Ok(self.plugin.config_json.get(&key).cloned())
    }

    fn secret(&mut self, name: String) -> wasmtime::Result<Result<String, Error>> {
        if !self.plugin.capabilities.secrets.contains(&name) {
            return Err(self.deny(format!(
                "config.secret: secret `{name}` (not in capabilities.secrets)"
            )));
        }
        Ok(match self.plugin.secrets.get(&name) {
            Some(v) => Ok(v.clone()),
            None => Err(Error::NotFound(format!(
                "secret `{name}` is not set; the operator sets {}",
                crate::secrets::env_var(&name)
            ))),
        })
    }
}
