//! The outbox, on the delivery side: everything between a durable outbox
//! entry (kept by `escalier-store`) and the receiver, except what is
//! specific to who asked for it.
//!
//! - [`http`]: the safe HTTP client — the address policy, resolve once and
//!   check every address, connect only to checked addresses, rustls with
//!   webpki roots, timeouts, no redirects.
//! - [`classify`]: what an HTTP answer means for the delivery
//!   (delivered, retry when, or failed with the receiver's body).
//! - [`retry`]: the pure retry schedule and give-up horizon.
//! - [`secrets`]: secret values by name, read at send time.
//! - [`Deliver`]: one attempt at one entry. The plugin host implements it
//!   for plugins' HTTP requests (allowlist, signing, authentication);
//!   the notifier for notifications.
//! - [`worker`]: takes due entries, dispatches each to its [`Deliver`] by
//!   request kind, moves it on per the schedule, records the delivery's
//!   state (`deliveries` table) and appends `delivery.delivered`,
//!   `delivery.retrying` and `delivery.failed` to the ticket.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub use escalier_store::outbox::{OutboxEntry, OutboxRequest};

pub mod classify;
pub mod http;
pub mod retry;
pub mod secrets;
pub mod worker;

pub use classify::classify;
pub use retry::{NextStep, RetrySchedule};
pub use secrets::{Secrets, SecretsError};
pub use worker::Worker;

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The receiver accepted it (2xx).
    Delivered { status: u16 },
    /// Worth trying again. `after`: the receiver's `Retry-After`, if any;
    /// `status`: the HTTP status, when there was an answer.
    Retry {
        reason: String,
        after: Option<Duration>,
        status: Option<u16>,
    },
    /// Will not succeed by retrying. `body`: the receiver's error body
    /// (at most [`classify::MAX_BODY`] bytes, UTF-8-lossy), when it sent one.
    Failed {
        reason: String,
        status: Option<u16>,
        body: Option<String>,
    },
}

impl DeliveryOutcome {
    /// A permanent failure with no HTTP answer (refused before sending).
    pub fn failed(reason: impl Into<String>) -> DeliveryOutcome {
        DeliveryOutcome::Failed {
            reason: reason.into(),
            status: None,
            body: None,
        }
    }

    /// A retryable failure with no HTTP answer (resolution, connection, timeout).
    pub fn retry(reason: impl Into<String>) -> DeliveryOutcome {
        DeliveryOutcome::Retry {
            reason: reason.into(),
            after: None,
            status: None,
        }
    }

    /// `delivered`, `retry` or `failed` (metrics label).
    pub fn label(&self) -> &'static str {
        match self {
            DeliveryOutcome::Delivered { .. } => "delivered",
            DeliveryOutcome::Retry { .. } => "retry",
            DeliveryOutcome::Failed { .. } => "failed",
        }
    }

    /// The receiver's HTTP status, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            DeliveryOutcome::Delivered { status } => Some(*status),
            DeliveryOutcome::Retry { status, .. } | DeliveryOutcome::Failed { status, .. } => {
                *status
            }
        }
    }
}

/// The future a [`Deliver`] returns.
pub type DeliverFuture<'a> = Pin<Box<dyn Future<Output = DeliveryOutcome> + Send + 'a>>;

/// Makes one attempt at one outbox entry. Never panics: every problem is
/// an outcome. Object-safe, so the worker holds `Arc<dyn Deliver>`s.
pub trait Deliver: Send + Sync + 'static {
    fn deliver<'a>(&'a self, entry: &'a OutboxEntry) -> DeliverFuture<'a>;
}
