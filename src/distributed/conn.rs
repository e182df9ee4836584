//! Our own connections to the data nodes, for the pipelined-transaction path.
//!
//! postgres_fdw opens each remote transaction with a synchronous `START TRANSACTION`
//! (one round trip per server, one after the other) and commits each at the end of the
//! local transaction (another round trip). On a loaded machine every round trip is a
//! wake-up of two processes. When the statement cannot observe the difference (see
//! `exec::direct_allowed`), the search runs instead on a connection of ours, as one
//! pipeline per server sent to all at once: the settings (only those set on the head),
//! the search, Sync; the search is then a remote transaction of its own (the pipeline's
//! implicit one, committed at the Sync), or `START TRANSACTION ISOLATION LEVEL
//! REPEATABLE READ READ ONLY` ... `COMMIT` around the searches when one server holds
//! several partitions, so they share a snapshot. Nothing stays open on the connection
//! between statements, so no transaction callback is needed: on an error the connection
//! is cancelled and closed (the next statement connects again).
//!
//! Connections are made as postgres_fdw makes them: the server's and the user mapping's
//! libpq options (through postgres_fdw's own `ExtractConnectionOptions`), the same
//! password rules for non-superusers, the same session settings (`search_path`,
//! `timezone`, `datestyle`, `intervalstyle`, `extra_float_digits`), one external file
//! descriptor reserved per connection. They are cached per user mapping and dropped when
//! a server or user mapping changes.

use super::ffi::{self, PGconn};
use super::util::*;
use core::ffi::{c_char, c_int};
use pgrx::pg_sys;
use pgrx::PgSqlErrorCode;
use std::ffi::CString;

/// `application_name` fallback of our connections (visible in the data nodes'
/// pg_stat_activity).
pub(super) const APPLICATION_NAME: &str = "pgvector_rs_distributed";

struct Cached {
    umid: pg_sys::Oid,
    /// The foreign server it connects to (for `postgres_fdw_disconnect(server)`).
    serverid: pg_sys::Oid,
    conn: *mut PGconn,
    /// The server's `keep_connections` option (postgres_fdw's, default on): when off,
    /// the connection is closed after each use, as postgres_fdw closes its own at the
    /// end of each transaction.
    keep: bool,
    /// Closed at its next use (a disconnect asked for while a search was using it).
    stale: bool,
    /// `GENERATION` when it was made: older ones are closed at their next use.
    generation: u64,
    /// The SQL of the statements prepared on it; statement i is `pgvector_rs_<i>`.
    prepared: Vec<String>,
}

/// Statements prepared per connection at most (more run unnamed).
const MAX_PREPARED: usize = 256;

/// The name of `sql`'s prepared statement on our connection `conn`, and whether it
/// still has to be prepared (the caller sends the Prepare in the same pipeline; if
/// anything fails there the connection is discarded, and with it this record). None:
/// not one of ours, or too many statements: run it unnamed.
pub(super) fn prepared_name(conn: *mut PGconn, sql: &str) -> Option<(CString, bool)> {
    let e = cache().iter_mut().find(|e| e.conn == conn)?;
    let (i, new) = match e.prepared.iter().position(|p| p == sql) {
        Some(i) => (i, false),
        None if e.prepared.len() < MAX_PREPARED => {
            e.prepared.push(sql.to_string());
            (e.prepared.len() - 1, true)
        }
        None => return None,
    };
    Some((CString::new(format!("pgvector_rs_{i}")).unwrap(), new))
}

static mut CACHE: Vec<Cached> = Vec::new();
static mut CALLBACKS: bool = false;
/// Bumped when a server or user mapping changes.
static mut GENERATION: u64 = 0;

fn cache() -> &'static mut Vec<Cached> {
    // SAFETY: backends are single-threaded; only this module touches the cache.
    unsafe { &mut *(&raw mut CACHE) }
}

/// Close a connection of ours (libpq only, plus the file-descriptor count: callable on
/// the error path).
pub(super) unsafe fn close(pq: &ffi::Libpq, conn: *mut PGconn) {
    // SAFETY: conn is one of ours, open; it is forgotten by the caller.
    unsafe {
        (pq.PQfinish)(conn);
        pg_sys::ReleaseExternalFD();
    }
}

/// Forget and close `conn` (after an error on it).
pub(super) unsafe fn discard(pq: &ffi::Libpq, conn: *mut PGconn) {
    let c = cache();
    if let Some(i) = c.iter().position(|e| e.conn == conn) {
        c.swap_remove(i);
        // SAFETY: it was in the cache, so it is ours and open.
        unsafe { close(pq, conn) };
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn invalidate(_arg: pg_sys::Datum, _cacheid: c_int, _hash: u32) {
    // A server or user mapping changed: the connections made before are closed when
    // next asked for (not here: invalidations can arrive while a search is using one),
    // and the next search connects with the new options.
    // SAFETY: single-threaded backend.
    unsafe { GENERATION += 1 }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn at_exit(_code: c_int, _arg: pg_sys::Datum) {
    // A clean Terminate message for the data nodes.
    // SAFETY: libpq only; the cache holds open connections of ours.
    unsafe {
        if let Some(pq) = ffi::libpq() {
            for e in cache().drain(..) {
                close(pq, e.conn);
            }
        }
    }
}

/// postgres_fdw's `keep_connections` server option (default true).
unsafe fn keep_connections(server: *mut pg_sys::ForeignServer) -> bool {
    // SAFETY: the server's options are a List of DefElem.
    unsafe {
        for i in 0..list_len((*server).options) {
            let d = list_nth::<pg_sys::DefElem>((*server).options, i);
            if cstr((*d).defname) == "keep_connections" {
                return pg_sys::defGetBoolean(d);
            }
        }
        true
    }
}

/// After a search used `conn`: close it if its server says `keep_connections 'off'`.
pub(super) unsafe fn release(pq: &ffi::Libpq, conn: *mut PGconn) {
    let keep = cache().iter().find(|e| e.conn == conn).is_some_and(|e| e.keep && !e.stale);
    if !keep {
        // SAFETY: conn is one of ours (or already forgotten, then nothing happens).
        unsafe { discard(pq, conn) };
    }
}

/// Whether a search is using our connections now (then a disconnect only marks them).
static mut BUSY: bool = false;

/// Marks our connections in use (true) or not (false) by the running search.
pub(super) fn set_busy(busy: bool) {
    // SAFETY: single-threaded backend.
    unsafe { BUSY = busy }
}

/// Close our connections to `server` (all servers when None), as
/// `postgres_fdw_disconnect(server)` / `postgres_fdw_disconnect_all()` close
/// postgres_fdw's. Nothing stays open on ours between statements, so they can go at once
/// (if a search is using them right now, they go at their next use).
pub(super) unsafe fn disconnect(server: Option<pg_sys::Oid>) {
    // SAFETY: single-threaded backend; libpq calls on connections of ours.
    unsafe {
        let Some(pq) = ffi::libpq() else { return };
        let busy = BUSY;
        let c = cache();
        let mut i = 0;
        while i < c.len() {
            if server.is_none_or(|s| c[i].serverid == s) {
                if busy {
                    c[i].stale = true;
                } else {
                    let e = c.swap_remove(i);
                    close(pq, e.conn);
                    continue;
                }
            }
            i += 1;
        }
    }
}

/// postgres_fdw's `password_required` user-mapping option (default true).
unsafe fn password_required(user: *mut pg_sys::UserMapping) -> bool {
    // SAFETY: the user mapping's options are a List of DefElem.
    unsafe {
        for i in 0..list_len((*user).options) {
            let d = list_nth::<pg_sys::DefElem>((*user).options, i);
            if cstr((*d).defname) == "password_required" {
                return pg_sys::defGetBoolean(d);
            }
        }
        true
    }
}

/// An idle connection of ours for this user mapping, made if needed. Call it once per
/// user mapping and statement (a connection it returned stays valid until then).
pub(super) unsafe fn get(
    pq: &ffi::Libpq,
    fdw: &ffi::Fdw,
    user: *mut pg_sys::UserMapping,
    server_name: &str,
) -> *mut PGconn {
    // SAFETY: catalog structures from GetUserMapping/GetForeignServer; libpq calls on
    // connections of ours.
    unsafe {
        if !CALLBACKS {
            pg_sys::CacheRegisterSyscacheCallback(
                pg_sys::SysCacheIdentifier::FOREIGNSERVEROID as c_int,
                Some(invalidate),
                pg_sys::Datum::from(0usize),
            );
            pg_sys::CacheRegisterSyscacheCallback(
                pg_sys::SysCacheIdentifier::USERMAPPINGOID as c_int,
                Some(invalidate),
                pg_sys::Datum::from(0usize),
            );
            pg_sys::on_proc_exit(Some(at_exit), pg_sys::Datum::from(0usize));
            CALLBACKS = true;
        }
        let umid = (*user).umid;
        if let Some(i) = cache().iter().position(|e| e.umid == umid) {
            let conn = cache()[i].conn;
            if cache()[i].generation == GENERATION
                && !cache()[i].stale
                && (pq.PQstatus)(conn) == ffi::CONNECTION_OK
                && (pq.PQtransactionStatus)(conn) == ffi::PQTRANS_IDLE
            {
                return conn;
            }
            cache().swap_remove(i);
            close(pq, conn);
        }
        let conn = connect(pq, fdw, user, server_name);
        let server = pg_sys::GetForeignServer((*user).serverid);
        cache().push(Cached {
            umid,
            serverid: (*user).serverid,
            conn,
            keep: keep_connections(server),
            stale: false,
            generation: GENERATION,
            prepared: Vec::new(),
        });
        conn
    }
}

unsafe fn connect(
    pq: &ffi::Libpq,
    fdw: &ffi::Fdw,
    user: *mut pg_sys::UserMapping,
    server_name: &str,
) -> *mut PGconn {
    // SAFETY: as in `get`; the keyword/value strings live in the catalog lists and in
    // the CStrings below until PQconnectdbParams returns.
    unsafe {
        let server = pg_sys::GetForeignServer((*user).serverid);
        let n = list_len((*server).options) + list_len((*user).options) + 4;
        let mut keys: Vec<*const c_char> = vec![core::ptr::null(); n];
        let mut vals: Vec<*const c_char> = vec![core::ptr::null(); n];
        let mut i = pg_sys::ffi::pg_guard_ffi_boundary(|| {
            (fdw.ExtractConnectionOptions)((*server).options, keys.as_mut_ptr(), vals.as_mut_ptr())
        }) as usize;
        i += pg_sys::ffi::pg_guard_ffi_boundary(|| {
            (fdw.ExtractConnectionOptions)(
                (*user).options,
                keys.as_mut_ptr().add(i),
                vals.as_mut_ptr().add(i),
            )
        }) as usize;
        // application_name as postgres_fdw sets it: postgres_fdw.application_name
        // overrides the server's and user mapping's, and the last non-empty one, with
        // its escapes (%a, %u, %d, %p, ...) replaced, is used.
        let fdw_appname = pg_sys::GetConfigOption(c"postgres_fdw.application_name".as_ptr(), true, false);
        if !fdw_appname.is_null() && *fdw_appname != 0 {
            keys[i] = c"application_name".as_ptr();
            vals[i] = fdw_appname;
            i += 1;
        }
        for j in (0..i).rev() {
            if cstr(keys[j]) == "application_name" && !vals[j].is_null() && *vals[j] != 0 {
                let name = match fdw.process_pgfdw_appname {
                    Some(f) => pg_sys::ffi::pg_guard_ffi_boundary(|| f(vals[j])) as *const c_char,
                    None => vals[j],
                };
                if *name != 0 {
                    vals[j] = name;
                    break;
                }
                // Empty after the escapes: not used, the previous one may be.
                vals[j] = core::ptr::null();
            }
        }
        let app = CString::new(APPLICATION_NAME).unwrap();
        keys[i] = c"fallback_application_name".as_ptr();
        vals[i] = app.as_ptr();
        i += 1;
        keys[i] = c"client_encoding".as_ptr();
        vals[i] = pg_sys::GetDatabaseEncodingName();
        i += 1;
        keys[i] = core::ptr::null();
        vals[i] = core::ptr::null();

        // postgres_fdw's rule: a non-superuser must connect with a password unless a
        // superuser set password_required = false on the user mapping.
        let must_use_password = !pg_sys::superuser_arg((*user).userid) && password_required(user);
        let no_password = || -> ! {
            raise(
                PgSqlErrorCode::ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED,
                "password is required".into(),
                Some("Non-superuser cannot connect if the server does not request a password.".into()),
                Some("Target server's authentication method must be changed or set the password_required=false in the user mapping attributes.".into()),
            )
        };
        if must_use_password
            && !(0..i).any(|j| cstr(keys[j]) == "password" && !cstr(vals[j]).is_empty())
        {
            no_password();
        }

        if !pg_sys::AcquireExternalFD() {
            raise(
                PgSqlErrorCode::ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
                format!("could not connect to server \"{server_name}\""),
                Some("There are too many open files on the local server.".into()),
                Some(
                    "Raise the server's max_files_per_process and/or \"ulimit -n\" limits.".into(),
                ),
            );
        }
        let conn = (pq.PQconnectdbParams)(keys.as_ptr(), vals.as_ptr(), 0);
        if conn.is_null() || (pq.PQstatus)(conn) != ffi::CONNECTION_OK {
            let detail = if conn.is_null() {
                "out of memory".to_string()
            } else {
                cstr((pq.PQerrorMessage)(conn)).trim_end().to_string()
            };
            if conn.is_null() {
                pg_sys::ReleaseExternalFD();
            } else {
                close(pq, conn);
            }
            raise(
                PgSqlErrorCode::ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
                format!("could not connect to server \"{server_name}\""),
                Some(detail),
                None,
            );
        }
        if must_use_password && (pq.PQconnectionUsedPassword)(conn) == 0 {
            close(pq, conn);
            no_password();
        }
        // postgres_fdw's remote session settings: values are sent and read back in
        // unambiguous forms, names are resolved only by their qualified spelling.
        let r = (pq.PQexec)(
            conn,
            c"SET search_path = pg_catalog; SET timezone = 'UTC'; SET datestyle = ISO; SET intervalstyle = postgres; SET extra_float_digits = 3".as_ptr(),
        );
        let ok = !r.is_null() && (pq.PQresultStatus)(r) == ffi::PGRES_COMMAND_OK;
        if !r.is_null() {
            (pq.PQclear)(r);
        }
        if !ok {
            let detail = cstr((pq.PQerrorMessage)(conn)).trim_end().to_string();
            close(pq, conn);
            raise(
                PgSqlErrorCode::ERRCODE_SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION,
                format!("could not configure the connection to server \"{server_name}\""),
                Some(detail),
                None,
            );
        }
        conn
    }
}
