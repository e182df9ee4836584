//! The arithmetic of the dense vector types, free of Postgres: element-wise `+ - *`,
//! concatenation, `subvector`, norms, normalization, binary quantization, ordering, and the
//! float8 state of the `avg` / `sum` aggregates (accumulate, combine, final).
//!
//! Every function reproduces pgvector 0.8.6's results bit for bit (float4 or float8
//! arithmetic where pgvector uses it, half precision rounding for `halfvec`) and returns
//! pgvector's error, with its SQLSTATE and message, where pgvector raises one. The pgrx layer
//! only maps datums onto these functions and raises the errors.
//!
//! [`sparse`] has the few sparsevec operations that are plain arithmetic as well.
//!
//! The distances ([`distance`], and those of [`sparse`]) are the kernels crate's: it owns one
//! implementation of each, in pgvector's order for SQL (`kernels::pgvector`).

// Lane loops index several arrays by lane on purpose: they spell out pgvector's order.
#![allow(clippy::needless_range_loop)]

pub mod aggregate;
pub mod dense;
pub mod distance;
pub mod element;
pub mod sparse;

pub use element::Element;
pub use vecformat::{SqlState, VectorError};

pub type Result<T> = std::result::Result<T, VectorError>;
