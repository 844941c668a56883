//! Bulk load of an exported log into an empty store.
//!
//! The records are written as they are — inputs with their seqs, times and
//! sources, derived records with their positions — so the imported store
//! has the same log, and (folding it) the same tickets, as the one exported.
//! Nothing is re-processed: policies do not run again.

use std::collections::HashMap;

use escalier_core::timers::Books;
use escalier_core::{Record, Ticket};
use redb::{Durability, ReadableTableMetadata};
use serde::Serialize;

use crate::{Store, StoreError, codec, tables};

#[derive(Debug, Default, Clone, Serialize)]
pub struct ImportReport {
    pub inputs: u64,
    pub derived: u64,
    pub tickets: u64,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    #[error("the store is not empty ({0} events); import into a new data directory")]
    NotEmpty(u64),
    #[error("record {at}: {message}")]
    Order { at: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<redb::StorageError> for ImportError {
    fn from(e: redb::StorageError) -> Self {
        ImportError::Store(e.into())
    }
}

impl Store {
    /// Load `records` (in log order) into this empty store. `fold` rebuilds
    /// a ticket from its records the way the processor does (reducer plus
    /// clocks, see `escalier_core::timers::replay`); `books` index the clocks.
    pub fn import(
        &self,
        records: impl IntoIterator<Item = Result<Record, ImportError>>,
        books: &Books,
        mut fold: impl FnMut(Option<Ticket>, &Record) -> Option<Ticket>,
    ) -> Result<ImportReport, ImportError> {
        let existing = {
            use redb::ReadableDatabase;
            let rtx = self.db().begin_read().map_err(StoreError::from)?;
            rtx.open_table(tables::EVENTS)
                .map_err(StoreError::from)?
                .len()?
        };
        if existing > 0 {
            return Err(ImportError::NotEmpty(existing));
        }
        let mut report = ImportReport::default();
        let mut tickets: HashMap<String, Ticket> = HashMap::new();
        let mut last: Option<(u64, u32)> = None;
        let mut batch: Vec<Record> = Vec::with_capacity(10_000);
        for rec in records {
            let rec = rec?;
            let pos = (rec.seq, rec.index);
            let ok = match last {
                None => rec.index == 0,
                Some((s, _)) if rec.index == 0 => rec.seq > s,
                Some((s, i)) => rec.seq == s && rec.index == i + 1,
            };
            if !ok {
                return Err(ImportError::Order {
                    at: rec.pos().to_string(),
                    message: format!(
                        "out of log order after {:?}; export files list each input followed by its derived records",
                        last
                    ),
                });
            }
            last = Some(pos);
            let id = rec.event.ticket_id.as_str().to_owned();
            let before = tickets.remove(&id);
            if let Some(t) = fold(before, &rec) {
                tickets.insert(id, t);
            }
            if rec.index == 0 {
                report.inputs += 1;
            } else {
                report.derived += 1;
            }
            batch.push(rec);
            if batch.len() == batch.capacity() {
                self.write_batch(&batch)?;
                batch.clear();
            }
        }
        self.write_batch(&batch)?;
        let processed = last.map(|(s, _)| s).unwrap_or(0);
        let wtx = self.db().begin_write().map_err(StoreError::from)?;
        {
            let mut data = wtx
                .open_table(tables::TICKET_DATA)
                .map_err(StoreError::from)?;
            let mut clocks = wtx.open_table(tables::CLOCKS).map_err(StoreError::from)?;
            let mut meta = wtx.open_table(tables::META).map_err(StoreError::from)?;
            for (id, t) in &tickets {
                data.insert(
                    tables::ticket_key(id, tables::BODY),
                    codec::encode_ticket(t).as_slice(),
                )?;
                data.insert(
                    tables::ticket_key(id, tables::HEAD),
                    [codec::encode_status(t.status)].as_slice(),
                )?;
                crate::processor::reindex(&mut clocks, &mut data, id, t, books)?;
            }
            meta.insert(tables::META_PROCESSED, processed)?;
        }
        wtx.commit().map_err(StoreError::from)?;
        report.tickets = tickets.len() as u64;
        self.progress().set_committed(processed);
        self.progress().set_processed(processed);
        Ok(report)
    }

    fn write_batch(&self, batch: &[Record]) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut wtx = self.db().begin_write()?;
        wtx.set_durability(Durability::None)
            .map_err(|e| StoreError::CommitFailed(e.to_string()))?;
        {
            let mut events = wtx.open_table(tables::EVENTS)?;
            let mut derived = wtx.open_table(tables::DERIVED)?;
            let mut dedupe = wtx.open_table(tables::DEDUPE)?;
            let mut index = wtx.open_table(tables::TICKET_DATA)?;
            for r in batch {
                let bytes = codec::encode_record(r);
                if r.index == 0 {
                    events.insert(r.seq, bytes.as_slice())?;
                    dedupe.insert(r.event.id.as_str(), r.seq)?;
                } else {
                    derived.insert((r.seq, r.index), bytes.as_slice())?;
                }
                index.insert(
                    (r.event.ticket_id.as_str(), tables::LOG, r.seq, r.index),
                    [].as_slice(),
                )?;
            }
        }
        wtx.commit()?;
        Ok(())
    }
}
