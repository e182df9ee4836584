//! Graph search over pages: the layer search shared by scans and inserts,
//! and the resumable scan behind `amgettuple` (with pgvector's iterative
//! scan modes).

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use pagestore::{InterruptTicker, ItemPointer, Relation};

use crate::arena::PayloadArena;
use crate::format::{MetaTuple, STATE_FREE, STATE_LIVE};
use crate::pages::{element_on_page, neighbor_layer_on_page, read_meta, read_neighbor_layer};
use crate::visited::VisitedSet;
use crate::{HnswError, Space};

/// What a search looks for, and where.
pub(crate) struct Probe<'a, R, S> {
    pub rel: &'a R,
    pub space: &'a S,
    pub query: &'a [u8],
    /// The index's `m` (sizes of neighbour tuples).
    pub m: u16,
    /// The index's fixed payload size, 0 if sizes vary.
    pub payload_size: u32,
}

/// An element reached by a search, with what is needed to expand it later.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Candidate {
    pub dist: f32,
    /// The value a scan reports for the element
    /// ([`Space::distance_and_bound`]; `dist` for exact spaces).
    pub bound: f32,
    pub element: ItemPointer,
    pub neighbors: ItemPointer,
    pub level: u8,
    pub live: bool,
    /// Already pushed to the frontier (so a later round must not expand it
    /// again).
    queued: bool,
    /// Heap TIDs in the search's TID arena (scans only).
    tid_count: u8,
    tid_start: u32,
    /// This layer's neighbours, copied into the search's link cache when the
    /// element was visited ([`NOT_CACHED`] if they were not).
    links_len: u8,
    links_start: u32,
}

/// `Candidate::links_len` of a candidate whose neighbours were not copied.
const NOT_CACHED: u8 = u8::MAX;

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Candidate {}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        self.dist
            .total_cmp(&other.dist)
            .then_with(|| self.element.cmp(&other.element))
    }
}

/// True if `c` would be queued for expansion: `best` has room, or `c`
/// beats its worst.
fn enters_beam(best: &BinaryHeap<Candidate>, c: &Candidate, ef: usize) -> bool {
    best.len() < ef || best.peek().is_some_and(|worst| c < worst)
}

/// What a [`LayerSearch`] keeps besides the beam.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SearchMode {
    /// Neighbour search of an insert or repair: no heap TIDs, no spill.
    Insert,
    /// One-round scan (`hnsw.iterative_scan = off`): heap TIDs of the
    /// elements that enter the beam.
    Scan,
    /// Resumable scan: heap TIDs of every live element reached, and the
    /// spill of candidates outside the beam.
    IterativeScan,
}

/// State of a best-first search on one layer: the standard HNSW beam search
/// (`frontier` = candidates C, `best` = results W), except that deleted
/// elements are expanded but never occupy `best`, so they are traversed and
/// never returned. Iterative scans also keep every reached element that
/// did not make it into `best`, or was evicted from it, in `spill`, and
/// resume from the same state with the nearest of those.
pub(crate) struct LayerSearch {
    mode: SearchMode,
    visited: VisitedSet,
    frontier: BinaryHeap<Reverse<Candidate>>,
    best: BinaryHeap<Candidate>,
    spill: Option<BinaryHeap<Reverse<Candidate>>>,
    tids: Vec<ItemPointer>,
    /// Neighbour lists of queued candidates, copied while their page was
    /// locked for the distance (see [`LayerSearch::visit`]).
    link_cache: Vec<ItemPointer>,
    nearest_any: Option<Candidate>,
    links: Vec<ItemPointer>,
    /// Elements whose distance was computed.
    pub visits: u64,
    /// Checks for interrupts every few expansions.
    ticker: InterruptTicker,
}

/// Expansions between interrupt checks (each reads up to `2*m` elements).
const EXPANSIONS_PER_INTERRUPT_CHECK: u32 = 32;

impl LayerSearch {
    /// A search that keeps what `mode` needs.
    pub fn new(mode: SearchMode) -> Self {
        LayerSearch {
            mode,
            visited: VisitedSet::with_capacity(1024),
            frontier: BinaryHeap::new(),
            best: BinaryHeap::new(),
            spill: (mode == SearchMode::IterativeScan).then(BinaryHeap::new),
            tids: Vec::new(),
            link_cache: Vec::new(),
            nearest_any: None,
            links: Vec::new(),
            visits: 0,
            ticker: InterruptTicker::new(EXPANSIONS_PER_INTERRUPT_CHECK),
        }
    }

    /// Forgets all state except allocations (before searching a new layer).
    pub fn reset(&mut self) {
        self.visited.clear();
        self.frontier.clear();
        self.best.clear();
        if let Some(spill) = &mut self.spill {
            spill.clear();
        }
        self.tids.clear();
        self.link_cache.clear();
        self.nearest_any = None;
    }

    /// Approximate bytes held, for the scan memory limit.
    pub fn memory_bytes(&self) -> usize {
        let queued =
            self.frontier.len() + self.best.len() + self.spill.as_ref().map_or(0, |s| s.len());
        self.visited.memory_bytes()
            + queued * std::mem::size_of::<Candidate>()
            + (self.tids.len() + self.link_cache.len()) * std::mem::size_of::<ItemPointer>()
    }

    /// Computes the distance to the element at `ptr` unless already visited;
    /// `None` for visited pointers and non-elements (free or stale slots),
    /// an error for a block that does not exist.
    ///
    /// While the element's page is locked, copies what later steps would
    /// otherwise lock the page again for, but only for candidates that
    /// enter the beam (most visits do not): the element's neighbours on
    /// `layer` when its neighbour tuple is on the same page (the normal
    /// case), which saves a buffer access per expansion; and heap TIDs when
    /// the scan can return the element — always for iterative scans
    /// (spilled candidates may be returned in a later round), only when it
    /// enters `best` for plain scans, never for inserts.
    fn visit<R: Relation, S: Space>(
        &mut self,
        probe: &Probe<'_, R, S>,
        ptr: ItemPointer,
        layer: u8,
        ef: usize,
    ) -> Result<Option<Candidate>, HnswError> {
        if !self.visited.insert(ptr) {
            return Ok(None);
        }
        let page = probe.rel.try_read(ptr.block)?;
        Ok(self.load_from(probe, &page, ptr, layer, ef))
    }

    /// [`LayerSearch::visit`] of an element already marked visited, from
    /// its page, already locked.
    fn load_from<R: Relation, S: Space>(
        &mut self,
        probe: &Probe<'_, R, S>,
        page: &R::ReadGuard<'_>,
        ptr: ItemPointer,
        layer: u8,
        ef: usize,
    ) -> Option<Candidate> {
        let mode = self.mode;
        let (tids, link_cache, best) = (&mut self.tids, &mut self.link_cache, &self.best);
        let candidate = element_on_page(page, ptr, probe.payload_size, |e, page| {
            if e.state() == STATE_FREE {
                return None;
            }
            let live = e.state() == STATE_LIVE && e.tid_count() > 0;
            // A one-round scan reports only elements in its beam: with a
            // lazy bound, the others keep -inf (see `Space::lazy_bound`).
            let lazy = mode == SearchMode::Scan && probe.space.lazy_bound();
            let (dist, bound) = if mode == SearchMode::Insert {
                let d = probe.space.distance(probe.query, e.payload());
                (d, d)
            } else if lazy {
                (probe.space.distance(probe.query, e.payload()), f32::NEG_INFINITY)
            } else {
                probe.space.distance_and_bound(probe.query, e.payload())
            };
            let mut c = Candidate {
                dist,
                bound,
                element: ptr,
                neighbors: e.neighbors(),
                level: e.level(),
                live,
                queued: false,
                tid_count: 0,
                tid_start: tids.len() as u32,
                links_len: NOT_CACHED,
                links_start: link_cache.len() as u32,
            };
            let within = enters_beam(best, &c, ef);
            if within && lazy {
                c.bound = probe.space.bound(probe.query, e.payload());
            }
            if within && c.neighbors.block == ptr.block {
                if let Some(links) = neighbor_layer_on_page(page, probe.m, ptr, c.neighbors, layer)
                {
                    link_cache.extend(links);
                    c.links_len = (link_cache.len() - c.links_start as usize) as u8;
                }
            }
            let keep_tids = live
                && match mode {
                    SearchMode::Insert => false,
                    SearchMode::IterativeScan => true,
                    SearchMode::Scan => within && e.level() >= layer,
                };
            if keep_tids {
                tids.extend(e.heap_tids());
                c.tid_count = e.tid_count() as u8;
            }
            Some(c)
        })??;
        self.visits += 1;
        Some(candidate)
    }

    /// Adds a reached element. Like the standard beam search, it is queued
    /// for expansion only if it beats the worst of a full `best`; live
    /// elements present on `layer` also take a place in `best`. Resumable
    /// searches keep everything else in `spill` for later rounds.
    fn admit(&mut self, mut c: Candidate, layer: u8, ef: usize) {
        if self.nearest_any.is_none_or(|n| c < n) {
            self.nearest_any = Some(c);
        }
        if !enters_beam(&self.best, &c, ef) {
            self.spill(c);
            return;
        }
        c.queued = true;
        self.frontier.push(Reverse(c));
        if c.live && c.level >= layer {
            self.best.push(c);
            if self.best.len() > ef {
                let evicted = self.best.pop().expect("best is not empty");
                self.spill(evicted);
            }
        }
    }

    /// Keeps a candidate for later rounds of a resumable search.
    fn spill(&mut self, c: Candidate) {
        if let Some(spill) = &mut self.spill {
            spill.push(Reverse(c));
        }
    }

    /// Starts the search from the element at `ptr`.
    pub fn seed_pointer<R: Relation, S: Space>(
        &mut self,
        probe: &Probe<'_, R, S>,
        ptr: ItemPointer,
        layer: u8,
        ef: usize,
    ) -> Result<(), HnswError> {
        if let Some(c) = self.visit(probe, ptr, layer, ef)? {
            self.admit(c, layer, ef);
        }
        Ok(())
    }

    /// Starts the search from an element reached on a higher layer.
    pub fn seed(&mut self, mut c: Candidate, layer: u8, ef: usize) {
        // Its cached neighbours, if any, are of another layer.
        c.links_len = NOT_CACHED;
        if self.visited.insert(c.element) {
            self.admit(c, layer, ef);
        }
    }

    /// Expands elements until the beam of `ef` is settled, or until
    /// `stop()` says a resource limit is reached. Checks for interrupts
    /// every few expansions; fails on a link to a block that does not exist.
    pub fn run<R: Relation, S: Space>(
        &mut self,
        probe: &Probe<'_, R, S>,
        layer: u8,
        ef: usize,
        mut stop: impl FnMut(&Self) -> bool,
    ) -> Result<(), HnswError> {
        while let Some(&Reverse(c)) = self.frontier.peek() {
            let settled =
                self.best.len() >= ef && self.best.peek().is_some_and(|w| c.dist > w.dist);
            if settled || stop(self) {
                break;
            }
            self.ticker.tick(probe.rel)?;
            self.frontier.pop();
            let mut links = std::mem::take(&mut self.links);
            let found = if c.links_len == NOT_CACHED {
                read_neighbor_layer(
                    probe.rel,
                    probe.m,
                    c.element,
                    c.neighbors,
                    layer,
                    &mut links,
                )?
            } else {
                let start = c.links_start as usize;
                links.clear();
                links.extend_from_slice(&self.link_cache[start..start + c.links_len as usize]);
                true
            };
            if found {
                // Mark first, then let the relation start loading all the
                // unvisited neighbours at once: their cache misses overlap.
                links.retain(|&ptr| self.visited.insert(ptr));
                probe.rel.read_items(&links, |i, page| {
                    if let Some(n) = self.load_from(probe, page, links[i], layer, ef) {
                        self.admit(n, layer, ef);
                    }
                })?;
            }
            self.links = links;
        }
        Ok(())
    }

    /// Takes the settled results, nearest first.
    pub fn take_best(&mut self, out: &mut Vec<Candidate>) {
        out.clear();
        out.extend(self.best.drain());
        out.sort_unstable();
    }

    /// Nearest element of any state reached so far (next layer's entry).
    pub fn nearest_any(&self) -> Option<Candidate> {
        self.nearest_any
    }

    /// Starts the next round of an iterative scan: the nearest spilled
    /// candidates fill `best` again (up to `ef` live ones) and are queued
    /// for expansion unless they already were.
    fn refill(&mut self, ef: usize) {
        let Some(spill) = &mut self.spill else {
            return;
        };
        while self.best.len() < ef {
            let Some(Reverse(mut c)) = spill.pop() else {
                break;
            };
            if c.live {
                self.best.push(c);
            }
            if !c.queued {
                c.queued = true;
                self.frontier.push(Reverse(c));
            }
        }
    }

    /// Heap TIDs of a candidate found by a resumable search.
    fn heap_tids(&self, c: &Candidate) -> &[ItemPointer] {
        let start = c.tid_start as usize;
        &self.tids[start..start + c.tid_count as usize]
    }
}

/// Greedy descent from the entry point to layer `to_layer + 1` (beam of 1, as
/// pgvector), then returns the element to enter `to_layer` from.
pub(crate) fn descend<R: Relation, S: Space>(
    probe: &Probe<'_, R, S>,
    meta: &MetaTuple,
    to_layer: u8,
    search: &mut LayerSearch,
) -> Result<Option<Candidate>, HnswError> {
    let Some(entry) = meta.entry() else {
        return Ok(None);
    };
    search.reset();
    let top = meta.entry_level.min(u8::MAX as u16) as u8;
    search.seed_pointer(probe, entry, top, 1)?;
    let Some(mut nearest) = search.nearest_any() else {
        return Ok(None);
    };
    for layer in (to_layer.saturating_add(1)..=top).rev() {
        search.reset();
        search.seed(nearest, layer, 1);
        search.run(probe, layer, 1, |_| false)?;
        nearest = search.nearest_any().unwrap_or(nearest);
    }
    Ok(Some(nearest))
}

/// Live elements near `query` on layers `0..=min(level, top)` (index =
/// layer), nearest first, searched with a beam of `ef_construction`: the
/// neighbour candidates of an element of `level` being inserted or repaired.
pub(crate) fn search_layers<R: Relation, S: Space>(
    rel: &R,
    space: &S,
    meta: &MetaTuple,
    query: &[u8],
    level: u8,
) -> Result<Vec<Vec<Candidate>>, HnswError> {
    let probe = Probe {
        rel,
        space,
        query,
        m: meta.m,
        payload_size: meta.payload_size,
    };
    let ef = meta.ef_construction as usize;
    let lowest_common = level.min(meta.entry_level.min(u8::MAX as u16) as u8);
    let mut search = LayerSearch::new(SearchMode::Insert);
    let Some(entry) = descend(&probe, meta, lowest_common, &mut search)? else {
        return Ok(Vec::new());
    };
    let mut found = vec![Vec::new(); lowest_common as usize + 1];
    let mut entries = vec![entry];
    for layer in (0..=lowest_common).rev() {
        search.reset();
        for &e in &entries {
            search.seed(e, layer, ef);
        }
        search.run(&probe, layer, ef, |_| false)?;
        let nearest_any = search.nearest_any();
        let layer_found = &mut found[layer as usize];
        search.take_best(layer_found);
        entries.clone_from(layer_found);
        entries.extend(nearest_any);
    }
    Ok(found)
}

/// pgvector's `hnsw.iterative_scan` modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IterativeScan {
    /// Return at most `ef_search` results.
    Off,
    /// Keep searching when the caller needs more rows; later batches may
    /// contain rows closer than earlier ones. Eventually returns every
    /// reachable live element.
    RelaxedOrder,
    /// Keep searching, but never return a row closer than one already
    /// returned (such rows, found too late, are skipped).
    StrictOrder,
}

/// Scan parameters (pgvector GUCs).
#[derive(Clone, Copy, Debug)]
pub struct ScanOptions {
    /// `hnsw.ef_search`: size of the candidate beam (and of each batch).
    pub ef_search: usize,
    /// `hnsw.iterative_scan`.
    pub iterative: IterativeScan,
    /// `hnsw.max_scan_tuples`: elements visited before an iterative scan stops.
    pub max_scan_tuples: u64,
    /// Bytes of search state before an iterative scan stops
    /// (`hnsw.scan_mem_multiplier * work_mem`).
    pub memory_limit: usize,
}

impl Default for ScanOptions {
    /// pgvector's defaults: ef_search 40, iterative scan off, 20,000 tuples,
    /// 4 MB (work_mem).
    fn default() -> Self {
        ScanOptions {
            ef_search: 40,
            iterative: IterativeScan::Off,
            max_scan_tuples: 20_000,
            memory_limit: 4 << 20,
        }
    }
}

/// One result: a heap TID and its element's distance to the query.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScanItem {
    /// Distance from the query to the element.
    pub distance: f32,
    /// Heap row of the element (one element may yield several).
    pub heap_tid: ItemPointer,
}

/// A resumable index scan.
///
/// Holds no page locks and no reference to the relation between calls, so
/// the pgrx layer can keep it in the scan's opaque state across
/// `amgettuple` calls and pass the relation to each [`HnswScan::next`].
pub struct HnswScan {
    query: PayloadArena,
    options: ScanOptions,
    state: ScanState,
    search: LayerSearch,
    batch: Vec<ScanItem>,
    batch_pos: usize,
    last_distance: f32,
    round: Vec<Candidate>,
    /// Radius scans ([`HnswScan::stop_beyond`]): end after a round whose
    /// nearest element is farther than this index distance.
    radius_stop: Option<f32>,
}

enum ScanState {
    NotStarted,
    Running { m: u16, payload_size: u32 },
    Done,
}

impl HnswScan {
    /// Prepares a scan for `query` (copied, so it may be temporary).
    pub fn new(query: &[u8], options: ScanOptions) -> Self {
        let mut arena = PayloadArena::default();
        arena.push(query);
        HnswScan {
            query: arena,
            options: ScanOptions {
                ef_search: options.ef_search.max(1),
                ..options
            },
            state: ScanState::NotStarted,
            search: LayerSearch::new(if options.iterative == IterativeScan::Off {
                SearchMode::Scan
            } else {
                SearchMode::IterativeScan
            }),
            batch: Vec::new(),
            batch_pos: 0,
            last_distance: f32::NEG_INFINITY,
            round: Vec::new(),
            radius_stop: None,
        }
    }

    /// Makes this a radius scan, before its first [`HnswScan::next`]: it
    /// continues round after round as an iterative scan does (relaxed order
    /// if it was not iterative; `ef_search` is then the size of a round, not
    /// a limit), still bounded by `max_scan_tuples` and the memory limit,
    /// and ends after the first round whose nearest element is farther than
    /// `threshold` (an index distance). Later rounds only hold elements
    /// farther than the ones already returned, so what remains is outside
    /// the radius as far as the graph search can tell.
    pub fn stop_beyond(&mut self, threshold: f32) {
        if matches!(self.state, ScanState::NotStarted)
            && self.options.iterative == IterativeScan::Off
        {
            self.options.iterative = IterativeScan::RelaxedOrder;
            self.search = LayerSearch::new(SearchMode::IterativeScan);
        }
        self.radius_stop = Some(threshold);
    }

    /// Elements visited so far (distance computations).
    pub fn tuples_visited(&self) -> u64 {
        self.search.visits
    }

    /// The next result, or `None` when the scan is exhausted (or, for
    /// iterative scans, a limit is reached).
    pub fn next<R: Relation, S: Space>(
        &mut self,
        rel: &R,
        space: &S,
    ) -> Result<Option<ScanItem>, HnswError> {
        loop {
            if let Some(item) = self.batch.get(self.batch_pos) {
                self.batch_pos += 1;
                return Ok(Some(*item));
            }
            if !self.next_batch(rel, space)? {
                return Ok(None);
            }
        }
    }

    /// Searches one more round; false when nothing more can be produced.
    fn next_batch<R: Relation, S: Space>(&mut self, rel: &R, space: &S) -> Result<bool, HnswError> {
        let ef = self.options.ef_search;
        let mut probe = Probe {
            rel,
            space,
            query: self.query.get(0),
            m: 0,
            payload_size: 0,
        };
        match self.state {
            ScanState::Done => return Ok(false),
            ScanState::NotStarted => {
                let meta = read_meta(rel)?;
                probe.m = meta.m;
                probe.payload_size = meta.payload_size;
                let Some(entry) = descend(&probe, &meta, 0, &mut self.search)? else {
                    self.state = ScanState::Done;
                    return Ok(false);
                };
                // Re-read the entry so its heap TIDs land in the fresh arena.
                self.search.reset();
                self.search.seed_pointer(&probe, entry.element, 0, ef)?;
                self.state = ScanState::Running {
                    m: meta.m,
                    payload_size: meta.payload_size,
                };
            }
            ScanState::Running { m, payload_size } => {
                if self.options.iterative == IterativeScan::Off {
                    self.state = ScanState::Done;
                    return Ok(false);
                }
                probe.m = m;
                probe.payload_size = payload_size;
                self.search.refill(ef);
            }
        }
        let (max_tuples, max_bytes) = (self.options.max_scan_tuples, self.options.memory_limit);
        let iterative = self.options.iterative != IterativeScan::Off;
        self.search.run(&probe, 0, ef, |s| {
            iterative && (s.visits >= max_tuples || s.memory_bytes() >= max_bytes)
        })?;
        self.search.take_best(&mut self.round);
        // Reported in non-decreasing order of the reported value (the
        // executor's reorder queue needs it when that is a lower bound of
        // an estimate's row); the same order as `dist` for exact spaces.
        self.round
            .sort_by(|a, b| a.bound.total_cmp(&b.bound).then_with(|| a.cmp(b)));
        self.batch.clear();
        self.batch_pos = 0;
        if let (Some(threshold), Some(nearest)) = (self.radius_stop, self.round.first()) {
            if nearest.bound > threshold {
                self.state = ScanState::Done;
                return Ok(false);
            }
        }
        let strict = self.options.iterative == IterativeScan::StrictOrder;
        for c in &self.round {
            if strict && c.bound < self.last_distance {
                continue;
            }
            self.last_distance = self.last_distance.max(c.bound);
            for &heap_tid in self.search.heap_tids(c) {
                self.batch.push(ScanItem {
                    distance: c.bound,
                    heap_tid,
                });
            }
        }
        if self.round.is_empty() {
            self.state = ScanState::Done;
        }
        Ok(!self.round.is_empty())
    }
}

/// Searches for the nearest neighbours of `query` with a beam of `ef`:
/// up to `ef` elements' heap TIDs, nearest first.
pub fn search<R: Relation, S: Space>(
    rel: &R,
    space: &S,
    query: &[u8],
    ef: usize,
) -> Result<Vec<ScanItem>, HnswError> {
    let mut scan = HnswScan::new(
        query,
        ScanOptions {
            ef_search: ef,
            iterative: IterativeScan::Off,
            ..ScanOptions::default()
        },
    );
    let mut out = Vec::with_capacity(ef);
    while let Some(item) = scan.next(rel, space)? {
        out.push(item);
    }
    Ok(out)
}
