//! SLA policies and per-ticket SLA clocks, pure: no I/O, no clock reads.
//!
//! A [`SlaBook`] (loaded from `policies/sla.toml`) holds calendars and
//! policies in precedence order. Each ticket carries a small [`ClockSet`]:
//! one [`SlaClock`] per kind it has needed, with the business time accounted
//! so far. [`crate::timers`] calls [`ClockSet::on_event`] for every record
//! applied to the ticket, derives [`ClockSet::deadlines`] for the host's
//! index, calls [`ClockSet::fire`] when one comes due, and
//! [`ClockSet::retarget`] when the book is reloaded. Everything is a
//! function of the event log and the times in it, so replay and backtests
//! reproduce every warning and breach.
//!
//! The clocks (full rules in `docs/sla.md`):
//!
//! - **first response**: from creation to the first public agent reply.
//! - **next response**: from a customer comment that follows an agent
//!   reply, to the next public agent reply.
//! - **periodic update**: after the first reply, each public agent reply
//!   meets the current cycle and starts the next.
//! - **resolution**: from creation to solved; a reopen resumes or
//!   restarts it, per policy.
//!
//! All run only while the ticket is open, pause in the policy's pausing
//! statuses (pending and on hold by default) and resume with their time.
//!
//! # Layout
//!
//! - [`duration`]: `"4h30m"` targets.
//! - [`policy`]: `ClockKind`, `SlaPolicy`, `SlaBook` and policy selection.
//! - `file`: the TOML data file.
//! - [`clock`]: `ClockSet` and its transitions, deadlines and firing.

pub mod clock;
pub mod duration;
mod file;
pub mod policy;
#[cfg(test)]
mod tests;

pub use clock::{
    Change, ClockFired, ClockReport, ClockSet, ClockState, ClockTransition, ClockView, Deadline,
    FireRefused, LATE_TOLERANCE, SlaClock, Threshold, is_late,
};
pub use duration::{DurationError, format_duration, parse_duration};
pub use policy::{ClockKind, Conditions, PauseOn, Reopen, SlaBook, SlaPolicy, Targets};
