//! Reads for the API, the console and the tools: tickets, timelines,
//! records in log order, counts.

use escalier_core::{Record, Ticket};
use escalier_store::StoreError;

use crate::PgBackend;

impl PgBackend {
    pub(crate) fn pg_ticket(&self, _id: &str) -> Result<Option<Ticket>, StoreError> {
        Err(StoreError::Backend("not yet".into()))
    }

    pub(crate) fn pg_tickets_after(
        &self,
        _after: Option<&str>,
        _limit: usize,
    ) -> Result<Vec<(String, Ticket)>, StoreError> {
        Err(StoreError::Backend("not yet".into()))
    }

    pub(crate) fn pg_timeline(&self, _id: &str) -> Result<Vec<Record>, StoreError> {
        Err(StoreError::Backend("not yet".into()))
    }

    pub(crate) fn pg_records(
        &self,
        _after: u64,
        _upto: u64,
        _limit: usize,
    ) -> Result<Vec<Record>, StoreError> {
        Err(StoreError::Backend("not yet".into()))
    }

    pub(crate) fn pg_counts(&self) -> Result<(u64, u64), StoreError> {
        Err(StoreError::Backend("not yet".into()))
    }
}
