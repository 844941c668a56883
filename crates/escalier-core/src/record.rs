//! A log record: one event at its position in the log, with its source.
//!
//! Positions are `(seq, index)`. Input events (from webhooks, adapters,
//! clocks) get a fresh `seq` and index 0 when the writer commits them. What
//! policies and plugins produce while handling input `seq` is recorded at
//! `(seq, 1)`, `(seq, 2)`, ... so the log order is exactly the order the
//! processor applied things, whatever the timing of the live system was.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::event::Event;

/// A position in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LogPos {
    pub seq: u64,
    pub index: u32,
}

impl fmt::Display for LogPos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.seq, self.index)
    }
}

/// Where a record came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Source {
    /// `POST /v1/events`, signature verified. `delivery` is the `webhook-id`.
    Webhook {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        delivery: Option<String>,
    },
    /// A policy's action or error, produced while handling record
    /// `(seq, trigger)` at feedback depth `depth` (1 = reacting to an input).
    Policy {
        policy: String,
        /// Content hash of the policy file (`sha256:` + hex, first 16 digits).
        hash: String,
        trigger: u32,
        depth: u8,
    },
    /// A plugin's action or error, like `Policy`.
    Plugin {
        plugin: String,
        version: String,
        /// Content hash of the component (`sha256:` + hex, first 16 digits).
        hash: String,
        trigger: u32,
        depth: u8,
    },
    /// Escalier's own dispatcher (loop and flood limits).
    System { trigger: u32, depth: u8 },
    /// The scheduler: a `clock.due` tick or a `clock.rebound`. An input.
    Scheduler,
    /// `POST /v1/sources/{source}`: mapped by the adapter plugin `plugin`
    /// after it verified the tool's own signature.
    Adapter { plugin: String },
    /// The outbox worker: a delivery that gave up (`delivery.failed`).
    Outbox,
    /// An API call by a token holder (`POST /v1/tickets/{id}/ack`, approval
    /// decisions). `token` is the token's name.
    Api { token: String },
    /// SLA clocks and escalation ladders (`sla.*`, `ladder.*` and the
    /// actions a ladder level takes), produced while handling record
    /// `(seq, trigger)`, like `System`.
    Clock { trigger: u32, depth: u8 },
}

/// What produced a reaction, before it has a position in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Producer {
    Policy {
        policy: String,
        hash: String,
    },
    Plugin {
        plugin: String,
        version: String,
        hash: String,
    },
    /// The dispatcher itself (loop and flood limits).
    System,
    /// SLA clocks and escalation ladders (`crate::timers`).
    Clock,
}

impl Producer {
    /// The name shown in histories: the policy file or plugin name.
    pub fn name(&self) -> &str {
        match self {
            Producer::Policy { policy, .. } => policy,
            Producer::Plugin { plugin, .. } => plugin,
            Producer::System => "escalier",
            Producer::Clock => "clock",
        }
    }

    pub(crate) fn at(self, trigger: u32, depth: u8) -> Source {
        match self {
            Producer::Policy { policy, hash } => Source::Policy {
                policy,
                hash,
                trigger,
                depth,
            },
            Producer::Plugin {
                plugin,
                version,
                hash,
            } => Source::Plugin {
                plugin,
                version,
                hash,
                trigger,
                depth,
            },
            Producer::System => Source::System { trigger, depth },
            Producer::Clock => Source::Clock { trigger, depth },
        }
    }
}

impl Source {
    /// Feedback depth: 0 for inputs, 1 for reactions to inputs, and so on.
    pub fn depth(&self) -> u8 {
        match self {
            Source::Webhook { .. }
            | Source::Adapter { .. }
            | Source::Scheduler
            | Source::Outbox
            | Source::Api { .. } => 0,
            Source::Policy { depth, .. }
            | Source::Plugin { depth, .. }
            | Source::System { depth, .. } => *depth,
            Source::Clock { depth, .. } => *depth,
        }
    }

    /// Name of what produced it, for histories.
    pub fn producer_name(&self) -> &str {
        match self {
            Source::Webhook { .. } => "webhook",
            Source::Policy { policy, .. } => policy,
            Source::Plugin { plugin, .. } => plugin,
            Source::System { .. } => "escalier",
            Source::Scheduler => "scheduler",
            Source::Outbox => "outbox",
            Source::Adapter { plugin } => plugin,
            Source::Api { token } => token,
            Source::Clock { .. } => "clock",
        }
    }

    /// Whether this is an input (given a fresh seq by the writer).
    pub fn is_input(&self) -> bool {
        self.depth() == 0
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub seq: u64,
    pub index: u32,
    /// When the writer committed the input this record belongs to. Derived
    /// records carry their input's time, so reprocessing is deterministic.
    pub recorded_at: Timestamp,
    pub source: Source,
    pub event: Event,
}

impl Record {
    pub fn pos(&self) -> LogPos {
        LogPos {
            seq: self.seq,
            index: self.index,
        }
    }

    pub fn depth(&self) -> u8 {
        self.source.depth()
    }
}
