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
use redb::{Durability, ReadableDatabase, ReadableTable, Table};
use serde::{Deserialize, Serialize};

use crate::{Store, StoreError, tables};

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

/// The index bucket of every delivery.
const ALL_BUCKET: &str = "*";

fn ticket_bucket(ticket: &str) -> String {
    format!("t:{ticket}")
}

fn decode_row(bytes: &[u8]) -> Result<DeliveryRow, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        what: "delivery row",
        detail: e.to_string(),
    })
}

/// Write `new` over `old` (if any) in `deliveries` and move its index rows.
pub(crate) fn put_delivery(
    rows: &mut Table<&str, &[u8]>,
    index: &mut Table<(&str, u64, &str), ()>,
    old: Option<&DeliveryRow>,
    new: &DeliveryRow,
) -> Result<(), StoreError> {
    let id = new.delivery_id.as_str();
    if let Some(old) = old {
        let ms = crate::processor::due_ms(old.updated_at);
        index.remove((old.state.as_str(), ms, id))?;
        index.remove((ALL_BUCKET, ms, id))?;
        index.remove((ticket_bucket(&old.ticket_id).as_str(), ms, id))?;
    }
    let ms = crate::processor::due_ms(new.updated_at);
    index.insert((new.state.as_str(), ms, id), ())?;
    index.insert((ALL_BUCKET, ms, id), ())?;
    index.insert((ticket_bucket(&new.ticket_id).as_str(), ms, id), ())?;
    let bytes = serde_json::to_vec(new).unwrap_or_default();
    rows.insert(id, bytes.as_slice())?;
    Ok(())
}

impl Store {
    /// Entries due at `now`, oldest first, at most `limit`.
    pub fn outbox_due(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<(OutboxKey, OutboxEntry)>, StoreError> {
        let now_ms = crate::processor::due_ms(now);
        let rtx = self.db().begin_read()?;
        let table = rtx.open_table(tables::OUTBOX)?;
        let mut out = Vec::new();
        for row in table.range((0u64, "")..)? {
            let (k, v) = row?;
            let (due_ms, id) = k.value();
            if due_ms > now_ms || out.len() == limit {
                break;
            }
            let entry: OutboxEntry =
                serde_json::from_slice(v.value()).map_err(|e| StoreError::Corrupt {
                    what: "outbox entry",
                    detail: e.to_string(),
                })?;
            out.push((
                OutboxKey {
                    due_ms,
                    id: id.to_owned(),
                },
                entry,
            ));
        }
        Ok(out)
    }

    /// The due time of the first pending entry, if any.
    pub fn outbox_next(&self) -> Result<Option<u64>, StoreError> {
        let rtx = self.db().begin_read()?;
        let table = rtx.open_table(tables::OUTBOX)?;
        Ok(table.first()?.map(|(k, _)| k.value().0))
    }

    /// Number of pending entries.
    pub fn outbox_len(&self) -> Result<u64, StoreError> {
        use redb::ReadableTableMetadata;
        let rtx = self.db().begin_read()?;
        Ok(rtx.open_table(tables::OUTBOX)?.len()?)
    }

    /// Record what happened to attempted entries, and each delivery's new
    /// state, in one transaction. Not fsynced on its own: losing it
    /// re-sends (at least once), never loses.
    pub fn outbox_settle(&self, results: &[Settled]) -> Result<(), StoreError> {
        if results.is_empty() {
            return Ok(());
        }
        let mut wtx = self.db().begin_write()?;
        wtx.set_durability(Durability::None)
            .map_err(|e| StoreError::CommitFailed(e.to_string()))?;
        {
            let mut table = wtx.open_table(tables::OUTBOX)?;
            let mut rows = wtx.open_table(tables::DELIVERIES)?;
            let mut index = wtx.open_table(tables::DELIVERY_INDEX)?;
            for s in results {
                table.remove((s.key.due_ms, s.key.id.as_str()))?;
                if let Some(at) = s.retry_at {
                    let bytes = serde_json::to_vec(&s.entry).unwrap_or_default();
                    table.insert(
                        (crate::processor::due_ms(at), s.key.id.as_str()),
                        bytes.as_slice(),
                    )?;
                }
                let id = s.entry.request.delivery_id();
                let old = match rows.get(id)? {
                    Some(v) => Some(decode_row(v.value())?),
                    None => None,
                };
                // Entries queued before the table existed have no row yet.
                let mut row = old
                    .clone()
                    .unwrap_or_else(|| DeliveryRow::requested(&s.entry, s.at));
                row.state = s.state;
                row.attempts = s.entry.attempts;
                row.next_at = s.retry_at;
                row.status = s.status;
                row.reason = s.reason.clone();
                row.updated_at = s.at.max(row.updated_at);
                put_delivery(&mut rows, &mut index, old.as_ref(), &row)?;
            }
        }
        wtx.commit()?;
        Ok(())
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
        let wtx = self.db().begin_write()?;
        {
            let mut table = wtx.open_table(tables::OUTBOX)?;
            let bytes = serde_json::to_vec(entry).unwrap_or_default();
            table.insert(
                (crate::processor::due_ms(due), entry.request.delivery_id()),
                bytes.as_slice(),
            )?;
            let mut rows = wtx.open_table(tables::DELIVERIES)?;
            let mut index = wtx.open_table(tables::DELIVERY_INDEX)?;
            let old = match rows.get(entry.request.delivery_id())? {
                Some(v) => Some(decode_row(v.value())?),
                None => None,
            };
            let row = DeliveryRow::requested(entry, requested_at);
            put_delivery(&mut rows, &mut index, old.as_ref(), &row)?;
        }
        wtx.commit()?;
        self.outbox_bell().notify_one();
        Ok(())
    }

    /// `deliveries` against its index and the outbox: each row listed
    /// under its state, all, and its ticket at its update time (and nothing
    /// else in the index); pending, held and retrying deliveries have an
    /// outbox entry, delivered and failed ones none. Problems in words.
    pub(crate) fn verify_deliveries(&self) -> Result<Vec<String>, StoreError> {
        use std::collections::HashSet;
        let rtx = self.db().begin_read()?;
        let rows = rtx.open_table(tables::DELIVERIES)?;
        let index = rtx.open_table(tables::DELIVERY_INDEX)?;
        let outbox = rtx.open_table(tables::OUTBOX)?;
        let mut queued = HashSet::new();
        for row in outbox.iter()? {
            let (k, _) = row?;
            queued.insert(k.value().1.to_owned());
        }
        let mut expected: HashSet<(String, u64, String)> = HashSet::new();
        let mut problems = Vec::new();
        for row in rows.iter()? {
            let (k, v) = row?;
            let id = k.value().to_owned();
            let d = decode_row(v.value())?;
            let ms = crate::processor::due_ms(d.updated_at);
            for bucket in [
                d.state.as_str().to_owned(),
                ALL_BUCKET.to_owned(),
                ticket_bucket(&d.ticket_id),
            ] {
                expected.insert((bucket, ms, id.clone()));
            }
            let open = matches!(
                d.state,
                DeliveryState::Pending | DeliveryState::Held | DeliveryState::Retrying
            );
            if open != queued.contains(&id) {
                problems.push(format!(
                    "delivery {id} is {} but {} in the outbox",
                    d.state.as_str(),
                    if open { "not" } else { "still" }
                ));
            }
        }
        let mut found = 0usize;
        for row in index.iter()? {
            let (k, _) = row?;
            let (bucket, ms, id) = k.value();
            found += 1;
            if !expected.contains(&(bucket.to_owned(), ms, id.to_owned())) {
                problems.push(format!(
                    "delivery index row ({bucket}, {ms}, {id}) matches no delivery"
                ));
            }
        }
        if found < expected.len() {
            problems.push(format!(
                "delivery index has {found} rows for {} expected",
                expected.len()
            ));
        }
        Ok(problems)
    }

    /// One delivery's row.
    pub fn delivery(&self, id: &str) -> Result<Option<DeliveryRow>, StoreError> {
        let rtx = self.db().begin_read()?;
        let rows = rtx.open_table(tables::DELIVERIES)?;
        match rows.get(id)? {
            Some(v) => Ok(Some(decode_row(v.value())?)),
            None => Ok(None),
        }
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
        let rtx = self.db().begin_read()?;
        let rows = rtx.open_table(tables::DELIVERIES)?;
        let index = rtx.open_table(tables::DELIVERY_INDEX)?;
        let bucket = match (ticket, state) {
            (Some(t), _) => ticket_bucket(t),
            (None, Some(s)) => s.as_str().to_owned(),
            (None, None) => ALL_BUCKET.to_owned(),
        };
        let b = bucket.as_str();
        let range = match after {
            Some(c) => index.range((b, 0u64, "")..(b, c.updated_ms, c.id.as_str()))?,
            None => index.range((b, 0u64, "")..(b, u64::MAX, ""))?,
        };
        let mut out = Vec::new();
        let mut more = false;
        for item in range.rev() {
            let (k, _) = item?;
            let (_, _, id) = k.value();
            let Some(v) = rows.get(id)? else { continue };
            let row = decode_row(v.value())?;
            if state.is_some_and(|s| s != row.state) {
                continue;
            }
            if out.len() == limit {
                more = true;
                break;
            }
            out.push(row);
        }
        let next = if more {
            out.last().map(|r| DeliveryCursor {
                updated_ms: crate::processor::due_ms(r.updated_at),
                id: r.delivery_id.clone(),
            })
        } else {
            None
        };
        Ok((out, next))
    }
}
