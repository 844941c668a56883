//! Timers on the ticket being handled (`capabilities.timers = true`): be
//! called back at a time even if nothing else happens to the ticket.
//!
//! `set` and `cancel` are recorded after the call, with the call's kv
//! writes; a failed call's changes are dropped. When a timer's time has
//! passed, Escalier calls [`Plugin::handle`](crate::Plugin::handle) with a
//! `plugin.timer` event for it, once; [`fired`] reads it.
//!
//! ```ignore
//! use escalier_plugin_sdk::{clock, timers};
//!
//! // In `handle`, for the event that starts the wait:
//! timers::set_after("follow-up", 4 * timers::HOUR)?;
//! // Later, for any event:
//! if let Some(t) = timers::fired(&event) {
//!     // t.key == "follow-up"; clock::now() >= t.due
//! }
//! ```

use crate::bindings::escalier::plugin::timers;
use crate::{Error, Event, Timestamp};

/// Milliseconds in a minute and in an hour, for `set_after`.
pub const MINUTE: i64 = 60_000;
pub const HOUR: i64 = 60 * MINUTE;

/// Fire timer `key` at `at` (milliseconds since the Unix epoch, record
/// time). Setting a pending key moves it. Keys are 1 to 64 bytes without
/// spaces; at most 16 timers pending per ticket.
pub fn set(key: &str, at: Timestamp) -> Result<(), Error> {
    timers::set(key, at)
}

/// Fire timer `key` `ms` milliseconds after the time of the record being
/// handled ([`crate::clock::now`]).
pub fn set_after(key: &str, ms: i64) -> Result<(), Error> {
    timers::set(key, crate::clock::now().saturating_add(ms))
}

/// Cancel timer `key`; cancelling one that is not pending does nothing.
pub fn cancel(key: &str) {
    timers::cancel(key)
}

/// A timer that fired: what a `plugin.timer` event carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    /// The key it was set under.
    pub key: String,
    /// When it was due. The event's `recorded_at` (and `clock::now()`) is
    /// when it fired: later than this if the server was down at the time.
    pub due: Timestamp,
}

/// The timer `event` reports, if it is a `plugin.timer` event.
pub fn fired(event: &Event) -> Option<Fired> {
    #[derive(serde::Deserialize)]
    struct Data {
        key: String,
        due: String,
    }
    if event.type_ != "plugin.timer" {
        return None;
    }
    let d: Data = serde_json::from_str(&event.data).ok()?;
    Some(Fired {
        due: crate::clock::parse_rfc3339(&d.due)?,
        key: d.key,
    })
}
