//! IVFFlat index core for pgvector_rs.
//!
//! * [`Reservoir`] samples the table within a memory budget, [`kmeans`]
//!   trains the list centroids from the sample and [`train_centroids`]
//!   encodes them;
//! * [`IvfBuilder`] writes a new index (meta page, centroid pages, lists);
//! * [`insert`] adds one tuple, [`Scan`] / [`search`] query the index and
//!   [`bulk_delete`] vacuums it.
//!
//! Vector payloads are opaque bytes compared by the caller's [`Space`]; pages
//! are accessed through the `pagestore` [`Relation`](pagestore::Relation)
//! trait, which the pgrx layer implements on Postgres buffers with generic
//! WAL. The on-page layout is documented in [`format`](mod@format).

#![warn(missing_docs)]

mod assign;
mod build;
mod centroids;
mod dot;
mod error;
pub mod format;
mod insert;
pub mod kmeans;
mod lists;
pub mod rabitq;
pub mod rng;
mod sample;
mod search;
mod space;
pub use pagestore::threads;
mod train;
mod vacuum;

pub use build::{BuildStats, IndexParams, IvfBuilder};
pub use centroids::read_meta;
pub use error::IvfError;
pub use insert::{insert, insert_with_codes};
pub use kmeans::Metric;
pub use sample::{kmeans_memory, PgvectorMemory, Reservoir, SampleError, Slot};
pub use search::{search, IterativeScan, Scan, SearchOptions};
pub use space::{DenseEncoding, Element, Space};
pub use train::train_centroids;
pub use vacuum::{bulk_delete, bulk_delete_with_delay, VacuumStats};

#[cfg(test)]
mod testdata;
#[cfg(test)]
mod tests;
