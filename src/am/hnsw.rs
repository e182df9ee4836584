//! The `hnsw` index access method: pgvector's SQL surface over the `hnsw`
//! crate.

use std::ffi::CStr;
use std::sync::atomic::AtomicI32;

use ::ivf::threads::SignalsBlocked;
use ::hnsw::{
    BuildOptions, BuildPhase, BuildProgress, Builder, HnswError, HnswScan, IndexOptions,
    IterativeScan, ScanOptions,
};
use pagestore::{ItemPointer, Page, Relation};
use pgrx::pg_sys;
use pgrx::PgSqlErrorCode;
use vecspace::{CodeQuery, CodeSpace, ElementType, Storage};

use super::buffer::PgRelation;
use super::build::{report_tuples_total, scan_heap};
use super::core::{self, AccessMethod, IndexInfo, VacuumCounts};
use super::guc::{self, IterativeScanMode};
use super::opclass::relation_name;
use super::scan::QuerySpace;
use super::stats::{self, RowCounts, Work};
use super::{
    check_for_interrupts, cost, error, int_option, interrupt_pending, notice, quantization,
    report_progress,
};
use crate::fmgr::detoast;

/// The `hnsw` access method.
pub struct Hnsw;

const AM: &str = "hnsw";

/// pgvector's option ranges and defaults.
const DEFAULT_M: i32 = 16;
const MIN_M: i32 = 2;
const MAX_M: i32 = 100;
const DEFAULT_EF_CONSTRUCTION: i32 = 64;
const MIN_EF_CONSTRUCTION: i32 = 4;
const MAX_EF_CONSTRUCTION: i32 = 1000;
/// pgvector's dimension limits for HNSW (an element must fit one page).
const MAX_SPARSE_NNZ: usize = 1000;

/// Build sub-phases for `pg_stat_progress_create_index` (1 is Postgres's
/// "initializing").
const PHASE_LOAD: i64 = 2;
const PHASE_BUILD_GRAPH: i64 = 3;
const PHASE_WRITE: i64 = 4;
const PHASE_INSERT: i64 = 5;

static RELOPT_KIND: AtomicI32 = AtomicI32::new(0);

/// `rd_options` layout (a varlena, as `build_reloptions` produces).
#[repr(C)]
pub struct HnswOptions {
    vl_len: i32,
    m: i32,
    ef_construction: i32,
    quantization: i32,
    /// Default `ef_search` of scans (0: not given).
    ef_search: i32,
    /// Bits per dimension of `quantization = rabitq` codes (0: not given).
    bits: i32,
}

/// Seed of the rotation of `quantization = rabitq` codes (stored in the
/// meta page, so a later version may choose others).
const ROTATION_SEED: u64 = 0x4853_5752_4F54_0001;

pub fn register_reloptions() {
    // SAFETY: called once from `_PG_init` on the backend's thread; the
    // names and descriptions are static strings.
    unsafe {
        let kind = core::add_reloption_kind::<Hnsw>();
        pg_sys::add_int_reloption(
            kind,
            c"m".as_ptr(),
            c"Max number of connections".as_ptr(),
            DEFAULT_M,
            MIN_M,
            MAX_M,
            pg_sys::AccessExclusiveLock as pg_sys::LOCKMODE,
        );
        pg_sys::add_int_reloption(
            kind,
            c"ef_construction".as_ptr(),
            c"Size of the dynamic candidate list for construction".as_ptr(),
            DEFAULT_EF_CONSTRUCTION,
            MIN_EF_CONSTRUCTION,
            MAX_EF_CONSTRUCTION,
            pg_sys::AccessExclusiveLock as pg_sys::LOCKMODE,
        );
        // Ours: the ef_search scans use when the session has not set
        // hnsw.ef_search. 0 (the default, outside the range) means unset;
        // a given value is checked against the GUC's range. Changing it
        // only affects later scans, so ALTER INDEX needs no stronger lock
        // than VACUUM's.
        pg_sys::add_int_reloption(
            kind,
            c"ef_search".as_ptr(),
            c"Default size of the dynamic candidate list for search (when hnsw.ef_search is not set)".as_ptr(),
            0,
            1,
            guc::MAX_EF_SEARCH,
            pg_sys::ShareUpdateExclusiveLock as pg_sys::LOCKMODE,
        );
    }
}

/// The bits of a new code index (`bits`, else the default).
unsafe fn index_bits(index: pg_sys::Relation) -> u8 {
    // SAFETY: `rd_options` is NULL or the `HnswOptions` our `amoptions`
    // produced for this open index.
    let bits = unsafe { ((*index).rd_options as *const HnswOptions).as_ref() }.map_or(0, |o| o.bits);
    quantization::bits_of(bits)
}

/// The `ef_search` option of `index` (0 if not given).
pub unsafe fn ef_search_option(index: pg_sys::Relation) -> i32 {
    // SAFETY: `rd_options` is NULL or the `HnswOptions` our `amoptions`
    // produced for this open index.
    unsafe { ((*index).rd_options as *const HnswOptions).as_ref() }.map_or(0, |o| o.ef_search)
}

crate::pg_function!(hnswhandler, |fcinfo| {
    let _ = fcinfo;
    core::routine::<Hnsw>()
});

/// Raises an index-crate error as a Postgres ERROR; corruption names the
/// index, as the storage boundary's errors do.
pub(crate) fn raise(rel: &PgRelation, e: HnswError) -> ! {
    let code = match &e {
        HnswError::PayloadTooLarge { .. } => PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
        HnswError::PayloadSizeMismatch { .. } => PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
        HnswError::InvalidOption(_) => PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        HnswError::UnsupportedVersion(_) => PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
        HnswError::Corrupted(detail) => rel.raise_corrupted(&detail),
        HnswError::Cancelled => PgSqlErrorCode::ERRCODE_QUERY_CANCELED,
        HnswError::RelationNotEmpty => PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        HnswError::OutOfMemory { .. } => PgSqlErrorCode::ERRCODE_OUT_OF_MEMORY,
    };
    error(code, &e.to_string(), None)
}

/// Raises `e`, serving a pending cancel first if it is a cancellation.
fn raise_cancellable(rel: &PgRelation, e: HnswError) -> ! {
    if e == HnswError::Cancelled {
        check_for_interrupts();
    }
    raise(rel, e)
}

/// The index options of `index` (defaults when none were given), checked:
/// `m`, `ef_construction` and `quantization`.
unsafe fn index_options(index: pg_sys::Relation) -> (u16, u16, i32) {
    // SAFETY: `rd_options` is NULL or the `HnswOptions` our `amoptions`
    // produced for this relation.
    let options = unsafe { (*index).rd_options as *const HnswOptions };
    // SAFETY: as above: NULL or our `HnswOptions`.
    let (m, ef, storage_option) = match unsafe { options.as_ref() } {
        None => (DEFAULT_M, DEFAULT_EF_CONSTRUCTION, quantization::AUTO),
        Some(o) => (o.m, o.ef_construction, o.quantization),
    };
    if ef < 2 * m {
        error(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            "ef_construction must be greater than or equal to 2 * m",
            None,
        );
    }
    (m as u16, ef as u16, storage_option)
}

unsafe fn index_payload_options(index: pg_sys::Relation, info: &IndexInfo) -> IndexOptions {
    // SAFETY: the caller passes an open hnsw index.
    let (m, ef_construction, _) = unsafe { index_options(index) };
    let mut options = IndexOptions {
        m,
        ef_construction,
        dimensions: info.dims as u32,
        payload_size: info.payload_size() as u32,
        space_id: info.space.id(),
        quantization: match info.space.storage() {
            Storage::Half => ::hnsw::format::QUANTIZATION_HALF,
            Storage::Codes => ::hnsw::format::QUANTIZATION_RABITQ,
            Storage::Exact => ::hnsw::format::QUANTIZATION_NONE,
        },
        ..IndexOptions::default()
    };
    if info.space.storage() == Storage::Codes {
        // SAFETY: as above.
        let bits = unsafe { index_bits(index) };
        options.payload_size = checked_code_len(info.dims, bits) as u32;
        // Bits and layout of new codes (nibbles at 4 bits).
        options.code_bits = CodeSpace::stored_bits_of_new(bits).unwrap_or(bits as u32);
        options.code_seed = ROTATION_SEED;
    }
    options
}

/// Bytes of an element's code, or an ERROR naming the `bits` that fit if
/// an element tuple cannot hold it.
fn checked_code_len(dims: usize, bits: u8) -> usize {
    let len = CodeSpace::code_len(dims, bits);
    let max = ::hnsw::format::MAX_PAYLOAD_SIZE;
    if len > max {
        let fits = (1..bits).rev().find(|&b| CodeSpace::code_len(dims, b) <= max);
        let hint = match fits {
            Some(b) => format!("Use bits = {b} or fewer."),
            None => "Index fewer dimensions.".to_string(),
        };
        error(
            PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
            &format!(
                "{bits}-bit codes of {dims} dimensions need {len} bytes, more than an hnsw element holds ({max})"
            ),
            Some(&hint),
        );
    }
    len
}

/// The codes of `index` (stored as `quantization = rabitq`), from its meta
/// page; `None` for other storages.
unsafe fn code_space(index: pg_sys::Relation, info: &IndexInfo) -> Option<CodeSpace> {
    if info.space.storage() != Storage::Codes {
        return None;
    }
    // SAFETY: the caller passes an open hnsw index.
    let meta = unsafe { read_meta(index) };
    let space = meta
        .filter(|m| m.quantization == ::hnsw::format::QUANTIZATION_RABITQ)
        .and_then(|m| CodeSpace::from_stored(info.space, info.dims, m.code_bits, m.code_seed));
    Some(space.unwrap_or_else(|| {
        // SAFETY: `index` is open.
        let rel = unsafe { PgRelation::logged(index) };
        rel.raise_corrupted("meta page of a rabitq index without valid code parameters")
    }))
}

/// The code space a new build of `index` writes.
unsafe fn build_code_space(index: pg_sys::Relation, info: &IndexInfo) -> Option<CodeSpace> {
    if info.space.storage() != Storage::Codes {
        return None;
    }
    // SAFETY: the caller passes the open index being built.
    let bits = unsafe { index_bits(index) };
    checked_code_len(info.dims, bits);
    Some(CodeSpace::new(info.space, info.dims, bits, ROTATION_SEED).unwrap_or_else(|| {
        error(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            "quantization \"rabitq\" is not supported for this operator class",
            None,
        )
    }))
}

/// An element's stored encoding of `payload` under `space` (codes), or
/// the payload itself.
fn stored<'a, S: ::hnsw::Space>(space: &S, payload: &'a [u8], buf: &'a mut Vec<u8>) -> &'a [u8] {
    if space.encode_stored(payload, buf) {
        buf
    } else {
        payload
    }
}

/// The code space of `index` if it stores codes (scans prepare their
/// query with it; calibration encodes its queries and rows).
pub(crate) unsafe fn index_code_space(index: pg_sys::Relation, info: &IndexInfo) -> Option<CodeSpace> {
    // SAFETY: the caller passes an open hnsw index.
    unsafe { code_space(index, info) }
}

/// A running hnsw scan: the graph search and, for code indexes, the
/// prepared query it compares codes with.
pub struct HnswSearch {
    scan: HnswScan,
    codes: Option<CodeQuery>,
    /// Rows returned to the executor, and whether it reranks them.
    rows: RowCounts,
}

/// `m` from the meta page of index `oid`, if readable.
unsafe fn meta_m(oid: pg_sys::Oid) -> Option<u16> {
    // SAFETY: the planner holds a lock on the indexes it costs, so opening
    // one without a further lock is safe; it is closed before returning.
    unsafe {
        let index = pg_sys::index_open(oid, pg_sys::NoLock as pg_sys::LOCKMODE);
        let m = read_meta(index).map(|meta| meta.m);
        pg_sys::index_close(index, pg_sys::NoLock as pg_sys::LOCKMODE);
        m
    }
}

/// The meta tuple of `index`, if it has one and it decodes.
unsafe fn read_meta(index: pg_sys::Relation) -> Option<::hnsw::format::MetaTuple> {
    // SAFETY: `index` is an open index relation.
    let rel = unsafe { PgRelation::logged(index) };
    if rel.nblocks() == 0 {
        return None;
    }
    let page = rel.read(::hnsw::format::META_BLOCK);
    page.item(::hnsw::format::META_OFFSET)
        .and_then(|item| ::hnsw::format::MetaTuple::decode(item).ok())
}

impl AccessMethod for Hnsw {
    const NAME: &'static str = AM;
    const SUPPORT_PROCS: u16 = 3;
    type Options = HnswOptions;
    type Search = HnswSearch;
    const CODES: bool = true;

    fn relopt_kind() -> &'static AtomicI32 {
        &RELOPT_KIND
    }

    fn option_table() -> Vec<pg_sys::relopt_parse_elt> {
        vec![
            int_option(c"m", std::mem::offset_of!(HnswOptions, m)),
            int_option(
                c"ef_construction",
                std::mem::offset_of!(HnswOptions, ef_construction),
            ),
            quantization::parse_elt(std::mem::offset_of!(HnswOptions, quantization)),
            int_option(c"ef_search", std::mem::offset_of!(HnswOptions, ef_search)),
            int_option(c"bits", std::mem::offset_of!(HnswOptions, bits)),
        ]
    }

    fn check_options(options: &HnswOptions) {
        quantization::check_bits(options.bits, options.quantization);
    }

    fn max_code_dimensions() -> usize {
        quantization::MAX_CODE_DIMENSIONS
    }

    unsafe fn quantization_option(index: pg_sys::Relation) -> i32 {
        // SAFETY: the caller passes an open hnsw index.
        unsafe { index_options(index) }.2
    }

    fn max_dimensions(element: ElementType) -> usize {
        match element {
            ElementType::F32 => 2000,
            ElementType::F16 => 4000,
            ElementType::Bit => 64000,
            ElementType::Sparse => usize::MAX,
        }
    }

    unsafe fn built_storage(index: pg_sys::Relation) -> Option<Storage> {
        // SAFETY: the caller passes an open hnsw index.
        let meta = unsafe { read_meta(index) }?;
        Some(match meta.quantization {
            ::hnsw::format::QUANTIZATION_NONE => Storage::Exact,
            ::hnsw::format::QUANTIZATION_HALF => Storage::Half,
            ::hnsw::format::QUANTIZATION_RABITQ => Storage::Codes,
            // SAFETY: `index` is open.
            other => quantization::unknown(other as u32, &unsafe { relation_name(index) }),
        })
    }

    unsafe fn max_payload_norm(index: pg_sys::Relation) -> f64 {
        // SAFETY: the caller passes an open hnsw index.
        unsafe { read_meta(index) }.map_or(0.0, |m| m.max_payload_norm)
    }

    fn phase_name(phase: i64) -> Option<&'static CStr> {
        Some(match phase {
            PHASE_LOAD => c"loading tuples",
            PHASE_BUILD_GRAPH => c"building graph",
            PHASE_WRITE => c"writing index pages",
            PHASE_INSERT => c"inserting tuples past maintenance_work_mem",
            _ => return None,
        })
    }

    /// Rejects sparse vectors with more non-zero elements than an element holds.
    unsafe fn check_value(info: &IndexInfo, value: *const u8) {
        if info.space.element() != ElementType::Sparse {
            return;
        }
        // SAFETY: `value` is a detoasted sparsevec (the space's element type).
        let nnz = unsafe { crate::types::datum::sparse_from_ptr(value) }
            .indices
            .len();
        if nnz > MAX_SPARSE_NNZ {
            error(
                PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
                &format!("sparsevec cannot have more than {MAX_SPARSE_NNZ} non-zero elements for hnsw index"),
                None,
            );
        }
    }

    unsafe fn build(
        heap: pg_sys::Relation,
        index: pg_sys::Relation,
        index_info_ptr: *mut pg_sys::IndexInfo,
        info: &IndexInfo,
    ) -> (f64, f64) {
        // SAFETY: the build's open relations and IndexInfo, passed on.
        unsafe {
            match build_code_space(index, info) {
                Some(codes) => build_with(heap, index, index_info_ptr, info, &codes),
                None => build_with(heap, index, index_info_ptr, info, &info.space),
            }
        }
    }

    unsafe fn build_empty(index: pg_sys::Relation, info: &IndexInfo) {
        // SAFETY: `index` is the unlogged index whose init fork is written.
        let rel = unsafe { PgRelation::init_fork(index) };
        // SAFETY: as above.
        let options = unsafe { index_payload_options(index, info) };
        if let Err(e) = ::hnsw::build_empty(&rel, &options) {
            raise(&rel, e);
        }
        // SAFETY: `index` is open.
        super::recall::store_pending(&rel, &unsafe { relation_name(index) });
    }

    unsafe fn insert(index: pg_sys::Relation, info: &IndexInfo, tid: ItemPointer, payload: &[u8]) {
        // SAFETY: `index` is open and locked by the inserting statement.
        let rel = unsafe { PgRelation::logged(index) };
        // SAFETY: as above.
        let result = match unsafe { code_space(index, info) } {
            Some(codes) => {
                let mut code = Vec::new();
                ::hnsw::insert(&rel, &codes, tid, stored(&codes, payload, &mut code))
            }
            None => ::hnsw::insert(&rel, &info.space, tid, payload),
        };
        if let Err(e) = result {
            raise(&rel, e);
        }
    }

    unsafe fn bulk_delete(
        index: pg_sys::Relation,
        info: &IndexInfo,
        deleted: &mut dyn FnMut(ItemPointer) -> bool,
    ) -> VacuumCounts {
        // SAFETY: `index` is open and locked by VACUUM.
        let rel = unsafe { PgRelation::logged(index) };
        // SAFETY: as above.
        let result = match unsafe { code_space(index, info) } {
            Some(codes) => ::hnsw::vacuum(&rel, &codes, deleted, super::vacuum_delay_point),
            None => ::hnsw::vacuum(&rel, &info.space, deleted, super::vacuum_delay_point),
        };
        match result {
            Ok(v) => VacuumCounts {
                pages: v.pages,
                removed: v.heap_tids_removed,
                remaining: v.heap_tids_remaining,
            },
            Err(e) => raise(&rel, e),
        }
    }

    unsafe fn cost_estimate(
        root: *mut pg_sys::PlannerInfo,
        path: *mut pg_sys::IndexPath,
        loop_count: f64,
    ) -> cost::Costs {
        // SAFETY: the planner's state and an ordered path over one of our
        // indexes, as `amcostestimate` received them.
        unsafe {
            let mut costs = cost::generic(root, path, loop_count, 0.0);
            let index_info = (*path).indexinfo;
            let m = meta_m((*index_info).indexoid).unwrap_or(DEFAULT_M as u16) as f64;
            let tuples = (*index_info).tuples;
            // pgvector's estimate of the fraction of the index a scan visits (the
            // descent through the upper layers plus the layer-0 search), at the beam
            // the scan needs to return LIMIT rows past the other quals.
            let scan = cost::model::GraphScan {
                m,
                ef_search: cost::planned_setting(super::recall::Kind::Hnsw, root, path),
                iterative: guc::HNSW_ITERATIVE_SCAN.get() != IterativeScanMode::Off
                    || !(*path).indexclauses.is_null(),
                max_scan_tuples: guc::HNSW_MAX_SCAN_TUPLES.get() as f64,
            };
            let ratio = if tuples > 0.0 {
                let demand = cost::demand(root, path, costs.indexSelectivity);
                cost::model::hnsw_ratio(&scan, &demand)
            } else {
                1.0
            };
            let seq_page_cost = cost::seq_page_cost(path);
            costs.indexStartupCost = costs.indexTotalCost * ratio;
            let startup_pages = costs.numIndexPages * ratio;
            let heap_pages = (*(*index_info).rel).pages as f64;
            if startup_pages > heap_pages && ratio < 0.5 {
                // Index pages are read like a sequential scan would read TOAST.
                costs.indexStartupCost -=
                    startup_pages * (costs.spc_random_page_cost - seq_page_cost);
                costs.indexStartupCost -= (startup_pages - heap_pages) * seq_page_cost;
            }
            costs.indexTotalCost = costs.indexTotalCost.max(costs.indexStartupCost);
            cost::Costs {
                startup: costs.indexStartupCost,
                total: costs.indexTotalCost,
                selectivity: costs.indexSelectivity,
                correlation: costs.indexCorrelation,
                pages: costs.numIndexPages,
            }
        }
    }

    unsafe fn start_search(
        index: pg_sys::Relation,
        info: &IndexInfo,
        query: &[u8],
        space: &QuerySpace,
    ) -> HnswSearch {
        let iterative = match guc::HNSW_ITERATIVE_SCAN.get() {
            IterativeScanMode::Off => IterativeScan::Off,
            IterativeScanMode::RelaxedOrder => IterativeScan::RelaxedOrder,
            IterativeScanMode::StrictOrder => IterativeScan::StrictOrder,
        };
        let options = ScanOptions {
            // SAFETY: `index` is the open index of the scan.
            ef_search: unsafe {
                super::recall::scan_setting(super::recall::Kind::Hnsw, index, ef_search_option(index))
            } as usize,
            iterative,
            max_scan_tuples: guc::HNSW_MAX_SCAN_TUPLES.get() as u64,
            memory_limit: (guc::work_mem_bytes() as f64 * guc::HNSW_SCAN_MEM_MULTIPLIER.get())
                as usize,
        };
        // A NULL query compares as distance 0 with everything (QuerySpace).
        let codes = if space.is_null_query() {
            None
        } else {
            // SAFETY: `index` is the open index of the scan.
            unsafe { code_space(index, info) }.and_then(|cs| cs.prepare(query))
        };
        HnswSearch {
            scan: HnswScan::new(query, options),
            codes,
            rows: RowCounts::ordered(info.space.storage(), space),
        }
    }

    unsafe fn start_radius_search(
        index: pg_sys::Relation,
        info: &IndexInfo,
        query: &[u8],
        space: &QuerySpace,
        threshold: f32,
    ) -> HnswSearch {
        // SAFETY: as for `start_search`: the scan's open index.
        let mut search = unsafe { Self::start_search(index, info, query, space) };
        // Iterative even if `hnsw.iterative_scan` is off (radius scans have no LIMIT
        // to stop at), bounded by `hnsw.max_scan_tuples`.
        search.scan.stop_beyond(threshold);
        search.rows = RowCounts::radius();
        search
    }

    unsafe fn next(
        search: &mut HnswSearch,
        index: pg_sys::Relation,
        space: &QuerySpace,
    ) -> Option<(ItemPointer, f32)> {
        // SAFETY: `index` is the open index of the scan.
        let rel = unsafe { PgRelation::logged(index) };
        let item = match &search.codes {
            Some(codes) => search.scan.next(&rel, codes),
            None => search.scan.next(&rel, space),
        };
        match item {
            Ok(item) => {
                search.rows.count(&item);
                item.map(|item| (item.heap_tid, item.distance))
            }
            Err(e) => raise(&rel, e),
        }
    }

    unsafe fn end_search(search: &mut HnswSearch, index: pg_sys::Relation) {
        let work = Work::ElementsVisited(search.scan.tuples_visited());
        // SAFETY: `index` is the open index of the scan.
        unsafe { stats::record(Self::NAME, index, work, search.rows) };
    }
}

/// `ambuild` with `space`: the operator class's space, or its codes.
unsafe fn build_with<S: ::hnsw::Space + Sync>(
    heap: pg_sys::Relation,
    index: pg_sys::Relation,
    index_info_ptr: *mut pg_sys::IndexInfo,
    info: &IndexInfo,
    space: &S,
) -> (f64, f64) {
    let options = BuildOptions {
        // SAFETY: `index` is the open index being built.
        index: unsafe { index_payload_options(index, info) },
        memory_budget: guc::maintenance_work_mem_bytes(),
        // SAFETY: the build's open relations.
        threads: unsafe { core::build_threads(heap, index, true) },
        ..BuildOptions::default()
    };
    // SAFETY: `index` is the empty index being built, exclusively locked.
    let rel = unsafe { PgRelation::for_build(index) };
    report_progress(pg_sys::PROGRESS_CREATEIDX_SUBPHASE, PHASE_LOAD);
    // SAFETY: `heap` is the open heap of the build.
    unsafe { report_tuples_total(heap) };
    let mut last_phase = PHASE_LOAD;
    let mut progress = |p: BuildProgress| {
        let phase = match p.phase {
            BuildPhase::Building => PHASE_BUILD_GRAPH,
            BuildPhase::Writing => PHASE_WRITE,
            BuildPhase::Inserting => PHASE_INSERT,
        };
        if phase != last_phase {
            last_phase = phase;
            report_progress(pg_sys::PROGRESS_CREATEIDX_SUBPHASE, phase);
            if p.total > 0 {
                report_progress(pg_sys::PROGRESS_CREATEIDX_TUPLES_TOTAL, p.total as i64);
            }
        }
        report_progress(pg_sys::PROGRESS_CREATEIDX_TUPLES_DONE, p.done as i64);
        // Serve a cancel that arrived while signals were blocked.
        SignalsBlocked::deliver();
        !interrupt_pending()
    };
    let mut builder = match Builder::new(&rel, space, options, &mut progress) {
        Ok(b) => b,
        Err(e) => raise(&rel, e),
    };
    let mut payload = Vec::new();
    let mut failure = None;
    let mut sampler = super::recall::BuildSampler::new(info);
    // SAFETY: the relations and IndexInfo Postgres passed to `ambuild`.
    let reltuples = unsafe {
        scan_heap(heap, index, index_info_ptr, true, &mut |tid, datum| {
            if failure.is_some() {
                return;
            }
            let ptr = detoast(datum);
            Hnsw::check_value(info, ptr);
            if !crate::am::opclass::encode_ptr(&info.space, ptr, &mut payload) {
                return;
            }
            // The graph's worker threads may start in here; they must
            // start with signals blocked. The calibration's sample stays
            // out of the graph until it has been measured.
            let signals = SignalsBlocked::new();
            sampler.offer(tid, ptr, &payload, &mut |tid, payload| {
                if failure.is_none() {
                    if let Err(e) = builder.push(tid, payload) {
                        failure = Some(e);
                    }
                }
            });
            drop(signals);
        })
    };
    if let Some(e) = failure {
        raise_cancellable(&rel, e);
    }
    let signals = SignalsBlocked::new();
    let report = builder.finish();
    drop(signals);
    let report = report.unwrap_or_else(|e| raise_cancellable(&rel, e));
    if report.memory_budget_exceeded {
        notice(
            &format!(
                "hnsw graph no longer fits into maintenance_work_mem after {} tuples",
                report.in_memory_tuples
            ),
            "Building will take significantly more time.",
            "Increase maintenance_work_mem to speed up builds.",
        );
    }
    let mut code = Vec::new();
    // SAFETY: the build's open relations; `rel` is written before it is logged.
    let held_out = unsafe {
        super::recall::calibrate_build_held_out(
            heap,
            index,
            index_info_ptr,
            &rel,
            info,
            sampler,
            &mut |tid, payload| {
                let payload = stored(space, payload, &mut code);
                if let Err(e) = ::hnsw::insert(&rel, space, tid, payload) {
                    raise_cancellable(&rel, e);
                }
            },
        )
    };
    rel.log_build();
    (reltuples, (report.heap_tuples + held_out) as f64)
}

/// Issues the check prints at most (the rest are counted).
const CHECK_MAX_REPORTED: usize = 20;

crate::pg_function!(hnsw_check, |fcinfo| {
    // pgvector_rs_hnsw_check(regclass) RETURNS text: walks the index and
    // reports what it found; raises index_corrupted on errors. Like
    // amcheck's functions it is not executable by PUBLIC (sql/hnsw.sql).
    let oid = pg_sys::Oid::from(crate::fmgr::arg(fcinfo, 0).value() as u32);
    // SAFETY: plain catalog lookups and relation opens on the backend's
    // thread; every relation opened here is closed before returning (an
    // ERROR releases the locks with the transaction).
    unsafe {
        // The table first, as amcheck locks it: SHARE UPDATE EXCLUSIVE keeps
        // VACUUM (which removes and relinks elements) out while the walk
        // runs, but lets INSERT, UPDATE, DELETE and SELECT proceed. A hot
        // standby runs no VACUUM and allows no stronger lock than ACCESS
        // SHARE.
        let heap_oid = super::opclass::heap_of_index(oid, "an hnsw index");
        let heap_lock = if pg_sys::RecoveryInProgress() {
            pg_sys::AccessShareLock as pg_sys::LOCKMODE
        } else {
            pg_sys::ShareUpdateExclusiveLock as pg_sys::LOCKMODE
        };
        pg_sys::LockRelationOid(heap_oid, heap_lock);
        let index = pg_sys::index_open(oid, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
        let name = relation_name(index);
        let am_name = pg_sys::get_am_name((*(*index).rd_rel).relam);
        let is_hnsw = !am_name.is_null() && CStr::from_ptr(am_name).to_bytes() == b"hnsw";
        if !is_hnsw {
            pg_sys::index_close(index, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
            error(
                PgSqlErrorCode::ERRCODE_WRONG_OBJECT_TYPE,
                &format!("\"{name}\" is not an hnsw index"),
                None,
            );
        }
        let rel = PgRelation::logged(index);
        // The walk holds about 40 bytes per element, within work_mem.
        let report = match ::hnsw::verify_within(&rel, guc::work_mem_bytes()) {
            Ok(report) => report,
            Err(HnswError::OutOfMemory { requested, limit }) => {
                pgrx::pg_sys::panic::ErrorReport::new(
                    PgSqlErrorCode::ERRCODE_OUT_OF_MEMORY,
                    "out of memory",
                    "pgvector_rs",
                )
                .set_detail(if limit == usize::MAX {
                    format!("Failed on request of size {requested} while checking index \"{name}\".")
                } else {
                    format!(
                        "Checking index \"{name}\" needs more than work_mem ({} kB).",
                        limit / 1024
                    )
                })
                .set_hint("Increase work_mem.")
                .report(pgrx::PgLogLevel::ERROR);
                unreachable!("an ERROR report does not return")
            }
            Err(e) => raise(&rel, e),
        };
        // Both locks are kept until the transaction ends, as amcheck does.
        pg_sys::index_close(index, pg_sys::NoLock as pg_sys::LOCKMODE);
        if !report.is_ok() {
            let mut details: Vec<String> = report
                .errors
                .iter()
                .take(CHECK_MAX_REPORTED)
                .map(|i| format!("{:?} at {:?}: {}", i.kind, i.location, i.detail))
                .collect();
            if report.error_count > CHECK_MAX_REPORTED as u64 {
                details.push(format!(
                    "... and {} more",
                    report.error_count - CHECK_MAX_REPORTED as u64
                ));
            }
            pgrx::pg_sys::panic::ErrorReport::new(
                PgSqlErrorCode::ERRCODE_INDEX_CORRUPTED,
                format!(
                    "index \"{name}\" has {} inconsistencies",
                    report.error_count
                ),
                "pgvector_rs",
            )
            .set_detail(details.join("\n"))
            .set_hint("REINDEX the index.")
            .report(pgrx::PgLogLevel::ERROR);
        }
        let mut text = format!(
            "index \"{name}\" is consistent: {} pages, {} live elements ({} heap tuples), {} deleted, {} free slots, {} warnings",
            report.pages, report.live_elements, report.heap_tids, report.deleted_elements, report.free_elements, report.warnings.len()
        );
        for warning in report.warnings.iter().take(5) {
            text.push_str(&format!("\nwarning: {}", warning.detail));
        }
        crate::fmgr::text_datum(&text)
    }
});
