//! Execution: one remote top-k query per partition, all in flight at once, on
//! postgres_fdw's connections inside its remote transactions, or (when the statement
//! cannot tell, `direct_allowed`) on our own connections in self-contained remote
//! transactions pipelined with the search; then a merge by distance and OFFSET/LIMIT.
//!
//! No query is ever left running on a connection between two calls of this node: the
//! first call sends everything, waits for every result and only then returns rows. On an
//! error (remote error, cancel, statement_timeout) postgres_fdw's transaction-abort
//! callback cancels whatever is still running and rolls the remote transactions back,
//! the same path its own asynchronous scans use; our own connections are cancelled and
//! closed (`abandon`).

use super::ffi::{self, PGconn, PGresult};
use super::plan::{PlanInfo, EXPR_FIRST_PARAM, EXPR_LIMIT, EXPR_OFFSET, EXPR_QUERY};
use super::util::*;
use core::ffi::{c_char, c_int, c_void};
use pgrx::pg_sys;
use pgrx::PgSqlErrorCode;
use std::collections::VecDeque;
use std::ffi::CString;

/// Whether this execution may use our own connections and a self-contained remote
/// transaction (pipelined with the search) instead of postgres_fdw's connections and
/// remote transactions. Only when nothing could observe the difference:
/// - the setting `pgvector_rs.distributed_pipelined_transactions` is on;
/// - nothing in the transaction has written yet (so there is no remote write of
///   postgres_fdw's to read back), and either the statement is a transaction of its own
///   (no transaction block; in REPEATABLE READ or SERIALIZABLE the remote transaction is
///   started with that isolation level, in the pipeline, as postgres_fdw would), or it
///   is in a READ COMMITTED transaction block that has run no foreign scan yet
///   (`track`: the search then takes a snapshot of its own, as a READ COMMITTED
///   statement does, and no postgres_fdw snapshot of the transaction is older);
/// - it is the portal's own top-level statement (not inside a function, where the
///   calling statement may have opened postgres_fdw transactions), a plain SELECT
///   without FOR UPDATE/SHARE or data-modifying WITH;
/// - no foreign table other than this scan's partitions is in the statement, and each
///   of those only once (so no other scan would want the same remote snapshot).
unsafe fn direct_allowed(node: *mut pg_sys::CustomScanState, st: &State) -> bool {
    // SAFETY: executor structures of the running statement; ActivePortal is the portal
    // being run (or NULL).
    unsafe {
        if !super::PIPELINED.get()
            || (pg_sys::IsTransactionBlock()
                && (pg_sys::XactIsoLevel > pg_sys::XACT_READ_COMMITTED as c_int
                    || super::track::fdw_used()))
            || pg_sys::GetCurrentCommandId(false) != pg_sys::FirstCommandId
        {
            return false;
        }
        let estate = (*node).ss.ps.state;
        let portal = pg_sys::ActivePortal;
        if portal.is_null() {
            return false;
        }
        let top_level = if (*portal).queryDesc.is_null() {
            // EXPLAIN ANALYZE runs the statement it explains from its utility portal,
            // in an instrumented executor of its own: the first the statement started
            // (anything the statement calls starts later), so what it shows is the
            // path the statement takes without EXPLAIN.
            (*portal).commandTag == pg_sys::CommandTag::CMDTAG_EXPLAIN
                && (*estate).es_instrument != 0
                && super::track::is_first_executor(estate)
        } else {
            (*(*portal).queryDesc).estate == estate
        };
        if !top_level {
            return false;
        }
        let stmt = (*estate).es_plannedstmt;
        if stmt.is_null()
            || (*stmt).commandType != pg_sys::CmdType::CMD_SELECT
            || (*stmt).hasModifyingCTE
            || !(*stmt).rowMarks.is_null()
        {
            return false;
        }
        let mut seen: Vec<u32> = Vec::new();
        let rtable = (*estate).es_range_table;
        for i in 0..list_len(rtable) {
            let rte = list_nth::<pg_sys::RangeTblEntry>(rtable, i);
            if (*rte).rtekind == pg_sys::RTEKind::RTE_RELATION
                && (*rte).relkind as u8 == pg_sys::RELKIND_FOREIGN_TABLE
            {
                let oid = u32::from((*rte).relid);
                if seen.contains(&oid) || !st.info.leaves.iter().any(|l| l.rel_oid == oid) {
                    return false;
                }
                seen.push(oid);
            }
        }
        true
    }
}

/// The session's search settings set locally (as `SET LOCAL` does) before each remote search.
pub(super) const FORWARDED_SETTINGS: [&str; 7] = [
    "hnsw.ef_search",
    "hnsw.iterative_scan",
    "hnsw.max_scan_tuples",
    "hnsw.scan_mem_multiplier",
    "ivfflat.probes",
    "ivfflat.iterative_scan",
    "ivfflat.max_probes",
];

pub(super) static mut SCAN_METHODS: pg_sys::CustomScanMethods = pg_sys::CustomScanMethods {
    CustomName: super::CUSTOM_NAME.as_ptr(),
    CreateCustomScanState: Some(create_scan_state),
};

static mut EXEC_METHODS: pg_sys::CustomExecMethods = pg_sys::CustomExecMethods {
    CustomName: super::CUSTOM_NAME.as_ptr(),
    BeginCustomScan: Some(begin_scan),
    ExecCustomScan: Some(exec_scan),
    EndCustomScan: Some(end_scan),
    ReScanCustomScan: Some(rescan),
    MarkPosCustomScan: None,
    RestrPosCustomScan: None,
    EstimateDSMCustomScan: None,
    InitializeDSMCustomScan: None,
    ReInitializeDSMCustomScan: None,
    InitializeWorkerCustomScan: None,
    ShutdownCustomScan: None,
    ExplainCustomScan: Some(explain_scan),
};

/// The executor node: Postgres's CustomScanState followed by our state.
#[repr(C)]
struct Node {
    css: pg_sys::CustomScanState,
    state: *mut State,
}

/// An owned PGresult, cleared on drop (also when an error unwinds the query).
struct Res(*mut PGresult);
impl Drop for Res {
    fn drop(&mut self) {
        // SAFETY: we own the result; libpq is loaded whenever a result exists.
        unsafe {
            if let Some(pq) = ffi::libpq() {
                (pq.PQclear)(self.0);
            }
        }
    }
}

/// Where a row to return comes from.
#[derive(Clone, Copy, Debug)]
enum Src {
    /// (partition, row) of a remote result.
    Remote(usize, c_int),
    /// Index into `local_rows`.
    Local(usize),
}

/// A row of a local partition's child plan, copied into `local_cxt`.
struct LocalRow {
    distance: Option<f64>,
    values: Vec<pg_sys::Datum>,
    nulls: Vec<bool>,
}

struct State {
    info: PlanInfo,
    /// The query value's type, and whether it is this library's `vector` (then its
    /// text for the servers is written by `vector_text`), once known.
    query_type: Option<(pg_sys::Oid, bool)>,
    /// The local partitions' plans (also in `custom_ps`, for EXPLAIN).
    locals: Vec<*mut pg_sys::PlanState>,
    /// Holds the local rows' pass-by-reference values until the next rescan.
    local_cxt: pg_sys::MemoryContext,
    local_rows: Vec<LocalRow>,
    /// (length, by value) of the scan tuple's columns.
    typlens: Vec<(i16, bool)>,
    exprs: Vec<*mut pg_sys::ExprState>,
    inputs: Box<[pg_sys::FmgrInfo]>,
    ioparams: Vec<pg_sys::Oid>,
    typmods: Vec<i32>,
    userid: pg_sys::Oid,
    row_cxt: pg_sys::MemoryContext,
    results: Vec<Option<Res>>,
    /// The rows to return, in order.
    order: Vec<Src>,
    next: usize,
    executed: bool,
    /// Whether the last execution used our own connections (None: not run yet).
    last_own: Option<bool>,
    /// When each partition's search was sent in the current execution.
    sent: Vec<Option<std::time::Instant>>,
    /// Per partition, over this node's executions: what EXPLAIN ANALYZE shows.
    leaf_stats: Vec<LeafStats>,
}

/// What one partition's searches returned, summed over the node's executions.
#[derive(Clone, Copy, Default)]
struct LeafStats {
    /// Results received (one per execution that searched the partition).
    loops: u64,
    rows: u64,
    /// From sending the search to having its whole result.
    time: std::time::Duration,
}

/// MAKE_SQLSTATE of a five-character code.
fn sqlstate(code: &str) -> i32 {
    let b = code.as_bytes();
    if b.len() != 5 {
        return 0;
    }
    (0..5)
        .map(|i| (((b[i] as i32) - ('0' as i32)) & 0x3F) << (6 * i))
        .sum()
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn create_scan_state(cscan: *mut pg_sys::CustomScan) -> *mut pg_sys::Node {
    // SAFETY: palloc0 gives zeroed memory in the executor's context; Postgres fills the
    // CustomScanState part in ExecInitCustomScan.
    unsafe {
        let node = pg_sys::palloc0(core::mem::size_of::<Node>()) as *mut Node;
        (*node).css.ss.ps.type_ = pg_sys::NodeTag::T_CustomScanState;
        (*node).css.flags = (*cscan).flags;
        (*node).css.methods = &raw const EXEC_METHODS;
        (*node).state = core::ptr::null_mut();
        node as *mut pg_sys::Node
    }
}

/// Frees our Rust state with the executor's memory (also after an error).
#[pgrx::pg_guard]
unsafe extern "C-unwind" fn free_state(arg: *mut c_void) {
    // SAFETY: arg is our Node, still allocated (reset callbacks run before the memory is
    // released); the state pointer is ours from Box::into_raw or NULL.
    unsafe {
        let node = arg as *mut Node;
        if !(*node).state.is_null() {
            drop(Box::from_raw((*node).state));
            (*node).state = core::ptr::null_mut();
        }
    }
}

unsafe fn state<'a>(node: *mut pg_sys::CustomScanState) -> &'a mut State {
    // SAFETY: begin_scan set it; it lives until the executor's memory is freed.
    unsafe {
        let p = (*(node as *mut Node)).state;
        if p.is_null() {
            pgrx::error!("pgvector_rs: distributed scan used before it was initialised");
        }
        &mut *p
    }
}

unsafe fn plan_info(cscan: *mut pg_sys::CustomScan) -> PlanInfo {
    // SAFETY: custom_private is the one String node written at planning.
    unsafe {
        let s = list_nth::<pg_sys::String>((*cscan).custom_private, 0);
        PlanInfo::decode(&cstr((*s).sval))
            .unwrap_or_else(|| pgrx::error!("pgvector_rs: corrupt distributed scan plan"))
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn begin_scan(
    node: *mut pg_sys::CustomScanState,
    estate: *mut pg_sys::EState,
    eflags: c_int,
) {
    // SAFETY: called by ExecInitCustomScan with its node and executor state.
    unsafe {
        let cscan = (*node).ss.ps.plan as *mut pg_sys::CustomScan;
        let info = plan_info(cscan);
        let exprs_list = pg_sys::ExecInitExprList((*cscan).custom_exprs, &mut (*node).ss.ps);
        let exprs = (0..list_len(exprs_list))
            .map(|i| list_nth::<pg_sys::ExprState>(exprs_list, i))
            .collect();

        // Input functions of the scan tuple's columns.
        let slot = (*node).ss.ss_ScanTupleSlot;
        let desc = (*slot).tts_tupleDescriptor;
        let natts = (*desc).natts as usize;
        let mut inputs: Box<[pg_sys::FmgrInfo]> =
            (0..natts).map(|_| pg_sys::FmgrInfo::default()).collect();
        let mut ioparams = Vec::with_capacity(natts);
        let mut typmods = Vec::with_capacity(natts);
        let mut typlens = Vec::with_capacity(natts);
        for i in 0..natts {
            let att = (*desc).attrs.as_ptr().add(i);
            typlens.push(((*att).attlen, (*att).attbyval));
            let mut func = pg_sys::InvalidOid;
            let mut ioparam = pg_sys::InvalidOid;
            pg_sys::getTypeInputInfo((*att).atttypid, &mut func, &mut ioparam);
            pg_sys::fmgr_info(func, &mut inputs[i]);
            ioparams.push(ioparam);
            typmods.push((*att).atttypmod);
        }

        // The user whose mappings apply: the partitioned table's checkAsUser, as
        // postgres_fdw does for its scans. Its range-table index is that of the Var in
        // the distance expression (setrefs adjusted it with the rest of the plan).
        let first = list_nth::<pg_sys::TargetEntry>((*cscan).custom_scan_tlist, 0);
        let vars = pg_sys::pull_var_clause((*first).expr as *mut pg_sys::Node, 0);
        let mut userid = pg_sys::GetUserId();
        if list_len(vars) > 0 {
            let v = list_nth::<pg_sys::Var>(vars, 0);
            let rti = (*v).varno as usize;
            if rti >= 1 && rti <= list_len((*estate).es_range_table) {
                let rte = list_nth::<pg_sys::RangeTblEntry>((*estate).es_range_table, rti - 1);
                if (*rte).checkAsUser != pg_sys::InvalidOid {
                    userid = (*rte).checkAsUser;
                }
            }
        }

        let row_cxt = pg_sys::AllocSetContextCreateInternal(
            pg_sys::CurrentMemoryContext,
            c"pgvector_rs distributed rows".as_ptr(),
            0,
            8 * 1024,
            8 * 1024 * 1024,
        );
        // The local partitions' plans: they run inside this node, like Append's children.
        let child_flags =
            eflags & !((pg_sys::EXEC_FLAG_BACKWARD | pg_sys::EXEC_FLAG_MARK) as c_int);
        let mut locals = Vec::new();
        for i in 0..list_len((*cscan).custom_plans) {
            let plan = list_nth::<pg_sys::Plan>((*cscan).custom_plans, i);
            let ps = pg_sys::ExecInitNode(plan, estate, child_flags);
            (*node).custom_ps = pg_sys::lappend((*node).custom_ps, ps as *mut c_void);
            locals.push(ps);
        }
        if locals.len() != info.locals.len() {
            pgrx::error!("pgvector_rs: corrupt distributed scan plan (local partitions)");
        }
        let local_cxt = pg_sys::AllocSetContextCreateInternal(
            pg_sys::CurrentMemoryContext,
            c"pgvector_rs distributed local rows".as_ptr(),
            0,
            8 * 1024,
            8 * 1024 * 1024,
        );
        let nleaves = info.leaves.len();
        let st = Box::new(State {
            info,
            locals,
            local_cxt,
            local_rows: Vec::new(),
            typlens,
            exprs,
            inputs,
            ioparams,
            typmods,
            userid,
            row_cxt,
            results: (0..nleaves).map(|_| None).collect(),
            order: Vec::new(),
            next: 0,
            executed: false,
            last_own: None,
            query_type: None,
            sent: vec![None; nleaves],
            leaf_stats: vec![LeafStats::default(); nleaves],
        });
        (*(node as *mut Node)).state = Box::into_raw(st);
        let cb = pg_sys::palloc0(core::mem::size_of::<pg_sys::MemoryContextCallback>())
            as *mut pg_sys::MemoryContextCallback;
        (*cb).func = Some(free_state);
        (*cb).arg = node as *mut c_void;
        pg_sys::MemoryContextRegisterResetCallback(pg_sys::CurrentMemoryContext, cb);
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn exec_scan(
    node: *mut pg_sys::CustomScanState,
) -> *mut pg_sys::TupleTableSlot {
    // SAFETY: ExecScan drives the access method below and projects.
    unsafe { pg_sys::ExecScan(&mut (*node).ss, Some(next_row), Some(recheck)) }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn recheck(
    _node: *mut pg_sys::ScanState,
    _slot: *mut pg_sys::TupleTableSlot,
) -> bool {
    true
}

unsafe fn clear_slot(slot: *mut pg_sys::TupleTableSlot) {
    // SAFETY: ExecClearTuple: the slot's own clear callback.
    unsafe {
        if let Some(clear) = (*(*slot).tts_ops).clear {
            clear(slot);
        }
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn next_row(ss: *mut pg_sys::ScanState) -> *mut pg_sys::TupleTableSlot {
    // SAFETY: ss is our node (ScanState is the first member of CustomScanState).
    unsafe {
        let node = ss as *mut pg_sys::CustomScanState;
        let st = state(node);
        if !st.executed {
            run(node, st);
            st.executed = true;
        }
        let slot = (*ss).ss_ScanTupleSlot;
        clear_slot(slot);
        if st.next >= st.order.len() {
            return slot;
        }
        let src = st.order[st.next];
        st.next += 1;
        let (leaf, row) = match src {
            Src::Remote(leaf, row) => (leaf, row),
            Src::Local(i) => {
                let r = &st.local_rows[i];
                for (c, (v, n)) in r.values.iter().zip(&r.nulls).enumerate() {
                    *(*slot).tts_values.add(c) = *v;
                    *(*slot).tts_isnull.add(c) = *n;
                }
                return pg_sys::ExecStoreVirtualTuple(slot);
            }
        };
        let pq = ffi::libpq().unwrap_or_else(|| pgrx::error!("pgvector_rs: libpq is not loaded"));
        let res = st.results[leaf]
            .as_ref()
            .map(|r| r.0)
            .unwrap_or(core::ptr::null_mut());
        pg_sys::MemoryContextReset(st.row_cxt);
        let old = pg_sys::CurrentMemoryContext;
        pg_sys::CurrentMemoryContext = st.row_cxt;
        let natts = st.inputs.len();
        for i in 0..natts {
            if (pq.PQgetisnull)(res, row, i as c_int) != 0 {
                *(*slot).tts_values.add(i) = pg_sys::Datum::from(0usize);
                *(*slot).tts_isnull.add(i) = true;
            } else {
                let text = (pq.PQgetvalue)(res, row, i as c_int) as *mut c_char;
                *(*slot).tts_values.add(i) = pg_sys::InputFunctionCall(
                    &mut st.inputs[i],
                    text,
                    st.ioparams[i],
                    st.typmods[i],
                );
                *(*slot).tts_isnull.add(i) = false;
            }
        }
        pg_sys::CurrentMemoryContext = old;
        pg_sys::ExecStoreVirtualTuple(slot)
    }
}

/// Evaluate custom_exprs[i]: None for NULL.
unsafe fn eval(
    node: *mut pg_sys::CustomScanState,
    st: &State,
    i: usize,
) -> Option<(pg_sys::Datum, pg_sys::Oid)> {
    // SAFETY: the expression states were initialised for this node; evaluation runs in
    // the per-tuple memory of its expression context.
    unsafe {
        let econtext = (*node).ss.ps.ps_ExprContext;
        let es = st.exprs[i];
        let old = pg_sys::CurrentMemoryContext;
        pg_sys::CurrentMemoryContext = (*econtext).ecxt_per_tuple_memory;
        let mut isnull = false;
        let f = (*es)
            .evalfunc
            .unwrap_or_else(|| pgrx::error!("pgvector_rs: expression without evaluator"));
        let value = f(es, econtext, &mut isnull);
        pg_sys::CurrentMemoryContext = old;
        let cscan = (*node).ss.ps.plan as *mut pg_sys::CustomScan;
        let expr = list_nth::<pg_sys::Node>((*cscan).custom_exprs, i);
        if isnull {
            None
        } else {
            Some((value, pg_sys::exprType(expr)))
        }
    }
}

/// The text form of a value, as postgres_fdw sends parameters.
unsafe fn to_text(value: pg_sys::Datum, typ: pg_sys::Oid) -> CString {
    // SAFETY: typ is the value's type; its output function returns a palloc'd C string.
    unsafe {
        let mut func = pg_sys::InvalidOid;
        let mut varlena = false;
        pg_sys::getTypeOutputInfo(typ, &mut func, &mut varlena);
        let s = pg_sys::OidOutputFunctionCall(func, value);
        CString::from(core::ffi::CStr::from_ptr(s))
    }
}

/// Whether `typ` is this library's `vector` type: its output function is the C function
/// `pgvr_vector_out` of a library named pgvector_rs (so its values have this library's layout).
unsafe fn is_our_vector(typ: pg_sys::Oid) -> bool {
    // SAFETY: catalog lookups on the backend's thread; the tuple is released.
    unsafe {
        let mut func = pg_sys::InvalidOid;
        let mut varlena = false;
        pg_sys::getTypeOutputInfo(typ, &mut func, &mut varlena);
        let tup = pg_sys::SearchSysCache1(
            pg_sys::SysCacheIdentifier::PROCOID as c_int,
            pg_sys::Datum::from(func),
        );
        if tup.is_null() {
            return false;
        }
        let text = |attnum: u32| proc_text(tup, attnum);
        let src = text(pg_sys::Anum_pg_proc_prosrc);
        let bin = text(pg_sys::Anum_pg_proc_probin);
        pg_sys::ReleaseSysCache(tup);
        let lib = bin.rsplit('/').next().unwrap_or("");
        // The C symbol is pgvr_vector_out (vector_out in older builds).
        (src == "pgvr_vector_out" || src == "vector_out")
            && (lib == "pgvector_rs" || lib.starts_with("pgvector_rs."))
    }
}

/// The text of a `vector` for the servers: `[x,y,...]` with each float's shortest
/// round-trip digits (what `vector_out` prints, without its exact-format rules, which a
/// reader does not need: any server's `vector_in` reads back the same floats).
unsafe fn vector_text(value: pg_sys::Datum) -> CString {
    // SAFETY: value is a non-null `vector` of this library (is_our_vector).
    unsafe {
        let ptr = pg_sys::pg_detoast_datum(value.cast_mut_ptr()) as *const u8;
        let xs = crate::types::datum::dense_from_ptr::<f32>(ptr);
        CString::new(format_vector(xs)).unwrap()
    }
}

fn format_vector(xs: &[f32]) -> String {
    let mut s = String::with_capacity(2 + xs.len() * 12);
    let mut buf = ryu::Buffer::new();
    s.push('[');
    for (i, &x) in xs.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        if x.is_finite() {
            let t = buf.format_finite(x);
            // ryu writes integral values as "1.0" and large ones as "1e30": both read.
            s.push_str(t);
        } else if x.is_nan() {
            s.push_str("NaN");
        } else if x > 0.0 {
            s.push_str("Infinity");
        } else {
            s.push_str("-Infinity");
        }
    }
    s.push(']');
    s
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Cmd {
    /// START TRANSACTION or COMMIT of a self-contained remote transaction (own connections).
    Xact,
    /// The Prepare of a statement on our own connection (for errors: the partition, or
    /// FAILED_SETTINGS).
    Prepare(usize),
    Settings,
    Query(usize),
    Sync,
}

type Failure = (i32, String, Option<String>, Option<String>, usize);

struct Conn {
    conn: *mut PGconn,
    server: String,
    /// The pipeline's commands whose results are still to come, in order.
    expect: VecDeque<Cmd>,
    got_result: bool,
    failed: Option<Failure>,
    /// The Sync's result arrived and the connection left pipeline mode.
    done: bool,
    /// The Sync was sent.
    synced: bool,
    /// One of our own connections (a self-contained remote transaction in the
    /// pipeline), not postgres_fdw's.
    own: bool,
    /// The user mapping it serves.
    umid: pg_sys::Oid,
    /// An explicit START TRANSACTION ... COMMIT around the searches (own connections
    /// with several partitions).
    explicit: bool,
}

/// `Failure`'s partition for an error outside the searches.
const FAILED_SETTINGS: usize = usize::MAX;
const FAILED_XACT: usize = usize::MAX - 1;

/// Queue one statement of the pipeline (with text parameters), and what its result is.
/// On our own connections the statement is prepared (once per connection, in this same
/// pipeline) and executed by name.
unsafe fn send(pq: &ffi::Libpq, c: &mut Conn, sql: &str, values: &[*const c_char], cmd: Cmd) {
    // SAFETY: a live connection in pipeline mode; the strings outlive the calls (libpq
    // copies them into its output buffer).
    unsafe {
        let text = CString::new(sql).unwrap();
        let n = values.len() as c_int;
        let prepared = if c.own {
            super::conn::prepared_name(c.conn, sql)
        } else {
            None
        };
        let ok = match prepared {
            Some((name, new)) => {
                if new {
                    if (pq.PQsendPrepare)(
                        c.conn,
                        name.as_ptr(),
                        text.as_ptr(),
                        n,
                        core::ptr::null(),
                    ) == 0
                    {
                        send_failed(pq, c.conn, &c.server);
                    }
                    c.expect.push_back(Cmd::Prepare(match cmd {
                        Cmd::Query(l) => l,
                        _ => FAILED_SETTINGS,
                    }));
                }
                (pq.PQsendQueryPrepared)(
                    c.conn,
                    name.as_ptr(),
                    n,
                    values.as_ptr(),
                    core::ptr::null(),
                    core::ptr::null(),
                    0,
                )
            }
            None => (pq.PQsendQueryParams)(
                c.conn,
                text.as_ptr(),
                n,
                core::ptr::null(),
                values.as_ptr(),
                core::ptr::null(),
                core::ptr::null(),
                0,
            ),
        };
        if ok == 0 {
            send_failed(pq, c.conn, &c.server);
        }
        c.expect.push_back(cmd);
    }
}

fn send_failed(pq: &ffi::Libpq, conn: *mut PGconn, server: &str) -> ! {
    // SAFETY: a live connection; PQerrorMessage returns its current message.
    let detail = unsafe { cstr((pq.PQerrorMessage)(conn)) };
    raise(
        PgSqlErrorCode::ERRCODE_CONNECTION_FAILURE,
        format!("could not send query to server \"{server}\""),
        Some(detail.trim_end().to_string()),
        None,
    )
}

/// Read every result of `c` that has arrived, without blocking. Remote errors are
/// recorded in `c.failed` (reported once every pipeline is finished).
unsafe fn read_results(
    pq: &ffi::Libpq,
    c: &mut Conn,
    st: &mut State,
    ncols: c_int,
    k: Option<i64>,
) {
    // SAFETY: a connection in pipeline mode that only this call reads; results are
    // owned by `Res` and cleared on drop.
    unsafe {
        while !c.done && (pq.PQisBusy)(c.conn) == 0 {
            let r = (pq.PQgetResult)(c.conn);
            let Some(&cmd) = c.expect.front() else {
                c.done = true;
                break;
            };
            if r.is_null() {
                // The end of one command's results.
                if let Cmd::Query(l) = cmd {
                    if c.failed.is_none() && !c.got_result {
                        c.failed = Some((
                            0,
                            format!("no result for partition \"{}\"", st.info.leaves[l].rel_name),
                            None,
                            None,
                            l,
                        ));
                    }
                }
                if cmd != Cmd::Sync {
                    c.expect.pop_front();
                }
                c.got_result = false;
                continue;
            }
            let res = Res(r);
            let status = (pq.PQresultStatus)(r);
            if status == ffi::PGRES_PIPELINE_SYNC {
                c.expect.clear();
                if (pq.PQexitPipelineMode)(c.conn) == 0 && c.failed.is_none() {
                    c.failed = Some((
                        0,
                        cstr((pq.PQerrorMessage)(c.conn)).trim_end().to_string(),
                        None,
                        None,
                        FAILED_SETTINGS,
                    ));
                }
                c.done = true;
                break;
            }
            c.got_result = true;
            if status == ffi::PGRES_PIPELINE_ABORTED || c.failed.is_some() {
                continue;
            }
            let (expected, leaf) = match cmd {
                Cmd::Settings => (ffi::PGRES_TUPLES_OK, FAILED_SETTINGS),
                Cmd::Xact => (ffi::PGRES_COMMAND_OK, FAILED_XACT),
                Cmd::Prepare(l) => (ffi::PGRES_COMMAND_OK, l),
                Cmd::Query(l) => (ffi::PGRES_TUPLES_OK, l),
                Cmd::Sync => (ffi::PGRES_PIPELINE_SYNC, FAILED_SETTINGS),
            };
            if status != expected {
                let field = |f| {
                    let p = (pq.PQresultErrorField)(r, f);
                    if p.is_null() {
                        None
                    } else {
                        Some(cstr(p))
                    }
                };
                c.failed = Some((
                    field(ffi::PG_DIAG_SQLSTATE)
                        .map(|s| sqlstate(&s))
                        .unwrap_or(0),
                    field(ffi::PG_DIAG_MESSAGE_PRIMARY).unwrap_or_else(|| {
                        cstr((pq.PQerrorMessage)(c.conn)).trim_end().to_string()
                    }),
                    field(ffi::PG_DIAG_MESSAGE_DETAIL),
                    field(ffi::PG_DIAG_MESSAGE_HINT),
                    leaf,
                ));
                continue;
            }
            if let Cmd::Query(l) = cmd {
                let rows = (pq.PQntuples)(r);
                if (pq.PQnfields)(r) != ncols || k.is_some_and(|k| rows as i64 > k) {
                    c.failed = Some((
                        0,
                        format!(
                            "unexpected result for partition \"{}\"",
                            st.info.leaves[l].rel_name
                        ),
                        None,
                        None,
                        l,
                    ));
                    continue;
                }
                st.results[l] = Some(res);
                let stats = &mut st.leaf_stats[l];
                stats.loops += 1;
                stats.rows += rows.max(0) as u64;
                if let Some(at) = st.sent[l].take() {
                    stats.time += at.elapsed();
                }
            }
        }
    }
}

/// The error path while pipelines are open: ask each server to cancel what it still
/// runs, read its results up to the Sync (for at most a few seconds, with poll(2):
/// no Postgres function is called while an error is on its way) and leave pipeline
/// mode, so that postgres_fdw's abort callback can roll the remote transaction back
/// as usual. A connection that does not get there is left to postgres_fdw, which
/// then discards it at the end of the transaction.
unsafe fn abandon(pq: &ffi::Libpq, conns: &mut [Conn]) {
    // SAFETY: postgres_fdw's connections, in pipeline mode by us; only libpq and poll
    // are called.
    unsafe {
        for c in conns.iter_mut() {
            if c.own {
                // Ours: cancel what runs there and close it (the remote transaction
                // ends with the session); the next statement connects again.
                if !c.done {
                    let cancel = (pq.PQgetCancel)(c.conn);
                    if !cancel.is_null() {
                        let mut buf = [0 as c_char; 256];
                        (pq.PQcancel)(cancel, buf.as_mut_ptr(), buf.len() as c_int);
                        (pq.PQfreeCancel)(cancel);
                    }
                }
                super::conn::discard(pq, c.conn);
                c.done = true;
                continue;
            }
            if c.done {
                continue;
            }
            if !c.synced {
                if (pq.PQpipelineSync)(c.conn) == 0 {
                    continue;
                }
                c.expect.push_back(Cmd::Sync);
                c.synced = true;
            }
            let cancel = (pq.PQgetCancel)(c.conn);
            if !cancel.is_null() {
                let mut buf = [0 as c_char; 256];
                (pq.PQcancel)(cancel, buf.as_mut_ptr(), buf.len() as c_int);
                (pq.PQfreeCancel)(cancel);
            }
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            'drain: while std::time::Instant::now() < deadline {
                while (pq.PQisBusy)(c.conn) == 0 {
                    let r = (pq.PQgetResult)(c.conn);
                    if r.is_null() {
                        continue;
                    }
                    let status = (pq.PQresultStatus)(r);
                    (pq.PQclear)(r);
                    if status == ffi::PGRES_PIPELINE_SYNC {
                        (pq.PQexitPipelineMode)(c.conn);
                        c.done = true;
                        break 'drain;
                    }
                }
                let mut fd = ffi::PollFd {
                    fd: (pq.PQsocket)(c.conn),
                    events: ffi::POLLIN,
                    revents: 0,
                };
                if fd.fd < 0 {
                    break;
                }
                ffi::poll(&mut fd, 1, 100);
                if (pq.PQconsumeInput)(c.conn) == 0 {
                    break;
                }
            }
        }
    }
}

/// The statement that sets the forwarded settings for the rest of the remote
/// transaction (`set_config(name, value, true)`, what `SET LOCAL` does, as one statement
/// so it fits in the pipeline before the search; a NULL value is `SET LOCAL ... TO
/// DEFAULT`), and the
/// (name, value) pairs forwarded. A setting the head has a value for from anywhere but
/// the built-in default (`SET`, `SET LOCAL`, `ALTER ROLE/DATABASE ... SET`, the
/// configuration file) is sent with that value; the others are sent as `TO DEFAULT`,
/// which gives the remote session its own value back (undoing a value forwarded earlier
/// in the same remote transaction), so that the server's own settings apply there, and
/// with them the remote index's `ef_search` / `probes` option.
pub(super) unsafe fn settings_sql() -> (String, Vec<(String, String)>) {
    let mut pairs = Vec::new();
    let mut sql = Vec::new();
    for name in FORWARDED_SETTINGS {
        let c = CString::new(name).unwrap();
        // SAFETY: GetConfigOption returns NULL for an unknown name with missing_ok.
        let v = unsafe { pg_sys::GetConfigOption(c.as_ptr(), true, false) };
        if !v.is_null() && crate::am::guc::explicitly_set(&c) {
            let v = unsafe { cstr(v) };
            sql.push(format!(
                "set_config('{}', '{}', true)",
                name,
                v.replace('\'', "''")
            ));
            pairs.push((name.to_string(), v));
        } else {
            sql.push(format!("set_config('{name}', NULL, true)"));
        }
    }
    (format!("SELECT {}", sql.join(", ")), pairs)
}

fn parse_distance(s: &str) -> f64 {
    match s {
        "NaN" => f64::NAN,
        "Infinity" => f64::INFINITY,
        "-Infinity" => f64::NEG_INFINITY,
        _ => s.parse().unwrap_or(f64::NAN),
    }
}

/// float8 ordering (NaN after every number), then NULLs: ORDER BY ... ASC NULLS LAST.
pub(super) fn cmp_distance(a: Option<f64>, b: Option<f64>) -> core::cmp::Ordering {
    use core::cmp::Ordering::*;
    match (a, b) {
        (None, None) => Equal,
        (None, Some(_)) => Greater,
        (Some(_), None) => Less,
        (Some(x), Some(y)) => match (x.is_nan(), y.is_nan()) {
            (true, true) => Equal,
            (true, false) => Greater,
            (false, true) => Less,
            _ => x.partial_cmp(&y).unwrap_or(Equal),
        },
    }
}

unsafe fn run(node: *mut pg_sys::CustomScanState, st: &mut State) {
    // SAFETY: backend thread; libpq calls on postgres_fdw's connections, which are ours
    // for the duration of this call (nothing else runs on them until we return).
    unsafe {
        let fdw = ffi::fdw()
            .unwrap_or_else(|| pgrx::error!("pgvector_rs: postgres_fdw is not available"));
        let pq = ffi::libpq().unwrap_or_else(|| pgrx::error!("pgvector_rs: libpq is not loaded"));

        // Parameters: the query vector, k = LIMIT + OFFSET, the WHERE clauses' values.
        let limit = eval(node, st, EXPR_LIMIT).map(|(d, _)| d.value() as i64);
        let offset = eval(node, st, EXPR_OFFSET)
            .map(|(d, _)| d.value() as i64)
            .unwrap_or(0);
        if offset < 0 {
            raise(
                PgSqlErrorCode::ERRCODE_INVALID_ROW_COUNT_IN_RESULT_OFFSET_CLAUSE,
                "OFFSET must not be negative".into(),
                None,
                None,
            );
        }
        if let Some(l) = limit {
            if l < 0 {
                raise(
                    PgSqlErrorCode::ERRCODE_INVALID_ROW_COUNT_IN_LIMIT_CLAUSE,
                    "LIMIT must not be negative".into(),
                    None,
                    None,
                );
            }
        }
        let k = limit.map(|l| l.saturating_add(offset));
        // Text forms are built in per-tuple memory (reset by ExecScan for every row), so
        // rescans with new parameters do not accumulate memory.
        let saved_cxt = pg_sys::CurrentMemoryContext;
        pg_sys::CurrentMemoryContext = (*(*node).ss.ps.ps_ExprContext).ecxt_per_tuple_memory;
        // The query vector: this library's `vector` is written directly (shortest
        // round-trip digits, which every server's vector input reads back to the same
        // floats), whatever the session's settings; other types by their output
        // function, with postgres_fdw's transmission settings (extra_float_digits = 3,
        // ISO dates), as are the WHERE clauses' values. Those settings are a GUC nest
        // level (set, then rolled back), so they are applied only when something needs
        // them.
        let query = eval(node, st, EXPR_QUERY);
        let fast = query.is_some_and(|(_, t)| {
            if st.query_type.is_none_or(|(known, _)| known != t) {
                st.query_type = Some((t, is_our_vector(t)));
            }
            st.query_type.is_some_and(|(_, v)| v)
        });
        let nexprs = st.exprs.len();
        let nest = if fast && nexprs <= EXPR_FIRST_PARAM {
            None
        } else {
            Some(pg_sys::ffi::pg_guard_ffi_boundary(|| (fdw.set_transmission_modes)()))
        };
        let query_text = query.map(|(d, t)| if fast { vector_text(d) } else { to_text(d, t) });
        let k_text = k.map(|k| CString::new(k.to_string()).unwrap());
        let mut where_values: Vec<Option<CString>> = Vec::with_capacity(nexprs);
        for i in 0..nexprs {
            if i < EXPR_FIRST_PARAM {
                where_values.push(None);
            } else {
                where_values.push(eval(node, st, i).map(|(d, t)| to_text(d, t)));
            }
        }
        if let Some(nest) = nest {
            pg_sys::ffi::pg_guard_ffi_boundary(|| (fdw.reset_transmission_modes)(nest));
        }
        pg_sys::CurrentMemoryContext = saved_cxt;
        let (set_sql, pairs) = settings_sql();
        let set_sql = CString::new(set_sql).unwrap();
        // On our own connections every search starts from the server's own settings
        // (nothing is ever set there but locally), so only the values set on the head
        // are sent, and no statement at all when there are none.
        let own_set_sql = if pairs.is_empty() {
            CString::default()
        } else {
            CString::new(format!(
                "SELECT {}",
                pairs
                    .iter()
                    .map(|(n, v)| format!("set_config('{}', '{}', true)", n, v.replace('\'', "''")))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .unwrap()
        };
        let ncols = st.inputs.len() as c_int;

        // Connections: postgres_fdw's, one per user mapping. Each gets all its work in
        // one libpq pipeline (the settings, the queries of its partitions, a Sync) as
        // soon as GetConnection hands it over (GetConnection opens the remote
        // transaction with a round trip of its own), so a server already searches while
        // the next one's transaction is opened, and the settings cost no round trip.
        // If anything raises an error while a pipeline is open, `abandon` cancels the
        // remote work and takes the connection out of pipeline mode first, so
        // postgres_fdw's abort handling finds it as it left it.
        //
        // When the statement cannot tell the difference (`direct_allowed`), our own
        // connections are used instead, each with a self-contained remote transaction
        // in the same pipeline (START TRANSACTION ... READ ONLY, settings, searches,
        // COMMIT, Sync): one round trip per server in all, every server at once.
        let own = direct_allowed(node, st);
        st.last_own = Some(own);
        if !own {
            // postgres_fdw's remote transactions are opened below.
            super::track::mark();
        }
        let mut conns: Vec<Conn> = Vec::new();
        super::conn::set_busy(own);
        let body = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            for (l, leaf) in st.info.leaves.iter().enumerate() {
                let user = pg_sys::GetUserMapping(st.userid, pg_sys::Oid::from(leaf.server_oid));
                let umid = (*user).umid;
                let mut connstate: *mut c_void = core::ptr::null_mut();
                let found = conns.iter().position(|c| c.umid == umid);
                let conn = if let Some(ci) = found {
                    conns[ci].conn
                } else if own {
                    super::conn::get(pq, fdw, user, &leaf.server_name)
                } else {
                    pg_sys::ffi::pg_guard_ffi_boundary(|| {
                        (fdw.GetConnection)(
                            user,
                            false,
                            &mut connstate as *mut *mut c_void as *mut *mut *mut c_void,
                        )
                    })
                };
                let ci = match found.or_else(|| conns.iter().position(|c| c.conn == conn)) {
                    Some(ci) => ci,
                    None => {
                        if !connstate.is_null() {
                            // PgFdwConnState { AsyncRequest *pendingAreq; }: finish
                            // postgres_fdw's own asynchronous fetch on this connection
                            // first, as its scans do.
                            let pending = *(connstate as *mut *mut c_void);
                            if !pending.is_null() {
                                pg_sys::ffi::pg_guard_ffi_boundary(|| {
                                    (fdw.process_pending_request)(pending)
                                });
                            }
                        }
                        conns.push(Conn {
                            conn,
                            server: leaf.server_name.clone(),
                            expect: VecDeque::new(),
                            got_result: false,
                            failed: None,
                            done: false,
                            synced: false,
                            own,
                            explicit: false,
                            umid,
                        });
                        if (pq.PQenterPipelineMode)(conn) == 0 {
                            send_failed(pq, conn, &leaf.server_name);
                        }
                        let c = conns.last_mut().unwrap();
                        // One search on this server in READ COMMITTED: the
                        // pipeline's implicit transaction (until the Sync) is that
                        // statement's, with one snapshot. Several: an explicit one, so
                        // they share a snapshot; and in REPEATABLE READ or SERIALIZABLE
                        // an explicit one of that level (postgres_fdw's remote
                        // transactions use it; SERIALIZABLE's guarantees need it).
                        c.explicit = own
                            && (pg_sys::XactIsoLevel > pg_sys::XACT_READ_COMMITTED as c_int
                                || st
                                    .info
                                    .leaves
                                    .iter()
                                    .filter(|x| x.server_oid == leaf.server_oid)
                                    .count()
                                    > 1);
                        if c.explicit {
                            let begin =
                                if pg_sys::XactIsoLevel >= pg_sys::XACT_SERIALIZABLE as c_int {
                                    c"START TRANSACTION ISOLATION LEVEL SERIALIZABLE READ ONLY"
                                } else {
                                    c"START TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"
                                };
                            let ok = (pq.PQsendQueryParams)(
                                conn,
                                begin.as_ptr(),
                                0,
                                core::ptr::null(),
                                core::ptr::null(),
                                core::ptr::null(),
                                core::ptr::null(),
                                0,
                            );
                            if ok == 0 {
                                send_failed(pq, conn, &c.server);
                            }
                            c.expect.push_back(Cmd::Xact);
                        }
                        let set_sql = if own { &own_set_sql } else { &set_sql };
                        if !set_sql.as_bytes().is_empty() {
                            send(pq, c, set_sql.to_str().unwrap(), &[], Cmd::Settings);
                        }
                        conns.len() - 1
                    }
                };
                let c = &mut conns[ci];
                // On our own connections, with a LIMIT: k in the SQL text (not a
                // parameter), so that the statement, prepared once per connection,
                // gets a generic plan as good as a custom one (the vector does not
                // change the plan's costs; an unknown LIMIT would) and the server
                // neither parses nor plans it again.
                let inline_k = match (own, k, leaf.sql.rfind(" LIMIT $")) {
                    // The SQL ends with the LIMIT parameter (plan.rs writes it last).
                    (true, Some(k), Some(at))
                        if leaf.sql[at..]
                            .strip_prefix(" LIMIT $")
                            .and_then(|r| r.strip_suffix("::pg_catalog.int8"))
                            .is_some_and(|d| {
                                !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())
                            }) =>
                    {
                        Some(format!("{} LIMIT {}", &leaf.sql[..at], k))
                    }
                    _ => None,
                };
                let mut values: Vec<*const c_char> = Vec::new();
                for i in leaf.param_start..leaf.param_start + leaf.param_count {
                    values.push(
                        where_values[i]
                            .as_ref()
                            .map_or(core::ptr::null(), |s| s.as_ptr()),
                    );
                }
                values.push(
                    query_text
                        .as_ref()
                        .map_or(core::ptr::null(), |s| s.as_ptr()),
                );
                if inline_k.is_none() {
                    values.push(k_text.as_ref().map_or(core::ptr::null(), |s| s.as_ptr()));
                }
                send(
                    pq,
                    c,
                    inline_k.as_deref().unwrap_or(&leaf.sql),
                    &values,
                    Cmd::Query(l),
                );
                st.sent[l] = Some(std::time::Instant::now());
                // The server runs what it has received (it answers after the Sync).
                if (pq.PQflush)(c.conn) < 0 {
                    send_failed(pq, c.conn, &c.server);
                }
            }
            for c in conns.iter_mut() {
                if c.explicit {
                    let ok = (pq.PQsendQueryParams)(
                        c.conn,
                        c"COMMIT TRANSACTION".as_ptr(),
                        0,
                        core::ptr::null(),
                        core::ptr::null(),
                        core::ptr::null(),
                        core::ptr::null(),
                        0,
                    );
                    if ok == 0 {
                        send_failed(pq, c.conn, &c.server);
                    }
                    c.expect.push_back(Cmd::Xact);
                }
                if (pq.PQpipelineSync)(c.conn) == 0 {
                    send_failed(pq, c.conn, &c.server);
                }
                c.expect.push_back(Cmd::Sync);
                c.synced = true;
            }

            // The remote searches are on their way: search the local partitions now,
            // then collect the remote results.
            run_local(st, k);
            loop {
                for c in conns.iter_mut() {
                    read_results(pq, c, st, ncols, k);
                }
                let waiting: Vec<usize> = (0..conns.len()).filter(|&i| !conns[i].done).collect();
                if waiting.is_empty() {
                    break;
                }
                wait(pq, &conns, &waiting);
            }
        }));
        super::conn::set_busy(false);
        if let Err(e) = body {
            abandon(pq, &mut conns);
            std::panic::resume_unwind(e);
        }
        for c in &conns {
            if !c.own {
                pg_sys::ffi::pg_guard_ffi_boundary(|| (fdw.ReleaseConnection)(c.conn));
            } else if c.failed.is_some() || (pq.PQtransactionStatus)(c.conn) != ffi::PQTRANS_IDLE {
                // Its transaction failed (and is left aborted after the Sync): close
                // it rather than spend a round trip on ROLLBACK.
                super::conn::discard(pq, c.conn);
            } else {
                // keep_connections 'off', or a disconnect asked for meanwhile.
                super::conn::release(pq, c.conn);
            }
        }
        // Every pipeline is finished: report the first remote error.
        if let Some(c) = conns.iter().find(|c| c.failed.is_some()) {
            let (code, msg, detail, hint, leaf) = c.failed.clone().unwrap();
            let code = if code == 0 {
                PgSqlErrorCode::ERRCODE_FDW_ERROR
            } else {
                PgSqlErrorCode::from(code)
            };
            let hint = hint.or_else(|| {
                matches!(code, PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT | PgSqlErrorCode::ERRCODE_UNDEFINED_FUNCTION | PgSqlErrorCode::ERRCODE_INVALID_SCHEMA_NAME)
                    .then(|| "The remote database needs pgvector_rs (or pgvector 0.8) installed in the same schema as here, and the remote table must exist.".to_string())
            });
            let what = if leaf == FAILED_SETTINGS {
                "while applying search settings".to_string()
            } else if leaf == FAILED_XACT {
                "in its remote transaction".to_string()
            } else {
                format!("for partition \"{}\"", st.info.leaves[leaf].rel_name)
            };
            raise(
                code,
                format!("error from server \"{}\" {}: {}", c.server, what, msg),
                detail,
                hint,
            );
        }

        // Merge: every partition's rows in distance order, then OFFSET and LIMIT.
        let mut all: Vec<(Option<f64>, Src)> = Vec::new();
        for (i, r) in st.local_rows.iter().enumerate() {
            all.push((r.distance, Src::Local(i)));
        }
        for (l, r) in st.results.iter().enumerate() {
            let Some(r) = r else { continue };
            for row in 0..(pq.PQntuples)(r.0) {
                let d = if (pq.PQgetisnull)(r.0, row, 0) != 0 {
                    None
                } else {
                    Some(parse_distance(&cstr((pq.PQgetvalue)(r.0, row, 0))))
                };
                all.push((d, Src::Remote(l, row)));
            }
        }
        all.sort_by(|a, b| cmp_distance(a.0, b.0));
        let start = (offset as usize).min(all.len());
        let end = match limit {
            Some(l) => start.saturating_add(l as usize).min(all.len()),
            None => all.len(),
        };
        st.order = all[start..end].iter().map(|&(_, s)| s).collect();
        st.next = 0;
    }
}

/// A copy of a value in the current memory context (datumCopy; expanded and toasted
/// values are flattened).
unsafe fn copy_datum(v: pg_sys::Datum, byval: bool, len: i16) -> pg_sys::Datum {
    // SAFETY: v is a non-null value of a type with this length and passing convention.
    unsafe {
        if byval {
            v
        } else if len == -1 {
            pg_sys::Datum::from(pg_sys::pg_detoast_datum_copy(v.cast_mut_ptr()))
        } else if len == -2 {
            pg_sys::Datum::from(pg_sys::pstrdup(v.cast_mut_ptr()))
        } else {
            let n = len.max(0) as usize;
            let p = pg_sys::palloc(n) as *mut u8;
            core::ptr::copy_nonoverlapping(v.cast_mut_ptr::<u8>(), p, n);
            pg_sys::Datum::from(p)
        }
    }
}

/// The first `k` rows (all when `k` is None) of each local partition's plan, which
/// returns them in distance order, copied into `local_cxt`.
unsafe fn run_local(st: &mut State, k: Option<i64>) {
    // SAFETY: the child plan states were initialised in begin_scan with this executor
    // state; the values are copied out of their slots before the next ExecProcNode.
    unsafe {
        for &ps in &st.locals {
            if let Some(k) = k {
                if k == 0 {
                    continue;
                }
                // A bounded sort keeps only k rows (as under a Limit).
                pg_sys::ExecSetTupleBound(k, ps);
            }
            let mut got: i64 = 0;
            while k.is_none_or(|k| got < k) {
                pgrx::check_for_interrupts!();
                let slot = pg_sys::ExecProcNode(ps);
                if slot.is_null() || (*slot).tts_flags & pg_sys::TTS_FLAG_EMPTY as u16 != 0 {
                    break;
                }
                got += 1;
                pg_sys::slot_getallattrs(slot);
                let natts = st.typlens.len();
                let old = pg_sys::MemoryContextSwitchTo(st.local_cxt);
                let mut values = Vec::with_capacity(natts);
                let mut nulls = Vec::with_capacity(natts);
                for c in 0..natts {
                    let isnull = *(*slot).tts_isnull.add(c);
                    let v = *(*slot).tts_values.add(c);
                    let (len, byval) = st.typlens[c];
                    values.push(if isnull {
                        pg_sys::Datum::from(0usize)
                    } else {
                        copy_datum(v, byval, len)
                    });
                    nulls.push(isnull);
                }
                pg_sys::MemoryContextSwitchTo(old);
                // Column 0 is the distance, a float8 (pass by value on 64-bit builds).
                let distance = if nulls[0] {
                    None
                } else {
                    Some(f64::from_bits(values[0].value() as u64))
                };
                st.local_rows.push(LocalRow {
                    distance,
                    values,
                    nulls,
                });
            }
        }
    }
}

/// Sleep until a socket of a busy connection is readable or the latch is set; then
/// read what arrived and serve interrupts (cancel, statement_timeout).
unsafe fn wait(pq: &ffi::Libpq, conns: &[Conn], waiting: &[usize]) {
    // SAFETY: the wait event set lives only inside this function and is freed before
    // anything here can raise an error (so its kernel descriptor never leaks).
    unsafe {
        let n = waiting.len() + 2;
        let set = pg_sys::CreateWaitEventSet(pg_sys::CurrentMemoryContext, n as c_int);
        pg_sys::AddWaitEventToSet(
            set,
            pg_sys::WL_LATCH_SET,
            -1,
            pg_sys::MyLatch,
            core::ptr::null_mut(),
        );
        pg_sys::AddWaitEventToSet(
            set,
            pg_sys::WL_EXIT_ON_PM_DEATH,
            -1,
            core::ptr::null_mut(),
            core::ptr::null_mut(),
        );
        for &i in waiting {
            let sock = (pq.PQsocket)(conns[i].conn);
            pg_sys::AddWaitEventToSet(
                set,
                pg_sys::WL_SOCKET_READABLE,
                sock,
                core::ptr::null_mut(),
                i as *mut c_void,
            );
        }
        let mut events: Vec<pg_sys::WaitEvent> =
            (0..n).map(|_| pg_sys::WaitEvent::default()).collect();
        let got = pg_sys::WaitEventSetWait(
            set,
            -1,
            events.as_mut_ptr(),
            n as c_int,
            pg_sys::PG_WAIT_EXTENSION,
        );
        pg_sys::FreeWaitEventSet(set);
        let mut latch = false;
        let mut readable = Vec::new();
        for e in &events[..got.max(0) as usize] {
            if e.events & pg_sys::WL_LATCH_SET != 0 {
                latch = true;
            }
            if e.events & pg_sys::WL_SOCKET_READABLE != 0 {
                readable.push(e.user_data as usize);
            }
        }
        if latch {
            pg_sys::ResetLatch(pg_sys::MyLatch);
            pgrx::check_for_interrupts!();
        }
        for i in readable {
            if (pq.PQconsumeInput)(conns[i].conn) == 0 {
                raise(
                    PgSqlErrorCode::ERRCODE_CONNECTION_FAILURE,
                    format!("lost connection to server \"{}\"", conns[i].server),
                    Some(
                        cstr((pq.PQerrorMessage)(conns[i].conn))
                            .trim_end()
                            .to_string(),
                    ),
                    None,
                );
            }
        }
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn end_scan(node: *mut pg_sys::CustomScanState) {
    // SAFETY: the child plans were initialised in begin_scan (custom_ps); then the same
    // release the memory-context callback does, done early.
    unsafe {
        for i in 0..list_len((*node).custom_ps) {
            pg_sys::ExecEndNode(list_nth::<pg_sys::PlanState>((*node).custom_ps, i));
        }
        free_state(node as *mut c_void)
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn rescan(node: *mut pg_sys::CustomScanState) {
    // SAFETY: our node; parameters may have changed, so the remote searches run again.
    unsafe {
        let st = state(node);
        st.results.iter_mut().for_each(|r| *r = None);
        st.local_rows.clear();
        pg_sys::MemoryContextReset(st.local_cxt);
        // As Append does: changed parameters reach the children, which rescan then.
        for &ps in &st.locals {
            if !(*node).ss.ps.chgParam.is_null() {
                pg_sys::UpdateChangedParamSet(ps, (*node).ss.ps.chgParam);
            }
            if (*ps).chgParam.is_null() {
                pg_sys::ExecReScan(ps);
            }
        }
        st.order.clear();
        st.next = 0;
        st.executed = false;
        pg_sys::ExecScanReScan(&mut (*node).ss);
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn explain_scan(
    node: *mut pg_sys::CustomScanState,
    _ancestors: *mut pg_sys::List,
    es: *mut pg_sys::ExplainState,
) {
    // SAFETY: EXPLAIN calls this with our node and its ExplainState.
    unsafe {
        let cscan = (*node).ss.ps.plan as *mut pg_sys::CustomScan;
        let info = plan_info(cscan);
        let prop = |label: &str, value: &str| {
            let l = CString::new(label).unwrap();
            let v = CString::new(value).unwrap_or_default();
            pg_sys::ExplainPropertyText(l.as_ptr(), v.as_ptr(), es);
        };
        let partitions = info
            .leaves
            .iter()
            .map(|l| format!("{} on server {}", l.rel_name, l.server_name))
            .chain(info.locals.iter().map(|n| format!("{n} (local)")))
            .collect::<Vec<_>>()
            .join(", ");
        prop("Partitions", &partitions);
        prop("Per-Partition Limit", "LIMIT + OFFSET");
        let (_, pairs) = settings_sql();
        let s = if pairs.is_empty() {
            "none (the servers' own settings apply)".to_string()
        } else {
            pairs
                .iter()
                .map(|(n, v)| format!("{n} = '{v}'"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        prop("Forwarded Settings", &s);
        if (*es).verbose {
            for l in &info.leaves {
                prop(
                    &format!("Remote SQL ({} on {})", l.rel_name, l.server_name),
                    &l.sql,
                );
            }
        }
        let st = (*(node as *mut Node)).state;
        if (*es).analyze && !st.is_null() {
            let st = &*st;
            if let Some(own) = st.last_own {
                prop(
                    "Remote Connections",
                    if own {
                        "pgvector_rs (one pipeline per server)"
                    } else {
                        "postgres_fdw (its remote transactions)"
                    },
                );
            }
            for (l, stats) in info.leaves.iter().zip(&st.leaf_stats) {
                prop(
                    &format!("Remote Result ({} on {})", l.rel_name, l.server_name),
                    &remote_result_text(stats, (*es).timing),
                );
            }
        }
    }
}

/// EXPLAIN ANALYZE's line for one partition: rows and time per search, averaged
/// over the executions, as Postgres shows a node's `actual` figures.
fn remote_result_text(stats: &LeafStats, timing: bool) -> String {
    if stats.loops == 0 {
        return "never executed".into();
    }
    let loops = stats.loops as f64;
    let mut s = format!(
        "actual rows={:.0} loops={}",
        stats.rows as f64 / loops,
        stats.loops
    );
    if timing {
        s.push_str(&format!(
            " time={:.3} ms",
            stats.time.as_secs_f64() * 1000.0 / loops
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_order_is_float8_asc_nulls_last() {
        let mut v = vec![
            None,
            Some(f64::NAN),
            Some(2.0),
            Some(-1.0),
            Some(f64::INFINITY),
            None,
            Some(0.5),
        ];
        v.sort_by(|a, b| cmp_distance(*a, *b));
        assert_eq!(
            format!("{:?}", v),
            "[Some(-1.0), Some(0.5), Some(2.0), Some(inf), Some(NaN), None, None]"
        );
        assert!(parse_distance("NaN").is_nan());
        assert_eq!(parse_distance("-Infinity"), f64::NEG_INFINITY);
        assert_eq!(parse_distance("0.12345678901234568"), 0.12345678901234568);
    }

    #[test]
    fn vector_text_reads_back_exactly() {
        let xs = [0.1f32, -0.0, 1.0, 3.4028235e38, 1.0e-45, -1.17549435e-38, 0.33333334, 123456.79];
        let s = format_vector(&xs);
        assert!(s.starts_with('[') && s.ends_with(']'));
        let back: Vec<f32> = s[1..s.len() - 1].split(',').map(|t| t.parse().unwrap()).collect();
        assert_eq!(back.len(), xs.len());
        for (a, b) in xs.iter().zip(&back) {
            assert_eq!(a.to_bits(), b.to_bits(), "{s}");
        }
        assert_eq!(format_vector(&[]), "[]");
    }

    #[test]
    fn remote_result_text_averages_over_loops() {
        let mut s = LeafStats::default();
        assert_eq!(remote_result_text(&s, true), "never executed");
        s.loops = 4;
        s.rows = 38;
        s.time = std::time::Duration::from_micros(4_000);
        assert_eq!(remote_result_text(&s, false), "actual rows=10 loops=4");
        assert_eq!(remote_result_text(&s, true), "actual rows=10 loops=4 time=1.000 ms");
    }

    #[test]
    fn sqlstate_matches_make_sqlstate() {
        // ERRCODE_QUERY_CANCELED = MAKE_SQLSTATE('5','7','0','1','4')
        let expect = 5 | (7 << 6) | (0 << 12) | (1 << 18) | (4 << 24);
        assert_eq!(sqlstate("57014"), expect);
    }
}
