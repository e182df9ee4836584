//! The C functions this module calls that are not in the server's symbol table:
//! libpq (loaded by postgres_fdw) and postgres_fdw's exported helpers.
//!
//! Both are resolved at run time, on first use, from libraries postgres_fdw has already
//! loaded, so that loading pgvector_rs never needs libpq or postgres_fdw: a server
//! without them keeps working, and the planner hook simply never finds a foreign table.

use core::ffi::{c_char, c_int, c_void};
use pgrx::pg_sys;

/// libpq's `PGconn` (opaque).
#[repr(C)]
pub struct PGconn {
    _private: [u8; 0],
}
/// libpq's `PGresult` (opaque).
#[repr(C)]
pub struct PGresult {
    _private: [u8; 0],
}

// ExecStatusType values (libpq-fe.h, stable since libpq 7.4).
pub const PGRES_COMMAND_OK: c_int = 1;
pub const PGRES_TUPLES_OK: c_int = 2;
// ConnStatusType / PGTransactionStatusType values (libpq-fe.h).
pub const CONNECTION_OK: c_int = 0;
pub const PQTRANS_IDLE: c_int = 0;
pub const PGRES_PIPELINE_SYNC: c_int = 10;
pub const PGRES_PIPELINE_ABORTED: c_int = 11;

/// libpq's `PGcancel` (opaque).
#[repr(C)]
pub struct PGcancel {
    _private: [u8; 0],
}

// PQresultErrorField codes (postgres_ext.h).
pub const PG_DIAG_SQLSTATE: c_int = b'C' as c_int;
pub const PG_DIAG_MESSAGE_PRIMARY: c_int = b'M' as c_int;
pub const PG_DIAG_MESSAGE_DETAIL: c_int = b'D' as c_int;
pub const PG_DIAG_MESSAGE_HINT: c_int = b'H' as c_int;

#[repr(C)]
pub struct PollFd {
    pub fd: c_int,
    pub events: i16,
    pub revents: i16,
}
pub const POLLIN: i16 = 1;

unsafe extern "C" {
    /// poll(2), used only on the error path where no Postgres function may be called.
    pub fn poll(fds: *mut PollFd, nfds: u64, timeout: c_int) -> c_int;
    fn dlopen(filename: *const c_char, flags: c_int) -> *mut c_void;
    fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
}
const RTLD_NOW: c_int = 2;
const RTLD_NOLOAD: c_int = 4;

/// The libpq functions we use.
#[allow(non_snake_case)]
pub struct Libpq {
    pub PQsendQueryParams: unsafe extern "C" fn(
        *mut PGconn,
        *const c_char,
        c_int,
        *const pg_sys::Oid,
        *const *const c_char,
        *const c_int,
        *const c_int,
        c_int,
    ) -> c_int,
    pub PQgetResult: unsafe extern "C" fn(*mut PGconn) -> *mut PGresult,
    pub PQisBusy: unsafe extern "C" fn(*mut PGconn) -> c_int,
    pub PQconsumeInput: unsafe extern "C" fn(*mut PGconn) -> c_int,
    pub PQsocket: unsafe extern "C" fn(*const PGconn) -> c_int,
    pub PQerrorMessage: unsafe extern "C" fn(*const PGconn) -> *const c_char,
    pub PQresultStatus: unsafe extern "C" fn(*const PGresult) -> c_int,
    pub PQresultErrorField: unsafe extern "C" fn(*const PGresult, c_int) -> *const c_char,
    pub PQntuples: unsafe extern "C" fn(*const PGresult) -> c_int,
    pub PQnfields: unsafe extern "C" fn(*const PGresult) -> c_int,
    pub PQgetvalue: unsafe extern "C" fn(*const PGresult, c_int, c_int) -> *const c_char,
    pub PQgetisnull: unsafe extern "C" fn(*const PGresult, c_int, c_int) -> c_int,
    pub PQclear: unsafe extern "C" fn(*mut PGresult),
    // Pipeline mode (libpq 14+; any protocol-3 server).
    pub PQenterPipelineMode: unsafe extern "C" fn(*mut PGconn) -> c_int,
    pub PQexitPipelineMode: unsafe extern "C" fn(*mut PGconn) -> c_int,
    pub PQpipelineSync: unsafe extern "C" fn(*mut PGconn) -> c_int,
    pub PQflush: unsafe extern "C" fn(*mut PGconn) -> c_int,
    pub PQgetCancel: unsafe extern "C" fn(*mut PGconn) -> *mut PGcancel,
    pub PQcancel: unsafe extern "C" fn(*mut PGcancel, *mut c_char, c_int) -> c_int,
    pub PQfreeCancel: unsafe extern "C" fn(*mut PGcancel),
    // Our own connections (the pipelined-transaction path).
    pub PQconnectdbParams:
        unsafe extern "C" fn(*const *const c_char, *const *const c_char, c_int) -> *mut PGconn,
    pub PQstatus: unsafe extern "C" fn(*const PGconn) -> c_int,
    pub PQtransactionStatus: unsafe extern "C" fn(*const PGconn) -> c_int,
    pub PQconnectionUsedPassword: unsafe extern "C" fn(*const PGconn) -> c_int,
    pub PQexec: unsafe extern "C" fn(*mut PGconn, *const c_char) -> *mut PGresult,
    pub PQfinish: unsafe extern "C" fn(*mut PGconn),
    pub PQsendPrepare: unsafe extern "C" fn(
        *mut PGconn,
        *const c_char,
        *const c_char,
        c_int,
        *const pg_sys::Oid,
    ) -> c_int,
    pub PQsendQueryPrepared: unsafe extern "C" fn(
        *mut PGconn,
        *const c_char,
        c_int,
        *const *const c_char,
        *const c_int,
        *const c_int,
        c_int,
    ) -> c_int,
}

/// postgres_fdw's exported helpers (PostgreSQL 14+ signatures; checked against 15).
#[allow(non_snake_case)]
pub struct Fdw {
    pub GetConnection: unsafe extern "C-unwind" fn(
        *mut pg_sys::UserMapping,
        bool,
        *mut *mut *mut c_void, // PgFdwConnState **
    ) -> *mut PGconn,
    pub ReleaseConnection: unsafe extern "C-unwind" fn(*mut PGconn),
    pub process_pending_request: unsafe extern "C-unwind" fn(*mut c_void),
    /// Replaces the escapes of an application_name (PostgreSQL 15+; None before).
    pub process_pgfdw_appname: Option<unsafe extern "C-unwind" fn(*const c_char) -> *mut c_char>,
    pub set_transmission_modes: unsafe extern "C-unwind" fn() -> c_int,
    pub reset_transmission_modes: unsafe extern "C-unwind" fn(c_int),
    pub is_foreign_expr: unsafe extern "C-unwind" fn(
        *mut pg_sys::PlannerInfo,
        *mut pg_sys::RelOptInfo,
        *mut pg_sys::Expr,
    ) -> bool,
    pub deparseSelectStmtForRel: unsafe extern "C-unwind" fn(
        pg_sys::StringInfo,
        *mut pg_sys::PlannerInfo,
        *mut pg_sys::RelOptInfo,
        *mut pg_sys::List,
        *mut pg_sys::List,
        *mut pg_sys::List,
        bool,
        bool,
        bool,
        *mut *mut pg_sys::List,
        *mut *mut pg_sys::List,
    ),
    /// option.c: the libpq keywords/values among a server's or user mapping's options.
    pub ExtractConnectionOptions: unsafe extern "C-unwind" fn(
        *mut pg_sys::List,
        *mut *const c_char,
        *mut *const c_char,
    ) -> c_int,
}

static mut LIBPQ: Option<Libpq> = None;
static mut FDW: Option<Fdw> = None;

/// One symbol of postgres_fdw, or None (no error) if the library or symbol is missing.
unsafe fn fdw_symbol(name: &core::ffi::CStr) -> Option<*mut c_void> {
    // SAFETY: load_external_function is guarded by pgrx's FFI boundary; with
    // signalNotFound = false it returns NULL instead of raising for a missing symbol
    // (a missing library still raises, which callers avoid by checking the handler
    // first: postgres_fdw is loaded whenever one of its foreign tables was planned).
    let f = unsafe {
        pg_sys::load_external_function(
            c"$libdir/postgres_fdw".as_ptr(),
            name.as_ptr(),
            false,
            core::ptr::null_mut(),
        )
    };
    if f.is_null() {
        None
    } else {
        Some(f as *mut c_void)
    }
}

/// postgres_fdw's helpers, loading them on first use.
pub unsafe fn fdw() -> Option<&'static Fdw> {
    // SAFETY: backends are single-threaded; the static is written once here.
    unsafe {
        let slot = &mut *(&raw mut FDW);
        if slot.is_none() {
            macro_rules! sym {
                ($n:literal) => {
                    core::mem::transmute(fdw_symbol($n)?)
                };
            }
            *slot = Some(Fdw {
                GetConnection: sym!(c"GetConnection"),
                ReleaseConnection: sym!(c"ReleaseConnection"),
                process_pending_request: sym!(c"process_pending_request"),
                process_pgfdw_appname: fdw_symbol(c"process_pgfdw_appname")
                    .map(|p| core::mem::transmute::<*mut c_void, unsafe extern "C-unwind" fn(*const c_char) -> *mut c_char>(p)),
                set_transmission_modes: sym!(c"set_transmission_modes"),
                reset_transmission_modes: sym!(c"reset_transmission_modes"),
                is_foreign_expr: sym!(c"is_foreign_expr"),
                deparseSelectStmtForRel: sym!(c"deparseSelectStmtForRel"),
                ExtractConnectionOptions: sym!(c"ExtractConnectionOptions"),
            });
        }
        slot.as_ref()
    }
}

/// libpq's functions, from the copy postgres_fdw loaded (call [`fdw`] first).
pub unsafe fn libpq() -> Option<&'static Libpq> {
    // SAFETY: single-threaded backend; dlopen with RTLD_NOLOAD only returns a library
    // already in the process (postgres_fdw's dependency), it never loads a new one.
    unsafe {
        let slot = &mut *(&raw mut LIBPQ);
        if slot.is_none() {
            let handle = dlopen(c"libpq.so.5".as_ptr(), RTLD_NOW | RTLD_NOLOAD);
            if handle.is_null() {
                return None;
            }
            macro_rules! sym {
                ($n:literal) => {{
                    let p = dlsym(handle, $n.as_ptr());
                    if p.is_null() {
                        return None;
                    }
                    core::mem::transmute(p)
                }};
            }
            *slot = Some(Libpq {
                PQsendQueryParams: sym!(c"PQsendQueryParams"),
                PQgetResult: sym!(c"PQgetResult"),
                PQisBusy: sym!(c"PQisBusy"),
                PQconsumeInput: sym!(c"PQconsumeInput"),
                PQsocket: sym!(c"PQsocket"),
                PQerrorMessage: sym!(c"PQerrorMessage"),
                PQresultStatus: sym!(c"PQresultStatus"),
                PQresultErrorField: sym!(c"PQresultErrorField"),
                PQntuples: sym!(c"PQntuples"),
                PQnfields: sym!(c"PQnfields"),
                PQgetvalue: sym!(c"PQgetvalue"),
                PQgetisnull: sym!(c"PQgetisnull"),
                PQclear: sym!(c"PQclear"),
                PQenterPipelineMode: sym!(c"PQenterPipelineMode"),
                PQexitPipelineMode: sym!(c"PQexitPipelineMode"),
                PQpipelineSync: sym!(c"PQpipelineSync"),
                PQflush: sym!(c"PQflush"),
                PQgetCancel: sym!(c"PQgetCancel"),
                PQcancel: sym!(c"PQcancel"),
                PQfreeCancel: sym!(c"PQfreeCancel"),
                PQconnectdbParams: sym!(c"PQconnectdbParams"),
                PQstatus: sym!(c"PQstatus"),
                PQtransactionStatus: sym!(c"PQtransactionStatus"),
                PQconnectionUsedPassword: sym!(c"PQconnectionUsedPassword"),
                PQexec: sym!(c"PQexec"),
                PQfinish: sym!(c"PQfinish"),
                PQsendPrepare: sym!(c"PQsendPrepare"),
                PQsendQueryPrepared: sym!(c"PQsendQueryPrepared"),
            });
        }
        slot.as_ref()
    }
}
