//! Inserting one element into the on-page graph (`aminsert`).
//!
//! Locking: the index-wide lock is held shared for the whole insert (vacuum
//! uses it as a barrier); page locks are taken one at a time, except that a
//! brand-new page (invisible to others) or the meta page (always locked
//! first) may be held while locking another page. Each page write leaves a
//! searchable graph: the element is written with its own links first, then
//! each neighbour gains a link back to it, then the meta page may adopt it as
//! entry point.

use pagestore::{maxalign, ItemPointer, LockMode, Page, PageMut, Relation};

use crate::format::{
    element_tuple_size, encode_element, encode_neighbors, layer_capacity, neighbors_tuple_size,
    ElementMut, ElementRef, MetaTuple, NeighborsMut, META_BLOCK, META_OFFSET,
    STATE_DELETED, STATE_FREE, STATE_LIVE,
};
use crate::heuristic::{select_neighbors, Scored};
use crate::level::{mix64, random_level};
use crate::pages::{
    is_graph_page, read_layer, read_meta, update_meta, write_layer_if_unchanged, ElementCache,
    GRAPH_OPAQUE,
};
use crate::search::{search_layers, Candidate};
use crate::{HnswError, Space};

/// Attempts at an optimistic neighbour-list update before giving up on it
/// (losing one back link only costs a little recall).
const MAX_LINK_ATTEMPTS: usize = 10;

/// Result of [`insert`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InsertOutcome {
    /// A new element was created at this location.
    Inserted(ItemPointer),
    /// An identical vector existed; the heap TID was added to that element.
    Duplicate(ItemPointer),
}

/// Inserts the vector `payload` of heap row `heap_tid`.
pub fn insert<R: Relation, S: Space>(
    rel: &R,
    space: &S,
    heap_tid: ItemPointer,
    payload: &[u8],
) -> Result<InsertOutcome, HnswError> {
    let _structure = rel.lock_index(LockMode::Shared);
    let mut meta = read_meta(rel)?;
    check_payload(&meta, payload)?;
    // Raised before the element is placed: a scan that can find the element
    // (its row visible to the scan's snapshot) reads a bound covering it.
    let norm = space.payload_norm(payload) as f64;
    if norm > meta.max_payload_norm {
        meta = update_meta(rel, |m| m.max_payload_norm = m.max_payload_norm.max(norm))?;
    }
    let level = random_level(mix64(heap_tid.to_u64()), meta.m, meta.max_level());
    if meta.entry().is_none() {
        if let Some(element) = insert_first(rel, heap_tid, payload, level)? {
            return Ok(InsertOutcome::Inserted(element));
        }
        meta = read_meta(rel)?;
    }
    let mut inserter = Inserter {
        rel,
        space,
        m: meta.m,
        cache: ElementCache::new(meta.payload_size),
    };
    let found = search_layers(rel, space, &meta, payload, level)?;
    if let Some(element) = inserter.add_to_duplicate(&found, heap_tid, payload) {
        return Ok(InsertOutcome::Duplicate(element));
    }
    let lists = inserter.select_neighbors(&found);
    let pointers: Vec<Vec<ItemPointer>> = lists
        .iter()
        .map(|l| l.iter().map(|s| s.id).collect())
        .collect();
    let new_tuples = NewTuples::new(meta.m, level, heap_tid, payload, &pointers);
    let (element, hint) = place(rel, &meta, &new_tuples)?;
    inserter.cache.put(element, level, payload);
    for (layer, list) in lists.iter().enumerate() {
        for neighbor in list {
            inserter.add_reverse_link(neighbor.id, element, neighbor.dist, layer as u8)?;
        }
    }
    inserter.cache.check()?;
    update_meta(rel, |m| {
        m.element_count += 1;
        if m.entry().is_none() || level as u16 > m.entry_level {
            m.set_entry(Some((element, level)));
        }
        // The hint moves to the first page that still had room, unless
        // someone (vacuum, another insert) moved it meanwhile. Moving it to
        // the page used instead would skip the free slots before it that
        // were too small for this element but fit the next one.
        if m.insert_page == meta.insert_page {
            m.insert_page = hint;
        }
    })?;
    Ok(InsertOutcome::Inserted(element))
}

/// Rejects payloads the index cannot store.
pub(crate) fn check_payload(meta: &MetaTuple, payload: &[u8]) -> Result<(), HnswError> {
    crate::format::check_payload_size(payload.len())?;
    if meta.payload_size != 0 && payload.len() != meta.payload_size as usize {
        return Err(HnswError::PayloadSizeMismatch {
            expected: meta.payload_size as usize,
            got: payload.len(),
        });
    }
    Ok(())
}

/// Makes the element the entry point of an empty graph, holding the meta
/// page lock so concurrent first inserts serialise. `None` if the graph is
/// no longer empty.
fn insert_first<R: Relation>(
    rel: &R,
    heap_tid: ItemPointer,
    payload: &[u8],
    level: u8,
) -> Result<Option<ItemPointer>, HnswError> {
    let mut meta_page = rel.write(META_BLOCK);
    let item = meta_page
        .item_mut(META_OFFSET)
        .ok_or_else(|| HnswError::Corrupted("meta tuple missing".into()))?;
    let mut meta = MetaTuple::decode(item)?;
    if meta.entry().is_some() {
        return Ok(None);
    }
    let (element, _) = place(
        rel,
        &meta,
        &NewTuples::new(meta.m, level, heap_tid, payload, &[]),
    )?;
    meta.set_entry(Some((element, level)));
    meta.element_count += 1;
    meta.insert_page = meta.insert_page.max(element.block);
    let item = meta_page
        .item_mut(META_OFFSET)
        .expect("meta tuple checked above");
    item[..MetaTuple::SIZE].copy_from_slice(meta.encode());
    Ok(Some(element))
}

/// Search and neighbour maintenance for one insert.
struct Inserter<'a, R, S> {
    rel: &'a R,
    space: &'a S,
    m: u16,
    cache: ElementCache,
}

impl<R: Relation, S: Space> Inserter<'_, R, S> {
    /// Adds `heap_tid` to an existing element with identical bytes (the
    /// nearest found ones), as pgvector does. Returns that element.
    fn add_to_duplicate(
        &mut self,
        found: &[Vec<Candidate>],
        heap_tid: ItemPointer,
        payload: &[u8],
    ) -> Option<ItemPointer> {
        for c in found.first()? {
            let cached = self.cache.get(self.rel, c.element)?;
            // Sorted by distance: identical vectors come first.
            if self.cache.payload(&cached) != payload {
                return None;
            }
            let mut page = self.rel.write(c.element.block);
            let Some(mut element) = page.item_mut(c.element.offset).and_then(ElementMut::parse)
            else {
                continue;
            };
            let e = element.as_ref();
            if e.state() != STATE_LIVE || e.tid_count() >= e.tid_capacity() || e.payload() != payload {
                continue;
            }
            let mut tids: Vec<ItemPointer> = e.heap_tids().collect();
            tids.push(heap_tid);
            element.set_heap_tids(&tids);
            return Some(c.element);
        }
        None
    }

    /// The new element's neighbours per layer, chosen by the heuristic.
    fn select_neighbors(&mut self, found: &[Vec<Candidate>]) -> Vec<Vec<Scored<ItemPointer>>> {
        let mut lists = Vec::with_capacity(found.len());
        for (layer, candidates) in found.iter().enumerate() {
            let scored: Vec<Scored<ItemPointer>> = candidates
                .iter()
                .filter(|c| self.cache.get(self.rel, c.element).is_some())
                .map(|c| Scored {
                    dist: c.dist,
                    id: c.element,
                })
                .collect();
            let mut selected = Vec::new();
            let (cache, space) = (&self.cache, self.space);
            select_neighbors(
                &scored,
                layer_capacity(self.m, layer as u8),
                |a, b| cache.distance(space, a, b),
                &mut selected,
                true,
            );
            lists.push(selected);
        }
        lists
    }

    /// Adds `new` (at `dist`) to `target`'s list on `layer`; when the list
    /// is full, re-selects it with the heuristic. Optimistic: the list is
    /// read, the new one computed without locks, and written only if the
    /// list did not change meanwhile (otherwise retried).
    fn add_reverse_link(
        &mut self,
        target: ItemPointer,
        new: ItemPointer,
        dist: f32,
        layer: u8,
    ) -> Result<(), HnswError> {
        let cap = layer_capacity(self.m, layer);
        for _ in 0..MAX_LINK_ATTEMPTS {
            let Some(t) = self.cache.get(self.rel, target) else {
                return Ok(());
            };
            let Some((snapshot, current)) =
                read_layer(self.rel, self.m, target, t.neighbors, layer)?
            else {
                return Ok(());
            };
            if current.contains(&new) {
                return Ok(());
            }
            let list = if current.len() < cap {
                let mut list = current;
                list.push(new);
                list
            } else {
                let mut candidates: Vec<Scored<ItemPointer>> = Vec::with_capacity(cap + 1);
                for &p in &current {
                    let live = self
                        .cache
                        .get(self.rel, p)
                        .is_some_and(|e| e.state == STATE_LIVE);
                    if live {
                        let dist = self.cache.distance(self.space, target, p);
                        candidates.push(Scored { dist, id: p });
                    }
                }
                candidates.push(Scored { dist, id: new });
                candidates.sort_unstable();
                let mut selected = Vec::with_capacity(cap);
                let (cache, space) = (&self.cache, self.space);
                select_neighbors(
                    &candidates,
                    cap,
                    |a, b| cache.distance(space, a, b),
                    &mut selected,
                    true,
                );
                if !selected.iter().any(|s| s.id == new) {
                    return Ok(());
                }
                selected.iter().map(|s| s.id).collect()
            };
            if write_layer_if_unchanged(
                self.rel,
                self.m,
                target,
                t.neighbors,
                layer,
                &snapshot,
                &list,
            )? {
                return Ok(());
            }
        }
        Ok(())
    }
}

/// Encoded tuples of a new element, re-encoded once their locations are known.
struct NewTuples<'a> {
    m: u16,
    level: u8,
    heap_tid: ItemPointer,
    payload: &'a [u8],
    lists: &'a [Vec<ItemPointer>],
}

impl<'a> NewTuples<'a> {
    fn new(
        m: u16,
        level: u8,
        heap_tid: ItemPointer,
        payload: &'a [u8],
        lists: &'a [Vec<ItemPointer>],
    ) -> Self {
        NewTuples {
            m,
            level,
            heap_tid,
            payload,
            lists,
        }
    }

    fn element_size(&self) -> usize {
        element_tuple_size(self.payload.len())
    }

    fn neighbors_size(&self) -> usize {
        neighbors_tuple_size(self.m, self.level)
    }

    /// Free space a page needs to take both tuples as new items.
    fn pair_space(&self) -> usize {
        maxalign(self.element_size()) + maxalign(self.neighbors_size()) + pagestore::ITEM_ID_SIZE
    }

    /// Free space a page needs to take a level-0 element as new items: a
    /// page with less (and no free slot) has no room for any element.
    fn min_pair_space(&self) -> usize {
        maxalign(self.element_size())
            + maxalign(neighbors_tuple_size(self.m, 0))
            + pagestore::ITEM_ID_SIZE
    }

    /// True if both tuples fit one empty page.
    fn pair_fits_a_page(&self) -> bool {
        self.pair_space()
            <= pagestore::max_item_size(pagestore::SPECIAL_SIZE) + pagestore::ITEM_ID_SIZE
    }

    fn element(&self, neighbors: ItemPointer) -> Vec<u8> {
        let mut buf = Vec::new();
        encode_element(
            &mut buf,
            self.level,
            &[self.heap_tid],
            neighbors,
            self.payload,
        );
        buf
    }

    fn neighbors(&self, element: ItemPointer) -> Vec<u8> {
        let mut buf = Vec::new();
        encode_neighbors(&mut buf, self.m, self.level, element);
        let mut view = NeighborsMut::parse(&mut buf, self.m).expect("freshly encoded");
        for (layer, list) in self.lists.iter().enumerate() {
            view.set_layer(layer as u8, list);
        }
        buf
    }
}

/// Where a page can take the new element.
enum Room {
    /// Append both tuples.
    Append,
    /// Overwrite a free element (and its neighbour tuple on the same page).
    ReuseLocal { element: u16, neighbors: u16 },
    /// Overwrite a free element whose neighbour tuple is on another page.
    ReuseRemote {
        element: u16,
        neighbors: ItemPointer,
    },
    /// Append the neighbour tuple only (the pair is too big for one page).
    NeighborsOnly,
}

/// Size-change-tolerant check that overwriting items `olds` with `news`
/// bytes fits: growth must not exceed the page's free space.
fn overwrite_fits(page: &impl Page, olds: &[u16], news: &[usize]) -> bool {
    let old: usize = olds
        .iter()
        .map(|&o| page.item(o).map_or(usize::MAX / 4, |i| maxalign(i.len())))
        .sum();
    let new: usize = news.iter().map(|&n| maxalign(n)).sum();
    new <= old + page.free_space()
}

/// Looks for room for `t` on a page, preferring free slots (to keep the
/// index from growing under update churn). Also says whether the page may
/// have room for some element (a free slot, or space for a level-0 pair).
fn find_room(page: &impl Page, t: &NewTuples<'_>) -> (Option<Room>, bool) {
    let mut any_free = false;
    let room = find_room_inner(page, t, &mut any_free);
    (room, any_free || page.free_space() >= t.min_pair_space())
}

fn find_room_inner(page: &impl Page, t: &NewTuples<'_>, any_free: &mut bool) -> Option<Room> {
    for off in 1..=page.max_offset() {
        let Some(e) = page.item(off).and_then(ElementRef::parse) else {
            continue;
        };
        if e.state() != STATE_FREE {
            continue;
        }
        *any_free = true;
        let nt = e.neighbors();
        if nt.block != page.block() {
            let fits = overwrite_fits(page, &[off], &[t.element_size()]);
            if fits {
                return Some(Room::ReuseRemote {
                    element: off,
                    neighbors: nt,
                });
            }
        } else if overwrite_fits(
            page,
            &[off, nt.offset],
            &[t.element_size(), t.neighbors_size()],
        ) {
            return Some(Room::ReuseLocal {
                element: off,
                neighbors: nt.offset,
            });
        }
    }
    if t.pair_fits_a_page() {
        (page.free_space() >= t.pair_space()).then_some(Room::Append)
    } else {
        page.fits(t.neighbors_size()).then_some(Room::NeighborsOnly)
    }
}

/// Overwrites items `first` then `second` (the shrinking one first so the
/// growing one finds the space; see `overwrite_fits`).
fn overwrite_two(page: &mut impl PageMut, a: (u16, &[u8]), b: (u16, &[u8])) -> bool {
    if !overwrite_fits(page, &[a.0, b.0], &[a.1.len(), b.1.len()]) {
        return false;
    }
    let a_shrinks = page
        .item(a.0)
        .is_some_and(|i| maxalign(a.1.len()) <= maxalign(i.len()));
    let (first, second) = if a_shrinks { (a, b) } else { (b, a) };
    let ok = page.overwrite_item(first.0, first.1) && page.overwrite_item(second.0, second.1);
    assert!(ok, "overwrite failed after fit check");
    true
}

/// Writes the new element somewhere: a free slot or free space at or after
/// the meta page's insert hint, else new pages. Returns the element pointer
/// and the next insert hint: the first page seen that had room for some
/// element (a free slot, or space for a level-0 element), else the page used.
fn place<R: Relation>(
    rel: &R,
    meta: &MetaTuple,
    t: &NewTuples<'_>,
) -> Result<(ItemPointer, u32), HnswError> {
    let nblocks = rel.nblocks();
    let mut hint = None;
    for block in meta.insert_page.max(1)..nblocks {
        let room = {
            let page = rel.read(block);
            if !is_graph_page(&page) {
                continue;
            }
            let (room, some_room) = find_room(&page, t);
            if some_room {
                hint.get_or_insert(block);
            }
            room
        };
        let placed = match room {
            None => None,
            Some(Room::Append) => append_pair(rel, block, t),
            Some(Room::ReuseLocal { element, neighbors }) => {
                reuse_local(rel, ItemPointer::new(block, element), neighbors, t)
            }
            Some(Room::ReuseRemote { element, neighbors }) => {
                reuse_remote(rel, ItemPointer::new(block, element), neighbors, t)
            }
            Some(Room::NeighborsOnly) => Some(place_split(rel, Some(block), t)),
        };
        if let Some(element) = placed {
            return Ok((element, hint.unwrap_or(block)));
        }
    }
    let element = if t.pair_fits_a_page() {
        let mut page = rel.extend();
        *page.opaque_mut() = GRAPH_OPAQUE;
        let block = page.block();
        let element = ItemPointer::new(block, 1);
        let neighbors = ItemPointer::new(block, 2);
        assert_eq!(page.add_item(&t.element(neighbors)), Some(1));
        assert_eq!(page.add_item(&t.neighbors(element)), Some(2));
        element
    } else {
        place_split(rel, None, t)
    };
    Ok((element, hint.unwrap_or(element.block)))
}

/// Appends both tuples to `block` if it still has room.
fn append_pair<R: Relation>(rel: &R, block: u32, t: &NewTuples<'_>) -> Option<ItemPointer> {
    let mut page = rel.write(block);
    if page.free_space() < t.pair_space() {
        return None;
    }
    let element = ItemPointer::new(block, page.max_offset() + 1);
    let neighbors = ItemPointer::new(block, page.max_offset() + 2);
    assert_eq!(page.add_item(&t.element(neighbors)), Some(element.offset));
    assert_eq!(page.add_item(&t.neighbors(element)), Some(neighbors.offset));
    Some(element)
}

/// Reuses a free element and its neighbour tuple on the same page: one write.
fn reuse_local<R: Relation>(
    rel: &R,
    element: ItemPointer,
    neighbors: u16,
    t: &NewTuples<'_>,
) -> Option<ItemPointer> {
    let mut page = rel.write(element.block);
    let still_free = page
        .item(element.offset)
        .and_then(ElementRef::parse)
        .is_some_and(|e| {
            e.state() == STATE_FREE && e.neighbors() == ItemPointer::new(element.block, neighbors)
        });
    if !still_free {
        return None;
    }
    let e = t.element(ItemPointer::new(element.block, neighbors));
    let n = t.neighbors(element);
    overwrite_two(&mut page, (element.offset, &e), (neighbors, &n)).then_some(element)
}

/// Reuses a free element whose neighbour tuple is on another page. The slot
/// is first claimed (marked deleted, so no other insert takes it and vacuum
/// frees it again after a crash), then the neighbour tuple and finally the
/// element are written.
fn reuse_remote<R: Relation>(
    rel: &R,
    element: ItemPointer,
    nt: ItemPointer,
    t: &NewTuples<'_>,
) -> Option<ItemPointer> {
    {
        let mut page = rel.write(element.block);
        let mut e = page.item_mut(element.offset).and_then(ElementMut::parse)?;
        if e.as_ref().state() != STATE_FREE || e.as_ref().neighbors() != nt {
            return None;
        }
        e.set_state(STATE_DELETED);
    }
    // `nt` was read from the page: a damaged link is left alone.
    let neighbors_written = rel.try_write(nt.block).is_ok_and(|mut page| {
        let fits = overwrite_fits(&page, &[nt.offset], &[t.neighbors_size()]);
        fits && page.overwrite_item(nt.offset, &t.neighbors(element))
    });
    let mut page = rel.write(element.block);
    if neighbors_written && overwrite_fits(&page, &[element.offset], &[t.element_size()]) {
        assert!(page.overwrite_item(element.offset, &t.element(nt)));
        Some(element)
    } else {
        // Give the claimed slot back.
        if let Some(mut e) = page.item_mut(element.offset).and_then(ElementMut::parse) {
            e.set_state(STATE_FREE);
        }
        None
    }
}

/// Places a pair too big for one page: the element alone on a new page and
/// its neighbour tuple on `neighbors_block` (if it still has room) or on
/// another new page. The element's page is new, hence invisible to others,
/// so holding it while locking the other page cannot deadlock.
fn place_split<R: Relation>(
    rel: &R,
    neighbors_block: Option<u32>,
    t: &NewTuples<'_>,
) -> ItemPointer {
    let mut element_page = rel.extend();
    *element_page.opaque_mut() = GRAPH_OPAQUE;
    let element = ItemPointer::new(element_page.block(), 1);
    let tuple = t.neighbors(element);
    let existing = neighbors_block.and_then(|block| {
        let mut page = rel.write(block);
        page.fits(tuple.len())
            .then(|| ItemPointer::new(block, page.add_item(&tuple).expect("fits")))
    });
    let nt = existing.unwrap_or_else(|| {
        let mut page = rel.extend();
        *page.opaque_mut() = GRAPH_OPAQUE;
        ItemPointer::new(
            page.block(),
            page.add_item(&tuple).expect("fits an empty page"),
        )
    });
    assert_eq!(element_page.add_item(&t.element(nt)), Some(1));
    element
}
