//! Index access methods: `hnsw` and `ivfflat`.
//!
//! The algorithms live in the pure crates (`hnsw`, `ivf`); this module maps
//! the Postgres callbacks onto them:
//! * [`buffer`]: the page-store trait on the buffer manager with generic WAL;
//! * [`opclass`]: operator class → distance space, datum → payload;
//! * [`quantization`]: the `quantization` option and lower-bound reporting;
//! * [`guc`]: pgvector's GUCs (`hnsw.*`, `ivfflat.*`) and ours;
//! * [`scan`], [`build`]: helpers shared by both access methods;
//! * [`stats`]: what the last scan read, returned and had rechecked.

pub mod buffer;
pub mod build;
pub mod core;
pub mod cost;
pub mod guc;
pub mod hnsw;
pub mod ivfflat;
pub mod opclass;
pub mod quantization;
pub mod recall;
pub mod scan;
pub mod stats;

use pgrx::pg_sys;
use pgrx::PgSqlErrorCode;

/// Raises an ERROR with a SQLSTATE, message and optional hint.
pub fn error(code: PgSqlErrorCode, message: &str, hint: Option<&str>) -> ! {
    let mut report =
        pgrx::pg_sys::panic::ErrorReport::new(code, message.to_string(), "pgvector_rs");
    if let Some(hint) = hint {
        report = report.set_hint(hint.to_string());
    }
    report.report(pgrx::PgLogLevel::ERROR);
    unreachable!("an ERROR report does not return")
}

/// Emits a NOTICE with a detail and a hint.
pub fn notice(message: &str, detail: &str, hint: &str) {
    pgrx::pg_sys::panic::ErrorReport::new(
        PgSqlErrorCode::ERRCODE_SUCCESSFUL_COMPLETION,
        message.to_string(),
        "pgvector_rs",
    )
    .set_detail(detail.to_string())
    .set_hint(hint.to_string())
    .report(pgrx::PgLogLevel::NOTICE);
}

/// True if a query cancel or backend termination is pending. Long loops
/// that run worker threads poll this instead of `CHECK_FOR_INTERRUPTS()`
/// (which would unwind past the threads), stop the workers, then call
/// [`check_for_interrupts`]. Other interrupts (`InterruptPending` alone:
/// sinval catch-up, barriers, ...) are served by the next
/// `CHECK_FOR_INTERRUPTS()` and must not stop the work.
pub fn interrupt_pending() -> bool {
    // SAFETY: volatile reads of `sig_atomic_t` flags that signal handlers set; reading them
    // from any thread cannot fault and at worst sees a value one read late.
    unsafe {
        std::ptr::read_volatile(&raw const pg_sys::QueryCancelPending) != 0
            || std::ptr::read_volatile(&raw const pg_sys::ProcDiePending) != 0
    }
}

/// `CHECK_FOR_INTERRUPTS()`.
pub fn check_for_interrupts() {
    pgrx::check_for_interrupts!();
}

/// `pgstat_progress_update_param`.
pub fn report_progress(param: u32, value: i64) {
    // SAFETY: called on the backend's thread; Postgres ignores it outside a command reporting
    // progress.
    unsafe { pg_sys::pgstat_progress_update_param(param as i32, value) }
}

/// `vacuum_delay_point()`: sleeps for cost-based vacuum delay, checks interrupts.
pub fn vacuum_delay_point() {
    #[cfg(not(feature = "pg18"))]
    // SAFETY: called by VACUUM's callbacks on the backend's thread.
    unsafe {
        pg_sys::vacuum_delay_point()
    }
    #[cfg(feature = "pg18")]
    // SAFETY: called by VACUUM's callbacks on the backend's thread.
    unsafe {
        pg_sys::vacuum_delay_point(false)
    }
}

/// Registers reloptions and GUCs; called from `_PG_init`.
pub fn init() {
    hnsw::register_reloptions();
    ivfflat::register_reloptions();
    guc::register();
    recall::init();
}

crate::pg_function!(type_support, |fcinfo| {
    // Support function 3 of pgvector's halfvec/sparsevec/bit operator
    // classes; pgvector_rs recognises classes by function 1, so this is
    // never called by the access methods and only exists for the catalog.
    let _ = fcinfo;
    pg_sys::Datum::from(0usize)
});

/// The parse entry of an integer reloption stored as an `i32` at `offset`
/// of an access method's options struct.
pub fn int_option(name: &'static std::ffi::CStr, offset: usize) -> pg_sys::relopt_parse_elt {
    pg_sys::relopt_parse_elt {
        optname: name.as_ptr(),
        opttype: pg_sys::relopt_type::RELOPT_TYPE_INT,
        offset: offset as i32,
    }
}

/// `amoptions` of both access methods: parses `reloptions` of the
/// reloption kind `kind` into a palloc'd options struct `T` (a varlena
/// laid out as `table` says).
pub unsafe fn parse_options<T>(
    reloptions: pg_sys::Datum,
    validate: bool,
    kind: &std::sync::atomic::AtomicI32,
    table: &[pg_sys::relopt_parse_elt],
) -> *mut pg_sys::bytea {
    // SAFETY: `reloptions` is the datum Postgres passed to `amoptions`; `table` describes
    // fields inside `T`, whose size is passed along, and the kind was registered in `_PG_init`.
    unsafe {
        pg_sys::build_reloptions(
            reloptions,
            validate,
            kind.load(std::sync::atomic::Ordering::Relaxed) as pg_sys::relopt_kind::Type,
            std::mem::size_of::<T>(),
            table.as_ptr(),
            table.len() as i32,
        ) as *mut pg_sys::bytea
    }
}
