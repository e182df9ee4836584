//! RaBitQ codes for the indexes: a seeded random rotation, 1- to 8-bit codes
//! of vectors relative to a centroid, and per-query estimators that give
//!
//! * an estimate of the distance (RaBitQ, Gao & Long, SIGMOD 2024; the
//!   multi-bit codes follow extended RaBitQ, Gao et al., SIGMOD 2025),
//! * a confidence interval that holds with high probability (for navigation
//!   and pruning), and
//! * a **provable lower bound** of the exact distance Postgres's operator
//!   computes in f32, for every vector (for rows returned in exact order
//!   after a recheck).
//!
//! ```
//! use quant::{Metric, Quantizer, Rotation};
//! let q = Quantizer::new(Rotation::new(3, 42).unwrap(), 1, Metric::L2).unwrap();
//! let code = q.encode(&[1.0, 2.0, 3.0], None);
//! let est = q.query(&[1.0, 2.0, 4.0], None, 8);
//! let exact = 1.0; // |(1,2,3) - (1,2,4)|
//! assert!(est.lower_bound(&code) <= exact);
//! ```
//!
//! Pure Rust; the hot loop is [`kernel::nibble_dot`] (4-bit codes) or
//! [`kernel::plane_dot`]. Rotations draw their
//! signs from the index crates' shared generator, [`pagestore::rng::SplitMix64`]
//! (the stream of a seed is part of the on-disk format).
#![warn(missing_docs)]

pub mod code;
pub mod estimate;
pub mod kernel;
pub mod rotation;

pub use code::{
    parse_stored_bits, stored_bits, CodeView, Layout, Quantizer, HEADER_BYTES, NIBBLES_FLAG,
};
pub use estimate::{Estimate, Estimator, RotatedQuery, EPS0};
pub use rotation::{Error, Rotation};

/// The distance of an operator class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Metric {
    /// `<->`: Euclidean distance.
    L2,
    /// `<#>`: negative inner product.
    InnerProduct,
    /// `<=>`: cosine distance.
    Cosine,
}
