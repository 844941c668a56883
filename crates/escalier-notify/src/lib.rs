//! Notifications: telling people about a ticket on the channels support
//! teams use.
//!
//! - [`config`]: `policies/notify.toml` — targets (email, Slack, Microsoft
//!   Teams, PagerDuty, signed webhook), teams of targets, the SMTP server;
//!   errors as `notify.toml:line:col: message`.
//! - [`reactor`]: the [`NotifyReactor`], a core `Reactor` that turns each
//!   `action.notify` into one `notification.requested` per target (quiet
//!   hours, urgency, PagerDuty incidents), and acknowledges and resolves
//!   PagerDuty incidents with the ladder and the ticket.
//! - [`render`]: the request each kind sends, from the recorded
//!   notification alone (Slack blocks, an Adaptive Card, a PagerDuty
//!   Events v2 event, a plain + HTML email, a Standard Webhooks body).
//! - [`notifier`]: the [`Notifier`], the outbox's `Deliver` for
//!   notifications: secrets resolved at send time, HTTP through the outbox
//!   client, email over SMTP, every error redacted.
//!
//! Processing stays pure: the reactor reads only the ticket, the record
//! and the configuration; nothing is sent until the outbox worker runs.

pub mod config;
pub mod notifier;
pub mod reactor;
pub mod redact;
pub mod render;

pub use config::{NotifyConfig, SmtpTls, Target, TargetKind, TargetStatus};
pub use notifier::{Notifier, SecretSource};
pub use reactor::NotifyReactor;

#[cfg(test)]
mod tests;
