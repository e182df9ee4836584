//! Errors of index operations; the pgrx layer turns them into `ereport`s.

use std::fmt;

/// Why an index operation failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IvfError {
    /// Block 0 does not hold an IVF meta page.
    NotAnIvfIndex,
    /// The index was written by an incompatible format version.
    UnsupportedVersion(u32),
    /// The index uses a quantization this code cannot read.
    UnsupportedQuantization(u32),
    /// A vector payload does not have the index's payload size.
    PayloadSize {
        /// Size recorded in the meta page.
        expected: usize,
        /// Size supplied.
        actual: usize,
    },
    /// Invalid build parameters (zero or too large payload, wrong centroid count,
    /// non-empty relation).
    InvalidBuild(String),
    /// The page structure is inconsistent (a cycle in a page chain, a missing item).
    Corrupted(&'static str),
    /// A loop was interrupted ([`pagestore::Relation::check_interrupts`]; in
    /// Postgres the pending cancel raises its own ERROR first).
    Cancelled,
    /// An allocation the operation needed failed or would pass its memory
    /// budget (`out of memory`, SQLSTATE 53200).
    OutOfMemory {
        /// Bytes asked for.
        requested: usize,
        /// The budget, `usize::MAX` if none (the allocator refused).
        limit: usize,
    },
}

impl fmt::Display for IvfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IvfError::NotAnIvfIndex => write!(f, "relation is not an ivfflat index"),
            IvfError::UnsupportedVersion(v) => {
                write!(f, "unsupported ivfflat index format version {v}")
            }
            IvfError::UnsupportedQuantization(q) => {
                write!(f, "unsupported ivfflat quantization kind {q}")
            }
            IvfError::PayloadSize { expected, actual } => {
                write!(
                    f,
                    "vector payload has {actual} bytes, index expects {expected}"
                )
            }
            IvfError::InvalidBuild(why) => write!(f, "invalid ivfflat build: {why}"),
            IvfError::Corrupted(what) => write!(f, "ivfflat index is corrupted: {what}"),
            IvfError::Cancelled => write!(f, "canceling statement due to user request"),
            IvfError::OutOfMemory { requested, limit } if *limit == usize::MAX => {
                write!(f, "out of memory: failed on request of size {requested}")
            }
            IvfError::OutOfMemory { requested, limit } => write!(
                f,
                "out of memory: {requested} bytes requested with a budget of {limit} bytes"
            ),
        }
    }
}

impl std::error::Error for IvfError {}
