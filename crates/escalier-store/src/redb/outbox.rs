//! The outbox and delivery tables (see [`crate::outbox`] for what they mean).

use ::redb::{Durability, ReadableDatabase, ReadableTable, Table};

use super::{RedbBackend, tables};
use crate::StoreError;
use crate::outbox::{DeliveryCursor, DeliveryRow, DeliveryState, OutboxEntry, OutboxKey, Settled};

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
pub(super) fn put_delivery(
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

impl RedbBackend {
    /// Entries due at `now`, oldest first, at most `limit`.
    pub(super) fn outbox_due_rows(
        &self,
        now_ms: u64,
        limit: usize,
    ) -> Result<Vec<(OutboxKey, OutboxEntry)>, StoreError> {
        let rtx = self.db.begin_read()?;
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

    /// Record what happened to attempted entries, and each delivery's new
    /// state, in one transaction. Not fsynced on its own: losing it
    /// re-sends (at least once), never loses.
    pub(super) fn settle(&self, results: &[Settled]) -> Result<(), StoreError> {
        if results.is_empty() {
            return Ok(());
        }
        let mut wtx = self.db.begin_write()?;
        wtx.set_durability(Durability::None)
            .map_err(|e| StoreError::CommitFailed(e.to_string()))?;
        {
            let mut table = wtx.open_table(tables::OUTBOX)?;
            let mut rows = wtx.open_table(tables::DELIVERIES)?;
            let mut index = wtx.open_table(tables::DELIVERY_INDEX)?;
            for s in results {
                // An entry no longer at its key was settled or moved
                // meanwhile (a retry asked for by hand): its newer state
                // stands, and this result changes nothing.
                if table.remove((s.key.due_ms, s.key.id.as_str()))?.is_none() {
                    continue;
                }
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

    /// Put one entry in the outbox with its delivery row, in one transaction.
    pub(super) fn enqueue(
        &self,
        due_ms: u64,
        entry: &OutboxEntry,
        row: &DeliveryRow,
    ) -> Result<(), StoreError> {
        let wtx = self.db.begin_write()?;
        {
            let mut table = wtx.open_table(tables::OUTBOX)?;
            let bytes = serde_json::to_vec(entry).unwrap_or_default();
            table.insert((due_ms, entry.request.delivery_id()), bytes.as_slice())?;
            let mut rows = wtx.open_table(tables::DELIVERIES)?;
            let mut index = wtx.open_table(tables::DELIVERY_INDEX)?;
            let old = match rows.get(entry.request.delivery_id())? {
                Some(v) => Some(decode_row(v.value())?),
                None => None,
            };
            put_delivery(&mut rows, &mut index, old.as_ref(), row)?;
        }
        wtx.commit()?;
        Ok(())
    }

    /// `deliveries` against its index and the outbox: each row listed
    /// under its state, all, and its ticket at its update time (and nothing
    /// else in the index); pending, held and retrying deliveries have an
    /// outbox entry, delivered and failed ones none. Problems in words.
    pub(super) fn verify_deliveries(&self) -> Result<Vec<String>, StoreError> {
        use std::collections::HashSet;
        let rtx = self.db.begin_read()?;
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
    pub(super) fn delivery_row(&self, id: &str) -> Result<Option<DeliveryRow>, StoreError> {
        let rtx = self.db.begin_read()?;
        let rows = rtx.open_table(tables::DELIVERIES)?;
        match rows.get(id)? {
            Some(v) => Ok(Some(decode_row(v.value())?)),
            None => Ok(None),
        }
    }

    /// Deliveries, most recently updated first: all, or those in `state`,
    /// or those of `ticket` (and in `state`), at most `limit`, after
    /// `after`. Also returns the cursor for the next page, if there may be one.
    pub(super) fn delivery_rows(
        &self,
        state: Option<DeliveryState>,
        ticket: Option<&str>,
        limit: usize,
        after: Option<&DeliveryCursor>,
    ) -> Result<(Vec<DeliveryRow>, Option<DeliveryCursor>), StoreError> {
        let rtx = self.db.begin_read()?;
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
