//! Import of an exported log into an empty database, and the
//! PostgreSQL-specific consistency checks of `escalier verify`.

use escalier_store::StoreError;
use escalier_store::backend::ImportChunk;

use crate::PgBackend;

impl PgBackend {
    pub(crate) fn pg_import_chunk(&self, _chunk: &ImportChunk) -> Result<(), StoreError> {
        Err(StoreError::Backend("not yet".into()))
    }

    pub(crate) fn pg_verify_extra(&self) -> Result<Vec<String>, StoreError> {
        Err(StoreError::Backend("not yet".into()))
    }
}
