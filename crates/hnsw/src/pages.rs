//! Page-level access shared by search, insert, vacuum and verify: the meta
//! tuple, element and neighbour tuples, each read under one short page lock.

use std::collections::HashMap;

use pagestore::{BlockOutOfRange, ItemPointer, Page, PageMut, PageOpaque, Relation};

use crate::arena::PayloadArena;
use crate::format::{
    ElementRef, MetaTuple, NeighborsMut, NeighborsRef, META_BLOCK, META_OFFSET, PAGE_FLAG_GRAPH,
    PAGE_FLAG_META, PAGE_ID,
};
use crate::{HnswError, Space};

/// Opaque of graph pages.
pub(crate) const GRAPH_OPAQUE: PageOpaque = PageOpaque {
    page_id: PAGE_ID,
    flags: PAGE_FLAG_GRAPH,
    ..PageOpaque::EMPTY
};

/// Opaque of the meta page.
pub(crate) const META_OPAQUE: PageOpaque = PageOpaque {
    page_id: PAGE_ID,
    flags: PAGE_FLAG_META,
    ..PageOpaque::EMPTY
};

/// True if `page` is a graph page of an HNSW index.
pub(crate) fn is_graph_page(page: &impl Page) -> bool {
    let o = page.opaque();
    o.page_id == PAGE_ID && o.flags == PAGE_FLAG_GRAPH
}

impl From<BlockOutOfRange> for HnswError {
    fn from(e: BlockOutOfRange) -> Self {
        HnswError::Corrupted(e.to_string())
    }
}

impl From<pagestore::Interrupted> for HnswError {
    fn from(_: pagestore::Interrupted) -> Self {
        HnswError::Cancelled
    }
}

/// Reads and validates the meta tuple.
pub(crate) fn read_meta<R: Relation>(rel: &R) -> Result<MetaTuple, HnswError> {
    if rel.nblocks() == 0 {
        return Err(HnswError::Corrupted("index has no meta page".into()));
    }
    let page = rel.read(META_BLOCK);
    if page.opaque().page_id != PAGE_ID || page.opaque().flags != PAGE_FLAG_META {
        return Err(HnswError::Corrupted(
            "block 0 is not an HNSW meta page".into(),
        ));
    }
    let item = page
        .item(META_OFFSET)
        .ok_or_else(|| HnswError::Corrupted("meta tuple missing".into()))?;
    MetaTuple::decode(item)
}

/// Applies `change` to the meta tuple under an exclusive lock; returns the
/// new value.
pub(crate) fn update_meta<R: Relation>(
    rel: &R,
    change: impl FnOnce(&mut MetaTuple),
) -> Result<MetaTuple, HnswError> {
    let mut page = rel.write(META_BLOCK);
    let item = page
        .item_mut(META_OFFSET)
        .ok_or_else(|| HnswError::Corrupted("meta tuple missing".into()))?;
    let mut meta = MetaTuple::decode(item)?;
    change(&mut meta);
    item[..MetaTuple::SIZE].copy_from_slice(meta.encode());
    Ok(meta)
}

/// Creates the meta page as block 0 of an empty relation.
pub(crate) fn write_meta_page<R: Relation>(rel: &R, meta: &MetaTuple) -> Result<(), HnswError> {
    if rel.nblocks() != 0 {
        return Err(HnswError::RelationNotEmpty);
    }
    let mut page = rel.extend();
    *page.opaque_mut() = META_OPAQUE;
    page.add_item(meta.encode())
        .expect("meta tuple fits an empty page");
    Ok(())
}

/// Runs `f` on the element tuple at `ptr` under a share lock; `Ok(None)` if
/// the item is not an element tuple (e.g. a stale link), an error if the
/// block does not exist (a damaged link).
pub(crate) fn read_element<R: Relation, T>(
    rel: &R,
    ptr: ItemPointer,
    payload_size: u32,
    f: impl FnOnce(ElementRef<'_>) -> T,
) -> Result<Option<T>, HnswError> {
    let page = rel.try_read(ptr.block)?;
    Ok(element_on_page(&page, ptr, payload_size, |element, _| {
        f(element)
    }))
}

/// Runs `f` on the element tuple at `ptr` on its already locked page (and
/// gives `f` the page, to read the element's neighbour tuple when it is on
/// the same page); `None` if the item is not an element tuple, or (damaged)
/// one whose payload does not have the index's fixed `payload_size` (0: any
/// size), so that a `Space` only ever compares payloads of the right size.
pub(crate) fn element_on_page<P: Page, T>(
    page: &P,
    ptr: ItemPointer,
    payload_size: u32,
    f: impl FnOnce(ElementRef<'_>, &P) -> T,
) -> Option<T> {
    debug_assert_eq!(page.block(), ptr.block);
    let element = ElementRef::parse(page.item(ptr.offset)?)?;
    if payload_size != 0 && element.payload().len() != payload_size as usize {
        return None;
    }
    Some(f(element, page))
}

/// `layer`'s neighbours of the element `owner` from its neighbour tuple at
/// `nt` on the already locked `page` (which must be block `nt.block`);
/// `None` if the tuple is not `owner`'s or lacks the layer.
pub(crate) fn neighbor_layer_on_page<'p>(
    page: &'p impl Page,
    m: u16,
    owner: ItemPointer,
    nt: ItemPointer,
    layer: u8,
) -> Option<impl Iterator<Item = ItemPointer> + 'p> {
    debug_assert_eq!(page.block(), nt.block);
    Some(owned_list(page.item(nt.offset), m, owner, layer)?.layer(layer))
}

/// The neighbour tuple in `item` if it belongs to `owner` and has `layer`
/// (a concurrent slot reuse can make a remembered pointer stale).
fn owned_list<'a>(
    item: Option<&'a [u8]>,
    m: u16,
    owner: ItemPointer,
    layer: u8,
) -> Option<NeighborsRef<'a>> {
    let list = NeighborsRef::parse(item?, m)?;
    (list.element() == owner && list.level() >= layer).then_some(list)
}

/// Copies `layer`'s neighbours of the element `owner`, whose neighbour tuple
/// is at `nt`, into `out` (cleared first); false if the tuple is not
/// `owner`'s or lacks the layer. Allocation-free, for the search hot path.
pub(crate) fn read_neighbor_layer<R: Relation>(
    rel: &R,
    m: u16,
    owner: ItemPointer,
    nt: ItemPointer,
    layer: u8,
    out: &mut Vec<ItemPointer>,
) -> Result<bool, HnswError> {
    out.clear();
    let page = rel.try_read(nt.block)?;
    let Some(list) = owned_list(page.item(nt.offset), m, owner, layer) else {
        return Ok(false);
    };
    out.extend(list.layer(layer));
    Ok(true)
}

/// Raw bytes (for change detection) and valid entries of `owner`'s list on
/// `layer`; `None` if the tuple at `nt` is not `owner`'s or lacks the layer.
pub(crate) fn read_layer<R: Relation>(
    rel: &R,
    m: u16,
    owner: ItemPointer,
    nt: ItemPointer,
    layer: u8,
) -> Result<Option<(Vec<u8>, Vec<ItemPointer>)>, HnswError> {
    let page = rel.try_read(nt.block)?;
    let Some(list) = owned_list(page.item(nt.offset), m, owner, layer) else {
        return Ok(None);
    };
    Ok(Some((
        list.layer_bytes(layer).to_vec(),
        list.layer(layer).collect(),
    )))
}

/// Replaces `owner`'s list on `layer` with `list` if its bytes still equal
/// `snapshot`. Returns false if the list changed (caller retries); true if
/// written or if the tuple no longer belongs to `owner` (nothing to do).
pub(crate) fn write_layer_if_unchanged<R: Relation>(
    rel: &R,
    m: u16,
    owner: ItemPointer,
    nt: ItemPointer,
    layer: u8,
    snapshot: &[u8],
    list: &[ItemPointer],
) -> Result<bool, HnswError> {
    let mut page = rel.try_write(nt.block)?;
    let Some(mut tuple) = page
        .item_mut(nt.offset)
        .and_then(|i| NeighborsMut::parse(i, m))
    else {
        return Ok(true);
    };
    let view = tuple.as_ref();
    if view.element() != owner || view.level() < layer {
        return Ok(true);
    }
    if view.layer_bytes(layer) != snapshot {
        return Ok(false);
    }
    tuple.set_layer(layer, list);
    Ok(true)
}

/// What insert and vacuum need to know about an element they reason about.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CachedElement {
    pub state: u8,
    pub level: u8,
    pub neighbors: ItemPointer,
    payload: u32,
}

/// Elements (and copies of their payloads) loaded during one insert or
/// repair, so that neighbour selection can compute pairwise distances
/// without holding page locks.
///
/// A pointer to a block that does not exist (a damaged link) is remembered
/// as "no element" and as the cache's fault, which the operation returns
/// with [`ElementCache::check`] before it finishes (callers use `get` in
/// filters and closures, where an error could not be returned).
#[derive(Default)]
pub(crate) struct ElementCache {
    index: HashMap<ItemPointer, Option<CachedElement>>,
    payloads: PayloadArena,
    fault: Option<HnswError>,
    /// The index's fixed payload size (0: sizes vary); elements with
    /// another size are damaged and read as "no element".
    payload_size: u32,
}

impl ElementCache {
    /// An empty cache for an index whose meta page says `payload_size`.
    pub fn new(payload_size: u32) -> Self {
        ElementCache {
            payload_size,
            ..ElementCache::default()
        }
    }

    /// The element at `ptr`, loading it on first use; `None` if there is no
    /// element tuple there.
    pub fn get<R: Relation>(&mut self, rel: &R, ptr: ItemPointer) -> Option<CachedElement> {
        if let Some(cached) = self.index.get(&ptr) {
            return *cached;
        }
        let payloads = &mut self.payloads;
        let loaded = read_element(rel, ptr, self.payload_size, |e| CachedElement {
            state: e.state(),
            level: e.level(),
            neighbors: e.neighbors(),
            payload: payloads.push(e.payload()),
        })
        .unwrap_or_else(|e| {
            self.fault.get_or_insert(e);
            None
        });
        self.index.insert(ptr, loaded);
        loaded
    }

    /// The first damaged link met by [`ElementCache::get`], as an error.
    pub fn check(&self) -> Result<(), HnswError> {
        match &self.fault {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// Adds an element that is not on a page yet (the one being inserted).
    pub fn put(&mut self, ptr: ItemPointer, level: u8, payload: &[u8]) {
        let payload = self.payloads.push(payload);
        self.index.insert(
            ptr,
            Some(CachedElement {
                state: crate::format::STATE_LIVE,
                level,
                neighbors: ItemPointer::INVALID,
                payload,
            }),
        );
    }

    /// Payload of a cached element.
    pub fn payload(&self, e: &CachedElement) -> &[u8] {
        self.payloads.get(e.payload)
    }

    /// Distance between two cached elements (both must have been loaded).
    pub fn distance<S: Space>(&self, space: &S, a: ItemPointer, b: ItemPointer) -> f32 {
        let pa = self.index[&a].expect("element cached");
        let pb = self.index[&b].expect("element cached");
        space.distance(self.payload(&pa), self.payload(&pb))
    }

    /// Forgets everything but the fault (e.g. after a retry found the
    /// graph changed).
    pub fn clear(&mut self) {
        self.index.clear();
        self.payloads.clear();
    }
}
