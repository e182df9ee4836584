//! Inverted-list pages: walking a page chain, reading its tuples, and placing
//! a tuple on a page.

use pagestore::{
    maxalign, BlockNumber, InterruptTicker, Page, PageMut, Relation, FIRST_OFFSET, INVALID_BLOCK,
};

use crate::error::IvfError;
use crate::format::{
    decode_list_tuple_of_size, is_empty_slot, PageRole, FLAG_HAS_EMPTY_SLOTS, FLAG_ROLE_MASK,
    IVF_PAGE_ID, LIST_TUPLE_HEADER_SIZE,
};

impl From<pagestore::Interrupted> for IvfError {
    fn from(_: pagestore::Interrupted) -> Self {
        IvfError::Cancelled
    }
}

/// Fails unless `page` is a list page of an IVF index (a damaged link can
/// lead a list walk to any page, which must then be neither read as tuples
/// nor written to).
pub(crate) fn check_list_page<P: Page>(page: &P) -> Result<(), IvfError> {
    let o = page.opaque();
    if o.page_id == IVF_PAGE_ID && o.flags & FLAG_ROLE_MASK == PageRole::List as u16 {
        Ok(())
    } else {
        Err(IvfError::Corrupted(
            "a list reaches a page that is not a list page",
        ))
    }
}

/// Walks a chain of pages linked by `opaque.next`, refusing links past the end
/// of the relation ([`Relation::check_block`]) and chains longer than the
/// relation (a cycle), so that a corrupted index cannot crash or hang a
/// backend; checks for interrupts every few pages.
pub(crate) struct ChainGuard<'r, R: Relation> {
    rel: &'r R,
    next: BlockNumber,
    visited: u32,
    ticker: InterruptTicker,
    /// Relation size when last asked (asking costs a system call in
    /// Postgres); it only grows, so it is re-read only when a link or the
    /// walk's length goes past it.
    nblocks: BlockNumber,
}

/// Pages walked between interrupt checks.
const PAGES_PER_INTERRUPT_CHECK: u32 = 64;

impl<'r, R: Relation> ChainGuard<'r, R> {
    pub(crate) fn new(rel: &'r R, head: BlockNumber) -> Self {
        Self {
            rel,
            next: head,
            visited: 0,
            nblocks: 0,
            ticker: InterruptTicker::new(PAGES_PER_INTERRUPT_CHECK),
        }
    }

    /// The next block to visit, `None` at the end of the chain. The walk ends
    /// there unless [`ChainGuard::follow`] supplies the block's `next` link.
    pub(crate) fn next_block(&mut self) -> Result<Option<BlockNumber>, IvfError> {
        let block = std::mem::replace(&mut self.next, INVALID_BLOCK);
        if block == INVALID_BLOCK {
            return Ok(None);
        }
        // Re-read when needed: concurrent inserts may extend the relation
        // during the walk.
        self.ticker.tick(self.rel)?;
        if block >= self.nblocks || self.visited >= self.nblocks {
            self.nblocks = self.rel.nblocks();
        }
        if block >= self.nblocks {
            // In Postgres this raises the error itself, naming the index.
            self.rel
                .check_block(block)
                .map_err(|_| IvfError::Corrupted("page link past the end of the index"))?;
        }
        if self.visited >= self.nblocks {
            return Err(IvfError::Corrupted("cycle in a page chain"));
        }
        self.visited += 1;
        Ok(Some(block))
    }

    /// Continues the walk at `next` (`INVALID_BLOCK` ends it).
    pub(crate) fn follow(&mut self, next: BlockNumber) {
        self.next = next;
    }
}

/// Calls `visit(page)` for every page of the list starting at `head`, holding
/// the shared lock of one page at a time.
pub(crate) fn for_each_page<R: Relation>(
    rel: &R,
    head: BlockNumber,
    mut visit: impl FnMut(&R::ReadGuard<'_>),
) -> Result<(), IvfError> {
    let mut chain = ChainGuard::new(rel, head);
    while let Some(block) = chain.next_block()? {
        let page = rel.read(block);
        check_list_page(&page)?;
        let next = page.opaque().next;
        if next != INVALID_BLOCK && next < chain.nblocks {
            // Its memory loads while this page's tuples are compared.
            rel.prefetch_block(next);
        }
        visit(&page);
        chain.follow(next);
    }
    Ok(())
}

/// Calls `visit(tid, payload)` for every live tuple on `page` whose payload
/// has the index's `payload_size` (others are damaged and skipped).
pub(crate) fn for_each_tuple<'p, P: Page>(
    page: &'p P,
    payload_size: u32,
    mut visit: impl FnMut(pagestore::ItemPointer, &'p [u8]),
) {
    for offset in FIRST_OFFSET..=page.max_offset() {
        let tuple = page
            .item(offset)
            .and_then(|item| decode_list_tuple_of_size(item, payload_size));
        if let Some((tid, payload)) = tuple {
            visit(tid, payload);
        }
    }
}

/// Whether a tuple of `len` bytes can be placed on `page` by [`place_tuple`].
pub(crate) fn has_room<P: Page>(page: &P, len: usize) -> bool {
    // Growing an 8-byte empty slot in place needs no new line pointer.
    let grows_empty_slot = page.opaque().flags & FLAG_HAS_EMPTY_SLOTS != 0
        && maxalign(len)
            <= maxalign(LIST_TUPLE_HEADER_SIZE) + page.free_space() + pagestore::ITEM_ID_SIZE;
    page.fits(len) || grows_empty_slot
}

/// Puts an encoded list tuple on `page`, into an empty slot if there is one
/// (keeping the line-pointer array bounded) or else as a new item. Returns
/// false, leaving the page unchanged, if it does not fit.
pub(crate) fn place_tuple<P: PageMut>(page: &mut P, tuple: &[u8]) -> bool {
    if page.opaque().flags & FLAG_HAS_EMPTY_SLOTS != 0 {
        let slots: Vec<_> = empty_slots(page).take(2).collect();
        if let Some(&slot) = slots.first() {
            let more_slots = slots.len() > 1;
            if page.overwrite_item(slot, tuple) {
                if !more_slots {
                    page.opaque_mut().flags &= !FLAG_HAS_EMPTY_SLOTS;
                }
                return true;
            }
        } else {
            page.opaque_mut().flags &= !FLAG_HAS_EMPTY_SLOTS;
        }
    }
    page.add_item(tuple).is_some()
}

/// Offsets of the empty slots of a list page.
fn empty_slots<P: Page>(page: &P) -> impl Iterator<Item = pagestore::OffsetNumber> + '_ {
    (FIRST_OFFSET..=page.max_offset()).filter(|&o| page.item(o).is_some_and(is_empty_slot))
}

/// Appends a new list page holding `tuple` (not yet linked anywhere) and
/// returns its block number.
pub(crate) fn new_list_page<R: Relation>(rel: &R, tuple: &[u8]) -> BlockNumber {
    let mut page = rel.extend();
    *page.opaque_mut() = PageRole::List.opaque();
    assert!(
        page.add_item(tuple).is_some(),
        "a list tuple fits on an empty page"
    );
    page.block()
}

/// Links `new_block` after the last page of the chain that contains `from`:
/// one exclusive lock at a time, and a single page write does the linking, so
/// a crash before it leaves `new_block` unreachable rather than the list broken.
pub(crate) fn link_at_tail<R: Relation>(
    rel: &R,
    from: BlockNumber,
    new_block: BlockNumber,
) -> Result<(), IvfError> {
    let mut chain = ChainGuard::new(rel, from);
    while let Some(block) = chain.next_block()? {
        let next = {
            let page = rel.read(block);
            check_list_page(&page)?;
            page.opaque().next
        };
        if next != INVALID_BLOCK {
            chain.follow(next);
            continue;
        }
        let mut page = rel.write(block);
        let next = page.opaque().next;
        if next == INVALID_BLOCK {
            page.opaque_mut().next = new_block;
            return Ok(());
        }
        // Another backend appended a page between the two locks.
        chain.follow(next);
    }
    Err(IvfError::Corrupted("list chain ended without a tail"))
}
