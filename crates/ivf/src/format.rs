//! On-page format of an IVF index, versions 1 to 3.
//!
//! All pages use the standard Postgres layout of the page store (header, line
//! pointers, MAXALIGNed items, a 16-byte [`PageOpaque`]). Integers are
//! native-endian, like every Postgres on-disk structure. Every page carries
//! `opaque.page_id = IVF_PAGE_ID` and its role in the low bits of
//! `opaque.flags`.
//!
//! ## Block 0: meta page (`PageRole::Meta`)
//! One item, [`MetaTuple`] (40 bytes):
//!
//! | offset | field                  | meaning                                              |
//! |-------:|------------------------|------------------------------------------------------|
//! |      0 | `magic: u32`           | [`META_MAGIC`]                                       |
//! |      4 | `version: u32`         | [`FORMAT_VERSION`]; readers reject others            |
//! |      8 | `dims: u32`            | vector dimensions (informational for the caller)     |
//! |     12 | `payload_size: u32`    | bytes of every centroid and list-tuple payload       |
//! |     16 | `lists: u32`           | number of centroids / inverted lists                 |
//! |     20 | `space_id: u32`        | caller-defined id of the metric and payload encoding |
//! |     24 | `quantization: u32`    | [`QUANTIZATION_NONE`]: payloads are the vectors; [`QUANTIZATION_HALF`]: half-precision copies |
//! |     28 | `first_centroid_block` | head of the centroid page chain                      |
//! |     32 | `reserved: [u32; 2]`   | zero                                                 |
//!
//! ## Centroid pages (`PageRole::Centroids`)
//! Chained through `opaque.next` from `first_centroid_block`; list `i` is the
//! `i`-th centroid item in chain order. Each item is a [`CentroidHeader`]
//! followed by the centroid payload (`payload_size` bytes, 8-byte aligned):
//!
//! | offset | field                 | meaning                                               |
//! |-------:|-----------------------|-------------------------------------------------------|
//! |      0 | `head: u32`           | first page of the list, `INVALID_BLOCK` if none yet   |
//! |      4 | `insert_block: u32`   | page inserts start from (see below)                   |
//! |      8 | `tuples: u64`         | live tuples counted by the last build or vacuum       |
//! |     16 | payload               | the centroid                                          |
//!
//! `insert_block` is a hint: after a build it is the tail of the list, inserts
//! move it to the pages they add, vacuum moves it back to the first page with
//! free space. Inserts always follow `next` links from it to the real tail, so
//! a stale value (e.g. after a crash between two page writes) is harmless.
//! `tuples` is not maintained by inserts, which would make the centroid page a
//! write hot spot; it is exact after build and after vacuum.
//!
//! ## List pages (`PageRole::List`)
//! Chained through `opaque.next`, `INVALID_BLOCK` ending the list. Each item is
//! a [`ListTupleHeader`] followed by the payload (8-byte aligned):
//!
//! | offset | field            | meaning                               |
//! |-------:|------------------|---------------------------------------|
//! |      0 | `tid: [u8; 6]`   | heap TID (`ItemPointerData` layout)   |
//! |      6 | `reserved: u16`  | zero                                  |
//! |      8 | payload          | the vector, `payload_size` bytes      |
//!
//! ## Code indexes (versions 2 and 3)
//! A code index ([`QUANTIZATION_RABITQ`]) stores RaBitQ codes in its list
//! tuples and f32 centroids (see [`RabitqTrailer`] for the meta item). Up to
//! 2,032 dimensions a centroid item fits a page and the index is
//! [`FORMAT_VERSION_RABITQ`]: the layout above. Beyond, it is
//! [`FORMAT_VERSION_RABITQ_SPANNING`] and every centroid spans
//! [`centroid_pages`] consecutive pages of the centroid chain, one item per
//! page: the first page (`PageRole::Centroids`) holds the header and the
//! first [`max_payload_size`] bytes of the centroid (an item of
//! [`max_item_size`] bytes), each following page
//! (`PageRole::CentroidPiece`) the next [`max_item_size`] bytes (the last
//! one the rest). Sizes follow from `payload_size`, so a reader checks every
//! piece's role, item count and length, and a damaged chain is an error.
//! The list pages are as above (a code of 16,000 dimensions at 4 bits is
//! 8,016 bytes and fits a page).
//!
//! An item of exactly [`LIST_TUPLE_HEADER_SIZE`] bytes with an invalid TID is
//! an *empty slot*: what vacuum leaves of a dead tuple (the page-store API
//! keeps line pointers, so vacuum shrinks the item instead of deleting it;
//! the page's data area is compacted). Pages holding empty slots have
//! [`FLAG_HAS_EMPTY_SLOTS`] set, and inserts fill those slots before adding
//! line pointers, so the line-pointer array stays bounded.

use bytemuck::{Pod, Zeroable};
use pagestore::{
    max_item_size, maxalign, usable_space, BlockNumber, ItemPointer, PageOpaque, INVALID_BLOCK,
    ITEM_ID_SIZE, SPECIAL_SIZE,
};

use crate::error::IvfError;

/// `opaque.page_id` of every page of an IVF index: distinct from the HNSW
/// pages' `0xFF94`, so a page of one access method is never taken for the
/// other's. (Indexes written before the change, when both were `0xFF94`,
/// read as "not an ivfflat index": REINDEX them.)
pub const IVF_PAGE_ID: u16 = 0xFF95;
/// Upper bound of `MetaTuple::lists` (pgvector's `IVFFLAT_MAX_LISTS`).
pub const MAX_LISTS: u32 = 32_768;
/// `MetaTuple::magic`: "IVFR" in ASCII.
pub const META_MAGIC: u32 = 0x4956_4652;
/// The format version of indexes storing vectors (`quantization` none or
/// half): written and read by this code.
pub const FORMAT_VERSION: u32 = 1;
/// The format version of indexes storing RaBitQ codes: the meta item is a
/// [`MetaTuple`] followed by a [`RabitqTrailer`] (see [`RabitqMeta`]).
pub const FORMAT_VERSION_RABITQ: u32 = 2;
/// The format version of code indexes whose centroids span pages
/// (`payload_size` above [`max_payload_size`]): as
/// [`FORMAT_VERSION_RABITQ`] but for the centroid pages (see the module
/// documentation). Readers of versions 1 and 2 reject it as a newer version
/// instead of misreading its centroid chain.
pub const FORMAT_VERSION_RABITQ_SPANNING: u32 = 3;
/// Largest centroid payload of a [`FORMAT_VERSION_RABITQ_SPANNING`] index:
/// f32 centroids of the rotation's largest dimension.
pub const MAX_SPANNING_PAYLOAD_SIZE: usize = 4 * quant::rotation::MAX_DIMS;
/// `MetaTuple::quantization`: list tuples store the caller's payload as is.
pub const QUANTIZATION_NONE: u32 = 0;
/// `MetaTuple::quantization`: the caller's payloads are half-precision
/// copies of its vectors (the crate treats them like any payload; the value
/// tells every reader of the index how the caller encoded them).
pub const QUANTIZATION_HALF: u32 = 1;
/// `MetaTuple::quantization` of a [`FORMAT_VERSION_RABITQ`] index: list
/// tuples hold RaBitQ codes of their vectors relative to their list's
/// centroid (`RabitqTrailer::code_size` bytes); centroids stay payloads of
/// `payload_size` bytes (f32 vectors). Readers of [`MetaTuple::decode`]
/// reject it with [`IvfError::UnsupportedQuantization`]: only
/// [`RabitqMeta::decode`] reads such an index.
pub const QUANTIZATION_RABITQ: u32 = 2;
/// The meta page is always block 0.
pub const META_BLOCK: BlockNumber = 0;
/// Mask of `opaque.flags` holding the [`PageRole`].
pub const FLAG_ROLE_MASK: u16 = 0x000F;
/// `opaque.flags` bit of a list page that holds empty slots.
pub const FLAG_HAS_EMPTY_SLOTS: u16 = 0x0010;

/// What a page of the index holds (low bits of `opaque.flags`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
pub enum PageRole {
    /// Block 0: the [`MetaTuple`].
    Meta = 1,
    /// Centroids with their list links.
    Centroids = 2,
    /// Tuples of one inverted list.
    List = 3,
    /// A continuation piece of a centroid that spans pages
    /// ([`FORMAT_VERSION_RABITQ_SPANNING`]).
    CentroidPiece = 4,
}

impl PageRole {
    /// Opaque of a fresh page of this role, not linked to another page.
    pub fn opaque(self) -> PageOpaque {
        PageOpaque {
            flags: self as u16,
            ..PageOpaque::with_page_id(IVF_PAGE_ID)
        }
    }
}

/// The single item of the meta page.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
pub struct MetaTuple {
    /// [`META_MAGIC`].
    pub magic: u32,
    /// [`FORMAT_VERSION`].
    pub version: u32,
    /// Vector dimensions.
    pub dims: u32,
    /// Bytes of every payload (centroids and list tuples).
    pub payload_size: u32,
    /// Number of lists.
    pub lists: u32,
    /// Caller-defined id of the distance and payload encoding.
    pub space_id: u32,
    /// [`QUANTIZATION_NONE`] or [`QUANTIZATION_HALF`] (caller-defined
    /// payload encodings); other values are reserved.
    pub quantization: u32,
    /// First centroid page.
    pub first_centroid_block: BlockNumber,
    /// Largest [`Space::payload_norm`](crate::Space::payload_norm) of any
    /// row stored so far (never lowered; 0 for spaces without one).
    pub max_payload_norm: f32,
    /// Zero.
    pub reserved: u32,
}

impl MetaTuple {
    /// Decodes and validates the meta item.
    pub fn decode(item: &[u8]) -> Result<Self, IvfError> {
        let rabitq_len = size_of::<MetaTuple>() + size_of::<RabitqTrailer>();
        if item.len() != size_of::<MetaTuple>() && item.len() != rabitq_len {
            return Err(IvfError::NotAnIvfIndex);
        }
        let meta: MetaTuple = bytemuck::pod_read_unaligned(&item[..size_of::<MetaTuple>()]);
        if item.len() == rabitq_len && meta.magic == META_MAGIC && is_code_version(meta.version) {
            return Err(IvfError::UnsupportedQuantization(meta.quantization));
        }
        if item.len() != size_of::<MetaTuple>() {
            return Err(IvfError::NotAnIvfIndex);
        }
        if meta.magic != META_MAGIC {
            return Err(IvfError::NotAnIvfIndex);
        }
        if is_code_version(meta.version) && meta.quantization == QUANTIZATION_RABITQ {
            // A code index: its meta item is longer and only `RabitqMeta` reads it.
            return Err(IvfError::UnsupportedQuantization(meta.quantization));
        }
        if meta.version != FORMAT_VERSION {
            return Err(IvfError::UnsupportedVersion(meta.version));
        }
        if !matches!(meta.quantization, QUANTIZATION_NONE | QUANTIZATION_HALF) {
            return Err(IvfError::UnsupportedQuantization(meta.quantization));
        }
        if meta.lists == 0 || meta.lists > MAX_LISTS {
            return Err(IvfError::Corrupted("number of lists out of range"));
        }
        if meta.payload_size == 0 || meta.payload_size as usize > max_payload_size() {
            return Err(IvfError::Corrupted("payload size out of range"));
        }
        Ok(meta)
    }

    /// Checks that `payload` has the index's payload size.
    pub fn check_payload(&self, payload: &[u8]) -> Result<(), IvfError> {
        if payload.len() == self.payload_size as usize {
            Ok(())
        } else {
            Err(IvfError::PayloadSize {
                expected: self.payload_size as usize,
                actual: payload.len(),
            })
        }
    }
}

/// What follows the [`MetaTuple`] in the meta item of a
/// [`FORMAT_VERSION_RABITQ`] index (24 bytes):
///
/// | offset | field              | meaning                                                    |
/// |-------:|--------------------|------------------------------------------------------------|
/// |     40 | `bits: u32`        | bits per dimension of the codes, 1 to 8, with `quant`'s `NIBBLES_FLAG` (0x100) for 4-bit codes in nibbles (`quant::Layout`); without it, bit planes |
/// |     44 | `code_size: u32`   | bytes of every list-tuple payload (the code)               |
/// |     48 | `rotation: [u8;16]`| `quant::Rotation::to_bytes`: magic, version, dims, seed    |
///
/// The rotation is derived from the seed alone (the generator's stream is
/// part of the format), so the 16 bytes reproduce it exactly.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct RabitqTrailer {
    /// Bits per dimension, 1..=8, and the codes' layout
    /// (`quant::Quantizer::stored_bits`).
    pub bits: u32,
    /// Bytes of a code (list-tuple payload).
    pub code_size: u32,
    /// The serialized rotation.
    pub rotation: [u8; 16],
}

/// The meta item of a [`FORMAT_VERSION_RABITQ`] index, decoded.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RabitqMeta {
    /// The common part; `version` is [`FORMAT_VERSION_RABITQ`],
    /// `quantization` [`QUANTIZATION_RABITQ`], `payload_size` the bytes of
    /// a centroid (f32 × dims).
    pub meta: MetaTuple,
    /// Code parameters.
    pub codes: RabitqTrailer,
}

/// Bytes of the meta item of a [`FORMAT_VERSION_RABITQ`] index.
pub const RABITQ_META_SIZE: usize = size_of::<MetaTuple>() + size_of::<RabitqTrailer>();

impl RabitqMeta {
    /// The meta item's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(RABITQ_META_SIZE);
        out.extend_from_slice(bytemuck::bytes_of(&self.meta));
        out.extend_from_slice(bytemuck::bytes_of(&self.codes));
        out
    }

    /// Decodes and validates the meta item of a code index: the common
    /// fields as [`MetaTuple::decode`] checks them, and codes whose size is
    /// the one `bits` and the rotation's dimensions give. A version-1 item
    /// (an index storing vectors) is `UnsupportedQuantization` of its
    /// quantization here, as a code index is to [`MetaTuple::decode`].
    pub fn decode(item: &[u8]) -> Result<Self, IvfError> {
        if item.len() == size_of::<MetaTuple>() {
            let meta = MetaTuple::decode(item)?;
            return Err(IvfError::UnsupportedQuantization(meta.quantization));
        }
        if item.len() != RABITQ_META_SIZE {
            return Err(IvfError::NotAnIvfIndex);
        }
        let meta: MetaTuple = bytemuck::pod_read_unaligned(&item[..size_of::<MetaTuple>()]);
        if meta.magic != META_MAGIC {
            return Err(IvfError::NotAnIvfIndex);
        }
        if !is_code_version(meta.version) {
            return Err(IvfError::UnsupportedVersion(meta.version));
        }
        if meta.quantization != QUANTIZATION_RABITQ {
            return Err(IvfError::UnsupportedQuantization(meta.quantization));
        }
        if meta.lists == 0 || meta.lists > MAX_LISTS {
            return Err(IvfError::Corrupted("number of lists out of range"));
        }
        // Version 2 centroids fit a page, version 3 ones span pages.
        let size = meta.payload_size as usize;
        let in_range = match meta.version {
            FORMAT_VERSION_RABITQ => size != 0 && size <= max_payload_size(),
            _ => size > max_payload_size() && size <= MAX_SPANNING_PAYLOAD_SIZE,
        };
        if !in_range {
            return Err(IvfError::Corrupted("payload size out of range"));
        }
        let codes: RabitqTrailer = bytemuck::pod_read_unaligned(&item[size_of::<MetaTuple>()..]);
        let Some((bits, _)) = quant::parse_stored_bits(codes.bits) else {
            return Err(IvfError::Corrupted(
                "bits per dimension of the codes out of range",
            ));
        };
        let dims = meta.dims as usize;
        if dims == 0 || meta.payload_size as usize != dims * 4 {
            return Err(IvfError::Corrupted(
                "centroid size does not match the dimensions",
            ));
        }
        if codes.code_size as usize != rabitq_code_size(dims, bits as usize)
            || codes.code_size as usize > max_payload_size()
        {
            return Err(IvfError::Corrupted(
                "code size does not match the dimensions",
            ));
        }
        Ok(RabitqMeta { meta, codes })
    }
}

/// The format version of a code index whose centroids have
/// `payload_size` bytes.
pub const fn rabitq_version(payload_size: usize) -> u32 {
    if payload_size <= max_payload_size() {
        FORMAT_VERSION_RABITQ
    } else {
        FORMAT_VERSION_RABITQ_SPANNING
    }
}

/// True for the format versions of code indexes.
const fn is_code_version(version: u32) -> bool {
    version == FORMAT_VERSION_RABITQ || version == FORMAT_VERSION_RABITQ_SPANNING
}

/// The most bits per dimension whose codes of `dims` dimensions fit a list
/// page (`None` if not even 1-bit codes fit): what a build refusing a
/// larger `bits` suggests.
pub const fn rabitq_max_bits(dims: usize) -> Option<u8> {
    let mut bits = 8;
    while bits > 0 {
        if rabitq_code_size(dims, bits) <= max_payload_size() {
            return Some(bits as u8);
        }
        bits -= 1;
    }
    None
}

/// Pages of the centroid chain one centroid of `payload_size` bytes takes:
/// 1 when its item fits a page (several centroids then share a page),
/// else its first page and the continuation pieces.
pub const fn centroid_pages(payload_size: usize) -> usize {
    if payload_size <= max_payload_size() {
        1
    } else {
        1 + (payload_size - max_payload_size()).div_ceil(max_item_size(SPECIAL_SIZE))
    }
}

/// Length of the item on page `piece` (0-based) of a centroid of
/// `payload_size` bytes that spans pages (`centroid_pages(payload_size) > 1`):
/// the header and the first bytes on page 0, then full pieces, the last one
/// holding the rest.
pub const fn centroid_piece_len(payload_size: usize, piece: usize) -> usize {
    let full = max_item_size(SPECIAL_SIZE);
    if piece == 0 {
        return full;
    }
    let before = max_payload_size() + (piece - 1) * full;
    let rest = payload_size - before;
    if rest < full {
        rest
    } else {
        full
    }
}

/// Bytes of a RaBitQ code of `dims` dimensions at `bits` bits per
/// dimension (`quant`'s layout: 16 bytes of scalars, then `bits` planes of
/// `ceil(dims / 64)` words).
pub const fn rabitq_code_size(dims: usize, bits: usize) -> usize {
    quant::HEADER_BYTES + bits * dims.div_ceil(64) * 8
}

/// Fixed part of a centroid item; the centroid payload follows.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct CentroidHeader {
    /// First page of the list, or `INVALID_BLOCK`.
    pub head: BlockNumber,
    /// Page inserts start from, or `INVALID_BLOCK`.
    pub insert_block: BlockNumber,
    /// Live tuples as of the last build or vacuum.
    pub tuples: u64,
}

/// Bytes of [`CentroidHeader`].
pub const CENTROID_HEADER_SIZE: usize = size_of::<CentroidHeader>();

impl CentroidHeader {
    /// Header of a list without pages.
    pub const EMPTY: CentroidHeader = CentroidHeader {
        head: INVALID_BLOCK,
        insert_block: INVALID_BLOCK,
        tuples: 0,
    };

    /// Reads the header at the start of a centroid item.
    pub fn decode(item: &[u8]) -> Self {
        bytemuck::pod_read_unaligned(&item[..CENTROID_HEADER_SIZE])
    }

    /// Writes the header over the start of a centroid item.
    pub fn encode_into(&self, item: &mut [u8]) {
        item[..CENTROID_HEADER_SIZE].copy_from_slice(bytemuck::bytes_of(self));
    }
}

/// Fixed part of a list item; the vector payload follows.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct ListTupleHeader {
    /// Heap TID in `ItemPointerData` layout.
    pub tid: [u8; 6],
    /// Zero.
    pub reserved: u16,
}

/// Bytes of [`ListTupleHeader`], and the length of an empty slot.
pub const LIST_TUPLE_HEADER_SIZE: usize = size_of::<ListTupleHeader>();

/// An empty slot: what vacuum leaves of a dead list tuple.
pub const EMPTY_SLOT: [u8; LIST_TUPLE_HEADER_SIZE] = {
    let t = ItemPointer::INVALID;
    let hi = ((t.block >> 16) as u16).to_ne_bytes();
    let lo = (t.block as u16).to_ne_bytes();
    let pos = t.offset.to_ne_bytes();
    [hi[0], hi[1], lo[0], lo[1], pos[0], pos[1], 0, 0]
};

/// Encodes a list tuple (header and payload) into `out`, replacing its content.
pub fn encode_list_tuple(tid: ItemPointer, payload: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&tid.to_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(payload);
}

/// Splits a list item into its heap TID and payload; `None` for an empty slot.
/// (Callers that compare payloads also check their size against the meta
/// page's, see [`decode_list_tuple_of_size`].)
#[inline]
pub fn decode_list_tuple(item: &[u8]) -> Option<(ItemPointer, &[u8])> {
    if item.len() <= LIST_TUPLE_HEADER_SIZE {
        return None;
    }
    Some((
        ItemPointer::read_from(item),
        &item[LIST_TUPLE_HEADER_SIZE..],
    ))
}

/// [`decode_list_tuple`] of a tuple whose payload has `payload_size` bytes;
/// `None` for empty slots and for (damaged) items of another size.
#[inline]
pub fn decode_list_tuple_of_size(item: &[u8], payload_size: u32) -> Option<(ItemPointer, &[u8])> {
    decode_list_tuple(item).filter(|(_, payload)| payload.len() == payload_size as usize)
}

/// True if the item is an empty slot.
pub fn is_empty_slot(item: &[u8]) -> bool {
    item.len() == LIST_TUPLE_HEADER_SIZE
}

/// Largest payload the format stores in one item (a list tuple or a
/// centroid item of versions 1 and 2 must fit on one page).
pub const fn max_payload_size() -> usize {
    max_item_size(SPECIAL_SIZE) - CENTROID_HEADER_SIZE
}

/// How many items of `item_len` bytes fit on an empty page.
pub const fn items_per_page(item_len: usize) -> usize {
    usable_space(SPECIAL_SIZE) / (maxalign(item_len) + ITEM_ID_SIZE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_match_the_documentation() {
        assert_eq!(size_of::<MetaTuple>(), 40);
        assert_eq!(CENTROID_HEADER_SIZE, 16);
        assert_eq!(LIST_TUPLE_HEADER_SIZE, 8);
        assert_eq!(max_payload_size(), 8128);
        // pgvector also fits five 384-dimensional f32 vectors per page.
        assert_eq!(items_per_page(LIST_TUPLE_HEADER_SIZE + 384 * 4), 5);
    }

    #[test]
    fn spanning_centroid_pieces_add_up_and_codes_fit_up_to_16000_dimensions() {
        for dims in [2033, 3072, 4000, 16_000] {
            let size = dims * 4;
            let pages = centroid_pages(size);
            let total: usize = (0..pages).map(|p| centroid_piece_len(size, p)).sum();
            assert_eq!(total, CENTROID_HEADER_SIZE + size, "{dims} dimensions");
            assert!((1..pages).all(|p| centroid_piece_len(size, p) > 0));
            assert_eq!(rabitq_version(size), FORMAT_VERSION_RABITQ_SPANNING);
        }
        assert_eq!(centroid_pages(2032 * 4), 1);
        assert_eq!(rabitq_version(2032 * 4), FORMAT_VERSION_RABITQ);
        assert_eq!(centroid_pages(16_000 * 4), 8);
        // 16 + 4 × 250 words of 8 bytes = 8,016 bytes at 4 bits.
        assert_eq!(rabitq_max_bits(16_000), Some(4));
        assert_eq!(rabitq_code_size(16_000, 4), 8016);
        assert_eq!(rabitq_max_bits(3072), Some(8));
        assert_eq!(rabitq_max_bits(8000), Some(8));
        assert_eq!(rabitq_max_bits(8200), Some(7));
        assert_eq!(rabitq_max_bits(70_000), None);
    }

    #[test]
    fn list_tuples_round_trip_and_empty_slots_decode_to_none() {
        let tid = ItemPointer::new(70_000, 3);
        let mut buf = Vec::new();
        encode_list_tuple(tid, &[1, 2, 3], &mut buf);
        assert_eq!(decode_list_tuple(&buf), Some((tid, &[1u8, 2, 3][..])));
        assert_eq!(decode_list_tuple(&EMPTY_SLOT), None);
        assert!(is_empty_slot(&EMPTY_SLOT));
        assert_eq!(ItemPointer::read_from(&EMPTY_SLOT), ItemPointer::INVALID);
    }

    #[test]
    fn meta_decode_rejects_foreign_and_newer_pages() {
        let meta = MetaTuple {
            magic: META_MAGIC,
            version: FORMAT_VERSION,
            dims: 3,
            payload_size: 12,
            lists: 2,
            space_id: 7,
            quantization: QUANTIZATION_NONE,
            first_centroid_block: 1,
            max_payload_norm: 0.0,
            reserved: 0,
        };
        assert_eq!(MetaTuple::decode(bytemuck::bytes_of(&meta)), Ok(meta));
        let newer = MetaTuple { version: 2, ..meta };
        assert_eq!(
            MetaTuple::decode(bytemuck::bytes_of(&newer)),
            Err(IvfError::UnsupportedVersion(2))
        );
        let foreign = MetaTuple { magic: 1, ..meta };
        assert_eq!(
            MetaTuple::decode(bytemuck::bytes_of(&foreign)),
            Err(IvfError::NotAnIvfIndex)
        );
        assert!(meta.check_payload(&[0; 11]).is_err());
    }
}
