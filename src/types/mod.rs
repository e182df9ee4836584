//! The pgvector data types: `vector`, `halfvec`, `sparsevec`, and distances over `bit`.

mod arrays;
mod bits;
pub mod datum;
mod dense;
pub mod element;
mod sparse;
pub mod sphere;
