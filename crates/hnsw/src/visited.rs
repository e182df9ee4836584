//! Visited set for graph searches over item pointers.

use pagestore::ItemPointer;

/// Open-addressing hash set of item pointers, reusable across searches.
///
/// Keys are `ItemPointer::to_u64`, never 0 for valid pointers (offsets start
/// at 1), so 0 marks an empty slot.
pub(crate) struct VisitedSet {
    slots: Vec<u64>,
    len: usize,
}

impl VisitedSet {
    /// An empty set with room for about `expected` keys before growing.
    pub fn with_capacity(expected: usize) -> Self {
        let cap = (expected.max(8) * 2).next_power_of_two();
        VisitedSet {
            slots: vec![0; cap],
            len: 0,
        }
    }

    /// Number of keys.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Bytes of memory held.
    pub fn memory_bytes(&self) -> usize {
        self.slots.len() * 8
    }

    /// Removes all keys, keeping the allocation.
    pub fn clear(&mut self) {
        if self.len > 0 {
            self.slots.fill(0);
            self.len = 0;
        }
    }

    fn slot_of(key: u64, mask: usize) -> usize {
        (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize & mask
    }

    /// Inserts `p`; returns true if it was not present.
    pub fn insert(&mut self, p: ItemPointer) -> bool {
        let key = p.to_u64();
        debug_assert!(key != 0);
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut i = Self::slot_of(key, mask);
        loop {
            match self.slots[i] {
                0 => {
                    self.slots[i] = key;
                    self.len += 1;
                    return true;
                }
                k if k == key => return false,
                _ => i = (i + 1) & mask,
            }
        }
    }

    /// True if `p` is in the set.
    #[cfg(test)]
    pub fn contains(&self, p: ItemPointer) -> bool {
        let key = p.to_u64();
        let mask = self.slots.len() - 1;
        let mut i = Self::slot_of(key, mask);
        loop {
            match self.slots[i] {
                0 => return false,
                k if k == key => return true,
                _ => i = (i + 1) & mask,
            }
        }
    }

    fn grow(&mut self) {
        let doubled = vec![0; self.slots.len() * 2];
        let old = std::mem::replace(&mut self.slots, doubled);
        self.len = 0;
        for key in old.into_iter().filter(|&k| k != 0) {
            self.insert(ItemPointer::from_u64(key));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_contains_grow_clear() {
        let mut set = VisitedSet::with_capacity(4);
        for b in 0..1000u32 {
            for o in 1..5u16 {
                assert!(set.insert(ItemPointer::new(b, o)));
            }
        }
        assert_eq!(set.len(), 4000);
        assert!(!set.insert(ItemPointer::new(999, 4)));
        assert!(set.contains(ItemPointer::new(500, 2)));
        assert!(!set.contains(ItemPointer::new(500, 7)));
        set.clear();
        assert_eq!(set.len(), 0);
        assert!(!set.contains(ItemPointer::new(500, 2)));
    }
}
