//! `StoreError`: everything that can go wrong below the API.
//!
//! Storage failures (disk full, I/O error) surface as `Db`; callers answer
//! 503 and acknowledge nothing. `Corrupt` means a stored value no longer
//! decodes: a bug or a damaged file, never bad input.

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("cannot open database {path}: {source}")]
    Open { path: String, source: redb::Error },
    #[error("storage error: {0}")]
    Db(#[from] redb::Error),
    #[error("stored {what} does not decode: {detail}")]
    Corrupt { what: &'static str, detail: String },
    #[error(
        "the data directory holds schema version {found}; this Escalier reads version {expected}"
    )]
    Schema { found: u64, expected: u64 },
    #[error("the store is shutting down")]
    Closed,
    /// A batch's commit failed; shared by every request of the batch.
    #[error("commit failed: {0}")]
    CommitFailed(String),
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::Db(e.into())
            }
        }
    )*};
}

from_redb!(
    redb::StorageError,
    redb::TransactionError,
    redb::TableError,
    redb::CommitError,
    redb::DatabaseError
);
