//! Processing: inputs by partition, tickets, the fenced chunk commit.

use std::collections::HashMap;
use std::sync::Arc;

use escalier_core::Record;
use escalier_store::StoreError;
use escalier_store::backend::{Chunk, Loaded};

use crate::PgBackend;

impl PgBackend {
    pub(crate) fn pg_inputs(
        &self,
        _partition: u32,
        _after: u64,
        _limit: usize,
    ) -> Result<Vec<Arc<Record>>, StoreError> {
        Err(StoreError::Backend("not yet".into()))
    }

    pub(crate) fn pg_load_tickets(
        &self,
        _ids: &[&str],
    ) -> Result<HashMap<String, Loaded>, StoreError> {
        Err(StoreError::Backend("not yet".into()))
    }

    pub(crate) fn pg_commit_chunk(&self, _chunk: &Chunk) -> Result<(), StoreError> {
        Err(StoreError::Backend("not yet".into()))
    }

    pub(crate) fn pg_stale_tickets(
        &self,
        _version: &str,
        _partitions: Option<&[u32]>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        Err(StoreError::Backend("not yet".into()))
    }
}
