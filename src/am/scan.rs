//! Scan plumbing shared by both access methods.

use pgrx::pg_sys;
use pgrx::PgSqlErrorCode;
use vecspace::{ElementType, Metric, OrderByBound, VectorSpace};

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

/// Checks what both access methods require of a scan before it starts: an ORDER BY
/// or a radius clause, and an MVCC snapshot.
pub unsafe fn check_scan(scan: pg_sys::IndexScanDesc, am: &str) {
    // SAFETY: `scan` is a descriptor of one of our indexes; its snapshot is NULL or valid.
    unsafe {
        let ordered = (*scan).numberOfOrderBys > 0 && !(*scan).orderByData.is_null();
        let keyed = (*scan).numberOfKeys > 0 && !(*scan).keyData.is_null();
        if !ordered && !keyed {
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
        Some(payload_of(detoast(key.sk_argument), space, dims))
    }
}

/// The payload of `space` of the detoasted value `ptr` of the key column's type (see
/// [`query_payload`]).
pub unsafe fn payload_of(ptr: *const u8, space: &VectorSpace, dims: usize) -> Vec<u8> {
    // SAFETY: the caller passes a detoasted value of the key column's type.
    unsafe {
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
        payload
    }
}

/// The radius clause of a scan (`emb <<->> sphere(q, r)`, strategy 2).
pub enum SphereKey {
    /// No radius clause: an ordered scan.
    Absent,
    /// A NULL sphere, a sphere with a NULL field or a NaN radius: no row qualifies.
    Empty,
    /// The first radius clause (others, if any, are left to the executor's recheck).
    Sphere {
        /// Detoasted value of the key column's type.
        center: *const u8,
        /// In the operator's units.
        radius: f32,
    },
}

/// The scan's radius clause.
pub unsafe fn sphere_key(scan: pg_sys::IndexScanDesc) -> SphereKey {
    // SAFETY: `keyData` holds `numberOfKeys` keys copied by `amrescan`; the only search
    // operators of our operator classes are the sphere operators (strategy 2), whose
    // argument is a `sphere_vector` or `sphere_halfvec` datum.
    unsafe {
        let n = (*scan).numberOfKeys.max(0) as usize;
        if n == 0 || (*scan).keyData.is_null() {
            return SphereKey::Absent;
        }
        let keys = std::slice::from_raw_parts((*scan).keyData, n);
        let mut found = SphereKey::Absent;
        for key in keys {
            if key.sk_flags & pg_sys::SK_ISNULL as i32 != 0 {
                return SphereKey::Empty;
            }
            if key.sk_strategy != 2 {
                continue;
            }
            match crate::types::sphere::sphere_parts(key.sk_argument) {
                None => return SphereKey::Empty,
                Some((_, radius)) if radius.is_nan() => return SphereKey::Empty,
                Some((center, radius)) => {
                    if matches!(found, SphereKey::Absent) {
                        found = SphereKey::Sphere { center, radius };
                    }
                }
            }
        }
        found
    }
}

/// A lower bound of the operator's value (`<->`, `<=>`, `<#>`) of a row at index
/// distance `distance` in `space`: the scan's `bound` for half-precision storage, else
/// the operator's value less a margin for f32 rounding.
pub fn operator_value_lower_bound(
    space: &VectorSpace,
    bound: Option<&OrderByBound>,
    distance: f64,
) -> f64 {
    if let Some(bound) = bound {
        return bound.lower_bound(distance as f32);
    }
    let value = match (space.element(), space.metric()) {
        // squared Euclidean distance
        (_, Metric::L2) => distance.max(0.0).sqrt(),
        // minus the inner product of the normalised vectors
        (ElementType::F32, Metric::Cosine) => 1.0 + distance,
        // the operator's own value (halfvec cosine distance, negative inner product)
        _ => distance,
    };
    value - (value.abs() + 1.0) * 1e-4
}

/// The largest index distance whose rows may be within `radius` of the query (rows
/// farther in the index are farther for the operator too): where radius scans stop.
pub fn radius_threshold(space: &VectorSpace, bound: Option<&OrderByBound>, radius: f32) -> f32 {
    let r = radius as f64;
    let within = |d: f64| operator_value_lower_bound(space, bound, d) <= r;
    let (mut lo, mut hi) = (-(f32::MAX as f64), f32::MAX as f64);
    if within(hi) {
        return f32::INFINITY;
    }
    if !within(lo) {
        return f32::NEG_INFINITY;
    }
    // `within` is monotone (non-increasing in d): bisect to the boundary
    for _ in 0..400 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if within(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    // round up: a scan that stops later only reads a little more
    let t = lo as f32;
    if (t as f64) < lo {
        t.next_up()
    } else {
        t
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
/// space's lower bounds need it. The query is the ORDER BY argument, or
/// `center` (a detoasted value of the key column's type) for a radius scan
/// without ORDER BY.
pub unsafe fn start_query(
    scan: pg_sys::IndexScanDesc,
    space: VectorSpace,
    dims: usize,
    center: Option<*const u8>,
    max_payload_norm: impl FnOnce() -> f64,
) -> (Vec<u8>, ScanQuery) {
    let query_space = space.query_space();
    let payload = match center {
        // SAFETY: the caller passes a detoasted value of the key column's type.
        Some(ptr) => Some(unsafe { payload_of(ptr, &query_space, dims) }),
        // SAFETY: the caller passes a checked scan of one of our indexes.
        None => unsafe { query_payload(scan, &query_space, dims) },
    };
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

impl QuerySpace {
    /// True for a NULL ORDER BY query (every row at distance 0).
    pub fn is_null_query(&self) -> bool {
        self.null_query
    }
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
        // `RelationGetIndexScan` leaves these unset (pallocs, not palloc0s); a scan
        // without ORDER BY (a radius scan) has no values to report.
        (*scan).xs_orderbyvals = std::ptr::null_mut();
        (*scan).xs_orderbynulls = std::ptr::null_mut();
        quantization::alloc_orderby_values(scan, norderbys);
        let state = pgrx::PgMemoryContexts::CurrentMemoryContext.leak_and_drop_on_delete(state);
        (*scan).opaque = state as *mut std::ffi::c_void;
        scan
    }
}
