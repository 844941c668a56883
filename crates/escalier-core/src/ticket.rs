//! The ticket projection: everything Escalier knows about a ticket, folded
//! from its events and actions by [`crate::reduce`].
//!
//! Invariant: a `Ticket` is always equal to the fold of its log records in
//! log order. Nothing writes a ticket any other way.

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::checklist::{ChecklistProgress, HeldEscalation};
use crate::event::Requester;
use crate::id::TicketId;
use crate::ladder::LadderSet;
use crate::sla::ClockSet;
use crate::vocab::{Channel, Priority, Status, Tier};

/// Most tags a ticket keeps.
pub const MAX_TAGS: usize = 100;
/// Most custom fields a ticket keeps.
pub const MAX_FIELDS: usize = 100;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    pub id: TicketId,
    pub subject: String,
    #[serde(default)]
    pub description: String,
    pub status: Status,
    pub priority: Priority,
    pub channel: Channel,
    pub requester: Requester,
    pub tier: Tier,
    #[serde(default)]
    pub team: Option<String>,
    #[serde(default)]
    pub agent: Option<String>,
    #[serde(default)]
    pub tags: BTreeSet<String>,
    #[serde(default)]
    pub fields: BTreeMap<String, serde_json::Value>,

    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// First public agent comment.
    #[serde(default)]
    pub first_response_at: Option<Timestamp>,
    /// Last time the ticket was solved (resolution).
    #[serde(default)]
    pub solved_at: Option<Timestamp>,
    #[serde(default)]
    pub closed_at: Option<Timestamp>,
    #[serde(default)]
    pub last_customer_comment_at: Option<Timestamp>,
    #[serde(default)]
    pub last_agent_reply_at: Option<Timestamp>,
    /// Times it went from solved back to an open state.
    #[serde(default)]
    pub reopen_count: u32,
    #[serde(default)]
    pub comment_count: u32,
    #[serde(default)]
    pub csat: Option<Csat>,

    /// Hierarchical escalations, oldest first.
    #[serde(default)]
    pub escalations: Vec<EscalationStep>,
    /// Functional escalations (team changes made by policies), oldest first.
    #[serde(default)]
    pub routes: Vec<RouteStep>,
    #[serde(default)]
    pub approvals: Vec<Approval>,
    /// Checklists required before the ticket moves on.
    #[serde(default)]
    pub checklists: Vec<String>,
    /// `notify` actions taken.
    #[serde(default)]
    pub notifications: u32,
    /// `policy.error` records on this ticket.
    #[serde(default)]
    pub policy_errors: u32,
    /// `plugin.error` records on this ticket.
    #[serde(default)]
    pub plugin_errors: u32,
    /// Plugins' key-value state on this ticket: plugin → key → value.
    /// Written only by `plugin.state` events.
    #[serde(default)]
    pub plugin_state: BTreeMap<String, BTreeMap<String, String>>,
    /// Plugins' pending timers on this ticket: plugin → timer key → when.
    /// Set and cancelled only by `plugin.state` events; a timer leaves
    /// when it fires (`crate::timers::fire`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub plugin_timers: BTreeMap<String, BTreeMap<String, PendingTimer>>,
    /// Checklists with their items and progress, by name.
    #[serde(default)]
    pub checklist_progress: BTreeMap<String, ChecklistProgress>,
    /// Escalations waiting for a checklist to complete, oldest first.
    #[serde(default)]
    pub held_escalations: Vec<HeldEscalation>,
    /// `delivery.failed` records on this ticket.
    #[serde(default)]
    pub deliveries_failed: u32,
    /// SLA clocks, kept by `crate::timers` (not by the reducer).
    #[serde(default)]
    pub clocks: ClockSet,
    /// Escalation ladder runs, kept by `crate::timers` (not by the reducer).
    #[serde(default)]
    pub ladders: LadderSet,
    /// `sla.breached` records on this ticket.
    #[serde(default)]
    pub sla_breaches: u32,
    /// `ladder.level_reached` records on this ticket.
    #[serde(default)]
    pub ladder_levels_reached: u32,
    /// `ladder.exhausted` records on this ticket.
    #[serde(default)]
    pub ladders_exhausted: u32,
    /// Open PagerDuty incidents: notification target → dedup key. Set by a
    /// `notification.requested` that triggers one, cleared by the one that
    /// resolves it, so a later trigger opens a new incident.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub paged: BTreeMap<String, String>,
    /// The policy set version this ticket follows (`policies.pin = "ticket"`);
    /// `None`: whatever set is in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_version: Option<String>,
    /// Log sequence number of the last record applied.
    pub last_seq: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Csat {
    pub score: i64,
    #[serde(default)]
    pub comment: Option<String>,
    pub at: Timestamp,
}

/// A timer a plugin set (`timers.set`) that has not fired yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingTimer {
    /// When it is due.
    pub at: Timestamp,
    /// Seq of the input whose processing set it. Part of its deadline key,
    /// so a key set again after it fired makes a new deadline.
    pub seq: u64,
}

/// One step up the tiers, with what made it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EscalationStep {
    pub at: Timestamp,
    pub from: Tier,
    pub to: Tier,
    pub reason: String,
    /// Policy file or plugin that escalated.
    pub by: String,
    pub seq: u64,
    pub index: u32,
    /// Set when a checklist held this escalation: when it was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_since: Option<Timestamp>,
}

/// One hand-off between teams made by a policy or plugin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteStep {
    pub at: Timestamp,
    pub from: Option<String>,
    pub to: String,
    pub reason: String,
    pub by: String,
    pub seq: u64,
    pub index: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalState {
    Pending,
    Approved,
    Rejected,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    pub id: String,
    pub kind: String,
    pub reason: String,
    pub state: ApprovalState,
    pub requested_at: Timestamp,
    pub requested_by: String,
    /// Set once decided (`approval.decided`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<ApprovalDecision>,
}

/// Who decided an approval, when and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalDecision {
    pub by: String,
    pub at: Timestamp,
    #[serde(default)]
    pub reason: String,
}

impl Ticket {
    /// Whether a tag is present.
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.contains(tag)
    }

    /// Open in the broad sense: not solved and not closed.
    pub fn is_open(&self) -> bool {
        !matches!(self.status, Status::Solved | Status::Closed)
    }
}
