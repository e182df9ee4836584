//! Distributed top-k search over postgres_fdw partitions.
//!
//! `SELECT ... FROM parted [WHERE ...] ORDER BY emb <op> $1 LIMIT n [OFFSET m]`, where every
//! partition of `parted` is a postgres_fdw foreign table, is planned as one custom scan
//! ([`plan`]) that sends every partition's server the same search with `LIMIT n + m`,
//! all at once, and merges the results by distance ([`exec`]). The session's search
//! settings (`hnsw.ef_search`, ...) are set locally (as `SET LOCAL` does) in postgres_fdw's
//! remote transactions, in the same libpq pipeline as the search. Any other query shape is planned by Postgres as usual.
//!
//! `pgvector_rs.distributed_search = off` turns it off.

mod conn;
mod disconnect;
mod exec;
mod ffi;
mod plan;
mod track;
mod util;

use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};

pub(crate) const CUSTOM_NAME: &core::ffi::CStr = c"VectorDistributedTopK";

pub(crate) static ENABLED: GucSetting<bool> = GucSetting::<bool>::new(true);
pub(crate) static PIPELINED: GucSetting<bool> = GucSetting::<bool>::new(true);

/// Registers the setting, the custom scan and the planner hook (from `_PG_init`).
pub fn init() {
    GucRegistry::define_bool_guc(
        c"pgvector_rs.distributed_search",
        c"Plans vector top-k queries over postgres_fdw partitions as one distributed search",
        c"Each partition's server runs the ORDER BY ... LIMIT k search with the session's search settings; the results are merged by distance.",
        &ENABLED,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"pgvector_rs.distributed_pipelined_transactions",
        c"Runs a distributed search that is a transaction of its own in self-contained remote transactions, pipelined with the search",
        c"Outside transaction blocks, for a plain SELECT that is its own transaction, the search uses connections of its own and sends START TRANSACTION, the settings, the search and COMMIT to every server at once (one round trip); otherwise, or when off, it runs in postgres_fdw's remote transactions.",
        &PIPELINED,
        GucContext::Userset,
        GucFlags::default(),
    );
    // SAFETY: _PG_init runs once, on the backend's thread; the methods are 'static.
    unsafe {
        pgrx::pg_sys::RegisterCustomScanMethods(&raw const exec::SCAN_METHODS);
        plan::install_hook();
        disconnect::install();
        track::install();
    }
}
