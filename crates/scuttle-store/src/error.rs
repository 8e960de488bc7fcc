//! Errors of the store: on open (who is at fault: the file, or the caller) and at run time.

use std::path::PathBuf;

/// Why [`RedbStore::open`](crate::RedbStore::open) refused a file. Its data is not changed (a
/// redb file may have its header rewritten by the integrity check on open).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The file could not be read or created (permissions, a missing directory, ...).
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The file is not a redb database, or it is truncated or corrupt.
    #[error("{path}: not a readable scuttle store (corrupt, truncated or another kind of file): {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What redb or the decoder said.
        reason: String,
    },
    /// The file is a redb database, but not a scuttle store.
    #[error("{path}: a redb database, but not a scuttle store")]
    Foreign {
        /// The file.
        path: PathBuf,
    },
    /// The file is a scuttle store of a format this build does not read.
    #[error("{path}: scuttle store format {found}, this build reads format {supported}")]
    Version {
        /// The file.
        path: PathBuf,
        /// The format in the file.
        found: u32,
        /// The format this build reads and writes.
        supported: u32,
    },
    /// The file holds another node's data: opening it under a new id would reissue that
    /// node's versions under another name, or mix two nodes.
    #[error("{path}: the store of node {stored:?}, not of {given:?}")]
    WrongNode {
        /// The file.
        path: PathBuf,
        /// The id in the file.
        stored: String,
        /// The id asked for.
        given: String,
    },
    /// Another process (or another handle in this one) has the file open.
    #[error("{path}: in use by another process")]
    Locked {
        /// The file.
        path: PathBuf,
    },
}

/// A run-time failure of a [`RedbStore`](crate::RedbStore) (inside a
/// [`StoreError`](scuttle_core::StoreError)): the batch was not persisted, and the node did
/// not change.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreFailure {
    /// redb failed (I/O, a full disk, ...).
    #[error("redb: {0}")]
    Redb(#[from] redb::Error),
    /// A key or value could not be encoded.
    #[error("encoding failed: {0}")]
    Encode(String),
    /// What the file holds could not be decoded.
    #[error("corrupt record: {0}")]
    Decode(String),
}

macro_rules! redb_into_failure {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreFailure {
            fn from(e: $t) -> Self {
                StoreFailure::Redb(e.into())
            }
        }
    )*};
}

redb_into_failure!(
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError
);
