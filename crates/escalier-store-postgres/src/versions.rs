//! Stored versions (policy sets, books changes): the `versions` table.

use escalier_store::StoreError;

use crate::PgBackend;

impl PgBackend {
    pub(crate) fn pg_put_version_if_absent(
        &self,
        _key: &str,
        _value: &[u8],
    ) -> Result<bool, StoreError> {
        Err(StoreError::Backend("not yet".into()))
    }

    pub(crate) fn pg_put_version(&self, _key: &str, _value: &[u8]) -> Result<(), StoreError> {
        Err(StoreError::Backend("not yet".into()))
    }

    pub(crate) fn pg_version(&self, _key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Err(StoreError::Backend("not yet".into()))
    }

    pub(crate) fn pg_versions(&self, _prefix: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        Err(StoreError::Backend("not yet".into()))
    }
}
