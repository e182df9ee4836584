//! Operator classes as distance spaces.
//!
//! An index stores each vector as a *payload*: the vector's elements in a
//! compact native-endian encoding, normalised when the operator class ranks
//! by cosine distance. [`VectorSpace`] knows, for one (element type, metric)
//! pair, how to encode a vector into a payload and how to compare two
//! payloads. It implements the `Space` traits of the `hnsw` and `ivf` crates,
//! so the pgrx layer only has to detoast a datum and pick the space from the
//! operator class.
//!
//! Payload encodings (all native-endian, starting 8-byte aligned in pages):
//!
//! | element   | payload                                                      |
//! |-----------|--------------------------------------------------------------|
//! | `vector`  | `f32 × dims`                                                 |
//! | `vector`, [`Storage::Half`] | `f16 × dims` (normalised under cosine); queries stay `f32` |
//! | `halfvec` | `f16 × dims`                                                 |
//! | `sparsevec` | `u32 nnz`, `i32 × nnz` indices (0-based, ascending), `f32 × nnz` values |
//! | `bit`     | `ceil(dims / 8)` bytes, most significant bit first           |
//!
//! Distances are "smaller is closer" and ordered like the SQL operators, but
//! need not equal them (squared L2 instead of L2, `-dot` for inner product
//! and, on normalised `vector`/`sparsevec` payloads, for cosine), like
//! pgvector's support function 1. `halfvec` cosine payloads are not
//! normalised (see [`VectorSpace::normalizes`]).

#![warn(missing_docs)]

mod bound;
mod codes;
mod space;

pub use bound::OrderByBound;
pub use codes::{CodeQuery, CodeSpace, CODE_QUERY_BITS};
pub use space::{ElementType, Metric, Storage, VectorSpace};

#[cfg(test)]
mod tests;
