//! pgvector-compatible external formats for `vector`, `halfvec` and `sparsevec`.
//!
//! Everything a value crosses on its way in or out of the database lives here, free of
//! Postgres, so that it can be tested and fuzzed in milliseconds: the text literals
//! (`[1,2,3]`, `{1:1.5,3:2}/5`), the binary send/receive encoding used by COPY BINARY and
//! binary-protocol drivers, Postgres's shortest float formatting, and the validation rules
//! with pgvector's error messages and SQLSTATEs.

pub mod binary;
pub mod error;
pub mod float;
pub mod limits;
pub mod scan;
pub mod text;

pub use error::{SqlState, VectorError};
