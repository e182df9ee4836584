//! Postgres arrays at the edges of the vector types: typmod lists, casts from and to
//! `integer[]`, `real[]`, `double precision[]`, `numeric[]`, and the `float8[]` state of the
//! `avg` aggregates.

use crate::fmgr::{arg, detoast, ptr_datum, raise, OrRaise};
use pgrx::pg_sys;
use vecformat::limits::{self, Kind};
use vecformat::{SqlState, VectorError};

unsafe fn array_ptr(fcinfo: pg_sys::FunctionCallInfo, n: usize) -> *mut pg_sys::ArrayType {
    unsafe { detoast(arg(fcinfo, n)) as *mut pg_sys::ArrayType }
}

unsafe fn ndim(array: *const pg_sys::ArrayType) -> i32 {
    unsafe { (*array).ndim }
}

/// ARR_DIMS(array)[0] for a one-dimensional array.
unsafe fn first_dim(array: *const pg_sys::ArrayType) -> i32 {
    unsafe { *((array as *const u8).add(std::mem::size_of::<pg_sys::ArrayType>()) as *const i32) }
}

/// ARR_DATA_PTR for an array without a null bitmap.
unsafe fn data_ptr(array: *const pg_sys::ArrayType) -> *const u8 {
    unsafe {
        let offset = if (*array).dataoffset != 0 {
            (*array).dataoffset as usize
        } else {
            let raw = std::mem::size_of::<pg_sys::ArrayType>() + 2 * 4 * ndim(array) as usize;
            (raw + 7) & !7
        };
        (array as *const u8).add(offset)
    }
}

/// The dimensions listed in a type modifier, e.g. the `3` of `vector(3)`.
pub unsafe fn typmod_list<'a>(fcinfo: pg_sys::FunctionCallInfo) -> &'a [i32] {
    unsafe {
        let array = array_ptr(fcinfo, 0);
        let mut n = 0;
        let list = pg_sys::ArrayGetIntegerTypmods(array, &mut n);
        std::slice::from_raw_parts(list, n.max(0) as usize)
    }
}

/// Elements of a numeric array argument as float4, with pgvector's checks in pgvector's
/// order: shape, nulls, dimension count, typmod, element type. NaN and infinity are left
/// to the caller.
pub unsafe fn array_to_f32<T>(
    fcinfo: pg_sys::FunctionCallInfo,
    kind: Kind,
    typmod: i32,
    mut each: impl FnMut(f32) -> T,
) -> Vec<T> {
    unsafe {
        let array = array_ptr(fcinfo, 0);
        if ndim(array) > 1 {
            raise(VectorError::data("array must be 1-D"));
        }
        if (*array).dataoffset != 0 && pg_sys::array_contains_nulls(array) {
            raise(VectorError::new(
                SqlState::NullValueNotAllowed,
                "array must not contain nulls",
            ));
        }
        let elemtype = (*array).elemtype;
        let (mut typlen, mut typbyval, mut typalign) = (0i16, false, 0 as std::ffi::c_char);
        pg_sys::get_typlenbyvalalign(elemtype, &mut typlen, &mut typbyval, &mut typalign);
        let mut elems: *mut pg_sys::Datum = std::ptr::null_mut();
        let mut count = 0;
        pg_sys::deconstruct_array(
            array,
            elemtype,
            typlen as i32,
            typbyval,
            typalign,
            &mut elems,
            std::ptr::null_mut(),
            &mut count,
        );
        limits::check_dim(kind, count as i64).or_raise();
        limits::check_expected_dim(typmod, count as i64).or_raise();
        let datums = std::slice::from_raw_parts(elems, count as usize);
        let element: unsafe fn(pg_sys::Datum) -> f32 = match elemtype {
            pg_sys::INT4OID => |d| d.value() as i32 as f32,
            pg_sys::FLOAT8OID => |d| f64::from_bits(d.value() as u64) as f32,
            pg_sys::FLOAT4OID => |d| f32::from_bits(d.value() as u32),
            pg_sys::NUMERICOID => |d| {
                // float4(numeric): raises numeric's own out-of-range error when needed.
                // (sound: `d` is a numeric datum of the deconstructed array)
                let f = pg_sys::OidFunctionCall1Coll(
                    pg_sys::Oid::from(pg_sys::F_FLOAT4_NUMERIC),
                    pg_sys::InvalidOid,
                    d,
                );
                f32::from_bits(f.value() as u32)
            },
            _ => raise(VectorError::data("unsupported array type")),
        };
        // Each element is converted and handed to `each` before the next one is read, so
        // errors come in pgvector's order (a numeric's range error after an earlier
        // element's halfvec range error).
        let values: Vec<T> = datums.iter().map(|&d| each(element(d))).collect();
        pg_sys::pfree(elems as *mut std::ffi::c_void);
        // Elements are checked by the caller, at the point pgvector checks them.
        values
    }
}

/// A `real[]` datum.
pub fn float4_array(values: impl ExactSizeIterator<Item = f32>) -> pg_sys::Datum {
    let datums: Vec<pg_sys::Datum> = values.map(|v| pg_sys::Datum::from(v.to_bits())).collect();
    unsafe {
        let array = pg_sys::construct_array(
            datums.as_ptr() as *mut pg_sys::Datum,
            datums.len() as i32,
            pg_sys::FLOAT4OID,
            4,
            true,
            pg_sys::TYPALIGN_INT as std::ffi::c_char,
        );
        ptr_datum(array)
    }
}

/// A `double precision[]` datum (aggregate state).
pub fn float8_array(values: &[f64]) -> pg_sys::Datum {
    let datums: Vec<pg_sys::Datum> = values
        .iter()
        .map(|v| pg_sys::Datum::from(v.to_bits()))
        .collect();
    unsafe {
        let array = pg_sys::construct_array(
            datums.as_ptr() as *mut pg_sys::Datum,
            datums.len() as i32,
            pg_sys::FLOAT8OID,
            8,
            true,
            pg_sys::TYPALIGN_DOUBLE as std::ffi::c_char,
        );
        ptr_datum(array)
    }
}

/// The `float8[]` aggregate state: element 0 is the count, the rest are running sums.
pub unsafe fn state_array<'a>(
    fcinfo: pg_sys::FunctionCallInfo,
    n: usize,
    caller: &str,
) -> &'a [f64] {
    unsafe {
        let array = array_ptr(fcinfo, n);
        if ndim(array) != 1
            || first_dim(array) < 1
            || (*array).dataoffset != 0
            || (*array).elemtype != pg_sys::FLOAT8OID
        {
            pgrx::error!("{caller}: expected state array");
        }
        std::slice::from_raw_parts(data_ptr(array) as *const f64, first_dim(array) as usize)
    }
}
