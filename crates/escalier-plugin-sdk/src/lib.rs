//! Write Escalier plugins in Rust.
//!
//! A plugin is a type that implements [`Plugin`] and is exported with
//! [`export_plugin!`], plus a `plugin.toml` manifest beside the compiled
//! component. Build with `cargo build --release --target wasm32-wasip2`;
//! the `.wasm` file is the component Escalier loads. `docs/plugins.md`
//! walks through it from `cargo new`.
//!
//! ```ignore
//! use escalier_plugin_sdk::{Action, Error, Event, Plugin, Ticket, action, export_plugin};
//!
//! struct VipFirst;
//!
//! impl Plugin for VipFirst {
//!     fn handle(ticket: Ticket, _event: Event) -> Result<Vec<Action>, Error> {
//!         if ticket.vip && ticket.priority != "urgent" {
//!             return Ok(vec![action::set_priority("urgent")]);
//!         }
//!         Ok(vec![])
//!     }
//! }
//!
//! export_plugin!(VipFirst);
//! ```
//!
//! Every call runs in a fresh instance: statics start over each time. Keep
//! what must survive between events in [`kv`], which the host stores with
//! the ticket.
//!
//! # Layout
//!
//! - [`bindings`]: the generated WIT bindings (use the re-exports instead).
//! - [`action`]: constructors for the actions a plugin returns.
//! - [`log`], [`clock`], [`kv`], [`timers`], [`config`], [`http`]: host
//!   capabilities, one module each; each must be granted by the manifest.
//! - `adapter` (feature `adapter`): shared helpers for adapter plugins
//!   (ids, tags, text limits, HMAC checks, times).
//! - [`Plugin`], [`export_plugin!`]: what a plugin implements and how it is exported.

// The generated bindings name the runtime through this crate's own path,
// so they resolve both here and inside `export_plugin!` in a plugin crate.
extern crate self as escalier_plugin_sdk;

pub mod action;
#[cfg(feature = "adapter")]
pub mod adapter;
pub mod bindings;
pub mod clock;
pub mod config;
pub mod http;
pub mod kv;
pub mod log;
pub mod timers;

pub use bindings::escalier::plugin::types::{
    Action, ApprovalRequest, Checklist, ChecklistItem, Error, Escalation, Event, Header,
    Notification, Routing, Ticket, Timestamp,
};

/// What a plugin implements. Each function has a default that answers
/// [`Error::Unsupported`], so implement only what the manifest declares:
/// `handle` for `subscribe`, `adapt` for `adapter`, `command` for `commands`.
pub trait Plugin {
    /// React to an event the manifest subscribes to. `ticket` is the ticket
    /// after the event was applied.
    fn handle(ticket: Ticket, event: Event) -> Result<Vec<Action>, Error> {
        let _ = (ticket, event);
        Err(Error::Unsupported(
            "this plugin does not handle events".into(),
        ))
    }

    /// Turn a foreign tool's webhook into Escalier events, each the JSON
    /// text of one event as `POST /v1/events` takes it.
    fn adapt(headers: Vec<Header>, body: Vec<u8>) -> Result<Vec<String>, Error> {
        let _ = (headers, body);
        Err(Error::Unsupported("this plugin is not an adapter".into()))
    }

    /// Run a command the manifest lists in `commands`; `args` is JSON text.
    fn command(
        ticket: Ticket,
        name: String,
        args: String,
        by: String,
    ) -> Result<Vec<Action>, Error> {
        let _ = (ticket, args, by);
        Err(Error::Unsupported(format!(
            "this plugin has no command `{name}`"
        )))
    }
}

impl Event {
    /// The event's `data`, decoded into `T`. A mismatch is `invalid-input`.
    pub fn data<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_str(&self.data)
            .map_err(|e| Error::InvalidInput(format!("`{}` data: {e}", self.type_)))
    }
}

impl Ticket {
    /// The whole ticket projection as JSON (approvals, checklists, this
    /// plugin's own state, history). Needs `snapshot = true` in the
    /// manifest's `[capabilities]` (off by default); without it the call
    /// traps.
    pub fn full(&self) -> Result<serde_json::Value, Error> {
        let json = bindings::escalier::plugin::snapshot::ticket_json();
        serde_json::from_str(&json).map_err(|e| Error::Failed(format!("ticket snapshot: {e}")))
    }

    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.iter().any(|t| t == tag)
    }
}

/// Export `$plugin` (a type implementing [`Plugin`]) as the component's
/// `handler`, `adapter` and `commands`. Use once, at the crate root.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        #[doc(hidden)]
        pub struct __EscalierExports;

        impl $crate::bindings::exports::escalier::plugin::handler::Guest for __EscalierExports {
            fn handle(
                ticket: $crate::Ticket,
                event: $crate::Event,
            ) -> ::core::result::Result<::std::vec::Vec<$crate::Action>, $crate::Error> {
                <$plugin as $crate::Plugin>::handle(ticket, event)
            }
        }

        impl $crate::bindings::exports::escalier::plugin::adapter::Guest for __EscalierExports {
            fn adapt(
                headers: ::std::vec::Vec<$crate::Header>,
                body: ::std::vec::Vec<u8>,
            ) -> ::core::result::Result<::std::vec::Vec<::std::string::String>, $crate::Error> {
                <$plugin as $crate::Plugin>::adapt(headers, body)
            }
        }

        impl $crate::bindings::exports::escalier::plugin::commands::Guest for __EscalierExports {
            fn run(
                ticket: $crate::Ticket,
                name: ::std::string::String,
                args: ::std::string::String,
                by: ::std::string::String,
            ) -> ::core::result::Result<::std::vec::Vec<$crate::Action>, $crate::Error> {
                <$plugin as $crate::Plugin>::command(ticket, name, args, by)
            }
        }

        $crate::bindings::export!(__EscalierExports with_types_in $crate::bindings);
    };
}

#[doc(hidden)]
pub mod __private {
    pub use wit_bindgen;
}
