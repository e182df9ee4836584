//! [`pagestore::Relation`] on the Postgres buffer manager.
//!
//! Every write guard is one generic-WAL record (`GenericXLogStart` ..
//! `GenericXLogFinish` around one buffer), so each page change the index
//! crates make is atomic, crash-safe and replayed on standbys. Index builds
//! use [`PgRelation::for_build`] instead: pages are written without WAL and
//! the whole relation is logged once at the end with `log_newpage_range`,
//! like pgvector and the built-in access methods do.
//!
//! Guards release their buffer on drop. When a Postgres ERROR unwinds
//! through Rust frames (as a panic), guards do nothing: transaction abort
//! releases buffer pins, content locks and heavyweight locks, and discards
//! unfinished generic-WAL state, so touching them here could only do harm.

use std::cell::Cell;
use std::marker::PhantomData;

use pagestore::{
    init_page, prefetch_bytes, prefetch_item, BlockNumber, BlockOutOfRange, Interrupted, LockMode,
    OffsetNumber, Page, PageImage, PageMut, PageOpaque, PageRef, PageRefMut, Relation, BLCKSZ,
    PAGE_HEADER_SIZE,
};
use pgrx::pg_sys;
use pgrx::PgSqlErrorCode;

/// Items whose buffers [`Relation::prefetch_items`] pins at once: within
/// the backend's fast private pin-count slots (`REFCOUNT_ARRAY_ENTRIES`).
const PREFETCH_BATCH: usize = 7;

/// Access to one fork of an index relation.
pub struct PgRelation {
    rel: pg_sys::Relation,
    fork: pg_sys::ForkNumber::Type,
    wal: bool,
    /// The fork's size when last asked (`smgrnblocks` is a system call);
    /// index forks only grow, so a block below it exists. Asked again when
    /// a block is not below it.
    known_blocks: Cell<BlockNumber>,
    /// Where this relation's blocks start in [`RECENT`] (None: a relation in
    /// local buffers, which reads only through the buffer table).
    recent: Option<u64>,
}

/// Slots of [`RECENT`] (a power of two): 256 KiB of buffer numbers.
const RECENT_SLOTS: usize = 1 << 16;

/// Where this backend last found blocks of the indexes in shared buffers: a
/// direct-mapped table of buffer numbers, by relation, fork and block.
/// A read tries the remembered buffer with `ReadRecentBuffer`, which checks
/// under the buffer header's lock that it still holds that very block and
/// pins it only then, before searching the shared buffer table: that search
/// (a hash lookup whose table is too large for any cache) was the largest
/// single cost of a graph scan. A stale or colliding slot only costs the
/// ordinary read. Touched only on the backend's main thread, as every
/// Postgres call here is.
static mut RECENT: [pg_sys::Buffer; RECENT_SLOTS] = [0; RECENT_SLOTS];

/// Where `rel`'s `fork` starts in [`RECENT`], or None for a relation in
/// local buffers (temporary), which ReadRecentBuffer is not used for. The
/// slots follow the relation's OID (unique within the backend's database):
/// a rewrite's new file reuses them, and ReadRecentBuffer's tag check turns
/// the old file's entries into ordinary reads.
///
/// # Safety
/// `rel` must be an open relation.
unsafe fn recent_start(rel: pg_sys::Relation, fork: pg_sys::ForkNumber::Type) -> Option<u64> {
    // SAFETY: `rel` is open: `rd_rel` and `rd_id` are valid.
    unsafe {
        if (*(*rel).rd_rel).relpersistence as u8 == pg_sys::RELPERSISTENCE_TEMP {
            return None;
        }
        // Consecutive blocks of one relation take consecutive slots.
        let h = (u32::from((*rel).rd_id) as u64 ^ (fork as u64) << 61)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        Some(h >> 20)
    }
}

impl PgRelation {
    /// The main fork; every page write is WAL-logged (when the relation
    /// needs WAL at all: generic WAL skips unlogged and temporary ones).
    ///
    /// # Safety
    /// `rel` must be an open index relation that stays open (and locked as
    /// the caller's operation requires) while the returned value is used.
    pub unsafe fn logged(rel: pg_sys::Relation) -> Self {
        // SAFETY: the caller's contract.
        unsafe { Self::new(rel, pg_sys::ForkNumber::MAIN_FORKNUM, true) }
    }

    /// # Safety
    /// As for [`PgRelation::logged`].
    unsafe fn new(rel: pg_sys::Relation, fork: pg_sys::ForkNumber::Type, wal: bool) -> Self {
        // SAFETY: `rel` is open (the caller's contract).
        let recent = unsafe { recent_start(rel, fork) };
        PgRelation {
            rel,
            fork,
            wal,
            known_blocks: Cell::new(0),
            recent,
        }
    }

    /// The main fork of an index being built: no WAL per write; the caller
    /// must call [`PgRelation::log_build`] when the build is complete.
    ///
    /// # Safety
    /// `rel` must be an open index relation that stays open (and locked as
    /// the caller's operation requires) while the returned value is used.
    pub unsafe fn for_build(rel: pg_sys::Relation) -> Self {
        // SAFETY: the caller's contract.
        unsafe { Self::new(rel, pg_sys::ForkNumber::MAIN_FORKNUM, false) }
    }

    /// The init fork of an unlogged index (`ambuildempty`), WAL-logged.
    ///
    /// # Safety
    /// `rel` must be an open index relation that stays open (and locked as
    /// the caller's operation requires) while the returned value is used.
    pub unsafe fn init_fork(rel: pg_sys::Relation) -> Self {
        // SAFETY: the caller's contract.
        unsafe { Self::new(rel, pg_sys::ForkNumber::INIT_FORKNUM, true) }
    }

    /// The Postgres relation.
    pub fn raw(&self) -> pg_sys::Relation {
        self.rel
    }

    /// Logs every page of a freshly built permanent index as full images.
    pub fn log_build(&self) {
        // SAFETY: `rel` is the open, exclusively locked index being built;
        // `rd_rel` is valid while it is open, and `log_newpage_range` reads
        // blocks 0..nblocks that exist.
        unsafe {
            let persistence = (*(*self.rel).rd_rel).relpersistence as u8;
            if persistence == pg_sys::RELPERSISTENCE_PERMANENT {
                let nblocks = self.nblocks();
                if nblocks > 0 {
                    pg_sys::log_newpage_range(self.rel, self.fork, 0, nblocks, true);
                }
            }
        }
    }

    /// Raises `index_corrupted` (XX002) naming the index unless `block`
    /// exists. Every buffer this type reads goes through here, so no block
    /// number taken from a damaged page can reach `ReadBuffer` (which would
    /// extend the relation for `InvalidBlockNumber` and fail with a less
    /// useful error for other blocks past the end).
    fn ensure_block(&self, block: BlockNumber) {
        if let Err(e) = self.check_block_size(block) {
            self.raise_corrupted(&format!(
                "block {} is past the end of the index ({} blocks)",
                e.block, e.nblocks
            ));
        }
    }

    /// The index's name, for messages.
    pub fn name(&self) -> String {
        // SAFETY: `rel` is an open relation for the lifetime of `self` (the
        // constructors' contract); `relname` is a NUL-terminated NameData.
        unsafe {
            std::ffi::CStr::from_ptr((*(*self.rel).rd_rel).relname.data.as_ptr())
                .to_string_lossy()
                .into_owned()
        }
    }

    /// Raises `index_corrupted` (XX002) as every corruption of an index
    /// reaches the user, whether the storage boundary or an index crate
    /// found it: `index "name" is corrupted: {detail}`, with a hint to
    /// REINDEX.
    pub fn raise_corrupted(&self, detail: &str) -> ! {
        super::error(
            PgSqlErrorCode::ERRCODE_INDEX_CORRUPTED,
            &format!("index \"{}\" is corrupted: {detail}", self.name()),
            Some("REINDEX the index."),
        )
    }

    /// `Ok` if `block` exists, asking the storage manager only when the
    /// cached size does not cover it.
    fn check_block_size(&self, block: BlockNumber) -> Result<(), BlockOutOfRange> {
        if block < self.known_blocks.get() {
            return Ok(());
        }
        let nblocks = self.nblocks();
        self.known_blocks.set(nblocks);
        if block < nblocks {
            Ok(())
        } else {
            Err(BlockOutOfRange { block, nblocks })
        }
    }

    unsafe fn read_buffer(&self, block: BlockNumber) -> pg_sys::Buffer {
        self.ensure_block(block);
        // VACUUM's cost accounting counts page hits in the ordinary read
        // only, so it keeps to that read.
        // SAFETY: a plain read of a backend global.
        let slot = match self.recent {
            Some(start) if unsafe { !pg_sys::VacuumCostActive } => {
                let slot = (start.wrapping_add(block as u64) as usize) & (RECENT_SLOTS - 1);
                // SAFETY: `rel` is open and in shared buffers (`recent` is
                // Some), `block` exists; see `try_recent`.
                if let Some(buffer) = unsafe { self.try_recent(slot, block) } {
                    return buffer;
                }
                Some(slot)
            }
            _ => None,
        };
        // SAFETY: `rel` is open and `block` exists (checked just above), so
        // this reads an existing block and never extends the relation.
        let buffer = unsafe {
            pg_sys::ReadBufferExtended(
                self.rel,
                self.fork,
                block,
                pg_sys::ReadBufferMode::RBM_NORMAL,
                std::ptr::null_mut(),
            )
        };
        if let Some(slot) = slot {
            // SAFETY: main thread only (see RECENT); `slot` is in bounds.
            unsafe { (*(&raw mut RECENT))[slot] = buffer };
        }
        buffer
    }

    /// The remembered buffer of `block`, pinned, if it still holds it.
    ///
    /// # Safety
    /// `rel` is open and uses shared buffers; `slot` is below RECENT_SLOTS.
    #[cfg(not(feature = "pg13"))]
    unsafe fn try_recent(&self, slot: usize, block: BlockNumber) -> Option<pg_sys::Buffer> {
        // SAFETY: main thread only (see RECENT); `slot` is in bounds. A
        // buffer number in 1..=NBuffers names a shared buffer descriptor;
        // ReadRecentBuffer compares its tag with (file, fork, block) under
        // the header lock and pins it only if it matches and is valid, as
        // ReadBuffer would have; otherwise it changes nothing.
        unsafe {
            let known = (*(&raw const RECENT))[slot];
            if known <= 0 || known > pg_sys::NBuffers {
                return None;
            }
            #[cfg(any(feature = "pg14", feature = "pg15"))]
            let file = (*self.rel).rd_node;
            #[cfg(not(any(feature = "pg14", feature = "pg15")))]
            let file = (*self.rel).rd_locator;
            if !pg_sys::ReadRecentBuffer(file, self.fork, block, known) {
                return None;
            }
            // What ReadBuffer counts for the statistics views
            // (pgstat_count_buffer_read and _hit); ReadRecentBuffer counts
            // the hit for EXPLAIN (BUFFERS) itself.
            let stats = (*self.rel).pgstat_info;
            if !stats.is_null() {
                #[cfg(any(feature = "pg14", feature = "pg15"))]
                {
                    (*stats).t_counts.t_blocks_fetched += 1;
                    (*stats).t_counts.t_blocks_hit += 1;
                }
                #[cfg(not(any(feature = "pg14", feature = "pg15")))]
                {
                    (*stats).counts.blocks_fetched += 1;
                    (*stats).counts.blocks_hit += 1;
                }
            }
            Some(known)
        }
    }

    /// PostgreSQL 13 has no ReadRecentBuffer: always the ordinary read.
    ///
    /// # Safety
    /// None needed; the signature matches the other versions'.
    #[cfg(feature = "pg13")]
    unsafe fn try_recent(&self, _slot: usize, _block: BlockNumber) -> Option<pg_sys::Buffer> {
        None
    }

    /// Appends a block and returns its buffer exclusively locked.
    #[cfg(any(feature = "pg13", feature = "pg14", feature = "pg15"))]
    unsafe fn new_buffer(&self) -> pg_sys::Buffer {
        // SAFETY: `rel` is open; the extension lock serialises extenders and
        // the new buffer is locked before the lock is released.
        unsafe {
            // Concurrent extenders must not get the same block.
            pg_sys::LockRelationForExtension(self.rel, pg_sys::ExclusiveLock as i32);
            // SAFETY: P_NEW (InvalidBlockNumber) extends the relation by one
            // block, which is what is wanted here, under the extension lock.
            let buffer = pg_sys::ReadBufferExtended(
                self.rel,
                self.fork,
                pg_sys::InvalidBlockNumber, // P_NEW
                pg_sys::ReadBufferMode::RBM_NORMAL,
                std::ptr::null_mut(),
            );
            pg_sys::LockBuffer(buffer, pg_sys::BUFFER_LOCK_EXCLUSIVE as i32);
            pg_sys::UnlockRelationForExtension(self.rel, pg_sys::ExclusiveLock as i32);
            buffer
        }
    }

    /// Appends a block and returns its buffer exclusively locked.
    #[cfg(not(any(feature = "pg13", feature = "pg14", feature = "pg15")))]
    unsafe fn new_buffer(&self) -> pg_sys::Buffer {
        // SAFETY: `rel` is open; `ExtendBufferedRel` takes the extension lock
        // itself and returns the new buffer locked (EB_LOCK_FIRST).
        unsafe {
            let bmr = pg_sys::BufferManagerRelation {
                rel: self.rel,
                smgr: std::ptr::null_mut(),
                relpersistence: 0,
            };
            pg_sys::ExtendBufferedRel(
                bmr,
                self.fork,
                std::ptr::null_mut(),
                pg_sys::ExtendBufferedFlags::EB_LOCK_FIRST,
            )
        }
    }

    /// Pins the buffers of `chunk`'s items (at most [`PREFETCH_BATCH`]),
    /// prefetching each page's header and line pointers, then each item's
    /// bytes; returns the pinned buffers and their pages, the first
    /// `chunk.len()` entries valid. The caller releases every pin.
    unsafe fn pin_and_prefetch(
        &self,
        chunk: &[pagestore::ItemPointer],
    ) -> [(pg_sys::Buffer, *const u8); PREFETCH_BATCH] {
        debug_assert!(chunk.len() <= PREFETCH_BATCH);
        let mut pinned = [(0 as pg_sys::Buffer, std::ptr::null::<u8>()); PREFETCH_BATCH];
        for (slot, item) in pinned.iter_mut().zip(chunk) {
            // SAFETY: `read_buffer` checks the block and returns a pinned
            // buffer, whose page stays in place while pinned; the prefetch is
            // a hint within that page.
            unsafe {
                let buffer = self.read_buffer(item.block);
                let page = pg_sys::BufferGetPage(buffer) as *const u8;
                prefetch_bytes(page, PAGE_HEADER_SIZE);
                *slot = (buffer, page);
            }
        }
        for (&(_, page), item) in pinned.iter().zip(chunk) {
            // SAFETY: the buffer is pinned: its page stays in place.
            unsafe { prefetch_item(page, item.offset) };
        }
        pinned
    }

    /// Wraps an exclusively locked buffer in a write guard.
    unsafe fn write_guard(&self, buffer: pg_sys::Buffer, new_page: bool) -> PgWriteGuard<'_> {
        // SAFETY: the caller holds `buffer` pinned and exclusively locked, so
        // the page (or generic WAL's copy of it) is ours to change until the
        // guard releases it; a page is BLCKSZ bytes, the size of PageImage.
        unsafe {
            let block = pg_sys::BufferGetBlockNumber(buffer);
            let (state, page) = if self.wal {
                let state = pg_sys::GenericXLogStart(self.rel);
                let flags = if new_page {
                    pg_sys::GENERIC_XLOG_FULL_IMAGE as i32
                } else {
                    0
                };
                (
                    state,
                    pg_sys::GenericXLogRegisterBuffer(state, buffer, flags),
                )
            } else {
                (std::ptr::null_mut(), pg_sys::BufferGetPage(buffer))
            };
            let image = &mut *(page as *mut PageImage);
            if new_page {
                init_page(image);
            }
            PgWriteGuard {
                buffer,
                state,
                view: PageRefMut::new(block, image),
                _rel: PhantomData,
            }
        }
    }
}

/// A share-locked, pinned page.
pub struct PgReadGuard<'a> {
    buffer: pg_sys::Buffer,
    view: PageRef<'a>,
}

impl Drop for PgReadGuard<'_> {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            // SAFETY: the guard owns one pin and the share lock of `buffer`.
            unsafe { pg_sys::UnlockReleaseBuffer(self.buffer) }
        }
    }
}

/// An exclusively locked page; the change becomes one WAL record on drop.
pub struct PgWriteGuard<'a> {
    buffer: pg_sys::Buffer,
    /// Generic-WAL state, null when the relation is being built without WAL.
    state: *mut pg_sys::GenericXLogState,
    view: PageRefMut<'a>,
    _rel: PhantomData<&'a PgRelation>,
}

impl Drop for PgWriteGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        // SAFETY: the guard owns the pin and exclusive lock of `buffer` and,
        // when WAL-logged, the generic-WAL state registered for it.
        unsafe {
            if self.state.is_null() {
                pg_sys::MarkBufferDirty(self.buffer);
            } else {
                pg_sys::GenericXLogFinish(self.state);
            }
            pg_sys::UnlockReleaseBuffer(self.buffer);
        }
    }
}

macro_rules! delegate_page {
    ($guard:ty) => {
        impl Page for $guard {
            fn block(&self) -> BlockNumber {
                self.view.block()
            }
            fn max_offset(&self) -> OffsetNumber {
                self.view.max_offset()
            }
            fn item(&self, offset: OffsetNumber) -> Option<&[u8]> {
                self.view.item(offset)
            }
            fn free_space(&self) -> usize {
                self.view.free_space()
            }
            fn opaque(&self) -> &PageOpaque {
                self.view.opaque()
            }
        }
    };
}

delegate_page!(PgReadGuard<'_>);
delegate_page!(PgWriteGuard<'_>);

impl PageMut for PgWriteGuard<'_> {
    fn item_mut(&mut self, offset: OffsetNumber) -> Option<&mut [u8]> {
        self.view.item_mut(offset)
    }
    fn add_item(&mut self, data: &[u8]) -> Option<OffsetNumber> {
        self.view.add_item(data)
    }
    fn overwrite_item(&mut self, offset: OffsetNumber, data: &[u8]) -> bool {
        self.view.overwrite_item(offset, data)
    }
    fn opaque_mut(&mut self) -> &mut PageOpaque {
        self.view.opaque_mut()
    }
}

/// The index-wide heavyweight lock (`LockPage(index, 0, mode)`).
pub struct PgIndexLock<'a> {
    rel: &'a PgRelation,
    mode: i32,
}

impl Drop for PgIndexLock<'_> {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            // SAFETY: this guard took the lock in `lock_index` with `mode`.
            unsafe { pg_sys::UnlockPage(self.rel.rel, 0, self.mode) }
        }
    }
}

impl Relation for PgRelation {
    type ReadGuard<'a> = PgReadGuard<'a>;
    type WriteGuard<'a> = PgWriteGuard<'a>;
    type IndexLock<'a> = PgIndexLock<'a>;

    fn nblocks(&self) -> BlockNumber {
        // SAFETY: `rel` is an open relation for the lifetime of `self`.
        unsafe { pg_sys::RelationGetNumberOfBlocksInFork(self.rel, self.fork) }
    }

    /// Checked against the cached size; a block past the end raises
    /// `index_corrupted` naming the index (it never returns `Err`).
    fn check_block(&self, block: BlockNumber) -> Result<(), BlockOutOfRange> {
        self.ensure_block(block);
        Ok(())
    }

    /// `CHECK_FOR_INTERRUPTS()`: a pending cancel or timeout raises its
    /// ERROR here, which unwinds through the index code's frames (guards do
    /// nothing while unwinding; transaction abort releases buffers and
    /// locks). Only called on the backend's main thread.
    fn check_interrupts(&self) -> Result<(), Interrupted> {
        pgrx::check_for_interrupts!();
        Ok(())
    }

    fn read(&self, block: BlockNumber) -> PgReadGuard<'_> {
        // SAFETY: `read_buffer` checks the block and pins it; the share lock
        // keeps the page stable while the guard lives; a page is BLCKSZ bytes.
        unsafe {
            let buffer = self.read_buffer(block);
            pg_sys::LockBuffer(buffer, pg_sys::BUFFER_LOCK_SHARE as i32);
            let image = &*(pg_sys::BufferGetPage(buffer) as *const PageImage);
            PgReadGuard {
                buffer,
                view: PageRef::new(block, image),
            }
        }
    }

    /// Pins the buffers of up to [`PREFETCH_BATCH`] items at a time (the
    /// hash lookups' misses overlap), prefetches each page's header and line
    /// pointers, then each item's bytes, and unpins. The `read` that
    /// follows finds everything cached. Blocks past the end are skipped
    /// (the `read` that follows raises the error).
    fn prefetch_items(&self, items: &[pagestore::ItemPointer]) {
        if items.iter().any(|i| self.check_block_size(i.block).is_err()) {
            return;
        }
        for chunk in items.chunks(PREFETCH_BATCH) {
            // SAFETY: every block was checked above; each pin taken is
            // released right after.
            let pinned = unsafe { self.pin_and_prefetch(chunk) };
            for &(buffer, _) in &pinned[..chunk.len()] {
                // SAFETY: one pin taken by `pin_and_prefetch`.
                unsafe { pg_sys::ReleaseBuffer(buffer) };
            }
        }
    }

    /// [`Relation::prefetch_items`], except that each pin is kept for the
    /// item's read: one buffer-table lookup per item instead of two (the
    /// lookups were the largest cost of a graph scan).
    fn read_items(
        &self,
        items: &[pagestore::ItemPointer],
        mut f: impl FnMut(usize, &PgReadGuard<'_>),
    ) -> Result<(), BlockOutOfRange> {
        // Every block is checked before any is pinned.
        for item in items {
            self.ensure_block(item.block);
        }
        for (chunk_index, chunk) in items.chunks(PREFETCH_BATCH).enumerate() {
            // SAFETY: every block was checked above; each pin is handed to a
            // guard below.
            let pinned = unsafe { self.pin_and_prefetch(chunk) };
            for (k, (&(buffer, page), item)) in pinned.iter().zip(chunk).enumerate() {
                // The guard takes over the pin and releases it with the lock.
                // (If `f` raises an ERROR, transaction abort releases the
                // pins not yet handed to a guard.)
                // SAFETY: `buffer` is pinned (by `pin_and_prefetch`); the
                // share lock keeps its page stable while the guard lives.
                let guard = unsafe {
                    pg_sys::LockBuffer(buffer, pg_sys::BUFFER_LOCK_SHARE as i32);
                    PgReadGuard {
                        buffer,
                        view: PageRef::new(item.block, &*(page as *const PageImage)),
                    }
                };
                f(chunk_index * PREFETCH_BATCH + k, &guard);
            }
        }
        Ok(())
    }

    /// Pins `block`, prefetches the start of the page (header and line
    /// pointers) and its end (where the first items are), unpins: a reader
    /// walking the items in order then streams the rest, which the CPU's
    /// own prefetcher follows; hinting all 128 lines at once only stalls on
    /// the full miss queue. (Pinning while another page is share-locked is
    /// what index scans that step right do too.)
    fn prefetch_block(&self, block: BlockNumber) {
        const HEAD: usize = 256;
        const TAIL: usize = 1024;
        // SAFETY: `read_buffer` checks the block and pins it; the page is
        // only prefetched (a hint, within its BLCKSZ bytes), then the pin
        // is released.
        unsafe {
            let buffer = self.read_buffer(block);
            let page = pg_sys::BufferGetPage(buffer) as *const u8;
            prefetch_bytes(page, HEAD);
            prefetch_bytes(page.add(BLCKSZ - TAIL), TAIL);
            pg_sys::ReleaseBuffer(buffer);
        }
    }

    fn write(&self, block: BlockNumber) -> PgWriteGuard<'_> {
        // SAFETY: `read_buffer` checks the block and pins it; the exclusive
        // lock is what `write_guard` requires.
        unsafe {
            let buffer = self.read_buffer(block);
            pg_sys::LockBuffer(buffer, pg_sys::BUFFER_LOCK_EXCLUSIVE as i32);
            self.write_guard(buffer, false)
        }
    }

    fn extend(&self) -> PgWriteGuard<'_> {
        // SAFETY: `new_buffer` returns a new block pinned and exclusively
        // locked, as `write_guard` requires.
        unsafe {
            let buffer = self.new_buffer();
            self.write_guard(buffer, true)
        }
    }

    fn lock_index(&self, mode: LockMode) -> PgIndexLock<'_> {
        let mode = match mode {
            LockMode::Shared => pg_sys::ShareLock,
            LockMode::Exclusive => pg_sys::ExclusiveLock,
        } as i32;
        // SAFETY: `rel` is open; the returned guard releases the lock.
        unsafe { pg_sys::LockPage(self.rel, 0, mode) };
        PgIndexLock { rel: self, mode }
    }
}
