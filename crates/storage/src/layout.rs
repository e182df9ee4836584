//! Postgres page-layout constants and the space arithmetic derived from them.

use crate::opaque::PageOpaque;

/// Page size in bytes (Postgres default `BLCKSZ`).
pub const BLCKSZ: usize = 8192;
/// `SizeOfPageHeaderData`: the fixed page header.
pub const PAGE_HEADER_SIZE: usize = 24;
/// `sizeof(ItemIdData)`: one line pointer.
pub const ITEM_ID_SIZE: usize = 4;
/// `MAXIMUM_ALIGNOF` on all 64-bit platforms Postgres supports.
pub const MAXIMUM_ALIGNOF: usize = 8;
/// Size of the special area reserved by every page of this crate's users:
/// `MAXALIGN(sizeof(PageOpaque))`.
pub const SPECIAL_SIZE: usize = maxalign(std::mem::size_of::<PageOpaque>());

/// `MAXALIGN(len)`: rounds up to the platform's maximum alignment.
pub const fn maxalign(len: usize) -> usize {
    (len + MAXIMUM_ALIGNOF - 1) & !(MAXIMUM_ALIGNOF - 1)
}

/// Bytes between the page header and the special area of an empty page
/// initialised with `PageInit(page, BLCKSZ, special_size)`.
pub const fn usable_space(special_size: usize) -> usize {
    BLCKSZ - PAGE_HEADER_SIZE - maxalign(special_size)
}

/// Largest item (unaligned length) that fits on an otherwise empty page with
/// the given special size: one line pointer plus the MAXALIGNed data.
pub const fn max_item_size(special_size: usize) -> usize {
    (usable_space(special_size) - ITEM_ID_SIZE) & !(MAXIMUM_ALIGNOF - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_match_postgres() {
        assert_eq!(SPECIAL_SIZE, 16);
        assert_eq!(maxalign(0), 0);
        assert_eq!(maxalign(1), 8);
        assert_eq!(maxalign(8), 8);
        assert_eq!(maxalign(9), 16);
        assert_eq!(usable_space(SPECIAL_SIZE), 8192 - 24 - 16);
        // 8152 - 4 = 8148, rounded down to 8 -> 8144.
        assert_eq!(max_item_size(SPECIAL_SIZE), 8144);
        assert_eq!(max_item_size(0), 8160);
    }
}
