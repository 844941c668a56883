//! Import of an exported log into an empty database, and the
//! PostgreSQL-specific consistency checks of `escalier verify`.
//!
//! An import chunk is written in one transaction with a statement per
//! table, each taking its rows as arrays (`INSERT ... SELECT FROM
//! unnest(...)`): a round trip per table, not per row.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::SystemTime;

use escalier_store::backend::ImportChunk;
use escalier_store::outbox::DeliveryState;
use escalier_store::processor::Indexed;
use escalier_store::{StoreError, codec};
use tokio_postgres::Transaction;

use crate::PgBackend;
use crate::conn::PgResult;
use crate::log::{to_i64, to_u64};
use crate::outbox::{decode_entry, decode_row};
use crate::process::{ClockRows, decode_indexed, encode_indexed, ms_up, part_of};

/// Rows read per round trip by the checks.
const PAGE: i32 = 5_000;

/// Problems listed per check before the rest are only counted.
const SHOWN: usize = 100;

/// A ticket's stored clock index: NULL for none (no rows and no books
/// version, as redb drops its row), else [`encode_indexed`].
fn stored_indexed(ix: &Indexed) -> Option<Vec<u8>> {
    (!(ix.rows.is_empty() && ix.version.is_empty())).then(|| encode_indexed(ix))
}

fn read_indexed(bytes: Option<&[u8]>) -> Result<Indexed, StoreError> {
    bytes.map_or(Ok(Indexed::default()), decode_indexed)
}

/// Problems of one check, the first [`SHOWN`] in words, the rest counted.
struct Problems<'a> {
    out: &'a mut Vec<String>,
    what: &'static str,
    found: usize,
}

impl<'a> Problems<'a> {
    fn new(out: &'a mut Vec<String>, what: &'static str) -> Self {
        Problems {
            out,
            what,
            found: 0,
        }
    }

    fn push(&mut self, p: String) {
        self.found += 1;
        if self.found <= SHOWN {
            self.out.push(p);
        }
    }
}

impl Drop for Problems<'_> {
    fn drop(&mut self) {
        if self.found > SHOWN {
            self.out.push(format!(
                "... and {} more problems with {}",
                self.found - SHOWN,
                self.what
            ));
        }
    }
}

/// Every row of `sql` (no parameters) to `each`, [`PAGE`] rows per round
/// trip (a portal: the whole result is never in memory at once).
async fn each_row(
    tx: &Transaction<'_>,
    sql: &str,
    mut each: impl FnMut(&tokio_postgres::Row) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let st = tx.prepare(sql).await.pg()?;
    let portal = tx.bind(&st, &[]).await.pg()?;
    loop {
        let rows = tx.query_portal(&portal, PAGE).await.pg()?;
        if rows.is_empty() {
            return Ok(());
        }
        for r in &rows {
            each(r)?;
        }
    }
}

/// Everything of an import chunk, encoded, as column arrays.
#[derive(Default)]
struct Columns {
    e_seq: Vec<i64>,
    e_id: Vec<String>,
    e_ticket: Vec<String>,
    e_part: Vec<i32>,
    e_at: Vec<SystemTime>,
    e_body: Vec<Vec<u8>>,
    d_seq: Vec<i64>,
    d_idx: Vec<i32>,
    d_ticket: Vec<String>,
    d_body: Vec<Vec<u8>>,
    h_ticket: Vec<String>,
    h_status: Vec<i16>,
    t_ticket: Vec<String>,
    t_part: Vec<i32>,
    t_body: Vec<Vec<u8>>,
    t_index: Vec<Option<Vec<u8>>>,
    t_version: Vec<String>,
    clocks: ClockRows,
    processed: i64,
}

impl Columns {
    fn of(chunk: &ImportChunk, partitions: u32) -> Result<Columns, StoreError> {
        let mut c = Columns {
            processed: to_i64(chunk.processed),
            ..Columns::default()
        };
        for r in &chunk.inputs {
            if r.index != 0 {
                return Err(StoreError::Backend(format!(
                    "import: record {} is not an input",
                    r.pos()
                )));
            }
            let ticket = r.event.ticket_id.as_str();
            c.e_seq.push(to_i64(r.seq));
            c.e_id.push(r.event.id.as_str().to_owned());
            c.e_ticket.push(ticket.to_owned());
            c.e_part.push(part_of(ticket, partitions));
            c.e_at
                .push(SystemTime::try_from(r.recorded_at).unwrap_or(SystemTime::UNIX_EPOCH));
            c.e_body.push(codec::encode_record(r));
        }
        for d in &chunk.derived {
            c.d_seq.push(to_i64(d.seq));
            c.d_idx.push(i32::try_from(d.index).map_err(|_| {
                StoreError::Backend(format!("import: derived index {}.{}", d.seq, d.index))
            })?);
            c.d_ticket.push(d.ticket_id.clone());
            c.d_body.push(d.bytes.clone());
        }
        // The last of each ticket (an upsert may touch a row once).
        let heads: BTreeMap<&str, i16> = chunk
            .heads
            .iter()
            .map(|(id, s)| (id.as_str(), i16::from(codec::encode_status(*s))))
            .collect();
        for (id, s) in heads {
            c.h_ticket.push(id.to_owned());
            c.h_status.push(s);
        }
        let tickets: BTreeMap<&str, (&Vec<u8>, &Indexed)> = chunk
            .tickets
            .iter()
            .map(|(id, body, ix)| (id.as_str(), (body, ix)))
            .collect();
        for (id, (body, ix)) in tickets {
            let part = part_of(id, partitions);
            c.t_ticket.push(id.to_owned());
            c.t_part.push(part);
            c.t_body.push(body.clone());
            c.t_index.push(stored_indexed(ix));
            c.t_version.push(ix.version.clone());
            for (due, key) in &ix.rows {
                c.clocks.push(*due, id, key, part);
            }
        }
        Ok(c)
    }

    async fn write(&self, tx: &Transaction<'_>) -> Result<(), StoreError> {
        if !self.e_seq.is_empty() {
            tx.execute(
                "INSERT INTO events (seq, event_id, ticket_id, part, recorded_at, body) \
                 SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::int[], \
                                      $5::timestamptz[], $6::bytea[])",
                &[
                    &self.e_seq,
                    &self.e_id,
                    &self.e_ticket,
                    &self.e_part,
                    &self.e_at,
                    &self.e_body,
                ],
            )
            .await
            .pg()?;
        }
        if !self.d_seq.is_empty() {
            tx.execute(
                "INSERT INTO derived (seq, idx, ticket_id, body) \
                 SELECT * FROM unnest($1::bigint[], $2::int[], $3::text[], $4::bytea[])",
                &[&self.d_seq, &self.d_idx, &self.d_ticket, &self.d_body],
            )
            .await
            .pg()?;
        }
        if !self.h_ticket.is_empty() {
            tx.execute(
                "INSERT INTO heads (ticket_id, status) \
                 SELECT * FROM unnest($1::text[], $2::smallint[]) \
                 ON CONFLICT (ticket_id) DO UPDATE SET status = EXCLUDED.status",
                &[&self.h_ticket, &self.h_status],
            )
            .await
            .pg()?;
        }
        if !self.t_ticket.is_empty() {
            // A ticket imported again (in a later chunk) leaves the clock
            // rows of its earlier index.
            let old = tx
                .query(
                    "SELECT ticket_id, clock_index FROM tickets WHERE ticket_id = ANY($1)",
                    &[&self.t_ticket],
                )
                .await
                .pg()?;
            let mut stale = ClockRows::default();
            for r in &old {
                let id: &str = r.try_get(0).pg()?;
                let ix = read_indexed(r.try_get::<_, Option<&[u8]>>(1).pg()?)?;
                for (due, key) in &ix.rows {
                    // (A delete goes by due time, ticket and key only.)
                    stale.push(*due, id, key, 0);
                }
            }
            stale.delete(tx).await.pg()?;
            tx.execute(
                "INSERT INTO tickets (ticket_id, part, body, clock_index, clock_version, changed_seq) \
                 SELECT t.*, $6 FROM unnest($1::text[], $2::int[], $3::bytea[], $4::bytea[], \
                                           $5::text[]) AS t \
                 ON CONFLICT (ticket_id) DO UPDATE SET part = EXCLUDED.part, \
                   body = EXCLUDED.body, clock_index = EXCLUDED.clock_index, \
                   clock_version = EXCLUDED.clock_version, changed_seq = EXCLUDED.changed_seq",
                &[
                    &self.t_ticket,
                    &self.t_part,
                    &self.t_body,
                    &self.t_index,
                    &self.t_version,
                    &self.processed,
                ],
            )
            .await
            .pg()?;
        }
        self.clocks.insert(tx).await.pg()?;
        tx.execute("UPDATE partitions SET cursor = $1", &[&self.processed])
            .await
            .pg()?;
        tx.execute(
            "UPDATE log_counter SET next_seq = $1::bigint + 1 WHERE id = 1",
            &[&self.processed],
        )
        .await
        .pg()?;
        Ok(())
    }
}

impl PgBackend {
    pub(crate) fn pg_import_chunk(&self, chunk: &ImportChunk) -> Result<(), StoreError> {
        let cols = Columns::of(chunk, self.inner.partitions)?;
        self.run(move |db| async move {
            let mut c = db.client().await?;
            let tx = c.transaction().await.pg()?;
            cols.write(&tx).await?;
            tx.commit().await.pg()?;
            Ok(())
        })
    }

    /// The checks of what only this schema has, in one snapshot
    /// (`REPEATABLE READ`): the key columns beside each body against the
    /// body, the clock index against the tickets' stored rows, deliveries
    /// against the outbox, the seq counter and the partition cursors
    /// against the log.
    pub(crate) fn pg_verify_extra(&self) -> Result<Vec<String>, StoreError> {
        let partitions = self.inner.partitions;
        self.run(move |db| async move {
            let mut c = db.client().await?;
            let tx = c
                .build_transaction()
                .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await
                .pg()?;
            let mut problems = Vec::new();
            check_events(&tx, partitions, &mut problems).await?;
            check_derived(&tx, &mut problems).await?;
            check_clocks(&tx, partitions, &mut problems).await?;
            check_deliveries(&tx, partitions, &mut problems).await?;
            check_counters(&tx, partitions, &mut problems).await?;
            tx.commit().await.pg()?;
            Ok(problems)
        })
    }
}

/// Event ids unique; each input's key columns (seq, event id, ticket,
/// partition) those of its body.
async fn check_events(
    tx: &Transaction<'_>,
    partitions: u32,
    out: &mut Vec<String>,
) -> Result<(), StoreError> {
    let mut p = Problems::new(out, "events");
    let dup = tx
        .query(
            "SELECT event_id, count(*) FROM events GROUP BY event_id HAVING count(*) > 1 \
             ORDER BY event_id LIMIT 100",
            &[],
        )
        .await
        .pg()?;
    for r in &dup {
        let id: String = r.try_get(0).pg()?;
        let n: i64 = r.try_get(1).pg()?;
        p.push(format!("event id {id} stored {n} times"));
    }
    let sql = "SELECT seq, event_id, ticket_id, part, body FROM events ORDER BY seq";
    each_row(tx, sql, |r| {
        let seq = to_u64(r.try_get(0).pg()?);
        let id: &str = r.try_get(1).pg()?;
        let ticket: &str = r.try_get(2).pg()?;
        let part: i32 = r.try_get(3).pg()?;
        let rec = match codec::decode_record(r.try_get::<_, &[u8]>(4).pg()?) {
            Ok(rec) => rec,
            Err(e) => {
                p.push(format!("input {seq}: {e}"));
                return Ok(());
            }
        };
        if rec.seq != seq || rec.index != 0 {
            p.push(format!("input row {seq} holds record {}", rec.pos()));
        }
        if rec.event.id.as_str() != id {
            p.push(format!(
                "input {seq} is stored under event id {id} but is event {}",
                rec.event.id
            ));
        }
        if rec.event.ticket_id.as_str() != ticket {
            p.push(format!(
                "input {seq} is indexed under ticket {ticket} but is of {}",
                rec.event.ticket_id
            ));
        }
        let want = part_of(rec.event.ticket_id.as_str(), partitions);
        if part != want {
            p.push(format!(
                "input {seq} is in partition {part}, its ticket in {want}"
            ));
        }
        Ok(())
    })
    .await
}

/// Each derived record's key columns those of its body.
async fn check_derived(tx: &Transaction<'_>, out: &mut Vec<String>) -> Result<(), StoreError> {
    let mut p = Problems::new(out, "derived records");
    let sql = "SELECT seq, idx, ticket_id, body FROM derived ORDER BY seq, idx";
    each_row(tx, sql, |r| {
        let seq = to_u64(r.try_get(0).pg()?);
        let idx: i32 = r.try_get(1).pg()?;
        let ticket: &str = r.try_get(2).pg()?;
        let rec = match codec::decode_record(r.try_get::<_, &[u8]>(3).pg()?) {
            Ok(rec) => rec,
            Err(e) => {
                p.push(format!("derived record {seq}.{idx}: {e}"));
                return Ok(());
            }
        };
        if rec.seq != seq || i64::from(rec.index) != i64::from(idx) {
            p.push(format!(
                "derived row {seq}.{idx} holds record {}",
                rec.pos()
            ));
        }
        if rec.event.ticket_id.as_str() != ticket {
            p.push(format!(
                "derived record {seq}.{idx} is indexed under ticket {ticket} but is of {}",
                rec.event.ticket_id
            ));
        }
        Ok(())
    })
    .await
}

/// `clocks` holds exactly the rows each ticket's stored clock index names,
/// in the ticket's partition.
async fn check_clocks(
    tx: &Transaction<'_>,
    partitions: u32,
    out: &mut Vec<String>,
) -> Result<(), StoreError> {
    let mut p = Problems::new(out, "the clock index");
    let mut expected: HashMap<(u64, String, String), i32> = HashMap::new();
    let sql = "SELECT ticket_id, part, clock_index, clock_version FROM tickets";
    each_row(tx, sql, |r| {
        let id: String = r.try_get(0).pg()?;
        let part: i32 = r.try_get(1).pg()?;
        let want = part_of(&id, partitions);
        if part != want {
            p.push(format!(
                "ticket {id} is in partition {part}, its id in {want}"
            ));
        }
        let stored: Option<&[u8]> = r.try_get(2).pg()?;
        let version: &str = r.try_get(3).pg()?;
        let ix = match read_indexed(stored) {
            Ok(ix) => ix,
            Err(e) => {
                p.push(format!("ticket {id}: {e}"));
                return Ok(());
            }
        };
        if stored.is_some() && ix.version != version {
            p.push(format!(
                "ticket {id}: clock index built with books {} but marked {version}",
                ix.version
            ));
        }
        for (due, key) in ix.rows {
            expected.insert((due, id.clone(), key), want);
        }
        Ok(())
    })
    .await?;
    let sql = "SELECT due_ms, ticket_id, key, part FROM clocks";
    each_row(tx, sql, |r| {
        let due = to_u64(r.try_get(0).pg()?);
        let ticket: String = r.try_get(1).pg()?;
        let key: String = r.try_get(2).pg()?;
        let part: i32 = r.try_get(3).pg()?;
        match expected.remove(&(due, ticket.clone(), key.clone())) {
            Some(want) if want == part => {}
            Some(want) => p.push(format!(
                "clock row ({due}, {ticket}, {key}) is in partition {part}, its ticket in {want}"
            )),
            None => p.push(format!(
                "clock row ({due}, {ticket}, {key}) is not in its ticket's clock index"
            )),
        }
        Ok(())
    })
    .await?;
    let mut missing: Vec<_> = expected.into_keys().collect();
    missing.sort();
    for (due, ticket, key) in missing {
        p.push(format!(
            "ticket {ticket}'s clock index names ({due}, {key}), missing from the clock rows"
        ));
    }
    Ok(())
}

/// Each delivery's key columns those of its row; pending, held and
/// retrying deliveries have an outbox entry, delivered and failed ones
/// none (as redb checks); outbox entries in their ticket's partition.
async fn check_deliveries(
    tx: &Transaction<'_>,
    partitions: u32,
    out: &mut Vec<String>,
) -> Result<(), StoreError> {
    let mut p = Problems::new(out, "deliveries");
    let sql = "SELECT d.delivery_id, d.ticket_id, d.state, d.updated_ms, d.row, \
                      o.delivery_id IS NOT NULL \
                 FROM deliveries d LEFT JOIN outbox o ON o.delivery_id = d.delivery_id";
    each_row(tx, sql, |r| {
        let id: &str = r.try_get(0).pg()?;
        let ticket: &str = r.try_get(1).pg()?;
        let state: &str = r.try_get(2).pg()?;
        let ms = to_u64(r.try_get(3).pg()?);
        let queued: bool = r.try_get(5).pg()?;
        let d = match decode_row(r.try_get::<_, &[u8]>(4).pg()?) {
            Ok(d) => d,
            Err(e) => {
                p.push(format!("delivery {id}: {e}"));
                return Ok(());
            }
        };
        if d.delivery_id != id
            || d.ticket_id != ticket
            || d.state.as_str() != state
            || ms_up(d.updated_at) != ms
        {
            p.push(format!(
                "delivery {id} is listed as ({ticket}, {state}, {ms}) but its row says \
                 ({}, {}, {}) for {}",
                d.ticket_id,
                d.state.as_str(),
                ms_up(d.updated_at),
                d.delivery_id
            ));
        }
        let open = matches!(
            d.state,
            DeliveryState::Pending | DeliveryState::Held | DeliveryState::Retrying
        );
        if open != queued {
            p.push(format!(
                "delivery {id} is {} but {} in the outbox",
                d.state.as_str(),
                if open { "not" } else { "still" }
            ));
        }
        Ok(())
    })
    .await?;
    let sql = "SELECT delivery_id, part, entry FROM outbox";
    each_row(tx, sql, |r| {
        let id: &str = r.try_get(0).pg()?;
        let part: i32 = r.try_get(1).pg()?;
        match decode_entry(r.try_get::<_, &[u8]>(2).pg()?) {
            Ok(e) => {
                let want = part_of(&e.ticket_id, partitions);
                if e.request.delivery_id() != id {
                    p.push(format!(
                        "outbox entry {id} holds delivery {}",
                        e.request.delivery_id()
                    ));
                }
                if part != want {
                    p.push(format!(
                        "outbox entry {id} is in partition {part}, its ticket in {want}"
                    ));
                }
            }
            Err(e) => p.push(format!("outbox entry {id}: {e}")),
        }
        Ok(())
    })
    .await
}

/// The seq counter one past the last input; the partitions those the
/// store was created with, each cursor within the log.
async fn check_counters(
    tx: &Transaction<'_>,
    partitions: u32,
    out: &mut Vec<String>,
) -> Result<(), StoreError> {
    let mut p = Problems::new(out, "counters");
    let last = to_u64(
        tx.query_one("SELECT coalesce(max(seq), 0) FROM events", &[])
            .await
            .pg()?
            .try_get(0)
            .pg()?,
    );
    let counters = tx
        .query("SELECT next_seq FROM log_counter", &[])
        .await
        .pg()?;
    match counters.as_slice() {
        [row] => {
            let next = to_u64(row.try_get(0).pg()?);
            if next != last + 1 {
                p.push(format!(
                    "the seq counter gives {next} next, but the last input is {last}"
                ));
            }
        }
        rows => p.push(format!("log_counter has {} rows, not 1", rows.len())),
    }
    let rows = tx
        .query("SELECT id, cursor FROM partitions ORDER BY id", &[])
        .await
        .pg()?;
    let mut seen = HashSet::new();
    for r in &rows {
        let id: i32 = r.try_get(0).pg()?;
        let cursor: i64 = r.try_get(1).pg()?;
        seen.insert(id);
        if u32::try_from(id).map_or(true, |i| i >= partitions) {
            p.push(format!(
                "partition {id} is not one of the {partitions} partitions"
            ));
        }
        if cursor < 0 || to_u64(cursor) > last {
            p.push(format!(
                "partition {id} has processed up to {cursor}, beyond the last input {last}"
            ));
        }
    }
    for id in 0..partitions {
        if i32::try_from(id).map_or(true, |i| !seen.contains(&i)) {
            p.push(format!("partition {id} has no row"));
        }
    }
    Ok(())
}
