//! On-disk layouts of the three varlena types, identical to pgvector's so that the same
//! bytes mean the same value (int4 alignment, STORAGE external):
//!
//! - vector / halfvec: `int32 vl_len_; int16 dim; int16 unused; T x[dim]`
//! - sparsevec: `int32 vl_len_; int32 dim; int32 nnz; int32 unused; int32 indices[nnz];
//!   float4 values[nnz]` (indices 0-based, strictly ascending, values non-zero)
//! - bit: Postgres's own `VarBit`: `int32 vl_len_; int32 bit_len; uint8 bits[]`

use crate::fmgr::{alloc_varlena, arg_varlena, ptr_datum, varsize};
use pgrx::pg_sys;
use std::mem::size_of;

pub const DENSE_HEADER: usize = 8;
pub const SPARSE_HEADER: usize = 16;
pub const VARBIT_HEADER: usize = 8;

fn corrupted(what: &str) -> ! {
    pgrx::pg_sys::panic::ErrorReport::new(
        pgrx::PgSqlErrorCode::ERRCODE_DATA_CORRUPTED,
        format!("{what} datum is corrupted: its size does not match its header"),
        "pgvector_rs",
    )
    .report(pgrx::PgLogLevel::ERROR);
    unreachable!("an ERROR report does not return")
}

/// Borrow the elements of a dense (vector/halfvec) argument.
pub unsafe fn dense_arg<'a, T: Copy>(fcinfo: pg_sys::FunctionCallInfo, n: usize) -> &'a [T] {
    unsafe { dense_from_ptr(arg_varlena(fcinfo, n)) }
}

/// Borrow the elements of a detoasted dense datum.
pub unsafe fn dense_from_ptr<'a, T: Copy>(ptr: *const u8) -> &'a [T] {
    unsafe {
        let dim = (ptr.add(4) as *const i16).read().max(0) as usize;
        if varsize(ptr) < DENSE_HEADER + dim * size_of::<T>() {
            corrupted("vector");
        }
        std::slice::from_raw_parts(ptr.add(DENSE_HEADER) as *const T, dim)
    }
}

/// Allocate a zeroed dense datum of `dim` elements; fill the returned slice, return the datum.
pub fn new_dense<'a, T: Copy>(dim: usize) -> (pg_sys::Datum, &'a mut [T]) {
    let ptr = alloc_varlena(DENSE_HEADER + dim * size_of::<T>());
    unsafe {
        (ptr.add(4) as *mut i16).write(dim as i16);
        let slice = std::slice::from_raw_parts_mut(ptr.add(DENSE_HEADER) as *mut T, dim);
        (ptr_datum(ptr), slice)
    }
}

/// A dense datum holding a copy of `values`.
pub fn dense_datum<T: Copy>(values: &[T]) -> pg_sys::Datum {
    let (datum, out) = new_dense::<T>(values.len());
    out.copy_from_slice(values);
    datum
}

/// A borrowed sparse vector.
#[derive(Clone, Copy)]
pub struct Sparse<'a> {
    pub dim: i32,
    pub indices: &'a [i32],
    pub values: &'a [f32],
}

pub unsafe fn sparse_arg<'a>(fcinfo: pg_sys::FunctionCallInfo, n: usize) -> Sparse<'a> {
    unsafe { sparse_from_ptr(arg_varlena(fcinfo, n)) }
}

/// Borrow a detoasted sparsevec datum.
pub unsafe fn sparse_from_ptr<'a>(ptr: *const u8) -> Sparse<'a> {
    unsafe {
        let header = ptr.add(4) as *const i32;
        let dim = header.read();
        let nnz = header.add(1).read().max(0) as usize;
        if varsize(ptr) < SPARSE_HEADER + nnz * 8 {
            corrupted("sparsevec");
        }
        let indices = std::slice::from_raw_parts(ptr.add(SPARSE_HEADER) as *const i32, nnz);
        let values =
            std::slice::from_raw_parts(ptr.add(SPARSE_HEADER + nnz * 4) as *const f32, nnz);
        Sparse {
            dim,
            indices,
            values,
        }
    }
}

pub fn sparse_datum(dim: i32, indices: &[i32], values: &[f32]) -> pg_sys::Datum {
    debug_assert_eq!(indices.len(), values.len());
    let nnz = indices.len();
    let ptr = alloc_varlena(SPARSE_HEADER + nnz * 8);
    unsafe {
        let header = ptr.add(4) as *mut i32;
        header.write(dim);
        header.add(1).write(nnz as i32);
        std::ptr::copy_nonoverlapping(indices.as_ptr(), ptr.add(SPARSE_HEADER) as *mut i32, nnz);
        std::ptr::copy_nonoverlapping(
            values.as_ptr(),
            ptr.add(SPARSE_HEADER + nnz * 4) as *mut f32,
            nnz,
        );
    }
    ptr_datum(ptr)
}

/// A borrowed `bit`/`varbit` value.
#[derive(Clone, Copy)]
pub struct Bits<'a> {
    pub len: i32,
    pub bytes: &'a [u8],
}

pub unsafe fn bit_arg<'a>(fcinfo: pg_sys::FunctionCallInfo, n: usize) -> Bits<'a> {
    unsafe { bits_from_ptr(arg_varlena(fcinfo, n)) }
}

/// Borrow a detoasted bit datum.
pub unsafe fn bits_from_ptr<'a>(ptr: *const u8) -> Bits<'a> {
    unsafe {
        let len = (ptr.add(4) as *const i32).read().max(0);
        let nbytes = (len as usize).div_ceil(8);
        if varsize(ptr) < VARBIT_HEADER + nbytes {
            corrupted("bit");
        }
        Bits {
            len,
            bytes: std::slice::from_raw_parts(ptr.add(VARBIT_HEADER), nbytes),
        }
    }
}

/// Allocate a zeroed `bit(len)` datum; fill the returned bytes (most significant bit first).
pub fn new_bits<'a>(len: usize) -> (pg_sys::Datum, &'a mut [u8]) {
    let nbytes = len.div_ceil(8);
    let ptr = alloc_varlena(VARBIT_HEADER + nbytes);
    unsafe {
        (ptr.add(4) as *mut i32).write(len as i32);
        (
            ptr_datum(ptr),
            std::slice::from_raw_parts_mut(ptr.add(VARBIT_HEADER), nbytes),
        )
    }
}
