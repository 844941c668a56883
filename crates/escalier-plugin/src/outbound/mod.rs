//! Outbound HTTP for plugins, on the delivery side. Plugins only queue
//! requests (`delivery.requested`, see `host/http.rs`); the store keeps
//! them in its outbox and the delivery worker (`escalier-outbox`) hands
//! each to [`Outbound`] (its `Deliver` implementation) after commit, then
//! asks [`RetrySchedule::next`] what to do.
//!
//! - [`allow`]: the allowlist; the non-public address policy is
//!   `escalier_outbox::http`'s, re-exported.
//! - [`auth`]: the `Authorization` header of an authenticated delivery.
//! - signatures: Standard Webhooks, from the shared `escalier-webhook`.
//! - [`retry`]: the pure retry schedule and give-up horizon (`escalier_outbox::retry`).
//! - [`deliver`]: the plugin's checks, signing and authentication; then the
//!   safe client of `escalier_outbox::http`.

pub mod allow;
pub mod auth;
pub mod deliver;
pub use escalier_outbox::retry;

pub use allow::{AddressPolicy, HostPattern};
pub use deliver::{DeliveryOutcome, Outbound, OutboundConfig, Resolve, SystemResolver};
pub use retry::{NextStep, RetrySchedule};
