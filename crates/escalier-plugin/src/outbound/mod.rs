//! Outbound HTTP for plugins, on the delivery side. Plugins only queue
//! requests (`delivery.requested`, see `host/http.rs`); the store keeps
//! them in its outbox and a delivery worker calls [`Outbound::deliver`]
//! after commit, then asks [`RetrySchedule::next`] what to do.
//!
//! - [`allow`]: the allowlist and the non-public address policy.
//! - [`auth`]: the `Authorization` header of an authenticated delivery.
//! - signatures: Standard Webhooks, from the shared `escalier-webhook`.
//! - [`retry`]: the pure retry schedule and give-up horizon.
//! - [`deliver`]: resolving, checking, connecting, sending, classifying.

pub mod allow;
pub mod auth;
pub mod deliver;
pub mod retry;

pub use allow::{AddressPolicy, HostPattern};
pub use deliver::{DeliveryOutcome, Outbound, OutboundConfig, Resolve, SystemResolver};
pub use retry::{NextStep, RetrySchedule};
