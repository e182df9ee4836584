//! CPU cache prefetch hints for page memory. Index searches over shared
//! buffers are bound by memory latency; asking for several pages' bytes
//! before using any of them lets the cache misses overlap.

use crate::view::{decode_line_pointer, line_pointer_at};
use crate::{OffsetNumber, BLCKSZ};

/// Hints the CPU to load the cache lines of `len` bytes from `start`. A
/// hint cannot fault, whatever the address; it does nothing off x86-64.
#[inline]
pub fn prefetch_bytes(start: *const u8, len: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        let first = start as usize & !63;
        let end = start as usize + len;
        for line in (first..end).step_by(64) {
            // SAFETY: prefetching is a hint and never faults.
            unsafe {
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                    line as *const i8,
                );
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (start, len);
}

/// Hints the CPU to load item `offset` of the page at `page` (its header
/// and line pointer first, then the item's bytes), reading the line
/// pointer without the page's content lock: a torn or stale one only
/// makes a useless prefetch, bounded to the page.
///
/// # Safety
/// `page` must point to `BLCKSZ` readable bytes (e.g. a pinned buffer).
pub unsafe fn prefetch_item(page: *const u8, offset: OffsetNumber) {
    let at = line_pointer_at(offset.max(1));
    if offset == 0 || at + 4 > BLCKSZ {
        return;
    }
    // SAFETY: in bounds of the page per the caller; volatile because
    // another backend may change it concurrently.
    let raw = unsafe { std::ptr::read_volatile(page.add(at) as *const u32) };
    let (off, _, len) = decode_line_pointer(raw);
    let end = (off + len).min(BLCKSZ);
    if off < end {
        // SAFETY: `off < BLCKSZ`, within the page.
        prefetch_bytes(unsafe { page.add(off) }, end - off);
    }
}
