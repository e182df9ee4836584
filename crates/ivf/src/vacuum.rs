//! Bulk delete: remove the tuples whose heap rows are dead.
//!
//! Each list page is checked under a shared lock; only pages with dead tuples
//! are locked exclusively and rewritten (one WAL record each), their dead
//! tuples shrunk to empty slots, which compacts the page's data area. Pages
//! stay in their chains: unlinking one could send a concurrent scan that
//! already read its link into a recycled page. Afterwards each centroid's
//! tuple count is set to the live tuples seen and its `insert_block` hint to
//! the list's first page with room, so inserts fill the freed space.

use pagestore::{BlockNumber, ItemPointer, OffsetNumber, Page, PageMut, Relation, FIRST_OFFSET};

use crate::centroids::{
    for_each_centroid, read_meta_any, tuple_payload_size, update_centroid, CentroidLocation,
};
use crate::error::IvfError;
use crate::format::{decode_list_tuple, EMPTY_SLOT, FLAG_HAS_EMPTY_SLOTS, LIST_TUPLE_HEADER_SIZE};
use crate::lists::{check_list_page, has_room, ChainGuard};

/// Outcome of [`bulk_delete`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VacuumStats {
    /// Tuples removed.
    pub tuples_removed: u64,
    /// Live tuples left in the index.
    pub tuples_remaining: u64,
    /// Blocks of the relation.
    pub pages: BlockNumber,
}

/// Removes every tuple for which `is_dead(heap_tid)` is true (Postgres'
/// `IndexBulkDeleteCallback`, called once per tuple on this thread).
pub fn bulk_delete<R: Relation>(
    rel: &R,
    is_dead: &mut dyn FnMut(ItemPointer) -> bool,
) -> Result<VacuumStats, IvfError> {
    bulk_delete_with_delay(rel, is_dead, &mut || {})
}

/// [`bulk_delete`] calling `between_pages()` before each list page is read,
/// while no page is locked: the place for Postgres' `vacuum_delay_point()`,
/// which may sleep (cost-based vacuum delay) or raise a cancel, neither of
/// which may happen while a buffer lock is held.
pub fn bulk_delete_with_delay<R: Relation>(
    rel: &R,
    is_dead: &mut dyn FnMut(ItemPointer) -> bool,
    between_pages: &mut dyn FnMut(),
) -> Result<VacuumStats, IvfError> {
    // Both formats: a code index's tuples hold codes instead of vectors.
    let (meta, codes) = read_meta_any(rel)?;
    let tuple_len = LIST_TUPLE_HEADER_SIZE + tuple_payload_size(&meta, codes.as_ref()) as usize;
    // Collected first so that no centroid page stays locked while lists are read.
    let mut lists: Vec<(CentroidLocation, BlockNumber)> = Vec::with_capacity(meta.lists as usize);
    for_each_centroid(rel, &meta, |entry| {
        lists.push((entry.location, entry.header.head))
    })?;

    let mut stats = VacuumStats::default();
    for (location, head) in lists {
        let list = vacuum_list(rel, head, tuple_len, is_dead, between_pages)?;
        stats.tuples_removed += list.removed;
        stats.tuples_remaining += list.live;
        update_centroid(rel, location, |h| {
            h.tuples = list.live;
            if let Some(block) = list.first_with_room {
                h.insert_block = block;
            }
        })?;
    }
    stats.pages = rel.nblocks();
    Ok(stats)
}

/// Counts of one vacuumed list.
struct ListOutcome {
    live: u64,
    removed: u64,
    first_with_room: Option<BlockNumber>,
}

fn vacuum_list<R: Relation>(
    rel: &R,
    head: BlockNumber,
    tuple_len: usize,
    is_dead: &mut dyn FnMut(ItemPointer) -> bool,
    between_pages: &mut dyn FnMut(),
) -> Result<ListOutcome, IvfError> {
    let mut outcome = ListOutcome {
        live: 0,
        removed: 0,
        first_with_room: None,
    };
    let mut chain = ChainGuard::new(rel, head);
    while let Some(block) = chain.next_block()? {
        between_pages();
        let (dead, room) = {
            let page = rel.read(block);
            check_list_page(&page)?;
            chain.follow(page.opaque().next);
            let mut dead: Vec<OffsetNumber> = Vec::new();
            for offset in FIRST_OFFSET..=page.max_offset() {
                if let Some((tid, _)) = page.item(offset).and_then(decode_list_tuple) {
                    if is_dead(tid) {
                        dead.push(offset);
                    } else {
                        outcome.live += 1;
                    }
                }
            }
            (dead, has_room(&page, tuple_len))
        };
        if !dead.is_empty() {
            remove_tuples(rel, block, &dead)?;
            outcome.removed += dead.len() as u64;
        }
        if room || !dead.is_empty() {
            outcome.first_with_room.get_or_insert(block);
        }
    }
    Ok(outcome)
}

/// Shrinks the items at `offsets` to empty slots. Only vacuum removes tuples
/// and inserts never touch live items, so the offsets found under the shared
/// lock still hold the same tuples. Shrinking never needs space: an item
/// that cannot be rewritten is a damaged page.
fn remove_tuples<R: Relation>(
    rel: &R,
    block: BlockNumber,
    offsets: &[OffsetNumber],
) -> Result<(), IvfError> {
    let mut page = rel.write(block);
    for &offset in offsets {
        if !page.overwrite_item(offset, &EMPTY_SLOT) {
            return Err(IvfError::Corrupted("a list tuple cannot be rewritten"));
        }
    }
    page.opaque_mut().flags |= FLAG_HAS_EMPTY_SLOTS;
    Ok(())
}
