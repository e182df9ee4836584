//! Consistency check of an index (for an amcheck-style SQL function).
//!
//! Errors are states no sequence of crashes can produce (corruption or
//! bugs); warnings are states a crash between two page writes, or a
//! concurrent operation, can legitimately leave behind.

use std::collections::{HashMap, HashSet};

use pagestore::{InterruptTicker, Interrupted, ItemPointer, Page, Relation};

use crate::format::{
    ElementRef, MetaTuple, NeighborsRef, STATE_FREE, STATE_LIVE, TUPLE_ELEMENT, TUPLE_NEIGHBORS,
};
use crate::pages::{is_graph_page, read_meta};

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

struct ElementInfo {
    state: u8,
    level: u8,
    neighbors: ItemPointer,
}

struct NeighborInfo {
    owner: ItemPointer,
    level: u8,
    layers: Vec<Vec<ItemPointer>>,
}

/// Walks the whole index and reports inconsistencies. Takes share locks
/// one page at a time; run it without concurrent writers for exact results.
pub fn verify<R: Relation>(rel: &R) -> VerifyReport {
    let mut report = VerifyReport {
        pages: rel.nblocks(),
        ..VerifyReport::default()
    };
    let meta = match read_meta(rel) {
        Ok(meta) => meta,
        Err(e) => {
            report.error(IssueKind::Meta, ItemPointer::INVALID, e.to_string());
            return report;
        }
    };
    let mut ticks = Ticks {
        rel,
        ticker: InterruptTicker::new(256),
    };
    let checked = collect(rel, &meta, &mut report, &mut ticks).and_then(|(elements, lists)| {
        check_pairs(&elements, &lists, &mut report, &mut ticks)?;
        check_links(&elements, &lists, &mut report, &mut ticks)?;
        check_entry(&meta, &elements, &mut report);
        check_reachability(&meta, &elements, &lists, &mut report, &mut ticks)
    });
    if checked.is_err() {
        report.error(
            IssueKind::Interrupted,
            ItemPointer::INVALID,
            "check interrupted".into(),
        );
        return report;
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
    report
}

/// Reads every tuple of every graph page.
#[allow(clippy::type_complexity)]
fn collect<R: Relation>(
    rel: &R,
    meta: &MetaTuple,
    report: &mut VerifyReport,
    ticks: &mut Ticks<'_, R>,
) -> Result<
    (
        HashMap<ItemPointer, ElementInfo>,
        HashMap<ItemPointer, NeighborInfo>,
    ),
    Interrupted,
> {
    let mut elements = HashMap::new();
    let mut lists = HashMap::new();
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
                    elements.insert(
                        at,
                        ElementInfo {
                            state: e.state(),
                            level: e.level(),
                            neighbors: e.neighbors(),
                        },
                    );
                }
                Some(&TUPLE_NEIGHBORS) => {
                    let Some(n) = NeighborsRef::parse(item, meta.m) else {
                        report.error(IssueKind::Page, at, "unparsable neighbour tuple".into());
                        continue;
                    };
                    lists.insert(
                        at,
                        NeighborInfo {
                            owner: n.element(),
                            level: n.level(),
                            layers: (0..=n.level()).map(|l| n.layer(l).collect()).collect(),
                        },
                    );
                }
                _ => report.error(IssueKind::Page, at, "unknown tuple kind".into()),
            }
        }
    }
    Ok((elements, lists))
}

/// Each element's neighbour tuple must exist and point back at it.
fn check_pairs<R: Relation>(
    elements: &HashMap<ItemPointer, ElementInfo>,
    lists: &HashMap<ItemPointer, NeighborInfo>,
    report: &mut VerifyReport,
    ticks: &mut Ticks<'_, R>,
) -> Result<(), Interrupted> {
    let mut owned = HashSet::new();
    for (&at, e) in elements {
        ticks.tick()?;
        match lists.get(&e.neighbors) {
            Some(n) if n.owner == at && n.level == e.level => {
                owned.insert(e.neighbors);
            }
            // A free (or claimed, hence deleted) slot may be mid-reuse
            // after a crash.
            _ if e.state != STATE_LIVE => report.warn(
                IssueKind::BackLink,
                at,
                "reused slot left half-written by a crash".into(),
            ),
            _ => report.error(
                IssueKind::BackLink,
                at,
                format!(
                    "neighbour tuple {:?} does not belong to this element",
                    e.neighbors
                ),
            ),
        }
    }
    for (&at, _) in lists.iter().filter(|(at, _)| !owned.contains(at)) {
        report.warn(
            IssueKind::BackLink,
            at,
            "orphaned neighbour tuple (leaked space)".into(),
        );
    }
    Ok(())
}

/// Every link of a live element must reach a non-free element present on
/// that layer, without self-links or repeats. Deleted elements' lists are
/// not repaired (the elements are about to be freed), so their links only
/// need to reach element tuples.
fn check_links<R: Relation>(
    elements: &HashMap<ItemPointer, ElementInfo>,
    lists: &HashMap<ItemPointer, NeighborInfo>,
    report: &mut VerifyReport,
    ticks: &mut Ticks<'_, R>,
) -> Result<(), Interrupted> {
    for (&at, e) in elements.iter().filter(|(_, e)| e.state != STATE_FREE) {
        ticks.tick()?;
        let Some(n) = lists.get(&e.neighbors).filter(|n| n.owner == at) else {
            continue;
        };
        for (layer, list) in n.layers.iter().enumerate() {
            let mut seen = HashSet::new();
            for &target in list {
                if target == at || !seen.insert(target) {
                    report.error(
                        IssueKind::BadList,
                        at,
                        format!("layer {layer} repeats {target:?} or links to itself"),
                    );
                    continue;
                }
                match elements.get(&target) {
                    None => report.error(
                        IssueKind::DanglingLink,
                        at,
                        format!("layer {layer} links to {target:?}, which is not an element"),
                    ),
                    Some(_) if e.state != STATE_LIVE => {}
                    Some(t) if t.state == STATE_FREE => report.error(
                        IssueKind::DanglingLink,
                        at,
                        format!("layer {layer} links to free slot {target:?}"),
                    ),
                    Some(t) if (t.level as usize) < layer => report.error(
                        IssueKind::BadLevel,
                        at,
                        format!("layer {layer} links to {target:?} of level {}", t.level),
                    ),
                    _ => {}
                }
            }
        }
    }
    Ok(())
}

/// The entry point must be a non-free element with the highest level.
fn check_entry(
    meta: &MetaTuple,
    elements: &HashMap<ItemPointer, ElementInfo>,
    report: &mut VerifyReport,
) {
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
    match elements.get(&entry) {
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
    for (&at, e) in elements {
        if e.state == STATE_LIVE && e.level as u16 > meta.entry_level {
            // An insert that crashed before updating the meta page.
            report.warn(
                IssueKind::BadLevel,
                at,
                format!("level {} above the entry point's", e.level),
            );
        }
    }
}

/// Live elements should be reachable on layer 0 from the entry point.
fn check_reachability<R: Relation>(
    meta: &MetaTuple,
    elements: &HashMap<ItemPointer, ElementInfo>,
    lists: &HashMap<ItemPointer, NeighborInfo>,
    report: &mut VerifyReport,
    ticks: &mut Ticks<'_, R>,
) -> Result<(), Interrupted> {
    let Some(entry) = meta.entry() else {
        return Ok(());
    };
    let mut seen = HashSet::from([entry]);
    let mut stack = vec![entry];
    while let Some(at) = stack.pop() {
        ticks.tick()?;
        let Some(e) = elements.get(&at).filter(|e| e.state != STATE_FREE) else {
            continue;
        };
        let Some(n) = lists.get(&e.neighbors).filter(|n| n.owner == at) else {
            continue;
        };
        for &next in &n.layers[0] {
            if seen.insert(next) {
                stack.push(next);
            }
        }
    }
    let unreachable: Vec<_> = elements
        .iter()
        .filter(|(at, e)| e.state == STATE_LIVE && !seen.contains(at))
        .map(|(&at, _)| at)
        .collect();
    if let Some(&first) = unreachable.iter().min() {
        report.warn(
            IssueKind::Unreachable,
            first,
            format!(
                "{} live elements unreachable from the entry point",
                unreachable.len()
            ),
        );
    }
    Ok(())
}
