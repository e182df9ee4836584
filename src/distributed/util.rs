//! Small helpers over Postgres 15 data structures.

use core::ffi::c_char;
use pgrx::pg_sys;

/// Length of a (possibly NIL) List.
pub(super) unsafe fn list_len(l: *mut pg_sys::List) -> usize {
    // SAFETY: l is NULL (NIL) or a valid List.
    unsafe {
        if l.is_null() {
            0
        } else {
            (*l).length as usize
        }
    }
}

/// The i-th pointer of a List (i < list_len).
pub(super) unsafe fn list_nth<T>(l: *mut pg_sys::List, i: usize) -> *mut T {
    // SAFETY: the caller checked i < length; PG 13+ Lists are arrays of cells.
    unsafe { (*(*l).elements.add(i)).ptr_value as *mut T }
}

/// A C string as an owned Rust string ("" for NULL).
pub(super) unsafe fn cstr(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: p is a NUL-terminated C string.
    unsafe { core::ffi::CStr::from_ptr(p).to_string_lossy().into_owned() }
}

/// A text attribute of a pg_proc tuple from the syscache ("" for NULL).
pub(super) unsafe fn proc_text(tup: pg_sys::HeapTuple, attnum: u32) -> String {
    let mut isnull = false;
    // SAFETY: the caller holds `tup`, a PROCOID syscache tuple; the datum is a
    // text read while the tuple is held.
    unsafe {
        let d = pg_sys::SysCacheGetAttr(
            pg_sys::SysCacheIdentifier::PROCOID as core::ffi::c_int,
            tup,
            attnum as pg_sys::AttrNumber,
            &mut isnull,
        );
        if isnull {
            String::new()
        } else {
            cstr(pg_sys::text_to_cstring(d.cast_mut_ptr()))
        }
    }
}

/// GETSTRUCT(tuple).
pub(super) unsafe fn heap_tuple_struct<T>(tup: pg_sys::HeapTuple) -> *mut T {
    // SAFETY: tup is a valid catalog tuple whose data starts with T at t_hoff.
    unsafe {
        let header = (*tup).t_data;
        (header as *mut u8).add((*header).t_hoff as usize) as *mut T
    }
}

/// Raises an ERROR of the distributed scan with its SQLSTATE, detail and hint.
pub(super) fn raise(code: pgrx::PgSqlErrorCode, message: String, detail: Option<String>, hint: Option<String>) -> ! {
    let mut r =
        pgrx::pg_sys::panic::ErrorReport::new(code, message, "pgvector_rs distributed search");
    if let Some(d) = detail {
        r = r.set_detail(d);
    }
    if let Some(h) = hint {
        r = r.set_hint(h);
    }
    r.report(pgrx::PgLogLevel::ERROR);
    unreachable!("an ERROR report does not return")
}
