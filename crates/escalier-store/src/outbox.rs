//! The outbox: side effects (plugins' outbound HTTP, notifications)
//! recorded durably in the same transaction as the action that asked for
//! them, and delivered after commit, at least once.
//!
//! The processor adds an entry for every `delivery.requested` and
//! `notification.requested` it records, due at once (or at `hold_until`
//! for a notification held by quiet hours), and a row in `deliveries`
//! (state `pending` or `held`). The delivery worker (`escalier-outbox`)
//! takes due entries, tries them, and moves each on: removed when
//! delivered or given up, or re-keyed at its next try; the delivery's row
//! follows in the same transaction. A crash between a delivery and its
//! removal sends it again: receivers deduplicate by the delivery id (the
//! `webhook-id` of signed requests).

use escalier_core::Timestamp;
use escalier_core::event::{DeliveryRequested, NotificationRequested};
use serde::{Deserialize, Serialize};

use crate::{Store, StoreError};

/// What an outbox entry asks for. Stored untagged: rows written before
/// notifications existed are a plain `DeliveryRequested` and read as
/// [`OutboxRequest::Http`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OutboxRequest {
    /// A notification to a configured target (email, Slack, ...).
    Notification(NotificationRequested),
    /// A plugin's outbound HTTP request.
    Http(DeliveryRequested),
}

impl OutboxRequest {
    pub fn delivery_id(&self) -> &str {
        match self {
            OutboxRequest::Http(d) => &d.delivery_id,
            OutboxRequest::Notification(n) => &n.delivery_id,
        }
    }

    /// The plugin that asked (HTTP requests).
    pub fn plugin(&self) -> Option<&str> {
        match self {
            OutboxRequest::Http(d) => Some(&d.plugin),
            OutboxRequest::Notification(_) => None,
        }
    }

    /// The notification target (notifications).
    pub fn target(&self) -> Option<&str> {
        match self {
            OutboxRequest::Http(_) => None,
            OutboxRequest::Notification(n) => Some(&n.target),
        }
    }

    /// `http`, or the notification's kind (`email`, `slack`, `teams`,
    /// `pagerduty`, `webhook`, `none`).
    pub fn kind(&self) -> &'static str {
        match self {
            OutboxRequest::Http(_) => "http",
            OutboxRequest::Notification(n) => n.kind.as_str(),
        }
    }

    /// Who the delivery is for, as a metrics label: the plugin's name or
    /// `notify:<target>` (both bounded by configuration).
    pub fn by(&self) -> String {
        match self {
            OutboxRequest::Http(d) => d.plugin.clone(),
            OutboxRequest::Notification(n) => format!("notify:{}", n.target),
        }
    }
}

/// One pending side effect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub ticket_id: String,
    pub request: OutboxRequest,
    /// Attempts made so far.
    #[serde(default)]
    pub attempts: u32,
    /// Attempts that ended with a 409 Conflict (failed at the third).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub conflicts: u32,
    #[serde(default)]
    pub first_attempt_at: Option<Timestamp>,
    #[serde(default)]
    pub last_error: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl OutboxEntry {
    /// A new entry for `request` on `ticket_id`, no attempt made.
    pub fn new(ticket_id: impl Into<String>, request: OutboxRequest) -> OutboxEntry {
        OutboxEntry {
            ticket_id: ticket_id.into(),
            request,
            attempts: 0,
            conflicts: 0,
            first_attempt_at: None,
            last_error: None,
        }
    }
}

/// Where an entry sits in the outbox: its due time and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxKey {
    pub due_ms: u64,
    pub id: String,
}

/// A delivery's state in `deliveries`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryState {
    /// In the outbox, not tried yet.
    Pending,
    /// In the outbox, held (quiet hours) until `next_at`.
    Held,
    /// Tried and failed in a way worth retrying; next try at `next_at`.
    Retrying,
    /// The receiver accepted it.
    Delivered,
    /// Given up.
    Failed,
}

impl DeliveryState {
    pub const ALL: [DeliveryState; 5] = [
        DeliveryState::Pending,
        DeliveryState::Held,
        DeliveryState::Retrying,
        DeliveryState::Delivered,
        DeliveryState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Held => "held",
            DeliveryState::Retrying => "retrying",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryState> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// One delivery's current state (`deliveries` table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryRow {
    pub delivery_id: String,
    pub ticket_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plugin: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// `http`, `email`, `slack`, `teams`, `pagerduty`, `webhook` (or `none`).
    pub kind: String,
    pub state: DeliveryState,
    pub attempts: u32,
    /// Held or retrying: when the next attempt is due.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_at: Option<Timestamp>,
    /// The receiver's last HTTP status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Why the last attempt did not deliver (or why it was given up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub requested_at: Timestamp,
    pub updated_at: Timestamp,
}

impl DeliveryRow {
    /// The row of a newly queued entry: pending, or held until `hold_until`.
    pub fn requested(entry: &OutboxEntry, at: Timestamp) -> DeliveryRow {
        let hold = match &entry.request {
            OutboxRequest::Notification(n) => n.hold_until.filter(|h| *h > at),
            OutboxRequest::Http(_) => None,
        };
        DeliveryRow {
            delivery_id: entry.request.delivery_id().to_owned(),
            ticket_id: entry.ticket_id.clone(),
            plugin: entry.request.plugin().map(str::to_owned),
            target: entry.request.target().map(str::to_owned),
            kind: entry.request.kind().to_owned(),
            state: if hold.is_some() {
                DeliveryState::Held
            } else {
                DeliveryState::Pending
            },
            attempts: 0,
            next_at: hold,
            status: None,
            reason: None,
            requested_at: at,
            updated_at: at,
        }
    }
}

/// What became of one attempt, as the worker records it.
#[derive(Debug, Clone)]
pub struct Settled {
    /// Where the entry was.
    pub key: OutboxKey,
    /// The entry after the attempt (attempts counted).
    pub entry: OutboxEntry,
    /// `Some(at)`: keep it and try again then; `None`: remove it.
    pub retry_at: Option<Timestamp>,
    /// The delivery's new state.
    pub state: DeliveryState,
    pub status: Option<u16>,
    pub reason: Option<String>,
    /// When the attempt ended.
    pub at: Timestamp,
}

/// A position in a deliveries listing (newest first): the last row's
/// update time and id. Written `<ms>:<delivery id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryCursor {
    pub updated_ms: u64,
    pub id: String,
}

impl DeliveryCursor {
    pub fn parse(s: &str) -> Option<DeliveryCursor> {
        let (ms, id) = s.split_once(':')?;
        Some(DeliveryCursor {
            updated_ms: ms.parse().ok()?,
            id: id.to_owned(),
        })
    }
}

impl std::fmt::Display for DeliveryCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.updated_ms, self.id)
    }
}

impl Store {
    /// Entries due at `now`, oldest first, at most `limit` (of the
    /// partitions this node processes, on a shared database).
    pub fn outbox_due(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<(OutboxKey, OutboxEntry)>, StoreError> {
        let held = self.held_partitions();
        self.backend
            .outbox_due(held.as_deref(), crate::processor::due_ms(now), limit)
    }

    /// The due time of the first pending entry, if any.
    pub fn outbox_next(&self) -> Result<Option<u64>, StoreError> {
        let held = self.held_partitions();
        self.backend.outbox_next(held.as_deref())
    }

    /// Number of pending entries.
    pub fn outbox_len(&self) -> Result<u64, StoreError> {
        self.backend.outbox_len()
    }

    /// Record what happened to attempted entries, and each delivery's new
    /// state, in one transaction. Not fsynced on its own where the backend
    /// allows it: losing it re-sends (at least once), never loses.
    pub fn outbox_settle(&self, results: &[Settled]) -> Result<(), StoreError> {
        if results.is_empty() {
            return Ok(());
        }
        self.backend.outbox_settle(results)
    }

    /// Put one entry in the outbox, due at `due`, with its delivery row, in
    /// one transaction. The processor does this for the records it derives;
    /// this is for tools and tests.
    pub fn outbox_enqueue(
        &self,
        entry: &OutboxEntry,
        due: Timestamp,
        requested_at: Timestamp,
    ) -> Result<(), StoreError> {
        let row = DeliveryRow::requested(entry, requested_at);
        self.backend
            .outbox_enqueue(crate::processor::due_ms(due), entry, &row)?;
        self.outbox_bell().notify_one();
        Ok(())
    }

    /// One delivery's row.
    pub fn delivery(&self, id: &str) -> Result<Option<DeliveryRow>, StoreError> {
        self.backend.delivery(id)
    }

    /// Deliveries, most recently updated first: all, or those in `state`,
    /// or those of `ticket` (and in `state`), at most `limit`, after
    /// `after`. Also returns the cursor for the next page, if there may be one.
    pub fn deliveries(
        &self,
        state: Option<DeliveryState>,
        ticket: Option<&str>,
        limit: usize,
        after: Option<&DeliveryCursor>,
    ) -> Result<(Vec<DeliveryRow>, Option<DeliveryCursor>), StoreError> {
        self.backend.deliveries(state, ticket, limit, after)
    }
}
