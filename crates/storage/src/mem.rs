//! In-memory [`Relation`] with the exact Postgres page layout.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::layout::{BLCKSZ, SPECIAL_SIZE};
use crate::page::{LockMode, Page, PageMut, Relation};
use crate::view::{init_page, PageImage, PageRef, PageRefMut};
use crate::{BlockNumber, OffsetNumber, PageOpaque};

#[repr(C, align(8))]
struct PageBytes(PageImage);

/// One 8 KiB page in Postgres layout, as stored by [`MemRelation`].
pub struct MemPage {
    block: BlockNumber,
    bytes: Box<PageBytes>,
}

impl MemPage {
    /// An initialised empty page (`PageInit(.., SPECIAL_SIZE)`) for `block`.
    pub fn new(block: BlockNumber) -> Self {
        let mut page = MemPage {
            block,
            bytes: Box::new(PageBytes([0; BLCKSZ])),
        };
        page.init();
        page
    }

    fn init(&mut self) {
        init_page(&mut self.bytes.0);
    }

    /// The raw page image.
    pub fn as_bytes(&self) -> &PageImage {
        &self.bytes.0
    }

    fn view(&self) -> PageRef<'_> {
        PageRef::new(self.block, &self.bytes.0)
    }

    fn view_mut(&mut self) -> PageRefMut<'_> {
        PageRefMut::new(self.block, &mut self.bytes.0)
    }
}

impl Page for MemPage {
    fn block(&self) -> BlockNumber {
        self.block
    }

    fn max_offset(&self) -> OffsetNumber {
        self.view().max_offset()
    }

    fn item(&self, offset: OffsetNumber) -> Option<&[u8]> {
        let range = self.view().item(offset).map(|item| {
            let start = item.as_ptr() as usize - self.bytes.0.as_ptr() as usize;
            start..start + item.len()
        });
        range.map(|r| &self.bytes.0[r])
    }

    fn free_space(&self) -> usize {
        self.view().free_space()
    }

    fn opaque(&self) -> &PageOpaque {
        bytemuck::from_bytes(&self.bytes.0[BLCKSZ - SPECIAL_SIZE..BLCKSZ - SPECIAL_SIZE + 16])
    }
}

impl PageMut for MemPage {
    fn item_mut(&mut self, offset: OffsetNumber) -> Option<&mut [u8]> {
        let base = self.bytes.0.as_ptr() as usize;
        let range = self.view().item(offset).map(|item| {
            let start = item.as_ptr() as usize - base;
            start..start + item.len()
        });
        range.map(|r| &mut self.bytes.0[r])
    }

    fn add_item(&mut self, data: &[u8]) -> Option<OffsetNumber> {
        self.view_mut().add_item(data)
    }

    fn overwrite_item(&mut self, offset: OffsetNumber, data: &[u8]) -> bool {
        self.view_mut().overwrite_item(offset, data)
    }

    fn opaque_mut(&mut self) -> &mut PageOpaque {
        bytemuck::from_bytes_mut(
            &mut self.bytes.0[BLCKSZ - SPECIAL_SIZE..BLCKSZ - SPECIAL_SIZE + 16],
        )
    }
}

/// Page I/O counters of a [`MemRelation`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IoStats {
    /// Shared locks taken (`read`).
    pub reads: u64,
    /// Exclusive locks taken (`write`), excluding `extend`.
    pub writes: u64,
    /// Pages appended (`extend`).
    pub extends: u64,
}

/// Pages of segment `k` (segments grow geometrically so that pages never move
/// and lookups need no relation-wide lock).
const FIRST_SEGMENT_PAGES: usize = 16;
/// Enough segments for more than `u32::MAX` blocks.
const MAX_SEGMENTS: usize = 29;

/// In-memory relation: the reference implementation of [`Relation`].
///
/// Pages sit behind individual `RwLock`s, so the relation is `Sync` and tests
/// can run concurrent readers and writers. Lock poisoning is ignored, so a
/// panicking thread leaves the pages as they were, like a crash would.
pub struct MemRelation {
    segments: [OnceLock<Box<[RwLock<MemPage>]>>; MAX_SEGMENTS],
    nblocks: AtomicU32,
    extend_lock: Mutex<()>,
    index_lock: RwLock<()>,
    reads: AtomicU64,
    writes: AtomicU64,
    extends: AtomicU64,
    /// Remaining page writes (incl. extends) before a simulated crash.
    write_budget: AtomicU64,
    /// Remaining `check_interrupts` calls before a simulated cancel.
    interrupt_budget: AtomicU64,
    /// `check_interrupts` calls so far.
    interrupt_checks: AtomicU64,
    /// Remaining page reads and writes before a simulated runaway stop.
    access_budget: AtomicU64,
}

impl Default for MemRelation {
    fn default() -> Self {
        Self::new()
    }
}

impl MemRelation {
    /// An empty relation (zero blocks).
    pub fn new() -> Self {
        MemRelation {
            segments: std::array::from_fn(|_| OnceLock::new()),
            nblocks: AtomicU32::new(0),
            extend_lock: Mutex::new(()),
            index_lock: RwLock::new(()),
            reads: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            extends: AtomicU64::new(0),
            write_budget: AtomicU64::new(u64::MAX),
            interrupt_budget: AtomicU64::new(u64::MAX),
            interrupt_checks: AtomicU64::new(0),
            access_budget: AtomicU64::new(u64::MAX),
        }
    }

    /// Bounds the work of an operation under test: after `accesses` more
    /// page reads and writes, the next one panics with "page access budget
    /// exhausted" (a test catches it and fails: an endless loop becomes a
    /// test failure instead of a hang). `None` removes the bound.
    pub fn limit_accesses(&self, accesses: Option<u64>) {
        self.access_budget
            .store(accesses.unwrap_or(u64::MAX), Ordering::SeqCst);
    }

    fn spend_access(&self) {
        let ok = self
            .access_budget
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |b| match b {
                u64::MAX => Some(u64::MAX),
                0 => None,
                b => Some(b - 1),
            })
            .is_ok();
        assert!(ok, "page access budget exhausted");
    }

    /// Simulates a query cancel: after `checks` more calls of
    /// [`Relation::check_interrupts`], every call returns `Err(Interrupted)`.
    /// `None` disables it.
    pub fn interrupt_after(&self, checks: Option<u64>) {
        self.interrupt_budget
            .store(checks.unwrap_or(u64::MAX), Ordering::SeqCst);
    }

    /// Calls of [`Relation::check_interrupts`] so far.
    pub fn interrupt_checks(&self) -> u64 {
        self.interrupt_checks.load(Ordering::Relaxed)
    }

    /// I/O counters since creation or the last [`MemRelation::reset_stats`].
    pub fn stats(&self) -> IoStats {
        IoStats {
            reads: self.reads.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
            extends: self.extends.load(Ordering::Relaxed),
        }
    }

    /// Zeroes the I/O counters.
    pub fn reset_stats(&self) {
        self.reads.store(0, Ordering::Relaxed);
        self.writes.store(0, Ordering::Relaxed);
        self.extends.store(0, Ordering::Relaxed);
    }

    /// Simulates a crash: after `writes` more page writes (write or extend
    /// guards), the next attempt panics with "simulated crash". Catch the
    /// panic to inspect the state a crash between two WAL records leaves.
    /// `None` disables the limit.
    pub fn crash_after_writes(&self, writes: Option<u64>) {
        self.write_budget
            .store(writes.unwrap_or(u64::MAX), Ordering::SeqCst);
    }

    /// Runs `f` on the raw bytes of `block` under its exclusive lock, for
    /// tests that simulate damaged pages (no write is counted).
    pub fn with_raw_page(&self, block: BlockNumber, f: impl FnOnce(&mut PageImage)) {
        let mut page = self.page(block).write().unwrap_or_else(|e| e.into_inner());
        f(&mut page.bytes.0);
    }

    /// Total bytes of all pages, like `pg_relation_size`.
    pub fn size_bytes(&self) -> u64 {
        self.nblocks() as u64 * BLCKSZ as u64
    }

    fn locate(block: BlockNumber) -> (usize, usize) {
        let n = block as usize / FIRST_SEGMENT_PAGES + 1;
        let segment = (usize::BITS - 1 - n.leading_zeros()) as usize;
        let start = FIRST_SEGMENT_PAGES * ((1 << segment) - 1);
        (segment, block as usize - start)
    }

    fn segment(&self, segment: usize) -> &[RwLock<MemPage>] {
        self.segments[segment].get_or_init(|| {
            let start = FIRST_SEGMENT_PAGES * ((1 << segment) - 1);
            (0..FIRST_SEGMENT_PAGES << segment)
                .map(|i| RwLock::new(MemPage::new((start + i) as BlockNumber)))
                .collect()
        })
    }

    fn page(&self, block: BlockNumber) -> &RwLock<MemPage> {
        let nblocks = self.nblocks();
        assert!(
            block < nblocks,
            "block {block} out of range for relation with {nblocks} blocks"
        );
        let (segment, index) = Self::locate(block);
        &self.segment(segment)[index]
    }

    fn spend_write(&self) {
        let ok = self
            .write_budget
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |b| match b {
                u64::MAX => Some(u64::MAX),
                0 => None,
                b => Some(b - 1),
            })
            .is_ok();
        assert!(ok, "simulated crash");
    }
}

/// Index-wide lock of a [`MemRelation`] (see [`Relation::lock_index`]).
pub enum MemIndexLock<'a> {
    /// Held in [`LockMode::Shared`].
    Shared(RwLockReadGuard<'a, ()>),
    /// Held in [`LockMode::Exclusive`].
    Exclusive(RwLockWriteGuard<'a, ()>),
}

/// Shared lock on a [`MemRelation`] page.
pub struct MemReadGuard<'a>(RwLockReadGuard<'a, MemPage>);

/// Exclusive lock on a [`MemRelation`] page.
pub struct MemWriteGuard<'a>(RwLockWriteGuard<'a, MemPage>);

/// Implements [`Page`] for a lock guard by delegating to its `MemPage`.
macro_rules! page_via_guard {
    ($guard:ty) => {
        impl Page for $guard {
            fn block(&self) -> BlockNumber {
                self.0.block()
            }
            fn max_offset(&self) -> OffsetNumber {
                self.0.max_offset()
            }
            fn item(&self, offset: OffsetNumber) -> Option<&[u8]> {
                self.0.item(offset)
            }
            fn free_space(&self) -> usize {
                self.0.free_space()
            }
            fn opaque(&self) -> &PageOpaque {
                self.0.opaque()
            }
        }
    };
}

page_via_guard!(MemReadGuard<'_>);
page_via_guard!(MemWriteGuard<'_>);

impl PageMut for MemWriteGuard<'_> {
    fn item_mut(&mut self, offset: OffsetNumber) -> Option<&mut [u8]> {
        self.0.item_mut(offset)
    }
    fn add_item(&mut self, data: &[u8]) -> Option<OffsetNumber> {
        self.0.add_item(data)
    }
    fn overwrite_item(&mut self, offset: OffsetNumber, data: &[u8]) -> bool {
        self.0.overwrite_item(offset, data)
    }
    fn opaque_mut(&mut self) -> &mut PageOpaque {
        self.0.opaque_mut()
    }
}

impl Relation for MemRelation {
    type ReadGuard<'a> = MemReadGuard<'a>;
    type WriteGuard<'a> = MemWriteGuard<'a>;
    type IndexLock<'a> = MemIndexLock<'a>;

    fn nblocks(&self) -> BlockNumber {
        self.nblocks.load(Ordering::Acquire)
    }

    fn read(&self, block: BlockNumber) -> MemReadGuard<'_> {
        self.spend_access();
        self.reads.fetch_add(1, Ordering::Relaxed);
        let lock = self.page(block);
        MemReadGuard(lock.read().unwrap_or_else(|e| e.into_inner()))
    }

    fn check_interrupts(&self) -> Result<(), crate::Interrupted> {
        self.interrupt_checks.fetch_add(1, Ordering::Relaxed);
        self.interrupt_budget
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |b| match b {
                u64::MAX => Some(u64::MAX),
                0 => None,
                b => Some(b - 1),
            })
            .map(|_| ())
            .map_err(|_| crate::Interrupted)
    }

    fn write(&self, block: BlockNumber) -> MemWriteGuard<'_> {
        self.spend_access();
        self.spend_write();
        self.writes.fetch_add(1, Ordering::Relaxed);
        let lock = self.page(block);
        MemWriteGuard(lock.write().unwrap_or_else(|e| e.into_inner()))
    }

    fn extend(&self) -> MemWriteGuard<'_> {
        self.spend_access();
        self.spend_write();
        self.extends.fetch_add(1, Ordering::Relaxed);
        let _extending = self.extend_lock.lock().unwrap_or_else(|e| e.into_inner());
        let block = self.nblocks.load(Ordering::Acquire);
        assert!(block != u32::MAX, "relation is full");
        let (segment, index) = Self::locate(block);
        let mut guard = self.segment(segment)[index]
            .write()
            .unwrap_or_else(|e| e.into_inner());
        guard.init();
        // Publish only after the page is initialised and locked, as the
        // buffer manager does for a new buffer.
        self.nblocks.store(block + 1, Ordering::Release);
        MemWriteGuard(guard)
    }

    fn lock_index(&self, mode: LockMode) -> MemIndexLock<'_> {
        match mode {
            LockMode::Shared => {
                MemIndexLock::Shared(self.index_lock.read().unwrap_or_else(|e| e.into_inner()))
            }
            LockMode::Exclusive => {
                MemIndexLock::Exclusive(self.index_lock.write().unwrap_or_else(|e| e.into_inner()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{max_item_size, usable_space, ItemPointer, ITEM_ID_SIZE};
    use std::sync::Arc;

    #[test]
    fn empty_page_accounting() {
        let page = MemPage::new(7);
        assert_eq!(page.block(), 7);
        assert_eq!(page.max_offset(), 0);
        assert_eq!(page.free_space(), usable_space(SPECIAL_SIZE) - ITEM_ID_SIZE);
        assert_eq!(*page.opaque(), PageOpaque::EMPTY);
        assert!(page.item(0).is_none() && page.item(1).is_none());
        assert!(page.fits(max_item_size(SPECIAL_SIZE)));
        assert!(!page.fits(max_item_size(SPECIAL_SIZE) + 1));
    }

    #[test]
    fn add_items_until_full_matches_postgres_arithmetic() {
        let mut page = MemPage::new(0);
        // Each 100-byte item costs MAXALIGN(100) = 104 + 4 = 108 bytes.
        let expected = usable_space(SPECIAL_SIZE) / 108;
        let mut n = 0;
        while let Some(off) = page.add_item(&[n as u8; 100]) {
            n += 1;
            assert_eq!(off as usize, n);
        }
        assert_eq!(n, expected);
        for i in 1..=n {
            let item = page.item(i as u16).unwrap();
            assert_eq!(item.len(), 100);
            assert!(item.iter().all(|&b| b == (i - 1) as u8));
            // Items start MAXALIGNed.
            assert_eq!((item.as_ptr() as usize) % 8, 0);
        }
        assert!(page.free_space() < 104);
    }

    #[test]
    fn largest_item_fits_exactly() {
        let mut page = MemPage::new(0);
        let max = max_item_size(SPECIAL_SIZE);
        assert_eq!(page.add_item(&vec![1; max]), Some(1));
        assert_eq!(page.free_space(), 0);
        assert!(page.add_item(&[1]).is_none());
        let mut page = MemPage::new(0);
        assert!(page.add_item(&vec![1; max + 1]).is_none());
    }

    #[test]
    fn item_mut_and_opaque_mut() {
        let mut page = MemPage::new(0);
        let off = page.add_item(&[0; 10]).unwrap();
        page.item_mut(off).unwrap()[3] = 9;
        assert_eq!(page.item(off).unwrap()[3], 9);
        page.opaque_mut().next = 42;
        page.opaque_mut().page_id = 0xABCD;
        assert_eq!(page.opaque().next, 42);
        assert_eq!(page.opaque().page_id, 0xABCD);
        // The opaque lives in the last 16 bytes, untouched by items.
        assert_eq!(
            &page.as_bytes()[BLCKSZ - 16..BLCKSZ - 12],
            &42u32.to_ne_bytes()
        );
    }

    #[test]
    fn overwrite_grow_shrink_keeps_other_items() {
        let mut page = MemPage::new(0);
        let a = page.add_item(&[1; 20]).unwrap();
        let b = page.add_item(&[2; 30]).unwrap();
        let c = page.add_item(&[3; 40]).unwrap();
        let free0 = page.free_space();
        assert!(page.overwrite_item(b, &[9; 100]));
        assert_eq!(page.free_space(), free0 - (104 - 32));
        assert_eq!(page.item(a).unwrap(), &[1; 20]);
        assert_eq!(page.item(b).unwrap(), &[9; 100]);
        assert_eq!(page.item(c).unwrap(), &[3; 40]);
        assert!(page.overwrite_item(a, &[7; 1]));
        assert_eq!(page.item(a).unwrap(), &[7; 1]);
        assert_eq!(page.item(b).unwrap(), &[9; 100]);
        assert_eq!(page.item(c).unwrap(), &[3; 40]);
        assert_eq!(page.free_space(), free0 - (104 - 32) + (24 - 8));
        for off in [a, b, c] {
            assert_eq!(page.item(off).unwrap().as_ptr() as usize % 8, 0);
        }
        assert!(!page.overwrite_item(4, &[0]));
        assert!(!page.overwrite_item(a, &vec![0; 9000]));
        assert_eq!(page.item(a).unwrap(), &[7; 1]);
    }

    #[test]
    fn overwrite_can_use_all_free_space() {
        let mut page = MemPage::new(0);
        let a = page.add_item(&[1; 8]).unwrap();
        let max_len = (8 + page.free_space() + ITEM_ID_SIZE) & !7;
        assert!(!page.overwrite_item(a, &vec![5; max_len + 1]));
        assert!(page.overwrite_item(a, &vec![5; max_len]));
        assert_eq!(page.free_space(), 0);
    }

    #[test]
    fn segment_location_is_contiguous() {
        let mut expected = (0, 0);
        for block in 0..5000u32 {
            let loc = MemRelation::locate(block);
            if block > 0 {
                if loc.0 == expected.0 {
                    assert_eq!(loc.1, expected.1 + 1);
                } else {
                    assert_eq!(loc, (expected.0 + 1, 0));
                    assert_eq!(expected.1 + 1, FIRST_SEGMENT_PAGES << expected.0);
                }
            }
            expected = loc;
        }
        let (segment, _) = MemRelation::locate(u32::MAX - 1);
        assert!(segment < MAX_SEGMENTS);
    }

    #[test]
    fn relation_extend_read_write_and_stats() {
        let rel = MemRelation::new();
        assert_eq!(rel.nblocks(), 0);
        for i in 0..100u32 {
            let mut page = rel.extend();
            assert_eq!(page.block(), i);
            page.opaque_mut().page_id = 1;
            page.add_item(&i.to_ne_bytes()).unwrap();
        }
        assert_eq!(rel.nblocks(), 100);
        assert_eq!(rel.size_bytes(), 100 * 8192);
        {
            let mut page = rel.write(57);
            page.item_mut(1)
                .unwrap()
                .copy_from_slice(&1000u32.to_ne_bytes());
        }
        for i in 0..100u32 {
            let page = rel.read(i);
            let want = if i == 57 { 1000 } else { i };
            assert_eq!(page.item(1).unwrap(), &want.to_ne_bytes());
            assert_eq!(page.opaque().page_id, 1);
        }
        assert_eq!(
            rel.stats(),
            IoStats {
                reads: 100,
                writes: 1,
                extends: 100
            }
        );
        rel.reset_stats();
        assert_eq!(rel.stats(), IoStats::default());
    }

    #[test]
    fn index_lock_excludes_shared_holders() {
        let rel = Arc::new(MemRelation::new());
        let shared = rel.lock_index(LockMode::Shared);
        let _also_shared = rel.lock_index(LockMode::Shared);
        let (tx, rx) = std::sync::mpsc::channel();
        let waiter = {
            let rel = rel.clone();
            std::thread::spawn(move || {
                let _exclusive = rel.lock_index(LockMode::Exclusive);
                tx.send(()).unwrap();
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(
            rx.try_recv().is_err(),
            "exclusive granted while shared held"
        );
        drop(shared);
        drop(_also_shared);
        rx.recv().unwrap();
        waiter.join().unwrap();
    }

    #[test]
    #[should_panic(expected = "out of range")]
    fn reading_past_end_panics() {
        let rel = MemRelation::new();
        rel.extend();
        let _ = rel.read(1);
    }

    #[test]
    fn checked_reads_refuse_blocks_past_the_end() {
        let rel = MemRelation::new();
        rel.extend();
        rel.extend();
        assert!(rel.try_read(1).is_ok());
        for block in [2, 3, u32::MAX] {
            let want = crate::BlockOutOfRange { block, nblocks: 2 };
            assert_eq!(rel.try_read(block).err(), Some(want));
            assert_eq!(rel.try_write(block).err(), Some(want));
            let items = [ItemPointer::new(0, 1), ItemPointer::new(block, 1)];
            let mut seen = 0;
            assert_eq!(rel.read_items(&items, |_, _| seen += 1), Err(want));
            assert_eq!(seen, 0, "nothing is read when one block is bad");
        }
        assert_eq!(rel.nblocks(), 2);
    }

    #[test]
    fn simulated_interrupt_trips_after_n_checks() {
        let rel = MemRelation::new();
        let mut ticker = crate::InterruptTicker::new(10);
        for _ in 0..1000 {
            ticker.tick(&rel).unwrap();
        }
        assert_eq!(rel.interrupt_checks(), 100);
        rel.interrupt_after(Some(3));
        for _ in 0..3 {
            rel.check_interrupts().unwrap();
        }
        assert_eq!(rel.check_interrupts(), Err(crate::Interrupted));
        assert_eq!(rel.check_interrupts(), Err(crate::Interrupted));
        rel.interrupt_after(None);
        rel.check_interrupts().unwrap();
    }

    #[test]
    fn simulated_crash_keeps_completed_writes() {
        let rel = MemRelation::new();
        rel.extend().add_item(&[0]).unwrap();
        rel.crash_after_writes(Some(2));
        let result = std::panic::catch_unwind(|| {
            for v in 1..10u8 {
                rel.write(0).item_mut(1).unwrap()[0] = v;
            }
        });
        assert!(result.is_err());
        assert_eq!(rel.read(0).item(1).unwrap(), &[2]);
        rel.crash_after_writes(None);
        rel.write(0).item_mut(1).unwrap()[0] = 3;
        assert_eq!(rel.read(0).item(1).unwrap(), &[3]);
    }

    #[test]
    fn concurrent_readers_and_writers() {
        let rel = Arc::new(MemRelation::new());
        for _ in 0..4 {
            rel.extend().add_item(&[0u8; 16]).unwrap();
        }
        let writers: Vec<_> = (0..2)
            .map(|t| {
                let rel = rel.clone();
                std::thread::spawn(move || {
                    for i in 0..2000u64 {
                        let mut page = rel.write((i % 4) as u32);
                        // Both halves always hold the same value.
                        let v = (i * 2 + t).to_ne_bytes();
                        let item = page.item_mut(1).unwrap();
                        item[..8].copy_from_slice(&v);
                        item[8..].copy_from_slice(&v);
                    }
                    for _ in 0..50 {
                        let mut page = rel.extend();
                        page.add_item(&ItemPointer::new(1, 1).to_bytes()).unwrap();
                    }
                })
            })
            .collect();
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let rel = rel.clone();
                std::thread::spawn(move || {
                    for i in 0..4000u32 {
                        let page = rel.read(i % 4);
                        let item = page.item(1).unwrap();
                        assert_eq!(item[..8], item[8..]);
                        let n = rel.nblocks();
                        assert_eq!(rel.read(n - 1).max_offset(), 1);
                    }
                })
            })
            .collect();
        for t in writers.into_iter().chain(readers) {
            t.join().unwrap();
        }
        assert_eq!(rel.nblocks(), 104);
    }
}
