//! Reading the meta page and the centroid pages, and updating one centroid's
//! list links.

use pagestore::{BlockNumber, OffsetNumber, Page, PageMut, Relation, FIRST_OFFSET};

use crate::error::IvfError;
use crate::format::{
    CentroidHeader, MetaTuple, PageRole, RabitqMeta, RabitqTrailer, CENTROID_HEADER_SIZE,
    FLAG_ROLE_MASK, IVF_PAGE_ID, META_BLOCK, RABITQ_META_SIZE,
};
use crate::lists::ChainGuard;

/// Where a centroid item lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CentroidLocation {
    pub(crate) block: BlockNumber,
    pub(crate) offset: OffsetNumber,
}

/// One centroid as read from its page.
pub(crate) struct CentroidEntry<'p> {
    /// 0-based list number (chain order).
    pub(crate) list: u32,
    pub(crate) location: CentroidLocation,
    pub(crate) header: CentroidHeader,
    pub(crate) payload: &'p [u8],
}

/// Reads and validates the meta page (dimensions, payload size and number
/// of lists, e.g. for cost estimates).
pub fn read_meta<R: Relation>(rel: &R) -> Result<MetaTuple, IvfError> {
    if rel.nblocks() == 0 {
        return Err(IvfError::NotAnIvfIndex);
    }
    let page = rel.read(META_BLOCK);
    let opaque = page.opaque();
    if opaque.page_id != IVF_PAGE_ID || opaque.flags & FLAG_ROLE_MASK != PageRole::Meta as u16 {
        return Err(IvfError::NotAnIvfIndex);
    }
    let item = page.item(FIRST_OFFSET).ok_or(IvfError::NotAnIvfIndex)?;
    MetaTuple::decode(item)
}

/// Decodes a meta item of either format version: the common part, and the
/// code parameters of a [`crate::format::FORMAT_VERSION_RABITQ`] index.
pub(crate) fn decode_meta_any(item: &[u8]) -> Result<(MetaTuple, Option<RabitqTrailer>), IvfError> {
    if item.len() == RABITQ_META_SIZE {
        let m = RabitqMeta::decode(item)?;
        Ok((m.meta, Some(m.codes)))
    } else {
        Ok((MetaTuple::decode(item)?, None))
    }
}

/// [`read_meta`] for the paths that handle both formats (vacuum, and the
/// code-aware build, insert and scan): the common part, and the code
/// parameters of a code index.
pub(crate) fn read_meta_any<R: Relation>(
    rel: &R,
) -> Result<(MetaTuple, Option<RabitqTrailer>), IvfError> {
    if rel.nblocks() == 0 {
        return Err(IvfError::NotAnIvfIndex);
    }
    let page = rel.read(META_BLOCK);
    let opaque = page.opaque();
    if opaque.page_id != IVF_PAGE_ID || opaque.flags & FLAG_ROLE_MASK != PageRole::Meta as u16 {
        return Err(IvfError::NotAnIvfIndex);
    }
    let item = page.item(FIRST_OFFSET).ok_or(IvfError::NotAnIvfIndex)?;
    decode_meta_any(item)
}

/// The meta tuple of a code index whose trailer is `codec`'s, checking that
/// `vector` (the raw vector a code is taken of) has the codec's dimensions.
pub(crate) fn read_code_meta<R: Relation>(
    rel: &R,
    codec: &crate::rabitq::RabitqCodec,
    vector: &[f32],
) -> Result<MetaTuple, IvfError> {
    let (meta, codes) = read_meta_any(rel)?;
    let Some(codes) = codes else {
        return Err(IvfError::UnsupportedQuantization(meta.quantization));
    };
    if codes != codec.trailer() {
        return Err(IvfError::InvalidBuild(
            "the codec is not the one the index records".into(),
        ));
    }
    if vector.len() != codec.dims() {
        return Err(IvfError::PayloadSize {
            expected: codec.dims() * 4,
            actual: vector.len() * 4,
        });
    }
    Ok(meta)
}

/// Bytes of a list tuple's payload: the code of a code index, else the
/// vector payload.
pub(crate) fn tuple_payload_size(meta: &MetaTuple, codes: Option<&RabitqTrailer>) -> u32 {
    codes.map_or(meta.payload_size, |c| c.code_size)
}

/// Raises the meta page's `max_payload_norm` to `norm` if it is lower (one
/// page write, under the meta page's exclusive lock).
pub(crate) fn raise_max_payload_norm<R: Relation>(rel: &R, norm: f32) -> Result<(), IvfError> {
    let mut page = rel.write(META_BLOCK);
    let item = page.item_mut(FIRST_OFFSET).ok_or(IvfError::NotAnIvfIndex)?;
    let (mut meta, _) = decode_meta_any(item)?;
    if norm > meta.max_payload_norm {
        meta.max_payload_norm = norm;
        // The common part leads both versions' items.
        item[..size_of::<MetaTuple>()].copy_from_slice(bytemuck::bytes_of(&meta));
    }
    Ok(())
}

/// Calls `visit` for every centroid in list order, holding a shared lock on
/// one centroid page at a time. Fails if the pages hold a different number of
/// centroids than the meta page says.
pub(crate) fn for_each_centroid<R: Relation>(
    rel: &R,
    meta: &MetaTuple,
    mut visit: impl FnMut(CentroidEntry<'_>),
) -> Result<(), IvfError> {
    let mut list = 0u32;
    let mut chain = ChainGuard::new(rel, meta.first_centroid_block);
    while let Some(block) = chain.next_block()? {
        let page = rel.read(block);
        if page.opaque().flags & FLAG_ROLE_MASK != PageRole::Centroids as u16 {
            return Err(IvfError::Corrupted(
                "centroid chain reaches a page of another kind",
            ));
        }
        for offset in FIRST_OFFSET..=page.max_offset() {
            if list == meta.lists {
                return Err(IvfError::Corrupted(
                    "centroid count differs from the meta page",
                ));
            }
            let item = page
                .item(offset)
                .filter(|item| item.len() == CENTROID_HEADER_SIZE + meta.payload_size as usize)
                .ok_or(IvfError::Corrupted("malformed centroid item"))?;
            visit(CentroidEntry {
                list,
                location: CentroidLocation { block, offset },
                header: CentroidHeader::decode(item),
                payload: &item[CENTROID_HEADER_SIZE..],
            });
            list += 1;
        }
        chain.follow(page.opaque().next);
    }
    if list == meta.lists {
        Ok(())
    } else {
        Err(IvfError::Corrupted(
            "centroid count differs from the meta page",
        ))
    }
}

/// Applies `change` to the header of the centroid at `location` under an
/// exclusive lock (one atomic page write) and returns what `change` returned.
pub(crate) fn update_centroid<R: Relation, T>(
    rel: &R,
    location: CentroidLocation,
    change: impl FnOnce(&mut CentroidHeader) -> T,
) -> Result<T, IvfError> {
    let mut page = rel.write(location.block);
    let item = page
        .item_mut(location.offset)
        .ok_or(IvfError::Corrupted("centroid item vanished"))?;
    let mut header = CentroidHeader::decode(item);
    let result = change(&mut header);
    header.encode_into(item);
    Ok(result)
}
