//! The seeded generator of every random choice in this crate: the one the
//! index crates share (see [`pagestore::rng`]).

pub use pagestore::rng::SplitMix64;
