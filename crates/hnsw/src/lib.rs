//! HNSW (hierarchical navigable small world) graphs stored in Postgres-style
//! pages, written against the [`pagestore::Relation`] trait.
//!
//! The crate is independent of Postgres: vectors are opaque byte payloads and
//! distances come from a caller-supplied [`Space`]. The pgrx layer maps the
//! index access-method callbacks onto this API:
//!
//! | callback            | function                                             |
//! |---------------------|------------------------------------------------------|
//! | `ambuild`           | [`Builder`] (`push` per heap tuple, then `finish`)   |
//! | `ambuildempty`      | [`build_empty`]                                      |
//! | `aminsert`          | [`insert`]                                           |
//! | `amrescan/gettuple` | [`HnswScan`] (`new`, then `next` per tuple)          |
//! | `ambulkdelete`      | [`vacuum`]                                           |
//! | `amvacuumcleanup`   | [`vacuum`] with a never-dead callback, or [`verify`] |
//! | amcheck-style check | [`verify`]                                           |
//!
//! Concurrency follows Postgres rules: one page lock at a time, each page
//! write is its own atomic WAL record, and the index stays searchable after a
//! crash between any two writes. Threads are used only by the in-memory phase
//! of [`Builder`], on plain data.

#![warn(missing_docs)]

mod arena;
mod build;
pub mod format;
mod graph;
mod heuristic;
mod insert;
mod level;
mod lists;
mod pages;
mod search;
mod vacuum;
mod verify;
mod visited;

pub use build::{
    build, build_empty, BuildOptions, BuildPhase, BuildProgress, BuildReport, Builder,
};
pub use insert::{insert, InsertOutcome};
pub use pagestore::ItemPointer;
pub use search::{search, HnswScan, IterativeScan, ScanItem, ScanOptions};
pub use vacuum::{vacuum, VacuumStats};
pub use verify::{verify, verify_within, Issue, IssueKind, VerifyReport};

use std::fmt;

/// Distance between two payloads in the on-disk vector format; smaller is
/// closer. Must be symmetric. Payloads read from pages start 8-byte aligned.
pub trait Space {
    /// Distance between `a` and `b`.
    fn distance(&self, a: &[u8], b: &[u8]) -> f32;

    /// Writes a smaller, approximate encoding of `payload` into `out`
    /// (cleared first) for building the graph in memory, or returns false
    /// (the default) if there is none or `payload` cannot be encoded so.
    /// Construction reads every vector many times and is bound by memory
    /// bandwidth, so half the bytes build faster; pages and scans always
    /// use the exact payloads. A build uses compact encodings only if every
    /// payload has one.
    fn compact(&self, payload: &[u8], out: &mut Vec<u8>) -> bool {
        let _ = (payload, out);
        false
    }

    /// Distance between two encodings made by [`Space::compact`].
    fn compact_distance(&self, a: &[u8], b: &[u8]) -> f32 {
        self.distance(a, b)
    }

    /// A magnitude of `payload` that the caller's bounds on distances
    /// depend on (say, the norm of a rounded vector). The index keeps the
    /// largest over all its payloads in the meta page
    /// ([`format::MetaTuple::max_payload_norm`]), raised by builds and
    /// inserts before a row can be found. 0, the default, if there is none.
    fn payload_norm(&self, payload: &[u8]) -> f32 {
        let _ = payload;
        0.0
    }

    /// Writes into `out` (cleared first) what an element stores for a
    /// payload given to [`Builder::push`], when the index stores another
    /// encoding than the one the graph is built from (compressed codes), and
    /// returns true; false (the default) stores payloads as given. The index
    /// options' `payload_size` is then the size of the stored encoding, and
    /// [`Space::distance`] compares stored encodings (inserts and vacuum
    /// pass stored encodings), while the in-memory graph compares the given
    /// payloads by [`Space::input_distance`].
    fn encode_stored(&self, payload: &[u8], out: &mut Vec<u8>) -> bool {
        let _ = (payload, out);
        false
    }

    /// The length of [`Space::encode_stored`]'s encoding of `payload`, or
    /// `None` if it is stored as given, without encoding it: a build checks
    /// sizes as it collects vectors and encodes them all at once, on every
    /// core, before writing. By default it encodes into a scratch buffer.
    fn stored_len(&self, payload: &[u8]) -> Option<usize> {
        let mut out = Vec::new();
        self.encode_stored(payload, &mut out).then_some(out.len())
    }

    /// Distance between two payloads given to [`Builder::push`] (in memory,
    /// before [`Space::encode_stored`]); by default [`Space::distance`].
    fn input_distance(&self, a: &[u8], b: &[u8]) -> f32 {
        self.distance(a, b)
    }

    /// For scans: the distance that navigates the search (what
    /// [`Space::distance`] returns) and the value reported for the row
    /// ([`ScanItem::distance`]), which must not exceed the exact distance a
    /// caller ranks by when the first is an estimate. Scans return each
    /// round's rows in non-decreasing order of the second. By default both
    /// are [`Space::distance`].
    fn distance_and_bound(&self, query: &[u8], stored: &[u8]) -> (f32, f32) {
        let d = self.distance(query, stored);
        (d, d)
    }

    /// True if the second value of [`Space::distance_and_bound`] costs
    /// enough to be taken only where it may be reported: a one-round scan
    /// then takes [`Space::distance`] of every element it reaches and
    /// [`Space::bound`] only of those entering its beam, and the others
    /// carry `-inf` (below every distance, so still a valid value to
    /// report). False by default.
    fn lazy_bound(&self) -> bool {
        false
    }

    /// The second value of [`Space::distance_and_bound`] alone.
    fn bound(&self, query: &[u8], stored: &[u8]) -> f32 {
        self.distance_and_bound(query, stored).1
    }
}

impl<S: Space + ?Sized> Space for &S {
    fn distance(&self, a: &[u8], b: &[u8]) -> f32 {
        (**self).distance(a, b)
    }
    fn compact(&self, payload: &[u8], out: &mut Vec<u8>) -> bool {
        (**self).compact(payload, out)
    }
    fn compact_distance(&self, a: &[u8], b: &[u8]) -> f32 {
        (**self).compact_distance(a, b)
    }
    fn payload_norm(&self, payload: &[u8]) -> f32 {
        (**self).payload_norm(payload)
    }
    fn encode_stored(&self, payload: &[u8], out: &mut Vec<u8>) -> bool {
        (**self).encode_stored(payload, out)
    }
    fn stored_len(&self, payload: &[u8]) -> Option<usize> {
        (**self).stored_len(payload)
    }
    fn input_distance(&self, a: &[u8], b: &[u8]) -> f32 {
        (**self).input_distance(a, b)
    }
    fn distance_and_bound(&self, query: &[u8], stored: &[u8]) -> (f32, f32) {
        (**self).distance_and_bound(query, stored)
    }
    fn lazy_bound(&self) -> bool {
        (**self).lazy_bound()
    }
    fn bound(&self, query: &[u8], stored: &[u8]) -> f32 {
        (**self).bound(query, stored)
    }
}

/// Parameters fixed when an index is created; stored in the meta page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexOptions {
    /// Neighbours per element on layers >= 1; layer 0 keeps `2*m`. 2..=100.
    pub m: u16,
    /// Candidate list size while inserting; `>= 2*m`, at most 1000.
    pub ef_construction: u16,
    /// Vector dimensions (informational).
    pub dimensions: u32,
    /// Payload bytes for fixed-size types, 0 if payloads vary in size.
    pub payload_size: u32,
    /// Caller-defined distance/opclass id, stored for the caller to check.
    pub space_id: u16,
    /// Caller-defined encoding of the payloads (stored in the meta page's
    /// `quantization` field); [`format::QUANTIZATION_NONE`] when payloads
    /// are the vectors as given.
    pub quantization: u16,
    /// Stored in [`format::MetaTuple::code_seed`] (codes' rotation seed; 0
    /// for other encodings).
    pub code_seed: u64,
    /// Stored in [`format::MetaTuple::code_bits`] (codes' bits per
    /// dimension; 0 for other encodings).
    pub code_bits: u32,
}

impl Default for IndexOptions {
    /// pgvector's defaults: m = 16, ef_construction = 64.
    fn default() -> Self {
        IndexOptions {
            m: 16,
            ef_construction: 64,
            dimensions: 0,
            payload_size: 0,
            space_id: 0,
            quantization: format::QUANTIZATION_NONE,
            code_seed: 0,
            code_bits: 0,
        }
    }
}

impl IndexOptions {
    /// Checks the limits pgvector enforces.
    pub fn validate(&self) -> Result<(), HnswError> {
        if !(format::MIN_M..=format::MAX_M).contains(&self.m) {
            return Err(HnswError::InvalidOption(format!(
                "m must be between {} and {}",
                format::MIN_M,
                format::MAX_M
            )));
        }
        if !(4..=1000).contains(&self.ef_construction) || self.ef_construction < 2 * self.m {
            return Err(HnswError::InvalidOption(
                "ef_construction must be between 4 and 1000 and at least 2 * m".into(),
            ));
        }
        format::check_payload_size(self.payload_size as usize)
    }
}

/// Errors reported to the caller (the pgrx layer turns them into ERRORs).
#[derive(Debug, Clone, PartialEq)]
pub enum HnswError {
    /// A payload larger than an element tuple can hold.
    PayloadTooLarge {
        /// Payload bytes.
        size: usize,
        /// Largest storable payload.
        max: usize,
    },
    /// A payload whose size differs from the index's fixed payload size.
    PayloadSizeMismatch {
        /// Size recorded in the meta page.
        expected: usize,
        /// Size given.
        got: usize,
    },
    /// An invalid index option.
    InvalidOption(String),
    /// The index was written by an unknown format version.
    UnsupportedVersion(u32),
    /// The pages do not look like an HNSW index.
    Corrupted(String),
    /// The progress callback asked to stop.
    Cancelled,
    /// A build or `build_empty` was given a relation that already has pages.
    RelationNotEmpty,
    /// An allocation would pass the operation's memory budget, or the
    /// allocator refused it (`out of memory`, SQLSTATE 53200).
    OutOfMemory {
        /// Bytes asked for.
        requested: usize,
        /// The budget, `usize::MAX` if none (the allocator refused).
        limit: usize,
    },
}

impl fmt::Display for HnswError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HnswError::PayloadTooLarge { size, max } => write!(
                f,
                "vector of {size} bytes is too large for an HNSW index: an element must fit \
                 one 8 KiB page, which leaves at most {max} bytes for the vector"
            ),
            HnswError::PayloadSizeMismatch { expected, got } => write!(
                f,
                "vector of {got} bytes does not match the index's {expected} bytes"
            ),
            HnswError::InvalidOption(msg) => write!(f, "invalid HNSW option: {msg}"),
            HnswError::UnsupportedVersion(v) => write!(
                f,
                "HNSW index format version {v} is not supported by this version \
                 (expected {}); REINDEX the index",
                format::FORMAT_VERSION
            ),
            HnswError::Corrupted(msg) => write!(f, "HNSW index is corrupted: {msg}"),
            HnswError::Cancelled => write!(f, "HNSW operation cancelled"),
            HnswError::RelationNotEmpty => {
                write!(f, "cannot build an HNSW index into a non-empty relation")
            }
            HnswError::OutOfMemory { requested, limit } if *limit == usize::MAX => {
                write!(f, "out of memory: failed on request of size {requested}")
            }
            HnswError::OutOfMemory { requested, limit } => write!(
                f,
                "out of memory: {requested} bytes requested with a budget of {limit} bytes"
            ),
        }
    }
}

impl std::error::Error for HnswError {}
