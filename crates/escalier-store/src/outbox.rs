//! The outbox: side effects (plugins' outbound HTTP) recorded durably in
//! the same transaction as the action that asked for them, and delivered
//! after commit, at least once.
//!
//! The processor adds an entry for every `delivery.requested` it records,
//! due at once. The delivery worker (in the binary) takes due entries,
//! tries them, and moves each on: removed when delivered or given up
//! (then it appends `delivery.failed`), or re-keyed at its next try.
//! A crash between a delivery and its removal sends it again: receivers
//! deduplicate by the delivery id (the `webhook-id` of signed requests).

use escalier_core::Timestamp;
use escalier_core::event::DeliveryRequested;
use redb::{Durability, ReadableDatabase, ReadableTable};
use serde::{Deserialize, Serialize};

use crate::{Store, StoreError, tables};

/// One pending side effect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub ticket_id: String,
    pub request: DeliveryRequested,
    /// Attempts made so far.
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub first_attempt_at: Option<Timestamp>,
    #[serde(default)]
    pub last_error: Option<String>,
}

/// Where an entry sits in the outbox: its due time and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxKey {
    pub due_ms: u64,
    pub id: String,
}

/// What became of one attempt.
#[derive(Debug, Clone)]
pub enum Settle {
    /// Delivered, or given up: remove it.
    Remove,
    /// Try again at this time.
    Retry(Timestamp, Box<OutboxEntry>),
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

    /// Record what happened to attempted entries, in one transaction. Not
    /// fsynced on its own: losing it re-sends (at least once), never loses.
    pub fn outbox_settle(&self, results: &[(OutboxKey, Settle)]) -> Result<(), StoreError> {
        if results.is_empty() {
            return Ok(());
        }
        let mut wtx = self.db().begin_write()?;
        wtx.set_durability(Durability::None)
            .map_err(|e| StoreError::CommitFailed(e.to_string()))?;
        {
            let mut table = wtx.open_table(tables::OUTBOX)?;
            for (key, settle) in results {
                table.remove((key.due_ms, key.id.as_str()))?;
                if let Settle::Retry(at, entry) = settle {
                    let bytes = serde_json::to_vec(entry).unwrap_or_default();
                    table.insert(
                        (crate::processor::due_ms(*at), key.id.as_str()),
                        bytes.as_slice(),
                    )?;
                }
            }
        }
        wtx.commit()?;
        Ok(())
    }
}
