//! Page-store abstraction for index access methods.
//!
//! Index structures (HNSW, IVF) are written against the [`Relation`] trait,
//! which models a Postgres relation fork made of [`BLCKSZ`]-byte pages in the
//! standard page layout (24-byte header, 4-byte line pointers, MAXALIGNed
//! item data, a fixed-size special area holding a [`PageOpaque`]).
//!
//! Two implementations exist:
//! * the pgrx layer of the extension implements the trait on top of the
//!   Postgres buffer manager, WAL-logging each write guard with generic WAL;
//! * [`MemRelation`] (this crate) keeps pages in memory with byte-for-byte the
//!   same layout and space accounting, for tests and benchmarks.
//!
//! Contract shared by all implementations (and relied upon by the index code):
//! * every write guard is its own atomic, crash-safe unit; an algorithm must
//!   leave the index searchable between any two page writes;
//! * a relation handle is used from one thread in Postgres, so the trait does
//!   not require `Sync` (the in-memory store is `Sync` for concurrency tests);
//! * never wait for a lock while holding a lock on another page unless the
//!   locking order is globally consistent (the index code holds one page lock
//!   at a time), and never lock the same page twice from one thread.
//!
//! ```
//! use pagestore::{MemRelation, Page, PageMut, PageOpaque, Relation};
//!
//! let rel = MemRelation::new();
//! let block = {
//!     let mut page = rel.extend();
//!     *page.opaque_mut() = PageOpaque::with_page_id(0xFF94);
//!     assert_eq!(page.add_item(b"hello"), Some(1));
//!     page.block()
//! }; // write guard dropped: in Postgres, the change is WAL-logged here
//! let page = rel.read(block);
//! assert_eq!(page.item(1), Some(&b"hello"[..]));
//! ```

#![warn(missing_docs)]

mod item_pointer;
mod layout;
mod mem;
mod opaque;
mod page;
mod prefetch;
pub mod rng;
pub mod threads;
mod view;

pub use item_pointer::ItemPointer;
pub use layout::{
    max_item_size, maxalign, usable_space, BLCKSZ, ITEM_ID_SIZE, MAXIMUM_ALIGNOF, PAGE_HEADER_SIZE,
    SPECIAL_SIZE,
};
pub use mem::{IoStats, MemIndexLock, MemPage, MemReadGuard, MemRelation, MemWriteGuard};
pub use opaque::PageOpaque;
pub use page::{BlockOutOfRange, InterruptTicker, Interrupted, LockMode, Page, PageMut, Relation};
pub use prefetch::{prefetch_bytes, prefetch_item};
pub use view::{init_page, page_is_new, PageImage, PageRef, PageRefMut};

/// Postgres `BlockNumber`.
pub type BlockNumber = u32;
/// Postgres `OffsetNumber` (1-based item index within a page).
pub type OffsetNumber = u16;
/// Postgres `InvalidBlockNumber`.
pub const INVALID_BLOCK: BlockNumber = u32::MAX;
/// Postgres `InvalidOffsetNumber`.
pub const INVALID_OFFSET: OffsetNumber = 0;
/// Postgres `FirstOffsetNumber`.
pub const FIRST_OFFSET: OffsetNumber = 1;
