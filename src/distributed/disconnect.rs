//! `postgres_fdw_disconnect(server)` and `postgres_fdw_disconnect_all()` also close the
//! distributed scan's own connections (`conn`), so that what postgres_fdw documents for
//! its connections holds for ours too.
//!
//! Postgres has no hook on a function call, except the one security modules use:
//! `needs_fmgr_hook` says a function must be called through `fmgr_security_definer`,
//! which calls `fmgr_hook` with the called function's `FmgrInfo` before each call. For
//! postgres_fdw's two disconnect functions (and only them: C functions of a library
//! named postgres_fdw with these symbols) the hook points that `FmgrInfo` at a wrapper
//! that calls postgres_fdw's function and then closes our connections to the same
//! server(s). The function's result is postgres_fdw's. Other functions are not touched
//! (the answer per function is cached, and forgotten when pg_proc changes).

use super::util::*;
use pgrx::pg_sys;
use std::collections::HashMap;

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    One,
    All,
}

static mut PREV_NEEDS: pg_sys::needs_fmgr_hook_type = None;
static mut PREV_HOOK: pg_sys::fmgr_hook_type = None;
/// Function oid -> which disconnect function it is (None: another function).
static mut KNOWN: Option<HashMap<pg_sys::Oid, Option<Kind>>> = None;
/// Function oid -> postgres_fdw's C function, for the wrapper (resolved by `classify`).
static mut ORIGINAL: Option<HashMap<pg_sys::Oid, pg_sys::PGFunction>> = None;

fn known() -> &'static mut HashMap<pg_sys::Oid, Option<Kind>> {
    // SAFETY: single-threaded backend; only this module touches it.
    unsafe { (*(&raw mut KNOWN)).get_or_insert_with(HashMap::new) }
}

fn original() -> &'static mut HashMap<pg_sys::Oid, pg_sys::PGFunction> {
    // SAFETY: as in `known`.
    unsafe { (*(&raw mut ORIGINAL)).get_or_insert_with(HashMap::new) }
}

/// Installs the hooks (from `_PG_init`), chained after any installed before.
pub(super) unsafe fn install() {
    // SAFETY: _PG_init runs on the backend's thread before any function call of ours.
    unsafe {
        PREV_NEEDS = pg_sys::needs_fmgr_hook;
        PREV_HOOK = pg_sys::fmgr_hook;
        pg_sys::needs_fmgr_hook = Some(needs_hook);
        pg_sys::fmgr_hook = Some(hook);
        pg_sys::CacheRegisterSyscacheCallback(
            pg_sys::SysCacheIdentifier::PROCOID as core::ffi::c_int,
            Some(forget),
            pg_sys::Datum::from(0usize),
        );
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn forget(_arg: pg_sys::Datum, _cacheid: core::ffi::c_int, _hash: u32) {
    known().clear();
}

/// Which disconnect function `oid` is, from its pg_proc row.
unsafe fn classify(oid: pg_sys::Oid) -> Option<Kind> {
    // SAFETY: a syscache lookup and release; the attributes are read while the tuple
    // is held.
    unsafe {
        let tup = pg_sys::SearchSysCache1(
            pg_sys::SysCacheIdentifier::PROCOID as core::ffi::c_int,
            pg_sys::Datum::from(oid),
        );
        if tup.is_null() {
            return None;
        }
        let form = heap_tuple_struct::<pg_sys::FormData_pg_proc>(tup);
        let mut kind = None;
        // ClanguageId (pg_language.dat): the oid of LANGUAGE C, fixed in every release.
        if (*form).prolang == pg_sys::Oid::from(13u32) {
            let text = |attnum: u32| proc_text(tup, attnum);
            let bin = text(pg_sys::Anum_pg_proc_probin);
            let lib = bin.rsplit('/').next().unwrap_or("");
            if lib == "postgres_fdw" || lib.starts_with("postgres_fdw.") {
                let src = text(pg_sys::Anum_pg_proc_prosrc);
                kind = match src.as_str() {
                    "postgres_fdw_disconnect" => Some(Kind::One),
                    "postgres_fdw_disconnect_all" => Some(Kind::All),
                    _ => None,
                };
                if kind.is_some() {
                    // The C function itself, as fmgr would resolve it, for the wrapper.
                    let bin = std::ffi::CString::new(bin).unwrap_or_default();
                    let src = std::ffi::CString::new(src).unwrap_or_default();
                    let f = pg_sys::load_external_function(
                        bin.as_ptr(),
                        src.as_ptr(),
                        false,
                        core::ptr::null_mut(),
                    );
                    if f.is_null() {
                        kind = None;
                    } else {
                        original().insert(
                            oid,
                            Some(core::mem::transmute::<
                                *mut core::ffi::c_void,
                                unsafe extern "C-unwind" fn(
                                    pg_sys::FunctionCallInfo,
                                )
                                    -> pg_sys::Datum,
                            >(f)),
                        );
                    }
                }
            }
        }
        pg_sys::ReleaseSysCache(tup);
        kind
    }
}

unsafe fn kind(oid: pg_sys::Oid) -> Option<Kind> {
    if let Some(k) = known().get(&oid) {
        return *k;
    }
    // SAFETY: a catalog lookup on the backend's thread.
    let k = unsafe { classify(oid) };
    known().insert(oid, k);
    k
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn needs_hook(oid: pg_sys::Oid) -> bool {
    // SAFETY: the previous hook, if any, is a valid function of the same type.
    unsafe {
        if let Some(prev) = PREV_NEEDS {
            if prev(oid) {
                return true;
            }
        }
        kind(oid).is_some()
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn hook(
    event: pg_sys::FmgrHookEventType::Type,
    flinfo: *mut pg_sys::FmgrInfo,
    arg: *mut pg_sys::Datum,
) {
    // SAFETY: fmgr_security_definer passes the FmgrInfo it is about to call (its own
    // copy, resolved to the C function) and keeps it for the next calls; the wrapper
    // replaces fn_addr and calls what was there.
    unsafe {
        if let Some(prev) = PREV_HOOK {
            prev(event, flinfo, arg);
        }
        if event != pg_sys::FmgrHookEventType::FHET_START {
            return;
        }
        let oid = (*flinfo).fn_oid;
        let Some(k) = kind(oid) else { return };
        let wrapper: pg_sys::PGFunction = Some(match k {
            Kind::One => disconnect_one,
            Kind::All => disconnect_all,
        });
        // postgres_fdw's function was resolved when classified (`original`).
        (*flinfo).fn_addr = wrapper;
    }
}

/// Calls postgres_fdw's function (its result is returned).
unsafe fn call_original(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: the original is postgres_fdw's C function for this oid, called with the
    // call's own arguments.
    unsafe {
        let oid = (*(*fcinfo).flinfo).fn_oid;
        let Some(Some(f)) = original().get(&oid).copied() else {
            pgrx::error!("pgvector_rs: postgres_fdw's disconnect function is not resolved");
        };
        pg_sys::ffi::pg_guard_ffi_boundary(|| f(fcinfo))
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn disconnect_one(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: postgres_fdw_disconnect(text) is STRICT: argument 0 is a non-null text.
    unsafe {
        let result = call_original(fcinfo);
        // postgres_fdw raised an error for an unknown server; the name exists.
        let name = (*(*fcinfo).args.as_ptr()).value;
        let name = pg_sys::text_to_cstring(name.cast_mut_ptr());
        let server = pg_sys::GetForeignServerByName(name, true);
        if !server.is_null() {
            super::conn::disconnect(Some((*server).serverid));
        }
        result
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn disconnect_all(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    // SAFETY: as in disconnect_one.
    unsafe {
        let result = call_original(fcinfo);
        super::conn::disconnect(None);
        result
    }
}
