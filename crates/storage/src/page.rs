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
/// Reading or writing a block `>= nblocks()` with [`Relation::read`] or
/// [`Relation::write`] is a caller bug and panics (an ERROR in Postgres).
/// Pages are never removed.
///
/// Block numbers that come from the index's own pages (links, neighbour
/// lists, hints) may be damaged: code following them uses
/// [`Relation::try_read`] / [`Relation::try_write`] /
/// [`Relation::read_items`], which check the block against the relation's
/// size in one place ([`Relation::check_block`]) and return
/// [`BlockOutOfRange`] instead of touching a block that does not exist
/// (in Postgres, `ReadBuffer(InvalidBlockNumber)` would extend the relation).
/// Every loop whose length depends on the data or on a setting calls
/// [`Relation::check_interrupts`] now and then.
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

    /// Checks that `block`, read from a page of the index, exists. The
    /// default asks [`Relation::nblocks`]; an implementation whose
    /// `nblocks` is costly caches it (the relation only grows) and asks
    /// again only on a miss. An implementation may also raise its own error
    /// instead of returning (Postgres: `index_corrupted`, naming the index).
    fn check_block(&self, block: BlockNumber) -> Result<(), BlockOutOfRange> {
        let nblocks = self.nblocks();
        if block < nblocks {
            Ok(())
        } else {
            Err(BlockOutOfRange { block, nblocks })
        }
    }

    /// [`Relation::read`] of a block number that came from a page: checked
    /// with [`Relation::check_block`] first.
    fn try_read(&self, block: BlockNumber) -> Result<Self::ReadGuard<'_>, BlockOutOfRange> {
        self.check_block(block)?;
        Ok(self.read(block))
    }

    /// [`Relation::write`] of a block number that came from a page: checked
    /// with [`Relation::check_block`] first.
    fn try_write(&self, block: BlockNumber) -> Result<Self::WriteGuard<'_>, BlockOutOfRange> {
        self.check_block(block)?;
        Ok(self.write(block))
    }

    /// Returns `Err(Interrupted)` if the operation must stop (a query
    /// cancel or timeout is pending). Called every few hundred steps by
    /// every loop whose length depends on the data or a setting, while no
    /// page is locked. The default never interrupts; in Postgres this is
    /// `CHECK_FOR_INTERRUPTS()`, which raises the pending ERROR itself.
    fn check_interrupts(&self) -> Result<(), Interrupted> {
        Ok(())
    }

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
    ///
    /// Every block is checked with [`Relation::check_block`] before any is
    /// read (the items come from pages): on a bad one nothing is read.
    fn read_items(
        &self,
        items: &[ItemPointer],
        mut f: impl FnMut(usize, &Self::ReadGuard<'_>),
    ) -> Result<(), BlockOutOfRange> {
        for item in items {
            self.check_block(item.block)?;
        }
        self.prefetch_items(items);
        for (i, item) in items.iter().enumerate() {
            f(i, &self.read(item.block));
        }
        Ok(())
    }

    /// Hint that all of `block` (which exists: checked) is about to be read, like
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

/// A block number read from an index page that is at or past the end of the
/// relation: the page holding it is damaged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockOutOfRange {
    /// The block asked for.
    pub block: BlockNumber,
    /// The relation's size when checked.
    pub nblocks: BlockNumber,
}

impl std::fmt::Display for BlockOutOfRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "link to block {} past the end of the index ({} blocks)",
            self.block, self.nblocks
        )
    }
}

impl std::error::Error for BlockOutOfRange {}

/// An operation was interrupted (query cancel, statement timeout) by
/// [`Relation::check_interrupts`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "canceling statement due to user request")
    }
}

impl std::error::Error for Interrupted {}

/// Calls [`Relation::check_interrupts`] once every `every` steps of a loop.
#[derive(Clone, Copy, Debug)]
pub struct InterruptTicker {
    left: u32,
    every: u32,
}

impl InterruptTicker {
    /// Steps between checks in the index crates' loops.
    pub const DEFAULT_EVERY: u32 = 256;

    /// A ticker that checks on the first step and every `every` steps after.
    pub fn new(every: u32) -> Self {
        InterruptTicker {
            left: 0,
            every: every.max(1),
        }
    }

    /// One step: checks for interrupts every `every` calls.
    #[inline]
    pub fn tick<R: Relation + ?Sized>(&mut self, rel: &R) -> Result<(), Interrupted> {
        if self.left == 0 {
            self.left = self.every;
            rel.check_interrupts()?;
        }
        self.left -= 1;
        Ok(())
    }
}

impl Default for InterruptTicker {
    fn default() -> Self {
        Self::new(Self::DEFAULT_EVERY)
    }
}
