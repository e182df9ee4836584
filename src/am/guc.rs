//! Configuration parameters. pgvector's names, defaults and ranges, except
//! that `hnsw.ef_search` may exceed pgvector's cap of 1,000.

use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting, PostgresGucEnum};

/// `hnsw.iterative_scan` / `ivfflat.iterative_scan` values.
#[derive(PostgresGucEnum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum IterativeScanMode {
    #[name = c"off"]
    Off,
    #[name = c"relaxed_order"]
    RelaxedOrder,
    #[name = c"strict_order"]
    StrictOrder,
}

/// `ivfflat.iterative_scan` values (no strict order, as in pgvector).
#[derive(PostgresGucEnum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum IvfIterativeScanMode {
    #[name = c"off"]
    Off,
    #[name = c"relaxed_order"]
    RelaxedOrder,
}

/// Largest `hnsw.ef_search`.
pub const MAX_EF_SEARCH: i32 = 100_000;
/// pgvector's `IVFFLAT_MAX_LISTS`: bound of `lists`, `probes`, `max_probes`.
pub const IVFFLAT_MAX_LISTS: i32 = 32_768;

pub static HNSW_EF_SEARCH: GucSetting<i32> = GucSetting::<i32>::new(40);
pub static HNSW_ITERATIVE_SCAN: GucSetting<IterativeScanMode> =
    GucSetting::<IterativeScanMode>::new(IterativeScanMode::Off);
pub static HNSW_MAX_SCAN_TUPLES: GucSetting<i32> = GucSetting::<i32>::new(20_000);
pub static HNSW_SCAN_MEM_MULTIPLIER: GucSetting<f64> = GucSetting::<f64>::new(1.0);
pub static IVFFLAT_PROBES: GucSetting<i32> = GucSetting::<i32>::new(1);
pub static IVFFLAT_ITERATIVE_SCAN: GucSetting<IvfIterativeScanMode> =
    GucSetting::<IvfIterativeScanMode>::new(IvfIterativeScanMode::Off);
pub static IVFFLAT_MAX_PROBES: GucSetting<i32> = GucSetting::<i32>::new(IVFFLAT_MAX_LISTS);
pub static BUILD_THREADS: GucSetting<i32> = GucSetting::<i32>::new(0);

pub fn register() {
    GucRegistry::define_int_guc(
        c"hnsw.ef_search",
        c"Sets the size of the dynamic candidate list for search",
        c"Valid range is 1..100000 (pgvector caps it at 1000).",
        &HNSW_EF_SEARCH,
        1,
        MAX_EF_SEARCH,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_enum_guc(
        c"hnsw.iterative_scan",
        c"Sets the mode for iterative scans",
        c"off, relaxed_order or strict_order.",
        &HNSW_ITERATIVE_SCAN,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"hnsw.max_scan_tuples",
        c"Sets the max number of tuples to visit for iterative scans",
        c"",
        &HNSW_MAX_SCAN_TUPLES,
        1,
        i32::MAX,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_float_guc(
        c"hnsw.scan_mem_multiplier",
        c"Sets the multiple of work_mem to use for iterative scans",
        c"",
        &HNSW_SCAN_MEM_MULTIPLIER,
        1.0,
        1000.0,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"ivfflat.probes",
        c"Sets the number of probes",
        c"Valid range is 1..lists.",
        &IVFFLAT_PROBES,
        1,
        IVFFLAT_MAX_LISTS,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_enum_guc(
        c"ivfflat.iterative_scan",
        c"Sets the mode for iterative scans",
        c"off or relaxed_order.",
        &IVFFLAT_ITERATIVE_SCAN,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"ivfflat.max_probes",
        c"Sets the max number of probes for iterative scans",
        c"",
        &IVFFLAT_MAX_PROBES,
        1,
        IVFFLAT_MAX_LISTS,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"pgvector_rs.build_threads",
        c"Sets the number of threads an index build uses (0: Postgres's parallel maintenance limit)",
        c"By default a build uses the backend and the parallel workers Postgres would plan for it (max_parallel_maintenance_workers, or the table's parallel_workers). A smaller value lowers that; only a superuser's larger value is honoured.",
        &BUILD_THREADS,
        0,
        1024,
        GucContext::Userset,
        GucFlags::default(),
    );
    #[cfg(not(any(feature = "pg13", feature = "pg14")))]
    // SAFETY: called from `_PG_init` with static prefix strings.
    unsafe {
        pgrx::pg_sys::MarkGUCPrefixReserved(c"hnsw".as_ptr());
        pgrx::pg_sys::MarkGUCPrefixReserved(c"ivfflat".as_ptr());
        pgrx::pg_sys::MarkGUCPrefixReserved(c"pgvector_rs".as_ptr());
    }
}

/// Threads for a build's parallel phases, the backend's included, given the
/// `workers` Postgres's rules allow the build besides the backend (see
/// [`crate::am::core::planned_workers`]): `workers + 1` by default;
/// `pgvector_rs.build_threads` may lower it, and raise it only for a
/// superuser (the parameter is settable by anyone, so a role without that
/// privilege cannot take more of the machine than the DBA's parallel
/// maintenance settings give it).
pub fn build_threads(workers: usize) -> usize {
    let limit = workers + 1;
    match BUILD_THREADS.get() {
        n if n <= 0 => limit,
        n if n as usize <= limit => n as usize,
        // SAFETY: `superuser()` reads the session's role; called on the
        // backend's thread.
        n if unsafe { pgrx::pg_sys::superuser() } => n as usize,
        _ => limit,
    }
}

/// `work_mem` in bytes.
pub fn work_mem_bytes() -> usize {
    // SAFETY: reads a GUC variable on the backend's thread.
    unsafe { pgrx::pg_sys::work_mem as usize * 1024 }
}

/// `maintenance_work_mem` in bytes.
pub fn maintenance_work_mem_bytes() -> usize {
    // SAFETY: reads a GUC variable on the backend's thread.
    unsafe { pgrx::pg_sys::maintenance_work_mem as usize * 1024 }
}
