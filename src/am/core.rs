//! The access-method core: what `hnsw` and `ivfflat` share.
//!
//! An index access method implements [`AccessMethod`] (its options, build,
//! insert, search, bulk delete, cost estimate and meta-page reading: what
//! differs); this module turns any implementation into Postgres's
//! `IndexAmRoutine` ([`routine`]) with the code both share:
//! * every callback Postgres calls, each behind the same panic guard as
//!   `#[pg_guard]` (a Rust panic or an ERROR raised inside becomes a
//!   Postgres ERROR; nothing unwinds into C);
//! * reloption parsing (`amoptions`);
//! * the index-info cache in `rd_amcache` (space, dimensions), checked once
//!   per relcache entry;
//! * the scan lifecycle (`ambeginscan`, `amrescan`, `amgettuple`,
//!   `amendscan`): query encoding, ORDER BY value reporting, scan counting;
//! * `ambulkdelete` plumbing (the deletion callback is guarded too),
//!   `amvacuumcleanup`, `ambuildphasename`, `amvalidate`.

use std::ffi::CStr;
use std::sync::atomic::AtomicI32;

use pagestore::{BlockNumber, ItemPointer, Relation};
use pgrx::pg_sys;
use pgrx::pg_sys::submodules::panic::pgrx_extern_c_guard;
use pgrx::PgSqlErrorCode;
use vecspace::{ElementType, Metric, Storage, VectorSpace};

use super::buffer::PgRelation;
use super::build::{item_pointer, item_pointer_data};
use super::opclass::{checked_dimensions, encode_ptr, index_space, relation_name};
use super::scan::{begin_scan, check_scan, copy_keys, count_index_scan, start_query};
use super::scan::{radius_threshold, sphere_key, QuerySpace, ScanQuery, SphereKey};
use super::{cost, error, parse_options, quantization, scan};
use crate::fmgr::detoast;

/// The operator classes whose `vector` payloads may be stored in half
/// precision (the `quantization` option), in both access methods.
const HALF_METRICS: [Metric; 3] = [Metric::L2, Metric::InnerProduct, Metric::Cosine];

/// What an index is, as every callback needs it: cached in the relcache
/// entry (`rd_amcache`) by [`index_info`].
#[derive(Clone, Copy)]
pub struct IndexInfo {
    /// The operator class's space, with the storage the index was built
    /// with (or a new build will use).
    pub space: VectorSpace,
    /// Dimensions of the key column (0 for sparse vectors).
    pub dims: usize,
}

impl IndexInfo {
    /// Bytes of one stored payload (0 for sparse vectors: variable).
    pub fn payload_size(&self) -> usize {
        self.space.payload_size(self.dims).unwrap_or(0)
    }
}

/// What a bulk delete did.
pub struct VacuumCounts {
    /// Blocks of the index.
    pub pages: BlockNumber,
    /// Heap TIDs removed.
    pub removed: u64,
    /// Heap TIDs left.
    pub remaining: u64,
}

/// An index access method: what differs between `hnsw` and `ivfflat`.
/// Methods run on the backend's thread inside a guarded callback; they
/// raise Postgres ERRORs for failures.
pub trait AccessMethod: Sized + 'static {
    /// The access method's name in messages (`hnsw`, `ivfflat`).
    const NAME: &'static str;
    /// `amsupport`: support functions an operator class may have.
    const SUPPORT_PROCS: u16;
    /// The `rd_options` layout (a varlena, as `build_reloptions` fills it).
    type Options;
    /// A running index scan.
    type Search;

    /// The reloption kind registered in `_PG_init`.
    fn relopt_kind() -> &'static AtomicI32;
    /// How `amoptions` fills [`AccessMethod::Options`].
    fn option_table() -> Vec<pg_sys::relopt_parse_elt>;
    /// The `quantization` option of `index` ([`quantization::AUTO`] if unset).
    unsafe fn quantization_option(index: pg_sys::Relation) -> i32;
    /// Whether `quantization = rabitq` (RaBitQ codes) is supported.
    const CODES: bool = false;
    /// Refuses combinations of options (`amoptions` with `validate`), after
    /// each option was checked on its own.
    fn check_options(options: &Self::Options) {
        let _ = options;
    }
    /// Called when a search ends (the scan ends or is rescanned).
    unsafe fn end_search(search: &mut Self::Search, index: pg_sys::Relation) {
        let _ = (search, index);
    }
    /// Largest dimensions of a key of `element`.
    fn max_dimensions(element: ElementType) -> usize;
    /// Largest dimensions of a key stored as RaBitQ codes (`vector` or
    /// `halfvec`; only asked when [`AccessMethod::CODES`]).
    fn max_code_dimensions() -> usize {
        Self::max_dimensions(ElementType::F32)
    }
    /// Refuses operator classes the access method cannot index.
    unsafe fn check_space(index: pg_sys::Relation, space: &VectorSpace) {
        let _ = (index, space);
    }
    /// The storage recorded in the meta page; `None` before a build wrote one.
    unsafe fn built_storage(index: pg_sys::Relation) -> Option<Storage>;
    /// The largest stored payload norm (meta page), for lower bounds.
    unsafe fn max_payload_norm(index: pg_sys::Relation) -> f64;
    /// Name of a build sub-phase after Postgres's "initializing" (1).
    fn phase_name(phase: i64) -> Option<&'static CStr>;

    /// `ambuild`: builds `index` from `heap`; returns the heap's and the
    /// index's tuple counts.
    unsafe fn build(
        heap: pg_sys::Relation,
        index: pg_sys::Relation,
        index_info: *mut pg_sys::IndexInfo,
        info: &IndexInfo,
    ) -> (f64, f64);
    /// `ambuildempty`: writes the init fork (the core WAL-logs it after).
    unsafe fn build_empty(index: pg_sys::Relation, info: &IndexInfo);
    /// Refuses a key value the index cannot store (before it is encoded).
    unsafe fn check_value(info: &IndexInfo, value: *const u8) {
        let _ = (info, value);
    }
    /// `aminsert` of an encoded key.
    unsafe fn insert(index: pg_sys::Relation, info: &IndexInfo, tid: ItemPointer, payload: &[u8]);
    /// `ambulkdelete`: removes every heap TID `deleted` says.
    unsafe fn bulk_delete(
        index: pg_sys::Relation,
        info: &IndexInfo,
        deleted: &mut dyn FnMut(ItemPointer) -> bool,
    ) -> VacuumCounts;
    /// `amcostestimate` of an ordered index path.
    unsafe fn cost_estimate(
        root: *mut pg_sys::PlannerInfo,
        path: *mut pg_sys::IndexPath,
        loop_count: f64,
    ) -> cost::Costs;
    /// Starts a search for `query` (a payload of the query space).
    unsafe fn start_search(
        index: pg_sys::Relation,
        info: &IndexInfo,
        query: &[u8],
        space: &QuerySpace,
    ) -> Self::Search;
    /// Starts a radius search for `query` (a payload of the query space): an
    /// iterative search that ends once it has passed `threshold` (an index
    /// distance, see [`super::scan::radius_threshold`]).
    unsafe fn start_radius_search(
        index: pg_sys::Relation,
        info: &IndexInfo,
        query: &[u8],
        space: &QuerySpace,
        threshold: f32,
    ) -> Self::Search;
    /// The next row of a search and its index distance; `None` at the end.
    unsafe fn next(
        search: &mut Self::Search,
        index: pg_sys::Relation,
        space: &QuerySpace,
    ) -> Option<(ItemPointer, f32)>;
}

/// The space and dimensions of `index`, from its relcache entry's cache or
/// checked and cached there: the operator class, the key type (`varbit` has
/// no fixed dimensions), the storage and the dimension limit.
pub unsafe fn index_info<A: AccessMethod>(index: pg_sys::Relation) -> IndexInfo {
    // SAFETY: `index` is an open index relation (every caller got it from
    // Postgres); `rd_amcache` is either NULL or an `IndexInfo` this function
    // allocated in the entry's `rd_indexcxt`, which lives as long as it.
    unsafe {
        if !(*index).rd_amcache.is_null() {
            return *((*index).rd_amcache as *const IndexInfo);
        }
        let space = index_space(index, A::NAME);
        A::check_space(index, &space);
        check_key_type::<A>(index);
        // The option may have been altered since the build; the pages say
        // how the vectors were actually stored.
        let space = match A::built_storage(index) {
            Some(storage) => quantization::built(space, storage, &relation_name(index)),
            None => quantization::requested(
                space,
                A::quantization_option(index),
                &HALF_METRICS,
                A::CODES,
                A::NAME,
            ),
        };
        // Half-precision storage fits `vector`s as long as `halfvec`s.
        let limit = |element| match space.storage() {
            Storage::Half => A::max_dimensions(ElementType::F16),
            Storage::Exact => A::max_dimensions(element),
            Storage::Codes => A::max_code_dimensions(),
        };
        // Where codes would take more dimensions, the error says so.
        let hint = (A::CODES
            && space.storage() != Storage::Codes
            && space.with_storage(Storage::Codes).is_some()
            && A::max_code_dimensions() > limit(space.element()))
        .then(|| {
            format!(
                "Use quantization = rabitq to index up to {} dimensions.",
                A::max_code_dimensions()
            )
        });
        let dims = checked_dimensions(index, &space, A::NAME, limit, hint.as_deref());
        let info = IndexInfo { space, dims };
        let cached =
            pg_sys::MemoryContextAlloc((*index).rd_indexcxt, std::mem::size_of::<IndexInfo>())
                as *mut IndexInfo;
        cached.write(info);
        (*index).rd_amcache = cached as *mut std::ffi::c_void;
        info
    }
}

/// Refuses `varbit` keys as pgvector does: only `bit(n)` has fixed
/// dimensions.
unsafe fn check_key_type<A: AccessMethod>(index: pg_sys::Relation) {
    // SAFETY: an index relation's tuple descriptor has at least one
    // attribute (the key).
    let type_oid = unsafe { (*(*(*index).rd_att).attrs.as_ptr()).atttypid };
    if type_oid == pg_sys::VARBITOID {
        error(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            &format!("type not supported for {} index", A::NAME),
            None,
        );
    }
}

/// The `IndexAmRoutine` of access method `A` (the handler's result).
pub fn routine<A: AccessMethod>() -> pg_sys::Datum {
    // SAFETY: `alloc_node` pallocs a zeroed node of the right size and tag
    // in the current memory context, which the handler's caller owns.
    let mut am = unsafe {
        pgrx::PgBox::<pg_sys::IndexAmRoutine>::alloc_node(pg_sys::NodeTag::T_IndexAmRoutine)
    };
    am.amstrategies = 0;
    am.amsupport = A::SUPPORT_PROCS;
    am.amoptsprocnum = 0;
    am.amcanorder = false;
    am.amcanorderbyop = true;
    am.amcanbackward = false;
    am.amcanunique = false;
    am.amcanmulticol = false;
    am.amoptionalkey = true;
    am.amsearcharray = false;
    am.amsearchnulls = false;
    am.amstorage = false;
    am.amclusterable = false;
    am.ampredlocks = false;
    am.amcanparallel = false;
    am.amcaninclude = false;
    am.amusemaintenanceworkmem = false;
    am.amparallelvacuumoptions = pg_sys::VACUUM_OPTION_PARALLEL_BULKDEL as u8;
    am.amkeytype = pg_sys::InvalidOid;
    am.ambuild = Some(ambuild::<A>);
    am.ambuildempty = Some(ambuildempty::<A>);
    am.aminsert = Some(aminsert::<A>);
    am.ambulkdelete = Some(ambulkdelete::<A>);
    am.amvacuumcleanup = Some(amvacuumcleanup);
    am.amcostestimate = Some(amcostestimate::<A>);
    am.amoptions = Some(amoptions::<A>);
    am.ambuildphasename = Some(ambuildphasename::<A>);
    am.amvalidate = Some(amvalidate);
    am.ambeginscan = Some(ambeginscan::<A>);
    am.amrescan = Some(amrescan::<A>);
    am.amgettuple = Some(amgettuple::<A>);
    am.amendscan = Some(amendscan::<A>);
    pg_sys::Datum::from(am.into_pg())
}

/// Registers the reloption kind of `A` with the `quantization` option;
/// returns the kind for the access method's own options.
pub unsafe fn add_reloption_kind<A: AccessMethod>() -> pg_sys::relopt_kind::Type {
    // SAFETY: called from `_PG_init`, on the backend's thread, before any
    // index of this kind is opened.
    unsafe {
        let kind = pg_sys::add_reloption_kind();
        A::relopt_kind().store(kind as i32, std::sync::atomic::Ordering::Relaxed);
        quantization::register(kind);
        kind
    }
}

unsafe extern "C-unwind" fn ambuild<A: AccessMethod>(
    heap: pg_sys::Relation,
    index: pg_sys::Relation,
    index_info_ptr: *mut pg_sys::IndexInfo,
) -> *mut pg_sys::IndexBuildResult {
    // SAFETY: Postgres passes open, locked relations and the IndexInfo of
    // the index being built; the guard turns panics into ERRORs.
    unsafe {
        pgrx_extern_c_guard(|| {
            let info = index_info::<A>(index);
            let (heap_tuples, index_tuples) = A::build(heap, index, index_info_ptr, &info);
            let result = pgrx::PgBox::<pg_sys::IndexBuildResult>::alloc0().into_pg();
            (*result).heap_tuples = heap_tuples;
            (*result).index_tuples = index_tuples;
            result
        })
    }
}

unsafe extern "C-unwind" fn ambuildempty<A: AccessMethod>(index: pg_sys::Relation) {
    // SAFETY: Postgres passes the open, exclusively locked index of an
    // unlogged table whose init fork exists and is empty; the pages
    // `build_empty` wrote are in shared buffers, where
    // `log_newpage_range` reads (and locks) them.
    unsafe {
        pgrx_extern_c_guard(|| {
            let info = index_info::<A>(index);
            A::build_empty(index, &info);
            // Generic WAL does not log unlogged relations, so nothing above
            // reached the WAL: log the whole init fork as page images (as
            // pgvector and the built-in access methods do), so that crash
            // recovery, which resets the index from it, and standbys, which
            // start from it when promoted, have it.
            let fork = pg_sys::ForkNumber::INIT_FORKNUM;
            let nblocks = pg_sys::RelationGetNumberOfBlocksInFork(index, fork);
            if nblocks > 0 {
                pg_sys::log_newpage_range(index, fork, 0, nblocks, true);
            }
        })
    }
}

#[allow(clippy::too_many_arguments)]
unsafe extern "C-unwind" fn aminsert<A: AccessMethod>(
    index: pg_sys::Relation,
    values: *mut pg_sys::Datum,
    isnull: *mut bool,
    heap_tid: pg_sys::ItemPointer,
    _heap: pg_sys::Relation,
    _check_unique: pg_sys::IndexUniqueCheck::Type,
    #[cfg(not(feature = "pg13"))] _index_unchanged: bool,
    _index_info: *mut pg_sys::IndexInfo,
) -> bool {
    // SAFETY: Postgres passes one value and null flag per key column (one
    // here) and the heap TID of the row being indexed.
    unsafe {
        pgrx_extern_c_guard(|| {
            if *isnull {
                return false;
            }
            let info = index_info::<A>(index);
            let value = detoast(*values);
            A::check_value(&info, value);
            let mut payload = Vec::new();
            // Values the space cannot rank (zero vectors under cosine) are
            // not indexed, as in pgvector.
            if encode_ptr(&info.space, value, &mut payload) {
                A::insert(index, &info, item_pointer(&*heap_tid), &payload);
            }
            false
        })
    }
}

unsafe extern "C-unwind" fn ambulkdelete<A: AccessMethod>(
    vacuum_info: *mut pg_sys::IndexVacuumInfo,
    stats: *mut pg_sys::IndexBulkDeleteResult,
    callback: pg_sys::IndexBulkDeleteCallback,
    callback_state: *mut std::ffi::c_void,
) -> *mut pg_sys::IndexBulkDeleteResult {
    // SAFETY: Postgres passes a valid vacuum info with an open index, the
    // previous stats (or NULL) and a callback to call with `callback_state`.
    unsafe {
        pgrx_extern_c_guard(|| {
            let index = (*vacuum_info).index;
            let info = index_info::<A>(index);
            let stats = if stats.is_null() {
                pgrx::PgBox::<pg_sys::IndexBulkDeleteResult>::alloc0().into_pg()
            } else {
                stats
            };
            let callback = callback.expect("ambulkdelete without callback");
            let counts = A::bulk_delete(index, &info, &mut |tid| {
                let mut data = item_pointer_data(tid);
                // An ERROR in the callback becomes a panic here rather
                // than a longjmp over Rust frames.
                pg_sys::ffi::pg_guard_ffi_boundary(|| callback(&mut data, callback_state))
            });
            (*stats).num_pages = counts.pages;
            (*stats).tuples_removed += counts.removed as f64;
            (*stats).num_index_tuples = counts.remaining as f64;
            stats
        })
    }
}

unsafe extern "C-unwind" fn amvacuumcleanup(
    vacuum_info: *mut pg_sys::IndexVacuumInfo,
    stats: *mut pg_sys::IndexBulkDeleteResult,
) -> *mut pg_sys::IndexBulkDeleteResult {
    // SAFETY: Postgres passes a valid vacuum info and the stats of the
    // bulk deletes of this VACUUM (NULL if there were none).
    unsafe {
        pgrx_extern_c_guard(|| {
            super::recall::after_vacuum(vacuum_info, stats);
            if (*vacuum_info).analyze_only || stats.is_null() {
                return stats;
            }
            (*stats).num_pages = PgRelation::logged((*vacuum_info).index).nblocks();
            stats
        })
    }
}

#[allow(clippy::too_many_arguments)]
unsafe extern "C-unwind" fn amcostestimate<A: AccessMethod>(
    root: *mut pg_sys::PlannerInfo,
    path: *mut pg_sys::IndexPath,
    loop_count: f64,
    startup: *mut pg_sys::Cost,
    total: *mut pg_sys::Cost,
    selectivity: *mut pg_sys::Selectivity,
    correlation: *mut f64,
    pages: *mut f64,
) {
    // SAFETY: the planner passes its state, the path being costed and
    // valid out-parameters.
    unsafe {
        pgrx_extern_c_guard(|| {
            let costs = match cost::without_order(path) {
                Some(costs) => costs,
                None => A::cost_estimate(root, path, loop_count),
            };
            cost::store(costs, startup, total, selectivity, correlation, pages)
        })
    }
}

unsafe extern "C-unwind" fn amoptions<A: AccessMethod>(
    reloptions: pg_sys::Datum,
    validate: bool,
) -> *mut pg_sys::bytea {
    // SAFETY: `reloptions` is the text array Postgres passes; the table
    // describes fields of `A::Options`.
    unsafe {
        pgrx_extern_c_guard(|| {
            let table = A::option_table();
            let parsed = parse_options::<A::Options>(reloptions, validate, A::relopt_kind(), &table);
            if validate && !parsed.is_null() {
                // `build_reloptions` allocated a whole `A::Options`.
                A::check_options(&*(parsed as *const A::Options));
            }
            parsed
        })
    }
}

unsafe extern "C-unwind" fn ambuildphasename<A: AccessMethod>(
    phase: i64,
) -> *mut std::ffi::c_char {
    // SAFETY: only runs Rust code; the guard keeps panics out of C.
    unsafe {
        pgrx_extern_c_guard(|| {
            let name = match phase {
                1 => Some(c"initializing"),
                _ => A::phase_name(phase),
            };
            // Static strings: Postgres only reads them.
            name.map_or(std::ptr::null_mut(), |n| n.as_ptr() as *mut std::ffi::c_char)
        })
    }
}

unsafe extern "C-unwind" fn amvalidate(_opclass: pg_sys::Oid) -> bool {
    true
}

/// Per-scan state, owned by the scan's memory context.
struct ScanState<A: AccessMethod> {
    info: Option<IndexInfo>,
    /// The search and its query, from the first `amgettuple` after a rescan.
    search: Option<(A::Search, ScanQuery)>,
    /// The scan's radius clause admits no row (a NULL sphere): nothing to search.
    empty: bool,
}

unsafe extern "C-unwind" fn ambeginscan<A: AccessMethod>(
    index: pg_sys::Relation,
    nkeys: i32,
    norderbys: i32,
) -> pg_sys::IndexScanDesc {
    // SAFETY: Postgres passes an open index and the key counts it will
    // pass to `amrescan`.
    unsafe {
        pgrx_extern_c_guard(|| {
            let state = ScanState::<A> {
                info: None,
                search: None,
                empty: false,
            };
            begin_scan(index, nkeys, norderbys, state)
        })
    }
}

/// The scan state `ambeginscan` stored in the descriptor.
///
/// # Safety
/// `scan` must come from [`ambeginscan`] of the same `A`.
unsafe fn scan_state<'a, A: AccessMethod>(scan: pg_sys::IndexScanDesc) -> &'a mut ScanState<A> {
    // SAFETY: `opaque` points to the `ScanState<A>` `ambeginscan` leaked into
    // the scan's memory context, alive until the scan ends; callbacks of one
    // scan never run concurrently.
    unsafe { &mut *((*scan).opaque as *mut ScanState<A>) }
}

unsafe extern "C-unwind" fn amrescan<A: AccessMethod>(
    scan: pg_sys::IndexScanDesc,
    keys: pg_sys::ScanKey,
    nkeys: i32,
    orderbys: pg_sys::ScanKey,
    norderbys: i32,
) {
    // SAFETY: `scan` comes from our `ambeginscan`; the key arrays hold the
    // counts given.
    unsafe {
        pgrx_extern_c_guard(|| {
            copy_keys(scan, keys, nkeys, orderbys, norderbys);
            let state = scan_state::<A>(scan);
            if let Some((search, _)) = state.search.as_mut() {
                A::end_search(search, (*scan).indexRelation);
            }
            state.search = None;
            state.empty = false;
        })
    }
}

unsafe extern "C-unwind" fn amgettuple<A: AccessMethod>(
    scan: pg_sys::IndexScanDesc,
    _direction: pg_sys::ScanDirection::Type,
) -> bool {
    // SAFETY: `scan` comes from our `ambeginscan` and was rescanned with
    // its keys.
    unsafe {
        pgrx_extern_c_guard(|| {
            let state = scan_state::<A>(scan);
            let index = (*scan).indexRelation;
            let info = *state.info.get_or_insert_with(|| index_info::<A>(index));
            if state.empty {
                return false;
            }
            if state.search.is_none() {
                check_scan(scan, A::NAME);
                count_index_scan(index);
                let ordered = (*scan).numberOfOrderBys > 0;
                let (center, radius) = match sphere_key(scan) {
                    SphereKey::Empty => {
                        state.empty = true;
                        return false;
                    }
                    SphereKey::Absent => (None, None),
                    SphereKey::Sphere { center, radius } => (Some(center), Some(radius)),
                };
                // A radius scan without ORDER BY searches from the sphere's center.
                let query_center = if ordered { None } else { center };
                if !ordered && query_center.is_none() {
                    error(
                        PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                        &format!("cannot scan {} index without order", A::NAME),
                        None,
                    );
                }
                let (payload, query) =
                    start_query(scan, info.space, info.dims, query_center, || {
                        A::max_payload_norm(index)
                    });
                // It stops at the radius if it searches from the center (the ORDER BY
                // query is the center, or there is no ORDER BY); else the index only
                // orders and the executor's recheck applies the radius.
                let radius = radius.filter(|_| {
                    !query.space.is_null_query()
                        && (!ordered
                            || center.is_some_and(|c| {
                                scan::payload_of(c, &info.space.query_space(), info.dims) == payload
                            }))
                });
                let search = match radius {
                    Some(r) => {
                        let threshold = radius_threshold(&info.space, query.bound.as_ref(), r);
                        A::start_radius_search(index, &info, &payload, &query.space, threshold)
                    }
                    None => A::start_search(index, &info, &payload, &query.space),
                };
                state.search = Some((search, query));
            }
            let (search, query) = state.search.as_mut().expect("search started above");
            match A::next(search, index, &query.space) {
                Some((tid, distance)) => {
                    (*scan).xs_heaptid = item_pointer_data(tid);
                    query.report_row(scan, distance);
                    // Radius clauses are rechecked on the heap row: the index's
                    // distances may be of half-precision copies, and a scan returns
                    // rows past the radius before it stops.
                    if (*scan).numberOfKeys > 0 {
                        (*scan).xs_recheck = true;
                    }
                    true
                }
                None => false,
            }
        })
    }
}

unsafe extern "C-unwind" fn amendscan<A: AccessMethod>(scan: pg_sys::IndexScanDesc) {
    // SAFETY: `scan` comes from our `ambeginscan`.
    unsafe {
        pgrx_extern_c_guard(|| {
            let state = scan_state::<A>(scan);
            if let Some((search, _)) = state.search.as_mut() {
                A::end_search(search, (*scan).indexRelation);
            }
            state.search = None;
        })
    }
}

/// The parallel workers pgvector would use for this build besides the
/// backend (our build threads are their equivalent): Postgres's
/// `plan_create_index_workers` (0 for a table under
/// `min_parallel_table_scan_size`, with `max_parallel_maintenance_workers
/// = 0`, a parallel-unsafe index expression, ...); for hnsw, when that is
/// not 0, the table's `parallel_workers` or else
/// `max_parallel_maintenance_workers`, as pgvector's hnsw build decides.
pub unsafe fn planned_workers(
    heap: pg_sys::Relation,
    index: pg_sys::Relation,
    hnsw_rule: bool,
) -> usize {
    // SAFETY: both relations are open (the build's); the planner function
    // opens them again without locks, and `rd_options` of a heap is NULL
    // or its `StdRdOptions`.
    unsafe {
        let planned = pg_sys::plan_create_index_workers((*heap).rd_id, (*index).rd_id);
        if planned <= 0 || !hnsw_rule {
            return planned.max(0) as usize;
        }
        let options = (*heap).rd_options as *const pg_sys::StdRdOptions;
        let max = pg_sys::max_parallel_maintenance_workers;
        let workers = match options.as_ref() {
            Some(o) if o.parallel_workers != -1 => o.parallel_workers.min(max),
            _ => max,
        };
        workers.max(0) as usize
    }
}

/// Threads of a build of `index` (see [`super::guc::build_threads`]), with
/// pgvector's log line for the workers it uses besides the backend.
pub unsafe fn build_threads(heap: pg_sys::Relation, index: pg_sys::Relation, hnsw_rule: bool) -> usize {
    // SAFETY: the caller passes the build's open relations.
    let threads = super::guc::build_threads(unsafe { planned_workers(heap, index, hnsw_rule) });
    if threads > 1 {
        pgrx::debug1!("using {} parallel workers", threads - 1);
    }
    threads
}
