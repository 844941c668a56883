//! The log: appending inputs in group-commit transactions, seqs, watermarks.
//!
//! # One transaction per group, in this order
//!
//! 1. `SET LOCAL synchronous_commit = on`: the COMMIT returns only once
//!    the WAL is flushed (and replicated, if the server is configured so),
//!    whatever the server's or role's default. A reply is sent only after
//!    COMMIT returned.
//! 2. Lifecycle heads of every ticket in the group: `INSERT ... ON CONFLICT
//!    DO NOTHING` (so a new ticket has a row to lock), then `SELECT ... FOR
//!    UPDATE` in sorted ticket order. Concurrent groups touching a ticket
//!    queue here; sorted order keeps them from deadlocking.
//! 3. Duplicate lookup by event id (after the heads lock, so a group that
//!    waited on another's ticket sees its events).
//! 4. Staging, as the embedded writer does: per request all-or-nothing,
//!    duplicates within the group, statuses carried across requests.
//! 5. The new lifecycle states into `heads`.
//! 6. Seqs: `UPDATE log_counter SET next_seq = next_seq + n RETURNING`.
//! 7. Events (one `INSERT ... SELECT FROM UNNEST`), COMMIT. Only steps 6
//!    and 7 run under the counter's lock: two statements and the commit.
//!
//! # Why the counter row: commit order = seq order
//!
//! Seqs handed out before commit can become visible out of order (seq 11
//! committed while 10 is still in flight), and a processor reading "after
//! 10" would skip 10 forever. Here the single `log_counter` row is updated
//! (so row-locked) by every transaction that takes seqs, and the lock is
//! held until that transaction ends. The next transaction to take seqs
//! waits for it, so transactions holding seqs commit one after another in
//! seq order; PostgreSQL makes a transaction visible before it releases its
//! locks, so once seq N is visible, every seq below N is visible too, and a
//! reader following `seq > cursor` never skips one. A rolled-back
//! transaction rolls back its counter update too: no gaps. The cost: the
//! commits that take seqs are serialised across nodes (one holds the row
//! through its WAL flush); group commit makes each of them carry many
//! events.
//!
//! # Retries
//!
//! The whole group is retried (a bounded number of times) on a unique
//! violation (two nodes stored the same event id at once: on retry it is a
//! duplicate with the winner's seq), a serialization failure or a deadlock.
//! Lost connections are [`StoreError::Unavailable`] and are not retried
//! here: the caller answers 503 and nothing was acknowledged.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use escalier_core::{Record, Status, Timestamp, reduce};
use escalier_store::backend::{Appends, Marks, Outcome};
use escalier_store::writer::{AppendError, Appended, InputBatch};
use escalier_store::{StoreError, codec, partition_of};

use crate::PgBackend;
use crate::conn::{PgResult, pg_err, retryable};

/// Attempts of one group before its error is reported.
const ATTEMPTS: usize = 8;

/// Why one attempt failed: retry (a conflict with another transaction) or not.
enum Failure {
    Pg(tokio_postgres::Error),
    Store(StoreError),
}

impl From<tokio_postgres::Error> for Failure {
    fn from(e: tokio_postgres::Error) -> Self {
        Failure::Pg(e)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Store(e)
    }
}

impl PgBackend {
    pub(crate) fn pg_last_seq(&self) -> Result<u64, StoreError> {
        self.run(|db| async move {
            let c = db.client().await?;
            let row = c
                .query_one("SELECT next_seq - 1 FROM log_counter WHERE id = 1", &[])
                .await
                .pg()?;
            Ok(to_u64(row.get(0)))
        })
    }

    pub(crate) fn pg_append_group(
        &self,
        now: Timestamp,
        group: &[&InputBatch],
    ) -> Result<Appends, StoreError> {
        let batches: Vec<InputBatch> = group.iter().map(|b| (*b).clone()).collect();
        let partitions = self.inner.partitions;
        self.run(move |db| async move {
            let mut client = db.client().await?;
            let mut attempt = 1;
            loop {
                match append_once(&mut client, now, &batches, partitions).await {
                    Ok(a) => return Ok(a),
                    Err(Failure::Pg(e)) if retryable(&e) && attempt < ATTEMPTS => {
                        tracing::debug!(attempt, error = %e, "ingest transaction conflicted; retrying");
                        attempt += 1;
                    }
                    Err(Failure::Pg(e)) => return Err(pg_err(e)),
                    Err(Failure::Store(e)) => return Err(e),
                }
            }
        })
    }

    pub(crate) fn pg_seq_of(&self, event_id: &str) -> Result<Option<u64>, StoreError> {
        let id = event_id.to_owned();
        self.run(|db| async move {
            let c = db.client().await?;
            let row = c
                .query_opt("SELECT seq FROM events WHERE event_id = $1", &[&id])
                .await
                .pg()?;
            Ok(row.map(|r| to_u64(r.get(0))))
        })
    }

    /// Committed: the counter. Processed: for each partition, the first
    /// input after its cursor (index `events(part, seq)`); every seq below
    /// the smallest of those is processed (all of them if none is pending).
    pub(crate) fn pg_marks(&self) -> Result<Marks, StoreError> {
        self.run(|db| async move {
            let c = db.client().await?;
            let row = c
                .query_one(
                    "SELECT (SELECT next_seq - 1 FROM log_counter WHERE id = 1),
                            (SELECT min(f.seq) FROM partitions p
                               CROSS JOIN LATERAL (
                                 SELECT e.seq FROM events e
                                  WHERE e.part = p.id AND e.seq > p.cursor
                                  ORDER BY e.seq LIMIT 1) f)",
                    &[],
                )
                .await
                .pg()?;
            // One snapshot for both: the first pending seq is committed, so
            // it is at most `committed`.
            let committed = to_u64(row.get(0));
            let first_pending: Option<i64> = row.get(1);
            let processed = match first_pending {
                Some(s) => to_u64(s).saturating_sub(1),
                None => committed,
            };
            Ok(Marks {
                committed,
                processed,
            })
        })
    }
}

/// Stored i64 → u64 (seqs are never negative).
pub(crate) fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// u64 → i64 for a parameter; seqs and times fit.
pub(crate) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// An event's position before seqs are allocated.
#[derive(Clone, Copy)]
enum Pos {
    /// New, the `n`th stored by this group.
    New(u64),
    /// Stored earlier by this group (the `n`th).
    DupNew(u64),
    /// Stored before, at this seq.
    Dup(u64),
}

async fn append_once(
    client: &mut deadpool_postgres::Object,
    now: Timestamp,
    batches: &[InputBatch],
    partitions: u32,
) -> Result<Appends, Failure> {
    let tx = client.transaction().await?;
    tx.batch_execute("SET LOCAL synchronous_commit = on")
        .await?;

    // 2. Lock every ticket's head, in sorted order.
    let tickets: Vec<String> = batches
        .iter()
        .flat_map(|b| b.events.iter().map(|e| e.ticket_id.as_str().to_owned()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut heads: HashMap<String, Option<Status>> = HashMap::with_capacity(tickets.len());
    if !tickets.is_empty() {
        tx.execute(
            "INSERT INTO heads (ticket_id) SELECT t FROM unnest($1::text[]) AS u(t) ORDER BY t COLLATE \"C\"
             ON CONFLICT (ticket_id) DO NOTHING",
            &[&tickets],
        )
        .await?;
        let rows = tx
            .query(
                "SELECT ticket_id, status FROM heads WHERE ticket_id = ANY($1)
                 ORDER BY ticket_id FOR UPDATE",
                &[&tickets],
            )
            .await?;
        for row in rows {
            let id: String = row.get(0);
            let status: Option<i16> = row.get(1);
            let status = match status {
                Some(s) => Some(codec::decode_status(u8::try_from(s).unwrap_or(u8::MAX))?),
                None => None,
            };
            heads.insert(id, status);
        }
    }

    // 3. Event ids stored before.
    let ids: Vec<String> = batches
        .iter()
        .flat_map(|b| b.events.iter().map(|e| e.id.as_str().to_owned()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut known: HashMap<String, Pos> = HashMap::new();
    if !ids.is_empty() {
        for row in tx
            .query(
                "SELECT event_id, seq FROM events WHERE event_id = ANY($1)",
                &[&ids],
            )
            .await?
        {
            let id: String = row.get(0);
            known.insert(id, Pos::Dup(to_u64(row.get(1))));
        }
    }

    // 4. Stage every request.
    let mut staged: Vec<Result<Vec<Pos>, AppendError>> = Vec::with_capacity(batches.len());
    let mut new_count: u64 = 0;
    for batch in batches {
        match stage(batch, &known, &heads, new_count) {
            Ok(s) => {
                for (ev, pos) in batch.events.iter().zip(&s.positions) {
                    if let Pos::New(n) = pos {
                        known.insert(ev.id.as_str().to_owned(), Pos::DupNew(*n));
                    }
                }
                for (t, st) in s.heads {
                    heads.insert(t, Some(st));
                }
                new_count += s.stored;
                staged.push(Ok(s.positions));
            }
            Err(e) => staged.push(Err(e)),
        }
    }
    if new_count == 0 {
        // Nothing to write (all duplicates or refused): no seqs taken.
        tx.rollback().await?;
        return Ok(finish(staged, 0, Vec::new()));
    }

    // 5. The new lifecycle states (the rows are locked since step 2),
    // before the counter: the less happens under its lock, the better.
    let mut changed: BTreeSet<&str> = BTreeSet::new();
    for (batch, outcome) in batches.iter().zip(&staged) {
        let Ok(positions) = outcome else { continue };
        for (ev, pos) in batch.events.iter().zip(positions) {
            if let Pos::New(_) = pos {
                changed.insert(ev.ticket_id.as_str());
            }
        }
    }
    let (head_ids, head_status): (Vec<&str>, Vec<i16>) = changed
        .iter()
        .filter_map(|t| {
            let st = heads.get(*t).copied().flatten()?;
            Some((*t, i16::from(codec::encode_status(st))))
        })
        .unzip();
    tx.execute(
        "UPDATE heads h SET status = u.s FROM unnest($1::text[], $2::int2[]) AS u(t, s)
          WHERE h.ticket_id = u.t",
        &[&head_ids, &head_status],
    )
    .await?;

    // 6. Seqs, under the counter row's lock until COMMIT (module docs).
    let row = tx
        .query_one(
            "UPDATE log_counter SET next_seq = next_seq + $1 WHERE id = 1 RETURNING next_seq",
            &[&to_i64(new_count)],
        )
        .await?;
    let first = to_u64(row.get(0)).saturating_sub(new_count);

    // 7. Events (one statement), COMMIT.
    let n = usize::try_from(new_count).unwrap_or(0);
    let mut seqs: Vec<i64> = Vec::with_capacity(n);
    let mut event_ids: Vec<&str> = Vec::with_capacity(n);
    let mut ticket_ids: Vec<&str> = Vec::with_capacity(n);
    let mut parts: Vec<i32> = Vec::with_capacity(n);
    let mut bodies: Vec<Vec<u8>> = Vec::with_capacity(n);
    let mut records: Vec<Arc<Record>> = Vec::with_capacity(n);
    for (batch, outcome) in batches.iter().zip(&staged) {
        let Ok(positions) = outcome else { continue };
        for (ev, pos) in batch.events.iter().zip(positions) {
            let Pos::New(k) = pos else { continue };
            let record = Record {
                seq: first + k,
                index: 0,
                recorded_at: now,
                source: batch.source.clone(),
                event: ev.clone(),
            };
            seqs.push(to_i64(record.seq));
            event_ids.push(ev.id.as_str());
            ticket_ids.push(ev.ticket_id.as_str());
            parts.push(i32::try_from(partition_of(ev.ticket_id.as_str(), partitions)).unwrap_or(0));
            bodies.push(codec::encode_record(&record));
            records.push(Arc::new(record));
        }
    }
    let recorded_ms = now.as_millisecond() as f64;
    tx.execute(
        "INSERT INTO events (seq, event_id, ticket_id, part, recorded_at, body)
         SELECT s, e, t, p, to_timestamp($5::float8 / 1000.0), b
           FROM unnest($1::int8[], $2::text[], $3::text[], $4::int4[], $6::bytea[]) AS u(s, e, t, p, b)",
        &[&seqs, &event_ids, &ticket_ids, &parts, &recorded_ms, &bodies],
    )
    .await?;
    tx.commit().await?;
    // Committed: from here on, report success.
    Ok(finish(staged, first, records))
}

/// Outcomes with absolute seqs.
fn finish(
    staged: Vec<Result<Vec<Pos>, AppendError>>,
    first: u64,
    records: Vec<Arc<Record>>,
) -> Appends {
    let outcomes: Vec<Outcome> = staged
        .into_iter()
        .map(|r| {
            r.map(|positions| {
                positions
                    .into_iter()
                    .map(|p| match p {
                        Pos::New(k) => Appended::Stored { seq: first + k },
                        Pos::DupNew(k) => Appended::Duplicate { seq: first + k },
                        Pos::Dup(seq) => Appended::Duplicate { seq },
                    })
                    .collect()
            })
        })
        .collect();
    Appends { outcomes, records }
}

struct Staged {
    positions: Vec<Pos>,
    heads: HashMap<String, Status>,
    stored: u64,
}

/// Decide every event of one request without writing: duplicate or new
/// (numbered from `first`), and the lifecycle status after it. Mirrors
/// the embedded writer's staging.
fn stage(
    batch: &InputBatch,
    known: &HashMap<String, Pos>,
    heads: &HashMap<String, Option<Status>>,
    first: u64,
) -> Result<Staged, AppendError> {
    let mut seen: HashMap<&str, u64> = HashMap::new();
    let mut staged_heads: HashMap<String, Status> = HashMap::new();
    let mut positions = Vec::with_capacity(batch.events.len());
    let mut next = first;
    for (index, ev) in batch.events.iter().enumerate() {
        if let Some(k) = seen.get(ev.id.as_str()) {
            positions.push(Pos::DupNew(*k));
            continue;
        }
        if let Some(pos) = known.get(ev.id.as_str()) {
            positions.push(match pos {
                Pos::New(k) | Pos::DupNew(k) => Pos::DupNew(*k),
                Pos::Dup(s) => Pos::Dup(*s),
            });
            continue;
        }
        let current = match staged_heads.get(ev.ticket_id.as_str()) {
            Some(s) => Some(*s),
            None => heads.get(ev.ticket_id.as_str()).copied().flatten(),
        };
        let after = reduce::check_transition(current, ev)
            .map_err(|rejection| AppendError::Rejected { index, rejection })?;
        staged_heads.insert(ev.ticket_id.as_str().to_owned(), after);
        seen.insert(ev.id.as_str(), next);
        positions.push(Pos::New(next));
        next += 1;
    }
    Ok(Staged {
        positions,
        heads: staged_heads,
        stored: next - first,
    })
}
