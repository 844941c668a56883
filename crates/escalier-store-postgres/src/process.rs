//! Processing: inputs by partition, tickets, and the fenced chunk commit.
//!
//! A chunk is one transaction whose FIRST statement moves the partition's
//! cursor, and only if this node still holds the lease at the epoch the
//! processor read it with and it has not expired (the database's clock):
//!
//! ```sql
//! UPDATE partitions SET cursor = $upto
//!  WHERE id = $p AND owner = $node AND epoch = $epoch AND expires_at > now()
//! ```
//!
//! No row: the lease moved on; the transaction is rolled back and the call
//! answers [`StoreError::LeaseLost`], having written nothing. A maintenance
//! write (clocks re-bound, no cursor) is fenced the same way by the leases
//! of every partition it touches ([`Chunk::fence`]). A row: it
//! stays locked until COMMIT, so a takeover (which skips locked rows)
//! cannot happen while the chunk's records are being written. The cursor
//! and everything the inputs produced commit together or not at all: no
//! action is lost or produced twice when a node dies.
//!
//! # Changed tickets, for the other nodes' ticket index
//!
//! A ticket row carries `changed_seq`: the seq of the ticket's last input
//! in the chunk that wrote it (the chunk's cursor if it had none there; for
//! a maintenance write without a cursor, the next seq to be committed,
//! read under the `log_counter` row's lock, which the write then holds
//! until it commits, so no input with that seq or a later one commits
//! before it). Every such value is above the processed mark `W` (every
//! partition done up to `W`) of any moment before that commit. So reading the tickets with
//! `after < changed_seq <= W` together with `W` in one snapshot, then
//! continuing from `W`, misses nothing and repeats nothing
//! ([`escalier_store::Backend::tickets_changed`]); a change shows once the
//! slowest partition has caught up with it.
//!
//! Every chunk commits synchronously (`Chunk::durable` is not needed:
//! PostgreSQL has no cheaper commit that keeps the outbox safe), so
//! [`escalier_store::Backend::flush`] has nothing to do.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use escalier_core::{Record, Ticket, Timestamp};
use escalier_store::backend::{Chunk, Loaded};
use escalier_store::processor::Indexed;
use escalier_store::{StoreError, codec, partition_of};

use crate::PgBackend;
use crate::conn::{PgResult, pg_err, retryable};
use crate::log::{to_i64, to_u64};

/// Attempts of one chunk on a serialization failure or deadlock.
const ATTEMPTS: usize = 4;

/// Milliseconds since the epoch, rounded up (as the embedded store keys
/// clocks, outbox entries and the deliveries index).
pub(crate) fn ms_up(at: Timestamp) -> u64 {
    let ns = at.as_nanosecond();
    let ms = ns.div_euclid(1_000_000) + i128::from(ns.rem_euclid(1_000_000) != 0);
    u64::try_from(ms).unwrap_or(0)
}

/// A ticket's partition as stored (`int`).
pub(crate) fn part_of(ticket_id: &str, partitions: u32) -> i32 {
    i32::try_from(partition_of(ticket_id, partitions)).unwrap_or(0)
}

/// A clock index as stored in `tickets.clock_index` (MessagePack with
/// field names, like the embedded store's).
pub(crate) fn encode_indexed(i: &Indexed) -> Vec<u8> {
    rmp_serde::to_vec_named(i).unwrap_or_default()
}

pub(crate) fn decode_indexed(bytes: &[u8]) -> Result<Indexed, StoreError> {
    rmp_serde::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        what: "clock index",
        detail: e.to_string(),
    })
}

/// Partitions as a query parameter.
pub(crate) fn parts_param(partitions: Option<&[u32]>) -> Option<Vec<i32>> {
    partitions.map(|ps| ps.iter().filter_map(|p| i32::try_from(*p).ok()).collect())
}

impl PgBackend {
    pub(crate) fn pg_inputs(
        &self,
        partition: u32,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Arc<Record>>, StoreError> {
        let part = i32::try_from(partition).unwrap_or(i32::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(move |db| async move {
            let c = db.client().await?;
            let rows = c
                .query(
                    "SELECT body FROM events WHERE part = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                    &[&part, &to_i64(after), &limit],
                )
                .await
                .pg()?;
            rows.iter()
                .map(|r| codec::decode_record(r.get::<_, &[u8]>(0)).map(Arc::new))
                .collect()
        })
    }

    pub(crate) fn pg_load_tickets(
        &self,
        ids: &[&str],
    ) -> Result<HashMap<String, Loaded>, StoreError> {
        let ids: Vec<String> = ids.iter().map(|s| (*s).to_owned()).collect();
        self.run(move |db| async move {
            let c = db.client().await?;
            let rows = c
                .query(
                    "SELECT ticket_id, body, clock_index FROM tickets WHERE ticket_id = ANY($1)",
                    &[&ids],
                )
                .await
                .pg()?;
            let mut out: HashMap<String, Loaded> = ids
                .iter()
                .map(|id| (id.clone(), Loaded::default()))
                .collect();
            for row in rows {
                let id: String = row.get(0);
                let ticket = codec::decode_ticket(row.get::<_, &[u8]>(1))?;
                let indexed = match row.get::<_, Option<&[u8]>>(2) {
                    // As the embedded store: an unreadable index is rebuilt.
                    Some(b) => decode_indexed(b).unwrap_or_default(),
                    None => Indexed::default(),
                };
                out.insert(
                    id,
                    Loaded {
                        ticket: Some(ticket),
                        indexed,
                    },
                );
            }
            Ok(out)
        })
    }

    pub(crate) fn pg_commit_chunk(&self, chunk: &Chunk) -> Result<(), StoreError> {
        let fence = match (chunk.cursor, self.inner.node_id()) {
            (Some((lease, upto)), Some(node)) => Fence::Cursor {
                partition: lease.partition,
                epoch: lease.epoch,
                upto,
                node,
            },
            (None, _) if chunk.fence.is_empty() => Fence::None,
            (None, Some(node)) => Fence::Held {
                partitions: chunk
                    .fence
                    .iter()
                    .map(|l| i32::try_from(l.partition).unwrap_or(i32::MAX))
                    .collect(),
                epochs: chunk.fence.iter().map(|l| to_i64(l.epoch)).collect(),
                node,
            },
            // No lease was ever taken through this backend.
            (Some((lease, _)), None) => {
                return Err(StoreError::LeaseLost {
                    partition: lease.partition,
                });
            }
            (None, None) => {
                return Err(StoreError::LeaseLost {
                    partition: chunk.fence.first().map_or(0, |l| l.partition),
                });
            }
        };
        let rows = ChunkRows::new(chunk, self.inner.partitions);
        self.run(move |db| async move {
            let mut client = db.client().await?;
            let mut attempt = 1;
            loop {
                match commit_once(&mut client, &fence, &rows).await {
                    Ok(r) => return r,
                    Err(e) if retryable(&e) && attempt < ATTEMPTS => attempt += 1,
                    Err(e) => return Err(pg_err(e)),
                }
            }
        })
    }

    /// Tickets changed in `(after, W]`, `W` the processed mark read in
    /// the same statement (see the module docs).
    pub(crate) fn pg_tickets_changed(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<(Vec<(u64, Ticket)>, u64), StoreError> {
        let limit = limit.max(1);
        // One row more than asked, to see whether the last seq is complete.
        let lim = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
        self.run(move |db| async move {
            let c = db.client().await?;
            // One snapshot: the watermark and the rows below it.
            let rows = c
                .query(
                    "WITH w AS (
                       SELECT coalesce(
                         (SELECT min(f.seq) - 1 FROM partitions p
                            CROSS JOIN LATERAL (
                              SELECT e.seq FROM events e
                               WHERE e.part = p.id AND e.seq > p.cursor
                               ORDER BY e.seq LIMIT 1) f),
                         (SELECT next_seq - 1 FROM log_counter WHERE id = 1)) AS w)
                     SELECT w.w, t.changed_seq, t.body
                       FROM w LEFT JOIN LATERAL (
                         SELECT changed_seq, ticket_id, body FROM tickets
                          WHERE changed_seq > $1 AND changed_seq <= w.w
                          ORDER BY changed_seq, ticket_id LIMIT $2) t ON true",
                    &[&to_i64(after), &lim],
                )
                .await
                .pg()?;
            let mark = rows.first().map_or(after, |r| to_u64(r.get(0))).max(after);
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                let (Some(seq), Some(body)) =
                    (r.get::<_, Option<i64>>(1), r.get::<_, Option<&[u8]>>(2))
                else {
                    continue;
                };
                out.push((to_u64(seq), codec::decode_ticket(body)?));
            }
            if out.len() <= limit {
                return Ok((out, mark));
            }
            // More than `limit` (one extra row was read): stop after the
            // last seq whose rows are all here, or, if the first `limit`
            // rows share one seq, take every row of that seq.
            let last = out[limit - 1].0;
            if out[limit].0 != last {
                out.truncate(limit);
                return Ok((out, last));
            }
            out.truncate(limit);
            out.retain(|(s, _)| *s != last);
            if let Some(&(upto, _)) = out.last() {
                return Ok((out, upto));
            }
            let rows = c
                .query(
                    "SELECT body FROM tickets WHERE changed_seq = $1 ORDER BY ticket_id",
                    &[&to_i64(last)],
                )
                .await
                .pg()?;
            let all = rows
                .iter()
                .map(|r| codec::decode_ticket(r.get::<_, &[u8]>(0)).map(|t| (last, t)))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((all, last))
        })
    }

    pub(crate) fn pg_stale_tickets(
        &self,
        version: &str,
        partitions: Option<&[u32]>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let version = version.to_owned();
        let parts = parts_param(partitions);
        self.run(move |db| async move {
            let c = db.client().await?;
            let rows = c
                .query(
                    "SELECT ticket_id, clock_version FROM tickets
                      WHERE clock_index IS NOT NULL AND clock_version <> $1
                        AND ($2::int4[] IS NULL OR part = ANY($2))
                      ORDER BY ticket_id",
                    &[&version, &parts],
                )
                .await
                .pg()?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })
    }
}

/// What a chunk commit is fenced by.
enum Fence {
    /// Processing: the partition's lease, and the cursor to move to.
    Cursor {
        partition: u32,
        epoch: u64,
        upto: u64,
        node: String,
    },
    /// A maintenance write: the leases (partition, epoch) of the
    /// partitions it touches.
    Held {
        partitions: Vec<i32>,
        epochs: Vec<i64>,
        node: String,
    },
    /// A maintenance write with no lease to check (none taken: tools).
    None,
}

/// A chunk as bulk statement parameters (one array per column).
#[derive(Default)]
struct ChunkRows {
    d_seq: Vec<i64>,
    d_idx: Vec<i32>,
    d_ticket: Vec<String>,
    d_body: Vec<Vec<u8>>,
    t_id: Vec<String>,
    t_part: Vec<i32>,
    t_body: Vec<Vec<u8>>,
    /// NULL: no input of the ticket in this chunk and no cursor (a
    /// maintenance write): the SQL puts the next seq to be committed.
    t_changed: Vec<Option<i64>>,
    /// Clock rows to delete.
    c_old: ClockRows,
    /// Clock rows to insert.
    c_new: ClockRows,
    /// Tickets' clock index: (ticket, encoded or NULL, version).
    i_ticket: Vec<String>,
    i_bytes: Vec<Option<Vec<u8>>>,
    i_version: Vec<String>,
    o_id: Vec<String>,
    o_due: Vec<i64>,
    o_part: Vec<i32>,
    o_entry: Vec<Vec<u8>>,
    r_ticket: Vec<String>,
    r_state: Vec<String>,
    r_updated: Vec<i64>,
    r_row: Vec<Vec<u8>>,
}

impl ChunkRows {
    fn new(chunk: &Chunk, partitions: u32) -> ChunkRows {
        let mut r = ChunkRows::default();
        // A ticket's changed_seq: the last seq of its inputs or records in
        // this chunk (else the chunk's cursor).
        let mut last: BTreeMap<&str, u64> = BTreeMap::new();
        for (seq, id) in &chunk.inputs {
            let e = last.entry(id.as_str()).or_default();
            *e = (*e).max(*seq);
        }
        for d in &chunk.derived {
            let e = last.entry(d.ticket_id.as_str()).or_default();
            *e = (*e).max(d.seq);
            r.d_seq.push(to_i64(d.seq));
            r.d_idx.push(i32::try_from(d.index).unwrap_or(i32::MAX));
            r.d_ticket.push(d.ticket_id.clone());
            r.d_body.push(d.bytes.clone());
        }
        let fallback = chunk.cursor.map(|(_, upto)| upto);
        for (id, bytes) in &chunk.tickets {
            r.t_id.push(id.clone());
            r.t_part.push(part_of(id, partitions));
            r.t_body.push(bytes.clone());
            r.t_changed
                .push(last.get(id.as_str()).copied().or(fallback).map(to_i64));
        }
        for (id, old, new) in &chunk.index_moves {
            let part = part_of(id, partitions);
            for (ms, key) in &old.rows {
                r.c_old.push(*ms, id, key, part);
            }
            for (ms, key) in &new.rows {
                r.c_new.push(*ms, id, key, part);
            }
            r.i_ticket.push(id.clone());
            r.i_version.push(new.version.clone());
            r.i_bytes.push(
                (!(new.rows.is_empty() && new.version.is_empty())).then(|| encode_indexed(new)),
            );
        }
        for (due, entry, row) in &chunk.outbox {
            r.o_id.push(entry.request.delivery_id().to_owned());
            r.o_due.push(to_i64(*due));
            r.o_part.push(part_of(&entry.ticket_id, partitions));
            r.o_entry
                .push(serde_json::to_vec(entry).unwrap_or_default());
            r.r_ticket.push(row.ticket_id.clone());
            r.r_state.push(row.state.as_str().to_owned());
            r.r_updated.push(to_i64(ms_up(row.updated_at)));
            r.r_row.push(serde_json::to_vec(row).unwrap_or_default());
        }
        r
    }
}

/// Rows of the clock index as column arrays (for the chunk commit and
/// the import).
#[derive(Default)]
pub(crate) struct ClockRows {
    due: Vec<i64>,
    ticket: Vec<String>,
    key: Vec<String>,
    part: Vec<i32>,
}

impl ClockRows {
    pub(crate) fn push(&mut self, due_ms: u64, ticket: &str, key: &str, part: i32) {
        self.due.push(to_i64(due_ms));
        self.ticket.push(ticket.to_owned());
        self.key.push(key.to_owned());
        self.part.push(part);
    }

    /// Insert them (those already there stay).
    pub(crate) async fn insert(
        &self,
        tx: &tokio_postgres::Transaction<'_>,
    ) -> Result<(), tokio_postgres::Error> {
        if !self.due.is_empty() {
            tx.execute(
                "INSERT INTO clocks (due_ms, ticket_id, key, part)
                 SELECT * FROM unnest($1::int8[], $2::text[], $3::text[], $4::int4[])
                 ON CONFLICT DO NOTHING",
                &[&self.due, &self.ticket, &self.key, &self.part],
            )
            .await?;
        }
        Ok(())
    }

    /// Delete them (by due time, ticket and key).
    pub(crate) async fn delete(
        &self,
        tx: &tokio_postgres::Transaction<'_>,
    ) -> Result<(), tokio_postgres::Error> {
        if !self.due.is_empty() {
            tx.execute(
                "DELETE FROM clocks c USING unnest($1::int8[], $2::text[], $3::text[]) AS u(d, t, k)
                  WHERE c.due_ms = u.d AND c.ticket_id = u.t AND c.key = u.k",
                &[&self.due, &self.ticket, &self.key],
            )
            .await?;
        }
        Ok(())
    }
}

/// One attempt. `Ok(Err(LeaseLost))`: fenced out, rolled back.
async fn commit_once(
    client: &mut deadpool_postgres::Object,
    fence: &Fence,
    r: &ChunkRows,
) -> Result<Result<(), StoreError>, tokio_postgres::Error> {
    let tx = client.transaction().await?;
    tx.batch_execute("SET LOCAL synchronous_commit = on")
        .await?;
    match fence {
        Fence::Cursor {
            partition,
            epoch,
            upto,
            node,
        } => {
            let part = i32::try_from(*partition).unwrap_or(i32::MAX);
            let n = tx
                .execute(
                    "UPDATE partitions SET cursor = $1
                      WHERE id = $2 AND owner = $3 AND epoch = $4 AND expires_at > now()",
                    &[&to_i64(*upto), &part, node, &to_i64(*epoch)],
                )
                .await?;
            if n == 0 {
                tx.rollback().await?;
                return Ok(Err(StoreError::LeaseLost {
                    partition: *partition,
                }));
            }
        }
        Fence::Held {
            partitions,
            epochs,
            node,
        } => {
            // Lock every lease row still held at its epoch (only its owner
            // ever waits for such a row: takeovers skip locked rows); one
            // missing: fenced out.
            let held = tx
                .query(
                    "UPDATE partitions p SET cursor = p.cursor
                       FROM unnest($1::int4[], $2::int8[]) AS f(id, epoch)
                      WHERE p.id = f.id AND p.epoch = f.epoch
                        AND p.owner = $3 AND p.expires_at > now()
                     RETURNING p.id",
                    &[partitions, epochs, node],
                )
                .await?;
            let held: Vec<i32> = held.iter().map(|row| row.get(0)).collect();
            if let Some(lost) = partitions.iter().find(|p| !held.contains(p)) {
                tx.rollback().await?;
                return Ok(Err(StoreError::LeaseLost {
                    partition: u32::try_from(*lost).unwrap_or(0),
                }));
            }
        }
        Fence::None => {}
    }
    if !r.d_seq.is_empty() {
        tx.execute(
            "INSERT INTO derived (seq, idx, ticket_id, body)
             SELECT * FROM unnest($1::int8[], $2::int4[], $3::text[], $4::bytea[])
             ON CONFLICT DO NOTHING",
            &[&r.d_seq, &r.d_idx, &r.d_ticket, &r.d_body],
        )
        .await?;
    }
    if !r.t_id.is_empty() {
        if r.t_changed.iter().any(Option::is_none) {
            // A maintenance write: its changed_seq is the next seq, read
            // under the counter's lock, held until COMMIT (module docs).
            tx.execute(
                "SELECT next_seq FROM log_counter WHERE id = 1 FOR UPDATE",
                &[],
            )
            .await?;
        }
        tx.execute(
            "INSERT INTO tickets (ticket_id, part, body, changed_seq)
             SELECT t, p, b, coalesce(c, (SELECT next_seq FROM log_counter WHERE id = 1))
               FROM unnest($1::text[], $2::int4[], $3::bytea[], $4::int8[]) AS u(t, p, b, c)
             ON CONFLICT (ticket_id) DO UPDATE
               SET body = EXCLUDED.body, part = EXCLUDED.part, changed_seq = EXCLUDED.changed_seq",
            &[&r.t_id, &r.t_part, &r.t_body, &r.t_changed],
        )
        .await?;
    }
    r.c_old.delete(&tx).await?;
    r.c_new.insert(&tx).await?;
    if !r.i_ticket.is_empty() {
        tx.execute(
            "UPDATE tickets t SET clock_index = u.b, clock_version = u.v
               FROM unnest($1::text[], $2::bytea[], $3::text[]) AS u(id, b, v)
              WHERE t.ticket_id = u.id",
            &[&r.i_ticket, &r.i_bytes, &r.i_version],
        )
        .await?;
    }
    if !r.o_id.is_empty() {
        tx.execute(
            "INSERT INTO outbox (delivery_id, due_ms, part, entry)
             SELECT * FROM unnest($1::text[], $2::int8[], $3::int4[], $4::bytea[])
             ON CONFLICT (delivery_id) DO NOTHING",
            &[&r.o_id, &r.o_due, &r.o_part, &r.o_entry],
        )
        .await?;
        // An already known delivery (an entry produced again) keeps its state.
        tx.execute(
            "INSERT INTO deliveries (delivery_id, ticket_id, state, updated_ms, row)
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[], $5::bytea[])
             ON CONFLICT (delivery_id) DO NOTHING",
            &[&r.o_id, &r.r_ticket, &r.r_state, &r.r_updated, &r.r_row],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Ok(()))
}
