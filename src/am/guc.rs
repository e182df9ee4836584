//! Configuration parameters. pgvector's names, defaults and ranges, except
//! that `hnsw.ef_search` may exceed pgvector's cap of 1,000.

use std::ffi::CStr;

use pgrx::pg_sys;
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
/// `pgvector_rs.target_recall`: 0 (off) or the recall@k scans aim for.
pub static TARGET_RECALL: GucSetting<f64> = GucSetting::<f64>::new(0.0);
/// `pgvector_rs.calibrate_on_build`: whether CREATE INDEX / REINDEX measure
/// the recall calibration (on by default).
pub static CALIBRATE_ON_BUILD: GucSetting<bool> = GucSetting::<bool>::new(true);

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
    GucRegistry::define_float_guc(
        c"pgvector_rs.target_recall",
        c"Sets the recall@k that hnsw and ivfflat scans aim for (0: off)",
        c"A calibrated index picks the smallest ef_search or probes whose recall on a sample of its rows reaches the target for the query's LIMIT. An explicitly set hnsw.ef_search or ivfflat.probes wins.",
        &TARGET_RECALL,
        0.0,
        1.0,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"pgvector_rs.calibrate_on_build",
        c"Sets whether an hnsw or ivfflat build measures the index's recall calibration",
        c"Off: the index is built without a calibration (recall targets ignore it until pgvector_rs_calibrate measures one); the build is faster by the calibration's time.",
        &CALIBRATE_ON_BUILD,
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

/// True if parameter `name` (one of ours) has a value from anywhere but
/// its built-in default: `postgresql.conf`, `ALTER DATABASE/ROLE ... SET`,
/// the client's startup packet, `SET` or `SET LOCAL` (its source is above
/// `PGC_S_DEFAULT`). Index options for default search settings apply only
/// when it is not. `RESET` brings the source back to the default.
pub fn explicitly_set(name: &CStr) -> bool {
    let record = guc_record(name);
    // SAFETY: `record` is NULL or one of the GUC table's `config_generic`
    // records (allocated once per backend by `define_custom_*_variable` and
    // never freed); read on the backend's thread.
    unsafe { record.as_ref() }.is_some_and(|r| r.source > pg_sys::GucSource::PGC_S_DEFAULT)
}

/// The GUC table's record of `name`, found by a linear search the first
/// time and cached (records of defined variables never move; only the
/// array of pointers to them is reallocated when variables are added).
fn guc_record(name: &CStr) -> *mut pg_sys::config_generic {
    thread_local! {
        static CACHE: std::cell::RefCell<Vec<(&'static CStr, usize)>> =
            const { std::cell::RefCell::new(Vec::new()) };
    }
    let cached = CACHE.with(|c| {
        c.borrow()
            .iter()
            .find(|(n, _)| n.to_bytes() == name.to_bytes())
            .map(|&(_, p)| p)
    });
    if let Some(p) = cached {
        return p as *mut pg_sys::config_generic;
    }
    // SAFETY: the GUC table is a backend-local array of
    // `GetNumConfigOptions()` valid record pointers; read on the backend's
    // thread; `name` fields are NUL-terminated strings.
    let found = unsafe {
        let vars = pg_sys::get_guc_variables();
        let n = pg_sys::GetNumConfigOptions().max(0) as usize;
        (0..n)
            .map(|i| *vars.add(i))
            .find(|&r| {
                !r.is_null()
                    && !(*r).name.is_null()
                    && CStr::from_ptr((*r).name)
                        .to_bytes()
                        .eq_ignore_ascii_case(name.to_bytes())
                    // A placeholder (a value set before the library was
                    // loaded) is replaced by the real record at definition.
                    && (*r).flags & pg_sys::GUC_CUSTOM_PLACEHOLDER as i32 == 0
            })
            .unwrap_or(std::ptr::null_mut())
    };
    if !found.is_null() {
        let leaked: &'static CStr = Box::leak(name.to_owned().into_boxed_c_str());
        CACHE.with(|c| c.borrow_mut().push((leaked, found as usize)));
    }
    found
}

/// Where a scan's search setting came from (shown by EXPLAIN).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SettingSource {
    /// The GUC, set explicitly (session, role, database or server).
    Guc,
    /// The index's option (`WITH (ef_search = ...)` / `WITH (probes = ...)`).
    IndexOption,
    /// The GUC's built-in default.
    Default,
    /// `pgvector_rs.target_recall` and the index's calibration.
    TargetRecall,
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
