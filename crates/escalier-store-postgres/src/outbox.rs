//! The outbox and the deliveries: entries due by partition, settling
//! attempts, the deliveries list.

use escalier_store::StoreError;
use escalier_store::outbox::{
    DeliveryCursor, DeliveryRow, DeliveryState, OutboxEntry, OutboxKey, Settled,
};

use crate::PgBackend;

impl PgBackend {
    pub(crate) fn pg_outbox_due(
        &self,
        _partitions: Option<&[u32]>,
        _now_ms: u64,
        _limit: usize,
    ) -> Result<Vec<(OutboxKey, OutboxEntry)>, StoreError> {
        Err(StoreError::Backend("not yet".into()))
    }

    pub(crate) fn pg_outbox_next(
        &self,
        _partitions: Option<&[u32]>,
    ) -> Result<Option<u64>, StoreError> {
        Err(StoreError::Backend("not yet".into()))
    }

    pub(crate) fn pg_outbox_len(&self) -> Result<u64, StoreError> {
        Err(StoreError::Backend("not yet".into()))
    }

    pub(crate) fn pg_outbox_settle(&self, _results: &[Settled]) -> Result<(), StoreError> {
        Err(StoreError::Backend("not yet".into()))
    }

    pub(crate) fn pg_outbox_enqueue(
        &self,
        _due_ms: u64,
        _entry: &OutboxEntry,
        _row: &DeliveryRow,
    ) -> Result<(), StoreError> {
        Err(StoreError::Backend("not yet".into()))
    }

    pub(crate) fn pg_delivery(&self, _id: &str) -> Result<Option<DeliveryRow>, StoreError> {
        Err(StoreError::Backend("not yet".into()))
    }

    pub(crate) fn pg_deliveries(
        &self,
        _state: Option<DeliveryState>,
        _ticket: Option<&str>,
        _limit: usize,
        _after: Option<&DeliveryCursor>,
    ) -> Result<(Vec<DeliveryRow>, Option<DeliveryCursor>), StoreError> {
        Err(StoreError::Backend("not yet".into()))
    }
}
