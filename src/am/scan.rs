//! Scan plumbing shared by both access methods.

use pgrx::pg_sys;
use pgrx::PgSqlErrorCode;
use vecspace::{ElementType, OrderByBound, VectorSpace};

use super::opclass::{encode_ptr, value_dimensions};
use super::{error, quantization};
use crate::fmgr::detoast;

/// `amrescan`'s copy of the new scan keys into the descriptor.
pub unsafe fn copy_keys(
    scan: pg_sys::IndexScanDesc,
    keys: pg_sys::ScanKey,
    nkeys: i32,
    orderbys: pg_sys::ScanKey,
    norderbys: i32,
) {
    // SAFETY: Postgres passes key arrays of the given lengths, and the descriptor's own arrays
    // were sized by `ambeginscan`.
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
    // SAFETY: `scan` is a descriptor of one of our indexes; its snapshot is NULL or valid.
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
    // SAFETY: `check_scan` ensured an ORDER BY key; its argument is a datum of the key column's
    // type.
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
    // SAFETY: `index` is an open relation; its `pgstat_info` is NULL or the backend's entry for
    // it.
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

/// The space a scan compares its query with stored payloads in: the query
/// is a payload of the index space's [`VectorSpace::query_space`]; a NULL
/// query is at distance 0 from everything (rows come back in index order,
/// as in pgvector).
#[derive(Clone, Copy)]
pub struct QuerySpace {
    space: VectorSpace,
    null_query: bool,
}

impl QuerySpace {
    #[inline]
    fn distance(&self, query: &[u8], stored: &[u8]) -> f32 {
        if self.null_query {
            0.0
        } else {
            self.space.query_distance(query, stored)
        }
    }
}

impl ::hnsw::Space for QuerySpace {
    #[inline]
    fn distance(&self, query: &[u8], stored: &[u8]) -> f32 {
        QuerySpace::distance(self, query, stored)
    }
}

impl ::ivf::Space for QuerySpace {
    #[inline]
    fn distance(&self, query: &[u8], stored: &[u8]) -> f32 {
        QuerySpace::distance(self, query, stored)
    }

    fn query_size(&self, stored_size: usize) -> usize {
        ::ivf::Space::query_size(&self.space, stored_size)
    }
}

/// What a scan fixes about its query when it starts.
#[derive(Clone, Copy)]
pub struct ScanQuery {
    /// Compares the query with stored payloads.
    pub space: QuerySpace,
    /// For half-precision storage: how to report each row's ORDER BY value
    /// as a lower bound for the executor to recheck.
    pub bound: Option<OrderByBound>,
}

impl ScanQuery {
    /// Reports the row just returned, at index distance `distance`, to the
    /// executor (see [`quantization::report_row`]).
    pub unsafe fn report_row(&self, scan: pg_sys::IndexScanDesc, distance: f32) {
        // SAFETY: the caller passes the scan this query was started for.
        unsafe { quantization::report_row(scan, self.bound.map(|b| b.lower_bound(distance))) }
    }
}

/// Encodes the scan's query for an index of `space` and `dims` dimensions:
/// the query payload (zeros for a NULL query) and what the scan keeps about
/// it. `max_payload_norm` reads the index's largest stored norm, if the
/// space's lower bounds need it.
pub unsafe fn start_query(
    scan: pg_sys::IndexScanDesc,
    space: VectorSpace,
    dims: usize,
    max_payload_norm: impl FnOnce() -> f64,
) -> (Vec<u8>, ScanQuery) {
    let query_space = space.query_space();
    // SAFETY: the caller passes a checked scan of one of our indexes.
    let payload = unsafe { query_payload(scan, &query_space, dims) };
    let bound = payload
        .as_ref()
        .and_then(|query| space.order_by_bound(query, dims, max_payload_norm));
    let query = ScanQuery {
        space: QuerySpace {
            space,
            null_query: payload.is_none(),
        },
        bound,
    };
    let payload = payload.unwrap_or_else(|| vec![0; query_space.payload_size(dims).unwrap_or(0)]);
    (payload, query)
}

/// `ambeginscan` of both access methods: the scan descriptor, with the
/// arrays ORDER BY values are reported in and `state` as its opaque (owned
/// by the scan's memory context, dropped with it).
pub unsafe fn begin_scan<T>(
    index: pg_sys::Relation,
    nkeys: i32,
    norderbys: i32,
    state: T,
) -> pg_sys::IndexScanDesc {
    // SAFETY: `index` is open; the state is moved into the scan's memory context, which drops
    // it when the scan's context is deleted.
    unsafe {
        let scan = pg_sys::RelationGetIndexScan(index, nkeys, norderbys);
        quantization::alloc_orderby_values(scan, norderbys);
        let state = pgrx::PgMemoryContexts::CurrentMemoryContext.leak_and_drop_on_delete(state);
        (*scan).opaque = state as *mut std::ffi::c_void;
        scan
    }
}
