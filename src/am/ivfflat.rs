//! The `ivfflat` index access method: pgvector's SQL surface over the `ivf`
//! crate.
//!
//! A build samples the table, trains the list centroids with k-means on the
//! sample, then assigns every row to its nearest centroid:
//! 1. heap scan 1: a reservoir sample of `max(50 × lists, 10,000)` rows, as
//!    pgvector samples (pgvector picks random blocks; a seeded reservoir over
//!    the whole heap keeps builds reproducible, which the regression tests
//!    rely on), within the memory pgvector's build would take
//!    ([`PgvectorMemory`]);
//! 2. k-means on the statement's worker pool (threads as the DBA's parallel
//!    maintenance settings allow, signals blocked, all gone when the build
//!    ends), which only sees the sample and stops between steps on a cancel;
//! 3. heap scan 2 pushes every row into [`IvfBuilder`], which assigns them in
//!    parallel batches and writes the lists; the pages are WAL-logged once at
//!    the end.
//!
//! With `quantization = rabitq` the lists hold RaBitQ codes instead of
//! vectors (the crate's code paths: `IvfBuilder::new_with_codes`,
//! `insert_with_codes`, `Scan::new_with_codes`): payloads are the raw
//! vectors as `f32` (`Storage::Codes`), the codes are taken of them, and a
//! scan reports each row's provable lower bound for the executor to
//! recheck. What the last scan read and returned is
//! `pgvector_rs_last_scan_stats()` (and a DEBUG1 line per scan).

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::ffi::CStr;
use std::sync::atomic::AtomicI32;

use ::ivf::kmeans::Progress;
use ::ivf::threads::WorkerPool;
use ::ivf::rabitq::{read_rabitq_meta, CentroidCache, RabitqCodec};
use ::ivf::{
    IndexParams, IterativeScan, IvfBuilder, IvfError, PgvectorMemory, Reservoir, SampleError, Scan,
    SearchOptions,
};
use pagestore::{ItemPointer, Relation};
use pgrx::pg_sys;
use pgrx::PgSqlErrorCode;
use vecspace::{ElementType, Metric, Storage, VectorSpace};

use super::buffer::PgRelation;
use super::build::{report_tuples_total, scan_heap};
use super::core::{self, AccessMethod, IndexInfo, VacuumCounts};
use super::guc::{self, IvfIterativeScanMode, IVFFLAT_MAX_LISTS};
use super::opclass::{encode_ptr, relation_name};
use super::scan::QuerySpace;
use super::stats::{self, RowCounts, Work};
use super::{
    check_for_interrupts, cost, error, int_option, interrupt_pending, notice, quantization,
    report_progress,
};
use crate::fmgr::detoast;

/// The `ivfflat` access method.
pub struct Ivfflat;

const AM: &str = "ivfflat";

/// pgvector's `lists` option.
const DEFAULT_LISTS: i32 = 100;
const MIN_LISTS: i32 = 1;

/// Seed of the build's reservoir sample (k-means has its own, fixed, seed):
/// the same table gives the same index.
const SAMPLE_SEED: u64 = 0x5EED_1F1F;

/// Build sub-phases for `pg_stat_progress_create_index`, pgvector's numbers
/// (1 is Postgres's "initializing").
const PHASE_KMEANS: i64 = 2;
const PHASE_ASSIGN: i64 = 3;
const PHASE_LOAD: i64 = 4;

static RELOPT_KIND: AtomicI32 = AtomicI32::new(0);

/// `rd_options` layout (a varlena, as `build_reloptions` produces).
#[repr(C)]
pub struct IvfflatOptions {
    vl_len: i32,
    lists: i32,
    quantization: i32,
    /// Default `probes` of scans (0: not given).
    probes: i32,
    /// Bits per dimension of RaBitQ codes (0: not given).
    bits: i32,
}

/// Seed of the rotation of a new code index: the same table gives the same
/// index. (The rotation is stored in the meta page; readers use that one.)
const ROTATION_SEED: u64 = 0x0AB1_7C0D_E5EE_D001;

pub fn register_reloptions() {
    // SAFETY: called once from `_PG_init` on the backend's thread; the
    // names and descriptions are static strings.
    unsafe {
        let kind = core::add_reloption_kind::<Ivfflat>();
        pg_sys::add_int_reloption(
            kind,
            c"lists".as_ptr(),
            c"Number of inverted lists".as_ptr(),
            DEFAULT_LISTS,
            MIN_LISTS,
            IVFFLAT_MAX_LISTS,
            pg_sys::AccessExclusiveLock as pg_sys::LOCKMODE,
        );
        // Ours: the probes scans use when the session has not set
        // ivfflat.probes (0, the default, means unset).
        pg_sys::add_int_reloption(
            kind,
            c"probes".as_ptr(),
            c"Default number of probes (when ivfflat.probes is not set)".as_ptr(),
            0,
            1,
            IVFFLAT_MAX_LISTS,
            pg_sys::ShareUpdateExclusiveLock as pg_sys::LOCKMODE,
        );
    }
}

crate::pg_function!(ivfflathandler, |fcinfo| {
    let _ = fcinfo;
    core::routine::<Ivfflat>()
});

/// Raises an index-crate error as a Postgres ERROR; corruption names the
/// index, as the storage boundary's errors do.
pub(crate) fn raise(rel: &PgRelation, e: IvfError) -> ! {
    let code = match &e {
        IvfError::NotAnIvfIndex => rel.raise_corrupted("block 0 is not an ivfflat meta page"),
        IvfError::Corrupted(detail) => rel.raise_corrupted(detail),
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

/// The codec a build of `index` writes codes with: a new one from the
/// index's `bits` and the build's rotation seed, when it stores codes.
/// Refuses `bits` whose codes do not fit a list page, naming the `bits`
/// that fit.
///
/// # Safety
/// `index` is an open ivfflat index.
unsafe fn build_codec(index: pg_sys::Relation, info: &IndexInfo, rel: &PgRelation) -> Option<RabitqCodec> {
    (info.space.storage() == Storage::Codes).then(|| {
        // SAFETY: the caller passes an open index.
        let bits = unsafe { index_bits(index) };
        let size = ::ivf::format::rabitq_code_size(info.dims, bits as usize);
        if size > ::ivf::format::max_payload_size() {
            let fits = ::ivf::format::rabitq_max_bits(info.dims).unwrap_or(0);
            error(
                PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
                &format!(
                    "a RaBitQ code of {} dimensions at {bits} bits per dimension takes {size} bytes, more than an ivfflat page holds ({})",
                    info.dims,
                    ::ivf::format::max_payload_size()
                ),
                Some(&format!("Use bits = {fits} or fewer at {} dimensions.", info.dims)),
            )
        }
        RabitqCodec::new(info.dims, bits, ROTATION_SEED, code_metric(&info.space))
            .unwrap_or_else(|e| raise(rel, e))
    })
}

/// Raises a sampling failure with pgvector's message.
fn raise_sample(e: SampleError) -> ! {
    match e {
        SampleError::Memory {
            required_mb,
            budget_mb,
        } => error(
            PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
            &format!("memory required is {required_mb} MB, maintenance_work_mem is {budget_mb} MB"),
            None,
        ),
        // The column's type modifier guarantees the dimensions; only a
        // value that bypassed it could get here.
        SampleError::Dimensions { expected, got } => error(
            PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
            &format!("expected {expected} dimensions, not {got}"),
            None,
        ),
    }
}

/// The options of `index`, if any were given.
unsafe fn options<'a>(index: pg_sys::Relation) -> Option<&'a IvfflatOptions> {
    // SAFETY: `rd_options` is NULL or the `IvfflatOptions` our `amoptions`
    // produced, alive as long as the relcache entry.
    unsafe { ((*index).rd_options as *const IvfflatOptions).as_ref() }
}

/// The `probes` option of `index` (0 if not given).
pub unsafe fn probes_option(index: pg_sys::Relation) -> i32 {
    // SAFETY: the caller passes an open ivfflat index.
    unsafe { options(index) }.map_or(0, |o| o.probes)
}

/// The `lists` option of `index` (the default when none was given).
unsafe fn index_lists(index: pg_sys::Relation) -> usize {
    // SAFETY: the caller passes an open ivfflat index.
    let lists = unsafe { options(index) }.map_or(DEFAULT_LISTS, |o| o.lists);
    lists.clamp(MIN_LISTS, IVFFLAT_MAX_LISTS) as usize
}

/// Floats per vector as k-means sees it: bits are expanded to one 0/1
/// float each, whole bytes at a time (see `VectorSpace::decode_dense`).
fn kmeans_dims(info: &IndexInfo) -> usize {
    match info.space.element() {
        ElementType::Bit => info.payload_size() * 8,
        _ => info.dims,
    }
}

/// Bytes pgvector's build keeps per sampled value: the varlena of a
/// `vector`, `halfvec` or `bit` of the index's dimensions.
fn pgvector_item_size(info: &IndexInfo) -> usize {
    match info.space.element() {
        ElementType::F16 => 8 + 2 * info.dims,
        ElementType::Bit => 8 + info.dims.div_ceil(8),
        _ => 8 + 4 * info.dims,
    }
}

fn index_params(info: &IndexInfo) -> IndexParams {
    IndexParams {
        dims: info.dims as u32,
        payload_size: info.payload_size(),
        space_id: info.space.id() as u32,
        quantization: match info.space.storage() {
            Storage::Half => ::ivf::format::QUANTIZATION_HALF,
            Storage::Exact => ::ivf::format::QUANTIZATION_NONE,
            // (recorded by the codec's meta item)
            Storage::Codes => ::ivf::format::QUANTIZATION_RABITQ,
        },
    }
}

/// Trains `lists` centroids on `sample` and encodes them as payloads, back
/// to back. Runs on the backend's thread; the crate's worker threads only
/// read the sample. Cancellation is checked between k-means steps.
fn train_centroids(
    info: &IndexInfo,
    lists: usize,
    sample: &[f32],
    pool: &WorkerPool,
) -> Vec<u8> {
    let kdims = kmeans_dims(info);
    let metric = info.space.kmeans_metric().expect("checked by check_space");
    let centroids = ::ivf::train_centroids(
        sample,
        kdims,
        lists,
        metric,
        Some(pool),
        // On a worker thread: only reads the backend's interrupt flags.
        &mut |_: Progress| !interrupt_pending(),
        &mut |centroid, out| info.space.encode_centroid(centroid, kdims, out),
    );
    centroids.unwrap_or_else(|| {
        check_for_interrupts();
        error(
            PgSqlErrorCode::ERRCODE_QUERY_CANCELED,
            "canceling statement due to user request",
            None,
        )
    })
}

/// The statement's worker pool for `threads` build threads.
fn worker_pool(threads: usize) -> WorkerPool {
    WorkerPool::new(threads).unwrap_or_else(|e| {
        error(
            PgSqlErrorCode::ERRCODE_INSUFFICIENT_RESOURCES,
            &format!("could not start build threads: {e}"),
            None,
        )
    })
}

/// The Euclidean distance an index distance of `space` stands for, where
/// the space is a metric one: squared Euclidean (`l2`), minus the inner product
/// of unit vectors (`vector` cosine) or the cosine distance (`halfvec` cosine);
/// `None` for the others.
fn euclidean_of(space: &VectorSpace, distance: f64) -> Option<f64> {
    match (space.metric(), space.element()) {
        // Codes' payloads compare by the cosine distance, as `halfvec`'s.
        (Metric::Cosine, _) if space.storage() == Storage::Codes => {
            Some((2.0 * distance).max(0.0).sqrt())
        }
        (Metric::L2, ElementType::F32 | ElementType::F16) => Some(distance.max(0.0).sqrt()),
        (Metric::Cosine, ElementType::F32) => Some((2.0 + 2.0 * distance).max(0.0).sqrt()),
        (Metric::Cosine, ElementType::F16) => Some((2.0 * distance).max(0.0).sqrt()),
        _ => None,
    }
}

/// The codes' metric of a space with [`Storage::Codes`].
fn code_metric(space: &VectorSpace) -> ::ivf::rabitq::Metric {
    match space.metric() {
        Metric::L2 => ::ivf::rabitq::Metric::L2,
        Metric::InnerProduct => ::ivf::rabitq::Metric::InnerProduct,
        // Only L2, inner product and cosine spaces have codes.
        _ => ::ivf::rabitq::Metric::Cosine,
    }
}

/// The bits of a new code index (`bits`, else the default).
unsafe fn index_bits(index: pg_sys::Relation) -> u8 {
    // SAFETY: the caller passes an open ivfflat index.
    let bits = unsafe { options(index) }.map_or(0, |o| o.bits);
    quantization::bits_of(bits)
}

/// A payload of [`Storage::Codes`] as the raw `f32` vector it holds.
fn payload_floats(payload: &[u8]) -> Cow<'_, [f32]> {
    match bytemuck::try_cast_slice(payload) {
        Ok(floats) => Cow::Borrowed(floats),
        Err(_) => Cow::Owned(bytemuck::pod_collect_to_vec(payload)),
    }
}

/// The codec of a code index, from its meta page: rebuilt at every scan
/// start and insert rather than cached, since it is one meta page read and
/// a rotation recomputed from its seed: 0.55 µs at 384 dimensions and 2.2 µs
/// at 3,072, against 0.67 ms and 5.0 ms for a scan returning 10 rows
/// (`cargo bench -p pgvector_rs-ivf --bench codes_scan`; 2,000 rows, 40
/// lists, 4 probes), under 0.1%.
fn index_codec<R: Relation>(rel: &R, space: &VectorSpace) -> Result<RabitqCodec, IvfError> {
    let meta = read_rabitq_meta(rel)?;
    RabitqCodec::from_meta(&meta, code_metric(space))
}

/// The common meta tuple of an index of either format.
pub(crate) fn read_any_meta<R: Relation>(rel: &R) -> Result<::ivf::format::MetaTuple, IvfError> {
    match ::ivf::read_meta(rel) {
        Err(IvfError::UnsupportedQuantization(::ivf::format::QUANTIZATION_RABITQ)) => {
            read_rabitq_meta(rel).map(|m| m.meta)
        }
        other => other,
    }
}

/// A scan of an index whose space is `index_space` (the one its pages
/// record), comparing in `space`: over codes when the index has them. For
/// the calibration of recall targets, which scans like `amgettuple` does.
pub(crate) fn new_scan<R: Relation, S: ::ivf::Space>(
    rel: &R,
    index_space: &VectorSpace,
    space: &S,
    query: &[u8],
    options: &SearchOptions,
) -> Result<Scan, IvfError> {
    if index_space.storage() != Storage::Codes {
        return Scan::new(rel, space, query, options);
    }
    let codec = index_codec(rel, index_space)?;
    Scan::new_with_codes(rel, space, query, &payload_floats(query), codec, options)
}

thread_local! {
    /// The rotated centroids of the code index this backend scanned last
    /// (its OID), kept for its next scan: at most `work_mem`, and each entry
    /// is checked against the centroid read (`CentroidCache`).
    static CENTROID_CACHE: RefCell<Option<(pg_sys::Oid, CentroidCache)>> =
        const { RefCell::new(None) };
}

/// Gives `scan`, a scan of the code index `index`, the centroids kept
/// from its earlier scans (a new cache if there are none).
unsafe fn lend_centroid_cache(index: pg_sys::Relation, info: &IndexInfo, scan: &mut Scan) {
    if info.space.storage() != Storage::Codes {
        return;
    }
    // SAFETY: `index` is the open index of the scan.
    let oid = unsafe { (*index).rd_id };
    let limit = guc::work_mem_bytes();
    let kept = CENTROID_CACHE.with(|slot| {
        let mut slot = slot.borrow_mut();
        match slot.as_ref() {
            Some((kept_oid, _)) if *kept_oid == oid => slot.take().map(|(_, cache)| cache),
            _ => None,
        }
    });
    let cache = match kept {
        Some(mut cache) => {
            cache.set_max_bytes(limit);
            cache
        }
        None => CentroidCache::new(limit),
    };
    scan.set_centroid_cache(cache);
}

/// Keeps the centroid cache of a finished scan of `index` for its next one.
unsafe fn keep_centroid_cache(index: pg_sys::Relation, scan: &mut Scan) {
    if let Some(cache) = scan.take_centroid_cache() {
        // SAFETY: `index` is the open index of the scan.
        let oid = unsafe { (*index).rd_id };
        CENTROID_CACHE.with(|slot| *slot.borrow_mut() = Some((oid, cache)));
    }
}

/// A running ivfflat scan and what it returned so far.
pub struct IvfScan {
    scan: Scan,
    /// Rows returned to the executor, and whether it reranks them.
    rows: RowCounts,
}

/// Lists of index `oid` from its meta page, else from its options.
unsafe fn index_list_count(oid: pg_sys::Oid) -> usize {
    // SAFETY: the planner holds a lock on the indexes it costs, so opening
    // one without a further lock is safe; it is closed before returning.
    unsafe {
        let index = pg_sys::index_open(oid, pg_sys::NoLock as pg_sys::LOCKMODE);
        let lists = match read_any_meta(&PgRelation::logged(index)) {
            Ok(meta) => meta.lists.max(1) as usize,
            Err(_) => index_lists(index),
        };
        pg_sys::index_close(index, pg_sys::NoLock as pg_sys::LOCKMODE);
        lists
    }
}

impl AccessMethod for Ivfflat {
    const NAME: &'static str = AM;
    const SUPPORT_PROCS: u16 = 5;
    const CODES: bool = true;
    type Options = IvfflatOptions;
    type Search = IvfScan;

    fn relopt_kind() -> &'static AtomicI32 {
        &RELOPT_KIND
    }

    fn option_table() -> Vec<pg_sys::relopt_parse_elt> {
        vec![
            int_option(c"lists", std::mem::offset_of!(IvfflatOptions, lists)),
            quantization::parse_elt(std::mem::offset_of!(IvfflatOptions, quantization)),
            int_option(c"probes", std::mem::offset_of!(IvfflatOptions, probes)),
            int_option(c"bits", std::mem::offset_of!(IvfflatOptions, bits)),
        ]
    }

    fn check_options(options: &IvfflatOptions) {
        quantization::check_bits(options.bits, options.quantization);
    }

    unsafe fn end_search(search: &mut IvfScan, index: pg_sys::Relation) {
        // SAFETY: `index` is the open index of the scan.
        unsafe { keep_centroid_cache(index, &mut search.scan) };
        let work = Work::ListsRead(search.scan.lists_read());
        // SAFETY: `index` is the open index of the scan.
        unsafe { stats::record(AM, index, work, search.rows) };
    }

    unsafe fn quantization_option(index: pg_sys::Relation) -> i32 {
        // SAFETY: the caller passes an open ivfflat index.
        unsafe { options(index) }.map_or(quantization::AUTO, |o| o.quantization)
    }

    /// Codes of `vector` and `halfvec` keys: a code of 16,000 dimensions
    /// fits a list page up to 4 bits per dimension, and centroids span
    /// pages (format version 3).
    fn max_code_dimensions() -> usize {
        quantization::MAX_CODE_DIMENSIONS
    }

    /// pgvector's dimension limits for IVFFlat (a vector must fit one page).
    fn max_dimensions(element: ElementType) -> usize {
        match element {
            ElementType::F32 => 2000,
            ElementType::F16 => 4000,
            ElementType::Bit => 64000,
            ElementType::Sparse => usize::MAX,
        }
    }

    /// pgvector has no sparsevec operator classes for ivfflat: a list
    /// tuple needs a fixed payload size.
    unsafe fn check_space(index: pg_sys::Relation, space: &VectorSpace) {
        if space.kmeans_metric().is_none() {
            error(
                PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                &format!(
                    "operator class of index \"{}\" is not supported by {AM}",
                    // SAFETY: `index` is open.
                    unsafe { relation_name(index) }
                ),
                Some("Use an hnsw index for sparsevec columns."),
            )
        }
    }

    unsafe fn built_storage(index: pg_sys::Relation) -> Option<Storage> {
        // SAFETY: `index` is an open index relation.
        let rel = unsafe { PgRelation::logged(index) };
        if rel.nblocks() == 0 {
            return None;
        }
        Some(match ::ivf::read_meta(&rel) {
            Ok(meta) if meta.quantization == ::ivf::format::QUANTIZATION_HALF => Storage::Half,
            Ok(_) => Storage::Exact,
            Err(IvfError::UnsupportedQuantization(::ivf::format::QUANTIZATION_RABITQ)) => {
                // A code index whose meta page decodes.
                read_rabitq_meta(&rel).unwrap_or_else(|e| raise(&rel, e));
                Storage::Codes
            }
            Err(IvfError::UnsupportedQuantization(code)) => {
                // SAFETY: `index` is open.
                quantization::unknown(code, &unsafe { relation_name(index) })
            }
            Err(e) => raise(&rel, e),
        })
    }

    unsafe fn max_payload_norm(index: pg_sys::Relation) -> f64 {
        // SAFETY: `index` is an open index relation.
        let rel = unsafe { PgRelation::logged(index) };
        ::ivf::read_meta(&rel).map_or(0.0, |m| m.max_payload_norm as f64)
    }

    fn phase_name(phase: i64) -> Option<&'static CStr> {
        Some(match phase {
            PHASE_KMEANS => c"performing k-means",
            PHASE_ASSIGN => c"assigning tuples",
            PHASE_LOAD => c"loading tuples",
            _ => return None,
        })
    }

    unsafe fn build(
        heap: pg_sys::Relation,
        index: pg_sys::Relation,
        index_info_ptr: *mut pg_sys::IndexInfo,
        info: &IndexInfo,
    ) -> (f64, f64) {
        // SAFETY: `index` is the open index being built.
        let lists = unsafe { index_lists(index) };
        // SAFETY: `index` is the empty index being built, exclusively locked.
        let rel = unsafe { PgRelation::for_build(index) };
        // Codes that cannot fit a page are refused before the heap is read.
        // SAFETY: `index` is the open index being built.
        let codec = unsafe { build_codec(index, info, &rel) };

        report_progress(pg_sys::PROGRESS_CREATEIDX_SUBPHASE, PHASE_KMEANS);
        // SAFETY: the build's open relations.
        let threads = unsafe { core::build_threads(heap, index, false) };
        let pool = worker_pool(threads);
        // Memory as pgvector accounts it: the same errors, and never more
        // than its build of this table would take.
        // SAFETY: `heap` is open.
        let heap_blocks = unsafe {
            pg_sys::RelationGetNumberOfBlocksInFork(heap, pg_sys::ForkNumber::MAIN_FORKNUM)
        };
        let model = PgvectorMemory::new(lists, info.dims, pgvector_item_size(info), heap_blocks as u64);
        let budget = guc::maintenance_work_mem_bytes();
        PgvectorMemory::check(model.before_sampling(), budget).unwrap_or_else(|e| raise_sample(e));
        let mut reservoir = Reservoir::new(
            model.sample_rows(),
            kmeans_dims(info),
            lists,
            threads,
            move |rows| model.limit(rows, budget),
            SAMPLE_SEED,
        );
        let (mut payload, mut row) = (Vec::new(), Vec::new());
        // Rows pgvector's sampling would see: not NULL, and not zero under
        // cosine (counted as such where decoded: all of a small table).
        let mut offered = 0usize;
        // SAFETY: the relations and IndexInfo Postgres passed to `ambuild`.
        unsafe {
            scan_heap(heap, index, index_info_ptr, true, &mut |_, datum| {
                offered += 1;
                // Values are only detoasted and decoded when they enter the
                // sample; values the space cannot index (zero vectors under
                // cosine) are left out, as pgvector leaves them out.
                let Some(slot) = reservoir.offer() else {
                    return;
                };
                if !encode_ptr(&info.space, detoast(datum), &mut payload) {
                    offered -= 1;
                    return;
                }
                info.space.decode_dense(&payload, &mut row);
                reservoir.put(slot, &row).unwrap_or_else(|e| raise_sample(e));
            })
        };
        // What pgvector would have sampled (ours may be smaller for bits).
        let sampled = offered.min(model.sample_rows());
        if sampled < lists {
            notice(
                "ivfflat index created with little data",
                "This will cause low recall.",
                "Drop the index until the table has more data.",
            );
        }
        if sampled > 0 {
            // pgvector runs k-means (and checks its memory) on a non-empty sample.
            PgvectorMemory::check(model.at_kmeans(sampled), budget)
                .unwrap_or_else(|e| raise_sample(e));
        }
        // The sampling scan counted tuples; k-means does not.
        report_progress(pg_sys::PROGRESS_CREATEIDX_TUPLES_DONE, 0);
        let centroids = train_centroids(info, lists, reservoir.rows(), &pool);
        drop(reservoir);

        report_progress(pg_sys::PROGRESS_CREATEIDX_SUBPHASE, PHASE_ASSIGN);
        // SAFETY: `heap` is the open heap of the build.
        unsafe { report_tuples_total(heap) };
        // The heap scan reports tuples done while assigning; the builder
        // reports them while loading, when it writes the last pages.
        let loading = Cell::new(false);
        let progress = |done: u64| {
            check_for_interrupts();
            if loading.get() {
                report_progress(pg_sys::PROGRESS_CREATEIDX_TUPLES_DONE, done as i64);
            }
        };
        let codes = info.space.storage() == Storage::Codes;
        let builder = IvfBuilder::new_maybe_codes(
            &rel,
            &info.space,
            index_params(info),
            centroids,
            codec.as_ref(),
            progress,
        );
        let mut builder = builder.unwrap_or_else(|e| raise(&rel, e)).with_pool(&pool);
        let mut pushed = 0u64;
        // SAFETY: as for the sampling scan.
        let reltuples = unsafe {
            scan_heap(heap, index, index_info_ptr, true, &mut |tid, datum| {
                if encode_ptr(&info.space, detoast(datum), &mut payload) {
                    let pushed_row = if codes {
                        // The payload is the raw vector the code is taken of.
                        builder.push_with_vector(tid, &payload, &payload_floats(&payload))
                    } else {
                        builder.push(tid, &payload)
                    };
                    pushed_row.unwrap_or_else(|e| raise(&rel, e));
                    pushed += 1;
                }
            })
        };

        report_progress(pg_sys::PROGRESS_CREATEIDX_SUBPHASE, PHASE_LOAD);
        report_progress(pg_sys::PROGRESS_CREATEIDX_TUPLES_TOTAL, pushed as i64);
        loading.set(true);
        let stats = builder.finish().unwrap_or_else(|e| raise(&rel, e));
        // Every worker thread has exited when this returns.
        drop(pool);
        // SAFETY: the build's open relations; `rel` is written before it is logged.
        unsafe {
            super::recall::calibrate_build(
                super::recall::Kind::Ivfflat,
                heap,
                index,
                index_info_ptr,
                &rel,
                info,
            )
        };
        rel.log_build();
        (reltuples, stats.tuples as f64)
    }

    /// The init fork of an unlogged index: random centroids, no rows, as
    /// pgvector builds it.
    unsafe fn build_empty(index: pg_sys::Relation, info: &IndexInfo) {
        // SAFETY: `index` is the unlogged index whose init fork is written.
        let rel = unsafe { PgRelation::init_fork(index) };
        // SAFETY: `index` is open.
        let codec = unsafe { build_codec(index, info, &rel) };
        let pool = worker_pool(1);
        // SAFETY: `index` is the open index whose init fork is built.
        let centroids = train_centroids(info, unsafe { index_lists(index) }, &[], &pool);
        let builder = IvfBuilder::new_maybe_codes(
            &rel,
            &info.space,
            index_params(info),
            centroids,
            codec.as_ref(),
            |_| {},
        );
        let builder = builder.unwrap_or_else(|e| raise(&rel, e));
        builder.with_pool(&pool).finish().unwrap_or_else(|e| raise(&rel, e));
        // SAFETY: `index` is open.
        super::recall::store_pending(&rel, &unsafe { relation_name(index) });
    }

    unsafe fn insert(index: pg_sys::Relation, info: &IndexInfo, tid: ItemPointer, payload: &[u8]) {
        // SAFETY: `index` is open and locked by the inserting statement.
        let rel = unsafe { PgRelation::logged(index) };
        let inserted = if info.space.storage() == Storage::Codes {
            index_codec(&rel, &info.space).and_then(|codec| {
                ::ivf::insert_with_codes(&rel, &info.space, &codec, tid, payload, &payload_floats(payload))
            })
        } else {
            ::ivf::insert(&rel, &info.space, tid, payload)
        };
        if let Err(e) = inserted {
            raise(&rel, e);
        }
    }

    unsafe fn bulk_delete(
        index: pg_sys::Relation,
        _info: &IndexInfo,
        deleted: &mut dyn FnMut(ItemPointer) -> bool,
    ) -> VacuumCounts {
        // SAFETY: `index` is open and locked by VACUUM.
        let rel = unsafe { PgRelation::logged(index) };
        match ::ivf::bulk_delete_with_delay(&rel, deleted, &mut super::vacuum_delay_point) {
            Ok(v) => VacuumCounts {
                pages: v.pages,
                removed: v.tuples_removed,
                remaining: v.tuples_remaining,
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
            let index_info = (*path).indexinfo;
            let lists = index_list_count((*index_info).indexoid) as f64;
            let mut costs = cost::generic(root, path, loop_count, 0.0);
            // pgvector's ivfflatcostestimate: the fraction of the lists a
            // scan reads, all of them before the first row comes back.
            // (at the lists the scan needs to return LIMIT rows past the other quals)
            let scan = cost::model::ListScan {
                lists,
                probes: cost::planned_setting(super::recall::Kind::Ivfflat, root, path),
                iterative: guc::IVFFLAT_ITERATIVE_SCAN.get() != IvfIterativeScanMode::Off
                    || !(*path).indexclauses.is_null(),
                max_probes: guc::IVFFLAT_MAX_PROBES.get() as f64,
            };
            let demand = cost::demand(root, path, costs.indexSelectivity);
            let ratio = cost::model::ivf_ratio(&scan, &demand);
            let seq_page_cost = cost::seq_page_cost(path);
            // Half of the list pages are read sequentially.
            let sequential = 0.5;
            let random_premium = costs.spc_random_page_cost - seq_page_cost;
            costs.indexTotalCost -= sequential * costs.numIndexPages * random_premium;
            costs.indexStartupCost = costs.indexTotalCost * ratio;
            let startup_pages = costs.numIndexPages * ratio;
            let heap_pages = (*(*index_info).rel).pages as f64;
            if startup_pages > heap_pages && ratio < 0.5 {
                // Index pages are read like a sequential scan would read
                // TOAST, which the heap's cost does not include.
                costs.indexStartupCost -= (1.0 - sequential) * startup_pages * random_premium;
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
    ) -> IvfScan {
        let iterative = match guc::IVFFLAT_ITERATIVE_SCAN.get() {
            IvfIterativeScanMode::Off => IterativeScan::Off,
            IvfIterativeScanMode::RelaxedOrder => IterativeScan::RelaxedOrder {
                max_probes: guc::IVFFLAT_MAX_PROBES.get() as usize,
            },
        };
        // SAFETY: `index` is the open index of the scan.
        let probes = unsafe {
            super::recall::scan_setting(super::recall::Kind::Ivfflat, index, probes_option(index))
        };
        let options = SearchOptions {
            probes: probes as usize,
            iterative,
        };
        // SAFETY: `index` is the open index of the scan.
        let rel = unsafe { PgRelation::logged(index) };
        let mut search =
            new_scan(&rel, &info.space, space, query, &options).unwrap_or_else(|e| raise(&rel, e));
        // An ivfflat scan holds at most work_mem of candidate rows.
        search.set_memory_limit(guc::work_mem_bytes());
        // SAFETY: `index` is the open index of the scan.
        unsafe { lend_centroid_cache(index, info, &mut search) };
        IvfScan {
            scan: search,
            rows: RowCounts::ordered(info.space.storage(), space),
        }
    }

    unsafe fn start_radius_search(
        index: pg_sys::Relation,
        info: &IndexInfo,
        query: &[u8],
        space: &QuerySpace,
        threshold: f32,
    ) -> IvfScan {
        // Batches of `ivfflat.probes` lists, up to `ivfflat.max_probes` whatever
        // `ivfflat.iterative_scan` says (radius scans have no LIMIT to stop at),
        // until a batch holds no row within the radius.
        let options = SearchOptions {
            probes: guc::IVFFLAT_PROBES.get() as usize,
            iterative: IterativeScan::RelaxedOrder {
                max_probes: guc::IVFFLAT_MAX_PROBES.get() as usize,
            },
        };
        // SAFETY: `index` is the open index of the scan.
        let rel = unsafe { PgRelation::logged(index) };
        let mut search =
            new_scan(&rel, &info.space, space, query, &options).unwrap_or_else(|e| raise(&rel, e));
        search.set_memory_limit(guc::work_mem_bytes());
        // SAFETY: `index` is the open index of the scan.
        unsafe { lend_centroid_cache(index, info, &mut search) };
        // Under a metric, lists on the far side of a Voronoi bisector farther than
        // the radius cannot hold rows within it: they are left out. (Inner product
        // is not a metric: those scans read up to `max_probes` lists.)
        let space_of = info.space;
        // A code index's row distances are the operator's values (bounds of
        // them), its centroid distances those of the space.
        let radius = if space_of.storage() == Storage::Codes {
            match space_of.metric() {
                Metric::L2 => Some(threshold as f64),
                Metric::Cosine => Some((2.0 * threshold as f64).max(0.0).sqrt()),
                _ => None,
            }
        } else {
            euclidean_of(&space_of, threshold as f64)
        };
        if let Some(radius) = radius.filter(|r| r.is_finite()) {
            let skipped = search.skip_lists_outside(
                &rel,
                radius,
                |d| euclidean_of(&space_of, d as f64).unwrap_or(f64::INFINITY),
                |a, b| euclidean_of(&space_of, space_of.distance(a, b) as f64).unwrap_or(0.0),
            );
            skipped.unwrap_or_else(|e| raise(&rel, e));
        }
        IvfScan {
            scan: search,
            rows: RowCounts::radius(),
        }
    }

    unsafe fn next(
        search: &mut IvfScan,
        index: pg_sys::Relation,
        space: &QuerySpace,
    ) -> Option<(ItemPointer, f32)> {
        // SAFETY: `index` is the open index of the scan.
        let rel = unsafe { PgRelation::logged(index) };
        let row = search.scan.next(&rel, space).unwrap_or_else(|e| raise(&rel, e));
        search.rows.count(&row);
        row
    }
}
