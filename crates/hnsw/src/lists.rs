//! Neighbour lists of the in-memory graph.
//!
//! Layer-0 lists (every element has one) sit at a fixed stride in one array,
//! so finding a list costs no pointer chase; the few elements with upper
//! layers keep those in a second array at per-element offsets.
//!
//! Slots are `AtomicU64` words holding a link (distance bits and id).
//! Writers of one element's lists serialise on that element's mutex; readers
//! copy a list with plain relaxed loads and no lock. A reader racing with a
//! rewrite may see a mix of old and new ids: each is a valid element id, and
//! a search only uses the ids as places to look next (lock-free HNSW
//! builders read the same way). Construction spent about a fifth of its time
//! taking and releasing list mutexes for reads and chasing pointers to lists.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::format::{layer_capacity, total_slots};
use crate::heuristic::Scored;

/// Marks an unused slot.
pub(crate) const NONE: u32 = u32::MAX;

/// Flag bit of a stored id: the neighbour passed the selection heuristic's
/// diversity test when the list was last selected (see `MemGraph::add_link`).
/// Ids stay below it (graphs in memory hold fewer than 2^31 elements).
pub(crate) const CLOSER: u32 = 1 << 31;

/// A neighbour: element id with its distance to the list's owner.
pub(crate) type Link = Scored<u32>;

const EMPTY: Link = Link {
    dist: 0.0,
    id: NONE,
};

fn pack(link: Link) -> u64 {
    (link.dist.to_bits() as u64) << 32 | link.id as u64
}

fn unpack(word: u64) -> Link {
    Link {
        dist: f32::from_bits((word >> 32) as u32),
        id: word as u32,
    }
}

/// Every element's neighbour lists; see the module documentation.
pub(crate) struct Lists {
    m: usize,
    layer0: Vec<AtomicU64>,
    upper: Vec<AtomicU64>,
    /// Start of each element's upper-layer slots in `upper` (unused for
    /// elements on layer 0 only).
    upper_start: Vec<usize>,
    locks: Vec<Mutex<()>>,
}

impl Lists {
    /// Empty lists for elements of the given levels.
    pub fn new(m: u16, levels: &[u8]) -> Self {
        let m = m as usize;
        let n = levels.len();
        let mut upper_start = Vec::with_capacity(n);
        let mut upper_len = 0;
        for &level in levels {
            upper_start.push(upper_len);
            upper_len += level as usize * m;
        }
        let empty = || AtomicU64::new(pack(EMPTY));
        Lists {
            m,
            layer0: (0..n * 2 * m).map(|_| empty()).collect(),
            upper: (0..upper_len).map(|_| empty()).collect(),
            upper_start,
            locks: (0..n).map(|_| Mutex::new(())).collect(),
        }
    }

    /// Approximate bytes per element of `level`.
    pub fn element_cost(m: u16, level: u8) -> usize {
        total_slots(m, level) * 8 + std::mem::size_of::<usize>() + std::mem::size_of::<Mutex<()>>()
    }

    /// The slots of `id`'s list on `layer`.
    fn slots(&self, id: u32, layer: u8) -> &[AtomicU64] {
        let id = id as usize;
        if layer == 0 {
            &self.layer0[id * 2 * self.m..(id + 1) * 2 * self.m]
        } else {
            let start = self.upper_start[id] + (layer as usize - 1) * self.m;
            &self.upper[start..start + self.m]
        }
    }

    /// Hints that `id`'s layer-0 list is about to be read.
    pub fn prefetch(&self, id: u32) {
        let slots = self.slots(id, 0);
        pagestore::prefetch_bytes(slots.as_ptr().cast(), slots.len() * 8);
    }

    /// Copies the ids of `id`'s neighbours on `layer` into `out` (no lock),
    /// without their [`CLOSER`] flags.
    pub fn read_ids(&self, id: u32, layer: u8, out: &mut Vec<u32>) {
        out.clear();
        out.extend(
            self.slots(id, layer)
                .iter()
                .map(|s| s.load(Ordering::Relaxed) as u32)
                .take_while(|&i| i != NONE)
                .map(|i| i & !CLOSER),
        );
    }

    /// Locks `id`'s lists for writing.
    pub fn lock(&self, id: u32) -> ListsGuard<'_> {
        ListsGuard {
            lists: self,
            id,
            _lock: self.locks[id as usize]
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        }
    }
}

/// Write access to one element's lists.
pub(crate) struct ListsGuard<'a> {
    lists: &'a Lists,
    id: u32,
    _lock: MutexGuard<'a, ()>,
}

impl ListsGuard<'_> {
    /// The links of `layer`, including unused slots (id [`NONE`]), with
    /// their [`CLOSER`] flags.
    pub fn links(&self, layer: u8, out: &mut Vec<Link>) {
        out.clear();
        out.extend(
            self.lists
                .slots(self.id, layer)
                .iter()
                .map(|s| unpack(s.load(Ordering::Relaxed))),
        );
    }

    /// Replaces `layer`'s list by `links` (at most the layer's capacity),
    /// marking the remaining slots unused.
    pub fn set(&self, layer: u8, links: &[Link]) {
        let slots = self.lists.slots(self.id, layer);
        debug_assert!(links.len() <= layer_capacity(self.lists.m as u16, layer));
        for (i, slot) in slots.iter().enumerate() {
            slot.store(
                pack(links.get(i).copied().unwrap_or(EMPTY)),
                Ordering::Relaxed,
            );
        }
    }

    /// Writes `links` into `layer`'s slots from `start` on.
    pub fn set_from(&self, layer: u8, start: usize, links: &[Link]) {
        let slots = &self.lists.slots(self.id, layer)[start..];
        for (slot, &link) in slots.iter().zip(links) {
            slot.store(pack(link), Ordering::Relaxed);
        }
    }

    /// Puts `link` into the first unused slot of `layer`; false if full.
    pub fn push(&self, layer: u8, link: Link) -> bool {
        let slots = self.lists.slots(self.id, layer);
        match slots
            .iter()
            .find(|s| s.load(Ordering::Relaxed) as u32 == NONE)
        {
            Some(slot) => {
                slot.store(pack(link), Ordering::Relaxed);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_per_layer() {
        let lists = Lists::new(2, &[0, 2, 1]);
        let mut ids = Vec::new();
        lists.read_ids(1, 2, &mut ids);
        assert!(ids.is_empty());
        {
            let g = lists.lock(1);
            g.set(0, &[Link { dist: 0.5, id: 7 }, Link { dist: 1.5, id: 9 }]);
            assert!(g.push(2, Link { dist: -1.0, id: 3 }));
            assert!(g.push(2, Link { dist: 2.0, id: 4 }));
            assert!(!g.push(2, Link { dist: 2.0, id: 5 }));
            g.set_from(0, 2, &[Link { dist: 3.0, id: 11 }]);
            let mut links = Vec::new();
            g.links(0, &mut links);
            assert_eq!(links.len(), 4);
            assert_eq!(links[1].dist, 1.5);
            assert_eq!(links[3].id, NONE);
        }
        lists.read_ids(1, 0, &mut ids);
        assert_eq!(ids, [7, 9, 11]);
        lists.read_ids(1, 2, &mut ids);
        assert_eq!(ids, [3, 4]);
        lists.read_ids(1, 1, &mut ids);
        assert!(ids.is_empty());
        lists.read_ids(2, 1, &mut ids);
        assert!(ids.is_empty());
        lists.read_ids(0, 0, &mut ids);
        assert!(ids.is_empty());
    }
}
