//! SLA policies and the book that holds them: which policy applies to a
//! ticket, on which calendar, with which targets.
//!
//! Selection is **first match wins**, in file order, as in Zendesk and Jira
//! Service Management: put narrow policies (VIP, enterprise) above broad
//! ones. The policy that matches decides everything: if it has no targets
//! for the ticket's priority, the ticket has no targets (there is no fall
//! through to a later policy), but its clocks are still measured on that
//! policy's calendar so that a later priority change keeps their time.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use jiff::SignedDuration;
use serde::{Deserialize, Serialize};

use crate::calendar::{Calendar, ConfigError};
use crate::ticket::Ticket;
use crate::vocab::{Channel, Priority, Status};

/// The four SLA clocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockKind {
    /// Creation to the first public agent reply.
    FirstResponse,
    /// A customer comment after an agent reply, to the next public agent reply.
    NextResponse,
    /// Between public agent replies while the ticket is open, after the first.
    PeriodicUpdate,
    /// Creation (or reopen) to solved.
    Resolution,
}

impl ClockKind {
    pub const ALL: [ClockKind; 4] = [
        ClockKind::FirstResponse,
        ClockKind::NextResponse,
        ClockKind::PeriodicUpdate,
        ClockKind::Resolution,
    ];

    /// The stable string form, as in the data file and the API.
    pub fn as_str(self) -> &'static str {
        match self {
            ClockKind::FirstResponse => "first_response",
            ClockKind::NextResponse => "next_response",
            ClockKind::PeriodicUpdate => "periodic_update",
            ClockKind::Resolution => "resolution",
        }
    }

    pub fn parse(s: &str) -> Option<ClockKind> {
        ClockKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for ClockKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Targets for one priority: business time allowed per clock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Targets {
    pub first_response: Option<SignedDuration>,
    pub next_response: Option<SignedDuration>,
    pub periodic_update: Option<SignedDuration>,
    pub resolution: Option<SignedDuration>,
}

impl Targets {
    pub fn get(&self, kind: ClockKind) -> Option<SignedDuration> {
        match kind {
            ClockKind::FirstResponse => self.first_response,
            ClockKind::NextResponse => self.next_response,
            ClockKind::PeriodicUpdate => self.periodic_update,
            ClockKind::Resolution => self.resolution,
        }
    }

    pub fn set(&mut self, kind: ClockKind, value: Option<SignedDuration>) {
        match kind {
            ClockKind::FirstResponse => self.first_response = value,
            ClockKind::NextResponse => self.next_response = value,
            ClockKind::PeriodicUpdate => self.periodic_update = value,
            ClockKind::Resolution => self.resolution = value,
        }
    }
}

/// What a reopen (solved → open, pending or on hold) does to the resolution clock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Reopen {
    /// Carry on from the business time already elapsed (and keep a breach).
    #[default]
    Resume,
    /// Start a new cycle from zero.
    Restart,
}

/// Where a policy applies. Each present condition must hold; a list
/// matches any of its values. No conditions: every ticket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conditions {
    pub priority: Option<Vec<Priority>>,
    pub channel: Option<Vec<Channel>>,
    /// Requester plans (`enterprise`, ...); a requester without a plan never matches.
    pub plan: Option<Vec<String>>,
    pub vip: Option<bool>,
}

impl Conditions {
    pub fn matches(&self, t: &Ticket) -> bool {
        self.priority
            .as_ref()
            .is_none_or(|ps| ps.contains(&t.priority))
            && self
                .channel
                .as_ref()
                .is_none_or(|cs| cs.contains(&t.channel))
            && self
                .plan
                .as_ref()
                .is_none_or(|ps| t.requester.plan.as_ref().is_some_and(|p| ps.contains(p)))
            && self.vip.is_none_or(|v| t.requester.vip == v)
    }
}

/// The statuses that pause clocks, as a small set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PauseOn(u8);

impl PauseOn {
    /// `pending` and `on_hold`: waiting on the customer or a third party.
    pub const DEFAULT: PauseOn = PauseOn((1 << 2) | (1 << 3));

    pub fn new(statuses: &[Status]) -> PauseOn {
        PauseOn(statuses.iter().fold(0, |acc, s| acc | bit(*s)))
    }

    pub fn contains(self, s: Status) -> bool {
        self.0 & bit(s) != 0
    }

    pub fn statuses(self) -> impl Iterator<Item = Status> {
        Status::ALL
            .iter()
            .copied()
            .filter(move |s| self.contains(*s))
    }
}

impl Default for PauseOn {
    fn default() -> Self {
        PauseOn::DEFAULT
    }
}

fn bit(s: Status) -> u8 {
    let i = Status::ALL.iter().position(|x| *x == s).unwrap_or(0);
    1 << i
}

/// One SLA policy.
#[derive(Debug, Clone, PartialEq)]
pub struct SlaPolicy {
    pub name: String,
    /// Name of the calendar its business time is counted on; `None`: the
    /// book's default calendar.
    pub calendar: Option<String>,
    pub when: Conditions,
    /// Targets per priority; a priority absent here has none.
    pub targets: BTreeMap<Priority, Targets>,
    /// Fraction of a target at which `sla.warning` fires; `None`: no warning.
    pub warning: Option<f64>,
    pub pause_on: PauseOn,
    pub reopen: Reopen,
}

impl SlaPolicy {
    pub fn targets_for(&self, p: Priority) -> Targets {
        self.targets.get(&p).copied().unwrap_or_default()
    }

    /// Business time after which the warning fires for `target`, rounded
    /// down to the second.
    pub fn warn_after(&self, target: SignedDuration) -> Option<SignedDuration> {
        let f = self.warning?;
        // f is in (0, 1) (checked on load); the product fits easily.
        let secs = (target.as_secs_f64() * f).floor();
        Some(SignedDuration::from_secs(secs as i64))
    }
}

/// Every SLA policy and calendar, loaded together from one data file.
///
/// Immutable: a reload builds a new book; the host swaps it in and calls
/// [`ClockSet::retarget`](super::ClockSet::retarget) on open tickets.
#[derive(Debug, Clone, PartialEq)]
pub struct SlaBook {
    pub(crate) calendars: BTreeMap<String, Arc<Calendar>>,
    pub(crate) policies: Vec<SlaPolicy>,
    /// Measures clocks of tickets no policy matches, so their elapsed time
    /// is kept if a policy applies later. 24×7 UTC unless the file says.
    pub(crate) default_calendar: Arc<Calendar>,
}

impl Default for SlaBook {
    /// No policies: clocks are tracked on a 24×7 calendar, with no targets.
    fn default() -> Self {
        SlaBook {
            calendars: BTreeMap::new(),
            policies: Vec::new(),
            default_calendar: Arc::new(Calendar::always()),
        }
    }
}

impl SlaBook {
    /// Parse the SLA data file (`[calendars.*]`, `[[policy]]`, `default_calendar`).
    pub fn from_toml(src: &str) -> Result<SlaBook, ConfigError> {
        super::file::parse_book(src)
    }

    /// The policy that applies to a ticket: the first whose conditions match.
    pub fn select(&self, t: &Ticket) -> Option<&SlaPolicy> {
        self.policies.iter().find(|p| p.when.matches(t))
    }

    pub fn policy(&self, name: &str) -> Option<&SlaPolicy> {
        self.policies.iter().find(|p| p.name == name)
    }

    /// Policies in precedence order.
    pub fn policies(&self) -> &[SlaPolicy] {
        &self.policies
    }

    pub fn calendar(&self, name: &str) -> Option<&Arc<Calendar>> {
        self.calendars.get(name)
    }

    pub fn calendars(&self) -> impl Iterator<Item = (&str, &Arc<Calendar>)> {
        self.calendars.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The calendar clocks under `policy` are measured on; the default
    /// calendar when there is no policy or it no longer exists.
    pub fn calendar_of(&self, policy: Option<&str>) -> &Calendar {
        policy
            .and_then(|p| self.policy(p))
            .and_then(|p| p.calendar.as_ref())
            .and_then(|c| self.calendars.get(c))
            .unwrap_or(&self.default_calendar)
    }

    pub fn default_calendar(&self) -> &Calendar {
        &self.default_calendar
    }

    /// Statuses that pause clocks under `policy` (the defaults without one).
    pub fn pause_on(&self, policy: Option<&str>) -> PauseOn {
        policy
            .and_then(|p| self.policy(p))
            .map(|p| p.pause_on)
            .unwrap_or_default()
    }
}
