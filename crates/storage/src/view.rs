//! Page logic over a borrowed 8 KiB image, so that every [`Relation`]
//! implementation (in-memory pages, Postgres shared buffers, generic-WAL page
//! copies) shares one tested implementation of the Postgres page layout.
//!
//! [`Relation`]: crate::Relation

use crate::layout::{
    maxalign, BLCKSZ, ITEM_ID_SIZE, MAXIMUM_ALIGNOF, PAGE_HEADER_SIZE, SPECIAL_SIZE,
};
use crate::page::{Page, PageMut};
use crate::{BlockNumber, OffsetNumber, PageOpaque};

// Byte offsets of `PageHeaderData` fields used here.
const PD_LOWER: usize = 12;
const PD_UPPER: usize = 14;
const PD_SPECIAL: usize = 16;
const PD_PAGESIZE_VERSION: usize = 18;
/// `PG_PAGE_LAYOUT_VERSION`.
const PAGE_LAYOUT_VERSION: u16 = 4;
/// `LP_NORMAL`: line pointer in use, with storage.
const LP_NORMAL: u32 = 1;

/// An 8 KiB page image, 8-byte aligned like a Postgres buffer.
pub type PageImage = [u8; BLCKSZ];

/// Initialises `image` like `PageInit(page, BLCKSZ, SPECIAL_SIZE)` followed by
/// writing [`PageOpaque::EMPTY`] into the special area.
pub fn init_page(image: &mut PageImage) {
    image.fill(0);
    let special = (BLCKSZ - SPECIAL_SIZE) as u16;
    set_u16(image, PD_LOWER, PAGE_HEADER_SIZE as u16);
    set_u16(image, PD_UPPER, special);
    set_u16(image, PD_SPECIAL, special);
    set_u16(
        image,
        PD_PAGESIZE_VERSION,
        BLCKSZ as u16 | PAGE_LAYOUT_VERSION,
    );
    *bytemuck::from_bytes_mut(&mut image[special_range()]) = PageOpaque::EMPTY;
}

/// True if `image` is all zeroes (`PageIsNew`: a block extended but never
/// initialised, e.g. after a crash during relation extension).
pub fn page_is_new(image: &PageImage) -> bool {
    get_u16(image, PD_UPPER) == 0
}

fn get_u16(image: &PageImage, at: usize) -> u16 {
    u16::from_ne_bytes([image[at], image[at + 1]])
}

fn set_u16(image: &mut PageImage, at: usize, v: u16) {
    image[at..at + 2].copy_from_slice(&v.to_ne_bytes());
}

fn special_range() -> std::ops::Range<usize> {
    BLCKSZ - SPECIAL_SIZE..BLCKSZ - SPECIAL_SIZE + std::mem::size_of::<PageOpaque>()
}

pub(crate) fn line_pointer_at(offset: OffsetNumber) -> usize {
    PAGE_HEADER_SIZE + (offset as usize - 1) * ITEM_ID_SIZE
}

/// `(lp_off, lp_flags, lp_len)` of a line pointer. Line pointers are GCC
/// bitfields `lp_off:15, lp_flags:2, lp_len:15` packed from the least
/// significant bit.
fn line_pointer(image: &PageImage, offset: OffsetNumber) -> (usize, u32, usize) {
    let at = line_pointer_at(offset);
    decode_line_pointer(u32::from_ne_bytes(image[at..at + 4].try_into().unwrap()))
}

/// `(lp_off, lp_flags, lp_len)` of a raw line pointer.
pub(crate) fn decode_line_pointer(raw: u32) -> (usize, u32, usize) {
    (
        (raw & 0x7FFF) as usize,
        (raw >> 15) & 3,
        (raw >> 17) as usize,
    )
}

fn set_line_pointer(
    image: &mut PageImage,
    offset: OffsetNumber,
    off: usize,
    flags: u32,
    len: usize,
) {
    let raw = (off as u32 & 0x7FFF) | (flags << 15) | ((len as u32) << 17);
    let at = line_pointer_at(offset);
    image[at..at + 4].copy_from_slice(&raw.to_ne_bytes());
}

fn lower(image: &PageImage) -> usize {
    get_u16(image, PD_LOWER) as usize
}

fn upper(image: &PageImage) -> usize {
    get_u16(image, PD_UPPER) as usize
}

/// True if the header's `pd_lower <= pd_upper <= pd_special` bounds are
/// sane (what `PageIsVerified` checks). A page that fails reads as having
/// no items and no free space, so a damaged header can never make the page
/// code index outside the page.
fn header_ok(image: &PageImage) -> bool {
    let (lower, upper) = (lower(image), upper(image));
    let special = get_u16(image, PD_SPECIAL) as usize;
    PAGE_HEADER_SIZE <= lower
        && lower <= upper
        && upper <= special
        && special == BLCKSZ - SPECIAL_SIZE
}

fn max_offset(image: &PageImage) -> OffsetNumber {
    if !header_ok(image) {
        return 0;
    }
    ((lower(image) - PAGE_HEADER_SIZE) / ITEM_ID_SIZE) as OffsetNumber
}

/// Location of an item with storage; `None` for bad offsets and for line
/// pointers that would point outside the page or at a position that is not
/// MAXALIGNed (Postgres places every item MAXALIGNed): a corrupt page
/// yields no item rather than a panic, an out-of-bounds or a misaligned read.
fn item_range(image: &PageImage, offset: OffsetNumber) -> Option<std::ops::Range<usize>> {
    if offset == 0 || offset > max_offset(image) {
        return None;
    }
    let (off, flags, len) = line_pointer(image, offset);
    (flags == LP_NORMAL
        && off >= PAGE_HEADER_SIZE
        && off % MAXIMUM_ALIGNOF == 0
        && off + len <= BLCKSZ - SPECIAL_SIZE)
        .then_some(off..off + len)
}

fn free_space(image: &PageImage) -> usize {
    if !header_ok(image) {
        return 0;
    }
    upper(image)
        .saturating_sub(lower(image))
        .saturating_sub(ITEM_ID_SIZE)
}

fn opaque(image: &PageImage) -> &PageOpaque {
    bytemuck::from_bytes(&image[special_range()])
}

/// A read-only page view.
pub struct PageRef<'a> {
    block: BlockNumber,
    image: &'a PageImage,
}

impl<'a> PageRef<'a> {
    /// Views `image` as block `block`.
    pub fn new(block: BlockNumber, image: &'a PageImage) -> Self {
        PageRef { block, image }
    }
}

/// A writable page view.
pub struct PageRefMut<'a> {
    block: BlockNumber,
    image: &'a mut PageImage,
}

impl<'a> PageRefMut<'a> {
    /// Views `image` as block `block`.
    pub fn new(block: BlockNumber, image: &'a mut PageImage) -> Self {
        PageRefMut { block, image }
    }
}

macro_rules! read_methods {
    ($view:ty) => {
        impl Page for $view {
            fn block(&self) -> BlockNumber {
                self.block
            }
            fn max_offset(&self) -> OffsetNumber {
                max_offset(self.image)
            }
            fn item(&self, offset: OffsetNumber) -> Option<&[u8]> {
                item_range(self.image, offset).map(|r| &self.image[r])
            }
            fn free_space(&self) -> usize {
                free_space(self.image)
            }
            fn opaque(&self) -> &PageOpaque {
                opaque(self.image)
            }
        }
    };
}

read_methods!(PageRef<'_>);
read_methods!(PageRefMut<'_>);

impl PageMut for PageRefMut<'_> {
    fn item_mut(&mut self, offset: OffsetNumber) -> Option<&mut [u8]> {
        item_range(self.image, offset).map(|r| &mut self.image[r])
    }

    fn add_item(&mut self, data: &[u8]) -> Option<OffsetNumber> {
        let image = &mut *self.image;
        if !header_ok(image) {
            return None;
        }
        let aligned = maxalign(data.len());
        let (lower, upper) = (lower(image), upper(image));
        if lower + ITEM_ID_SIZE + aligned > upper {
            return None;
        }
        let offset = max_offset(image) + 1;
        let start = upper - aligned;
        image[start..start + data.len()].copy_from_slice(data);
        image[start + data.len()..upper].fill(0);
        set_line_pointer(image, offset, start, LP_NORMAL, data.len());
        set_u16(image, PD_LOWER, (lower + ITEM_ID_SIZE) as u16);
        set_u16(image, PD_UPPER, start as u16);
        Some(offset)
    }

    fn overwrite_item(&mut self, offset: OffsetNumber, data: &[u8]) -> bool {
        let image = &mut *self.image;
        let Some(old) = item_range(image, offset) else {
            return false;
        };
        let (lower, upper) = (lower(image), upper(image));
        if old.start < upper || old.start + maxalign(old.len()) > BLCKSZ - SPECIAL_SIZE {
            // A line pointer into the free space or the special area: damaged.
            return false;
        }
        let old_aligned = maxalign(old.len());
        let new_aligned = maxalign(data.len());
        if new_aligned > old_aligned + (upper - lower) {
            return false;
        }
        // Same algorithm as PageIndexTupleOverwrite: slide the data stored
        // below the target (lower addresses) by the size difference.
        let item_start = old.start;
        let shift = old_aligned as isize - new_aligned as isize;
        if shift != 0 {
            let dest = (upper as isize + shift) as usize;
            image.copy_within(upper..item_start, dest);
            set_u16(image, PD_UPPER, dest as u16);
            for other in 1..=max_offset(image) {
                let (off, flags, len) = line_pointer(image, other);
                if flags == LP_NORMAL && off <= item_start {
                    let moved = (off as isize + shift) as usize;
                    set_line_pointer(image, other, moved, flags, len);
                }
            }
        }
        let start = (item_start as isize + shift) as usize;
        set_line_pointer(image, offset, start, LP_NORMAL, data.len());
        image[start..start + data.len()].copy_from_slice(data);
        image[start + data.len()..start + new_aligned].fill(0);
        true
    }

    fn opaque_mut(&mut self) -> &mut PageOpaque {
        bytemuck::from_bytes_mut(&mut self.image[special_range()])
    }
}
