//! What the last index scan of this backend did, for both access methods:
//! `pgvector_rs_last_scan_stats()` and a DEBUG1 line per scan.
//!
//! Rows an index returns with a lower bound of their distance (half
//! precision, RaBitQ codes) are reranked by the executor: it fetches each
//! one's heap row, computes the exact distance and reorders. These counts
//! make that work visible: rows returned, rows rechecked, and what the
//! index read to find them (ivfflat lists, hnsw elements).

use std::cell::Cell;
use std::ffi::CStr;

use pgrx::pg_sys;
use vecspace::Storage;

use super::opclass::relation_name;
use super::scan::QuerySpace;

/// What a scan read to find its rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Work {
    /// ivfflat: lists whose rows were read.
    ListsRead(usize),
    /// hnsw: elements whose distance (or code estimate) was computed,
    /// upper layers included.
    ElementsVisited(u64),
}

/// The rows a running scan has handed the executor.
#[derive(Clone, Copy, Debug)]
pub struct RowCounts {
    /// Rows returned to the executor.
    pub returned: u64,
    /// Every returned row is rechecked on its heap row, or none is.
    pub rechecked: bool,
}

impl RowCounts {
    /// Counts of an ordered scan of an index stored as `storage` for the
    /// query of `space`: rows come with lower bounds that the executor
    /// reranks unless the index stores exact vectors or the query is NULL
    /// (every row at distance 0, nothing to rerank).
    pub fn ordered(storage: Storage, space: &QuerySpace) -> Self {
        RowCounts {
            returned: 0,
            rechecked: storage != Storage::Exact && !space.is_null_query(),
        }
    }

    /// Counts of a radius scan: the executor rechecks the radius clause on
    /// every returned row's heap value.
    pub fn radius() -> Self {
        RowCounts {
            returned: 0,
            rechecked: true,
        }
    }

    /// Counts one more row if `row` is one.
    pub fn count<T>(&mut self, row: &Option<T>) {
        self.returned += row.is_some() as u64;
    }
}

/// The last scan: the index kept by OID, its name only looked up when
/// reported.
#[derive(Clone, Copy)]
struct LastScan {
    index: pg_sys::Oid,
    work: Work,
    rows: RowCounts,
}

thread_local! {
    static LAST_SCAN: Cell<Option<LastScan>> = const { Cell::new(None) };
}

/// "{work}, {returned} rows returned, {rechecked} rows rechecked", the
/// work as "{n} lists read" or "{n} elements visited".
fn counts(work: Work, rows: RowCounts) -> String {
    let work = match work {
        Work::ListsRead(n) => format!("{n} lists read"),
        Work::ElementsVisited(n) => format!("{n} elements visited"),
    };
    let rechecked = if rows.rechecked { rows.returned } else { 0 };
    format!(
        "{work}, {} rows returned, {rechecked} rows rechecked",
        rows.returned
    )
}

/// Records the end of a scan of `index` by access method `am`: the DEBUG1
/// line (formatted only when that level is logged) and the session's last
/// scan.
pub unsafe fn record(am: &str, index: pg_sys::Relation, work: Work, rows: RowCounts) {
    // SAFETY: the caller passes the open index of the scan.
    let oid = unsafe { (*index).rd_id };
    // SAFETY: reads the logging GUCs on the backend's thread.
    if unsafe { pg_sys::message_level_is_interesting(pg_sys::DEBUG1 as i32) } {
        // SAFETY: the caller passes the open index of the scan.
        let name = unsafe { relation_name(index) };
        pgrx::debug1!("{am} scan of index \"{name}\": {}", counts(work, rows));
    }
    LAST_SCAN.with(|s| {
        s.set(Some(LastScan {
            index: oid,
            work,
            rows,
        }))
    });
}

crate::pg_function!(last_scan_stats, |fcinfo| {
    // pgvector_rs_last_scan_stats() RETURNS text: the last hnsw or ivfflat
    // scan of this backend, NULL before the first.
    let text = LAST_SCAN.with(Cell::get).map(|s| {
        // SAFETY: a syscache lookup by OID; NULL if the index was dropped
        // since, else a palloc'd NUL-terminated name.
        let name = unsafe { pg_sys::get_rel_name(s.index) };
        let name = if name.is_null() {
            format!("with OID {}", s.index.to_u32())
        } else {
            // SAFETY: non-NULL, NUL-terminated (above).
            unsafe { CStr::from_ptr(name) }.to_string_lossy().into_owned()
        };
        format!("index {name}: {}", counts(s.work, s.rows))
    });
    match text {
        Some(text) => crate::fmgr::text_datum(&text),
        None => {
            (*fcinfo).isnull = true;
            pg_sys::Datum::from(0)
        }
    }
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_text() {
        let rows = RowCounts {
            returned: 72,
            rechecked: true,
        };
        assert_eq!(
            counts(Work::ListsRead(10), rows),
            "10 lists read, 72 rows returned, 72 rows rechecked"
        );
        let exact = RowCounts {
            returned: 40,
            rechecked: false,
        };
        assert_eq!(
            counts(Work::ElementsVisited(312), exact),
            "312 elements visited, 40 rows returned, 0 rows rechecked"
        );
    }
}
