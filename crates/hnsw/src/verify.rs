//! Consistency check of an index (for an amcheck-style SQL function).
//!
//! Errors are states no sequence of crashes can produce (corruption or
//! bugs); warnings are states a crash between two page writes, or a
//! concurrent operation, can legitimately leave behind.
//!
//! Memory: the walk keeps a 20-byte summary of every element and every
//! neighbour tuple (sorted arrays, since pages are read in order), never the
//! neighbour lists themselves: links are checked on a second pass over the
//! pages, and reachability reads lists from their pages again. Everything
//! it holds counts against a byte budget (work_mem in Postgres); past it,
//! or if the allocator refuses, the check fails with
//! [`HnswError::OutOfMemory`] instead of growing.

use pagestore::{InterruptTicker, Interrupted, ItemPointer, Page, Relation};

use crate::format::{
    ElementRef, MetaTuple, NeighborsRef, STATE_FREE, STATE_LIVE, TUPLE_ELEMENT, TUPLE_NEIGHBORS,
};
use crate::pages::{is_graph_page, read_meta};
use crate::HnswError;

/// Category of a finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IssueKind {
    /// Meta page missing or invalid.
    Meta,
    /// Page not belonging to an HNSW index, or an unparsable item.
    Page,
    /// Element and neighbour tuple do not point at each other.
    BackLink,
    /// A neighbour link to something that is not a usable element.
    DanglingLink,
    /// A link on a layer the target is not part of, or a level above the
    /// entry point's.
    BadLevel,
    /// A list containing its owner or the same element twice.
    BadList,
    /// The entry point is missing or wrong.
    Entry,
    /// The meta element count differs from the live elements found.
    Count,
    /// Live elements not reachable from the entry point.
    Unreachable,
    /// A payload whose size differs from the index's.
    PayloadSize,
    /// The check was interrupted before it finished (in Postgres a cancel
    /// raises its ERROR instead).
    Interrupted,
}

/// Findings of each kind (errors, warnings) kept in a report; the rest
/// are only counted, so a badly damaged index cannot make the report grow
/// without bound.
pub const MAX_ISSUES: usize = 1000;

/// One finding.
#[derive(Clone, Debug, PartialEq)]
pub struct Issue {
    /// Category.
    pub kind: IssueKind,
    /// Tuple concerned, or invalid for index-wide findings.
    pub location: ItemPointer,
    /// Human-readable description.
    pub detail: String,
}

/// Result of [`verify`].
#[derive(Clone, Debug, Default)]
pub struct VerifyReport {
    /// Pages in the index.
    pub pages: u32,
    /// Elements with heap TIDs.
    pub live_elements: u64,
    /// Elements without heap TIDs awaiting vacuum.
    pub deleted_elements: u64,
    /// Reusable element slots.
    pub free_elements: u64,
    /// Heap TIDs in live elements.
    pub heap_tids: u64,
    /// Corruption: states no crash can produce (the first [`MAX_ISSUES`]).
    pub errors: Vec<Issue>,
    /// Crash or concurrency leftovers that are harmless (the first
    /// [`MAX_ISSUES`]).
    pub warnings: Vec<Issue>,
    /// Errors found, including those not kept in `errors`.
    pub error_count: u64,
    /// Warnings found, including those not kept in `warnings`.
    pub warning_count: u64,
}

impl VerifyReport {
    /// True if no errors were found.
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }

    fn error(&mut self, kind: IssueKind, location: ItemPointer, detail: String) {
        self.error_count += 1;
        if self.errors.len() < MAX_ISSUES {
            self.errors.push(Issue {
                kind,
                location,
                detail,
            });
        }
    }

    fn warn(&mut self, kind: IssueKind, location: ItemPointer, detail: String) {
        self.warning_count += 1;
        if self.warnings.len() < MAX_ISSUES {
            self.warnings.push(Issue {
                kind,
                location,
                detail,
            });
        }
    }
}

/// Interrupt checks of a walk over pages or in-memory tuples.
struct Ticks<'r, R> {
    rel: &'r R,
    ticker: InterruptTicker,
}

impl<R: Relation> Ticks<'_, R> {
    fn tick(&mut self) -> Result<(), Interrupted> {
        self.ticker.tick(self.rel)
    }
}

/// Why a walk stopped early.
enum Stop {
    Interrupted,
    OutOfMemory { requested: usize, limit: usize },
}

impl From<Interrupted> for Stop {
    fn from(_: Interrupted) -> Self {
        Stop::Interrupted
    }
}

/// Bytes of the arrays a walk holds, against a limit.
struct Budget {
    used: usize,
    limit: usize,
}

impl Budget {
    /// Makes room for one more item in `v`, growing it (doubling) only if
    /// the budget and the allocator allow.
    fn push<T>(&mut self, v: &mut Vec<T>, item: T) -> Result<(), Stop> {
        if v.len() == v.capacity() {
            let size = std::mem::size_of::<T>().max(1);
            let old = v.capacity() * size;
            let want = (v.capacity() * 2).max(64) - v.len();
            let requested = want * size;
            if self.used.saturating_add(requested) > self.limit {
                return Err(Stop::OutOfMemory {
                    requested,
                    limit: self.limit,
                });
            }
            v.try_reserve_exact(want).map_err(|_| Stop::OutOfMemory {
                requested,
                limit: usize::MAX,
            })?;
            self.used = self.used - old + v.capacity() * size;
        }
        v.push(item);
        Ok(())
    }

    /// Gives back what `v` held.
    fn release<T>(&mut self, v: Vec<T>) {
        self.used -= v.capacity() * std::mem::size_of::<T>().max(1);
    }
}

/// An element tuple, as pass 1 found it.
struct ElementInfo {
    at: ItemPointer,
    neighbors: ItemPointer,
    state: u8,
    level: u8,
    /// Reached from the entry point on layer 0.
    reached: bool,
}

/// A neighbour tuple, as pass 1 found it.
struct ListInfo {
    at: ItemPointer,
    owner: ItemPointer,
    level: u8,
    /// Its owner element points back at it.
    owned: bool,
}

/// Summaries of every tuple, each sorted by location (pages and offsets
/// are read in ascending order).
struct Tuples {
    elements: Vec<ElementInfo>,
    lists: Vec<ListInfo>,
}

impl Tuples {
    fn element(&self, at: ItemPointer) -> Option<usize> {
        self.elements.binary_search_by(|e| e.at.cmp(&at)).ok()
    }

    fn list(&self, at: ItemPointer) -> Option<usize> {
        self.lists.binary_search_by(|n| n.at.cmp(&at)).ok()
    }

    /// The neighbour tuple of the element at index `e`, if it points back.
    fn list_of(&self, e: usize) -> Option<&ListInfo> {
        let element = &self.elements[e];
        self.list(element.neighbors)
            .map(|i| &self.lists[i])
            .filter(|n| n.owner == element.at)
    }
}

/// Walks the whole index and reports inconsistencies, with no limit on the
/// memory it holds (see [`verify_within`]).
pub fn verify<R: Relation>(rel: &R) -> VerifyReport {
    match verify_within(rel, usize::MAX) {
        Ok(report) => report,
        Err(e) => {
            let mut report = VerifyReport {
                pages: rel.nblocks(),
                ..VerifyReport::default()
            };
            report.error(IssueKind::Interrupted, ItemPointer::INVALID, e.to_string());
            report
        }
    }
}

/// Walks the whole index and reports inconsistencies, holding at most
/// `memory_limit` bytes of summaries (about 40 bytes per element); fails
/// with [`HnswError::OutOfMemory`] past it. Takes share locks one page at
/// a time; run it without concurrent writers for exact results.
pub fn verify_within<R: Relation>(rel: &R, memory_limit: usize) -> Result<VerifyReport, HnswError> {
    let mut report = VerifyReport {
        pages: rel.nblocks(),
        ..VerifyReport::default()
    };
    let meta = match read_meta(rel) {
        Ok(meta) => meta,
        Err(e) => {
            report.error(IssueKind::Meta, ItemPointer::INVALID, e.to_string());
            return Ok(report);
        }
    };
    let mut ticks = Ticks {
        rel,
        ticker: InterruptTicker::new(256),
    };
    let mut budget = Budget {
        used: 0,
        limit: memory_limit,
    };
    let checked = collect(rel, &meta, &mut report, &mut ticks, &mut budget).and_then(|mut t| {
        check_pairs(&mut t, &mut report, &mut ticks)?;
        check_links(rel, &meta, &t, &mut report, &mut ticks)?;
        check_entry(&meta, &t, &mut report);
        check_reachability(rel, &meta, &mut t, &mut report, &mut ticks, &mut budget)
    });
    match checked {
        Ok(()) => {}
        Err(Stop::OutOfMemory { requested, limit }) => {
            return Err(HnswError::OutOfMemory { requested, limit })
        }
        Err(Stop::Interrupted) => {
            report.error(
                IssueKind::Interrupted,
                ItemPointer::INVALID,
                "check interrupted".into(),
            );
            return Ok(report);
        }
    }
    if meta.element_count != report.live_elements {
        report.warn(
            IssueKind::Count,
            ItemPointer::INVALID,
            format!(
                "meta page counts {} elements, found {} live",
                meta.element_count, report.live_elements
            ),
        );
    }
    Ok(report)
}

/// Pass 1: a summary of every tuple of every graph page.
fn collect<R: Relation>(
    rel: &R,
    meta: &MetaTuple,
    report: &mut VerifyReport,
    ticks: &mut Ticks<'_, R>,
    budget: &mut Budget,
) -> Result<Tuples, Stop> {
    let mut t = Tuples {
        elements: Vec::new(),
        lists: Vec::new(),
    };
    for block in 1..report.pages {
        ticks.tick()?;
        let page = rel.read(block);
        if !is_graph_page(&page) {
            let o = page.opaque();
            if o.page_id == 0 && page.max_offset() == 0 {
                // All zeroes: the relation was extended but the WAL record
                // initialising the page was lost in a crash (Postgres
                // extends files before logging). Unreachable, harmless.
                let detail = format!("block {block} is an empty page left by a crash");
                report.warn(IssueKind::Page, ItemPointer::new(block, 0), detail);
                continue;
            }
            let detail = format!(
                "block {block} is not an HNSW graph page (page id {:#x}, flags {})",
                o.page_id, o.flags
            );
            report.error(IssueKind::Page, ItemPointer::new(block, 0), detail);
            continue;
        }
        for off in 1..=page.max_offset() {
            let at = ItemPointer::new(block, off);
            let item = page.item(off).unwrap_or_default();
            match item.first() {
                Some(&TUPLE_ELEMENT) => {
                    let Some(e) = ElementRef::parse(item) else {
                        report.error(IssueKind::Page, at, "unparsable element tuple".into());
                        continue;
                    };
                    match e.state() {
                        STATE_LIVE => {
                            report.live_elements += 1;
                            report.heap_tids += e.tid_count() as u64;
                            if e.tid_count() == 0 {
                                report.error(
                                    IssueKind::Page,
                                    at,
                                    "live element without heap TIDs".into(),
                                );
                            }
                        }
                        STATE_FREE => report.free_elements += 1,
                        _ => report.deleted_elements += 1,
                    }
                    let size = e.payload().len();
                    if e.state() != STATE_FREE
                        && meta.payload_size != 0
                        && size != meta.payload_size as usize
                    {
                        report.error(
                            IssueKind::PayloadSize,
                            at,
                            format!("payload of {size} bytes"),
                        );
                    }
                    budget.push(
                        &mut t.elements,
                        ElementInfo {
                            at,
                            neighbors: e.neighbors(),
                            state: e.state(),
                            level: e.level(),
                            reached: false,
                        },
                    )?;
                }
                Some(&TUPLE_NEIGHBORS) => {
                    let Some(n) = NeighborsRef::parse(item, meta.m) else {
                        report.error(IssueKind::Page, at, "unparsable neighbour tuple".into());
                        continue;
                    };
                    budget.push(
                        &mut t.lists,
                        ListInfo {
                            at,
                            owner: n.element(),
                            level: n.level(),
                            owned: false,
                        },
                    )?;
                }
                _ => report.error(IssueKind::Page, at, "unknown tuple kind".into()),
            }
        }
    }
    Ok(t)
}

/// Each element's neighbour tuple must exist and point back at it.
fn check_pairs<R: Relation>(
    t: &mut Tuples,
    report: &mut VerifyReport,
    ticks: &mut Ticks<'_, R>,
) -> Result<(), Stop> {
    for i in 0..t.elements.len() {
        ticks.tick()?;
        let e = &t.elements[i];
        let list = t.list(e.neighbors);
        match list.map(|l| &t.lists[l]) {
            Some(n) if n.owner == e.at && n.level == e.level => {
                t.lists[list.expect("found")].owned = true;
            }
            // A free (or claimed, hence deleted) slot may be mid-reuse
            // after a crash.
            _ if e.state != STATE_LIVE => report.warn(
                IssueKind::BackLink,
                e.at,
                "reused slot left half-written by a crash".into(),
            ),
            _ => report.error(
                IssueKind::BackLink,
                e.at,
                format!(
                    "neighbour tuple {:?} does not belong to this element",
                    e.neighbors
                ),
            ),
        }
    }
    for n in t.lists.iter().filter(|n| !n.owned) {
        report.warn(
            IssueKind::BackLink,
            n.at,
            "orphaned neighbour tuple (leaked space)".into(),
        );
    }
    Ok(())
}

/// True if `target`, missing from the summaries, is an element now: one
/// inserted while the walk ran (not an error).
fn added_since<R: Relation>(rel: &R, pages: u32, target: ItemPointer) -> bool {
    if target.block == 0 || (target.block >= pages && target.block >= rel.nblocks()) {
        return false;
    }
    let page = rel.read(target.block);
    is_graph_page(&page)
        && page
            .item(target.offset)
            .and_then(ElementRef::parse)
            .is_some_and(|e| e.state() != STATE_FREE)
}

/// Pass 2, over the pages again: every link of a live element must reach a
/// non-free element present on that layer, without self-links or repeats.
/// Deleted elements' lists are not repaired (the elements are about to be
/// freed), so their links only need to reach element tuples.
fn check_links<R: Relation>(
    rel: &R,
    meta: &MetaTuple,
    t: &Tuples,
    report: &mut VerifyReport,
    ticks: &mut Ticks<'_, R>,
) -> Result<(), Stop> {
    // One layer's links, sorted to find repeats (at most 2 * MAX_M).
    let mut sorted: Vec<ItemPointer> = Vec::with_capacity(2 * crate::format::MAX_M as usize);
    let mut missing = Vec::new();
    for block in 1..report.pages {
        ticks.tick()?;
        let page = rel.read(block);
        if !is_graph_page(&page) {
            continue;
        }
        for off in 1..=page.max_offset() {
            let at = ItemPointer::new(block, off);
            // Only the lists pass 1 saw, owned by a non-free element.
            let Some(list) = t.list(at).map(|l| &t.lists[l]).filter(|n| n.owned) else {
                continue;
            };
            let Some(owner) = t.element(list.owner).map(|e| &t.elements[e]) else {
                continue;
            };
            if owner.state == STATE_FREE {
                continue;
            }
            let Some(n) = page
                .item(off)
                .and_then(|item| NeighborsRef::parse(item, meta.m))
            else {
                continue;
            };
            for layer in 0..=n.level() {
                sorted.clear();
                sorted.extend(n.layer(layer));
                sorted.sort_unstable();
                for (i, &target) in sorted.iter().enumerate() {
                    if target == owner.at || (i > 0 && sorted[i - 1] == target) {
                        report.error(
                            IssueKind::BadList,
                            owner.at,
                            format!("layer {layer} repeats {target:?} or links to itself"),
                        );
                        continue;
                    }
                    match t.element(target).map(|e| &t.elements[e]) {
                        None => missing.push((owner.at, layer, target)),
                        Some(_) if owner.state != STATE_LIVE => {}
                        Some(e) if e.state == STATE_FREE => report.error(
                            IssueKind::DanglingLink,
                            owner.at,
                            format!("layer {layer} links to free slot {target:?}"),
                        ),
                        Some(e) if (e.level as usize) < layer as usize => report.error(
                            IssueKind::BadLevel,
                            owner.at,
                            format!("layer {layer} links to {target:?} of level {}", e.level),
                        ),
                        _ => {}
                    }
                }
            }
        }
        // Links to tuples pass 1 did not see as elements, looked at once
        // this page is released (one page lock at a time). At most one
        // page's worth of links.
        drop(page);
        for (owner, layer, target) in missing.drain(..) {
            if !added_since(rel, report.pages, target) {
                report.error(
                    IssueKind::DanglingLink,
                    owner,
                    format!("layer {layer} links to {target:?}, which is not an element"),
                );
            }
        }
    }
    Ok(())
}

/// The entry point must be a non-free element with the highest level.
fn check_entry(meta: &MetaTuple, t: &Tuples, report: &mut VerifyReport) {
    let Some(entry) = meta.entry() else {
        if report.live_elements > 0 {
            report.warn(
                IssueKind::Entry,
                ItemPointer::INVALID,
                "live elements but no entry point".into(),
            );
        }
        return;
    };
    match t.element(entry).map(|e| &t.elements[e]) {
        Some(e) if e.state != STATE_FREE && e.level as u16 == meta.entry_level => {}
        Some(e) if e.state != STATE_FREE => report.error(
            IssueKind::Entry,
            entry,
            format!(
                "entry point has level {}, meta page says {}",
                e.level, meta.entry_level
            ),
        ),
        _ => report.error(
            IssueKind::Entry,
            entry,
            "entry point is not a usable element".into(),
        ),
    }
    for e in &t.elements {
        if e.state == STATE_LIVE && e.level as u16 > meta.entry_level {
            // An insert that crashed before updating the meta page.
            report.warn(
                IssueKind::BadLevel,
                e.at,
                format!("level {} above the entry point's", e.level),
            );
        }
    }
}

/// Live elements should be reachable on layer 0 from the entry point. A
/// depth-first walk that reads each list from its page again.
fn check_reachability<R: Relation>(
    rel: &R,
    meta: &MetaTuple,
    t: &mut Tuples,
    report: &mut VerifyReport,
    ticks: &mut Ticks<'_, R>,
    budget: &mut Budget,
) -> Result<(), Stop> {
    let Some(entry) = meta.entry() else {
        return Ok(());
    };
    let mut stack: Vec<u32> = Vec::new();
    // An entry point that is not an element (an error of its own) reaches
    // nothing.
    if let Some(entry) = t.element(entry) {
        t.elements[entry].reached = true;
        budget.push(&mut stack, entry as u32)?;
    }
    let mut links = Vec::with_capacity(2 * crate::format::MAX_M as usize);
    while let Some(e) = stack.pop() {
        ticks.tick()?;
        let e = e as usize;
        if t.elements[e].state == STATE_FREE {
            continue;
        }
        let Some(list) = t.list_of(e) else {
            continue;
        };
        // Pass 1 read this tuple from this block, so the block exists.
        let at = list.at;
        links.clear();
        {
            let page = rel.read(at.block);
            if let Some(n) = page
                .item(at.offset)
                .and_then(|item| NeighborsRef::parse(item, meta.m))
                .filter(|n| n.element() == t.elements[e].at)
            {
                links.extend(n.layer(0));
            }
        }
        for &next in &links {
            if let Some(i) = t.element(next) {
                if !t.elements[i].reached {
                    t.elements[i].reached = true;
                    budget.push(&mut stack, i as u32)?;
                }
            }
        }
    }
    budget.release(stack);
    let mut unreachable = t
        .elements
        .iter()
        .filter(|e| e.state == STATE_LIVE && !e.reached)
        .map(|e| e.at);
    if let Some(first) = unreachable.next() {
        report.warn(
            IssueKind::Unreachable,
            first,
            format!(
                "{} live elements unreachable from the entry point",
                1 + unreachable.count()
            ),
        );
    }
    Ok(())
}
