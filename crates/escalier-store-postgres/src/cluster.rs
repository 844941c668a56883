//! The cluster: nodes, partition leases, the cluster view, the clock index.

use escalier_store::StoreError;
use escalier_store::backend::{ClockRow, ClusterView, Held, Node};

use crate::PgBackend;

impl PgBackend {
    pub(crate) fn pg_leases(&self, _node: &Node) -> Result<Vec<Held>, StoreError> {
        Err(StoreError::Backend("not yet".into()))
    }

    pub(crate) fn pg_release(&self, _node: &Node) -> Result<(), StoreError> {
        Err(StoreError::Backend("not yet".into()))
    }

    pub(crate) fn pg_cluster(&self) -> Result<ClusterView, StoreError> {
        Err(StoreError::Backend("not yet".into()))
    }

    pub(crate) fn pg_due_clocks(
        &self,
        _partitions: Option<&[u32]>,
        _now_ms: u64,
        _limit: usize,
    ) -> Result<(Vec<ClockRow>, Option<u64>), StoreError> {
        Err(StoreError::Backend("not yet".into()))
    }

    pub(crate) fn pg_due_between(
        &self,
        _from_ms: u64,
        _until_ms: u64,
    ) -> Result<Vec<ClockRow>, StoreError> {
        Err(StoreError::Backend("not yet".into()))
    }
}
