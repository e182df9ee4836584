//! The page and relation traits index code is written against.

use crate::layout::maxalign;
use crate::{BlockNumber, ItemPointer, OffsetNumber, PageOpaque};

/// Read access to one locked page in the standard Postgres page layout.
///
/// Offsets are 1-based line-pointer numbers, like Postgres `OffsetNumber`s.
pub trait Page {
    /// Block number of the page.
    fn block(&self) -> BlockNumber;

    /// Number of line pointers (`PageGetMaxOffsetNumber`); items are
    /// `1..=max_offset()`.
    fn max_offset(&self) -> OffsetNumber;

    /// Item data (`PageGetItem`), exactly as long as when it was added or last
    /// overwritten; `None` if `offset` is out of range or has no storage.
    /// The slice starts at a MAXALIGNed (8-byte) position within the page.
    fn item(&self, offset: OffsetNumber) -> Option<&[u8]>;

    /// Bytes available for one more item including its line pointer
    /// (`PageGetFreeSpace`): an item of `len` bytes fits iff
    /// `maxalign(len) <= free_space()`.
    fn free_space(&self) -> usize;

    /// The special area.
    fn opaque(&self) -> &PageOpaque;

    /// True if a new item of `len` bytes can be added.
    fn fits(&self, len: usize) -> bool {
        maxalign(len) <= self.free_space()
    }
}

/// Write access to one exclusively locked page. In Postgres every change made
/// through one guard becomes one generic-WAL record when the guard drops.
pub trait PageMut: Page {
    /// Mutable item data for in-place updates that keep the item's size.
    fn item_mut(&mut self, offset: OffsetNumber) -> Option<&mut [u8]>;

    /// Appends an item (`PageAddItemExtended` with a new line pointer);
    /// returns its offset, or `None` if it does not fit.
    fn add_item(&mut self, data: &[u8]) -> Option<OffsetNumber>;

    /// Replaces an existing item with data of possibly different length,
    /// keeping its offset (`PageIndexTupleOverwrite`). Returns false (page
    /// unchanged) if the offset is invalid or the page lacks space.
    /// Data of other items may move, but their offsets stay valid.
    fn overwrite_item(&mut self, offset: OffsetNumber, data: &[u8]) -> bool;

    /// Mutable special area.
    fn opaque_mut(&mut self) -> &mut PageOpaque;
}

/// Mode of the index-wide lock taken with [`Relation::lock_index`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockMode {
    /// Compatible with other shared holders (Postgres `ShareLock`).
    Shared,
    /// Conflicts with every other holder (Postgres `ExclusiveLock`).
    Exclusive,
}

/// A relation fork made of pages, accessed through RAII lock guards.
///
/// Reading or writing a block `>= nblocks()` is a caller bug and panics
/// (an ERROR in Postgres). Pages are never removed.
pub trait Relation {
    /// Shared-locked page (`LockBuffer(BUFFER_LOCK_SHARE)`), unlocked on drop.
    type ReadGuard<'a>: Page
    where
        Self: 'a;
    /// Exclusively locked page; on drop the change is logged and unlocked.
    type WriteGuard<'a>: PageMut
    where
        Self: 'a;

    /// Index-wide heavyweight lock, released on drop.
    type IndexLock<'a>
    where
        Self: 'a;

    /// Number of blocks (`RelationGetNumberOfBlocks`).
    fn nblocks(&self) -> BlockNumber;

    /// Locks `block` for reading.
    fn read(&self, block: BlockNumber) -> Self::ReadGuard<'_>;

    /// Hint that the items at `items` are about to be read, one after
    /// another: an implementation may start loading them into CPU caches
    /// so that their cache misses overlap instead of adding up (graph
    /// searches are bound by memory latency). Must not block, lock or fail;
    /// the default does nothing.
    fn prefetch_items(&self, items: &[ItemPointer]) {
        let _ = items;
    }

    /// Calls `f(i, page)` for each of `items` in order, with item `i`'s page
    /// share-locked (one page lock at a time, like [`Relation::read`]). An
    /// implementation may pin and prefetch a few pages ahead, as
    /// [`Relation::prefetch_items`] does, and keep those pins for the reads,
    /// saving a buffer lookup per item. The default prefetches and reads.
    fn read_items(&self, items: &[ItemPointer], mut f: impl FnMut(usize, &Self::ReadGuard<'_>)) {
        self.prefetch_items(items);
        for (i, item) in items.iter().enumerate() {
            f(i, &self.read(item.block));
        }
    }

    /// Hint that all of `block` (which exists) is about to be read, like
    /// [`Relation::prefetch_items`]; may be called while another page is
    /// locked. The default does nothing.
    fn prefetch_block(&self, block: BlockNumber) {
        let _ = block;
    }

    /// Locks `block` for writing.
    fn write(&self, block: BlockNumber) -> Self::WriteGuard<'_>;

    /// Appends a new page, initialised with `PageInit(.., SPECIAL_SIZE)` and
    /// [`PageOpaque::EMPTY`], and returns it exclusively locked.
    fn extend(&self) -> Self::WriteGuard<'_>;

    /// Takes the index-wide lock that lets maintenance wait for in-flight
    /// structural changes (e.g. inserts hold it shared, vacuum briefly takes
    /// it exclusively as a barrier). Not a page lock: in Postgres this is
    /// `LockPage(index, 0, ShareLock | ExclusiveLock)`, a heavyweight lock
    /// that may be held while page locks are taken, but must be acquired
    /// while holding no page lock.
    fn lock_index(&self, mode: LockMode) -> Self::IndexLock<'_>;
}
