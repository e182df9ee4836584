//! Removing dead heap TIDs and reclaiming their elements (`ambulkdelete`).
//!
//! Phases, each page write being its own atomic record:
//! 1. Remove dead heap TIDs; elements left without any become `DELETED`
//!    (still traversed, never returned, never chosen as neighbours).
//! 2. Barrier: wait for inserts that started before phase 1 (they may have
//!    chosen a now-deleted element as neighbour).
//! 3. Repair: move the entry point off deleted elements; in every list that
//!    points to a deleted element, replace it by choosing (heuristic) among
//!    the remaining neighbours and the deleted neighbours' neighbours, plus
//!    a fresh graph search when that leaves the list thin.
//! 4. Barrier again (inserts holding an old entry point), then mark deleted
//!    elements `FREE` so inserts reuse their slots, and point the meta
//!    page's insert hint at the first page with a free slot.

use std::collections::{BTreeMap, HashSet};

use pagestore::{ItemPointer, LockMode, Page, PageMut, Relation};

use crate::format::{
    layer_capacity, ElementMut, ElementRef, STATE_DELETED, STATE_FREE, STATE_LIVE,
};
use crate::heuristic::{select_neighbors, Scored};
use crate::pages::{
    is_graph_page, read_layer, read_meta, update_meta, write_layer_if_unchanged, ElementCache,
};
use crate::search::search_layers;
use crate::{HnswError, Space};

/// Attempts at rewriting one list that concurrent inserts keep changing.
const MAX_REPAIR_ATTEMPTS: usize = 100;

/// What [`vacuum`] did and found (maps to `IndexBulkDeleteResult`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VacuumStats {
    /// Heap TIDs removed (`tuples_removed`).
    pub heap_tids_removed: u64,
    /// Heap TIDs left (`num_index_tuples`).
    pub heap_tids_remaining: u64,
    /// Elements that lost their last heap TID in this run.
    pub elements_deleted: u64,
    /// Element slots made reusable in this run.
    pub elements_freed: u64,
    /// Live elements left.
    pub live_elements: u64,
    /// Neighbour lists rewritten to drop deleted elements.
    pub lists_repaired: u64,
    /// Pages in the index (`num_pages`).
    pub pages: u32,
}

/// Removes heap TIDs for which `is_dead` is true and reclaims the elements
/// that have none left. `between_pages` is called with no lock held before
/// each page (for `vacuum_delay_point` / interrupt checks).
///
/// With an `is_dead` that is always false this only counts (for
/// `amvacuumcleanup` without a preceding bulk delete).
pub fn vacuum<R: Relation, S: Space>(
    rel: &R,
    space: &S,
    mut is_dead: impl FnMut(ItemPointer) -> bool,
    mut between_pages: impl FnMut(),
) -> Result<VacuumStats, HnswError> {
    let first_meta = read_meta(rel)?;
    let index_m = first_meta.m;
    let mut stats = VacuumStats {
        pages: rel.nblocks(),
        ..VacuumStats::default()
    };
    let mut scan = DeadScan::default();
    for block in 1..stats.pages {
        between_pages();
        rel.check_interrupts()?;
        scan.page(rel, block, &mut is_dead, &mut stats);
    }
    if !scan.deleted.is_empty() {
        drop(rel.lock_index(LockMode::Exclusive));
        let old_entry = read_meta(rel)?.entry();
        if old_entry.is_some_and(|e| scan.deleted.contains(&e)) {
            let new_entry = scan.best_entry.map(|(level, ptr)| (ptr, level));
            update_meta(rel, |m| {
                // Unless an insert has meanwhile installed a new one.
                if m.entry() == old_entry {
                    m.set_entry(new_entry);
                }
            })?;
        }
        let mut repair = Repair {
            rel,
            space,
            m: index_m,
            deleted: &scan.deleted,
            cache: ElementCache::new(first_meta.payload_size),
        };
        // Up to the relation's size after the barrier, not the one the scan
        // started with: inserts that ran during the scan (which the barrier
        // waited for) may have added pages whose elements link to elements
        // marked deleted above.
        let repair_pages = rel.nblocks();
        for block in 1..repair_pages {
            between_pages();
            rel.check_interrupts()?;
            stats.lists_repaired += repair.page(block)?;
        }
        repair.cache.check()?;
        drop(rel.lock_index(LockMode::Exclusive));
    }
    let first_free = free_deleted(rel, &scan.deleted, &mut between_pages, &mut stats)?;
    let live = stats.live_elements;
    let current = read_meta(rel)?;
    let hint_lowers = first_free.is_some_and(|block| block < current.insert_page);
    if current.element_count != live || hint_lowers {
        update_meta(rel, |m| {
            m.element_count = live;
            if let Some(block) = first_free {
                m.insert_page = m.insert_page.min(block);
            }
        })?;
    }
    Ok(stats)
}

/// Phase 1 state.
#[derive(Default)]
struct DeadScan {
    /// All deleted elements (this run's and leftovers of interrupted runs).
    deleted: HashSet<ItemPointer>,
    /// Highest-level live element: the entry point if the old one is deleted.
    best_entry: Option<(u8, ItemPointer)>,
}

impl DeadScan {
    fn page<R: Relation>(
        &mut self,
        rel: &R,
        block: u32,
        is_dead: &mut impl FnMut(ItemPointer) -> bool,
        stats: &mut VacuumStats,
    ) {
        let needs_write = {
            let page = rel.read(block);
            if !is_graph_page(&page) {
                return;
            }
            let any_dead = (1..=page.max_offset()).any(|off| {
                page.item(off)
                    .and_then(ElementRef::parse)
                    .is_some_and(|e| e.state() == STATE_LIVE && e.heap_tids().any(&mut *is_dead))
            });
            if !any_dead {
                self.account(&page, stats);
            }
            any_dead
        };
        if needs_write {
            let mut page = rel.write(block);
            for off in 1..=page.max_offset() {
                let Some(mut e) = page.item_mut(off).and_then(ElementMut::parse) else {
                    continue;
                };
                if e.as_ref().state() != STATE_LIVE {
                    continue;
                }
                let before = e.as_ref().tid_count();
                let kept: Vec<ItemPointer> =
                    e.as_ref().heap_tids().filter(|&t| !is_dead(t)).collect();
                if kept.len() == before {
                    continue;
                }
                stats.heap_tids_removed += (before - kept.len()) as u64;
                e.set_heap_tids(&kept);
                if kept.is_empty() {
                    e.set_state(STATE_DELETED);
                    stats.elements_deleted += 1;
                }
            }
            self.account(&page, stats);
        }
    }

    /// Records the final state of a page's elements.
    fn account(&mut self, page: &impl Page, stats: &mut VacuumStats) {
        for off in 1..=page.max_offset() {
            let Some(e) = page.item(off).and_then(ElementRef::parse) else {
                continue;
            };
            let ptr = ItemPointer::new(page.block(), off);
            match e.state() {
                STATE_LIVE => {
                    stats.live_elements += 1;
                    stats.heap_tids_remaining += e.tid_count() as u64;
                    if self.best_entry.is_none_or(|(level, _)| e.level() > level) {
                        self.best_entry = Some((e.level(), ptr));
                    }
                }
                STATE_DELETED => {
                    self.deleted.insert(ptr);
                }
                _ => {}
            }
        }
    }
}

/// Phase 3 state.
struct Repair<'a, R, S> {
    rel: &'a R,
    space: &'a S,
    m: u16,
    deleted: &'a HashSet<ItemPointer>,
    cache: ElementCache,
}

impl<R: Relation, S: Space> Repair<'_, R, S> {
    /// Repairs every list on `block` that points to a deleted element;
    /// returns how many lists were rewritten.
    fn page(&mut self, block: u32) -> Result<u64, HnswError> {
        // (element, neighbour tuple, layer) needing repair, found under one
        // share lock, repaired afterwards one page lock at a time.
        let mut todo = Vec::new();
        {
            let page = self.rel.read(block);
            if !is_graph_page(&page) {
                return Ok(0);
            }
            for off in 1..=page.max_offset() {
                let Some(e) = page.item(off).and_then(ElementRef::parse) else {
                    continue;
                };
                if e.state() == STATE_LIVE {
                    todo.push((ItemPointer::new(block, off), e.neighbors(), e.level()));
                }
            }
        }
        let mut repaired = 0;
        for (element, nt, level) in todo {
            for layer in 0..=level {
                if self.repair_layer(element, nt, layer)? {
                    repaired += 1;
                }
            }
            self.cache.clear();
        }
        Ok(repaired)
    }

    /// Rewrites `element`'s list on `layer` if it points to deleted elements.
    fn repair_layer(
        &mut self,
        element: ItemPointer,
        nt: ItemPointer,
        layer: u8,
    ) -> Result<bool, HnswError> {
        let cap = layer_capacity(self.m, layer);
        for _ in 0..MAX_REPAIR_ATTEMPTS {
            let Some((snapshot, current)) = read_layer(self.rel, self.m, element, nt, layer)?
            else {
                return Ok(false);
            };
            if !current.iter().any(|p| self.deleted.contains(p)) {
                return Ok(false);
            }
            let mut pool: Vec<ItemPointer> = Vec::new();
            for &p in &current {
                if !self.deleted.contains(&p) {
                    pool.push(p);
                    continue;
                }
                let Some(d) = self.cache.get(self.rel, p) else {
                    continue;
                };
                if let Some((_, theirs)) = read_layer(self.rel, self.m, p, d.neighbors, layer)? {
                    pool.extend(theirs.into_iter().filter(|q| !self.deleted.contains(q)));
                }
            }
            if pool.len() < cap / 2 {
                pool.extend(self.search_candidates(element, layer)?);
            }
            pool.retain(|&p| p != element);
            pool.sort_unstable();
            pool.dedup();
            if self.cache.get(self.rel, element).is_none() {
                return Ok(false);
            }
            let mut scored = Vec::with_capacity(pool.len());
            for p in pool {
                let usable = self
                    .cache
                    .get(self.rel, p)
                    .is_some_and(|e| e.state == STATE_LIVE && e.level >= layer);
                if usable {
                    let dist = self.cache.distance(self.space, element, p);
                    scored.push(Scored { dist, id: p });
                }
            }
            scored.sort_unstable();
            let mut selected = Vec::with_capacity(cap);
            let (cache, space) = (&self.cache, self.space);
            select_neighbors(
                &scored,
                cap,
                |a, b| cache.distance(space, a, b),
                &mut selected,
                true,
            );
            let list: Vec<ItemPointer> = selected.iter().map(|s| s.id).collect();
            if write_layer_if_unchanged(self.rel, self.m, element, nt, layer, &snapshot, &list)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Elements near `element` on `layer`, found by a graph search.
    fn search_candidates(
        &mut self,
        element: ItemPointer,
        layer: u8,
    ) -> Result<Vec<ItemPointer>, HnswError> {
        let meta = read_meta(self.rel)?;
        let Some(own) = self.cache.get(self.rel, element) else {
            return Ok(Vec::new());
        };
        let payload = self.cache.payload(&own).to_vec();
        let found = search_layers(self.rel, self.space, &meta, &payload, layer)?;
        Ok(found
            .get(layer as usize)
            .map(|l| l.iter().map(|c| c.element).collect())
            .unwrap_or_default())
    }
}

/// Phase 4: marks the deleted elements free; returns the first block that
/// got a free slot.
fn free_deleted<R: Relation>(
    rel: &R,
    deleted: &HashSet<ItemPointer>,
    between_pages: &mut impl FnMut(),
    stats: &mut VacuumStats,
) -> Result<Option<u32>, HnswError> {
    let mut by_block: BTreeMap<u32, Vec<u16>> = BTreeMap::new();
    for p in deleted {
        by_block.entry(p.block).or_default().push(p.offset);
    }
    let mut first_free = None;
    for (block, offsets) in by_block {
        between_pages();
        rel.check_interrupts()?;
        let mut page = rel.write(block);
        for off in offsets {
            let Some(mut e) = page.item_mut(off).and_then(ElementMut::parse) else {
                continue;
            };
            if e.as_ref().state() == STATE_DELETED {
                e.set_state(STATE_FREE);
                stats.elements_freed += 1;
                first_free.get_or_insert(block);
            }
        }
    }
    Ok(first_free)
}
