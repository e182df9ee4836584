//! On-page format of an HNSW index, version 1.
//!
//! Every page carries [`PageOpaque`](pagestore::PageOpaque) with
//! `page_id = PAGE_ID` and `flags` = [`PAGE_FLAG_META`] or
//! [`PAGE_FLAG_GRAPH`]. All integers are native-endian (like every Postgres
//! on-disk structure); item pointers use the 6-byte `ItemPointerData` layout.
//!
//! * Block 0 holds one item, the [`MetaTuple`].
//! * Blocks 1.. hold graph tuples. Each element is an element tuple plus a
//!   neighbour tuple, normally adjacent on the same page; when the pair does
//!   not fit one page (very large payloads) they live on different pages.
//!
//! Element tuple (one per distinct indexed vector):
//!
//! | bytes  | field                                                        |
//! |--------|--------------------------------------------------------------|
//! | 0      | `u8` tuple kind = [`TUPLE_ELEMENT`]                          |
//! | 1      | `u8` level: the element is in layers `0..=level`             |
//! | 2      | `u8` state: [`STATE_LIVE`], [`STATE_DELETED`], [`STATE_FREE`]|
//! | 3      | `u8` number of valid heap TIDs (0..=slots)                   |
//! | 4..8   | `u32` payload length in bytes                                |
//! | 8..14  | item pointer of the element's neighbour tuple                |
//! | 14..16 | reserved, zero                                               |
//! | 16..   | `slots` heap TIDs (6 bytes each; unused = invalid), then     |
//! |        | zero padding to a multiple of 8 bytes: the header            |
//! | header.. | payload: the vector's on-disk bytes, opaque to this crate  |
//!
//! The header's size is the tuple's length minus the payload's, so each
//! element says how many heap TID slots it has: elements written by this
//! code have [`HEAP_TIDS_PER_ELEMENT`] (a 56-byte header), and indexes
//! written before had 10 ([`MAX_HEAP_TIDS`], an 80-byte header); both read
//! the same way, and one index may hold both.
//!
//! Neighbour tuple (one per element):
//!
//! | bytes | field                                                         |
//! |-------|---------------------------------------------------------------|
//! | 0     | `u8` tuple kind = [`TUPLE_NEIGHBORS`]                         |
//! | 1     | `u8` level, equal to the element's                            |
//! | 2..8  | item pointer of the owning element tuple (back link)          |
//! | 8..   | slots: `2*m` for layer 0, then `m` for each layer `1..=level`;|
//! |       | each an item pointer to an element tuple. Valid slots come    |
//! |       | first in each layer; the rest are invalid (offset 0).         |
//!
//! Element states: `LIVE` has at least one heap TID and is returned by scans;
//! `DELETED` has none (all its rows died) but is still traversed until vacuum
//! has reconnected its neighbours; `FREE` is unreachable and its slot (both
//! tuples) may be overwritten by a new element.

use bytemuck::{Pod, Zeroable};
use pagestore::{max_item_size, ItemPointer, SPECIAL_SIZE};

use crate::HnswError;

/// `PageOpaque::page_id` of every page of an HNSW index.
pub const PAGE_ID: u16 = 0xFF94;
/// `PageOpaque::flags` of the meta page.
pub const PAGE_FLAG_META: u16 = 1;
/// `PageOpaque::flags` of pages holding element and neighbour tuples.
pub const PAGE_FLAG_GRAPH: u16 = 2;

/// Magic number stored in the meta tuple ("HNSW" read as little-endian).
pub const MAGIC: u32 = u32::from_le_bytes(*b"HNSW");
/// Format version written by this code; readers reject other versions.
pub const FORMAT_VERSION: u32 = 1;
/// Block of the meta page.
pub const META_BLOCK: u32 = 0;
/// Offset of the meta tuple on the meta page.
pub const META_OFFSET: u16 = 1;
/// No quantization: payloads are stored as given.
pub const QUANTIZATION_NONE: u16 = 0;
/// Payloads are normalised half-precision copies of `vector` values; scans
/// report lower bounds of the exact distances (the caller's convention,
/// recorded here so that every reader of the index agrees on it).
pub const QUANTIZATION_HALF: u16 = 1;
/// Payloads are RaBitQ codes (the caller's encoding) of `code_bits` bits per
/// dimension under the rotation of seed `code_seed`; scans navigate on
/// estimates and report provable lower bounds of the exact distances.
/// Indexes of the other encodings read as before (these meta fields were
/// reserved, zero).
pub const QUANTIZATION_RABITQ: u16 = 2;

/// Tuple kind byte of element tuples.
pub const TUPLE_ELEMENT: u8 = 1;
/// Tuple kind byte of neighbour tuples.
pub const TUPLE_NEIGHBORS: u8 = 2;

/// Element state: has heap TIDs, returned by scans.
pub const STATE_LIVE: u8 = 0;
/// Element state: no heap TIDs left; traversed, never returned.
pub const STATE_DELETED: u8 = 1;
/// Element state: unreachable, slot reusable.
pub const STATE_FREE: u8 = 2;

/// Most heap TID slots an element tuple may have (exact duplicate vectors
/// share an element); elements of earlier versions had this many.
pub const MAX_HEAP_TIDS: usize = 10;
/// Heap TID slots of the elements this code writes. Six keep the header at
/// 56 bytes: with 384-dimensional 4-bit codes, 17 elements fit a page
/// instead of 16. Further duplicates of a vector take another element.
pub const HEAP_TIDS_PER_ELEMENT: usize = 6;
/// Bytes before the payload in an element tuple with `slots` heap TID slots.
pub const fn element_header_size(slots: usize) -> usize {
    (16 + slots * TID_SIZE + 7) & !7
}
/// Bytes before the payload in the element tuples this code writes.
pub const ELEMENT_HEADER_SIZE: usize = element_header_size(HEAP_TIDS_PER_ELEMENT);
/// Bytes before the slots in a neighbour tuple.
pub const NEIGHBORS_HEADER_SIZE: usize = 8;
/// Largest payload an element tuple can hold on an 8 KiB page (the same
/// limit as with ten slots, so that it does not depend on the version).
pub const MAX_PAYLOAD_SIZE: usize = max_item_size(SPECIAL_SIZE) - element_header_size(MAX_HEAP_TIDS);
/// Highest level ever assigned (keeps `level` meaningful as a `u8` and
/// bounds upper-layer work); further capped per `m` by page size.
pub const MAX_LEVEL_CAP: u8 = 31;
/// Smallest supported `m` (pgvector's limit).
pub const MIN_M: u16 = 2;
/// Largest supported `m` (pgvector's limit).
pub const MAX_M: u16 = 100;

const TID_SIZE: usize = ItemPointer::SIZE;

/// The meta tuple, item 1 of block 0.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
pub struct MetaTuple {
    /// [`MAGIC`].
    pub magic: u32,
    /// [`FORMAT_VERSION`].
    pub version: u32,
    /// Vector dimensions, informational (the payload is opaque).
    pub dimensions: u32,
    /// Payload size in bytes for fixed-size types, 0 if it varies (sparse).
    pub payload_size: u32,
    /// Neighbours per element on layers >= 1 (layer 0 holds `2*m`).
    pub m: u16,
    /// Candidate list size used when inserting.
    pub ef_construction: u16,
    /// Caller-defined id of the distance/opclass; checked by the caller.
    pub space_id: u16,
    /// Encoding of the stored payloads: [`QUANTIZATION_NONE`] or
    /// [`QUANTIZATION_HALF`].
    pub quantization: u16,
    /// Block of the entry point element, or `InvalidBlockNumber` if empty.
    pub entry_block: u32,
    /// Offset of the entry point element (0 if the graph is empty).
    pub entry_offset: u16,
    /// Level of the entry point = highest level in the graph.
    pub entry_level: u16,
    /// First block where inserts look for free space (hint).
    pub insert_page: u32,
    /// [`HEAP_TIDS_PER_ELEMENT`] at creation (informational: each element
    /// tuple's size tells its own).
    pub heap_tids_per_element: u16,
    /// Reserved, zero.
    pub reserved0: u16,
    /// Live elements: exact after build and vacuum, incremented by inserts.
    pub element_count: u64,
    /// Largest [`Space::payload_norm`](crate::Space::payload_norm) of any
    /// payload stored so far (never lowered); 0 for spaces without one.
    pub max_payload_norm: f64,
    /// [`QUANTIZATION_RABITQ`]: seed of the codes' rotation (else zero).
    pub code_seed: u64,
    /// [`QUANTIZATION_RABITQ`]: bits per dimension of the codes, with the
    /// layout flag of `quant::Quantizer::stored_bits` (else zero).
    pub code_bits: u32,
    /// Reserved, zero.
    pub reserved1: u32,
    /// Reserved for future fields, zero.
    pub reserved: [u64; 1],
}

impl MetaTuple {
    /// Serialized size.
    pub const SIZE: usize = std::mem::size_of::<MetaTuple>();

    /// Entry point element, if the graph is not empty.
    pub fn entry(&self) -> Option<ItemPointer> {
        let p = ItemPointer::new(self.entry_block, self.entry_offset);
        p.is_valid().then_some(p)
    }

    /// Sets (or clears, with `None`) the entry point.
    pub fn set_entry(&mut self, entry: Option<(ItemPointer, u8)>) {
        let (p, level) = entry.unwrap_or((ItemPointer::INVALID, 0));
        self.entry_block = p.block;
        self.entry_offset = p.offset;
        self.entry_level = level as u16;
    }

    /// Decodes and validates a meta tuple.
    pub fn decode(item: &[u8]) -> Result<MetaTuple, HnswError> {
        if item.len() < Self::SIZE {
            return Err(HnswError::Corrupted("meta tuple too short".into()));
        }
        let meta: MetaTuple = bytemuck::pod_read_unaligned(&item[..Self::SIZE]);
        if meta.magic != MAGIC {
            return Err(HnswError::Corrupted("bad meta magic".into()));
        }
        if meta.version != FORMAT_VERSION {
            return Err(HnswError::UnsupportedVersion(meta.version));
        }
        if !(MIN_M..=MAX_M).contains(&meta.m) {
            return Err(HnswError::Corrupted(format!("bad m {}", meta.m)));
        }
        Ok(meta)
    }

    /// Serialized bytes.
    pub fn encode(&self) -> &[u8] {
        bytemuck::bytes_of(self)
    }

    /// Highest level an element may get in this index.
    pub fn max_level(&self) -> u8 {
        max_level_for_m(self.m)
    }
}

/// Slots on `layer` (`2*m` on layer 0, `m` above).
pub fn layer_capacity(m: u16, layer: u8) -> usize {
    if layer == 0 {
        2 * m as usize
    } else {
        m as usize
    }
}

/// Index of the first slot of `layer` within a neighbour tuple (the same
/// slot order is used by the in-memory graph).
pub fn layer_start(m: u16, layer: u8) -> usize {
    if layer == 0 {
        0
    } else {
        2 * m as usize + (layer as usize - 1) * m as usize
    }
}

/// Slots of all layers of an element of `level`.
pub fn total_slots(m: u16, level: u8) -> usize {
    (level as usize + 2) * m as usize
}

/// Size of the neighbour tuple of an element of `level`.
pub fn neighbors_tuple_size(m: u16, level: u8) -> usize {
    NEIGHBORS_HEADER_SIZE + total_slots(m, level) * TID_SIZE
}

/// Size of the element tuple for a payload of `payload_len` bytes.
pub fn element_tuple_size(payload_len: usize) -> usize {
    ELEMENT_HEADER_SIZE + payload_len
}

/// Highest level whose neighbour tuple still fits a page, capped at
/// [`MAX_LEVEL_CAP`].
pub fn max_level_for_m(m: u16) -> u8 {
    let slots = (max_item_size(SPECIAL_SIZE) - NEIGHBORS_HEADER_SIZE) / TID_SIZE;
    let levels = slots / m as usize; // = level + 2
    (levels.saturating_sub(2)).min(MAX_LEVEL_CAP as usize) as u8
}

/// Checks that a payload can be stored, with a message naming the limit.
pub fn check_payload_size(len: usize) -> Result<(), HnswError> {
    if len > MAX_PAYLOAD_SIZE {
        Err(HnswError::PayloadTooLarge {
            size: len,
            max: MAX_PAYLOAD_SIZE,
        })
    } else {
        Ok(())
    }
}

fn read_u32(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Read-only view of an element tuple.
#[derive(Clone, Copy)]
pub struct ElementRef<'a>(&'a [u8]);

impl<'a> ElementRef<'a> {
    /// Interprets `item` as an element tuple; `None` if it is not one.
    pub fn parse(item: &'a [u8]) -> Option<Self> {
        const MIN_HEADER: usize = element_header_size(1);
        if item.len() < MIN_HEADER || item[0] != TUPLE_ELEMENT {
            return None;
        }
        let e = ElementRef(item);
        // The header is what the payload leaves: a multiple of 8 (the
        // payload stays 8-byte aligned) with 1..=MAX_HEAP_TIDS slots.
        let header = item.len().checked_sub(e.payload_len())?;
        let header_ok = header % 8 == 0
            && (MIN_HEADER..=element_header_size(MAX_HEAP_TIDS)).contains(&header);
        (header_ok && e.tid_count() <= e.tid_capacity()).then_some(e)
    }

    /// Heap TID slots of this element.
    pub fn tid_capacity(&self) -> usize {
        ((self.0.len() - self.payload_len() - 16) / TID_SIZE).min(MAX_HEAP_TIDS)
    }

    /// Level of the element.
    pub fn level(&self) -> u8 {
        self.0[1]
    }

    /// One of the `STATE_*` constants.
    pub fn state(&self) -> u8 {
        self.0[2]
    }

    /// Number of valid heap TIDs.
    pub fn tid_count(&self) -> usize {
        self.0[3] as usize
    }

    fn payload_len(&self) -> usize {
        read_u32(self.0, 4) as usize
    }

    /// Location of the neighbour tuple.
    pub fn neighbors(&self) -> ItemPointer {
        ItemPointer::read_from(&self.0[8..14])
    }

    /// The `i`-th heap TID (`i < tid_count()`).
    pub fn heap_tid(&self, i: usize) -> ItemPointer {
        let at = 16 + i * TID_SIZE;
        ItemPointer::read_from(&self.0[at..at + TID_SIZE])
    }

    /// Valid heap TIDs.
    pub fn heap_tids(&self) -> impl Iterator<Item = ItemPointer> + 'a {
        let this = *self;
        (0..this.tid_count()).map(move |i| this.heap_tid(i))
    }

    /// The vector payload (8-byte aligned if the item is).
    pub fn payload(&self) -> &'a [u8] {
        &self.0[self.0.len() - self.payload_len()..]
    }
}

/// Mutable view of an element tuple for in-place updates.
pub struct ElementMut<'a>(&'a mut [u8]);

impl<'a> ElementMut<'a> {
    /// Interprets `item` as an element tuple; `None` if it is not one.
    pub fn parse(item: &'a mut [u8]) -> Option<Self> {
        ElementRef::parse(item)?;
        Some(ElementMut(item))
    }

    /// Read-only view.
    pub fn as_ref(&self) -> ElementRef<'_> {
        ElementRef(self.0)
    }

    /// Sets the state byte.
    pub fn set_state(&mut self, state: u8) {
        self.0[2] = state;
    }

    /// Replaces the heap TIDs (at most [`ElementRef::tid_capacity`]).
    pub fn set_heap_tids(&mut self, tids: &[ItemPointer]) {
        let slots = self.as_ref().tid_capacity();
        assert!(tids.len() <= slots);
        self.0[3] = tids.len() as u8;
        for i in 0..slots {
            let tid = tids.get(i).copied().unwrap_or(ItemPointer::INVALID);
            tid.write_to(&mut self.0[16 + i * TID_SIZE..]);
        }
    }
}

/// Serializes an element tuple into `out` (cleared first).
pub fn encode_element(
    out: &mut Vec<u8>,
    level: u8,
    heap_tids: &[ItemPointer],
    neighbors: ItemPointer,
    payload: &[u8],
) {
    out.clear();
    out.resize(element_tuple_size(payload.len()), 0);
    out[0] = TUPLE_ELEMENT;
    out[1] = level;
    out[2] = STATE_LIVE;
    out[4..8].copy_from_slice(&(payload.len() as u32).to_ne_bytes());
    neighbors.write_to(&mut out[8..14]);
    ElementMut(out).set_heap_tids(heap_tids);
    out[ELEMENT_HEADER_SIZE..].copy_from_slice(payload);
}

/// Read-only view of a neighbour tuple.
#[derive(Clone, Copy)]
pub struct NeighborsRef<'a> {
    bytes: &'a [u8],
    m: u16,
}

impl<'a> NeighborsRef<'a> {
    /// Interprets `item` as the neighbour tuple of an index with `m`; `None`
    /// if it is not one or its size does not match its level.
    pub fn parse(item: &'a [u8], m: u16) -> Option<Self> {
        if item.len() < NEIGHBORS_HEADER_SIZE || item[0] != TUPLE_NEIGHBORS {
            return None;
        }
        (item.len() == neighbors_tuple_size(m, item[1])).then_some(NeighborsRef { bytes: item, m })
    }

    /// Level (highest layer with a list).
    pub fn level(&self) -> u8 {
        self.bytes[1]
    }

    /// The element tuple owning this list.
    pub fn element(&self) -> ItemPointer {
        ItemPointer::read_from(&self.bytes[2..8])
    }

    /// Valid neighbours on `layer` (empty if `layer > level()`).
    pub fn layer(&self, layer: u8) -> impl Iterator<Item = ItemPointer> + 'a {
        let (start, cap) = if layer <= self.level() {
            (layer_start(self.m, layer), layer_capacity(self.m, layer))
        } else {
            (0, 0)
        };
        let bytes = self.bytes;
        (start..start + cap)
            .map(move |slot| {
                let at = NEIGHBORS_HEADER_SIZE + slot * TID_SIZE;
                ItemPointer::read_from(&bytes[at..at + TID_SIZE])
            })
            .take_while(|p| p.is_valid())
    }

    /// Raw bytes of `layer`'s slots, for cheap change detection.
    pub fn layer_bytes(&self, layer: u8) -> &'a [u8] {
        let start = NEIGHBORS_HEADER_SIZE + layer_start(self.m, layer) * TID_SIZE;
        &self.bytes[start..start + layer_capacity(self.m, layer) * TID_SIZE]
    }
}

/// Mutable view of a neighbour tuple.
pub struct NeighborsMut<'a> {
    bytes: &'a mut [u8],
    m: u16,
}

impl<'a> NeighborsMut<'a> {
    /// Like [`NeighborsRef::parse`].
    pub fn parse(item: &'a mut [u8], m: u16) -> Option<Self> {
        NeighborsRef::parse(item, m)?;
        Some(NeighborsMut { bytes: item, m })
    }

    /// Read-only view.
    pub fn as_ref(&self) -> NeighborsRef<'_> {
        NeighborsRef {
            bytes: self.bytes,
            m: self.m,
        }
    }

    /// Replaces `layer`'s list (truncated to the layer's capacity).
    pub fn set_layer(&mut self, layer: u8, neighbors: &[ItemPointer]) {
        let start = layer_start(self.m, layer);
        for i in 0..layer_capacity(self.m, layer) {
            let p = neighbors.get(i).copied().unwrap_or(ItemPointer::INVALID);
            let at = NEIGHBORS_HEADER_SIZE + (start + i) * TID_SIZE;
            p.write_to(&mut self.bytes[at..]);
        }
    }
}

/// Serializes a neighbour tuple with empty lists into `out` (cleared first).
pub fn encode_neighbors(out: &mut Vec<u8>, m: u16, level: u8, element: ItemPointer) {
    out.clear();
    out.resize(neighbors_tuple_size(m, level), 0);
    out[0] = TUPLE_NEIGHBORS;
    out[1] = level;
    element.write_to(&mut out[2..8]);
    let mut view = NeighborsMut { bytes: out, m };
    for layer in 0..=level {
        view.set_layer(layer, &[]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_layout() {
        assert_eq!(MetaTuple::SIZE, 80);
        let mut meta = MetaTuple::zeroed();
        meta.magic = MAGIC;
        meta.version = FORMAT_VERSION;
        meta.m = 16;
        assert_eq!(meta.entry(), None);
        meta.set_entry(Some((ItemPointer::new(3, 4), 2)));
        let back = MetaTuple::decode(meta.encode()).unwrap();
        assert_eq!(back.entry(), Some(ItemPointer::new(3, 4)));
        assert_eq!(back.entry_level, 2);
        meta.version = 99;
        assert!(matches!(
            MetaTuple::decode(meta.encode()),
            Err(HnswError::UnsupportedVersion(99))
        ));
    }

    #[test]
    fn limits() {
        assert_eq!(MAX_PAYLOAD_SIZE, 8144 - 80);
        // pgvector's limits: 2,000 f32 or 4,000 f16 dimensions (8,000 bytes).
        assert!(check_payload_size(8000).is_ok());
        let err = check_payload_size(MAX_PAYLOAD_SIZE + 1).unwrap_err();
        assert!(err.to_string().contains("8064"), "{err}");
        assert_eq!(max_level_for_m(16), MAX_LEVEL_CAP);
        let top = max_level_for_m(MAX_M);
        assert!(neighbors_tuple_size(MAX_M, top) <= max_item_size(SPECIAL_SIZE));
        assert!(neighbors_tuple_size(MAX_M, top + 1) > max_item_size(SPECIAL_SIZE));
        // Same footprint as pgvector for m = 16 on layer 0.
        assert_eq!(neighbors_tuple_size(16, 0), 200);
    }

    #[test]
    fn element_roundtrip() {
        let mut buf = Vec::new();
        let tids = [ItemPointer::new(1, 2), ItemPointer::new(3, 4)];
        encode_element(&mut buf, 3, &tids, ItemPointer::new(9, 8), &[7; 12]);
        let e = ElementRef::parse(&buf).unwrap();
        assert_eq!(e.level(), 3);
        assert_eq!(e.state(), STATE_LIVE);
        assert_eq!(e.heap_tids().collect::<Vec<_>>(), tids);
        assert_eq!(e.neighbors(), ItemPointer::new(9, 8));
        assert_eq!(e.payload(), &[7; 12]);
        let mut em = ElementMut::parse(&mut buf).unwrap();
        em.set_state(STATE_DELETED);
        em.set_heap_tids(&[]);
        assert_eq!(em.as_ref().tid_count(), 0);
        assert_eq!(em.as_ref().state(), STATE_DELETED);
        assert!(ElementRef::parse(&buf[..50]).is_none());
    }

    #[test]
    fn element_header_sizes() {
        assert_eq!(ELEMENT_HEADER_SIZE, 56);
        assert_eq!(element_header_size(MAX_HEAP_TIDS), 80);
        let mut buf = Vec::new();
        encode_element(&mut buf, 0, &[], ItemPointer::new(9, 8), &[7; 208]);
        assert_eq!(buf.len(), 56 + 208);
        assert_eq!(ElementRef::parse(&buf).unwrap().tid_capacity(), HEAP_TIDS_PER_ELEMENT);
        // An element of an index written before: ten slots, an 80-byte
        // header. It reads, and it keeps its ten slots when rewritten.
        let mut old = vec![0u8; 80 + 208];
        old[0] = TUPLE_ELEMENT;
        old[4..8].copy_from_slice(&208u32.to_ne_bytes());
        ItemPointer::new(9, 8).write_to(&mut old[8..14]);
        old[80..].fill(7);
        let tids: Vec<_> = (1..=10).map(|i| ItemPointer::new(i, 1)).collect();
        ElementMut::parse(&mut old).unwrap().set_heap_tids(&tids);
        let e = ElementRef::parse(&old).unwrap();
        assert_eq!(e.tid_capacity(), 10);
        assert_eq!(e.heap_tids().collect::<Vec<_>>(), tids);
        assert_eq!(e.payload(), &[7; 208]);
        assert_eq!(e.neighbors(), ItemPointer::new(9, 8));
        // Headers that no version writes: not a multiple of 8, too short,
        // too long, or a payload longer than the tuple.
        for (len, payload) in [(80 + 207, 208u32), (16 + 8, 8), (88 + 8, 8), (60, 61)] {
            let mut t = vec![0u8; len];
            t[0] = TUPLE_ELEMENT;
            t[4..8].copy_from_slice(&payload.to_ne_bytes());
            assert!(ElementRef::parse(&t).is_none(), "{len} {payload}");
        }
        // More TIDs counted than the header has slots.
        buf[3] = HEAP_TIDS_PER_ELEMENT as u8 + 1;
        assert!(ElementRef::parse(&buf).is_none());
    }

    #[test]
    fn neighbors_roundtrip() {
        let mut buf = Vec::new();
        encode_neighbors(&mut buf, 4, 2, ItemPointer::new(5, 6));
        assert_eq!(buf.len(), 8 + (8 + 4 + 4) * 6);
        let mut n = NeighborsMut::parse(&mut buf, 4).unwrap();
        let list: Vec<_> = (1..=10).map(|i| ItemPointer::new(i, 1)).collect();
        n.set_layer(0, &list);
        n.set_layer(2, &list[..2]);
        let r = NeighborsRef::parse(&buf, 4).unwrap();
        assert_eq!(r.element(), ItemPointer::new(5, 6));
        assert_eq!(r.layer(0).collect::<Vec<_>>(), list[..8]);
        assert_eq!(r.layer(1).count(), 0);
        assert_eq!(r.layer(2).collect::<Vec<_>>(), list[..2]);
        assert_eq!(r.layer(3).count(), 0);
        assert!(NeighborsRef::parse(&buf, 5).is_none());
    }
}
