//! Reading the meta page and the centroid pages, and updating one centroid's
//! list links.

use pagestore::{BlockNumber, OffsetNumber, Page, PageMut, Relation, FIRST_OFFSET};

use crate::error::IvfError;
use crate::format::{
    centroid_pages, centroid_piece_len, CentroidHeader, MetaTuple, PageRole, RabitqMeta,
    RabitqTrailer, CENTROID_HEADER_SIZE, FLAG_ROLE_MASK, IVF_PAGE_ID, META_BLOCK, RABITQ_META_SIZE,
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
/// centroids than the meta page says. Centroids that span pages
/// ([`crate::format::FORMAT_VERSION_RABITQ_SPANNING`]) are put together in a
/// buffer, and `visit` runs with no page locked.
pub(crate) fn for_each_centroid<R: Relation>(
    rel: &R,
    meta: &MetaTuple,
    mut visit: impl FnMut(CentroidEntry<'_>),
) -> Result<(), IvfError> {
    if centroid_pages(meta.payload_size as usize) > 1 {
        return for_each_spanning_centroid(rel, meta, visit);
    }
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

/// The item of piece `piece` of a spanning centroid on `page`, checked: the
/// page's role, its single item and that item's length.
fn centroid_piece<'p, P: Page>(
    page: &'p P,
    payload_size: usize,
    piece: usize,
) -> Result<&'p [u8], IvfError> {
    let role = if piece == 0 {
        PageRole::Centroids
    } else {
        PageRole::CentroidPiece
    };
    let opaque = page.opaque();
    if opaque.page_id != IVF_PAGE_ID || opaque.flags & FLAG_ROLE_MASK != role as u16 {
        return Err(IvfError::Corrupted(
            "centroid chain reaches a page of another kind",
        ));
    }
    if page.max_offset() != FIRST_OFFSET {
        return Err(IvfError::Corrupted("malformed centroid item"));
    }
    page.item(FIRST_OFFSET)
        .filter(|item| item.len() == centroid_piece_len(payload_size, piece))
        .ok_or(IvfError::Corrupted("malformed centroid item"))
}

/// [`for_each_centroid`] of an index whose centroids span pages.
fn for_each_spanning_centroid<R: Relation>(
    rel: &R,
    meta: &MetaTuple,
    mut visit: impl FnMut(CentroidEntry<'_>),
) -> Result<(), IvfError> {
    let size = meta.payload_size as usize;
    let pieces = centroid_pages(size);
    let mut payload = Vec::new();
    let mut list = 0u32;
    let mut piece = 0usize;
    let mut first: Option<(CentroidLocation, CentroidHeader)> = None;
    let mut chain = ChainGuard::new(rel, meta.first_centroid_block);
    while let Some(block) = chain.next_block()? {
        if list == meta.lists {
            return Err(IvfError::Corrupted(
                "centroid count differs from the meta page",
            ));
        }
        let next = {
            let page = rel.read(block);
            let item = centroid_piece(&page, size, piece)?;
            if piece == 0 {
                let location = CentroidLocation {
                    block,
                    offset: FIRST_OFFSET,
                };
                first = Some((location, CentroidHeader::decode(item)));
                payload.clear();
                payload.extend_from_slice(&item[CENTROID_HEADER_SIZE..]);
            } else {
                payload.extend_from_slice(item);
            }
            page.opaque().next
        };
        piece += 1;
        if piece == pieces {
            let (location, header) = first.take().expect("piece 0 was read");
            debug_assert_eq!(payload.len(), size);
            visit(CentroidEntry {
                list,
                location,
                header,
                payload: &payload,
            });
            list += 1;
            piece = 0;
        }
        chain.follow(next);
    }
    if list == meta.lists && piece == 0 {
        Ok(())
    } else {
        Err(IvfError::Corrupted(
            "centroid count differs from the meta page",
        ))
    }
}

/// Reads into `out` the payload of the centroid whose item (first piece)
/// is at `location`, as [`for_each_centroid`] found it: one page, or the
/// pieces of a centroid that spans pages, following their links.
pub(crate) fn read_centroid<R: Relation>(
    rel: &R,
    meta: &MetaTuple,
    location: CentroidLocation,
    out: &mut Vec<u8>,
) -> Result<(), IvfError> {
    let size = meta.payload_size as usize;
    let pieces = centroid_pages(size);
    out.clear();
    if pieces == 1 {
        // (`location` comes from a checked walk of the chain.)
        let page = rel.read(location.block);
        if page.opaque().flags & FLAG_ROLE_MASK != PageRole::Centroids as u16 {
            return Err(IvfError::Corrupted(
                "centroid chain reaches a page of another kind",
            ));
        }
        let item = page
            .item(location.offset)
            .filter(|item| item.len() == CENTROID_HEADER_SIZE + size)
            .ok_or(IvfError::Corrupted("malformed centroid item"))?;
        out.extend_from_slice(&item[CENTROID_HEADER_SIZE..]);
        return Ok(());
    }
    let mut chain = ChainGuard::new(rel, location.block);
    for piece in 0..pieces {
        let block = chain
            .next_block()?
            .ok_or(IvfError::Corrupted("centroid chain ends inside a centroid"))?;
        let page = rel.read(block);
        let item = centroid_piece(&page, size, piece)?;
        out.extend_from_slice(if piece == 0 {
            &item[CENTROID_HEADER_SIZE..]
        } else {
            item
        });
        chain.follow(page.opaque().next);
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{
        centroid_pages, FORMAT_VERSION_RABITQ, FORMAT_VERSION_RABITQ_SPANNING, MAX_LISTS,
    };
    use crate::rabitq::{Metric, RabitqCodec};
    use crate::{IterativeScan, Scan, SearchOptions};
    use pagestore::{ItemPointer, MemRelation, BLCKSZ};

    struct L2;

    impl crate::Space for L2 {
        fn distance(&self, a: &[u8], b: &[u8]) -> f32 {
            let (a, b): (Vec<f32>, Vec<f32>) = (
                bytemuck::pod_collect_to_vec(a),
                bytemuck::pod_collect_to_vec(b),
            );
            a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum()
        }
    }

    fn bytes(v: &[f32]) -> Vec<u8> {
        bytemuck::cast_slice(v).to_vec()
    }

    /// A code index of `lists` lists whose rows are the centroids.
    fn code_index(dims: usize, lists: usize) -> (MemRelation, Vec<Vec<f32>>) {
        let codec = RabitqCodec::new(dims, 1, 7, Metric::L2).unwrap();
        let centroids: Vec<Vec<f32>> = (0..lists)
            .map(|l| {
                (0..dims)
                    .map(|d| ((l * 7919 + d * 31) % 1000) as f32 * 0.01)
                    .collect()
            })
            .collect();
        let rel = MemRelation::new();
        let params = crate::IndexParams {
            dims: dims as u32,
            payload_size: dims * 4,
            space_id: 1,
            quantization: 0,
        };
        let all: Vec<u8> = centroids.iter().flat_map(|c| bytes(c)).collect();
        let mut builder =
            crate::IvfBuilder::new_with_codes(&rel, &L2, params, all, &codec, |_| {}).unwrap();
        for (i, c) in centroids.iter().enumerate() {
            let tid = ItemPointer::new(1, i as u16 + 1);
            builder.push_with_vector(tid, &bytes(c), c).unwrap();
        }
        builder.finish().unwrap();
        (rel, centroids)
    }

    #[test]
    fn centroids_span_pages_and_read_back_exactly() {
        assert_eq!(MAX_LISTS as usize * centroid_pages(16_000 * 4), 262_144);
        for (dims, pages) in [(2032, 1), (2033, 2), (3072, 2), (16_000, 8)] {
            let lists = 3;
            assert_eq!(centroid_pages(dims * 4), pages, "{dims} dimensions");
            let (rel, centroids) = code_index(dims, lists);
            let (meta, codes) = read_meta_any(&rel).unwrap();
            assert!(codes.is_some());
            let version = match pages {
                1 => FORMAT_VERSION_RABITQ,
                _ => FORMAT_VERSION_RABITQ_SPANNING,
            };
            assert_eq!(meta.version, version, "{dims} dimensions");
            if pages > 1 {
                // One item per page; a centroid's first page, then its pieces.
                for block in 1..=(lists * pages) as BlockNumber {
                    let page = rel.read(block);
                    let role = match (block as usize - 1) % pages {
                        0 => PageRole::Centroids,
                        _ => PageRole::CentroidPiece,
                    };
                    assert_eq!(page.opaque().flags & FLAG_ROLE_MASK, role as u16);
                    assert_eq!(page.max_offset(), FIRST_OFFSET);
                }
            }
            let mut locations = Vec::new();
            for_each_centroid(&rel, &meta, |e| {
                assert_eq!(e.payload, &bytes(&centroids[e.list as usize])[..]);
                assert_eq!(e.header.tuples, 1, "each row is in its own list");
                locations.push(e.location);
            })
            .unwrap();
            assert_eq!(locations.len(), lists);
            let mut buf = Vec::new();
            for (l, &location) in locations.iter().enumerate() {
                read_centroid(&rel, &meta, location, &mut buf).unwrap();
                assert_eq!(buf, bytes(&centroids[l]));
                // Header updates land on the centroid's first page.
                update_centroid(&rel, location, |h| h.tuples = 40 + l as u64).unwrap();
            }
            let mut tuples = Vec::new();
            for_each_centroid(&rel, &meta, |e| tuples.push(e.header.tuples)).unwrap();
            assert_eq!(tuples, [40, 41, 42]);
        }
    }

    /// Offset of `opaque.next` and of the role flags in a page image.
    const NEXT_AT: usize = BLCKSZ - 16;
    const FLAGS_AT: usize = BLCKSZ - 12;

    #[test]
    fn damaged_spanning_centroids_are_corruption_errors() {
        let (dims, lists) = (16_000, 3);
        let damages: [(&str, fn(&MemRelation)); 7] = [
            ("a piece's role", |rel| {
                rel.with_raw_page(2, |p| {
                    p[FLAGS_AT..FLAGS_AT + 2]
                        .copy_from_slice(&(PageRole::List as u16).to_ne_bytes())
                })
            }),
            ("a first page's role", |rel| {
                rel.with_raw_page(9, |p| {
                    p[FLAGS_AT..FLAGS_AT + 2]
                        .copy_from_slice(&(PageRole::CentroidPiece as u16).to_ne_bytes())
                })
            }),
            ("the chain ends inside a centroid", |rel| {
                rel.with_raw_page(3, |p| p[NEXT_AT..NEXT_AT + 4].fill(0xFF))
            }),
            ("a link back (a cycle)", |rel| {
                rel.with_raw_page(5, |p| {
                    p[NEXT_AT..NEXT_AT + 4].copy_from_slice(&1u32.to_ne_bytes())
                })
            }),
            ("a link past the end", |rel| {
                let end = rel.nblocks() + 5;
                rel.with_raw_page(4, |p| {
                    p[NEXT_AT..NEXT_AT + 4].copy_from_slice(&end.to_ne_bytes())
                })
            }),
            ("a piece's item length", |rel| {
                rel.with_raw_page(6, |p| {
                    // The first line pointer: offset 15 bits, flags 2, length 15.
                    let raw = u32::from_ne_bytes(p[24..28].try_into().unwrap());
                    let len = (raw >> 17) - 8;
                    p[24..28].copy_from_slice(&((raw & 0x1_FFFF) | (len << 17)).to_ne_bytes())
                })
            }),
            ("the chain skips a piece", |rel| {
                rel.with_raw_page(1, |p| {
                    p[NEXT_AT..NEXT_AT + 4].copy_from_slice(&3u32.to_ne_bytes())
                })
            }),
        ];
        for (what, damage) in damages {
            let (rel, centroids) = code_index(dims, lists);
            let (meta, _) = read_meta_any(&rel).unwrap();
            let codec =
                RabitqCodec::from_meta(&crate::rabitq::read_rabitq_meta(&rel).unwrap(), Metric::L2)
                    .unwrap();
            let all = SearchOptions {
                probes: lists,
                iterative: IterativeScan::Off,
            };
            let q = &centroids[1];
            // A scan started before the damage reads each list's centroid
            // when it reads the list.
            let mut early = Scan::new_with_codes(
                &rel,
                &L2,
                &bytes(q),
                q,
                RabitqCodec::new(dims, 1, 7, Metric::L2).unwrap(),
                &all,
            )
            .unwrap();
            damage(&rel);
            rel.limit_accesses(Some(1000));
            let corrupted = |r: Result<(), IvfError>| {
                assert!(matches!(r, Err(IvfError::Corrupted(_))), "{what}: {r:?}");
            };
            corrupted(for_each_centroid(&rel, &meta, |_| {}));
            corrupted(Scan::new_with_codes(&rel, &L2, &bytes(q), q, codec, &all).map(|_| ()));
            let codec = RabitqCodec::new(dims, 1, 7, Metric::L2).unwrap();
            corrupted(crate::insert_with_codes(
                &rel,
                &L2,
                &codec,
                ItemPointer::new(2, 1),
                &bytes(q),
                q,
            ));
            corrupted(crate::bulk_delete(&rel, &mut |_| false).map(|_| ()));
            let mut drained = Ok(());
            for _ in 0..lists + 1 {
                match early.next(&rel, &L2) {
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(e) => {
                        drained = Err(e);
                        break;
                    }
                }
            }
            // (the damage may spare the pages of the lists the scan reads)
            assert!(
                matches!(drained, Ok(()) | Err(IvfError::Corrupted(_))),
                "{what}: {drained:?}"
            );
            rel.limit_accesses(None);
        }
        // A version 2 meta page cannot describe centroids that span pages,
        // nor version 3 centroids that fit one.
        let (rel, _) = code_index(dims, lists);
        rel.with_raw_page(0, |p| {
            let lower = u16::from_ne_bytes([p[12], p[13]]);
            assert_eq!(lower, 28, "one item");
            let raw = u32::from_ne_bytes(p[24..28].try_into().unwrap());
            let off = (raw & 0x7FFF) as usize;
            p[off + 4..off + 8].copy_from_slice(&FORMAT_VERSION_RABITQ.to_ne_bytes());
        });
        assert!(matches!(read_meta_any(&rel), Err(IvfError::Corrupted(_))));
        let (rel, _) = code_index(100, lists);
        rel.with_raw_page(0, |p| {
            let raw = u32::from_ne_bytes(p[24..28].try_into().unwrap());
            let off = (raw & 0x7FFF) as usize;
            p[off + 4..off + 8].copy_from_slice(&FORMAT_VERSION_RABITQ_SPANNING.to_ne_bytes());
        });
        assert!(matches!(read_meta_any(&rel), Err(IvfError::Corrupted(_))));
    }
}
