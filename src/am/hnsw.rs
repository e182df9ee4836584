//! The `hnsw` index access method: pgvector's SQL surface over the `hnsw`
//! crate.

use std::ffi::CStr;
use std::sync::atomic::{AtomicI32, Ordering};

use ::hnsw::{
    BuildOptions, BuildPhase, BuildProgress, Builder, HnswError, HnswScan, IndexOptions,
    IterativeScan, ScanOptions,
};
use pagestore::{Page, Relation};
use pgrx::pg_sys;
use pgrx::PgSqlErrorCode;
use vecspace::{ElementType, Metric, Storage, VectorSpace};

use super::buffer::PgRelation;
use super::build::{item_pointer, item_pointer_data, report_tuples_total, scan_heap};
use super::guc::{self, IterativeScanMode};
use super::opclass::{checked_dimensions, index_space, relation_name};
use super::scan::{begin_scan, check_scan, copy_keys, count_index_scan, start_query, ScanQuery};
use super::{
    check_for_interrupts, cost, error, int_option, interrupt_pending, notice, parse_options,
    quantization, report_progress,
};
use crate::fmgr::detoast;

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

fn max_dimensions(element: ElementType) -> usize {
    match element {
        ElementType::F32 => 2000,
        ElementType::F16 => 4000,
        ElementType::Bit => 64000,
        ElementType::Sparse => usize::MAX,
    }
}

/// Build sub-phases for `pg_stat_progress_create_index` (1 is Postgres's
/// "initializing").
const PHASE_LOAD: i64 = 2;
const PHASE_BUILD_GRAPH: i64 = 3;
const PHASE_WRITE: i64 = 4;
const PHASE_INSERT: i64 = 5;

static RELOPT_KIND: AtomicI32 = AtomicI32::new(0);

/// `rd_options` layout (a varlena, as `build_reloptions` produces).
#[repr(C)]
struct HnswOptions {
    vl_len: i32,
    m: i32,
    ef_construction: i32,
    quantization: i32,
}

pub fn register_reloptions() {
    unsafe {
        let kind = pg_sys::add_reloption_kind();
        RELOPT_KIND.store(kind as i32, Ordering::Relaxed);
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
        quantization::register(kind);
    }
}

crate::pg_function!(hnswhandler, |fcinfo| {
    let _ = fcinfo;
    let mut am = unsafe {
        pgrx::PgBox::<pg_sys::IndexAmRoutine>::alloc_node(pg_sys::NodeTag::T_IndexAmRoutine)
    };
    am.amstrategies = 0;
    am.amsupport = 3;
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
fn raise(e: HnswError) -> ! {
    let code = match e {
        HnswError::PayloadTooLarge { .. } => PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
        HnswError::PayloadSizeMismatch { .. } => PgSqlErrorCode::ERRCODE_DATA_EXCEPTION,
        HnswError::InvalidOption(_) => PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        HnswError::UnsupportedVersion(_) => PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
        HnswError::Corrupted(_) => PgSqlErrorCode::ERRCODE_INDEX_CORRUPTED,
        HnswError::Cancelled => PgSqlErrorCode::ERRCODE_QUERY_CANCELED,
        HnswError::RelationNotEmpty => PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
    };
    error(code, &e.to_string(), None)
}

/// The index options of `index` (defaults when none were given), checked:
/// `m`, `ef_construction` and `quantization`.
unsafe fn index_options(index: pg_sys::Relation) -> (u16, u16, i32) {
    unsafe {
        let options = (*index).rd_options as *const HnswOptions;
        let (m, ef, storage_option) = if options.is_null() {
            (DEFAULT_M, DEFAULT_EF_CONSTRUCTION, quantization::AUTO)
        } else {
            (
                (*options).m,
                (*options).ef_construction,
                (*options).quantization,
            )
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
}

/// The storage a new build of `index` uses, from its `quantization` option.
unsafe fn requested_storage(index: pg_sys::Relation, space: VectorSpace) -> VectorSpace {
    let (_, _, option) = unsafe { index_options(index) };
    let half = [Metric::L2, Metric::InnerProduct, Metric::Cosine];
    quantization::requested(space, option, &half, AM)
}

/// The storage an existing index was built with, from its meta page;
/// `None` before the first build has written one.
unsafe fn built_storage(index: pg_sys::Relation, space: VectorSpace) -> Option<VectorSpace> {
    let meta = unsafe { read_meta(index) }?;
    let name = unsafe { relation_name(index) };
    let storage = match meta.quantization {
        ::hnsw::format::QUANTIZATION_NONE => Storage::Exact,
        ::hnsw::format::QUANTIZATION_HALF => Storage::Half,
        other => quantization::unknown(other as u32, &name),
    };
    Some(quantization::built(space, storage, &name))
}

/// Space and dimensions of an index, cached in the relcache entry.
#[derive(Clone, Copy)]
struct IndexInfo {
    space: VectorSpace,
    dims: usize,
}

unsafe fn index_info(index: pg_sys::Relation) -> IndexInfo {
    unsafe {
        if !(*index).rd_amcache.is_null() {
            return *((*index).rd_amcache as *const IndexInfo);
        }
        let space = index_space(index, AM);
        // The option may have been altered since the build; the pages say
        // how the vectors were actually stored.
        let space = built_storage(index, space).unwrap_or_else(|| requested_storage(index, space));
        // Half-precision storage fits `vector`s as long as `halfvec`s.
        let dims = checked_dimensions(index, &space, AM, |element| match space.storage() {
            Storage::Half => max_dimensions(ElementType::F16),
            Storage::Exact => max_dimensions(element),
        });
        let info = IndexInfo { space, dims };
        let cached =
            pg_sys::MemoryContextAlloc((*index).rd_indexcxt, std::mem::size_of::<IndexInfo>())
                as *mut IndexInfo;
        cached.write(info);
        (*index).rd_amcache = cached as *mut std::ffi::c_void;
        info
    }
}

unsafe fn index_payload_options(index: pg_sys::Relation, info: &IndexInfo) -> IndexOptions {
    let (m, ef_construction, _) = unsafe { index_options(index) };
    IndexOptions {
        m,
        ef_construction,
        dimensions: info.dims as u32,
        payload_size: info.space.payload_size(info.dims).unwrap_or(0) as u32,
        space_id: info.space.id(),
        quantization: match info.space.storage() {
            Storage::Half => ::hnsw::format::QUANTIZATION_HALF,
            Storage::Exact => ::hnsw::format::QUANTIZATION_NONE,
        },
    }
}

/// Rejects sparse vectors with more non-zero elements than an element holds.
unsafe fn check_value(info: &IndexInfo, ptr: *const u8) {
    if info.space.element() == ElementType::Sparse {
        let nnz = unsafe { crate::types::datum::sparse_from_ptr(ptr) }
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
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn ambuild(
    heap: pg_sys::Relation,
    index: pg_sys::Relation,
    index_info_ptr: *mut pg_sys::IndexInfo,
) -> *mut pg_sys::IndexBuildResult {
    unsafe {
        let info = index_info(index);
        let options = BuildOptions {
            index: index_payload_options(index, &info),
            memory_budget: guc::maintenance_work_mem_bytes(),
            threads: guc::build_threads(),
            ..BuildOptions::default()
        };
        let rel = PgRelation::for_build(index);
        report_progress(pg_sys::PROGRESS_CREATEIDX_SUBPHASE, PHASE_LOAD);
        report_tuples_total(heap);
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
            !interrupt_pending()
        };
        let mut builder = match Builder::new(&rel, &info.space, options, &mut progress) {
            Ok(b) => b,
            Err(e) => raise(e),
        };
        let mut payload = Vec::new();
        let mut failure = None;
        let reltuples = scan_heap(heap, index, index_info_ptr, true, &mut |tid, datum| {
            if failure.is_some() {
                return;
            }
            let ptr = detoast(datum);
            check_value(&info, ptr);
            if !crate::am::opclass::encode_ptr(&info.space, ptr, &mut payload) {
                return;
            }
            if let Err(e) = builder.push(tid, &payload) {
                failure = Some(e);
            }
        });
        if let Some(e) = failure {
            if e == HnswError::Cancelled {
                check_for_interrupts();
            }
            raise(e);
        }
        let report = match builder.finish() {
            Ok(r) => r,
            Err(HnswError::Cancelled) => {
                check_for_interrupts();
                raise(HnswError::Cancelled)
            }
            Err(e) => raise(e),
        };
        if report.memory_budget_exceeded {
            notice(
                &format!(
                    "hnsw graph no longer fits into maintenance_work_mem after {} tuples",
                    report.in_memory_tuples
                ),
                &format!(
                    "The remaining {} tuples were inserted into the index pages one by one, which takes longer.",
                    report.inserted_on_pages
                ),
                "Increase maintenance_work_mem to speed up builds.",
            );
        }
        rel.log_build();
        let result = pgrx::PgBox::<pg_sys::IndexBuildResult>::alloc0();
        let result = result.into_pg();
        (*result).heap_tuples = reltuples;
        (*result).index_tuples = report.heap_tuples as f64;
        result
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn ambuildempty(index: pg_sys::Relation) {
    unsafe {
        let info = index_info(index);
        let rel = PgRelation::init_fork(index);
        if let Err(e) = ::hnsw::build_empty(&rel, &index_payload_options(index, &info)) {
            raise(e);
        }
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
        let ptr = detoast(*values);
        check_value(&info, ptr);
        let mut payload = Vec::new();
        if !crate::am::opclass::encode_ptr(&info.space, ptr, &mut payload) {
            return false;
        }
        let rel = PgRelation::logged(index);
        if let Err(e) = ::hnsw::insert(&rel, &info.space, item_pointer(&*heap_tid), &payload) {
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
        let index = (*vacuum_info).index;
        let info = index_info(index);
        let rel = PgRelation::logged(index);
        let stats = if stats.is_null() {
            pgrx::PgBox::<pg_sys::IndexBulkDeleteResult>::alloc0().into_pg()
        } else {
            stats
        };
        let callback = callback.expect("ambulkdelete without callback");
        let result = ::hnsw::vacuum(
            &rel,
            &info.space,
            |tid| {
                let mut data = item_pointer_data(tid);
                pg_sys::ffi::pg_guard_ffi_boundary(|| callback(&mut data, callback_state))
            },
            super::vacuum_delay_point,
        );
        match result {
            Ok(v) => {
                (*stats).num_pages = v.pages;
                (*stats).tuples_removed += v.heap_tids_removed as f64;
                (*stats).num_index_tuples = v.heap_tids_remaining as f64;
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
        let mut costs = cost::generic(root, path, loop_count, 0.0);
        let index_info = (*path).indexinfo;
        let m = meta_m((*index_info).indexoid).unwrap_or(DEFAULT_M as u16) as f64;
        let tuples = (*index_info).tuples;
        let ef_search = guc::HNSW_EF_SEARCH.get() as f64;
        // pgvector's estimate of the fraction of the index a scan visits:
        // the descent through the upper layers plus the layer-0 search.
        let ratio = if tuples > 0.0 {
            let ml = 1.0 / m.ln();
            let entry_level = (tuples.ln() * ml).floor();
            let layer0_max = 2.0 * m * ef_search;
            let layer0_selectivity = 0.55 * tuples.ln() / (m.ln() * (1.0 + ef_search.ln()));
            ((entry_level * m + layer0_max * layer0_selectivity) / tuples).min(1.0)
        } else {
            1.0
        };
        let seq_page_cost = cost::seq_page_cost(path);
        costs.indexStartupCost = costs.indexTotalCost * ratio;
        let startup_pages = costs.numIndexPages * ratio;
        let heap_pages = (*(*index_info).rel).pages as f64;
        if startup_pages > heap_pages && ratio < 0.5 {
            // Index pages are read like a sequential scan would read TOAST.
            costs.indexStartupCost -= startup_pages * (costs.spc_random_page_cost - seq_page_cost);
            costs.indexStartupCost -= (startup_pages - heap_pages) * seq_page_cost;
        }
        cost::store(
            cost::Costs {
                startup: costs.indexStartupCost,
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

/// `m` from the meta page of index `oid`, if readable.
unsafe fn meta_m(oid: pg_sys::Oid) -> Option<u16> {
    unsafe {
        let index = pg_sys::index_open(oid, pg_sys::NoLock as pg_sys::LOCKMODE);
        let m = read_meta(index).map(|meta| meta.m);
        pg_sys::index_close(index, pg_sys::NoLock as pg_sys::LOCKMODE);
        m
    }
}

/// The meta tuple of `index`, if it has one and it decodes.
unsafe fn read_meta(index: pg_sys::Relation) -> Option<::hnsw::format::MetaTuple> {
    let rel = PgRelation::logged(index);
    if rel.nblocks() == 0 {
        return None;
    }
    let page = rel.read(::hnsw::format::META_BLOCK);
    page.item(::hnsw::format::META_OFFSET)
        .and_then(|item| ::hnsw::format::MetaTuple::decode(item).ok())
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn amoptions(
    reloptions: pg_sys::Datum,
    validate: bool,
) -> *mut pg_sys::bytea {
    let table = [
        int_option(c"m", std::mem::offset_of!(HnswOptions, m)),
        int_option(
            c"ef_construction",
            std::mem::offset_of!(HnswOptions, ef_construction),
        ),
        quantization::parse_elt(std::mem::offset_of!(HnswOptions, quantization)),
    ];
    unsafe { parse_options::<HnswOptions>(reloptions, validate, &RELOPT_KIND, &table) }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn ambuildphasename(phase: i64) -> *mut std::ffi::c_char {
    let name: &'static CStr = match phase {
        1 => c"initializing",
        PHASE_LOAD => c"loading tuples",
        PHASE_BUILD_GRAPH => c"building graph",
        PHASE_WRITE => c"writing index pages",
        PHASE_INSERT => c"inserting tuples past maintenance_work_mem",
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
    /// The search and its query, from the first `amgettuple` after a rescan.
    scan: Option<(HnswScan, ScanQuery)>,
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
        if state.scan.is_none() {
            check_scan(scan, AM);
            count_index_scan(index);
            let (payload, query) = start_query(scan, info.space, info.dims, || {
                read_meta(index).map_or(0.0, |m| m.max_payload_norm)
            });
            let iterative = match guc::HNSW_ITERATIVE_SCAN.get() {
                IterativeScanMode::Off => IterativeScan::Off,
                IterativeScanMode::RelaxedOrder => IterativeScan::RelaxedOrder,
                IterativeScanMode::StrictOrder => IterativeScan::StrictOrder,
            };
            let options = ScanOptions {
                ef_search: guc::HNSW_EF_SEARCH.get() as usize,
                iterative,
                max_scan_tuples: guc::HNSW_MAX_SCAN_TUPLES.get() as u64,
                memory_limit: (guc::work_mem_bytes() as f64 * guc::HNSW_SCAN_MEM_MULTIPLIER.get())
                    as usize,
            };
            state.scan = Some((HnswScan::new(&payload, options), query));
        }
        let rel = PgRelation::logged(index);
        let (hnsw_scan, query) = state.scan.as_mut().expect("scan started above");
        match hnsw_scan.next(&rel, &query.space) {
            Ok(Some(item)) => {
                (*scan).xs_heaptid = item_pointer_data(item.heap_tid);
                query.report_row(scan, item.distance);
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

crate::pg_function!(hnsw_check, |fcinfo| {
    // pgvector_rs_hnsw_check(regclass) RETURNS text: walks the index and
    // reports what it found; raises index_corrupted on errors.
    let oid = pg_sys::Oid::from(crate::fmgr::arg(fcinfo, 0).value() as u32);
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
    let report = ::hnsw::verify(&PgRelation::logged(index));
    pg_sys::index_close(index, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
    if !report.is_ok() {
        let details: Vec<String> = report
            .errors
            .iter()
            .take(20)
            .map(|i| format!("{:?} at {:?}: {}", i.kind, i.location, i.detail))
            .collect();
        pgrx::pg_sys::panic::ErrorReport::new(
            PgSqlErrorCode::ERRCODE_INDEX_CORRUPTED,
            format!(
                "index \"{name}\" has {} inconsistencies",
                report.errors.len()
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
});
