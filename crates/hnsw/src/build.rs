//! Index build (`ambuild`): collect vectors, build the graph in memory with
//! all cores, write the pages sequentially; past the memory budget, continue
//! with on-page inserts.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytemuck::Zeroable;
use pagestore::{
    maxalign, usable_space, ItemPointer, Page, PageMut, Relation, ITEM_ID_SIZE, SPECIAL_SIZE,
};

use crate::arena::PayloadArena;
use crate::format::{
    element_tuple_size, encode_element, encode_neighbors, max_level_for_m, neighbors_tuple_size,
    MetaTuple, NeighborsMut, FORMAT_VERSION, HEAP_TIDS_PER_ELEMENT, MAGIC,
};
use crate::graph::MemGraph;
use crate::insert::insert;
use crate::level::build_level;
use crate::pages::{write_meta_page, GRAPH_OPAQUE};
use crate::{HnswError, IndexOptions, Space};
use pagestore::threads::WorkerPool;

/// How often the build thread reports progress while workers run.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(50);

/// Build parameters.
#[derive(Clone, Copy, Debug)]
pub struct BuildOptions {
    /// Stored index parameters.
    pub index: IndexOptions,
    /// Bytes the in-memory graph may use (`maintenance_work_mem`).
    pub memory_budget: usize,
    /// Worker threads for the in-memory phase; 0 = one per core.
    pub threads: usize,
    /// Seed of the level generator (builds are reproducible up to thread
    /// scheduling).
    pub seed: u64,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            index: IndexOptions::default(),
            memory_budget: 64 << 20,
            threads: 0,
            seed: 0x5EED,
        }
    }
}

/// Stage of a build, for `pg_stat_progress_create_index`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuildPhase {
    /// Building the in-memory graph (`done` of `total` vectors inserted).
    Building,
    /// Writing the in-memory graph to pages (`done` of `total` elements).
    Writing,
    /// Inserting vectors past the memory budget directly into pages
    /// (`done` so far; `total` unknown, 0).
    Inserting,
}

/// A progress report; the callback returns false to cancel the build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BuildProgress {
    /// Current stage.
    pub phase: BuildPhase,
    /// Units done in this stage.
    pub done: u64,
    /// Units in this stage, 0 if unknown.
    pub total: u64,
}

/// Summary of a build.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BuildReport {
    /// Heap tuples indexed.
    pub heap_tuples: u64,
    /// Tuples built in memory.
    pub in_memory_tuples: u64,
    /// Tuples inserted into pages after the memory budget was exhausted.
    pub inserted_on_pages: u64,
    /// Elements written by the in-memory phase (duplicates share one).
    pub in_memory_elements: u64,
    /// True if the budget was exhausted (worth a NOTICE suggesting a larger
    /// `maintenance_work_mem`).
    pub memory_budget_exceeded: bool,
    /// Pages in the finished index.
    pub pages: u32,
}

/// Builds an index from `(heap TID, payload)` pairs (see [`Builder`]).
pub fn build<'a, R, S, P>(
    rel: &'a R,
    space: &'a S,
    options: BuildOptions,
    items: impl IntoIterator<Item = (ItemPointer, P)>,
    progress: impl FnMut(BuildProgress) -> bool + 'a,
) -> Result<BuildReport, HnswError>
where
    R: Relation,
    S: Space + Sync,
    P: AsRef<[u8]>,
{
    let mut builder = Builder::new(rel, space, options, progress)?;
    for (tid, payload) in items {
        builder.push(tid, payload.as_ref())?;
    }
    builder.finish()
}

/// Initialises an empty index (`ambuildempty`, or the start of a build).
pub fn build_empty<R: Relation>(rel: &R, options: &IndexOptions) -> Result<(), HnswError> {
    options.validate()?;
    write_meta_page(rel, &new_meta(options))
}

fn new_meta(options: &IndexOptions) -> MetaTuple {
    let mut meta = MetaTuple::zeroed();
    meta.magic = MAGIC;
    meta.version = FORMAT_VERSION;
    meta.dimensions = options.dimensions;
    meta.payload_size = options.payload_size;
    meta.m = options.m;
    meta.ef_construction = options.ef_construction;
    meta.space_id = options.space_id;
    meta.quantization = options.quantization;
    meta.code_seed = options.code_seed;
    meta.code_bits = options.code_bits;
    meta.set_entry(None);
    meta.insert_page = 1;
    meta.heap_tids_per_element = HEAP_TIDS_PER_ELEMENT as u16;
    meta
}

/// Incremental build: the pgrx layer calls [`Builder::push`] from the heap
/// scan callback and [`Builder::finish`] at the end. Vectors are collected
/// until the memory budget is reached; then the graph is built in memory
/// (all cores) and written, and later vectors are inserted into the pages.
/// The progress callback is only called from the calling thread.
pub struct Builder<'a, R, S> {
    rel: &'a R,
    space: &'a S,
    options: BuildOptions,
    progress: Box<dyn FnMut(BuildProgress) -> bool + 'a>,
    payloads: PayloadArena,
    /// [`Space::compact`] encodings of `payloads`, while every payload
    /// has one (`None` from the first that has not).
    compact: Option<PayloadArena>,
    compact_buf: Vec<u8>,
    /// [`Space::encode_stored`] encodings of `payloads`, made when the
    /// graph is written (empty if the space stores payloads as given):
    /// what the pages hold.
    stored: PayloadArena,
    stored_buf: Vec<u8>,
    /// Stored lengths of the collected payloads ([`Space::stored_len`]):
    /// `Some(Some(len))` while all have encodings of `len` bytes (encoded in
    /// parallel), `None` once they differ.
    stored_len: Option<Option<usize>>,
    tids: Vec<ItemPointer>,
    levels: Vec<u8>,
    memory_used: usize,
    max_level: u8,
    /// Largest [`Space::payload_norm`] of the payloads held in memory.
    max_payload_norm: f32,
    written: bool,
    report: BuildReport,
}

impl<'a, R: Relation, S: Space + Sync> Builder<'a, R, S> {
    /// Starts a build into the empty relation `rel`.
    pub fn new(
        rel: &'a R,
        space: &'a S,
        options: BuildOptions,
        progress: impl FnMut(BuildProgress) -> bool + 'a,
    ) -> Result<Self, HnswError> {
        options.index.validate()?;
        if rel.nblocks() != 0 {
            return Err(HnswError::RelationNotEmpty);
        }
        Ok(Builder {
            rel,
            space,
            options,
            progress: Box::new(progress),
            payloads: PayloadArena::default(),
            compact: Some(PayloadArena::default()),
            compact_buf: Vec::new(),
            stored: PayloadArena::default(),
            stored_buf: Vec::new(),
            stored_len: Some(None),
            tids: Vec::new(),
            levels: Vec::new(),
            memory_used: 0,
            max_level: max_level_for_m(options.index.m),
            max_payload_norm: 0.0,
            written: false,
            report: BuildReport::default(),
        })
    }

    /// Adds one heap tuple's vector.
    pub fn push(&mut self, heap_tid: ItemPointer, payload: &[u8]) -> Result<(), HnswError> {
        // The stored encoding (codes) is what must fit a page. Vectors kept
        // in memory are encoded when the graph is written, all at once.
        let encoded_len = if self.written {
            self.space
                .encode_stored(payload, &mut self.stored_buf)
                .then_some(self.stored_buf.len())
        } else {
            self.space.stored_len(payload)
        };
        let stored_len = encoded_len.unwrap_or(payload.len());
        crate::format::check_payload_size(stored_len)?;
        let expected = self.options.index.payload_size as usize;
        if expected != 0 && stored_len != expected {
            return Err(HnswError::PayloadSizeMismatch {
                expected,
                got: stored_len,
            });
        }
        self.report.heap_tuples += 1;
        if !self.written {
            let m = self.options.index.m;
            let index = self.levels.len() as u64;
            let level = build_level(self.options.seed, index, m, self.max_level);
            let compact =
                self.compact.is_some() && self.space.compact(payload, &mut self.compact_buf);
            if !compact {
                if let Some(arena) = self.compact.take() {
                    self.memory_used -= arena.bytes();
                }
            }
            let cost = PayloadArena::cost(payload.len())
                + if compact {
                    PayloadArena::cost(self.compact_buf.len())
                } else {
                    0
                }
                + encoded_len.map_or(0, PayloadArena::cost)
                + std::mem::size_of::<ItemPointer>()
                + MemGraph::<S>::element_cost(m, level);
            if self.memory_used + cost <= self.options.memory_budget {
                self.memory_used += cost;
                if let Some(arena) = self.compact.as_mut() {
                    arena.push(&self.compact_buf);
                }
                self.payloads.push(payload);
                self.stored_len = match (self.stored_len, self.tids.is_empty()) {
                    (_, true) => Some(encoded_len),
                    (Some(len), false) if len == encoded_len => Some(len),
                    _ => None,
                };
                self.max_payload_norm = self.max_payload_norm.max(self.space.payload_norm(payload));
                self.tids.push(heap_tid);
                self.levels.push(level);
                return Ok(());
            }
            self.report.memory_budget_exceeded = true;
            self.write_graph()?;
            // Only this vector's encoded length was known: encode it now.
            if encoded_len.is_some() {
                self.space.encode_stored(payload, &mut self.stored_buf);
            }
        }
        // Past the memory budget each vector goes to the pages as it comes.
        let stored = if encoded_len.is_some() {
            &self.stored_buf[..]
        } else {
            payload
        };
        insert(self.rel, self.space, heap_tid, stored)?;
        self.report.inserted_on_pages += 1;
        let progress = BuildProgress {
            phase: BuildPhase::Inserting,
            done: self.report.inserted_on_pages,
            total: 0,
        };
        if !(self.progress)(progress) {
            return Err(HnswError::Cancelled);
        }
        Ok(())
    }

    /// Completes the build.
    pub fn finish(mut self) -> Result<BuildReport, HnswError> {
        if !self.written {
            self.write_graph()?;
        }
        self.report.pages = self.rel.nblocks();
        Ok(self.report)
    }

    /// Fills `stored` with the [`Space::encode_stored`] encodings of the
    /// collected payloads, if they have any: in parallel when they all have
    /// the same length (fixed-size vectors), reported as the start of the
    /// graph phase.
    fn encode_stored_payloads(&mut self) -> Result<(), HnswError> {
        let n = self.levels.len();
        match self.stored_len {
            Some(None) => Ok(()), // stored as given
            Some(Some(len)) => {
                let (space, payloads) = (self.space, &self.payloads);
                let threads = self.options.threads;
                let encode = |i: usize, scratch: &mut Vec<u8>, out: &mut [u8]| {
                    space.encode_stored(payloads.get(i as u32), scratch)
                        && scratch.len() == out.len()
                        && {
                            out.copy_from_slice(scratch);
                            true
                        }
                };
                let stored = poll_progress(
                    BuildPhase::Building,
                    n as u64,
                    &mut self.progress,
                    |done, cancel| {
                        let pool =
                            WorkerPool::new(pool_threads(threads)).expect("build worker threads");
                        pool.install(|| PayloadArena::fill_uniform(n, len, encode, cancel, done))
                    },
                )?;
                // No arena without a cancel means an encoding changed size.
                self.stored = stored.ok_or(HnswError::PayloadSizeMismatch {
                    expected: len,
                    got: 0,
                })?;
                Ok(())
            }
            None => {
                // Mixed lengths: one by one, each element's own encoding
                // or its payload.
                for i in 0..n {
                    let payload = self.payloads.get(i as u32);
                    if self.space.encode_stored(payload, &mut self.stored_buf) {
                        self.stored.push(&self.stored_buf);
                    } else {
                        self.stored.push(payload);
                    }
                    if i % 1024 == 0
                        && !(self.progress)(BuildProgress {
                            phase: BuildPhase::Building,
                            done: 0,
                            total: n as u64,
                        })
                    {
                        return Err(HnswError::Cancelled);
                    }
                }
                Ok(())
            }
        }
    }

    /// Builds the collected vectors in memory and writes them to pages.
    fn write_graph(&mut self) -> Result<(), HnswError> {
        self.written = true;
        let n = self.levels.len();
        self.report.in_memory_tuples = n as u64;
        let index = self.options.index;
        // What the pages hold is encoded first, at the start of the graph
        // phase.
        self.encode_stored_payloads()?;
        let graph = MemGraph::new(
            self.space,
            &self.payloads,
            self.compact.as_ref(),
            &self.levels,
            index.m,
            index.ef_construction,
        );
        let threads = self.options.threads;
        poll_progress(
            BuildPhase::Building,
            n as u64,
            &mut self.progress,
            |done, cancel| graph.build(threads, done, cancel),
        )?;
        // What the pages hold: the stored encodings if the space has them.
        let stored = if self.stored.bytes() > 0 {
            &self.stored
        } else {
            &self.payloads
        };
        let layout = Layout::plan(&graph, stored, &self.levels, index.m);
        self.report.in_memory_elements = layout.order.len() as u64;
        let mut meta = new_meta(&index);
        if let Some((entry, level)) = (n > 0).then(|| graph.entry()) {
            meta.set_entry(Some((layout.elements[entry as usize], level)));
        }
        meta.element_count = layout.order.len() as u64;
        meta.insert_page = layout.last_block;
        meta.max_payload_norm = self.max_payload_norm as f64;
        write_meta_page(self.rel, &meta)?;
        let mut writer = PageWriter {
            rel: self.rel,
            m: index.m,
            graph: &graph,
            payloads: stored,
            levels: &self.levels,
            tids: &self.tids,
            layout: &layout,
        };
        writer.write(&mut self.progress)?;
        drop(graph);
        self.payloads = PayloadArena::default();
        self.stored = PayloadArena::default();
        self.compact = None;
        self.tids = Vec::new();
        self.levels = Vec::new();
        Ok(())
    }
}

/// Runs the parallel build on worker threads while this thread reports
/// progress (Postgres functions may only be called from this thread).
/// Worker threads for `threads` (0: one per core).
pub(crate) fn pool_threads(threads: usize) -> usize {
    if threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        threads
    }
}

/// Runs `work` on a scoped thread while the calling thread reports its
/// progress (`done` of `total` in `phase`) every [`PROGRESS_INTERVAL`] and
/// sets the cancel flag `work` must poll once the callback asks to cancel.
fn poll_progress<T: Send>(
    phase: BuildPhase,
    total: u64,
    progress: &mut dyn FnMut(BuildProgress) -> bool,
    work: impl FnOnce(&AtomicU64, &AtomicBool) -> T + Send,
) -> Result<T, HnswError> {
    let done = AtomicU64::new(0);
    let cancel = AtomicBool::new(false);
    let result = std::thread::scope(|scope| {
        let worker = scope.spawn(|| work(&done, &cancel));
        while !worker.is_finished() {
            std::thread::sleep(PROGRESS_INTERVAL);
            let report = BuildProgress {
                phase,
                done: done.load(Ordering::Relaxed),
                total,
            };
            if !cancel.load(Ordering::Relaxed) && !progress(report) {
                cancel.store(true, Ordering::Relaxed);
            }
        }
        match worker.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    });
    if cancel.load(Ordering::Relaxed) {
        return Err(HnswError::Cancelled);
    }
    Ok(result)
}

/// Where each element's tuples go, decided before writing so that links can
/// be written in their final form. Mirrors the page's space accounting.
struct Layout {
    /// Element tuple location per in-memory id (duplicates: their target's).
    elements: Vec<ItemPointer>,
    /// Neighbour tuple location per in-memory id.
    neighbors: Vec<ItemPointer>,
    /// Ids of elements to write, in page order.
    order: Vec<u32>,
    /// Ids of the duplicates merged into written elements (rare).
    duplicates: HashMap<u32, Vec<u32>>,
    last_block: u32,
}

/// Simulated page filling: free bytes between line pointers and data.
struct Packer {
    block: u32,
    next_offset: u16,
    free: usize,
}

impl Packer {
    const EMPTY_FREE: usize = usable_space(SPECIAL_SIZE);

    fn cost(len: usize) -> usize {
        maxalign(len) + ITEM_ID_SIZE
    }

    fn new_page(&mut self) {
        self.block += 1;
        self.next_offset = 1;
        self.free = Self::EMPTY_FREE;
    }

    fn place(&mut self, len: usize) -> ItemPointer {
        if Self::cost(len) > self.free {
            self.new_page();
        }
        self.free -= Self::cost(len);
        self.next_offset += 1;
        ItemPointer::new(self.block, self.next_offset - 1)
    }
}

impl Layout {
    fn plan<S: Space + Sync>(
        graph: &MemGraph<'_, S>,
        payloads: &PayloadArena,
        levels: &[u8],
        m: u16,
    ) -> Layout {
        let n = levels.len();
        let mut layout = Layout {
            elements: vec![ItemPointer::INVALID; n],
            neighbors: vec![ItemPointer::INVALID; n],
            order: Vec::with_capacity(n),
            duplicates: HashMap::new(),
            last_block: 1,
        };
        let mut packer = Packer {
            block: 0,
            next_offset: 1,
            free: 0,
        };
        // Page order follows the graph, not the heap: each page starts with
        // a seed (taken breadth-first from the entry point) and is filled
        // with the seed's nearest unplaced neighbours on layer 0. A scan
        // expanding an element then finds many of its neighbours on its own
        // page or on pages just read, which the buffer pool and the CPU's
        // caches keep. Only placement changes: every link is written from
        // the same graph.
        let pair_cost = |id: u32| {
            Packer::cost(element_tuple_size(payloads.get(id).len()))
                + Packer::cost(neighbors_tuple_size(m, levels[id as usize]))
        };
        let place = |id: u32, layout: &mut Layout, packer: &mut Packer| {
            let pair = pair_cost(id);
            if pair > packer.free && pair <= Packer::EMPTY_FREE {
                packer.new_page();
            }
            let element_len = element_tuple_size(payloads.get(id).len());
            let neighbors_len = neighbors_tuple_size(m, levels[id as usize]);
            layout.elements[id as usize] = packer.place(element_len);
            layout.neighbors[id as usize] = packer.place(neighbors_len);
            layout.order.push(id);
        };
        let is_element = |id: u32| graph.duplicate_of(id).is_none();
        let placed = |layout: &Layout, id: u32| layout.elements[id as usize] != ItemPointer::INVALID;
        // Each id enters the queue at most once: it holds at most `n` ids,
        // like the layout's own per-element arrays.
        let mut queue = std::collections::VecDeque::new();
        let mut queued = vec![false; n];
        if n > 0 {
            let entry = graph.entry().0;
            queued[entry as usize] = true;
            queue.push_back(entry);
        }
        let (mut next_unreached, mut ids, mut group) = (0u32, Vec::new(), Vec::new());
        loop {
            // The next seed: breadth-first, then any element not reached.
            let seed = loop {
                match queue.pop_front() {
                    Some(id) if !placed(&layout, id) && is_element(id) => break Some(id),
                    Some(_) => continue,
                    None => {}
                }
                while (next_unreached as usize) < n
                    && (placed(&layout, next_unreached) || !is_element(next_unreached))
                {
                    next_unreached += 1;
                }
                break ((next_unreached as usize) < n).then_some(next_unreached);
            };
            let Some(seed) = seed else {
                break;
            };
            // (A seed continues the current page: opening a new one would
            // leave space unused and make the index larger.)
            group.clear();
            group.push(seed);
            place(seed, &mut layout, &mut packer);
            // Its neighbours nearest first, while they fit on the page the
            // seed is on.
            let page = packer.block;
            graph.neighbors(seed, 0, &mut ids);
            for &id in &ids {
                if placed(&layout, id) || !is_element(id) {
                    continue;
                }
                if pair_cost(id) > packer.free {
                    break;
                }
                group.push(id);
                place(id, &mut layout, &mut packer);
                debug_assert_eq!(packer.block, page);
            }
            for &member in &group {
                graph.neighbors(member, 0, &mut ids);
                for &id in &ids {
                    if !std::mem::replace(&mut queued[id as usize], true) {
                        queue.push_back(id);
                    }
                }
            }
        }
        layout.last_block = packer.block.max(1);
        for id in 0..n as u32 {
            if let Some(target) = graph.duplicate_of(id) {
                layout.elements[id as usize] = layout.elements[target as usize];
                layout.duplicates.entry(target).or_default().push(id);
            }
        }
        layout
    }
}

/// Writes planned tuples page by page.
struct PageWriter<'w, R, S> {
    rel: &'w R,
    m: u16,
    graph: &'w MemGraph<'w, S>,
    payloads: &'w PayloadArena,
    levels: &'w [u8],
    tids: &'w [ItemPointer],
    layout: &'w Layout,
}

impl<R: Relation, S: Space + Sync> PageWriter<'_, R, S> {
    fn write(&mut self, progress: &mut dyn FnMut(BuildProgress) -> bool) -> Result<(), HnswError> {
        let total = self.layout.order.len() as u64;
        let mut page: Option<R::WriteGuard<'_>> = None;
        let mut buf = Vec::new();
        let mut tids = Vec::with_capacity(HEAP_TIDS_PER_ELEMENT);
        let (mut ids, mut links) = (Vec::new(), Vec::new());
        for (done, &id) in self.layout.order.iter().enumerate() {
            let level = self.levels[id as usize];
            let element = self.layout.elements[id as usize];
            let neighbors = self.layout.neighbors[id as usize];
            tids.clear();
            tids.push(self.tids[id as usize]);
            if let Some(duplicates) = self.layout.duplicates.get(&id) {
                tids.extend(duplicates.iter().map(|&dup| self.tids[dup as usize]));
            }
            encode_element(&mut buf, level, &tids, neighbors, self.payloads.get(id));
            self.add(&mut page, element, &buf);
            encode_neighbors(&mut buf, self.m, level, element);
            let mut view = NeighborsMut::parse(&mut buf, self.m).expect("freshly encoded");
            for layer in 0..=level {
                self.graph.neighbors(id, layer, &mut ids);
                links.clear();
                links.extend(ids.iter().map(|&n| self.layout.elements[n as usize]));
                view.set_layer(layer, &links);
            }
            self.add(&mut page, neighbors, &buf);
            if done % 1024 == 1023 {
                let report = BuildProgress {
                    phase: BuildPhase::Writing,
                    done: done as u64 + 1,
                    total,
                };
                if !progress(report) {
                    return Err(HnswError::Cancelled);
                }
            }
        }
        Ok(())
    }

    /// Adds `tuple` at its planned location, extending the relation when the
    /// plan moves to the next block.
    fn add<'g>(&'g self, page: &mut Option<R::WriteGuard<'g>>, at: ItemPointer, tuple: &[u8]) {
        if page.as_ref().is_none_or(|p| p.block() != at.block) {
            *page = None;
            let mut fresh = self.rel.extend();
            assert_eq!(fresh.block(), at.block, "layout and relation disagree");
            *fresh.opaque_mut() = GRAPH_OPAQUE;
            *page = Some(fresh);
        }
        let offset = page.as_mut().expect("page set above").add_item(tuple);
        assert_eq!(
            offset,
            Some(at.offset),
            "layout and page space accounting disagree"
        );
    }
}
