//! The embedded backend: one redb file owned by one process (the default).
//!
//! Tables and their invariants are in [`tables`]; this module is every
//! [`Backend`] method as redb transactions. One partition, one node that
//! always holds it: the processor's cursor is `meta["processed"]`.
//!
//! Durability: the writer's group commits are durable
//! (`Durability::Immediate`); the processor's chunks commit without an
//! fsync (`Durability::None`) unless asked, and become durable with the
//! next durable commit or [`Backend::flush`]. Readers never block writers
//! (redb MVCC).

mod outbox;
pub mod tables;

use std::collections::{HashMap, HashSet};
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use ::redb::{
    Database, Durability, ReadOnlyTable, ReadableDatabase, ReadableTable, ReadableTableMetadata,
    Table,
};
use escalier_core::{Record, Status, Ticket, Timestamp, reduce};

use crate::backend::{
    Appends, Backend, Chunk, ClockRow, ClusterView, Held, ImportChunk, Lease, Loaded, Marks, Node,
    NodeView, Outcome, PartitionView,
};
use crate::outbox::{DeliveryCursor, DeliveryRow, DeliveryState, OutboxEntry, OutboxKey, Settled};
use crate::processor::Indexed;
use crate::writer::{AppendError, Appended, InputBatch};
use crate::{StoreError, StoreOptions, codec};

/// A redb database behind the [`Backend`] trait.
pub struct RedbBackend {
    db: Database,
    location: String,
}

impl RedbBackend {
    /// Open (or create) the database file at `path`.
    ///
    /// Exclusive: one process owns the file. (redb's shared modes would let
    /// tools read a live file, but they forbid the non-durable commits the
    /// processor relies on to keep fsyncs off the ingest path; tools read a
    /// snapshot or an export instead.)
    pub fn open(path: &Path, opts: &StoreOptions) -> Result<RedbBackend, StoreError> {
        let shown = path.display().to_string();
        let warned = std::sync::atomic::AtomicBool::new(false);
        let db = Database::builder()
            .set_cache_size(opts.cache_bytes)
            .set_repair_callback(move |_session| {
                // Called (repeatedly, with its progress) only when the file
                // was not closed cleanly (a crash, `kill -9`, power loss):
                // redb then checks the whole file before it opens, which
                // takes time with its size. Said once.
                if !warned.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    tracing::warn!(
                        path = %shown,
                        "the database was not closed cleanly; checking it before opening (takes time with its size)"
                    );
                }
            })
            .create(path)
            .map_err(|e| StoreError::Open {
                path: path.display().to_string(),
                source: e.into(),
            })?;
        Self::init(db, path.display().to_string())
    }

    /// A database on any redb storage backend: fault injection in tests,
    /// or a backend of the operator's choosing.
    pub fn with_storage(storage: impl ::redb::StorageBackend) -> Result<RedbBackend, StoreError> {
        let db = Database::builder()
            .create_with_backend(storage)
            .map_err(|e| StoreError::Open {
                path: "(backend)".into(),
                source: e.into(),
            })?;
        Self::init(db, "(backend)".into())
    }

    /// A database in memory, for tests and simulations.
    pub fn in_memory() -> Result<RedbBackend, StoreError> {
        let db = Database::builder()
            .create_with_backend(::redb::backends::InMemoryBackend::new())
            .map_err(|e| StoreError::Open {
                path: "(memory)".into(),
                source: e.into(),
            })?;
        Self::init(db, "(memory)".into())
    }

    fn init(db: Database, location: String) -> Result<RedbBackend, StoreError> {
        tables::ensure(&db)?;
        Ok(RedbBackend { db, location })
    }

    fn processed(&self) -> Result<u64, StoreError> {
        let rtx = self.db.begin_read()?;
        let meta = rtx.open_table(tables::META)?;
        Ok(meta
            .get(tables::META_PROCESSED)?
            .map(|v| v.value())
            .unwrap_or(0))
    }
}

fn durability(wtx: &mut ::redb::WriteTransaction, d: Durability) -> Result<(), StoreError> {
    wtx.set_durability(d)
        .map_err(|e| StoreError::CommitFailed(e.to_string()))
}

impl Backend for RedbBackend {
    fn kind(&self) -> &'static str {
        "redb"
    }

    fn location(&self) -> String {
        self.location.clone()
    }

    fn last_seq(&self) -> Result<u64, StoreError> {
        let rtx = self.db.begin_read()?;
        let events = rtx.open_table(tables::EVENTS)?;
        Ok(events.last()?.map(|(k, _)| k.value()).unwrap_or(0))
    }

    fn append_group(&self, now: Timestamp, group: &[&InputBatch]) -> Result<Appends, StoreError> {
        let mut wtx = self.db.begin_write()?;
        wtx.set_durability(Durability::Immediate)
            .map_err(|e| StoreError::Corrupt {
                what: "durability",
                detail: e.to_string(),
            })?;
        let mut outcomes: Vec<Outcome> = Vec::with_capacity(group.len());
        let mut records = Vec::new();
        {
            let mut events = wtx.open_table(tables::EVENTS)?;
            let mut dedupe = wtx.open_table(tables::DEDUPE)?;
            let mut heads = wtx.open_table(tables::TICKET_DATA)?;
            let mut next_seq = events.last()?.map(|(k, _)| k.value()).unwrap_or(0) + 1;
            for batch in group {
                let staged = match stage(batch, &dedupe, &heads, next_seq) {
                    Ok(s) => s,
                    Err(e @ AppendError::Rejected { .. }) => {
                        outcomes.push(Err(e));
                        continue;
                    }
                    Err(AppendError::Storage(e)) => return Err(e),
                    Err(e) => return Err(StoreError::CommitFailed(e.to_string())),
                };
                for (i, ev) in batch.events.iter().enumerate() {
                    let Appended::Stored { seq } = staged.outcomes[i] else {
                        continue;
                    };
                    let record = Record {
                        seq,
                        index: 0,
                        recorded_at: now,
                        source: batch.source.clone(),
                        event: ev.clone(),
                    };
                    events.insert(seq, codec::encode_record(&record).as_slice())?;
                    dedupe.insert(ev.id.as_str(), seq)?;
                    records.push(Arc::new(record));
                }
                for (ticket, status) in &staged.heads {
                    heads.insert(
                        tables::ticket_key(ticket, tables::HEAD),
                        [codec::encode_status(*status)].as_slice(),
                    )?;
                }
                next_seq += staged.stored;
                outcomes.push(Ok(staged.outcomes));
            }
        }
        wtx.commit()?;
        Ok(Appends { outcomes, records })
    }

    fn seq_of(&self, event_id: &str) -> Result<Option<u64>, StoreError> {
        let rtx = self.db.begin_read()?;
        let d = rtx.open_table(tables::DEDUPE)?;
        Ok(d.get(event_id)?.map(|v| v.value()))
    }

    fn marks(&self) -> Result<Marks, StoreError> {
        let rtx = self.db.begin_read()?;
        let events = rtx.open_table(tables::EVENTS)?;
        let committed = events.last()?.map(|(k, _)| k.value()).unwrap_or(0);
        let meta = rtx.open_table(tables::META)?;
        let processed = meta
            .get(tables::META_PROCESSED)?
            .map(|v| v.value())
            .unwrap_or(0);
        Ok(Marks {
            committed,
            processed,
        })
    }

    fn shared(&self) -> bool {
        false
    }

    fn partitions(&self) -> u32 {
        1
    }

    fn leases(&self, _node: &Node) -> Result<Vec<Held>, StoreError> {
        Ok(vec![Held {
            lease: Lease {
                partition: 0,
                epoch: 0,
            },
            cursor: self.processed()?,
        }])
    }

    fn release(&self, _node: &Node) -> Result<(), StoreError> {
        Ok(())
    }

    fn inputs(
        &self,
        _partition: u32,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Arc<Record>>, StoreError> {
        let rtx = self.db.begin_read()?;
        let events = rtx.open_table(tables::EVENTS)?;
        events
            .range(after.saturating_add(1)..)?
            .take(limit)
            .map(|row| Ok(Arc::new(codec::decode_record(row?.1.value())?)))
            .collect()
    }

    fn load_tickets(&self, ids: &[&str]) -> Result<HashMap<String, Loaded>, StoreError> {
        let rtx = self.db.begin_read()?;
        let data = rtx.open_table(tables::TICKET_DATA)?;
        let mut out = HashMap::with_capacity(ids.len());
        for id in ids {
            let indexed = match data.get(tables::ticket_key(id, tables::INDEX))? {
                Some(v) => codec::decode_named(v.value(), "clock index").unwrap_or_default(),
                None => Indexed::default(),
            };
            let ticket = data
                .get(tables::ticket_key(id, tables::BODY))?
                .map(|v| codec::decode_ticket(v.value()))
                .transpose()?;
            out.insert((*id).to_owned(), Loaded { ticket, indexed });
        }
        Ok(out)
    }

    fn commit_chunk(&self, chunk: &Chunk) -> Result<(), StoreError> {
        if let Some((lease, _)) = chunk.cursor
            && (lease.partition != 0 || lease.epoch != 0)
        {
            return Err(StoreError::LeaseLost {
                partition: lease.partition,
            });
        }
        // Encoded before the write transaction: the ingest writer waits for
        // redb's single write lock while this one is open.
        let entries: Vec<Vec<u8>> = chunk
            .outbox
            .iter()
            .map(|(_, e, _)| serde_json::to_vec(e).unwrap_or_default())
            .collect();
        let mut wtx = self.db.begin_write()?;
        durability(
            &mut wtx,
            if chunk.durable {
                Durability::Immediate
            } else {
                Durability::None
            },
        )?;
        {
            let mut derived = wtx.open_table(tables::DERIVED)?;
            for d in &chunk.derived {
                derived.insert((d.seq, d.index), d.bytes.as_slice())?;
            }
            let mut data = wtx.open_table(tables::TICKET_DATA)?;
            for (seq, id) in &chunk.inputs {
                data.insert((id.as_str(), tables::LOG, *seq, 0), [].as_slice())?;
            }
            for d in &chunk.derived {
                data.insert(
                    (d.ticket_id.as_str(), tables::LOG, d.seq, d.index),
                    [].as_slice(),
                )?;
            }
            if !chunk.outbox.is_empty() {
                let mut outbox = wtx.open_table(tables::OUTBOX)?;
                for ((due, entry, _), bytes) in chunk.outbox.iter().zip(&entries) {
                    outbox.insert((*due, entry.request.delivery_id()), bytes.as_slice())?;
                }
                let mut rows = wtx.open_table(tables::DELIVERIES)?;
                let mut index = wtx.open_table(tables::DELIVERY_INDEX)?;
                for (_, _, row) in &chunk.outbox {
                    // Already known (an entry processed again): keep its state.
                    if rows.get(row.delivery_id.as_str())?.is_none() {
                        outbox::put_delivery(&mut rows, &mut index, None, row)?;
                    }
                }
            }
            for (id, bytes) in &chunk.tickets {
                data.insert(tables::ticket_key(id, tables::BODY), bytes.as_slice())?;
            }
            if !chunk.index_moves.is_empty() {
                let mut clocks = wtx.open_table(tables::CLOCKS)?;
                for (id, old, new) in &chunk.index_moves {
                    apply_index(&mut clocks, &mut data, id, old, new)?;
                }
            }
            if let Some((_, upto)) = chunk.cursor {
                let mut meta = wtx.open_table(tables::META)?;
                meta.insert(tables::META_PROCESSED, upto)?;
            }
        }
        wtx.commit()?;
        Ok(())
    }

    fn flush(&self) -> Result<(), StoreError> {
        let mut wtx = self.db.begin_write()?;
        durability(&mut wtx, Durability::Immediate)?;
        wtx.commit()?;
        Ok(())
    }

    fn stale_tickets(
        &self,
        version: &str,
        _partitions: Option<&[u32]>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let rtx = self.db.begin_read()?;
        let data = rtx.open_table(tables::TICKET_DATA)?;
        let mut out = Vec::new();
        for row in data.iter()? {
            let (k, v) = row?;
            let (id, kind, _, _) = k.value();
            if kind != tables::INDEX {
                continue;
            }
            let indexed: Indexed =
                codec::decode_named(v.value(), "clock index").unwrap_or_default();
            if indexed.version != version {
                out.push((id.to_owned(), indexed.version));
            }
        }
        Ok(out)
    }

    fn due_clocks(
        &self,
        _partitions: Option<&[u32]>,
        now_ms: u64,
        limit: usize,
    ) -> Result<(Vec<ClockRow>, Option<u64>), StoreError> {
        let rtx = self.db.begin_read()?;
        let clocks = rtx.open_table(tables::CLOCKS)?;
        let mut due = Vec::new();
        let mut next = None;
        for row in clocks.iter()? {
            let (k, _) = row?;
            let (ms, ticket, key) = k.value();
            if ms > now_ms {
                next = Some(ms);
                break;
            }
            if due.len() == limit {
                break;
            }
            due.push((ms, ticket.to_owned(), key.to_owned()));
        }
        Ok((due, next))
    }

    fn due_between(&self, from_ms: u64, until_ms: u64) -> Result<Vec<ClockRow>, StoreError> {
        let rtx = self.db.begin_read()?;
        let clocks = rtx.open_table(tables::CLOCKS)?;
        let mut out = Vec::new();
        for row in clocks.range((from_ms, "", "")..)? {
            let (k, _) = row?;
            let (ms, ticket, key) = k.value();
            if ms > until_ms {
                break;
            }
            out.push((ms, ticket.to_owned(), key.to_owned()));
        }
        Ok(out)
    }

    fn outbox_due(
        &self,
        _partitions: Option<&[u32]>,
        now_ms: u64,
        limit: usize,
    ) -> Result<Vec<(OutboxKey, OutboxEntry)>, StoreError> {
        self.outbox_due_rows(now_ms, limit)
    }

    fn outbox_next(&self, _partitions: Option<&[u32]>) -> Result<Option<u64>, StoreError> {
        let rtx = self.db.begin_read()?;
        let table = rtx.open_table(tables::OUTBOX)?;
        Ok(table.first()?.map(|(k, _)| k.value().0))
    }

    fn outbox_len(&self) -> Result<u64, StoreError> {
        let rtx = self.db.begin_read()?;
        Ok(rtx.open_table(tables::OUTBOX)?.len()?)
    }

    fn outbox_settle(&self, results: &[Settled]) -> Result<(), StoreError> {
        self.settle(results)
    }

    fn outbox_enqueue(
        &self,
        due_ms: u64,
        entry: &OutboxEntry,
        row: &DeliveryRow,
    ) -> Result<(), StoreError> {
        self.enqueue(due_ms, entry, row)
    }

    fn delivery(&self, id: &str) -> Result<Option<DeliveryRow>, StoreError> {
        self.delivery_row(id)
    }

    fn deliveries(
        &self,
        state: Option<DeliveryState>,
        ticket: Option<&str>,
        limit: usize,
        after: Option<&DeliveryCursor>,
    ) -> Result<(Vec<DeliveryRow>, Option<DeliveryCursor>), StoreError> {
        self.delivery_rows(state, ticket, limit, after)
    }

    fn ticket(&self, id: &str) -> Result<Option<Ticket>, StoreError> {
        let rtx = self.db.begin_read()?;
        let t = rtx.open_table(tables::TICKET_DATA)?;
        t.get(tables::ticket_key(id, tables::BODY))?
            .map(|v| codec::decode_ticket(v.value()))
            .transpose()
    }

    fn tickets_after(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Ticket)>, StoreError> {
        let rtx = self.db.begin_read()?;
        let table = rtx.open_table(tables::TICKET_DATA)?;
        let mut out = Vec::new();
        let mut last: Option<String> = after.map(str::to_owned);
        while out.len() < limit {
            let Some((id, bytes)) = next_body(&table, last.as_deref())? else {
                break;
            };
            out.push((id.clone(), codec::decode_ticket(&bytes)?));
            last = Some(id);
        }
        Ok(out)
    }

    fn timeline(&self, id: &str) -> Result<Vec<Record>, StoreError> {
        let rtx = self.db.begin_read()?;
        let index = rtx.open_table(tables::TICKET_DATA)?;
        let events = rtx.open_table(tables::EVENTS)?;
        let derived = rtx.open_table(tables::DERIVED)?;
        let mut out = Vec::new();
        for row in
            index.range((id, tables::LOG, 0u64, 0u32)..=(id, tables::LOG, u64::MAX, u32::MAX))?
        {
            let (k, _) = row?;
            let (_, _, seq, idx) = k.value();
            let bytes = if idx == 0 {
                events.get(seq)?.map(|v| v.value().to_vec())
            } else {
                derived.get((seq, idx))?.map(|v| v.value().to_vec())
            };
            match bytes {
                Some(b) => out.push(codec::decode_record(&b)?),
                None => {
                    return Err(StoreError::Corrupt {
                        what: "ticket_log",
                        detail: format!("{id} points at missing record {seq}.{idx}"),
                    });
                }
            }
        }
        Ok(out)
    }

    fn records(&self, after: u64, upto: u64, limit: usize) -> Result<Vec<Record>, StoreError> {
        let mut out = Vec::new();
        if after >= upto || limit == 0 {
            return Ok(out);
        }
        let rtx = self.db.begin_read()?;
        let events = rtx.open_table(tables::EVENTS)?;
        let derived = rtx.open_table(tables::DERIVED)?;
        let mut derived_rows = derived.range((after + 1, 0u32)..)?.peekable();
        for row in events.range(after + 1..=upto)?.take(limit) {
            let (k, v) = row?;
            let seq = k.value();
            out.push(codec::decode_record(v.value())?);
            loop {
                match derived_rows.peek() {
                    Some(Ok((dk, _))) if dk.value().0 <= seq => {}
                    Some(Err(_)) => {}
                    _ => break,
                }
                if let Some(row) = derived_rows.next() {
                    let (_, dv) = row?;
                    out.push(codec::decode_record(dv.value())?);
                }
            }
        }
        Ok(out)
    }

    fn counts(&self) -> Result<(u64, u64), StoreError> {
        let rtx = self.db.begin_read()?;
        let events = rtx.open_table(tables::EVENTS)?.len()?;
        let table = rtx.open_table(tables::TICKET_DATA)?;
        let mut tickets = 0u64;
        let mut last: Option<String> = None;
        while let Some((id, _)) = next_body(&table, last.as_deref())? {
            tickets += 1;
            last = Some(id);
        }
        Ok((events, tickets))
    }

    fn input_count(&self) -> Result<u64, StoreError> {
        let rtx = self.db.begin_read()?;
        Ok(rtx.open_table(tables::EVENTS)?.len()?)
    }

    fn put_version_if_absent(&self, key: &str, value: &[u8]) -> Result<bool, StoreError> {
        let wtx = self.db.begin_write()?;
        let stored = {
            let mut t = wtx.open_table(tables::VERSIONS)?;
            if t.get(key)?.is_none() {
                t.insert(key, value)?;
                true
            } else {
                false
            }
        };
        wtx.commit()?;
        Ok(stored)
    }

    fn put_version(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        let wtx = self.db.begin_write()?;
        wtx.open_table(tables::VERSIONS)?.insert(key, value)?;
        wtx.commit()?;
        Ok(())
    }

    fn version(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let rtx = self.db.begin_read()?;
        let t = rtx.open_table(tables::VERSIONS)?;
        Ok(t.get(key)?.map(|v| v.value().to_vec()))
    }

    fn versions(&self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let rtx = self.db.begin_read()?;
        let t = rtx.open_table(tables::VERSIONS)?;
        let mut out = Vec::new();
        for row in t.range(prefix..)? {
            let (k, v) = row?;
            if !k.value().starts_with(prefix) {
                break;
            }
            out.push((k.value().to_owned(), v.value().to_vec()));
        }
        Ok(out)
    }

    /// Chunks carrying only records commit without an fsync; the chunk
    /// with the tickets (the last one) commits durably and makes them all
    /// durable.
    fn import_chunk(&self, chunk: &ImportChunk) -> Result<(), StoreError> {
        let last = !chunk.tickets.is_empty()
            || !chunk.heads.is_empty()
            || (chunk.inputs.is_empty() && chunk.derived.is_empty());
        let mut wtx = self.db.begin_write()?;
        durability(
            &mut wtx,
            if last {
                Durability::Immediate
            } else {
                Durability::None
            },
        )?;
        {
            let mut events = wtx.open_table(tables::EVENTS)?;
            let mut derived = wtx.open_table(tables::DERIVED)?;
            let mut dedupe = wtx.open_table(tables::DEDUPE)?;
            let mut data = wtx.open_table(tables::TICKET_DATA)?;
            for r in &chunk.inputs {
                let bytes = codec::encode_record(r);
                events.insert(r.seq, bytes.as_slice())?;
                dedupe.insert(r.event.id.as_str(), r.seq)?;
                data.insert(
                    (r.event.ticket_id.as_str(), tables::LOG, r.seq, 0),
                    [].as_slice(),
                )?;
            }
            for d in &chunk.derived {
                derived.insert((d.seq, d.index), d.bytes.as_slice())?;
                data.insert(
                    (d.ticket_id.as_str(), tables::LOG, d.seq, d.index),
                    [].as_slice(),
                )?;
            }
            let mut clocks = wtx.open_table(tables::CLOCKS)?;
            for (id, bytes, indexed) in &chunk.tickets {
                data.insert(tables::ticket_key(id, tables::BODY), bytes.as_slice())?;
                let old: Indexed = match data.get(tables::ticket_key(id, tables::INDEX))? {
                    Some(v) => codec::decode_named(v.value(), "clock index").unwrap_or_default(),
                    None => Indexed::default(),
                };
                if &old != indexed {
                    apply_index(&mut clocks, &mut data, id, &old, indexed)?;
                }
            }
            for (id, status) in &chunk.heads {
                data.insert(
                    tables::ticket_key(id, tables::HEAD),
                    [codec::encode_status(*status)].as_slice(),
                )?;
            }
            let mut meta = wtx.open_table(tables::META)?;
            meta.insert(tables::META_PROCESSED, chunk.processed)?;
        }
        wtx.commit()?;
        Ok(())
    }

    /// `dedupe` against `events`, the timeline rows against the processed
    /// records, `deliveries` against its index and the outbox.
    fn verify_extra(&self) -> Result<Vec<String>, StoreError> {
        let mut problems = Vec::new();
        let processed = self.processed()?;
        let rtx = self.db.begin_read()?;
        let events = rtx.open_table(tables::EVENTS)?;
        let derived = rtx.open_table(tables::DERIVED)?;
        let dedupe = rtx.open_table(tables::DEDUPE)?;
        let index = rtx.open_table(tables::TICKET_DATA)?;

        // Every input's id in dedupe at its seq, and nothing else there.
        let mut logged: HashSet<(String, u64, u32)> = HashSet::new();
        let mut ids = 0u64;
        for row in events.iter()? {
            let (k, v) = row?;
            let seq = k.value();
            let rec = codec::decode_record(v.value())?;
            ids += 1;
            if rec.seq != seq || rec.index != 0 {
                problems.push(format!("input at {seq} claims position {}", rec.pos()));
            }
            match dedupe.get(rec.event.id.as_str())? {
                Some(d) if d.value() == seq => {}
                other => problems.push(format!(
                    "dedupe for {} points at {:?}, not {seq}",
                    rec.event.id,
                    other.map(|g| g.value())
                )),
            }
            if seq <= processed {
                logged.insert((rec.event.ticket_id.as_str().to_owned(), seq, 0));
            }
        }
        if dedupe.len()? != ids {
            problems.push(format!("dedupe has {} ids for {ids} inputs", dedupe.len()?));
        }
        for row in derived.range((0u64, 0u32)..=(processed, u32::MAX))? {
            let (k, v) = row?;
            let (seq, idx) = k.value();
            let rec = codec::decode_record(v.value())?;
            logged.insert((rec.event.ticket_id.as_str().to_owned(), seq, idx));
        }

        // Every processed record is in its ticket's timeline, and nothing else.
        let mut rows = 0usize;
        for row in index.iter()? {
            let (k, _) = row?;
            let (t, kind, s, i) = k.value();
            if kind != tables::LOG {
                continue;
            }
            rows += 1;
            if !logged.contains(&(t.to_owned(), s, i)) {
                problems.push(format!(
                    "timeline of {t} lists {s}.{i}, which is not one of its processed records"
                ));
            }
        }
        if rows < logged.len() {
            problems.push(format!(
                "timeline index has {rows} rows for {} processed records",
                logged.len()
            ));
        }
        drop((events, derived, dedupe, index));
        drop(rtx);
        problems.extend(self.verify_deliveries()?);
        Ok(problems)
    }

    fn cluster(&self) -> Result<ClusterView, StoreError> {
        let marks = self.marks()?;
        Ok(ClusterView {
            store: "redb".into(),
            lease_ms: 0,
            nodes: vec![NodeView {
                id: "local".into(),
                addr: String::new(),
                started_at: None,
                heartbeat_at: None,
                live: true,
                partitions: 1,
            }],
            partitions: vec![PartitionView {
                partition: 0,
                owner: Some("local".into()),
                epoch: 0,
                expires_at: None,
                cursor: marks.processed,
                lag: marks.committed.saturating_sub(marks.processed),
            }],
        })
    }
}

struct Staged {
    outcomes: Vec<Appended>,
    heads: HashMap<String, Status>,
    stored: u64,
}

/// Decide every event of one request without writing: duplicate or new
/// (with its seq), and the lifecycle status after it.
fn stage(
    batch: &InputBatch,
    dedupe: &impl ReadableTable<&'static str, u64>,
    heads: &impl ReadableTable<(&'static str, u8, u64, u32), &'static [u8]>,
    first_seq: u64,
) -> Result<Staged, AppendError> {
    let mut seen: HashMap<&str, u64> = HashMap::new();
    let mut staged_heads: HashMap<String, Status> = HashMap::new();
    let mut outcomes = Vec::with_capacity(batch.events.len());
    let mut next = first_seq;
    for (index, ev) in batch.events.iter().enumerate() {
        if let Some(seq) = seen.get(ev.id.as_str()) {
            outcomes.push(Appended::Duplicate { seq: *seq });
            continue;
        }
        if let Some(seq) = dedupe.get(ev.id.as_str()).map_err(StoreError::from)? {
            outcomes.push(Appended::Duplicate { seq: seq.value() });
            continue;
        }
        let current = match staged_heads.get(ev.ticket_id.as_str()) {
            Some(s) => Some(*s),
            None => heads
                .get(tables::ticket_key(ev.ticket_id.as_str(), tables::HEAD))
                .map_err(StoreError::from)?
                .map(|g| codec::decode_status(g.value().first().copied().unwrap_or(u8::MAX)))
                .transpose()?,
        };
        let after = reduce::check_transition(current, ev)
            .map_err(|rejection| AppendError::Rejected { index, rejection })?;
        staged_heads.insert(ev.ticket_id.as_str().to_owned(), after);
        seen.insert(ev.id.as_str(), next);
        outcomes.push(Appended::Stored { seq: next });
        next += 1;
    }
    Ok(Staged {
        outcomes,
        heads: staged_heads,
        stored: next - first_seq,
    })
}

/// The `ticket_data` table open for writing.
type TicketData<'t> = Table<'t, (&'static str, u8, u64, u32), &'static [u8]>;

/// Move a ticket's rows in the clock index from `old` to `new`.
fn apply_index(
    clocks: &mut Table<(u64, &'static str, &'static str), ()>,
    data: &mut TicketData<'_>,
    id: &str,
    old: &Indexed,
    new: &Indexed,
) -> Result<(), StoreError> {
    for (ms, key) in &old.rows {
        clocks.remove((*ms, id, key.as_str()))?;
    }
    for (ms, key) in &new.rows {
        clocks.insert((*ms, id, key.as_str()), ())?;
    }
    if new.rows.is_empty() && new.version.is_empty() {
        data.remove(tables::ticket_key(id, tables::INDEX))?;
    } else {
        data.insert(
            tables::ticket_key(id, tables::INDEX),
            codec::encode_named(new).as_slice(),
        )?;
    }
    Ok(())
}

/// The first ticket after `after` (in id order) that has a stored body:
/// its id and encoded body. A ticket's rows are together in `ticket_data`,
/// so this seeks past each ticket's timeline rows instead of reading them.
fn next_body(
    table: &ReadOnlyTable<(&'static str, u8, u64, u32), &'static [u8]>,
    after: Option<&str>,
) -> Result<Option<(String, Vec<u8>)>, StoreError> {
    let mut after: Option<String> = after.map(str::to_owned);
    loop {
        let lower = match &after {
            Some(a) => Bound::Excluded((a.as_str(), u8::MAX, u64::MAX, u32::MAX)),
            None => Bound::Unbounded,
        };
        let mut skip_to = None;
        for row in table.range::<(&str, u8, u64, u32)>((lower, Bound::Unbounded))? {
            let (k, v) = row?;
            let (id, kind, _, _) = k.value();
            if kind == tables::BODY {
                return Ok(Some((id.to_owned(), v.value().to_vec())));
            }
            if kind > tables::BODY {
                // This ticket has no body (committed, not processed yet): skip it.
                skip_to = Some(id.to_owned());
                break;
            }
        }
        match skip_to {
            Some(id) => after = Some(id),
            None => return Ok(None),
        }
    }
}
