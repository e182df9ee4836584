//! Scan plumbing shared by both access methods.

use pgrx::pg_sys;
use pgrx::PgSqlErrorCode;
use vecspace::{ElementType, VectorSpace};

use super::error;
use super::opclass::{encode_ptr, value_dimensions};
use crate::fmgr::detoast;

/// `amrescan`'s copy of the new scan keys into the descriptor.
pub unsafe fn copy_keys(
    scan: pg_sys::IndexScanDesc,
    keys: pg_sys::ScanKey,
    nkeys: i32,
    orderbys: pg_sys::ScanKey,
    norderbys: i32,
) {
    unsafe {
        if !keys.is_null() && nkeys > 0 && (*scan).numberOfKeys > 0 {
            std::ptr::copy(keys, (*scan).keyData, nkeys as usize);
        }
        if !orderbys.is_null() && norderbys > 0 && (*scan).numberOfOrderBys > 0 {
            std::ptr::copy(orderbys, (*scan).orderByData, norderbys as usize);
        }
    }
}

/// Checks what both access methods require of a scan before it starts.
pub unsafe fn check_scan(scan: pg_sys::IndexScanDesc, am: &str) {
    unsafe {
        if (*scan).numberOfOrderBys == 0 || (*scan).orderByData.is_null() {
            error(
                PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                &format!("cannot scan {am} index without order"),
                Some("Use the index with ORDER BY column <operator> value LIMIT n."),
            );
        }
        let snapshot = (*scan).xs_snapshot;
        let mvcc = !snapshot.is_null()
            && matches!(
                (*snapshot).snapshot_type,
                pg_sys::SnapshotType::SNAPSHOT_MVCC | pg_sys::SnapshotType::SNAPSHOT_HISTORIC_MVCC
            );
        if !mvcc {
            error(
                PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                &format!("non-MVCC snapshots are not supported with {am}"),
                None,
            );
        }
    }
}

/// The query of the first ORDER BY key as a payload of `space`, or `None`
/// if it is NULL. The query must have the index's dimensions (`dims`, 0 if
/// unchecked), else the error the distance operator itself would raise. A
/// query the space cannot normalise (a zero vector under cosine) becomes an
/// all-zero payload, which is equally far from everything, as in pgvector.
pub unsafe fn query_payload(
    scan: pg_sys::IndexScanDesc,
    space: &VectorSpace,
    dims: usize,
) -> Option<Vec<u8>> {
    unsafe {
        let key = &*(*scan).orderByData;
        if key.sk_flags & pg_sys::SK_ISNULL as i32 != 0 {
            return None;
        }
        let ptr = detoast(key.sk_argument);
        let got = value_dimensions(space, ptr);
        if dims != 0 && got != dims {
            let message = match space.element() {
                ElementType::Bit => format!("different bit lengths {dims} and {got}"),
                ElementType::Sparse => format!("different sparsevec dimensions {dims} and {got}"),
                _ => format!("different vector dimensions {dims} and {got}"),
            };
            error(PgSqlErrorCode::ERRCODE_DATA_EXCEPTION, &message, None);
        }
        let mut payload = Vec::new();
        if !encode_ptr(space, ptr, &mut payload) {
            payload = match space.payload_size(got) {
                Some(size) => vec![0; size],
                None => vec![0; 4], // sparse: nnz = 0
            };
        }
        Some(payload)
    }
}

/// `pgstat_count_index_scan(index)` (a macro in C), so that
/// `pg_stat_user_indexes.idx_scan` counts our scans like pgvector's.
pub unsafe fn count_index_scan(index: pg_sys::Relation) {
    unsafe {
        #[cfg(not(any(feature = "pg13", feature = "pg14")))]
        if (*index).pgstat_info.is_null() && (*index).pgstat_enabled {
            pg_sys::pgstat_assoc_relation(index);
        }
        let info = (*index).pgstat_info;
        if info.is_null() {
            return;
        }
        #[cfg(any(feature = "pg13", feature = "pg14", feature = "pg15"))]
        {
            (*info).t_counts.t_numscans += 1;
        }
        #[cfg(not(any(feature = "pg13", feature = "pg14", feature = "pg15")))]
        {
            (*info).counts.numscans += 1;
        }
    }
}
