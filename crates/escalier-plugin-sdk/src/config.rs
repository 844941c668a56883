//! The plugin's `[config]` values and secrets. Keys and secrets must be
//! listed in `capabilities.config` / `capabilities.secrets`; reading any
//! other traps.

use crate::Error;
use crate::bindings::escalier::plugin::config;

/// A config value decoded from its JSON form; `Ok(None)` if it has no value.
pub fn get<T: serde::de::DeserializeOwned>(key: &str) -> Result<Option<T>, Error> {
    match config::get(key) {
        None => Ok(None),
        Some(json) => serde_json::from_str(&json)
            .map(Some)
            .map_err(|e| Error::InvalidInput(format!("config `{key}`: {e}"))),
    }
}

/// A secret's value, resolved by the host (`ESCALIER_SECRET_<NAME>` or the
/// secrets file).
pub fn secret(name: &str) -> Result<String, Error> {
    config::secret(name)
}
