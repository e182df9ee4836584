//! Which local transactions have run a foreign scan (postgres_fdw opens its remote
//! transaction, with its snapshot, at the first one on each server).
//!
//! A distributed search inside a READ COMMITTED transaction block may use the scan's own
//! connections (a remote snapshot of its own, taken when it runs, as any READ COMMITTED
//! statement's) only if no foreign scan ran earlier in the transaction: a later foreign
//! scan then opens postgres_fdw's remote transaction after the search, so it sees data at
//! least as new; but after one, postgres_fdw's remote snapshot is older than a new one
//! would be, and a search on our connections followed by another foreign scan would show
//! data going back in time. So every statement the executor starts is checked for a
//! foreign scan (also inside functions, subplans and CTEs), and the local transaction is
//! remembered by its local transaction id. The transaction the library was loaded in
//! counts as one that did (what ran before cannot be known).

use super::util::*;
use pgrx::pg_sys;

static mut PREV: pg_sys::ExecutorStart_hook_type = None;
/// Local transaction id of the last transaction known to have run a foreign scan.
static mut FDW_LXID: pg_sys::LocalTransactionId = 0;

fn lxid() -> pg_sys::LocalTransactionId {
    // SAFETY: MyProc is set for every backend that runs queries.
    unsafe {
        if pg_sys::MyProc.is_null() {
            0
        } else {
            (*pg_sys::MyProc).lxid
        }
    }
}

/// The first executor started in the current top-level statement: the statement's
/// start time and the address of that executor's state.
static mut FIRST: (pg_sys::TimestampTz, usize) = (0, 0);

/// Whether `estate` is the first executor the current top-level statement started
/// (what EXPLAIN ANALYZE runs the explained statement in, before anything it calls).
pub(super) fn is_first_executor(estate: *mut pg_sys::EState) -> bool {
    // SAFETY: single-threaded backend; reads the statement's start time.
    unsafe {
        let first = FIRST;
        first == (pg_sys::GetCurrentStatementStartTimestamp(), estate as usize)
    }
}

/// Installs the hook (from `_PG_init`), chained after any installed before.
pub(super) unsafe fn install() {
    // SAFETY: _PG_init runs on the backend's thread.
    unsafe {
        PREV = pg_sys::ExecutorStart_hook;
        pg_sys::ExecutorStart_hook = Some(start);
        FDW_LXID = lxid();
    }
}

/// Records that the current transaction ran a foreign scan (or might have).
pub(super) fn mark() {
    // SAFETY: single-threaded backend.
    unsafe { FDW_LXID = lxid() }
}

/// Whether the current transaction has run a foreign scan (or might have).
pub(super) fn fdw_used() -> bool {
    // SAFETY: single-threaded backend.
    let l = lxid();
    l == 0 || unsafe { FDW_LXID } == l
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn start(qd: *mut pg_sys::QueryDesc, eflags: core::ffi::c_int) {
    // SAFETY: Postgres passes a valid query descriptor; after the start its plan-state
    // tree and subplan states are initialised.
    unsafe {
        match PREV {
            Some(prev) => prev(qd, eflags),
            None => pg_sys::standard_ExecutorStart(qd, eflags),
        }
        let started = pg_sys::GetCurrentStatementStartTimestamp();
        if FIRST.0 != started {
            FIRST = (started, (*qd).estate as usize);
        }
        if eflags & pg_sys::EXEC_FLAG_EXPLAIN_ONLY as core::ffi::c_int != 0 || fdw_used() {
            return;
        }
        let estate = (*qd).estate;
        let mut found = has_foreign_scan((*qd).planstate);
        if !estate.is_null() {
            let subs = (*estate).es_subplanstates;
            for i in 0..list_len(subs) {
                found = found || has_foreign_scan(list_nth::<pg_sys::PlanState>(subs, i));
            }
        }
        if found {
            mark();
        }
    }
}

unsafe fn has_foreign_scan(ps: *mut pg_sys::PlanState) -> bool {
    if ps.is_null() {
        return false;
    }
    // SAFETY: a node of an initialised plan-state tree; the casts follow its tag.
    unsafe {
        match (*ps).type_ {
            pg_sys::NodeTag::T_ForeignScanState => true,
            pg_sys::NodeTag::T_AppendState => {
                let a = ps as *mut pg_sys::AppendState;
                (0..(*a).as_nplans.max(0) as usize)
                    .any(|i| has_foreign_scan(*(*a).appendplans.add(i)))
            }
            pg_sys::NodeTag::T_MergeAppendState => {
                let a = ps as *mut pg_sys::MergeAppendState;
                (0..(*a).ms_nplans.max(0) as usize)
                    .any(|i| has_foreign_scan(*(*a).mergeplans.add(i)))
            }
            pg_sys::NodeTag::T_SubqueryScanState => {
                has_foreign_scan((*(ps as *mut pg_sys::SubqueryScanState)).subplan)
            }
            pg_sys::NodeTag::T_CustomScanState => {
                let c = ps as *mut pg_sys::CustomScanState;
                (0..list_len((*c).custom_ps))
                    .any(|i| has_foreign_scan(list_nth::<pg_sys::PlanState>((*c).custom_ps, i)))
            }
            pg_sys::NodeTag::T_BitmapAndState | pg_sys::NodeTag::T_BitmapOrState => false,
            _ => has_foreign_scan((*ps).lefttree) || has_foreign_scan((*ps).righttree),
        }
    }
}
