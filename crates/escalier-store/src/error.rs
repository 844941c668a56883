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
    /// The database cannot be reached (connection refused or lost, server
    /// restarting): retry later. Nothing of the failed call was stored.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// Any other failure reported by the database server.
    #[error("database error: {0}")]
    Backend(String),
    /// This node no longer holds the lease of `partition` (it expired and
    /// another node took it over); the write was refused.
    #[error("the lease of partition {partition} is no longer held by this node")]
    LeaseLost { partition: u32 },
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
