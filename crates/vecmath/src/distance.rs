//! The SQL distances of `vector` and `halfvec`, exactly as pgvector 0.8.6 computes them.
//!
//! They live in the kernels crate ([`kernels::pgvector`]), which owns every distance: its
//! portable path is this same code, and its SIMD paths serve the indexes. This module only
//! names them for the SQL layer.

pub use kernels::pgvector::{
    half_cosine_distance, half_cosine_similarity, half_dot, half_l1, half_l2_squared,
    vector_cosine_distance, vector_cosine_similarity, vector_dot, vector_l1, vector_l2_squared,
};
