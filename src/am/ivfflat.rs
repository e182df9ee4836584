//! The `ivfflat` index access method: pgvector's SQL surface over the `ivf`
//! crate.
//!
//! A build samples the table, trains the list centroids with k-means on the
//! sample, then assigns every row to its nearest centroid:
//! 1. heap scan 1: a reservoir sample of `max(50 × lists, 10,000)` rows, as
//!    pgvector samples (pgvector picks random blocks; a seeded reservoir over
//!    the whole heap keeps builds reproducible, which the regression tests
//!    rely on);
//! 2. k-means on the backend's thread (the crate parallelises it with rayon
//!    workers that only see the sample), with interrupt checks between steps;
//! 3. heap scan 2 pushes every row into [`IvfBuilder`], which assigns them in
//!    parallel batches and writes the lists; the pages are WAL-logged once at
//!    the end.

use std::cell::Cell;
use std::ffi::CStr;
use std::sync::atomic::{AtomicI32, Ordering};

use ::ivf::kmeans::{kmeans, KMeansParams, SEEDING_POINTS_PER_LIST};
use ::ivf::{IndexParams, IterativeScan, IvfBuilder, IvfError, Scan, SearchOptions};
use pagestore::Relation;
use pgrx::pg_sys;
use pgrx::PgSqlErrorCode;
use vecspace::{ElementType, Metric, Storage, VectorSpace};

use super::buffer::PgRelation;
use super::build::{item_pointer, item_pointer_data, report_tuples_total, scan_heap};
use super::guc::{self, IvfIterativeScanMode, IVFFLAT_MAX_LISTS};
use super::opclass::{checked_dimensions, encode_ptr, index_space, relation_name};
use super::scan::{begin_scan, check_scan, copy_keys, count_index_scan, start_query, ScanQuery};
use super::{
    check_for_interrupts, cost, error, int_option, notice, parse_options, quantization,
    report_progress,
};
use crate::fmgr::detoast;

const AM: &str = "ivfflat";

/// pgvector's `lists` option.
const DEFAULT_LISTS: i32 = 100;
const MIN_LISTS: i32 = 1;

/// pgvector samples 50 rows per list, and at least 10,000.
const SAMPLES_PER_LIST: usize = 50;
const MIN_SAMPLES: usize = 10_000;

/// Seed of the build's reservoir sample (k-means has its own, fixed, seed):
/// the same table gives the same index.
const SAMPLE_SEED: u64 = 0x5EED_1F1F;

/// Build sub-phases for `pg_stat_progress_create_index`, pgvector's numbers
/// (1 is Postgres's "initializing").
const PHASE_KMEANS: i64 = 2;
const PHASE_ASSIGN: i64 = 3;
const PHASE_LOAD: i64 = 4;

/// pgvector's dimension limits for IVFFlat (a vector must fit one page).
fn max_dimensions(element: ElementType) -> usize {
    match element {
        ElementType::F32 => 2000,
        ElementType::F16 => 4000,
        ElementType::Bit => 64000,
        ElementType::Sparse => usize::MAX,
    }
}

static RELOPT_KIND: AtomicI32 = AtomicI32::new(0);

/// `rd_options` layout (a varlena, as `build_reloptions` produces).
#[repr(C)]
struct IvfflatOptions {
    vl_len: i32,
    lists: i32,
    quantization: i32,
}

pub fn register_reloptions() {
    unsafe {
        let kind = pg_sys::add_reloption_kind();
        RELOPT_KIND.store(kind as i32, Ordering::Relaxed);
        pg_sys::add_int_reloption(
            kind,
            c"lists".as_ptr(),
            c"Number of inverted lists".as_ptr(),
            DEFAULT_LISTS,
            MIN_LISTS,
            IVFFLAT_MAX_LISTS,
            pg_sys::AccessExclusiveLock as pg_sys::LOCKMODE,
        );
        quantization::register(kind);
    }
}

crate::pg_function!(ivfflathandler, |fcinfo| {
    let _ = fcinfo;
    let mut am = unsafe {
        pgrx::PgBox::<pg_sys::IndexAmRoutine>::alloc_node(pg_sys::NodeTag::T_IndexAmRoutine)
    };
    am.amstrategies = 0;
    am.amsupport = 5;
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
    am.ambuild = Some(ambuild);
    am.ambuildempty = Some(ambuildempty);
    am.aminsert = Some(aminsert);
    am.ambulkdelete = Some(ambulkdelete);
    am.amvacuumcleanup = Some(amvacuumcleanup);
    am.amcostestimate = Some(amcostestimate);
    am.amoptions = Some(amoptions);
    am.ambuildphasename = Some(ambuildphasename);
    am.amvalidate = Some(amvalidate);
    am.ambeginscan = Some(ambeginscan);
    am.amrescan = Some(amrescan);
    am.amgettuple = Some(amgettuple);
    am.amendscan = Some(amendscan);
    pg_sys::Datum::from(am.into_pg())
});

/// Raises an index-crate error as a Postgres ERROR.
fn raise(e: IvfError) -> ! {
    let code = match e {
        IvfError::NotAnIvfIndex | IvfError::Corrupted(_) => PgSqlErrorCode::ERRCODE_INDEX_CORRUPTED,
        IvfError::UnsupportedVersion(_) | IvfError::UnsupportedQuantization(_) => {
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED
        }
        IvfError::PayloadSize { .. } => PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
        IvfError::InvalidBuild(_) => PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
        IvfError::Cancelled => PgSqlErrorCode::ERRCODE_QUERY_CANCELED,
        IvfError::OutOfMemory { .. } => PgSqlErrorCode::ERRCODE_OUT_OF_MEMORY,
    };
    error(code, &e.to_string(), None)
}

/// The `lists` option of `index` (the default when none was given).
unsafe fn index_lists(index: pg_sys::Relation) -> usize {
    unsafe {
        let options = (*index).rd_options as *const IvfflatOptions;
        let lists = if options.is_null() {
            DEFAULT_LISTS
        } else {
            (*options).lists
        };
        lists.clamp(MIN_LISTS, IVFFLAT_MAX_LISTS) as usize
    }
}

/// The storage a new build of `index` uses, from its `quantization` option.
unsafe fn requested_storage(index: pg_sys::Relation, space: VectorSpace) -> VectorSpace {
    let options = unsafe { (*index).rd_options as *const IvfflatOptions };
    let option = if options.is_null() {
        quantization::AUTO
    } else {
        unsafe { (*options).quantization }
    };
    let half = [Metric::L2, Metric::InnerProduct, Metric::Cosine];
    quantization::requested(space, option, &half, AM)
}

/// The storage an existing index was built with, from its meta page;
/// `None` before the first build has written one.
unsafe fn built_storage(index: pg_sys::Relation, space: VectorSpace) -> Option<VectorSpace> {
    let rel = unsafe { PgRelation::logged(index) };
    if rel.nblocks() == 0 {
        return None;
    }
    let name = unsafe { relation_name(index) };
    let storage = match ::ivf::read_meta(&rel) {
        Ok(meta) if meta.quantization == ::ivf::format::QUANTIZATION_HALF => Storage::Half,
        Ok(_) => Storage::Exact,
        Err(IvfError::UnsupportedQuantization(code)) => quantization::unknown(code, &name),
        Err(e) => raise(e),
    };
    Some(quantization::built(space, storage, &name))
}

/// Space, dimensions and payload size of an index, cached in the relcache
/// entry.
#[derive(Clone, Copy)]
struct IndexInfo {
    space: VectorSpace,
    dims: usize,
    payload_size: usize,
}

unsafe fn index_info(index: pg_sys::Relation) -> IndexInfo {
    unsafe {
        if !(*index).rd_amcache.is_null() {
            return *((*index).rd_amcache as *const IndexInfo);
        }
        let space = index_space(index, AM);
        // pgvector has no sparsevec operator classes for ivfflat: a list
        // tuple needs a fixed payload size.
        let Some(_) = space.kmeans_metric() else {
            error(
                PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                &format!(
                    "operator class of index \"{}\" is not supported by {AM}",
                    relation_name(index)
                ),
                Some("Use an hnsw index for sparsevec columns."),
            )
        };
        let space = built_storage(index, space).unwrap_or_else(|| requested_storage(index, space));
        // Half-precision storage fits `vector`s as long as `halfvec`s.
        let dims = checked_dimensions(index, &space, AM, |element| match space.storage() {
            Storage::Half => max_dimensions(ElementType::F16),
            Storage::Exact => max_dimensions(element),
        });
        let payload_size = space.payload_size(dims).unwrap_or(0);
        let info = IndexInfo {
            space,
            dims,
            payload_size,
        };
        let cached =
            pg_sys::MemoryContextAlloc((*index).rd_indexcxt, std::mem::size_of::<IndexInfo>())
                as *mut IndexInfo;
        cached.write(info);
        (*index).rd_amcache = cached as *mut std::ffi::c_void;
        info
    }
}

impl IndexInfo {
    /// Floats per vector as k-means sees it: bits are expanded to one 0/1
    /// float each, whole bytes at a time (see `VectorSpace::decode_dense`).
    fn kmeans_dims(&self) -> usize {
        match self.space.element() {
            ElementType::Bit => self.payload_size * 8,
            _ => self.dims,
        }
    }

    fn params(&self) -> IndexParams {
        IndexParams {
            dims: self.dims as u32,
            payload_size: self.payload_size,
            space_id: self.space.id() as u32,
            quantization: match self.space.storage() {
                Storage::Half => ::ivf::format::QUANTIZATION_HALF,
                Storage::Exact => ::ivf::format::QUANTIZATION_NONE,
            },
        }
    }
}

/// A deterministic generator for the reservoir sample (SplitMix64).
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (Lemire's multiply-shift; the bias is < n / 2⁶⁴).
    fn below(&mut self, n: u64) -> u64 {
        ((self.next() as u128 * n as u128) >> 64) as u64
    }
}

/// A uniform sample of the indexable rows (Algorithm R), kept as the f32
/// rows k-means trains on.
struct Reservoir {
    capacity: usize,
    kdims: usize,
    lists: usize,
    /// `maintenance_work_mem` in bytes: the sample and k-means' working
    /// memory must fit in it.
    budget: usize,
    rows: Vec<f32>,
    /// Rows offered once the reservoir was full (plus its capacity).
    seen: u64,
    rng: SplitMix64,
    payload: Vec<u8>,
    row: Vec<f32>,
}

impl Reservoir {
    fn new(capacity: usize, kdims: usize, lists: usize, budget: usize) -> Self {
        Reservoir {
            capacity,
            kdims,
            lists,
            budget,
            rows: Vec::new(),
            seen: 0,
            rng: SplitMix64(SAMPLE_SEED),
            payload: Vec::new(),
            row: Vec::new(),
        }
    }

    fn len(&self) -> usize {
        self.rows.len() / self.kdims
    }

    /// Offers one row. Values are only detoasted and decoded when they enter
    /// the sample; values the space cannot index (zero vectors under cosine)
    /// are left out, as pgvector leaves them out of its sample.
    unsafe fn offer(&mut self, space: &VectorSpace, datum: pg_sys::Datum) {
        let slot = if self.len() < self.capacity {
            None
        } else {
            self.seen = self.seen.max(self.capacity as u64) + 1;
            let j = self.rng.below(self.seen) as usize;
            if j >= self.capacity {
                return;
            }
            Some(j)
        };
        if !unsafe { encode_ptr(space, detoast(datum), &mut self.payload) } {
            return;
        }
        space.decode_dense(&self.payload, &mut self.row);
        if self.row.len() != self.kdims {
            // The column's type modifier guarantees the dimensions; only a
            // value that bypassed it could get here.
            error(
                PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
                &format!("expected {} dimensions, not {}", self.kdims, self.row.len()),
                None,
            );
        }
        match slot {
            None => {
                self.reserve_row();
                self.rows.extend_from_slice(&self.row);
            }
            Some(j) => self.rows[j * self.kdims..(j + 1) * self.kdims].copy_from_slice(&self.row),
        }
    }

    /// Makes room for one more row, growing geometrically but never past
    /// the reservoir's capacity or what `maintenance_work_mem` allows.
    /// Raises pgvector's error once the sample needs more memory than that,
    /// so a small table never fails for its (unused) sample capacity.
    fn reserve_row(&mut self) {
        if self.rows.len() < self.rows.capacity() {
            return;
        }
        let needed = self.len() + 1;
        let memory = |rows: usize| kmeans_memory(rows, self.kdims, self.lists);
        if memory(needed) > self.budget {
            error(
                PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
                &format!(
                    "memory required is {} MB, maintenance_work_mem is {} MB",
                    memory(self.capacity) / (1024 * 1024) + 1,
                    self.budget / (1024 * 1024)
                ),
                None,
            );
        }
        let mut rows = (self.len() * 2).max(64).min(self.capacity).max(needed);
        while rows > needed && memory(rows) > self.budget {
            rows = needed + (rows - needed) / 2;
        }
        self.rows.reserve_exact(rows * self.kdims - self.rows.len());
    }
}

/// Bytes k-means needs for `samples` rows of `kdims` floats and `lists`
/// centroids: the sample, per-point norms, assignments and costs (20 bytes),
/// the centroids with their f64 sums, and the k-means++ subsample.
fn kmeans_memory(samples: usize, kdims: usize, lists: usize) -> usize {
    let row = kdims * std::mem::size_of::<f32>();
    samples * (row + 20) + lists * kdims * 12 + samples.min(lists * SEEDING_POINTS_PER_LIST) * row
}

/// Trains `lists` centroids on `sample` and encodes them as payloads, back
/// to back. Runs on the backend's thread; the crate's worker threads only
/// read the sample. Cancellation is checked between k-means steps.
fn train_centroids(info: &IndexInfo, lists: usize, sample: &[f32]) -> Vec<u8> {
    let kdims = info.kmeans_dims();
    let metric = info.space.kmeans_metric().expect("checked by index_info");
    let params = KMeansParams::new(lists, metric);
    let centroids = kmeans(sample, kdims, &params, &mut |_| check_for_interrupts());
    let mut bytes = Vec::with_capacity(lists * info.payload_size);
    let mut payload = Vec::new();
    for (i, centroid) in centroids.chunks(kdims).enumerate() {
        if !info.space.encode_centroid(centroid, kdims, &mut payload) {
            // A cosine cluster whose normalised points cancel out has no
            // direction; any unit vector serves as its centroid.
            let mut axis = vec![0.0f32; kdims];
            axis[i % kdims] = 1.0;
            info.space.encode_centroid(&axis, kdims, &mut payload);
        }
        bytes.extend_from_slice(&payload);
    }
    bytes
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn ambuild(
    heap: pg_sys::Relation,
    index: pg_sys::Relation,
    index_info_ptr: *mut pg_sys::IndexInfo,
) -> *mut pg_sys::IndexBuildResult {
    unsafe {
        let info = index_info(index);
        let lists = index_lists(index);
        let rel = PgRelation::for_build(index);

        report_progress(pg_sys::PROGRESS_CREATEIDX_SUBPHASE, PHASE_KMEANS);
        let capacity = (lists * SAMPLES_PER_LIST).max(MIN_SAMPLES);
        let budget = guc::maintenance_work_mem_bytes();
        let mut reservoir = Reservoir::new(capacity, info.kmeans_dims(), lists, budget);
        scan_heap(heap, index, index_info_ptr, true, &mut |_, datum| {
            reservoir.offer(&info.space, datum)
        });
        if reservoir.len() < lists {
            notice(
                "ivfflat index created with little data",
                "This will cause low recall.",
                "Drop the index until the table has more data.",
            );
        }
        // The sampling scan counted tuples; k-means does not.
        report_progress(pg_sys::PROGRESS_CREATEIDX_TUPLES_DONE, 0);
        let centroids = train_centroids(&info, lists, &reservoir.rows);
        drop(reservoir);

        report_progress(pg_sys::PROGRESS_CREATEIDX_SUBPHASE, PHASE_ASSIGN);
        report_tuples_total(heap);
        // The heap scan reports tuples done while assigning; the builder
        // reports them while loading, when it writes the last pages.
        let loading = Cell::new(false);
        let progress = |done: u64| {
            check_for_interrupts();
            if loading.get() {
                report_progress(pg_sys::PROGRESS_CREATEIDX_TUPLES_DONE, done as i64);
            }
        };
        let mut builder = IvfBuilder::new(&rel, &info.space, info.params(), centroids, progress)
            .unwrap_or_else(|e| raise(e));
        let mut payload = Vec::new();
        let mut pushed = 0u64;
        let reltuples = scan_heap(heap, index, index_info_ptr, true, &mut |tid, datum| {
            if encode_ptr(&info.space, detoast(datum), &mut payload) {
                builder.push(tid, &payload).unwrap_or_else(|e| raise(e));
                pushed += 1;
            }
        });

        report_progress(pg_sys::PROGRESS_CREATEIDX_SUBPHASE, PHASE_LOAD);
        report_progress(pg_sys::PROGRESS_CREATEIDX_TUPLES_TOTAL, pushed as i64);
        loading.set(true);
        let stats = builder.finish().unwrap_or_else(|e| raise(e));
        rel.log_build();

        let result = pgrx::PgBox::<pg_sys::IndexBuildResult>::alloc0().into_pg();
        (*result).heap_tuples = reltuples;
        (*result).index_tuples = stats.tuples as f64;
        result
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn ambuildempty(index: pg_sys::Relation) {
    unsafe {
        // The init fork of an unlogged index: random centroids, no rows, as
        // pgvector builds it. Every page is WAL-logged.
        let info = index_info(index);
        let centroids = train_centroids(&info, index_lists(index), &[]);
        let rel = PgRelation::init_fork(index);
        let builder = IvfBuilder::new(&rel, &info.space, info.params(), centroids, |_| {})
            .unwrap_or_else(|e| raise(e));
        builder.finish().unwrap_or_else(|e| raise(e));
    }
}

#[pgrx::pg_guard]
#[allow(clippy::too_many_arguments)]
unsafe extern "C-unwind" fn aminsert(
    index: pg_sys::Relation,
    values: *mut pg_sys::Datum,
    isnull: *mut bool,
    heap_tid: pg_sys::ItemPointer,
    _heap: pg_sys::Relation,
    _check_unique: pg_sys::IndexUniqueCheck::Type,
    #[cfg(not(feature = "pg13"))] _index_unchanged: bool,
    _index_info: *mut pg_sys::IndexInfo,
) -> bool {
    unsafe {
        if *isnull {
            return false;
        }
        let info = index_info(index);
        let mut payload = Vec::new();
        // Zero vectors under cosine are not indexed, as in pgvector.
        if !encode_ptr(&info.space, detoast(*values), &mut payload) {
            return false;
        }
        let rel = PgRelation::logged(index);
        if let Err(e) = ::ivf::insert(&rel, &info.space, item_pointer(&*heap_tid), &payload) {
            raise(e);
        }
        false
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn ambulkdelete(
    vacuum_info: *mut pg_sys::IndexVacuumInfo,
    stats: *mut pg_sys::IndexBulkDeleteResult,
    callback: pg_sys::IndexBulkDeleteCallback,
    callback_state: *mut std::ffi::c_void,
) -> *mut pg_sys::IndexBulkDeleteResult {
    unsafe {
        let rel = PgRelation::logged((*vacuum_info).index);
        let stats = if stats.is_null() {
            pgrx::PgBox::<pg_sys::IndexBulkDeleteResult>::alloc0().into_pg()
        } else {
            stats
        };
        let callback = callback.expect("ambulkdelete without callback");
        let result = ::ivf::bulk_delete_with_delay(
            &rel,
            &mut |tid| {
                let mut data = item_pointer_data(tid);
                callback(&mut data, callback_state)
            },
            &mut super::vacuum_delay_point,
        );
        match result {
            Ok(v) => {
                (*stats).num_pages = v.pages;
                (*stats).tuples_removed += v.tuples_removed as f64;
                (*stats).num_index_tuples = v.tuples_remaining as f64;
            }
            Err(e) => raise(e),
        }
        stats
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn amvacuumcleanup(
    vacuum_info: *mut pg_sys::IndexVacuumInfo,
    stats: *mut pg_sys::IndexBulkDeleteResult,
) -> *mut pg_sys::IndexBulkDeleteResult {
    unsafe {
        if (*vacuum_info).analyze_only || stats.is_null() {
            return stats;
        }
        (*stats).num_pages = PgRelation::logged((*vacuum_info).index).nblocks();
        stats
    }
}

#[pgrx::pg_guard]
#[allow(clippy::too_many_arguments)]
unsafe extern "C-unwind" fn amcostestimate(
    root: *mut pg_sys::PlannerInfo,
    path: *mut pg_sys::IndexPath,
    loop_count: f64,
    startup: *mut pg_sys::Cost,
    total: *mut pg_sys::Cost,
    selectivity: *mut pg_sys::Selectivity,
    correlation: *mut f64,
    pages: *mut f64,
) {
    unsafe {
        if let Some(costs) = cost::without_order(path) {
            return cost::store(costs, startup, total, selectivity, correlation, pages);
        }
        let index_info = (*path).indexinfo;
        let lists = index_list_count((*index_info).indexoid) as f64;
        // pgvector's ivfflatcostestimate: the fraction of the lists a scan
        // reads gives the index tuples it visits.
        let ratio = (guc::IVFFLAT_PROBES.get() as f64 / lists).min(1.0);
        let mut costs = cost::generic(root, path, loop_count, (*index_info).tuples * ratio);
        let seq_page_cost = cost::seq_page_cost(path);
        let startup_pages = costs.numIndexPages * ratio;
        let heap_pages = (*(*index_info).rel).pages as f64;
        if startup_pages > heap_pages && ratio < 0.5 {
            // Index pages are read like a sequential scan would read TOAST,
            // which the heap's cost does not include.
            costs.indexTotalCost -= startup_pages * (costs.spc_random_page_cost - seq_page_cost);
            costs.indexTotalCost -= (startup_pages - heap_pages) * seq_page_cost;
        }
        // Most of the work happens before the first tuple is returned.
        cost::store(
            cost::Costs {
                startup: costs.indexTotalCost,
                total: costs.indexTotalCost,
                selectivity: costs.indexSelectivity,
                correlation: costs.indexCorrelation,
                pages: costs.numIndexPages,
            },
            startup,
            total,
            selectivity,
            correlation,
            pages,
        )
    }
}

/// Lists of index `oid` from its meta page, else from its options.
unsafe fn index_list_count(oid: pg_sys::Oid) -> usize {
    unsafe {
        let index = pg_sys::index_open(oid, pg_sys::NoLock as pg_sys::LOCKMODE);
        let lists = match ::ivf::read_meta(&PgRelation::logged(index)) {
            Ok(meta) => meta.lists.max(1) as usize,
            Err(_) => index_lists(index),
        };
        pg_sys::index_close(index, pg_sys::NoLock as pg_sys::LOCKMODE);
        lists
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn amoptions(
    reloptions: pg_sys::Datum,
    validate: bool,
) -> *mut pg_sys::bytea {
    let table = [
        int_option(c"lists", std::mem::offset_of!(IvfflatOptions, lists)),
        quantization::parse_elt(std::mem::offset_of!(IvfflatOptions, quantization)),
    ];
    unsafe { parse_options::<IvfflatOptions>(reloptions, validate, &RELOPT_KIND, &table) }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn ambuildphasename(phase: i64) -> *mut std::ffi::c_char {
    let name: &'static CStr = match phase {
        1 => c"initializing",
        PHASE_KMEANS => c"performing k-means",
        PHASE_ASSIGN => c"assigning tuples",
        PHASE_LOAD => c"loading tuples",
        _ => return std::ptr::null_mut(),
    };
    name.as_ptr() as *mut std::ffi::c_char
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn amvalidate(_opclass: pg_sys::Oid) -> bool {
    true
}

/// Per-scan state, owned by the scan's memory context.
#[derive(Default)]
struct ScanState {
    info: Option<IndexInfo>,
    /// The scan and its query, from the first `amgettuple` after a rescan.
    scan: Option<(Scan, ScanQuery)>,
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn ambeginscan(
    index: pg_sys::Relation,
    nkeys: i32,
    norderbys: i32,
) -> pg_sys::IndexScanDesc {
    unsafe { begin_scan(index, nkeys, norderbys, ScanState::default()) }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn amrescan(
    scan: pg_sys::IndexScanDesc,
    keys: pg_sys::ScanKey,
    nkeys: i32,
    orderbys: pg_sys::ScanKey,
    norderbys: i32,
) {
    unsafe {
        copy_keys(scan, keys, nkeys, orderbys, norderbys);
        let state = &mut *((*scan).opaque as *mut ScanState);
        state.scan = None;
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn amgettuple(
    scan: pg_sys::IndexScanDesc,
    _direction: pg_sys::ScanDirection::Type,
) -> bool {
    unsafe {
        let state = &mut *((*scan).opaque as *mut ScanState);
        let index = (*scan).indexRelation;
        let info = *state.info.get_or_insert_with(|| index_info(index));
        let rel = PgRelation::logged(index);
        if state.scan.is_none() {
            check_scan(scan, AM);
            count_index_scan(index);
            let (payload, query) = start_query(scan, info.space, info.dims, || {
                ::ivf::read_meta(&rel).map_or(0.0, |m| m.max_payload_norm as f64)
            });
            let iterative = match guc::IVFFLAT_ITERATIVE_SCAN.get() {
                IvfIterativeScanMode::Off => IterativeScan::Off,
                IvfIterativeScanMode::RelaxedOrder => IterativeScan::RelaxedOrder {
                    max_probes: guc::IVFFLAT_MAX_PROBES.get() as usize,
                },
            };
            let options = SearchOptions {
                probes: guc::IVFFLAT_PROBES.get() as usize,
                iterative,
            };
            let mut ivf_scan =
                Scan::new(&rel, &query.space, &payload, &options).unwrap_or_else(|e| raise(e));
            ivf_scan.set_memory_limit(guc::work_mem_bytes());
            state.scan = Some((ivf_scan, query));
        }
        let (ivf_scan, query) = state.scan.as_mut().expect("scan started above");
        match ivf_scan.next(&rel, &query.space) {
            Ok(Some((tid, distance))) => {
                (*scan).xs_heaptid = item_pointer_data(tid);
                query.report_row(scan, distance);
                true
            }
            Ok(None) => false,
            Err(e) => raise(e),
        }
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn amendscan(scan: pg_sys::IndexScanDesc) {
    unsafe {
        let state = &mut *((*scan).opaque as *mut ScanState);
        state.scan = None;
    }
}
