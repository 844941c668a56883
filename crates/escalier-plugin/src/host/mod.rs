//! The host side of the `escalier:plugin` imports, one module per
//! capability. Each checks the manifest's grant first: a capability that
//! is not granted traps (`capability_denied`); conditions a correct plugin
//! can meet at run time are returned to the guest as `error`.
//!
//! | function | not granted | run-time problems |
//! |---|---|---|
//! | `log.log` | trap | none: long lines cut, excess lines dropped |
//! | `clock.now` | trap | none |
//! | `snapshot.ticket-json` | trap | none (`{}` in an adapter) |
//! | `kv.*` | trap | `set`: `invalid-input` (key), `quota-exceeded`, `denied` in an adapter |
//! | `config.get` | trap (key not listed) | none |
//! | `config.secret` | trap (name not listed) | `not-found` (operator has not set it) |
//! | `outbound-http.send` | trap | `denied` (+ `plugin.error`), `invalid-input`, `quota-exceeded` |
//! | `outbound-http.send-authenticated` | trap (and for a secret not in `http.auth_secrets`) | as `send`; `invalid-input` for its own `Authorization` header |
//! | `timers.*` | trap | `set`: `invalid-input` (key, time), `quota-exceeded`, `denied` in an adapter |

mod clock;
mod config;
mod http;
mod kv;
mod log;
mod snapshot;
mod timers;

use crate::bindings::escalier::plugin::types;
use crate::call::CallState;

impl types::Host for CallState {}
