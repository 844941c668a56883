//! Reads for the API, the console and the tools: tickets, timelines,
//! records in log order, counts.
//!
//! What redb keeps as per-ticket timeline rows is an index here: inputs by
//! `events (ticket_id, seq)`, derived records by `derived (ticket_id, seq,
//! idx)`. A ticket's timeline shows its inputs up to its partition's
//! cursor (the inputs processed, like redb's timeline rows, which the
//! processor writes) and the derived records (written only by processing).

use escalier_core::{Record, Ticket};
use escalier_store::{StoreError, codec};
use tokio_postgres::Row;

use crate::PgBackend;
use crate::conn::PgResult;
use crate::log::{to_i64, to_u64};

/// A row count as a `LIMIT` parameter.
pub(crate) fn lim(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Decode the `body` column `i` of `row` as a record.
fn record_at(row: &Row, i: usize) -> Result<Record, StoreError> {
    codec::decode_record(row.try_get::<_, &[u8]>(i).pg()?)
}

impl PgBackend {
    pub(crate) fn pg_ticket(&self, id: &str) -> Result<Option<Ticket>, StoreError> {
        let id = id.to_owned();
        self.run(move |db| async move {
            let c = db.client().await?;
            let st = c
                .prepare_cached("SELECT body FROM tickets WHERE ticket_id = $1")
                .await
                .pg()?;
            match c.query_opt(&st, &[&id]).await.pg()? {
                Some(row) => Ok(Some(codec::decode_ticket(
                    row.try_get::<_, &[u8]>(0).pg()?,
                )?)),
                None => Ok(None),
            }
        })
    }

    pub(crate) fn pg_tickets_after(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Ticket)>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let after = after.map(str::to_owned);
        self.run(move |db| async move {
            let c = db.client().await?;
            let n = lim(limit);
            // Two statements, so each is a plain range scan of the key.
            let rows = match &after {
                Some(a) => {
                    let st = c
                        .prepare_cached(
                            "SELECT ticket_id, body FROM tickets WHERE ticket_id > $1 \
                             ORDER BY ticket_id LIMIT $2",
                        )
                        .await
                        .pg()?;
                    c.query(&st, &[a, &n]).await.pg()?
                }
                None => {
                    let st = c
                        .prepare_cached(
                            "SELECT ticket_id, body FROM tickets ORDER BY ticket_id LIMIT $1",
                        )
                        .await
                        .pg()?;
                    c.query(&st, &[&n]).await.pg()?
                }
            };
            rows.iter()
                .map(|r| {
                    Ok((
                        r.try_get::<_, String>(0).pg()?,
                        codec::decode_ticket(r.try_get::<_, &[u8]>(1).pg()?)?,
                    ))
                })
                .collect()
        })
    }

    pub(crate) fn pg_timeline(&self, id: &str) -> Result<Vec<Record>, StoreError> {
        let id = id.to_owned();
        self.run(move |db| async move {
            let c = db.client().await?;
            // One statement: one snapshot of inputs, cursor and derived.
            let st = c
                .prepare_cached(
                    "SELECT e.seq, 0 AS idx, e.body FROM events e \
                       JOIN partitions p ON p.id = e.part \
                      WHERE e.ticket_id = $1 AND e.seq <= p.cursor \
                     UNION ALL \
                     SELECT d.seq, d.idx, d.body FROM derived d WHERE d.ticket_id = $1 \
                     ORDER BY 1, 2",
                )
                .await
                .pg()?;
            let rows = c.query(&st, &[&id]).await.pg()?;
            rows.iter().map(|r| record_at(r, 2)).collect()
        })
    }

    pub(crate) fn pg_records(
        &self,
        after: u64,
        upto: u64,
        limit: usize,
    ) -> Result<Vec<Record>, StoreError> {
        if limit == 0 || after >= upto {
            return Ok(Vec::new());
        }
        self.run(move |db| async move {
            let c = db.client().await?;
            // The inputs first (at most `limit`), then every derived record
            // of those seqs, merged in (seq, idx) order: one statement, one
            // snapshot.
            let st = c
                .prepare_cached(
                    "WITH i AS ( \
                        SELECT seq, body FROM events WHERE seq > $1 AND seq <= $2 \
                        ORDER BY seq LIMIT $3) \
                     SELECT seq, 0 AS idx, body FROM i \
                     UNION ALL \
                     SELECT d.seq, d.idx, d.body FROM derived d \
                      WHERE d.seq > $1 AND d.seq <= (SELECT max(seq) FROM i) \
                     ORDER BY 1, 2",
                )
                .await
                .pg()?;
            let rows = c
                .query(&st, &[&to_i64(after), &to_i64(upto), &lim(limit)])
                .await
                .pg()?;
            rows.iter().map(|r| record_at(r, 2)).collect()
        })
    }

    pub(crate) fn pg_counts(&self) -> Result<(u64, u64), StoreError> {
        self.run(move |db| async move {
            let c = db.client().await?;
            let st = c
                .prepare_cached(
                    "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM tickets)",
                )
                .await
                .pg()?;
            let row = c.query_one(&st, &[]).await.pg()?;
            Ok((to_u64(row.try_get(0).pg()?), to_u64(row.try_get(1).pg()?)))
        })
    }
}
