//! Inserting one tuple into a built index.
//!
//! Every step holds at most one page lock and changes at most one page, so
//! each step is one atomic WAL record and a crash between two of them leaves a
//! searchable index:
//!
//! 1. find the nearest centroid (shared locks on the centroid pages);
//! 2. walk the list from its `insert_block` hint and place the tuple on the
//!    first page with room (shared lock to look, exclusive lock to write);
//! 3. if every page is full: append a new page already holding the tuple
//!    (unreachable until linked, so a crash here only leaks the page), link it
//!    after the list's tail (one write), then move the centroid's
//!    `insert_block` hint to it (one write; a stale hint is harmless because
//!    inserts follow `next` links from it).

use pagestore::{BlockNumber, ItemPointer, Page, Relation, INVALID_BLOCK};

use crate::centroids::{
    for_each_centroid, read_code_meta, read_meta, update_centroid, CentroidLocation,
};
use crate::error::IvfError;
use crate::format::{encode_list_tuple, CentroidHeader, MetaTuple};
use crate::lists::{
    check_list_page, has_room, link_at_tail, new_list_page, place_tuple, ChainGuard,
};
use crate::rabitq::RabitqCodec;
use crate::space::Space;

/// Adds the heap tuple `tid` with vector `payload` to the index.
pub fn insert<R: Relation, S: Space>(
    rel: &R,
    space: &S,
    tid: ItemPointer,
    payload: &[u8],
) -> Result<(), IvfError> {
    let meta = read_meta(rel)?;
    insert_into(rel, space, &meta, tid, payload, None)
}

/// Adds the heap tuple `tid` to a code index
/// ([`crate::format::FORMAT_VERSION_RABITQ`]): `payload` (the space's
/// encoding) picks the list, and the tuple holds `codec`'s code of `vector`
/// (what the operator compares) relative to that list's centroid. `codec`
/// must be the one the meta page records ([`RabitqCodec::from_meta`]).
pub fn insert_with_codes<R: Relation, S: Space>(
    rel: &R,
    space: &S,
    codec: &RabitqCodec,
    tid: ItemPointer,
    payload: &[u8],
    vector: &[f32],
) -> Result<(), IvfError> {
    let meta = read_code_meta(rel, codec, vector)?;
    insert_into(rel, space, &meta, tid, payload, Some((codec, vector)))
}

fn insert_into<R: Relation, S: Space>(
    rel: &R,
    space: &S,
    meta: &MetaTuple,
    tid: ItemPointer,
    payload: &[u8],
    codes: Option<(&RabitqCodec, &[f32])>,
) -> Result<(), IvfError> {
    meta.check_payload(payload)?;
    // Raised before the row is placed: a scan that can find the row (visible
    // to its snapshot) reads a bound covering it.
    let norm = space.payload_norm(payload);
    if norm > meta.max_payload_norm {
        crate::centroids::raise_max_payload_norm(rel, norm)?;
    }
    let (location, header, centroid) = nearest_list(rel, space, meta, payload)?;
    let mut tuple = Vec::new();
    match codes {
        Some((codec, vector)) => {
            let centroid: Vec<f32> = bytemuck::pod_collect_to_vec(&centroid);
            let mut code = vec![0u8; codec.code_size()];
            codec.encode_into(vector, &centroid, &mut code);
            encode_list_tuple(tid, &code, &mut tuple);
        }
        None => encode_list_tuple(tid, payload, &mut tuple),
    }

    let start = if header.insert_block != INVALID_BLOCK {
        header.insert_block
    } else {
        header.head
    };
    let tail = match start {
        INVALID_BLOCK => None,
        _ => match place_on_existing_page(rel, start, &tuple)? {
            Placed::Done => return Ok(()),
            Placed::Full { tail } => Some(tail),
        },
    };
    let new_block = new_list_page(rel, &tuple);
    let Some(tail) = tail else {
        return start_list(rel, location, new_block);
    };
    link_at_tail(rel, tail, new_block)?;
    update_centroid(rel, location, |h| {
        // Compare-and-set: keep a hint another backend or vacuum changed.
        if h.insert_block == start {
            h.insert_block = new_block;
        }
    })
}

/// The list whose centroid is nearest to `payload` (the first one on ties).
fn nearest_list<R: Relation, S: Space>(
    rel: &R,
    space: &S,
    meta: &MetaTuple,
    payload: &[u8],
) -> Result<(CentroidLocation, CentroidHeader, Vec<u8>), IvfError> {
    let mut best: Option<(f32, CentroidLocation, CentroidHeader, u32)> = None;
    let mut centroid = Vec::new();
    for_each_centroid(rel, meta, |entry| {
        let distance = space.distance(payload, entry.payload);
        if best.as_ref().is_none_or(|b| distance < b.0) {
            best = Some((distance, entry.location, entry.header, entry.list));
            centroid.clear();
            centroid.extend_from_slice(entry.payload);
        }
    })?;
    best.map(|(_, location, header, _)| (location, header, centroid))
        .ok_or(IvfError::Corrupted("index has no lists"))
}

enum Placed {
    Done,
    /// Every page from the start block on is full; `tail` is the last one.
    Full {
        tail: BlockNumber,
    },
}

/// Places the tuple on the first page with room, from `start` to the tail.
fn place_on_existing_page<R: Relation>(
    rel: &R,
    start: BlockNumber,
    tuple: &[u8],
) -> Result<Placed, IvfError> {
    let mut chain = ChainGuard::new(rel, start);
    let mut tail = start;
    while let Some(block) = chain.next_block()? {
        tail = block;
        // Look under a shared lock first: an exclusive lock would log a
        // (useless) WAL record for every full page passed.
        let (room, next) = {
            let page = rel.read(block);
            check_list_page(&page)?;
            (has_room(&page, tuple.len()), page.opaque().next)
        };
        if !room {
            chain.follow(next);
            continue;
        }
        let mut page = rel.write(block);
        if place_tuple(&mut page, tuple) {
            return Ok(Placed::Done);
        }
        // Filled by another backend between the two locks.
        chain.follow(page.opaque().next);
    }
    Ok(Placed::Full { tail })
}

/// Makes `new_block` the first page of a list that had none, or appends it
/// if another backend started the list meanwhile.
fn start_list<R: Relation>(
    rel: &R,
    location: CentroidLocation,
    new_block: BlockNumber,
) -> Result<(), IvfError> {
    let existing_head = update_centroid(rel, location, |h| {
        if h.head == INVALID_BLOCK {
            h.head = new_block;
            h.insert_block = new_block;
            None
        } else {
            Some(h.head)
        }
    })?;
    match existing_head {
        None => Ok(()),
        Some(head) => link_at_tail(rel, head, new_block),
    }
}
