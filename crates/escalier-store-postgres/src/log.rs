//! The log: appending inputs in group-commit transactions, seqs, watermarks.

use escalier_core::Timestamp;
use escalier_store::StoreError;
use escalier_store::backend::{Appends, Marks};
use escalier_store::writer::InputBatch;

use crate::PgBackend;

impl PgBackend {
    pub(crate) fn pg_last_seq(&self) -> Result<u64, StoreError> {
        Err(StoreError::Backend("not yet".into()))
    }

    pub(crate) fn pg_append_group(
        &self,
        _now: Timestamp,
        _group: &[&InputBatch],
    ) -> Result<Appends, StoreError> {
        Err(StoreError::Backend("not yet".into()))
    }

    pub(crate) fn pg_seq_of(&self, _event_id: &str) -> Result<Option<u64>, StoreError> {
        Err(StoreError::Backend("not yet".into()))
    }

    pub(crate) fn pg_marks(&self) -> Result<Marks, StoreError> {
        Err(StoreError::Backend("not yet".into()))
    }
}
