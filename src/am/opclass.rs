//! From an index's operator class to a [`VectorSpace`], and from column
//! datums to payloads.
//!
//! The operator class is recognised by the C symbol of its support function 1
//! (the distance, as in pgvector) and by whether it has support function 2
//! (the norm, present only for cosine). Recognising our own symbols rather
//! than calling the SQL function through fmgr lets builds compute distances
//! on worker threads with the native kernels; an operator class whose
//! function is not one of ours is rejected with a clean error.

use std::ffi::CStr;

use half::f16;
use pgrx::pg_sys;
use vecspace::{ElementType, Metric, VectorSpace};

use super::error;
use crate::fmgr::detoast;
use crate::types::datum::{bits_from_ptr, dense_from_ptr, sparse_from_ptr};

/// The space of `index`'s (single) key column.
pub unsafe fn index_space(index: pg_sys::Relation, am: &str) -> VectorSpace {
    // SAFETY: `index` is an open index relation with one key column and its operator class's
    // support functions.
    unsafe {
        let distance = pg_sys::index_getprocid(index, 1, 1);
        let has_norm = pg_sys::index_getprocid(index, 1, 2) != pg_sys::InvalidOid;
        let symbol = c_symbol(distance);
        space_for_symbol(&symbol, has_norm).unwrap_or_else(|| {
            error(
                pgrx::PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                &format!(
                    "operator class of index \"{}\" is not supported by {am}",
                    relation_name(index)
                ),
                Some("Use one of the operator classes pgvector_rs defines, such as vector_l2_ops."),
            )
        })
    }
}

/// The space whose support function 1 is the C function `symbol`.
pub fn space_for_symbol(symbol: &str, has_norm: bool) -> Option<VectorSpace> {
    let (element, distance) = if let Some(rest) = symbol.strip_prefix("pgvr_vector_") {
        (ElementType::F32, rest)
    } else if let Some(rest) = symbol.strip_prefix("pgvr_halfvec_") {
        (ElementType::F16, rest)
    } else if let Some(rest) = symbol.strip_prefix("pgvr_sparsevec_") {
        (ElementType::Sparse, rest)
    } else if let Some(rest) = symbol.strip_prefix("pgvr_") {
        (ElementType::Bit, rest)
    } else {
        return None;
    };
    let metric = match distance {
        "l2_squared_distance" | "l2_distance" => Metric::L2,
        "negative_inner_product" if has_norm => Metric::Cosine,
        "negative_inner_product" => Metric::InnerProduct,
        "cosine_distance" => Metric::Cosine,
        "l1_distance" => Metric::L1,
        "hamming_distance" => Metric::Hamming,
        "jaccard_distance" => Metric::Jaccard,
        _ => return None,
    };
    VectorSpace::new(element, metric)
}

/// `pg_proc.prosrc` of a C function: its link symbol.
unsafe fn c_symbol(function: pg_sys::Oid) -> String {
    // SAFETY: the syscache tuple is released on every path after its attribute was copied out.
    unsafe {
        if function == pg_sys::InvalidOid {
            return String::new();
        }
        let tuple = pg_sys::SearchSysCache1(
            pg_sys::SysCacheIdentifier::PROCOID as i32,
            pg_sys::Datum::from(function),
        );
        if tuple.is_null() {
            return String::new();
        }
        let mut isnull = false;
        let datum = pg_sys::SysCacheGetAttr(
            pg_sys::SysCacheIdentifier::PROCOID as i32,
            tuple,
            pg_sys::Anum_pg_proc_prosrc as i16,
            &mut isnull,
        );
        let symbol = if isnull {
            String::new()
        } else {
            let c = pg_sys::text_to_cstring(datum.cast_mut_ptr());
            CStr::from_ptr(c).to_string_lossy().into_owned()
        };
        pg_sys::ReleaseSysCache(tuple);
        symbol
    }
}

/// Name of a relation, for messages.
pub unsafe fn relation_name(rel: pg_sys::Relation) -> String {
    // SAFETY: `rel` is an open relation; `relname` is a NUL-terminated NameData.
    unsafe {
        CStr::from_ptr((*(*rel).rd_rel).relname.data.as_ptr())
            .to_string_lossy()
            .into_owned()
    }
}

/// Type modifier of the key column: the dimension count of `vector(n)`,
/// `halfvec(n)` and `bit(n)`; -1 when unconstrained.
pub unsafe fn key_typmod(index: pg_sys::Relation) -> i32 {
    // SAFETY: `index` is an open index relation; its descriptor has the key attribute.
    unsafe {
        let desc = (*index).rd_att;
        (*(*desc).attrs.as_ptr()).atttypmod
    }
}

/// Dimensions of `index`'s key column, checked against the access method's
/// limit for the element type (`limits` = max dims of vector, halfvec, bit).
/// Sparse vectors have no dimension requirement; 0 is returned for them.
pub unsafe fn checked_dimensions(
    index: pg_sys::Relation,
    space: &VectorSpace,
    am: &str,
    limit: impl Fn(ElementType) -> usize,
    hint: Option<&str>,
) -> usize {
    if space.element() == ElementType::Sparse {
        return 0;
    }
    // SAFETY: the caller passes an open index relation.
    let typmod = unsafe { key_typmod(index) };
    if typmod < 0 {
        error(
            pgrx::PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            "column does not have dimensions",
            Some("Declare the column with a dimension count, as in vector(384), or index an expression with one, as in ((embedding::vector(384))).")
        );
    }
    let max = limit(space.element());
    if typmod as usize > max {
        error(
            pgrx::PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
            &format!("column cannot have more than {max} dimensions for {am} index"),
            hint,
        );
    }
    typmod as usize
}

/// Dimensions of a detoasted vector value of the space's element type.
pub unsafe fn value_dimensions(space: &VectorSpace, ptr: *const u8) -> usize {
    // SAFETY: the caller passes a detoasted value of the space's element type.
    unsafe {
        match space.element() {
            ElementType::F32 => dense_from_ptr::<f32>(ptr).len(),
            ElementType::F16 => dense_from_ptr::<f16>(ptr).len(),
            ElementType::Sparse => sparse_from_ptr(ptr).dim.max(0) as usize,
            ElementType::Bit => bits_from_ptr(ptr).len.max(0) as usize,
        }
    }
}

/// Encodes a (possibly toasted) column value into `out`; false if the
/// value cannot be indexed by this space (zero vector under cosine).
pub unsafe fn encode_datum(space: &VectorSpace, datum: pg_sys::Datum, out: &mut Vec<u8>) -> bool {
    // SAFETY: the caller passes a non-NULL datum of the key column's type.
    unsafe { encode_ptr(space, detoast(datum), out) }
}

/// [`encode_datum`] for an already detoasted value.
pub unsafe fn encode_ptr(space: &VectorSpace, ptr: *const u8, out: &mut Vec<u8>) -> bool {
    // SAFETY: the caller passes a detoasted value of the space's element type.
    unsafe {
        match space.element() {
            ElementType::F32 => {
                let values = dense_from_ptr::<f32>(ptr);
                // Refused values are either unrankable (skipped, as in
                // pgvector) or beyond the storage's range (an error); only
                // the rare refusal pays for telling them apart.
                let encoded = space.encode_f32(values, out);
                if !encoded && !space.fits_storage(values) {
                    error(
                        pgrx::PgSqlErrorCode::ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
                        "vector value out of range for an index with quantization = half",
                        Some("Half precision holds magnitudes up to 65504: ALTER INDEX ... SET (quantization = none) and REINDEX it, or scale the vectors down."),
                    );
                }
                encoded
            }
            ElementType::F16 => space.encode_f16(dense_from_ptr::<f16>(ptr), out),
            ElementType::Sparse => {
                let v = sparse_from_ptr(ptr);
                space.encode_sparse(v.indices, v.values, out)
            }
            ElementType::Bit => space.encode_bits(bits_from_ptr(ptr).bytes, out),
        }
    }
}

/// The table of index `oid`; an ERROR (`wrong_object_type`) saying it is not
/// `an_index` (e.g. "an hnsw index") when `oid` is no index at all.
///
/// # Safety
/// Catalog lookups: call on the backend's thread inside a transaction.
pub unsafe fn heap_of_index(oid: pg_sys::Oid, an_index: &str) -> pg_sys::Oid {
    // SAFETY: the caller's contract; `get_rel_name` returns NULL or a palloc'd
    // NUL-terminated string.
    unsafe {
        let heap_oid = pg_sys::IndexGetRelation(oid, true);
        if heap_oid == pg_sys::InvalidOid {
            let name = pg_sys::get_rel_name(oid);
            let name = if name.is_null() {
                oid.to_u32().to_string()
            } else {
                std::ffi::CStr::from_ptr(name).to_string_lossy().into_owned()
            };
            super::error(
                pgrx::PgSqlErrorCode::ERRCODE_WRONG_OBJECT_TYPE,
                &format!("\"{name}\" is not {an_index}"),
                None,
            );
        }
        heap_oid
    }
}
