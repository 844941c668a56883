//! Bulk load of an exported log into an empty store.
//!
//! The records are written as they are — inputs with their seqs, times and
//! sources, derived records with their positions — so the imported store
//! has the same log, and (folding it) the same tickets, as the one exported.
//! Nothing is re-processed: policies do not run again.

use std::collections::HashMap;
use std::sync::Arc;

use escalier_core::timers::Books;
use escalier_core::{Record, Ticket};
use serde::Serialize;

use crate::backend::{DerivedRow, ImportChunk};
use crate::{Store, StoreError, codec};

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

/// Records per transaction.
const BATCH: usize = 10_000;

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
        let existing = self.backend.input_count()?;
        if existing > 0 {
            return Err(ImportError::NotEmpty(existing));
        }
        let mut report = ImportReport::default();
        let mut tickets: HashMap<String, Ticket> = HashMap::new();
        let mut last: Option<(u64, u32)> = None;
        let mut chunk = ImportChunk::default();
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
                chunk.processed = rec.seq;
                chunk.inputs.push(Arc::new(rec));
            } else {
                report.derived += 1;
                chunk.derived.push(DerivedRow {
                    seq: rec.seq,
                    index: rec.index,
                    ticket_id: rec.event.ticket_id.as_str().to_owned(),
                    bytes: codec::encode_record(&rec),
                });
            }
            if chunk.inputs.len() + chunk.derived.len() >= BATCH {
                let processed = chunk.processed;
                self.backend.import_chunk(&chunk)?;
                chunk = ImportChunk {
                    processed,
                    ..ImportChunk::default()
                };
            }
        }
        // The last call carries the tickets, their lifecycle heads and
        // clock index rows.
        let processed = last.map(|(s, _)| s).unwrap_or(0);
        chunk.processed = processed;
        for (id, t) in &tickets {
            chunk.heads.push((id.clone(), t.status));
            chunk.tickets.push((
                id.clone(),
                codec::encode_ticket(t),
                crate::processor::plan_index(t, books),
            ));
        }
        self.backend.import_chunk(&chunk)?;
        report.tickets = tickets.len() as u64;
        self.progress().set_committed(processed);
        self.progress().set_processed(processed);
        Ok(report)
    }
}
