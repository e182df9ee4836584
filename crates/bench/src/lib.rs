//! `pgvector_rs-bench`: a reproducible ANN benchmark for pgvector-compatible
//! PostgreSQL extensions. See README.md for usage.

pub mod cli;
pub mod commands;
pub mod dataset;
pub mod db;
pub mod groundtruth;
pub mod latency;
pub mod metric;
pub mod plot;
pub mod progress;
pub mod recall;
pub mod report;
pub mod sweep;
pub mod target;
