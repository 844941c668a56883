//! Key-value state for this plugin on the ticket being handled
//! (`capabilities.kv = true`). Writes are recorded after the call as a
//! `plugin.state` event; a failed call's writes are dropped.

use crate::Error;
use crate::bindings::escalier::plugin::kv;

pub fn get(key: &str) -> Option<String> {
    kv::get(key)
}

pub fn set(key: &str, value: &str) -> Result<(), Error> {
    kv::set(key, value)
}

pub fn delete(key: &str) {
    kv::delete(key)
}

pub fn keys() -> Vec<String> {
    kv::keys()
}

/// `get` and decode JSON; a value that does not decode is `None`.
pub fn get_json<T: serde::de::DeserializeOwned>(key: &str) -> Option<T> {
    serde_json::from_str(&kv::get(key)?).ok()
}

pub fn set_json<T: serde::Serialize>(key: &str, value: &T) -> Result<(), Error> {
    let text = serde_json::to_string(value).map_err(|e| Error::InvalidInput(e.to_string()))?;
    kv::set(key, &text)
}
