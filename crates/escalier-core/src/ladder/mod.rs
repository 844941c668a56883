//! Escalation ladders, pure: who is told, assigned or brought in, and
//! after how long, until someone acknowledges the ticket. Like an on-call
//! escalation policy (PagerDuty), per ticket.
//!
//! A [`LadderBook`] (loaded from `policies/ladders.toml`) holds named
//! [`Ladder`]s: ordered [`Level`]s, each with what to do on reaching it
//! (notify, assign, route to a team, escalate the tier) and a timeout
//! before the next (`after`, wall-clock or business time on a calendar of
//! the SLA file), walked `repeat + 1` times, then exhausted.
//!
//! Each ticket carries a small [`LadderSet`]: the latest run of each ladder
//! started on it. A policy starts a run with `start_ladder(name, reason)`;
//! level 1 is reached at once, each later step when the previous level's
//! timeout runs out. A run ends when someone acknowledges
//! (`ladder.acknowledged`), when the ticket is solved or closed, on
//! `stop_ladder`, or when it is exhausted. Due times are derived from the
//! run and the book, never stored, so a reload re-derives them.
//!
//! Invariants:
//! - at most one run per ladder name on a ticket; starting a running
//!   ladder does nothing;
//! - only a running run has a next step; each step is reached at most
//!   once, and never before its due instant;
//! - a level's timeout counts from when the level was actually reached,
//!   so a level reached late (after downtime) still gets its full time:
//!   ladders never skip levels to catch up.
//!
//! # Layout
//!
//! - this file: `Ladder`, `Level`, `LadderBook`.
//! - `file`: the TOML data file.
//! - [`state`]: `LadderSet`, its steps, deadlines and firing.

mod file;
pub mod state;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::action::{Action, Assign, Escalate, Notify, Route};
use crate::calendar::{Calendar, ConfigError};
use crate::sla::SlaBook;
use crate::vocab::Tier;

pub use state::{
    LadderDeadline, LadderEnd, LadderExhausted, LadderRun, LadderSet, LadderState, LadderStep,
    LadderView, LevelReached, NextStep, StartRefused, StepKind,
};

/// What reaching a level does. Every part is optional, but a level does at
/// least one thing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LevelTarget {
    /// `notify` these channels (`oncall-engineer`, `#support-leads`), one
    /// `action.notify` each. On the wire a single channel is a string (as
    /// before lists were allowed), several an array.
    #[serde(default, skip_serializing_if = "Vec::is_empty", with = "one_or_many")]
    pub notify: Vec<String>,
    /// Assign the ticket to this agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assign: Option<String>,
    /// Route the ticket to this team.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// Escalate the ticket to at least this tier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<Tier>,
}

/// One rung of a ladder.
#[derive(Debug, Clone, PartialEq)]
pub struct Level {
    pub target: LevelTarget,
    /// Text of the notification; a default naming the ladder and level if absent.
    pub message: Option<String>,
    /// How long this level has to acknowledge before the next step.
    pub after: SignedDuration,
}

/// A named escalation ladder.
#[derive(Debug, Clone, PartialEq)]
pub struct Ladder {
    pub name: String,
    pub description: Option<String>,
    /// Calendar (from the SLA file) the timeouts count business time on;
    /// `None`: wall-clock time.
    pub calendar: Option<String>,
    pub(crate) cal: Option<Arc<Calendar>>,
    /// At least one.
    pub levels: Vec<Level>,
    /// Walks of the levels after the first.
    pub repeat: u32,
}

impl Ladder {
    /// Levels reached in a run that walks every level `repeat + 1` times.
    pub fn steps(&self) -> u32 {
        let levels = u32::try_from(self.levels.len()).unwrap_or(u32::MAX);
        levels.saturating_mul(self.repeat.saturating_add(1))
    }

    /// Level `n` (1-based).
    pub fn level(&self, n: u32) -> Option<&Level> {
        let i = usize::try_from(n.checked_sub(1)?).ok()?;
        self.levels.get(i)
    }

    /// When `after` has run out from `since`: wall-clock, or business time
    /// on the ladder's calendar. `None` if it never does (a calendar with
    /// no business time left, or the end of the supported range).
    pub fn timeout_from(&self, since: Timestamp, after: SignedDuration) -> Option<Timestamp> {
        match &self.cal {
            Some(cal) => cal.add_business(since, after).ok(),
            None => since.checked_add(after).ok(),
        }
    }

    /// The actions reaching level `n` takes, in the order they are
    /// recorded: escalate, route, assign, then notify (so whoever is told
    /// sees the ticket already moved).
    pub fn actions(&self, n: u32, ticket_id: &str, reason: &str) -> Vec<Action> {
        let Some(level) = self.level(n) else {
            return Vec::new();
        };
        // Action reasons are at most 1024 bytes; the ladder's name is at most 64.
        let why = format!("ladder {} level {n}: {}", self.name, clip(reason, 900));
        let t = &level.target;
        let mut out = Vec::new();
        if let Some(tier) = t.tier {
            out.push(Action::Escalate(Escalate {
                tier,
                reason: why.clone(),
            }));
        }
        if let Some(team) = &t.team {
            out.push(Action::Route(Route {
                team: team.clone(),
                reason: why.clone(),
            }));
        }
        if let Some(agent) = &t.assign {
            out.push(Action::Assign(Assign {
                agent: agent.clone(),
            }));
        }
        if !t.notify.is_empty() {
            let message = match &level.message {
                Some(m) => format!("{m} (ticket {ticket_id}; {why})"),
                None => format!(
                    "Ticket {ticket_id} needs you: {why}. Acknowledge to stop the escalation."
                ),
            };
            for channel in &t.notify {
                out.push(Action::Notify(Notify {
                    channel: channel.clone(),
                    message: message.clone(),
                }));
            }
        }
        out
    }
}

/// A list written as one string when it has one item (the level's
/// `target.notify` as stored before levels took several channels).
mod one_or_many {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }

    pub fn serialize<S: Serializer>(v: &[String], s: S) -> Result<S::Ok, S::Error> {
        match v {
            [one] => one.serialize(s),
            many => many.serialize(s),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        Ok(match OneOrMany::deserialize(d)? {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        })
    }
}

/// `s` cut to at most `max` bytes, at a character boundary.
fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Every ladder, loaded together from one data file. Immutable: a reload
/// builds a new book.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LadderBook {
    pub(crate) ladders: BTreeMap<String, Ladder>,
}

impl LadderBook {
    /// Parse the ladders file. Calendars are those of `sla` (the SLA file
    /// defines them once for both).
    pub fn from_toml(src: &str, sla: &SlaBook) -> Result<LadderBook, ConfigError> {
        file::parse_book(src, sla)
    }

    pub fn ladder(&self, name: &str) -> Option<&Ladder> {
        self.ladders.get(name)
    }

    /// Ladders by name.
    pub fn ladders(&self) -> impl Iterator<Item = &Ladder> {
        self.ladders.values()
    }

    pub fn is_empty(&self) -> bool {
        self.ladders.is_empty()
    }
}
