//! Escalier's domain: tickets, the events that change them, the actions
//! policies and plugins take, and the pure functions that fold events into
//! ticket state.
//!
//! Nothing here performs I/O, spawns tasks or reads the system clock except
//! through [`Clock`]. Every other crate builds on these types; keeping them
//! pure is what makes replay, backtesting and policy tests exact.
//!
//! # Layout
//!
//! - [`id`]: validated identifiers (`TicketId`, `EventId`).
//! - [`vocab`]: the closed vocabularies: status, priority, channel, tier, author kind.
//! - [`event`]: the event envelope and one module per event type.
//! - [`action`]: what a policy or plugin may do, one module per action.
//! - [`record`]: a log entry: an event plus where it came from and its position.
//! - [`ticket`]: the ticket projection.
//! - [`checklist`]: checklist progress and the escalations checklists hold.
//! - [`reduce`]: lifecycle rules and the reducer (`Ticket × Record → Ticket`).
//! - [`process`]: runs reactors (policies, plugins) over one input record,
//!   feeding actions back with a depth limit.
//! - [`stats`]: follow-up figures over tickets (escalation rate, response times, CSAT).
//! - [`clock`]: the time source, injectable for tests.
//! - [`calendar`]: business calendars: hours, holidays, time zones, business-time arithmetic.
//! - [`sla`]: SLA policies and per-ticket SLA clocks (warnings, breaches, met).
//! - [`ladder`]: escalation ladders: levels, timeouts, acknowledgement.
//! - [`timers`]: the one API the host drives clocks and ladders through:
//!   books, per-record updates, deadlines, firing, rebind, view, replay.
//! - [`suggest`]: nearest-name suggestions for typos.
//! - [`error`]: `Rejection`, the one error type for input that breaks a rule.

pub mod action;
pub mod calendar;
pub mod checklist;
pub mod clock;
pub mod error;
pub mod event;
pub mod id;
pub mod ladder;
pub mod process;
pub mod record;
pub mod reduce;
pub mod sla;
pub mod stats;
pub mod suggest;
pub mod ticket;
pub mod timers;
pub mod vocab;

pub use action::Action;
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{Rejection, RejectionCode};
pub use event::{Event, EventKind};
pub use id::{EventId, TicketId};
pub use jiff::Timestamp;
pub use process::{Limits, Processed, Reaction, Reactor};
pub use record::{LogPos, Producer, Record, Source};
pub use ticket::Ticket;
pub use timers::{Books, Due};
pub use vocab::{AuthorKind, Channel, Priority, Status, Tier};
