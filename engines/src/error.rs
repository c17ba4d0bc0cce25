//! The one error type of the engines crate. Errors are values with enough context to act on:
//! a corruption names the file and the byte offset where the damage was found.

use std::path::PathBuf;

/// Result alias used throughout the engines crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An operating-system I/O error (including a full disk).
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),

    /// Bytes read from disk failed a checksum or a structural check.
    #[error("corruption in {} at offset {offset}: {detail}", file.display())]
    Corruption {
        file: PathBuf,
        offset: u64,
        detail: String,
    },

    /// The caller passed something the API does not accept (a key or value outside the limits,
    /// a bad option value).
    #[error("invalid input: {0}")]
    InvalidInput(String),

    /// The engine was closed; open it again to use it.
    #[error("the engine is closed")]
    Closed,

    /// The directory holds a store this engine cannot open (another engine's files, a newer
    /// format version, unrelated files, or a store another process has open).
    #[error("cannot open store: {0}")]
    Incompatible(String),

    /// An earlier failure (a failed fsync, a failed background task) left the instance unable
    /// to promise durability; it refuses further writes until it is reopened.
    #[error("the engine stopped after a fatal error and must be reopened: {0}")]
    Poisoned(String),
}

impl Error {
    /// A `Corruption` error for `file` at `offset`.
    pub fn corruption(file: impl Into<PathBuf>, offset: u64, detail: impl Into<String>) -> Self {
        Error::Corruption {
            file: file.into(),
            offset,
            detail: detail.into(),
        }
    }

    /// True for the errors a damaged or unreadable store may legitimately produce.
    pub fn is_damage(&self) -> bool {
        matches!(self, Error::Corruption { .. } | Error::Io(_))
    }
}
