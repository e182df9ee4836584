//! Recall targets (`pgvector_rs.target_recall`): the Postgres side of the
//! `calibrate` crate.
//!
//! * [`measure`]: the calibration of an index, from a sample of its table's
//!   rows used as queries (two heap scans: the sample, then the exact
//!   neighbours; then index searches over a ladder of settings), stored on
//!   the index's meta page (WAL-logged) by [`store`]. Run at the end of
//!   every build, by `pgvector_rs_calibrate(index)`, and by VACUUM when the
//!   index's row count moved by more than 20% since ([`after_vacuum`]).
//! * [`decide`]: the search setting a scan starts with, and why. Precedence:
//!   an explicitly set `hnsw.ef_search` / `ivfflat.probes`; then the target
//!   (if the index is calibrated); then the index's option; then the GUC's
//!   default.
//! * The query's k (LIMIT + OFFSET), which the access method never sees:
//!   an `ExecutorStart` hook walks the plan-state tree for a Limit above
//!   one of our index scans (through Result, Append, MergeAppend and
//!   subquery scans) and evaluates its count and offset when they are
//!   constants or external parameters. When k is unknown the decision
//!   assumes [`FALLBACK_K`] and says so.
//! * EXPLAIN: an `ExplainOneQuery` hook adds, in text format, one line per
//!   index scan with the chosen setting and the reason, when a recall target
//!   or an index option decided it (other formats are left untouched).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ffi::CStr;

use ::calibrate::{Calibration, ExactTopK, Reservoir, Tally, KS};
use pagestore::{ItemPointer, Relation};
use pgrx::pg_sys;
use pgrx::PgSqlErrorCode;
use vecspace::{Storage, VectorSpace};

use super::buffer::PgRelation;
use super::build::scan_heap;
use super::core::{index_info, IndexInfo};
use super::guc::{self, SettingSource};
use super::opclass::{encode_ptr, relation_name};
use super::{check_for_interrupts, error};
use crate::fmgr::detoast;

/// The k assumed when a scan's LIMIT is unknown (no LIMIT, or one that is
/// not a constant or parameter).
pub const FALLBACK_K: u32 = 10;
/// Largest k measured (the last of [`KS`]): exact neighbours kept per query.
const MAX_K: usize = 100;
/// Seed of the query sample (the same table gives the same calibration).
const SAMPLE_SEED: u64 = 0xCA1B_4A7E;

/// Which access method an index belongs to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Hnsw,
    Ivfflat,
}

impl Kind {
    /// The kind of `index`, or an ERROR saying it is neither.
    ///
    /// # Safety
    /// `index` is an open relation.
    unsafe fn of_or_error(index: pg_sys::Relation) -> Kind {
        // SAFETY: the caller's contract.
        unsafe { Kind::of(index) }.unwrap_or_else(|| {
            // SAFETY: as above.
            let name = unsafe { relation_name(index) };
            error(
                PgSqlErrorCode::ERRCODE_WRONG_OBJECT_TYPE,
                &format!("\"{name}\" is not an hnsw or ivfflat index"),
                None,
            )
        })
    }

    fn setting_name(self) -> &'static str {
        match self {
            Kind::Hnsw => "ef_search",
            Kind::Ivfflat => "probes",
        }
    }

    fn guc_name(self) -> &'static str {
        match self {
            Kind::Hnsw => "hnsw.ef_search",
            Kind::Ivfflat => "ivfflat.probes",
        }
    }

    /// The kind of an open index, if it is one of ours.
    unsafe fn of(index: pg_sys::Relation) -> Option<Kind> {
        // SAFETY: `index` is open; `rd_rel` is valid while it is.
        let am = unsafe { pg_sys::get_am_name((*(*index).rd_rel).relam) };
        if am.is_null() {
            return None;
        }
        // SAFETY: `get_am_name` returns a palloc'd NUL-terminated name.
        match unsafe { CStr::from_ptr(am) }.to_bytes() {
            b"hnsw" => Some(Kind::Hnsw),
            b"ivfflat" => Some(Kind::Ivfflat),
            _ => None,
        }
    }
}

/// Index searches as the query would run them: the index space compares a
/// query payload (of the space's query encoding) with stored payloads.
struct SearchSpace(VectorSpace);

impl ::hnsw::Space for SearchSpace {
    #[inline]
    fn distance(&self, query: &[u8], stored: &[u8]) -> f32 {
        self.0.query_distance(query, stored)
    }
}

impl ::ivf::Space for SearchSpace {
    #[inline]
    fn distance(&self, query: &[u8], stored: &[u8]) -> f32 {
        self.0.query_distance(query, stored)
    }

    fn query_size(&self, stored_size: usize) -> usize {
        ::ivf::Space::query_size(&self.0, stored_size)
    }
}

/// Leave-one-out HNSW searches: the query's own row (its index payload
/// `own`) reads as infinitely far, so the search neither returns it nor
/// follows its links, which lead straight to its neighbours: the graph is
/// searched as if the row were not in it, as an application's query would
/// be. Without it a refresh read optimistic at small ef_search (on
/// pypi-minilm-100k recall@10 0.959 instead of 0.869 at ef_search 16, so a
/// target of 0.95 chose ef_search 16 and got 0.861).
struct WithoutOwnRow<'a> {
    /// The index's search space (a prepared query for code indexes).
    space: &'a dyn ::hnsw::Space,
    own: &'a [u8],
}

impl ::hnsw::Space for WithoutOwnRow<'_> {
    #[inline]
    fn distance(&self, query: &[u8], stored: &[u8]) -> f32 {
        if !self.own.is_empty() && stored == self.own {
            return f32::INFINITY;
        }
        self.space.distance(query, stored)
    }

    #[inline]
    fn distance_and_bound(&self, query: &[u8], stored: &[u8]) -> (f32, f32) {
        if !self.own.is_empty() && stored == self.own {
            return (f32::INFINITY, f32::INFINITY);
        }
        self.space.distance_and_bound(query, stored)
    }

    fn lazy_bound(&self) -> bool {
        self.space.lazy_bound()
    }

    #[inline]
    fn bound(&self, query: &[u8], stored: &[u8]) -> f32 {
        if !self.own.is_empty() && stored == self.own {
            return f32::INFINITY;
        }
        self.space.bound(query, stored)
    }
}

/// One sampled row: its id, its index payload (when a build holds it out),
/// its exact encoding (for ground truth) and its query encoding (for index
/// searches).
pub struct Sample {
    id: u64,
    tid: ItemPointer,
    payload: Vec<u8>,
    exact: Vec<u8>,
    query: Vec<u8>,
}

fn tid_id(tid: ItemPointer) -> u64 {
    (tid.block as u64) << 16 | tid.offset as u64
}

/// The encodings a calibration compares in.
#[derive(Clone, Copy)]
struct Encodings {
    exact: VectorSpace,
    query: VectorSpace,
}

impl Encodings {
    fn of(info: &IndexInfo) -> Self {
        Encodings {
            exact: info.space.with_storage(Storage::Exact).unwrap_or(info.space),
            query: info.space.query_space(),
        }
    }

    /// The sample of a row, `None` if the index does not store it (zero
    /// vectors under cosine).
    unsafe fn sample(&self, tid: ItemPointer, ptr: *const u8, payload: &[u8]) -> Option<Sample> {
        let mut exact = Vec::new();
        let mut query = Vec::new();
        // SAFETY: `ptr` is a detoasted value of the key's type.
        let ok = unsafe { encode_ptr(&self.exact, ptr, &mut exact) && encode_ptr(&self.query, ptr, &mut query) };
        ok.then(|| Sample {
            id: tid_id(tid),
            tid,
            payload: payload.to_vec(),
            exact,
            query,
        })
    }
}

/// Measures the calibration of `index` (of access method `kind`, read
/// through `rel`), sampling `heap` with `index_info` (the build's, or one
/// with `ii_Concurrent` set, so that the scans use an MVCC snapshot). The
/// sample's rows are in the index: each query ignores its own row
/// (leave-one-out). Memory is bounded by `maintenance_work_mem`; every loop
/// can be cancelled.
pub unsafe fn measure<R: Relation>(
    kind: Kind,
    heap: pg_sys::Relation,
    index: pg_sys::Relation,
    index_info_ptr: *mut pg_sys::IndexInfo,
    rel: &R,
    info: &IndexInfo,
) -> Calibration {
    let enc = Encodings::of(info);
    // Pass 1: the sample (for HNSW with each row's index payload, so that
    // its search can leave the row out: `WithoutOwnRow`).
    let mut reservoir = Reservoir::<Sample>::new(::calibrate::DEFAULT_QUERIES, SAMPLE_SEED);
    let mut exact = Vec::new();
    let mut stored = Vec::new();
    // SAFETY: the caller passes open relations and an IndexInfo of `index`.
    unsafe {
        scan_heap(heap, index, index_info_ptr, false, &mut |tid, datum| {
            let ptr = detoast(datum);
            if !encode_ptr(&enc.exact, ptr, &mut exact) {
                return;
            }
            reservoir.offer(|| {
                let payload: &[u8] = if kind == Kind::Hnsw && encode_ptr(&info.space, ptr, &mut stored) {
                    &stored
                } else {
                    &[]
                };
                enc.sample(tid, ptr, payload).expect("encodable: checked above")
            });
        })
    };
    let rows = reservoir.seen();
    if rows < ::calibrate::MIN_ROWS {
        return Calibration::pending(rows);
    }
    let samples = reservoir.into_sample(::calibrate::queries_for(rows));
    // SAFETY: as above.
    unsafe { measure_samples(kind, heap, index, index_info_ptr, rel, info, &samples, rows, false) }
}

/// Measures with `samples` as queries: `held_out` if they are not in the
/// index (then no row of theirs is a true neighbour), else leave-one-out.
#[allow(clippy::too_many_arguments)]
unsafe fn measure_samples<R: Relation>(
    kind: Kind,
    heap: pg_sys::Relation,
    index: pg_sys::Relation,
    index_info_ptr: *mut pg_sys::IndexInfo,
    rel: &R,
    info: &IndexInfo,
    samples: &[Sample],
    rows: u64,
    held_out: bool,
) -> Calibration {
    let enc = Encodings::of(info);
    // Errors of the index crates name the index.
    // SAFETY: `index` is the open index being measured.
    let named = unsafe { super::buffer::PgRelation::logged(index) };
    // Memory: the samples and their neighbour lists.
    let per_query = samples.first().map_or(0, |s| {
        s.exact.len() + s.query.len() + s.payload.len() + MAX_K * 24 + 64
    });
    let budget = guc::maintenance_work_mem_bytes() / 2;
    let fit = budget / per_query.max(1);
    if fit < 10 {
        error(
            PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED,
            &format!(
                "recall calibration needs {} kB, maintenance_work_mem is {} kB",
                per_query * 10 * 2 / 1024,
                guc::maintenance_work_mem_bytes() / 1024
            ),
            Some("Increase maintenance_work_mem."),
        );
    }
    let samples = &samples[..fit.min(samples.len())];
    let sample_ids: std::collections::HashSet<u64> = samples.iter().map(|s| s.id).collect();
    let started = std::time::Instant::now();
    // Pass 2: exact neighbours. The heap scan (on this thread; it checks
    // for interrupts between tuples) fills a batch of rows' exact
    // encodings; each full batch is compared with every query on the
    // build's threads (distances only: no Postgres call off this thread).
    // SAFETY: the caller passes open relations.
    let threads = super::guc::build_threads(unsafe { super::core::planned_workers(heap, index, true) });
    let batch_bytes = (budget / 4).clamp(64 << 10, 16 << 20);
    let mut top = ExactTopK::new(samples.len(), MAX_K);
    let queries: Vec<&[u8]> = samples.iter().map(|s| s.exact.as_slice()).collect();
    let distance = |a: &[u8], b: &[u8]| enc.exact.distance(a, b);
    let own_row = |q: usize, id: u64| samples[q].id == id;
    let mut batch = RowBatch::default();
    let mut exact = Vec::new();
    let flush = |batch: &mut RowBatch, top: &mut ExactTopK| {
        let rows = batch.rows();
        // Threads spawned now start with asynchronous signals blocked, so
        // that no Postgres signal handler runs on them; a signal arriving
        // meanwhile is delivered here when the guard drops (one batch, a
        // fraction of a second, later) and a cancel is then served by the
        // heap scan's next interrupt check.
        let signals = pagestore::threads::SignalsBlocked::new();
        top.push_batch(&queries, &rows, &distance, &own_row, threads);
        drop(signals);
        batch.clear();
    };
    // SAFETY: the caller passes open relations and an IndexInfo of `index`.
    unsafe {
        scan_heap(heap, index, index_info_ptr, false, &mut |tid, datum| {
            let id = tid_id(tid);
            if held_out && sample_ids.contains(&id) {
                return;
            }
            let ptr = detoast(datum);
            if !encode_ptr(&enc.exact, ptr, &mut exact) {
                return;
            }
            batch.push(id, &exact);
            if batch.bytes() >= batch_bytes {
                flush(&mut batch, &mut top);
            }
        })
    };
    flush(&mut batch, &mut top);
    drop(batch);
    let truth_time = started.elapsed();
    let truth = top.finish();
    // Pass 3: index searches over the ladder, until recall saturates.
    let lists = match kind {
        Kind::Hnsw => 0,
        Kind::Ivfflat => super::ivfflat::read_any_meta(rel).map_or(1, |m| m.lists),
    };
    let ladder = match kind {
        Kind::Hnsw => ::calibrate::hnsw_ladder(guc::MAX_EF_SEARCH as u32),
        Kind::Ivfflat => ::calibrate::ivf_ladder(lists),
    };
    // IVF: one scan per query reads its lists one at a time, nearest
    // first, and goes on from where it stopped at the next setting (the
    // lists `probes = p` reads are the first p of the same order), so the
    // ladder reads each list once per query instead of once per setting.
    // The scans stay open across settings when they fit half of
    // maintenance_work_mem beside the samples (a code index's scan holds
    // the centroids it ranked); otherwise each setting starts them again.
    let per_scan = lists as usize * (samples.first().map_or(0, |s| s.query.len()) + 32) + (64 << 10);
    let keep_scans = per_scan.saturating_mul(samples.len()) <= budget.saturating_sub(per_query * samples.len());
    let mut ivf: Vec<IvfProgress> = match kind {
        Kind::Hnsw => Vec::new(),
        Kind::Ivfflat => truth
            .iter()
            .map(|t| IvfProgress {
                scan: None,
                hits: TrueNeighbours::new(t),
                pending: None,
                done: false,
            })
            .collect(),
    };
    let space = SearchSpace(info.space);
    // hnsw codes (`quantization = rabitq`): queries compare through the
    // codes' estimator, and a row's own element holds its code.
    let codes = match kind {
        // SAFETY: the caller passes an open index of `kind`.
        Kind::Hnsw => unsafe { super::hnsw::index_code_space(index, info) },
        Kind::Ivfflat => None,
    };
    // Exact storage returns rows in exact order with exact distances: the
    // first k rows are the query's result.
    let exact_order = info.space.storage() == Storage::Exact;
    let mut tally = Tally::new(&KS, &ladder);
    let mut rung_times: Vec<(u32, f64)> = Vec::with_capacity(ladder.len());
    let mut found: Vec<(u64, f32)> = Vec::with_capacity(MAX_K + 1);
    let memory_limit =
        (guc::work_mem_bytes() as f64 * guc::HNSW_SCAN_MEM_MULTIPLIER.get()) as usize;
    'ladder: for (si, &setting) in ladder.iter().enumerate() {
        let rung_started = std::time::Instant::now();
        for (q, sample) in samples.iter().enumerate() {
            check_for_interrupts();
            found.clear();
            // The query's own row (leave-one-out) is skipped.
            let mut keep = |id: u64, d: f32| {
                if id != sample.id {
                    found.push((id, d));
                }
            };
            match kind {
                Kind::Hnsw => {
                    let options = ::hnsw::ScanOptions {
                        ef_search: setting as usize,
                        iterative: ::hnsw::IterativeScan::Off,
                        max_scan_tuples: u64::MAX,
                        memory_limit,
                    };
                    let mut scan = ::hnsw::HnswScan::new(&sample.query, options);
                    let prepared = codes.as_ref().and_then(|c| c.prepare(&sample.query));
                    let mut own_code = Vec::new();
                    let own: &[u8] = match &codes {
                        _ if held_out => &[],
                        Some(c) if ::hnsw::Space::encode_stored(c, &sample.payload, &mut own_code) => &own_code,
                        Some(_) => &[],
                        None => &sample.payload,
                    };
                    let space = WithoutOwnRow {
                        space: match &prepared {
                            Some(p) => p,
                            None => &space,
                        },
                        own,
                    };
                    if exact_order {
                        for _ in 0..=MAX_K {
                            match scan.next(rel, &space) {
                                Ok(Some(item)) => keep(tid_id(item.heap_tid), item.distance),
                                Ok(None) => break,
                                Err(e) => super::hnsw::raise(&named, e),
                            }
                        }
                    } else {
                        // Half precision and codes report lower bounds that
                        // the executor rechecks: a query gets the exact top
                        // k of the scan's candidates (all `ef_search` of
                        // them), so a true neighbour is found exactly when
                        // it is a candidate (taking the first rows in bound
                        // order would understate recall).
                        let mut hits = TrueNeighbours::new(&truth[q]);
                        loop {
                            match scan.next(rel, &space) {
                                Ok(Some(item)) => hits.see(tid_id(item.heap_tid)),
                                Ok(None) => break,
                                Err(e) => super::hnsw::raise(&named, e),
                            }
                        }
                        found.extend(hits.found());
                    }
                }
                Kind::Ivfflat => {
                    // The executor rechecks every row an ivfflat scan
                    // returns (half precision and codes report lower
                    // bounds), so a query gets the exact top k of the rows
                    // in the probed lists: a true neighbour is found
                    // exactly when its row is in one of them.
                    let st = &mut ivf[q];
                    let probes = setting as usize;
                    if let Some((id, rank)) = st.pending {
                        if rank < probes {
                            st.hits.see(id);
                            st.pending = None;
                        }
                    }
                    if st.pending.is_none() && !st.done {
                        let scan = match &mut st.scan {
                            Some(scan) => scan,
                            slot @ None => {
                                let options = ::ivf::SearchOptions {
                                    probes: 1,
                                    iterative: ::ivf::IterativeScan::RelaxedOrder {
                                        max_probes: lists as usize,
                                    },
                                };
                                let scan = super::ivfflat::new_scan(
                                    rel,
                                    &info.space,
                                    &space,
                                    &sample.query,
                                    &options,
                                );
                                let mut scan = match scan {
                                    Ok(scan) => scan,
                                    Err(e) => super::ivfflat::raise(&named, e),
                                };
                                scan.set_memory_limit(guc::work_mem_bytes());
                                slot.insert(scan)
                            }
                        };
                        // Batches of one list: the list of the row just
                        // returned is number `lists_read() - 1`. A row of a
                        // list beyond this setting (after empty lists)
                        // waits for the setting that reads it.
                        loop {
                            if scan.rows_held() == 0 && scan.lists_read() >= probes {
                                break;
                            }
                            match scan.next(rel, &space) {
                                Ok(Some((tid, _))) => {
                                    let rank = scan.lists_read().saturating_sub(1);
                                    if rank < probes {
                                        st.hits.see(tid_id(tid));
                                    } else {
                                        st.pending = Some((tid_id(tid), rank));
                                        break;
                                    }
                                }
                                Ok(None) => {
                                    st.done = true;
                                    break;
                                }
                                // More candidates than work_mem holds:
                                // larger settings cannot be measured (nor
                                // run).
                                Err(::ivf::IvfError::OutOfMemory { .. }) => break 'ladder,
                                Err(e) => super::ivfflat::raise(&named, e),
                            }
                            check_for_interrupts();
                        }
                        if !keep_scans || st.done {
                            st.scan = None;
                        }
                    }
                    found.extend(st.hits.found());
                }
            }
            found.truncate(MAX_K);
            tally.record(si, &truth[q], &found, true);
        }
        rung_times.push((setting, rung_started.elapsed().as_secs_f64()));
        if tally.mean_at_largest_k(si) >= ::calibrate::SATURATED {
            break;
        }
    }
    let ladder_time: f64 = rung_times.iter().map(|r| r.1).sum();
    let rungs: Vec<String> = rung_times.iter().map(|(s, t)| format!("{s}:{t:.2}")).collect();
    let scans = match kind {
        Kind::Hnsw => "",
        Kind::Ivfflat if keep_scans => ", scans carried across settings",
        Kind::Ivfflat => ", scans restarted at each setting",
    };
    // SAFETY: `index` is open.
    let name = unsafe { relation_name(index) };
    pgrx::debug2!(
        "recall calibration of \"{name}\": exact neighbours of {} queries in {:.2} s ({threads} threads), {} searches in {ladder_time:.2} s ({} s by {}{scans})",
        samples.len(),
        truth_time.as_secs_f64(),
        samples.len() * rung_times.len(),
        rungs.join(" "),
        kind.setting_name()
    );
    tally.finish(rows, held_out).unwrap_or_else(|| Calibration::pending(rows))
}

/// Where an IVF calibration query's scan stands along the ladder.
struct IvfProgress<'a> {
    /// Its scan, reading one list per batch (`None` before the first
    /// setting, after the last list, or between settings when the scans do
    /// not fit memory).
    scan: Option<::ivf::Scan>,
    /// Its true neighbours found in the lists read so far.
    hits: TrueNeighbours<'a>,
    /// A row read from a list beyond the current setting, and that list's
    /// number.
    pending: Option<(u64, usize)>,
    /// Every list was read.
    done: bool,
}

/// Rows of a heap scan buffered for [`ExactTopK::push_batch`]: ids and
/// encodings, one allocation for all.
#[derive(Default)]
struct RowBatch {
    ids: Vec<u64>,
    ends: Vec<usize>,
    bytes: Vec<u8>,
}

impl RowBatch {
    fn push(&mut self, id: u64, encoding: &[u8]) {
        self.ids.push(id);
        self.bytes.extend_from_slice(encoding);
        self.ends.push(self.bytes.len());
    }

    /// Memory held (about).
    fn bytes(&self) -> usize {
        self.bytes.len() + self.ids.len() * 16
    }

    fn rows(&self) -> Vec<(u64, &[u8])> {
        let mut start = 0;
        self.ids
            .iter()
            .zip(&self.ends)
            .map(|(&id, &end)| {
                let row = (id, &self.bytes[start..end]);
                start = end;
                row
            })
            .collect()
    }

    fn clear(&mut self) {
        self.ids.clear();
        self.ends.clear();
        self.bytes.clear();
    }
}

/// Which of a query's exact neighbours a scan returned, whatever the order
/// (the executor rechecks rows reported with lower bounds, so a query gets
/// the exact top k of the candidates: the true neighbours among them).
struct TrueNeighbours<'a> {
    exact: &'a [(u64, f32)],
    rank: HashMap<u64, usize>,
    seen: Vec<bool>,
}

impl<'a> TrueNeighbours<'a> {
    fn new(exact: &'a [(u64, f32)]) -> Self {
        TrueNeighbours {
            exact,
            rank: exact.iter().enumerate().map(|(i, &(t, _))| (t, i)).collect(),
            seen: vec![false; exact.len()],
        }
    }

    fn see(&mut self, id: u64) {
        if let Some(&i) = self.rank.get(&id) {
            self.seen[i] = true;
        }
    }

    /// The neighbours seen, nearest first, with their exact distances.
    fn found(&self) -> impl Iterator<Item = (u64, f32)> + '_ {
        self.exact.iter().zip(&self.seen).filter(|(_, &s)| s).map(|(&e, _)| e)
    }
}

/// Rows a build needs to hold its sample out of the graph while measuring
/// (below, the sample, at least 50 rows, would be a large part of the
/// graph; at 1,000 rows it is 5%). Leave-one-out reads far too optimistic
/// on small graphs: 1,800 rows of pypi-minilm-100k measured that way chose
/// ef_search 16 for a target of 0.99, which gave 0.941 on held-out queries.
const HOLD_OUT_MIN_ROWS: u64 = 1000;

/// An HNSW build's sample: rows kept out of the graph until the
/// calibration has measured the graph with them as queries, which is what
/// the application's queries are (a row of the graph is found through its
/// own links, which reads optimistic).
pub struct BuildSampler {
    enc: Encodings,
    reservoir: Reservoir<Sample>,
    /// `pgvector_rs.calibrate_on_build` when the build started: off, no
    /// row is held out and nothing is measured.
    enabled: bool,
}

impl BuildSampler {
    pub fn new(info: &IndexInfo) -> Self {
        let enabled = guc::CALIBRATE_ON_BUILD.get();
        BuildSampler {
            enc: Encodings::of(info),
            reservoir: Reservoir::new(if enabled { ::calibrate::DEFAULT_QUERIES } else { 0 }, SAMPLE_SEED),
            enabled,
        }
    }

    /// Offers a row (`ptr` its detoasted value, `payload` its index
    /// payload); `push` receives the row that goes into the graph now, if
    /// any (this one, or one it displaced from the sample).
    pub unsafe fn offer(
        &mut self,
        tid: ItemPointer,
        ptr: *const u8,
        payload: &[u8],
        push: &mut dyn FnMut(ItemPointer, &[u8]),
    ) {
        if !self.enabled {
            push(tid, payload);
            return;
        }
        let enc = self.enc;
        // SAFETY: the caller passes a detoasted value of the key's type.
        let Some(sample) = (unsafe { enc.sample(tid, ptr, payload) }) else {
            push(tid, payload);
            return;
        };
        match self.reservoir.offer_displacing(|| sample) {
            ::calibrate::Offer::Kept => {}
            ::calibrate::Offer::Rejected => push(tid, payload),
            ::calibrate::Offer::Displaced(old) => push(old.tid, &old.payload),
        }
    }
}

/// After an HNSW build of the graph without the sample: measures the
/// calibration with the sample held out, stores it, then inserts the
/// sample with `insert`. Small tables (under [`HOLD_OUT_MIN_ROWS`]) insert
/// first and measure leave-one-out. Returns the rows inserted.
#[allow(clippy::too_many_arguments)]
pub unsafe fn calibrate_build_held_out<R: Relation>(
    heap: pg_sys::Relation,
    index: pg_sys::Relation,
    index_info_ptr: *mut pg_sys::IndexInfo,
    rel: &R,
    info: &IndexInfo,
    sampler: BuildSampler,
    insert: &mut dyn FnMut(ItemPointer, &[u8]),
) -> u64 {
    if !sampler.enabled {
        // Every row went into the graph; no calibration is stored.
        return 0;
    }
    let started = std::time::Instant::now();
    let rows = sampler.reservoir.seen();
    let (chosen, rest) = sampler.reservoir.into_split(::calibrate::queries_for(rows));
    let inserted = (chosen.len() + rest.len()) as u64;
    for s in &rest {
        check_for_interrupts();
        insert(s.tid, &s.payload);
    }
    // SAFETY: the build's open relations.
    let cal = unsafe {
        if rows < ::calibrate::MIN_ROWS {
            chosen.iter().for_each(|s| insert(s.tid, &s.payload));
            Calibration::pending(rows)
        } else if rows < HOLD_OUT_MIN_ROWS {
            chosen.iter().for_each(|s| insert(s.tid, &s.payload));
            measure_samples(Kind::Hnsw, heap, index, index_info_ptr, rel, info, &chosen, rows, false)
        } else {
            let cal = measure_samples(Kind::Hnsw, heap, index, index_info_ptr, rel, info, &chosen, rows, true);
            let inserting = std::time::Instant::now();
            for s in &chosen {
                check_for_interrupts();
                insert(s.tid, &s.payload);
            }
            pgrx::debug2!(
                "recall calibration of \"{}\": {} held-out rows inserted in {:.2} s",
                relation_name(index),
                chosen.len(),
                inserting.elapsed().as_secs_f64()
            );
            cal
        }
    };
    // SAFETY: `index` is open.
    unsafe { store_built(rel, index, &cal, started) };
    inserted
}

/// Stores a build's calibration and logs (DEBUG2) what it measured.
///
/// # Safety
/// `index` is the open index `rel` writes.
unsafe fn store_built<R: Relation>(
    rel: &R,
    index: pg_sys::Relation,
    cal: &Calibration,
    started: std::time::Instant,
) {
    // SAFETY: the caller's contract.
    let name = unsafe { relation_name(index) };
    store(rel, cal, &name);
    pgrx::debug2!(
        "recall calibration of \"{name}\": {} queries, {} settings in {:.3} s",
        cal.queries,
        cal.settings.len(),
        started.elapsed().as_secs_f64()
    );
}

/// Stores `cal` on the meta page through `rel`.
pub fn store<R: Relation>(rel: &R, cal: &Calibration, index_name: &str) {
    if !::calibrate::store(rel, cal) {
        pgrx::warning!("recall calibration of index \"{index_name}\" does not fit its meta page");
    }
}

/// Marks an index without rows (the init fork of an unlogged index, which a
/// crash resets the index to) as to be calibrated by VACUUM once it has
/// rows.
pub fn store_pending<R: Relation>(rel: &R, index_name: &str) {
    store(rel, &Calibration::pending(0), index_name);
}

/// Calibrates a freshly built index (called by the builds before their
/// pages are WAL-logged; `rel` writes without WAL).
pub unsafe fn calibrate_build<R: Relation>(
    kind: Kind,
    heap: pg_sys::Relation,
    index: pg_sys::Relation,
    index_info_ptr: *mut pg_sys::IndexInfo,
    rel: &R,
    info: &IndexInfo,
) {
    if !guc::CALIBRATE_ON_BUILD.get() {
        return;
    }
    let started = std::time::Instant::now();
    // SAFETY: the build's open relations.
    let cal = unsafe { measure(kind, heap, index, index_info_ptr, rel, info) };
    // SAFETY: `index` is open.
    unsafe { store_built(rel, index, &cal, started) };
}

/// Calibrates `index` (open) again from its table `heap` (open, locked),
/// with an MVCC snapshot; WAL-logged.
unsafe fn recalibrate(kind: Kind, heap: pg_sys::Relation, index: pg_sys::Relation) -> Calibration {
    // SAFETY: open relations; BuildIndexInfo pallocs in the current context.
    unsafe {
        let info = match kind {
            Kind::Hnsw => index_info::<super::hnsw::Hnsw>(index),
            Kind::Ivfflat => index_info::<super::ivfflat::Ivfflat>(index),
        };
        let ii = pg_sys::BuildIndexInfo(index);
        // An MVCC snapshot: only rows visible now, no waiting for
        // concurrent inserts (this runs under weaker locks than a build).
        (*ii).ii_Concurrent = true;
        let rel = PgRelation::logged(index);
        let cal = measure(kind, heap, index, ii, &rel, &info);
        store(&rel, &cal, &relation_name(index));
        cal
    }
}

/// `amvacuumcleanup`'s refresh: if `index` has a calibration and its row
/// count moved by more than [`::calibrate::REFRESH_CHANGE`] since, measure
/// again. Indexes without one (built before calibrations existed) are left
/// alone: `pgvector_rs_calibrate` calibrates them.
pub unsafe fn after_vacuum(
    vacuum_info: *mut pg_sys::IndexVacuumInfo,
    stats: *mut pg_sys::IndexBulkDeleteResult,
) {
    // SAFETY: Postgres passes a valid vacuum info and stats (or NULL);
    // VACUUM holds a lock on the table, so opening it with NoLock is safe.
    unsafe {
        if (*vacuum_info).analyze_only {
            return;
        }
        let index = (*vacuum_info).index;
        let Some(kind) = Kind::of(index) else { return };
        let rows = match stats.as_ref() {
            Some(s) => s.num_index_tuples,
            None => (*vacuum_info).num_heap_tuples,
        };
        let rows = if rows.is_finite() && rows > 0.0 { rows as u64 } else { 0 };
        let Some(cal) = ::calibrate::load(&PgRelation::logged(index)) else {
            return;
        };
        if !cal.stale(rows) {
            return;
        }
        let heap_oid = pg_sys::IndexGetRelation((*index).rd_id, false);
        let heap = pg_sys::table_open(heap_oid, pg_sys::NoLock as pg_sys::LOCKMODE);
        let cal = recalibrate(kind, heap, index);
        pg_sys::table_close(heap, pg_sys::NoLock as pg_sys::LOCKMODE);
        pgrx::debug2!(
            "recalibrated recall of index \"{}\": {} rows",
            relation_name(index),
            cal.rows
        );
    }
}

crate::pg_function!(calibrate_index, |fcinfo| {
    // pgvector_rs_calibrate(regclass) RETURNS text
    let oid = pg_sys::Oid::from(crate::fmgr::arg(fcinfo, 0).value() as u32);
    // SAFETY: catalog lookups and relation opens on the backend's thread;
    // the relations are closed before returning (an ERROR releases them
    // with the transaction). The table is locked before the index, as
    // every other path does. SHARE UPDATE EXCLUSIVE on the index keeps a
    // concurrent calibration or VACUUM out while reads and writes go on.
    unsafe {
        let heap_oid = super::opclass::heap_of_index(oid, "an index");
        let heap = pg_sys::table_open(heap_oid, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
        let lock = pg_sys::ShareUpdateExclusiveLock as pg_sys::LOCKMODE;
        let index = pg_sys::index_open(oid, lock);
        let kind = Kind::of_or_error(index);
        let cal = recalibrate(kind, heap, index);
        let text = describe(kind, &cal);
        pg_sys::index_close(index, pg_sys::NoLock as pg_sys::LOCKMODE);
        pg_sys::table_close(heap, pg_sys::NoLock as pg_sys::LOCKMODE);
        crate::fmgr::text_datum(&text)
    }
});

fn describe(kind: Kind, cal: &Calibration) -> String {
    if !cal.is_measured() {
        return format!(
            "not calibrated: {} rows (at least {} needed)",
            cal.rows,
            ::calibrate::MIN_ROWS
        );
    }
    let mut s = format!(
        "calibrated {} at recall@k on {} sample queries ({}), {} rows",
        kind.setting_name(),
        cal.queries,
        if cal.held_out { "held out of the index" } else { "rows of the index, leave-one-out" },
        cal.rows
    );
    for (ki, k) in cal.ks.iter().enumerate() {
        s.push_str(&format!("\nk={k}:"));
        for (si, v) in cal.settings.iter().enumerate() {
            s.push_str(&format!(" {v}={:.3}", cal.recall_at(ki, si)));
        }
    }
    s
}

crate::pg_function!(calibration, |fcinfo| {
    // pgvector_rs_calibration(regclass) RETURNS text: the stored calibration.
    let oid = pg_sys::Oid::from(crate::fmgr::arg(fcinfo, 0).value() as u32);
    // SAFETY: as in `calibrate_index`, with only an ACCESS SHARE lock.
    unsafe {
        let lock = pg_sys::AccessShareLock as pg_sys::LOCKMODE;
        let index = pg_sys::index_open(oid, lock);
        let kind = Kind::of_or_error(index);
        let cal = ::calibrate::load(&PgRelation::logged(index));
        pg_sys::index_close(index, lock);
        match cal {
            Some(cal) => crate::fmgr::text_datum(&describe(kind, &cal)),
            None => crate::fmgr::text_datum("not calibrated (built with pgvector_rs.calibrate_on_build off, or before calibrations existed: run pgvector_rs_calibrate)"),
        }
    }
});

/// The setting a scan starts with, and why.
#[derive(Clone, Debug)]
pub struct Decision {
    pub setting: i32,
    pub source: SettingSource,
    pub why: String,
}

/// The starting setting of a scan of `index` for a query with LIMIT `k`
/// (`None`: unknown), given the index's option (0: none).
pub unsafe fn decide(kind: Kind, index: pg_sys::Relation, k: Option<u32>, option: i32) -> Decision {
    let (guc_value, explicit) = match kind {
        Kind::Hnsw => (guc::HNSW_EF_SEARCH.get(), guc::explicitly_set(c"hnsw.ef_search")),
        Kind::Ivfflat => (guc::IVFFLAT_PROBES.get(), guc::explicitly_set(c"ivfflat.probes")),
    };
    if explicit {
        return Decision {
            setting: guc_value,
            source: SettingSource::Guc,
            why: format!("{} is set", kind.guc_name()),
        };
    }
    let target = guc::TARGET_RECALL.get();
    let mut note = String::new();
    if target > 0.0 {
        // SAFETY: `index` is open.
        match ::calibrate::load(&unsafe { PgRelation::logged(index) }) {
            Some(cal) if cal.is_measured() => {
                let kk = k.unwrap_or(FALLBACK_K).max(1);
                let min = match kind {
                    Kind::Hnsw => kk,
                    Kind::Ivfflat => 1,
                };
                let choice = cal.choose_confident(target, kk, min);
                let max = match kind {
                    Kind::Hnsw => guc::MAX_EF_SEARCH as u32,
                    Kind::Ivfflat => guc::IVFFLAT_MAX_LISTS as u32,
                };
                let k_text = match k {
                    Some(k) => format!("k = {k}"),
                    None => format!("k unknown, assumed {FALLBACK_K}"),
                };
                let reached = if choice.reached {
                    String::new()
                } else {
                    ", target above every measured setting".to_string()
                };
                return Decision {
                    setting: choice.setting.min(max) as i32,
                    source: SettingSource::TargetRecall,
                    why: format!(
                        "target_recall {target} at {k_text}: calibrated recall {:.3}{reached}",
                        choice.predicted
                    ),
                };
            }
            _ => note = format!("; target_recall {target} ignored: index not calibrated"),
        }
    }
    if option > 0 {
        Decision {
            setting: option,
            source: SettingSource::IndexOption,
            why: format!("index option {}{note}", kind.setting_name()),
        }
    } else {
        Decision {
            setting: guc_value,
            source: SettingSource::Default,
            why: format!("{} default{note}", kind.guc_name()),
        }
    }
}

// ---- the query's k, by scan -------------------------------------------------

thread_local! {
    /// LIMIT + OFFSET (None: unknown) of the scans of each index in a
    /// query, keyed by its executor state and the index's OID.
    static SCAN_K: RefCell<HashMap<(usize, u32), Option<u32>>> = RefCell::new(HashMap::new());
    /// Executor states whose ExecutorRun is on the stack, innermost last:
    /// the search being started belongs to the last one.
    static RUNNING: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
    /// Lines EXPLAIN adds, and whether the next ExecutorStart is EXPLAIN's.
    static EXPLAIN_NOTES: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    static EXPLAIN_PENDING: Cell<bool> = const { Cell::new(false) };
}

/// The k of the query running a scan of `index`: `None` if unknown.
pub unsafe fn current_k(index: pg_sys::Relation) -> Option<u32> {
    let estate = RUNNING.with(|r| r.borrow().last().copied())?;
    // SAFETY: `index` is open.
    let oid = unsafe { (*index).rd_id }.to_u32();
    SCAN_K.with(|m| m.borrow().get(&(estate, oid)).copied().flatten())
}

/// The setting a scan of `index` starts with ([`decide`] with the query's
/// k); logged at DEBUG1 when a target or the index's option decided it.
pub unsafe fn scan_setting(kind: Kind, index: pg_sys::Relation, option: i32) -> i32 {
    // SAFETY: `index` is the open index of the scan.
    unsafe {
        let d = decide(kind, index, current_k(index), option);
        if d.source == SettingSource::TargetRecall || d.source == SettingSource::IndexOption {
            pgrx::debug1!(
                "{} scan of \"{}\": {} = {} ({})",
                kind.guc_name().split('.').next().unwrap_or(""),
                relation_name(index),
                kind.setting_name(),
                d.setting,
                d.why
            );
        }
        d.setting
    }
}

static mut PREV_EXECUTOR_START: pg_sys::ExecutorStart_hook_type = None;
static mut PREV_EXECUTOR_END: pg_sys::ExecutorEnd_hook_type = None;
static mut PREV_EXECUTOR_RUN: pg_sys::ExecutorRun_hook_type = None;
static mut PREV_EXPLAIN_ONE_QUERY: pg_sys::ExplainOneQuery_hook_type = None;

/// Installs the hooks; called from `_PG_init`.
pub fn init() {
    // SAFETY: `_PG_init` runs once per backend on its thread, before any
    // query; the previous hooks are kept and called.
    unsafe {
        PREV_EXECUTOR_START = pg_sys::ExecutorStart_hook;
        pg_sys::ExecutorStart_hook = Some(executor_start);
        PREV_EXECUTOR_RUN = pg_sys::ExecutorRun_hook;
        pg_sys::ExecutorRun_hook = Some(executor_run);
        PREV_EXECUTOR_END = pg_sys::ExecutorEnd_hook;
        pg_sys::ExecutorEnd_hook = Some(executor_end);
        PREV_EXPLAIN_ONE_QUERY = pg_sys::ExplainOneQuery_hook;
        pg_sys::ExplainOneQuery_hook = Some(explain_one_query);
        pg_sys::RegisterXactCallback(Some(xact_callback), std::ptr::null_mut());
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn xact_callback(event: pg_sys::XactEvent::Type, _arg: *mut std::ffi::c_void) {
    if matches!(
        event,
        pg_sys::XactEvent::XACT_EVENT_ABORT | pg_sys::XactEvent::XACT_EVENT_PARALLEL_ABORT
    ) {
        SCAN_K.with(|m| m.borrow_mut().clear());
        RUNNING.with(|r| r.borrow_mut().clear());
        EXPLAIN_PENDING.with(|p| p.set(false));
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn executor_start(query_desc: *mut pg_sys::QueryDesc, eflags: i32) {
    // SAFETY: Postgres passes a valid query descriptor; after the standard
    // start, its plan-state tree is initialised.
    unsafe {
        match PREV_EXECUTOR_START {
            Some(prev) => prev(query_desc, eflags),
            None => pg_sys::standard_ExecutorStart(query_desc, eflags),
        }
        let explain = EXPLAIN_PENDING.with(|p| p.replace(false));
        let estate = (*query_desc).estate;
        let mut found = Vec::new();
        walk((*query_desc).planstate, None, estate, &mut found);
        for (iss, k) in found {
            let plan = (*iss).ss.ps.plan as *mut pg_sys::IndexScan;
            let key = (estate as usize, (*plan).indexid.to_u32());
            // Several scans of one index in a query: the largest known k.
            SCAN_K.with(|m| {
                let mut m = m.borrow_mut();
                let merged = match m.get(&key) {
                    Some(&old) => old.max(k),
                    None => k,
                };
                m.insert(key, merged);
            });
            if explain {
                // EXPLAIN without ANALYZE does not open the index: open it
                // here (its table is locked; the lock is the one the scan
                // would take, kept until the transaction ends).
                let opened = (*iss).iss_RelationDesc.is_null();
                let index = if opened {
                    pg_sys::index_open((*plan).indexid, pg_sys::AccessShareLock as pg_sys::LOCKMODE)
                } else {
                    (*iss).iss_RelationDesc
                };
                let note = explain_note(index, k);
                if opened {
                    pg_sys::index_close(index, pg_sys::NoLock as pg_sys::LOCKMODE);
                }
                if let Some(line) = note {
                    EXPLAIN_NOTES.with(|n| n.borrow_mut().push(line));
                }
            }
        }
    }
}

/// [`decide`] with the index's own option: the setting a scan of `index`
/// (of access method `kind`) starts with for a query with LIMIT + OFFSET
/// `k`. What EXPLAIN reports and what the planner charges
/// (`cost::planned_setting`).
///
/// # Safety
/// `index` is an open index of access method `kind`.
pub unsafe fn decide_for(kind: Kind, index: pg_sys::Relation, k: Option<u32>) -> Decision {
    // SAFETY: the caller's contract.
    unsafe {
        let option = match kind {
            Kind::Hnsw => super::hnsw::ef_search_option(index),
            Kind::Ivfflat => super::ivfflat::probes_option(index),
        };
        decide(kind, index, k, option)
    }
}

/// EXPLAIN's line for a scan of `index` with LIMIT `k`: when a recall
/// target is set or the index's option decided the setting.
unsafe fn explain_note(index: pg_sys::Relation, k: Option<u32>) -> Option<String> {
    // SAFETY: `index` is open.
    unsafe {
        let kind = Kind::of(index)?;
        let d = decide_for(kind, index, k);
        (guc::TARGET_RECALL.get() > 0.0 || d.source == SettingSource::IndexOption).then(|| {
            format!(
                "pgvector_rs: {} scan of {}: {} = {} ({})",
                kind.guc_name().split('.').next().unwrap_or(""),
                relation_name(index),
                kind.setting_name(),
                d.setting,
                d.why
            )
        })
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn executor_run(
    query_desc: *mut pg_sys::QueryDesc,
    direction: pg_sys::ScanDirection::Type,
    count: u64,
    execute_once: bool,
) {
    struct Pop;
    impl Drop for Pop {
        fn drop(&mut self) {
            RUNNING.with(|r| r.borrow_mut().pop());
        }
    }
    // SAFETY: Postgres passes a valid, started query descriptor.
    unsafe {
        RUNNING.with(|r| r.borrow_mut().push((*query_desc).estate as usize));
        let _pop = Pop;
        match PREV_EXECUTOR_RUN {
            Some(prev) => prev(query_desc, direction, count, execute_once),
            None => pg_sys::standard_ExecutorRun(query_desc, direction, count, execute_once),
        }
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn executor_end(query_desc: *mut pg_sys::QueryDesc) {
    // SAFETY: Postgres passes a valid query descriptor.
    unsafe {
        let estate = (*query_desc).estate as usize;
        SCAN_K.with(|m| m.borrow_mut().retain(|&(e, _), _| e != estate));
        match PREV_EXECUTOR_END {
            Some(prev) => prev(query_desc),
            None => pg_sys::standard_ExecutorEnd(query_desc),
        }
    }
}

/// Collects our index scans under `ps` with the k of the Limit above them
/// (`limit`: `None` if there is none on the way, `Some(None)` if its count
/// is unknown).
unsafe fn walk(
    ps: *mut pg_sys::PlanState,
    limit: Option<Option<u32>>,
    estate: *mut pg_sys::EState,
    out: &mut Vec<(*mut pg_sys::IndexScanState, Option<u32>)>,
) {
    if ps.is_null() {
        return;
    }
    // SAFETY: `ps` is a node of an initialised plan-state tree; the casts
    // follow its tag.
    unsafe {
        let tag = (*ps).type_;
        match tag {
            pg_sys::NodeTag::T_LimitState => {
                let plan = (*ps).plan as *mut pg_sys::Limit;
                let k = limit_k(plan, estate);
                walk((*ps).lefttree, Some(k), estate, out);
            }
            pg_sys::NodeTag::T_IndexScanState => {
                let k = limit.unwrap_or(None);
                out.push((ps as *mut pg_sys::IndexScanState, k));
            }
            pg_sys::NodeTag::T_ResultState => walk((*ps).lefttree, limit, estate, out),
            pg_sys::NodeTag::T_SubqueryScanState => {
                let s = ps as *mut pg_sys::SubqueryScanState;
                walk((*s).subplan, limit, estate, out);
            }
            pg_sys::NodeTag::T_AppendState => {
                let a = ps as *mut pg_sys::AppendState;
                for i in 0..(*a).as_nplans.max(0) as usize {
                    walk(*(*a).appendplans.add(i), limit, estate, out);
                }
            }
            pg_sys::NodeTag::T_MergeAppendState => {
                let a = ps as *mut pg_sys::MergeAppendState;
                for i in 0..(*a).ms_nplans.max(0) as usize {
                    walk(*(*a).mergeplans.add(i), limit, estate, out);
                }
            }
            _ => {
                walk((*ps).lefttree, None, estate, out);
                walk((*ps).righttree, None, estate, out);
            }
        }
    }
}

/// LIMIT + OFFSET of a Limit plan node when both are constants or external
/// parameters (a generic plan's `$1`); `None` otherwise or for no count.
unsafe fn limit_k(plan: *mut pg_sys::Limit, estate: *mut pg_sys::EState) -> Option<u32> {
    // SAFETY: `plan` is a Limit node; the expressions are plan nodes.
    unsafe {
        let count = node_int8((*plan).limitCount, estate)??;
        let offset = if (*plan).limitOffset.is_null() {
            0
        } else {
            node_int8((*plan).limitOffset, estate)?.unwrap_or(0)
        };
        let k = count.max(0).saturating_add(offset.max(0));
        Some(k.clamp(1, u32::MAX as i64) as u32)
    }
}

/// The value of an int8 Const or external Param: `Some(None)` for NULL,
/// `None` if it is another kind of expression.
unsafe fn node_int8(node: *mut pg_sys::Node, estate: *mut pg_sys::EState) -> Option<Option<i64>> {
    if node.is_null() {
        return Some(None);
    }
    // SAFETY: `node` is an expression node; casts follow its tag; parameter
    // lists hold `numParams` entries.
    unsafe {
        match (*node).type_ {
            pg_sys::NodeTag::T_Const => {
                let c = node as *mut pg_sys::Const;
                if (*c).consttype != pg_sys::INT8OID {
                    return None;
                }
                Some((!(*c).constisnull).then(|| (*c).constvalue.value() as i64))
            }
            pg_sys::NodeTag::T_Param => {
                let p = node as *mut pg_sys::Param;
                if (*p).paramkind != pg_sys::ParamKind::PARAM_EXTERN || (*p).paramtype != pg_sys::INT8OID {
                    return None;
                }
                let params = if estate.is_null() { std::ptr::null_mut() } else { (*estate).es_param_list_info };
                if params.is_null() {
                    return None;
                }
                let id = (*p).paramid;
                if id < 1 || id > (*params).numParams {
                    return None;
                }
                let mut workspace = std::mem::zeroed::<pg_sys::ParamExternData>();
                let data = match (*params).paramFetch {
                    Some(fetch) => fetch(params, id, false, &mut workspace),
                    None => (*params).params.as_mut_ptr().add(id as usize - 1),
                };
                if data.is_null() || (*data).ptype != pg_sys::INT8OID {
                    return None;
                }
                Some((!(*data).isnull).then(|| (*data).value.value() as i64))
            }
            _ => None,
        }
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn explain_one_query(
    query: *mut pg_sys::Query,
    cursor_options: i32,
    into: *mut pg_sys::IntoClause,
    es: *mut pg_sys::ExplainState,
    query_string: *const std::ffi::c_char,
    params: pg_sys::ParamListInfo,
    query_env: *mut pg_sys::QueryEnvironment,
) {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            EXPLAIN_PENDING.with(|p| p.set(false));
        }
    }
    EXPLAIN_NOTES.with(|n| n.borrow_mut().clear());
    EXPLAIN_PENDING.with(|p| p.set(true));
    let reset = Reset;
    // SAFETY: the arguments Postgres passed to ExplainOneQuery; the body is
    // PG15's standard one when no other hook is installed.
    unsafe {
        match PREV_EXPLAIN_ONE_QUERY {
            Some(prev) => prev(query, cursor_options, into, es, query_string, params, query_env),
            None => {
                let buffers = (*es).buffers;
                let usage_start = pg_sys::pgBufferUsage;
                let started = std::time::Instant::now();
                let plan = pg_sys::pg_plan_query(query, query_string, cursor_options, params);
                let elapsed = started.elapsed();
                let duration = pg_sys::instr_time {
                    tv_sec: elapsed.as_secs() as _,
                    tv_nsec: elapsed.subsec_nanos() as _,
                };
                let mut usage = pg_sys::BufferUsage::default();
                if buffers {
                    pg_sys::BufferUsageAccumDiff(&mut usage, &raw const pg_sys::pgBufferUsage, &usage_start);
                }
                pg_sys::ExplainOnePlan(
                    plan,
                    into,
                    es,
                    query_string,
                    params,
                    query_env,
                    &duration,
                    if buffers { &usage } else { std::ptr::null() },
                );
            }
        }
        drop(reset);
        let notes = EXPLAIN_NOTES.with(|n| std::mem::take(&mut *n.borrow_mut()));
        if (*es).format == pg_sys::ExplainFormat::EXPLAIN_FORMAT_TEXT {
            for line in notes {
                let c = std::ffi::CString::new(line).unwrap_or_default();
                pg_sys::appendStringInfoString((*es).str_, c.as_ptr());
                pg_sys::appendStringInfoChar((*es).str_, b'\n' as std::ffi::c_char);
            }
        }
    }
}
