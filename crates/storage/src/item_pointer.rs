//! Postgres tuple identifiers (`ItemPointerData`).

use crate::{BlockNumber, OffsetNumber, INVALID_BLOCK, INVALID_OFFSET};

/// A tuple identifier: block number plus 1-based line-pointer offset.
///
/// Used both for heap TIDs stored in index tuples and for links between
/// index tuples. Serialises to the 6 bytes of Postgres `ItemPointerData`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemPointer {
    /// Block number within the relation.
    pub block: BlockNumber,
    /// 1-based item offset within the block; 0 is invalid.
    pub offset: OffsetNumber,
}

impl ItemPointer {
    /// Serialized size, `sizeof(ItemPointerData)`.
    pub const SIZE: usize = 6;

    /// Postgres' invalid item pointer (`ItemPointerSetInvalid`).
    pub const INVALID: ItemPointer = ItemPointer {
        block: INVALID_BLOCK,
        offset: INVALID_OFFSET,
    };

    /// Creates a pointer to `offset` on `block`.
    pub const fn new(block: BlockNumber, offset: OffsetNumber) -> Self {
        ItemPointer { block, offset }
    }

    /// True unless this is [`ItemPointer::INVALID`]-like (offset 0).
    pub const fn is_valid(&self) -> bool {
        self.offset != INVALID_OFFSET
    }

    /// `ItemPointerData` bytes: `bi_hi`, `bi_lo`, `ip_posid`, native-endian u16s.
    pub fn to_bytes(self) -> [u8; 6] {
        let hi = ((self.block >> 16) as u16).to_ne_bytes();
        let lo = (self.block as u16).to_ne_bytes();
        let pos = self.offset.to_ne_bytes();
        [hi[0], hi[1], lo[0], lo[1], pos[0], pos[1]]
    }

    /// Inverse of [`ItemPointer::to_bytes`].
    #[inline]
    pub fn from_bytes(bytes: [u8; 6]) -> Self {
        let hi = u16::from_ne_bytes([bytes[0], bytes[1]]) as u32;
        let lo = u16::from_ne_bytes([bytes[2], bytes[3]]) as u32;
        let offset = u16::from_ne_bytes([bytes[4], bytes[5]]);
        ItemPointer {
            block: (hi << 16) | lo,
            offset,
        }
    }

    /// Reads a pointer from the first 6 bytes of `buf` (any alignment).
    ///
    /// Panics if `buf` is shorter than 6 bytes.
    #[inline]
    pub fn read_from(buf: &[u8]) -> Self {
        let mut b = [0u8; 6];
        b.copy_from_slice(&buf[..Self::SIZE]);
        Self::from_bytes(b)
    }

    /// Writes the pointer into the first 6 bytes of `buf`.
    ///
    /// Panics if `buf` is shorter than 6 bytes.
    pub fn write_to(self, buf: &mut [u8]) {
        buf[..Self::SIZE].copy_from_slice(&self.to_bytes());
    }

    /// Dense 64-bit key (block in the high bits), handy for hashing/bitsets.
    pub const fn to_u64(self) -> u64 {
        ((self.block as u64) << 16) | self.offset as u64
    }

    /// Inverse of [`ItemPointer::to_u64`].
    pub const fn from_u64(key: u64) -> Self {
        ItemPointer {
            block: (key >> 16) as u32,
            offset: key as u16,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_layout() {
        let tid = ItemPointer::new(0x0102_0304, 0x0506);
        let bytes = tid.to_bytes();
        assert_eq!(&bytes[0..2], &0x0102u16.to_ne_bytes());
        assert_eq!(&bytes[2..4], &0x0304u16.to_ne_bytes());
        assert_eq!(&bytes[4..6], &0x0506u16.to_ne_bytes());
        assert_eq!(ItemPointer::from_bytes(bytes), tid);
        let mut buf = [0u8; 9];
        tid.write_to(&mut buf[3..]);
        assert_eq!(ItemPointer::read_from(&buf[3..]), tid);
        assert_eq!(ItemPointer::from_u64(tid.to_u64()), tid);
        assert!(!ItemPointer::INVALID.is_valid());
        assert!(ItemPointer::INVALID.to_bytes()[..4]
            .iter()
            .all(|&b| b == 0xFF));
    }

    #[test]
    fn u64_key_orders_like_tid() {
        let a = ItemPointer::new(1, 65535);
        let b = ItemPointer::new(2, 1);
        assert!(a < b);
        assert!(a.to_u64() < b.to_u64());
    }
}
