//! The boundary with Postgres's function manager: defining V1 C functions, reading
//! arguments, returning values and raising errors. Every SQL-callable function of the
//! extension is defined through [`pg_function!`], which wraps the body in pgrx's panic guard
//! so that no Rust panic can unwind into Postgres: a panic becomes an ordinary ERROR.

use pgrx::pg_sys;
use pgrx::PgSqlErrorCode;
use vecformat::{SqlState, VectorError};

/// Define a V1 C-language function whose symbol is `pgvr_<name>` (prefixed so that it can
/// never collide with pgvector's unprefixed symbols when both libraries are loaded).
#[macro_export]
macro_rules! pg_function {
    ($name:ident, |$fcinfo:ident| $body:block) => {
        ::paste::paste! {
            #[unsafe(no_mangle)]
            #[doc(hidden)]
            pub extern "C" fn [<pg_finfo_pgvr_ $name>]() -> &'static ::pgrx::pg_sys::Pg_finfo_record {
                const V1: ::pgrx::pg_sys::Pg_finfo_record = ::pgrx::pg_sys::Pg_finfo_record { api_version: 1 };
                &V1
            }

            #[unsafe(no_mangle)]
            pub unsafe extern "C-unwind" fn [<pgvr_ $name>](
                fcinfo: ::pgrx::pg_sys::FunctionCallInfo,
            ) -> ::pgrx::pg_sys::Datum {
                // The same guard #[pg_guard] and #[pg_extern] use: a Rust panic (including
                // our ereports) is turned into a Postgres ERROR instead of unwinding into C.
                unsafe {
                    ::pgrx::pg_sys::submodules::panic::pgrx_extern_c_guard(|| {
                        let $fcinfo: ::pgrx::pg_sys::FunctionCallInfo = fcinfo;
                        #[allow(unused_unsafe)]
                        unsafe { $body }
                    })
                }
            }
        }
    };
}

/// Raise a user-facing error with its SQLSTATE; never returns.
pub fn raise(error: VectorError) -> ! {
    let code = match error.state {
        SqlState::DataException => PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
        SqlState::InvalidTextRepresentation => PgSqlErrorCode::ERRCODE_INVALID_TEXT_REPRESENTATION,
        SqlState::InvalidBinaryRepresentation => {
            PgSqlErrorCode::ERRCODE_INVALID_BINARY_REPRESENTATION
        }
        SqlState::NumericValueOutOfRange => PgSqlErrorCode::ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
        SqlState::InvalidParameterValue => PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        SqlState::NullValueNotAllowed => PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
        SqlState::ProgramLimitExceeded => PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
        SqlState::ProtocolViolation => PgSqlErrorCode::ERRCODE_PROTOCOL_VIOLATION,
        SqlState::InternalError => PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
    };
    let mut report = pgrx::pg_sys::panic::ErrorReport::new(code, error.message, "pgvector_rs");
    if let Some(detail) = error.detail {
        report = report.set_detail(detail);
    }
    report.report(pgrx::PgLogLevel::ERROR);
    unreachable!("an ERROR report does not return")
}

/// Unwrap a validation result, raising its error.
pub trait OrRaise<T> {
    fn or_raise(self) -> T;
}

impl<T> OrRaise<T> for Result<T, VectorError> {
    #[inline]
    fn or_raise(self) -> T {
        match self {
            Ok(value) => value,
            Err(error) => raise(error),
        }
    }
}

/// The raw datum of argument `n`.
#[inline]
pub unsafe fn arg(fcinfo: pg_sys::FunctionCallInfo, n: usize) -> pg_sys::Datum {
    unsafe { (*fcinfo).args.as_slice(n + 1)[n].value }
}

#[inline]
pub unsafe fn arg_i32(fcinfo: pg_sys::FunctionCallInfo, n: usize) -> i32 {
    unsafe { arg(fcinfo, n).value() as i32 }
}

#[inline]
pub unsafe fn arg_cstr<'a>(fcinfo: pg_sys::FunctionCallInfo, n: usize) -> &'a str {
    let ptr = unsafe { arg(fcinfo, n).cast_mut_ptr::<std::ffi::c_char>() };
    let bytes = unsafe { std::ffi::CStr::from_ptr(ptr) }.to_bytes();
    // The server encoding may not be UTF-8; literals we accept are ASCII, and anything else
    // is reported through a lossy copy rather than rejected for its encoding.
    match std::str::from_utf8(bytes) {
        Ok(s) => s,
        Err(_) => leak_in_memory_context(String::from_utf8_lossy(bytes).into_owned()),
    }
}

/// Keep a Rust string alive for the duration of the call by copying it into palloc'd memory.
fn leak_in_memory_context(s: String) -> &'static str {
    unsafe {
        let ptr = pg_sys::palloc(s.len().max(1)) as *mut u8;
        std::ptr::copy_nonoverlapping(s.as_ptr(), ptr, s.len());
        std::str::from_utf8_unchecked(std::slice::from_raw_parts(ptr, s.len()))
    }
}

/// Detoast argument `n` and return a pointer to its (4-byte header) varlena. Values stored
/// inline and uncompressed are used in place, without the copy `pg_detoast_datum` makes.
#[inline]
pub unsafe fn arg_varlena(fcinfo: pg_sys::FunctionCallInfo, n: usize) -> *const u8 {
    unsafe { detoast(arg(fcinfo, n)) }
}

#[inline]
pub unsafe fn detoast(datum: pg_sys::Datum) -> *const u8 {
    let ptr = datum.cast_mut_ptr::<pg_sys::varlena>();
    // VARATT_IS_4B_U on little-endian: the low two bits of the first byte are 00.
    let first = unsafe { *(ptr as *const u8) };
    if cfg!(target_endian = "little") && first & 0x03 == 0 {
        return ptr as *const u8;
    }
    unsafe { pg_sys::pg_detoast_datum(ptr) as *const u8 }
}

/// Total size of a 4-byte-header varlena.
#[inline]
pub unsafe fn varsize(ptr: *const u8) -> usize {
    unsafe { pgrx::varlena::varsize_any(ptr as *const pg_sys::varlena) }
}

/// palloc0 a varlena of `size` bytes with its header set.
pub fn alloc_varlena(size: usize) -> *mut u8 {
    unsafe {
        let ptr = pg_sys::palloc0(size) as *mut u8;
        pgrx::varlena::set_varsize_4b(ptr as *mut pg_sys::varlena, size as i32);
        ptr
    }
}

#[inline]
pub fn ptr_datum<T>(ptr: *const T) -> pg_sys::Datum {
    pg_sys::Datum::from(ptr as *mut T)
}

#[inline]
pub fn f64_datum(value: f64) -> pg_sys::Datum {
    pg_sys::Datum::from(value.to_bits())
}

#[inline]
pub fn i32_datum(value: i32) -> pg_sys::Datum {
    pg_sys::Datum::from(value)
}

#[inline]
pub fn bool_datum(value: bool) -> pg_sys::Datum {
    pg_sys::Datum::from(value)
}

pub unsafe fn return_null(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    unsafe { (*fcinfo).isnull = true };
    pg_sys::Datum::from(0usize)
}

/// A palloc'd C string for type output functions.
pub fn cstring_datum(s: &str) -> pg_sys::Datum {
    unsafe {
        let ptr = pg_sys::palloc(s.len() + 1) as *mut u8;
        std::ptr::copy_nonoverlapping(s.as_ptr(), ptr, s.len());
        *ptr.add(s.len()) = 0;
        ptr_datum(ptr)
    }
}

/// A palloc'd bytea for type send functions.
pub fn bytea_datum(bytes: &[u8]) -> pg_sys::Datum {
    let ptr = alloc_varlena(pg_sys::VARHDRSZ + bytes.len());
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), ptr.add(pg_sys::VARHDRSZ), bytes.len())
    };
    ptr_datum(ptr)
}

/// The unread bytes of a receive function's StringInfo argument, and a way to mark them read.
pub unsafe fn recv_buffer<'a>(
    fcinfo: pg_sys::FunctionCallInfo,
) -> (&'a [u8], *mut pg_sys::StringInfoData) {
    let buf = unsafe { arg(fcinfo, 0).cast_mut_ptr::<pg_sys::StringInfoData>() };
    let (data, len, cursor) = unsafe {
        (
            (*buf).data as *const u8,
            (*buf).len as usize,
            (*buf).cursor as usize,
        )
    };
    let bytes = unsafe { std::slice::from_raw_parts(data.add(cursor), len - cursor) };
    (bytes, buf)
}

pub unsafe fn consume(buf: *mut pg_sys::StringInfoData, n: usize) {
    unsafe { (*buf).cursor += n as i32 };
}

/// A `text` datum.
pub fn text_datum(s: &str) -> pg_sys::Datum {
    bytea_datum(s.as_bytes())
}

/// A `text` argument as an owned Rust string.
pub unsafe fn text_arg(fcinfo: pg_sys::FunctionCallInfo, n: usize) -> String {
    unsafe {
        let ptr = arg_varlena(fcinfo, n);
        let len = varsize(ptr) - pg_sys::VARHDRSZ;
        let bytes = std::slice::from_raw_parts(ptr.add(pg_sys::VARHDRSZ), len);
        String::from_utf8_lossy(bytes).into_owned()
    }
}
