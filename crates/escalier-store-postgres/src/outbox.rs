//! The outbox and the deliveries: entries due by partition, settling
//! attempts, the deliveries list.
//!
//! `outbox` holds one row per pending delivery (its id is the key; redb
//! keys by (due, id), and an id is never queued twice), `deliveries` one
//! row per delivery with its state, ticket and update time (ms, rounded
//! up) beside the JSON row, indexed for the list API as redb's
//! `delivery_index` buckets are: all, by state, by ticket, newest first.

use std::collections::HashMap;
use std::sync::Arc;

use escalier_store::StoreError;
use escalier_store::outbox::{
    DeliveryCursor, DeliveryRow, DeliveryState, OutboxEntry, OutboxKey, Settled,
};
use tokio_postgres::Transaction;
use tokio_postgres::types::ToSql;

use crate::PgBackend;
use crate::conn::PgResult;
use crate::log::{to_i64, to_u64};
use crate::process::{ms_up, part_of, parts_param};
use crate::read::lim;

pub(crate) fn decode_entry(bytes: &[u8]) -> Result<OutboxEntry, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        what: "outbox entry",
        detail: e.to_string(),
    })
}

pub(crate) fn decode_row(bytes: &[u8]) -> Result<DeliveryRow, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        what: "delivery row",
        detail: e.to_string(),
    })
}

/// Write (insert or replace) a delivery's row with its key columns.
pub(crate) async fn put_delivery(c: &Transaction<'_>, row: &DeliveryRow) -> Result<(), StoreError> {
    let bytes = serde_json::to_vec(row).unwrap_or_default();
    c.execute(
        "INSERT INTO deliveries (delivery_id, ticket_id, state, updated_ms, row) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (delivery_id) DO UPDATE SET ticket_id = EXCLUDED.ticket_id, \
           state = EXCLUDED.state, updated_ms = EXCLUDED.updated_ms, row = EXCLUDED.row",
        &[
            &row.delivery_id,
            &row.ticket_id,
            &row.state.as_str(),
            &to_i64(ms_up(row.updated_at)),
            &bytes,
        ],
    )
    .await
    .pg()?;
    Ok(())
}

/// Queue (or move) `entry` at `due_ms` under its delivery id.
pub(crate) async fn put_entry(
    c: &Transaction<'_>,
    partitions: u32,
    due_ms: u64,
    entry: &OutboxEntry,
) -> Result<(), StoreError> {
    let bytes = serde_json::to_vec(entry).unwrap_or_default();
    let part = part_of(&entry.ticket_id, partitions);
    c.execute(
        "INSERT INTO outbox (delivery_id, due_ms, part, entry) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (delivery_id) DO UPDATE SET due_ms = EXCLUDED.due_ms, \
           part = EXCLUDED.part, entry = EXCLUDED.entry",
        &[&entry.request.delivery_id(), &to_i64(due_ms), &part, &bytes],
    )
    .await
    .pg()?;
    Ok(())
}

/// The rows of `sql` for the delivery ids `ids` (`$1`), locked in id
/// order, by their id (column 0), each made into a value by `value`.
async fn locked<T>(
    tx: &Transaction<'_>,
    sql: &str,
    ids: &[&str],
    value: impl Fn(&tokio_postgres::Row) -> Result<T, StoreError>,
) -> Result<HashMap<String, T>, StoreError> {
    let mut out = HashMap::new();
    for r in tx.query(sql, &[&ids]).await.pg()? {
        out.insert(r.try_get(0).pg()?, value(&r)?);
    }
    Ok(out)
}

/// Apply `results` in order to the outbox entries and delivery rows they
/// name, inside `tx`.
async fn settle(
    tx: &Transaction<'_>,
    partitions: u32,
    results: &[Settled],
) -> Result<(), StoreError> {
    let mut ids: Vec<&str> = results
        .iter()
        .flat_map(|s| [s.key.id.as_str(), s.entry.request.delivery_id()])
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut rows: HashMap<String, Option<DeliveryRow>> = locked(
        tx,
        "SELECT delivery_id, row FROM deliveries WHERE delivery_id = ANY($1) \
         ORDER BY delivery_id FOR UPDATE",
        &ids,
        |r| Ok(Some(decode_row(r.try_get::<_, &[u8]>(1).pg()?)?)),
    )
    .await?;
    // Where each entry is now (its due ms), and whether this settle moved it.
    let mut queued: HashMap<String, Option<u64>> = locked(
        tx,
        "SELECT delivery_id, due_ms FROM outbox WHERE delivery_id = ANY($1) \
         ORDER BY delivery_id FOR UPDATE",
        &ids,
        |r| Ok(Some(to_u64(r.try_get(1).pg()?))),
    )
    .await?;
    let mut moved: HashMap<&str, Option<(u64, &OutboxEntry)>> = HashMap::new();
    let mut changed: Vec<&str> = Vec::new();
    for s in results {
        // Remove the entry at its key. An entry no longer there was settled
        // or moved by someone else meanwhile (another node that took the
        // partition over, a retry asked for by hand): its newer state
        // stands, and this result changes nothing.
        let id = s.key.id.as_str();
        let at = queued.entry(id.to_owned()).or_insert(None);
        if *at != Some(s.key.due_ms) {
            continue;
        }
        *at = None;
        moved.insert(id, None);
        // Queue it again at its next try.
        if let Some(retry) = s.retry_at {
            let due = ms_up(retry);
            let id = s.entry.request.delivery_id();
            queued.insert(id.to_owned(), Some(due));
            moved.insert(id, Some((due, &s.entry)));
        }
        let id = s.entry.request.delivery_id();
        let slot = rows.entry(id.to_owned()).or_insert(None);
        // Entries queued before the table existed have no row yet.
        let mut row = slot
            .take()
            .unwrap_or_else(|| DeliveryRow::requested(&s.entry, s.at));
        row.state = s.state;
        row.attempts = s.entry.attempts;
        row.next_at = s.retry_at;
        row.status = s.status;
        row.reason = s.reason.clone();
        row.updated_at = s.at.max(row.updated_at);
        *slot = Some(row);
        changed.push(id);
    }
    let gone: Vec<&str> = moved
        .iter()
        .filter(|(_, m)| m.is_none())
        .map(|(id, _)| *id)
        .collect();
    if !gone.is_empty() {
        tx.execute("DELETE FROM outbox WHERE delivery_id = ANY($1)", &[&gone])
            .await
            .pg()?;
    }
    let (mut o_id, mut o_due, mut o_part, mut o_entry) = (vec![], vec![], vec![], vec![]);
    for (id, m) in &moved {
        if let Some((due, entry)) = m {
            o_id.push(*id);
            o_due.push(to_i64(*due));
            o_part.push(part_of(&entry.ticket_id, partitions));
            o_entry.push(serde_json::to_vec(entry).unwrap_or_default());
        }
    }
    if !o_id.is_empty() {
        tx.execute(
            "INSERT INTO outbox (delivery_id, due_ms, part, entry) \
             SELECT * FROM unnest($1::text[], $2::bigint[], $3::int[], $4::bytea[]) \
             ON CONFLICT (delivery_id) DO UPDATE SET due_ms = EXCLUDED.due_ms, \
               part = EXCLUDED.part, entry = EXCLUDED.entry",
            &[&o_id, &o_due, &o_part, &o_entry],
        )
        .await
        .pg()?;
    }
    changed.sort_unstable();
    changed.dedup();
    let (mut r_id, mut r_ticket, mut r_state, mut r_ms, mut r_row) =
        (vec![], vec![], vec![], vec![], vec![]);
    for id in changed {
        if let Some(Some(row)) = rows.get(id) {
            r_id.push(id);
            r_ticket.push(row.ticket_id.as_str());
            r_state.push(row.state.as_str());
            r_ms.push(to_i64(ms_up(row.updated_at)));
            r_row.push(serde_json::to_vec(row).unwrap_or_default());
        }
    }
    tx.execute(
        "INSERT INTO deliveries (delivery_id, ticket_id, state, updated_ms, row) \
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bytea[]) \
         ON CONFLICT (delivery_id) DO UPDATE SET ticket_id = EXCLUDED.ticket_id, \
           state = EXCLUDED.state, updated_ms = EXCLUDED.updated_ms, row = EXCLUDED.row",
        &[&r_id, &r_ticket, &r_state, &r_ms, &r_row],
    )
    .await
    .pg()?;
    Ok(())
}

/// SQLSTATEs after which a settle transaction is simply run again.
fn transient(e: &StoreError) -> bool {
    // 40001 serialization failure, 40P01 deadlock (pg_err keeps the code
    // in the message; the error kind itself is not kept).
    matches!(e, StoreError::Backend(m) if m.ends_with("(40001)") || m.ends_with("(40P01)"))
}

impl PgBackend {
    pub(crate) fn pg_outbox_due(
        &self,
        partitions: Option<&[u32]>,
        now_ms: u64,
        limit: usize,
    ) -> Result<Vec<(OutboxKey, OutboxEntry)>, StoreError> {
        let parts = parts_param(partitions);
        if limit == 0 || parts.as_ref().is_some_and(Vec::is_empty) {
            return Ok(Vec::new());
        }
        self.run(move |db| async move {
            let c = db.client().await?;
            let (now, n) = (to_i64(now_ms), lim(limit));
            let rows = match &parts {
                None => {
                    let st = c
                        .prepare_cached(
                            "SELECT due_ms, delivery_id, entry FROM outbox WHERE due_ms <= $1 \
                             ORDER BY due_ms, delivery_id LIMIT $2",
                        )
                        .await
                        .pg()?;
                    c.query(&st, &[&now, &n]).await.pg()?
                }
                Some(p) => {
                    // Each partition's first entries by its own index,
                    // then the soonest of those.
                    let st = c
                        .prepare_cached(
                            "SELECT o.due_ms, o.delivery_id, o.entry \
                               FROM unnest($1::int[]) AS p(part) \
                               CROSS JOIN LATERAL ( \
                                 SELECT due_ms, delivery_id, entry FROM outbox \
                                  WHERE part = p.part AND due_ms <= $2 \
                                  ORDER BY due_ms, delivery_id LIMIT $3) o \
                              ORDER BY o.due_ms, o.delivery_id LIMIT $3",
                        )
                        .await
                        .pg()?;
                    c.query(&st, &[p, &now, &n]).await.pg()?
                }
            };
            rows.iter()
                .map(|r| {
                    Ok((
                        OutboxKey {
                            due_ms: to_u64(r.try_get(0).pg()?),
                            id: r.try_get(1).pg()?,
                        },
                        decode_entry(r.try_get::<_, &[u8]>(2).pg()?)?,
                    ))
                })
                .collect()
        })
    }

    pub(crate) fn pg_outbox_next(
        &self,
        partitions: Option<&[u32]>,
    ) -> Result<Option<u64>, StoreError> {
        let parts = parts_param(partitions);
        if parts.as_ref().is_some_and(Vec::is_empty) {
            return Ok(None);
        }
        self.run(move |db| async move {
            let c = db.client().await?;
            let row = match &parts {
                None => {
                    let st = c
                        .prepare_cached("SELECT min(due_ms) FROM outbox")
                        .await
                        .pg()?;
                    c.query_one(&st, &[]).await.pg()?
                }
                Some(p) => {
                    let st = c
                        .prepare_cached(
                            "SELECT min(o.due_ms) FROM unnest($1::int[]) AS p(part) \
                               CROSS JOIN LATERAL ( \
                                 SELECT due_ms FROM outbox WHERE part = p.part \
                                  ORDER BY due_ms LIMIT 1) o",
                        )
                        .await
                        .pg()?;
                    c.query_one(&st, &[p]).await.pg()?
                }
            };
            Ok(row.try_get::<_, Option<i64>>(0).pg()?.map(to_u64))
        })
    }

    pub(crate) fn pg_outbox_len(&self) -> Result<u64, StoreError> {
        self.run(move |db| async move {
            let c = db.client().await?;
            let st = c.prepare_cached("SELECT count(*) FROM outbox").await.pg()?;
            Ok(to_u64(c.query_one(&st, &[]).await.pg()?.try_get(0).pg()?))
        })
    }

    /// One transaction: each entry removed from where it was and, when it
    /// is to be tried again, queued at its next try; each delivery's row
    /// updated by the same rules as redb's. Committed without waiting for
    /// the flush (`synchronous_commit = off`, this transaction only):
    /// losing it re-sends (at least once), never loses.
    ///
    /// A handful of statements whatever the number of results: the rows
    /// and entries are read and locked (in id order, so two settles of the
    /// same entries wait for each other instead of deadlocking), the
    /// results applied to them in order in memory, and what changed
    /// written back as arrays.
    pub(crate) fn pg_outbox_settle(&self, results: &[Settled]) -> Result<(), StoreError> {
        if results.is_empty() {
            return Ok(());
        }
        let results = Arc::new(results.to_vec());
        let partitions = self.inner.partitions;
        let mut tries = 0;
        loop {
            let results = Arc::clone(&results);
            let r = self.run(move |db| async move {
                let mut c = db.client().await?;
                let tx = c.transaction().await.pg()?;
                tx.batch_execute("SET LOCAL synchronous_commit = off")
                    .await
                    .pg()?;
                settle(&tx, partitions, &results).await?;
                tx.commit().await.pg()?;
                Ok(())
            });
            match r {
                Err(e) if transient(&e) && tries < 3 => tries += 1,
                other => return other,
            }
        }
    }

    pub(crate) fn pg_outbox_enqueue(
        &self,
        due_ms: u64,
        entry: &OutboxEntry,
        row: &DeliveryRow,
    ) -> Result<(), StoreError> {
        let (entry, row) = (entry.clone(), row.clone());
        let partitions = self.inner.partitions;
        self.run(move |db| async move {
            let mut c = db.client().await?;
            let tx = c.transaction().await.pg()?;
            put_entry(&tx, partitions, due_ms, &entry).await?;
            put_delivery(&tx, &row).await?;
            tx.commit().await.pg()?;
            Ok(())
        })
    }

    pub(crate) fn pg_delivery(&self, id: &str) -> Result<Option<DeliveryRow>, StoreError> {
        let id = id.to_owned();
        self.run(move |db| async move {
            let c = db.client().await?;
            let st = c
                .prepare_cached("SELECT row FROM deliveries WHERE delivery_id = $1")
                .await
                .pg()?;
            match c.query_opt(&st, &[&id]).await.pg()? {
                Some(r) => Ok(Some(decode_row(r.try_get::<_, &[u8]>(0).pg()?)?)),
                None => Ok(None),
            }
        })
    }

    /// Newest first by (updated ms, id), from the index that fits: the
    /// ticket's when a ticket is given (then filtered by state, as redb
    /// does), the state's, or all. One row more than asked tells whether
    /// there is a next page.
    pub(crate) fn pg_deliveries(
        &self,
        state: Option<DeliveryState>,
        ticket: Option<&str>,
        limit: usize,
        after: Option<&DeliveryCursor>,
    ) -> Result<(Vec<DeliveryRow>, Option<DeliveryCursor>), StoreError> {
        if limit == 0 {
            return Ok((Vec::new(), None));
        }
        let ticket = ticket.map(str::to_owned);
        let after = after.cloned();
        self.run(move |db| async move {
            let c = db.client().await?;
            let mut sql = String::from("SELECT row, updated_ms, delivery_id FROM deliveries");
            let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
            let mut conds: Vec<String> = Vec::new();
            let state_str = state.map(DeliveryState::as_str);
            if let Some(t) = &ticket {
                params.push(t);
                conds.push(format!("ticket_id = ${}", params.len()));
            }
            if let Some(s) = &state_str {
                params.push(s);
                conds.push(format!("state = ${}", params.len()));
            }
            let cursor = after.as_ref().map(|a| (to_i64(a.updated_ms), a.id.clone()));
            if let Some((ms, id)) = &cursor {
                params.push(ms);
                params.push(id);
                conds.push(format!(
                    "(updated_ms, delivery_id) < (${}, ${})",
                    params.len() - 1,
                    params.len()
                ));
            }
            let n = lim(limit).saturating_add(1);
            params.push(&n);
            if !conds.is_empty() {
                sql.push_str(" WHERE ");
                sql.push_str(&conds.join(" AND "));
            }
            sql.push_str(&format!(
                " ORDER BY updated_ms DESC, delivery_id DESC LIMIT ${}",
                params.len()
            ));
            let st = c.prepare_cached(&sql).await.pg()?;
            let rows = c.query(&st, &params).await.pg()?;
            let more = rows.len() > limit;
            let mut out = Vec::with_capacity(rows.len().min(limit));
            let mut next = None;
            for r in rows.iter().take(limit) {
                out.push(decode_row(r.try_get::<_, &[u8]>(0).pg()?)?);
                next = Some(DeliveryCursor {
                    updated_ms: to_u64(r.try_get(1).pg()?),
                    id: r.try_get(2).pg()?,
                });
            }
            Ok((out, if more { next } else { None }))
        })
    }
}
