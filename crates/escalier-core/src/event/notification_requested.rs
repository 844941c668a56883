//! `notification.requested`: Escalier is to tell a notification target
//! (an email list, a Slack or Teams channel, PagerDuty, a signed webhook)
//! about a ticket.
//!
//! Produced by the notification reactor for each target an `action.notify`
//! names (a team name stands for its targets), and for the PagerDuty
//! lifecycle (`acknowledge` when a ladder is acknowledged, `resolve` when
//! the ticket is solved or closed). Like `delivery.requested`, the store
//! puts it in the outbox in the same transaction; a worker sends it after
//! commit, at `hold_until` when quiet hours hold it. It names targets and
//! secrets only by name: no secret value is ever in the log.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::check;
use crate::error::Rejection;
use crate::id::TicketId;
use crate::vocab::{Priority, Status, Tier};

/// What kind of receiver a target is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyKind {
    /// SMTP submission.
    Email,
    /// Slack incoming webhook.
    Slack,
    /// Microsoft Teams workflow webhook (Adaptive Card).
    Teams,
    /// PagerDuty Events API v2.
    Pagerduty,
    /// A generic webhook signed per Standard Webhooks.
    Webhook,
    /// No target or team has the name: the delivery fails, saying so.
    None,
}

impl NotifyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyKind::Email => "email",
            NotifyKind::Slack => "slack",
            NotifyKind::Teams => "teams",
            NotifyKind::Pagerduty => "pagerduty",
            NotifyKind::Webhook => "webhook",
            NotifyKind::None => "none",
        }
    }
}

/// A PagerDuty Events v2 `event_action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PdAction {
    Trigger,
    Acknowledge,
    Resolve,
}

impl PdAction {
    pub fn as_str(self) -> &'static str {
        match self {
            PdAction::Trigger => "trigger",
            PdAction::Acknowledge => "acknowledge",
            PdAction::Resolve => "resolve",
        }
    }
}

/// Why the notification was asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationWhy {
    /// The policy file, plugin, or `clock` (a ladder level) that asked.
    pub producer: String,
    /// The reason given (a ladder level's, an acknowledgement's, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The ticket as it was when the notification was asked for: the message
/// is rendered from this, not from the ticket at send time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationTicket {
    pub id: TicketId,
    pub subject: String,
    pub status: Status,
    pub priority: Priority,
    pub tier: Tier,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationRequested {
    /// `ntf:<seq>.<index>:<target>`, from the position of the record that
    /// asked: unique, stable across replays, the idempotency key receivers
    /// see (`webhook-id`, the email's Message-ID).
    pub delivery_id: String,
    /// The target's name in `policies/notify.toml` (the channel itself
    /// when no target or team has that name).
    pub target: String,
    pub kind: NotifyKind,
    /// PagerDuty only: what to do with the incident.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pd_action: Option<PdAction>,
    /// PagerDuty only: `escalier/<ticket>/<seq of the first trigger>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedup_key: Option<String>,
    /// The ticket's priority is one of the target's urgent priorities:
    /// quiet hours do not hold it.
    #[serde(default)]
    pub urgent: bool,
    /// Held by the target's quiet hours until its calendar opens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_until: Option<Timestamp>,
    /// The name the action used: a target, or a team of targets.
    pub channel: String,
    pub message: String,
    pub why: NotificationWhy,
    pub ticket: NotificationTicket,
}

impl NotificationRequested {
    pub const TYPE: &'static str = "notification.requested";
    /// Longest target name, in bytes.
    pub const MAX_TARGET_LEN: usize = 64;
    /// Longest PagerDuty dedup key (the Events API's limit).
    pub const MAX_DEDUP_KEY_LEN: usize = 255;

    /// The delivery id for `target`, asked for while handling record `(seq, index)`.
    pub fn delivery_id_for(seq: u64, index: u32, target: &str) -> String {
        format!("ntf:{seq}.{index}:{target}")
    }

    /// The PagerDuty dedup key of an incident first triggered at `seq`.
    pub fn dedup_key_for(ticket: &TicketId, seq: u64) -> String {
        format!("escalier/{ticket}/{seq}")
    }

    pub(crate) fn validate(&self) -> Result<(), Rejection> {
        crate::id::validate_id(&self.delivery_id)
            .map_err(|m| Rejection::invalid("delivery_id", format!("delivery id {m}")))?;
        if !self.delivery_id.starts_with("ntf:") {
            return Err(Rejection::invalid(
                "delivery_id",
                "a notification's delivery id starts with `ntf:`",
            ));
        }
        check::name("target", &self.target)?;
        check::name("channel", &self.channel)?;
        check::text("message", &self.message, 4096)?;
        check::name("why.producer", &self.why.producer)?;
        if let Some(r) = &self.why.reason {
            check::text("why.reason", r, 1024)?;
        }
        check::text("ticket.subject", &self.ticket.subject, 1024)?;
        if let Some(team) = &self.ticket.team {
            check::name("ticket.team", team)?;
        }
        match (self.kind, self.pd_action, &self.dedup_key) {
            (NotifyKind::Pagerduty, Some(_), Some(k)) => {
                if k.is_empty() || k.len() > Self::MAX_DEDUP_KEY_LEN {
                    return Err(Rejection::invalid(
                        "dedup_key",
                        format!("is 1 to {} bytes", Self::MAX_DEDUP_KEY_LEN),
                    ));
                }
            }
            (NotifyKind::Pagerduty, None, _) => {
                return Err(Rejection::invalid(
                    "pd_action",
                    "a PagerDuty notification says trigger, acknowledge or resolve",
                ));
            }
            (NotifyKind::Pagerduty, Some(_), None) => {
                return Err(Rejection::invalid(
                    "dedup_key",
                    "a PagerDuty notification carries its incident's dedup key",
                ));
            }
            (_, Some(_), _) => {
                return Err(Rejection::invalid(
                    "pd_action",
                    "only PagerDuty notifications have an action",
                ));
            }
            (_, None, Some(_)) => {
                return Err(Rejection::invalid(
                    "dedup_key",
                    "only PagerDuty notifications have a dedup key",
                ));
            }
            (_, None, None) => {}
        }
        Ok(())
    }
}
