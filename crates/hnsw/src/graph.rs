//! In-memory HNSW graph built by all cores.
//!
//! Elements are inserted concurrently, in nearly their original order (each
//! worker takes the next element from a shared counter). Each element's
//! neighbour lists are updated under their own mutex and read without one
//! (see [`crate::lists`]); the entry point sits behind a read-write lock.
//!
//! Neighbour selection is pgvector's: the heuristic with "keep pruned
//! connections", so lists are full (the diverse neighbours first, then the
//! nearest of the others) during construction as well, and a full list that
//! gains a neighbour is re-selected over its links and the new one. Building
//! with only the diverse neighbours and filling the lists at the end costs
//! fewer distance computations but gave a graph 0.002-0.008 worse in recall
//! at the same `ef_search` on real data. Re-selections reuse what the last
//! selection of the list found (pgvector's "closer" cache, kept as a flag bit
//! of each stored id), which makes them cost a few distance computations
//! instead of one per pair of candidates. A final pass fills the lists that
//! are still short (few elements, or few candidates) with the nearest of
//! their neighbours' neighbours.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::RwLock;

use pagestore::threads::WorkerPool;
use rayon::prelude::*;

use crate::arena::PayloadArena;
use crate::format::{layer_capacity, HEAP_TIDS_PER_ELEMENT};
use crate::heuristic::select_neighbors;
use crate::lists::{Link, Lists, CLOSER, NONE};

/// Neighbours whose payloads are being fetched ahead of the one a beam
/// search compares.
const PREFETCH_AHEAD: usize = 4;
use crate::Space;

/// Beam width of the in-memory build's neighbour searches for an index's
/// `ef_construction`: a quarter wider than it (capped at the option's
/// maximum, 1000).
///
/// With the beam equal to `ef_construction`, as in pgvector, our graphs
/// match pgvector's recall only on average: on pypi-minilm-100k (m = 16,
/// ef_construction = 64) three builds with different level seeds gave
/// recall@10 0.882-0.888 at ef_search 20 and 0.992-0.994 at 320, pgvector's
/// two builds 0.883-0.884 and 0.993, so a given build could fall below.
/// A beam of 80 gave 0.889-0.895 / 0.933-0.935 / 0.969-0.970 / 0.987 /
/// 0.994-0.995 at ef_search 20 / 40 / 80 / 160 / 320 for two seeds (through
/// SQL 0.891 / 0.938 / 0.971 / 0.988 / 0.995, above both pgvector builds at
/// every ef_search) for about 22% more build CPU (75-79 s against 58-66 s in
/// process). Page inserts after the build keep `ef_construction`.
pub(crate) fn build_beam(ef_construction: u16) -> usize {
    let ef = ef_construction as usize;
    let wide = ef + ef / 4;
    if wide > 1000 {
        ef.max(1000)
    } else {
        wide
    }
}

/// Buffers of the list-filling pass.
#[derive(Default)]
struct FillScratch {
    own: Vec<u32>,
    ids: Vec<u32>,
    candidates: Vec<Link>,
}

/// The in-memory graph over payloads `0..n` of an arena.
pub(crate) struct MemGraph<'a, S> {
    space: &'a S,
    /// Exact payloads (duplicate detection; distances unless `compact`).
    payloads: &'a PayloadArena,
    /// [`Space::compact`] encodings of the payloads, if distances use them.
    compact: Option<&'a PayloadArena>,
    levels: &'a [u8],
    m: u16,
    /// Beam of the neighbour searches ([`build_beam`] of the index's
    /// `ef_construction`).
    ef_construction: usize,
    /// Neighbour lists per element and layer: neighbours first, then unused
    /// slots (id NONE).
    lists: Lists,
    /// Entry point and its level.
    entry: RwLock<(u32, u8)>,
    /// For an exact duplicate merged into another element: that element.
    duplicate_of: Vec<AtomicU32>,
    /// Heap TIDs per element (1 + merged duplicates).
    tid_counts: Vec<AtomicU8>,
    /// Per element, one bit per layer: the list's [`CLOSER`] flags are
    /// those of its last selection (written under the element's lock).
    closer_known: Vec<AtomicU32>,
}

/// Rounds of [`MemGraph::link_unreachable`]: each links every element
/// found unreachable at its start.
const REPAIR_ROUNDS: usize = 4;
/// Links are given only while at most 1 in this many elements is unreachable.
const REPAIR_AT_MOST: usize = 20;

/// Reachability along layer 0 from the entry point.
struct Reach {
    reached: Vec<bool>,
    /// Links from reached elements to each element.
    in_links: Vec<u32>,
    stack: Vec<u32>,
}

impl Reach {
    /// Marks `start` and everything it reaches, counting their links.
    fn extend_from<S: Space + Sync>(&mut self, graph: &MemGraph<'_, S>, start: u32, ids: &mut Vec<u32>) {
        if std::mem::replace(&mut self.reached[start as usize], true) {
            return;
        }
        self.stack.push(start);
        while let Some(id) = self.stack.pop() {
            graph.copy_layer(id, 0, ids);
            for &next in ids.iter() {
                self.in_links[next as usize] += 1;
                if !std::mem::replace(&mut self.reached[next as usize], true) {
                    self.stack.push(next);
                }
            }
        }
    }
}

/// Per-thread search buffers, reused across inserts.
struct Scratch {
    visited: Vec<u32>,
    epoch: u32,
    frontier: BinaryHeap<Reverse<Link>>,
    best: BinaryHeap<Link>,
    ids: Vec<u32>,
    per_layer: Vec<Vec<Link>>,
    selected: Vec<Link>,
}

impl Scratch {
    fn new(n: usize) -> Self {
        Scratch {
            visited: vec![0; n],
            epoch: 0,
            frontier: BinaryHeap::new(),
            best: BinaryHeap::new(),
            ids: Vec::new(),
            per_layer: Vec::new(),
            selected: Vec::new(),
        }
    }

    /// Starts a new search: everything is unvisited again.
    fn next_epoch(&mut self) {
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.visited.fill(0);
            self.epoch = 1;
        }
    }

    /// Marks `id` visited; true if it was not.
    fn visit(&mut self, id: u32) -> bool {
        let slot = &mut self.visited[id as usize];
        let fresh = *slot != self.epoch;
        *slot = self.epoch;
        fresh
    }
}

impl<'a, S: Space + Sync> MemGraph<'a, S> {
    /// Approximate bytes the graph needs per element of `level`, excluding
    /// the payload (used for the build's memory budget).
    pub fn element_cost(m: u16, level: u8) -> usize {
        Lists::element_cost(m, level) + 20 // 2 AtomicU32 + AtomicU8 + level + slack
    }

    /// An empty graph over `payloads` with the given levels.
    /// Distances use `compact` encodings of the payloads if given (index
    /// `i` of both arenas is the same element).
    pub fn new(
        space: &'a S,
        payloads: &'a PayloadArena,
        compact: Option<&'a PayloadArena>,
        levels: &'a [u8],
        m: u16,
        ef_construction: u16,
    ) -> Self {
        let n = levels.len();
        assert!(
            n < CLOSER as usize,
            "too many elements for an in-memory graph"
        );
        MemGraph {
            space,
            payloads,
            compact,
            levels,
            m,
            ef_construction: build_beam(ef_construction),
            lists: Lists::new(m, levels),
            entry: RwLock::new((0, levels.first().copied().unwrap_or(0))),
            duplicate_of: (0..n).map(|_| AtomicU32::new(NONE)).collect(),
            tid_counts: (0..n).map(|_| AtomicU8::new(1)).collect(),
            closer_known: (0..n).map(|_| AtomicU32::new(0)).collect(),
        }
    }

    /// Inserts every element using `threads` threads (0: all cores),
    /// counting finished elements in `done`; stops early if `cancel` is set.
    pub fn build(&self, threads: usize, done: &AtomicU64, cancel: &AtomicBool) {
        let n = self.levels.len();
        if n == 0 {
            return;
        }
        // Element 0 is the initial entry point (set in `new`).
        done.fetch_add(1, Ordering::Relaxed);
        let threads = crate::build::pool_threads(threads);
        // Workers block asynchronous signals and are all gone when the pool
        // is dropped at the end of this function: none outlives the build.
        let pool = WorkerPool::new(threads).expect("build worker threads");
        // Workers take the next element from a shared counter, so elements
        // go in nearly in their original order, as in a sequential build
        // (and as hnswlib and pgvector's parallel builds do). Splitting the
        // range between threads instead (rayon's par_iter) grows independent
        // halves of the graph at once and, on clustered data, sometimes
        // leaves the clusters poorly connected: recall then fell at random.
        let next = AtomicU32::new(1);
        let workers = pool.threads();
        pool.install(|| {
            rayon::scope(|scope| {
                for _ in 0..workers {
                    scope.spawn(|_| {
                        let mut scratch = Scratch::new(n);
                        while !cancel.load(Ordering::Relaxed) {
                            let q = next.fetch_add(1, Ordering::Relaxed);
                            if q as usize >= n {
                                break;
                            }
                            self.insert(q, &mut scratch);
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                    });
                }
            })
        });
        if !cancel.load(Ordering::Relaxed) {
            pool.install(|| self.fill_lists());
            self.link_unreachable(cancel);
        }
    }

    /// Gives every element that no path from the entry point reaches on
    /// layer 0 (the layer every element is on) a link from a reachable one,
    /// so that no row is left where no scan can find it. HNSW's pruning
    /// leaves a few such elements (2 of 100,000 on pypi-minilm-100k with
    /// the defaults, hundreds of 3,000 at m = 2); pgvector keeps them.
    ///
    /// For each, a search from the entry point finds its nearest reachable
    /// elements; the nearest one with a free slot gets the link, else the
    /// nearest whose farthest replaceable link points at an element another
    /// reachable element also links to (so none becomes unreachable by the
    /// link it loses, short of a cycle: the next round then finds it).
    fn link_unreachable(&self, cancel: &AtomicBool) {
        let n = self.levels.len();
        let mut scratch = Scratch::new(n);
        let (mut ids, mut links) = (Vec::new(), Vec::new());
        for _ in 0..REPAIR_ROUNDS {
            let mut reach = self.layer0_reach();
            let lost: Vec<u32> = (0..n as u32)
                .filter(|&id| !reach.reached[id as usize] && self.duplicate_of(id).is_none())
                .collect();
            // When many are unreachable (inner products, where points
            // inside the data's hull have no nearer-by-dot neighbours; tiny
            // m), new links would displace the ones searches navigate by.
            if lost.is_empty() || lost.len() > n / REPAIR_AT_MOST {
                return;
            }
            let mut linked = 0;
            for u in lost {
                if cancel.load(Ordering::Relaxed) {
                    return;
                }
                if reach.reached[u as usize] {
                    continue; // reached through an element linked before
                }
                let found = self.nearest_reachable(u, &mut scratch);
                for candidate in found {
                    let source = candidate.id;
                    let list = self.lists.lock(source);
                    list.links(0, &mut links);
                    let used = links.iter().take_while(|l| l.id != NONE).count();
                    let slot = if used < links.len() {
                        Some(used)
                    } else {
                        // The farthest link that is not one of the list's
                        // diverse (navigating) links and whose target keeps
                        // another reachable in-link.
                        (0..used).rev().find(|&i| {
                            links[i].id & CLOSER == 0
                                && reach.in_links[(links[i].id & !CLOSER) as usize] >= 2
                        })
                    };
                    let Some(slot) = slot else {
                        continue;
                    };
                    if slot < used {
                        reach.in_links[(links[slot].id & !CLOSER) as usize] -= 1;
                    }
                    links[slot] = Link {
                        dist: candidate.dist,
                        id: u,
                    };
                    let mut kept: Vec<Link> = links[..used.max(slot + 1)].to_vec();
                    kept.sort_by(|a, b| a.dist.total_cmp(&b.dist));
                    list.set(0, &kept);
                    // The list's diversity flags are no longer a selection's.
                    self.closer_known[source as usize].fetch_and(!1, Ordering::Relaxed);
                    drop(list);
                    reach.in_links[u as usize] += 1;
                    reach.extend_from(self, u, &mut ids);
                    linked += 1;
                    break;
                }
            }
            if linked == 0 {
                return;
            }
        }
    }

    /// Which elements a walk along layer-0 links from the entry point
    /// reaches, and how many links from reached elements each has.
    fn layer0_reach(&self) -> Reach {
        let n = self.levels.len();
        let mut reach = Reach {
            reached: vec![false; n],
            in_links: vec![0; n],
            stack: Vec::new(),
        };
        if n > 0 {
            let mut ids = Vec::new();
            reach.extend_from(self, self.entry().0, &mut ids);
        }
        reach
    }

    /// The elements nearest `u` that a search from the entry point finds
    /// (all reachable), nearest first.
    fn nearest_reachable(&self, u: u32, scratch: &mut Scratch) -> Vec<Link> {
        let (entry, top) = self.entry();
        let mut nearest = Link {
            dist: self.distance(u, entry),
            id: entry,
        };
        for layer in (1..=top).rev() {
            nearest = self.greedy(u, nearest, layer, scratch);
        }
        scratch.per_layer.resize_with(1, Vec::new);
        self.search_layer(u, &[nearest], 0, scratch);
        let mut found = std::mem::take(&mut scratch.per_layer[0]);
        found.retain(|l| l.id != u);
        found
    }

    fn payload(&self, id: u32) -> &[u8] {
        self.payloads.get(id)
    }

    /// What distances of `id` are computed on.
    fn key(&self, id: u32) -> &[u8] {
        self.compact.unwrap_or(self.payloads).get(id)
    }

    fn distance(&self, a: u32, b: u32) -> f32 {
        match self.compact {
            Some(keys) => self.space.compact_distance(keys.get(a), keys.get(b)),
            None => self
                .space
                .input_distance(self.payloads.get(a), self.payloads.get(b)),
        }
    }

    /// Copies the ids of `id`'s neighbours on `layer` into `out`.
    fn copy_layer(&self, id: u32, layer: u8, out: &mut Vec<u32>) {
        self.lists.read_ids(id, layer, out);
    }

    fn insert(&self, q: u32, scratch: &mut Scratch) {
        let level = self.levels[q as usize];
        // An element that becomes the new entry point is inserted holding
        // the entry lock exclusively (as hnswlib does). Otherwise two such
        // elements inserted at once both link only up to the old top layer,
        // and the upper layers split into parts the search cannot cross:
        // recall then drops for every query, at random.
        let mut promote = None;
        if level > self.entry.read().unwrap().1 {
            let guard = self.entry.write().unwrap();
            if level > guard.1 {
                promote = Some(guard);
            }
        }
        let (entry, top) = match &promote {
            Some(guard) => **guard,
            None => *self.entry.read().unwrap(),
        };
        let mut nearest = Link {
            dist: self.distance(q, entry),
            id: entry,
        };
        for layer in (level.saturating_add(1)..=top).rev() {
            nearest = self.greedy(q, nearest, layer, scratch);
        }
        let lowest_common = level.min(top);
        scratch
            .per_layer
            .resize_with(lowest_common as usize + 1, Vec::new);
        let mut entries = vec![nearest];
        for layer in (0..=lowest_common).rev() {
            self.search_layer(q, &entries, layer, scratch);
            entries.clone_from(&scratch.per_layer[layer as usize]);
        }
        if self.merge_duplicate(q, &scratch.per_layer[0]) {
            return;
        }
        for layer in 0..=lowest_common {
            let found = &scratch.per_layer[layer as usize];
            let cap = layer_capacity(self.m, layer);
            let distance = |a, b| self.distance(a, b);
            select_neighbors(found, cap, distance, &mut scratch.selected, true);
            self.lists.lock(q).set_from(layer, 0, &scratch.selected);
            for &neighbor in &scratch.selected {
                self.add_link(neighbor.id, q, neighbor.dist, layer);
            }
        }
        if let Some(mut entry) = promote {
            *entry = (q, level);
        }
    }

    /// If one of the nearest found elements is an exact duplicate with room
    /// for another heap TID, records `q` as merged into it. Duplicates are
    /// among the nearest (under L2 and L1 at distance 0, under cosine at the
    /// smallest distance up to rounding), so the payloads compared are the
    /// first few found and any tied with the nearest.
    fn merge_duplicate(&self, q: u32, found: &[Link]) -> bool {
        let Some(nearest) = found.first().map(|f| f.dist) else {
            return false;
        };
        let duplicates = found
            .iter()
            .enumerate()
            .take_while(|(i, f)| *i < 4 || f.dist <= nearest)
            .map(|(_, f)| f)
            .filter(|f| self.payload(f.id) == self.payload(q));
        for candidate in duplicates {
            let room = self.tid_counts[candidate.id as usize]
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| {
                    ((c as usize) < HEAP_TIDS_PER_ELEMENT).then_some(c + 1)
                })
                .is_ok();
            if room {
                self.duplicate_of[q as usize].store(candidate.id, Ordering::Relaxed);
                return true;
            }
        }
        false
    }

    /// Greedy walk towards `q` on an upper layer.
    fn greedy(&self, q: u32, mut nearest: Link, layer: u8, scratch: &mut Scratch) -> Link {
        loop {
            let mut ids = std::mem::take(&mut scratch.ids);
            self.copy_layer(nearest.id, layer, &mut ids);
            let mut moved = false;
            for &id in &ids {
                let dist = self.distance(q, id);
                if dist < nearest.dist {
                    nearest = Link { dist, id };
                    moved = true;
                }
            }
            scratch.ids = ids;
            if !moved {
                return nearest;
            }
        }
    }

    /// Beam search with `ef_construction` on `layer`; leaves the found
    /// elements sorted ascending in `scratch.per_layer[layer]`.
    fn search_layer(&self, q: u32, entries: &[Link], layer: u8, scratch: &mut Scratch) {
        scratch.next_epoch();
        scratch.frontier.clear();
        scratch.best.clear();
        for &e in entries {
            if scratch.visit(e.id) {
                scratch.frontier.push(Reverse(e));
                scratch.best.push(e);
            }
        }
        while scratch.best.len() > self.ef_construction {
            scratch.best.pop();
        }
        let mut ids = std::mem::take(&mut scratch.ids);
        while let Some(Reverse(candidate)) = scratch.frontier.pop() {
            let worst = scratch.best.peek().map_or(f32::INFINITY, |w| w.dist);
            if candidate.dist > worst && scratch.best.len() >= self.ef_construction {
                break;
            }
            // The next candidate's list loads while this one's neighbours
            // are compared (it is usually the next one expanded).
            if let (0, Some(Reverse(next))) = (layer, scratch.frontier.peek()) {
                self.lists.prefetch(next.id);
            }
            self.copy_layer(candidate.id, layer, &mut ids);
            ids.retain(|&id| scratch.visit(id));
            // The payloads of the unvisited neighbours are fetched a few
            // ahead of the one compared: enough misses in flight to hide
            // the latency, few enough that the prefetches themselves do
            // not stall on a full set of line-fill buffers.
            for &id in ids.iter().take(PREFETCH_AHEAD) {
                let key = self.key(id);
                pagestore::prefetch_bytes(key.as_ptr(), key.len());
            }
            for (i, &id) in ids.iter().enumerate() {
                if let Some(&ahead) = ids.get(i + PREFETCH_AHEAD) {
                    let key = self.key(ahead);
                    pagestore::prefetch_bytes(key.as_ptr(), key.len());
                }
                let dist = self.distance(q, id);
                let full = scratch.best.len() >= self.ef_construction;
                if !full || dist < scratch.best.peek().map_or(f32::INFINITY, |w| w.dist) {
                    let link = Link { dist, id };
                    scratch.frontier.push(Reverse(link));
                    scratch.best.push(link);
                    if full {
                        scratch.best.pop();
                    }
                }
            }
        }
        scratch.ids = ids;
        let out = &mut scratch.per_layer[layer as usize];
        out.clear();
        out.extend(scratch.best.drain());
        out.sort_unstable();
    }

    /// Adds `new` (at `dist`) to `target`'s list on `layer`. A full list is
    /// re-selected (pgvector's neighbour update): the heuristic walks the
    /// links and `new` from nearest to farthest, keeps the diverse ones, then
    /// the nearest others up to capacity, so one candidate drops out.
    ///
    /// When the list's flags are known, only what `new` can change is
    /// recomputed: candidates nearer than `new` keep their verdict; `new` is
    /// compared with the diverse ones before it; a diverse candidate after it
    /// only with the newly diverse ones; a non-diverse one only if some
    /// diverse one lost its place (it may have been what pruned it). This is
    /// the full computation's result, since removing a neighbour from the
    /// diverse set can only admit others and adding one can only prune them.
    fn add_link(&self, target: u32, new: u32, dist: f32, layer: u8) {
        let list = self.lists.lock(target);
        let link = Link { dist, id: new };
        if list.push(layer, link) {
            return;
        }
        let mut current = Vec::new();
        list.links(layer, &mut current);
        let capacity = current.len();
        let layer_bit = 1u32 << layer;
        let known = self.closer_known[target as usize].load(Ordering::Relaxed) & layer_bit != 0;
        // (link, diverse at the last selection)
        let mut candidates: Vec<(Link, bool)> = current
            .iter()
            .map(|l| {
                let id = l.id & !CLOSER;
                (Link { dist: l.dist, id }, l.id & CLOSER != 0)
            })
            .collect();
        candidates.push((link, false));
        candidates.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let diverse_among =
            |c: Link, set: &[Link]| set.iter().all(|kept| self.distance(c.id, kept.id) > c.dist);
        let mut kept: Vec<Link> = Vec::with_capacity(capacity);
        let mut added: Vec<Link> = Vec::new();
        let mut pruned: Vec<Link> = Vec::new();
        let mut removed_any = false;
        let mut visited = 0;
        for (c, was_diverse) in candidates.iter_mut() {
            if kept.len() >= capacity {
                break;
            }
            visited += 1;
            let c = *c;
            let diverse = if !known {
                diverse_among(c, &kept)
            } else if c.id == new {
                let d = diverse_among(c, &kept);
                if d {
                    added.push(c);
                }
                d
            } else if added.is_empty() {
                *was_diverse
            } else if *was_diverse {
                let d = diverse_among(c, &added);
                removed_any |= !d;
                d
            } else if removed_any {
                let d = diverse_among(c, &kept);
                if d {
                    added.push(c);
                }
                d
            } else {
                false
            };
            *was_diverse = diverse;
            if diverse {
                kept.push(c);
            } else {
                pruned.push(c);
            }
        }
        let flagged = |(l, diverse): (Link, bool)| Link {
            dist: l.dist,
            id: if diverse { l.id | CLOSER } else { l.id },
        };
        let mut selected: Vec<Link> = Vec::with_capacity(capacity + 1);
        selected.extend(kept.iter().map(|&l| flagged((l, true))));
        selected.extend(pruned.iter().map(|&l| flagged((l, false))));
        selected.extend(candidates[visited..].iter().map(|&c| flagged(c)));
        selected.truncate(capacity);
        list.set(layer, &selected);
        self.closer_known[target as usize].fetch_or(layer_bit, Ordering::Relaxed);
    }

    /// Fills every list to capacity with the nearest of its neighbours'
    /// neighbours. Each list is only written by its own task, and lists are
    /// copied out one lock at a time, so tasks run in parallel safely.
    fn fill_lists(&self) {
        (0..self.levels.len() as u32).into_par_iter().for_each_init(
            FillScratch::default,
            |scratch, id| {
                for layer in 0..=self.levels[id as usize] {
                    self.fill_list(id, layer, scratch);
                }
            },
        );
    }

    fn fill_list(&self, id: u32, layer: u8, scratch: &mut FillScratch) {
        let FillScratch {
            own,
            ids,
            candidates,
        } = scratch;
        self.copy_layer(id, layer, own);
        let room = layer_capacity(self.m, layer) - own.len();
        if room == 0 || own.is_empty() {
            return;
        }
        candidates.clear();
        for &neighbor in own.iter() {
            self.copy_layer(neighbor, layer, ids);
            candidates.extend(
                ids.iter()
                    .filter(|&&c| c != id && !own.contains(&c))
                    .map(|&c| Link { dist: 0.0, id: c }),
            );
        }
        candidates.sort_unstable_by_key(|l| l.id);
        candidates.dedup_by_key(|l| l.id);
        for c in candidates.iter_mut() {
            c.dist = self.distance(id, c.id);
        }
        if candidates.len() > room {
            candidates.select_nth_unstable(room - 1);
            candidates.truncate(room);
        }
        candidates.sort_unstable();
        self.lists.lock(id).set_from(layer, own.len(), candidates);
    }

    /// Entry point and its level.
    pub fn entry(&self) -> (u32, u8) {
        *self.entry.read().unwrap()
    }

    /// The element `id` was merged into, if it is an exact duplicate.
    pub fn duplicate_of(&self, id: u32) -> Option<u32> {
        let target = self.duplicate_of[id as usize].load(Ordering::Relaxed);
        (target != NONE).then_some(target)
    }

    /// Neighbour ids of `id` on `layer`, into `out`.
    pub fn neighbors(&self, id: u32, layer: u8, out: &mut Vec<u32>) {
        self.copy_layer(id, layer, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct L2;

    impl Space for L2 {
        fn distance(&self, a: &[u8], b: &[u8]) -> f32 {
            let (a, b): (&[f32], &[f32]) = (bytemuck::cast_slice(a), bytemuck::cast_slice(b));
            a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
        }
    }

    #[test]
    fn build_beam_is_a_quarter_wider_than_ef_construction() {
        assert_eq!(build_beam(64), 80);
        assert_eq!(build_beam(4), 5);
        assert_eq!(build_beam(200), 250);
        assert_eq!(build_beam(1000), 1000);
        assert!((4..=1000).all(|ef| build_beam(ef) >= ef as usize));
        // The in-memory graph searches with that beam, not ef_construction.
        let mut payloads = PayloadArena::default();
        payloads.push(bytemuck::cast_slice(&[0f32, 1.0]));
        let levels = [0u8];
        let graph = MemGraph::new(&L2, &payloads, None, &levels, 16, 64);
        assert_eq!(graph.ef_construction, 80);
    }
}
