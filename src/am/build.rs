//! The heap scan of `ambuild`, shared by both access methods.

use pagestore::ItemPointer;
use pgrx::pg_sys;

use super::report_progress;

/// Converts a Postgres TID.
pub fn item_pointer(tid: &pg_sys::ItemPointerData) -> ItemPointer {
    ItemPointer::new(
        (tid.ip_blkid.bi_hi as u32) << 16 | tid.ip_blkid.bi_lo as u32,
        tid.ip_posid,
    )
}

/// Converts to a Postgres TID.
pub fn item_pointer_data(tid: ItemPointer) -> pg_sys::ItemPointerData {
    let block = tid.block;
    pg_sys::ItemPointerData {
        ip_blkid: pg_sys::BlockIdData {
            bi_hi: (block >> 16) as u16,
            bi_lo: block as u16,
        },
        ip_posid: tid.offset,
    }
}

struct ScanState<'a> {
    visit: &'a mut dyn FnMut(ItemPointer, pg_sys::Datum),
    context: pg_sys::MemoryContext,
    tuples: u64,
}

/// Scans the heap like `table_index_build_scan` and calls `visit` with the
/// TID and key datum of every tuple whose key is not NULL, in a memory
/// context reset after each call. Returns the heap's tuple count.
pub unsafe fn scan_heap(
    heap: pg_sys::Relation,
    index: pg_sys::Relation,
    index_info: *mut pg_sys::IndexInfo,
    progress: bool,
    visit: &mut dyn FnMut(ItemPointer, pg_sys::Datum),
) -> f64 {
    // SAFETY: the caller passes the open relations and IndexInfo of a build; the tuple context
    // is deleted after the scan; `state` outlives the scan that hands it to the callback.
    unsafe {
        let context = pg_sys::AllocSetContextCreateExtended(
            pg_sys::CurrentMemoryContext,
            c"pgvector_rs build tuple context".as_ptr(),
            pg_sys::ALLOCSET_DEFAULT_MINSIZE as usize,
            pg_sys::ALLOCSET_DEFAULT_INITSIZE as usize,
            pg_sys::ALLOCSET_DEFAULT_MAXSIZE as usize,
        );
        let mut state = ScanState {
            visit,
            context,
            tuples: 0,
        };
        let scan = (*(*heap).rd_tableam)
            .index_build_range_scan
            .expect("table access method without index_build_range_scan");
        // Guarded: an ERROR inside the scan (a cancel, or one raised by the
        // callback) becomes a panic here instead of a longjmp over our frames.
        let reltuples = pg_sys::ffi::pg_guard_ffi_boundary(|| {
            scan(
                heap,
                index,
                index_info,
                true,     // allow_sync
                false,    // anyvisible
                progress, // report block progress
                0,
                pg_sys::InvalidBlockNumber,
                Some(build_callback),
                &mut state as *mut ScanState as *mut std::ffi::c_void,
                std::ptr::null_mut(),
            )
        });
        pg_sys::MemoryContextDelete(context);
        reltuples
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn build_callback(
    _index: pg_sys::Relation,
    tid: pg_sys::ItemPointer,
    values: *mut pg_sys::Datum,
    isnull: *mut bool,
    _tuple_is_alive: bool,
    state: *mut std::ffi::c_void,
) {
    // SAFETY: `table_index_build_scan` calls this with one key datum and null flag
    // (single-column indexes) and the `ScanState` pointer `scan_heap` passed.
    unsafe {
        let state = &mut *(state as *mut ScanState);
        if *isnull {
            return;
        }
        let old = pg_sys::MemoryContextSwitchTo(state.context);
        (state.visit)(item_pointer(&*tid), *values);
        pg_sys::MemoryContextSwitchTo(old);
        pg_sys::MemoryContextReset(state.context);
        state.tuples += 1;
        if state.tuples.is_multiple_of(1024) {
            report_progress(pg_sys::PROGRESS_CREATEIDX_TUPLES_DONE, state.tuples as i64);
        }
    }
}

/// `PROGRESS_CREATEIDX_TUPLES_TOTAL` from the heap's size estimate.
pub unsafe fn report_tuples_total(heap: pg_sys::Relation) {
    // SAFETY: `heap` is an open relation, so `rd_rel` is valid.
    let reltuples = unsafe { (*(*heap).rd_rel).reltuples };
    if reltuples > 0.0 {
        report_progress(pg_sys::PROGRESS_CREATEIDX_TUPLES_TOTAL, reltuples as i64);
    }
}
