use thiserror::Error;

/// Errors from a [`crate::Storage`].
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The store is open in another process, which owns it while its sweep
    /// runs.
    #[error(
        "the store at {path} is in use by another hypersweep process (pid {pid}); wait for it to finish or stop it"
    )]
    Locked {
        /// Store directory.
        path: String,
        /// Owner's pid, when known (0 if unknown).
        pid: u32,
    },
    /// A write was asked of a read-only view of a store, such as the one a
    /// command gets through the process that owns the store.
    #[error("{operation}: read-only view of the store at {path}, owned by pid {pid}")]
    ReadOnly {
        /// Store directory.
        path: String,
        /// Owner's pid.
        pid: u32,
        /// The refused operation.
        operation: &'static str,
    },
    /// The store was written by a newer or unknown version of hypersweep.
    #[error(
        "the store at {path} has schema version {found}, this hypersweep reads version {expected}"
    )]
    SchemaVersion {
        /// Store directory.
        path: String,
        /// Version found.
        found: String,
        /// Version this build reads.
        expected: u32,
    },
    /// No study of that name.
    #[error("no study named `{0}`")]
    NoStudy(String),
    /// No trial of that number.
    #[error("study `{study}` has no trial {number}")]
    NoTrial {
        /// Study name.
        study: String,
        /// Trial number.
        number: u64,
    },
    /// The trial is already finished and cannot change.
    #[error("trial {number} of study `{study}` is already finished")]
    AlreadyFinished {
        /// Study name.
        study: String,
        /// Trial number.
        number: u64,
    },
    /// `finish_trial` was given a Running outcome; a trial ends Complete,
    /// Pruned or Failed.
    #[error("trial {number} of study `{study}` cannot be finished as Running")]
    NotFinal {
        /// Study name.
        study: String,
        /// Trial number.
        number: u64,
    },
    /// A record could not be encoded or decoded.
    #[error("corrupt record {key}: {message}")]
    Corrupt {
        /// Which record.
        key: String,
        /// Decoder message.
        message: String,
    },
    /// The underlying database failed.
    #[error("storage backend: {0}")]
    Backend(String),
    /// File-system error.
    #[error("storage I/O: {0}")]
    Io(#[from] std::io::Error),
}
