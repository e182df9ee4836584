//! Damaged pages: every operation returns a result or `Corrupted`, within a
//! bounded number of page accesses, without panicking or growing the
//! relation (beyond an insert's own pages).
//!
//! A property test over seeded cases: an index is built in memory, copied,
//! damaged (random bytes of random pages, whole random pages, and targeted
//! fields: neighbour links and element pointers set to the relation's end,
//! `InvalidBlockNumber` or offsets past the page's items, header bounds,
//! level bytes, the meta page's entry point), then searched, scanned
//! iteratively, inserted into, vacuumed and verified.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};

use common::*;
use hnsw::format::{ElementRef, NeighborsRef, TUPLE_ELEMENT, TUPLE_NEIGHBORS};
use hnsw::{insert, search, vacuum, verify, HnswError, HnswScan, IterativeScan, ScanOptions};
use pagestore::{ItemPointer, MemRelation, Page, PageImage, Relation, BLCKSZ};

const DIM: usize = 8;
const CASES: u64 = 300;

/// A page-for-page copy of `rel`.
fn copy(rel: &MemRelation) -> MemRelation {
    let out = MemRelation::new();
    for block in 0..rel.nblocks() {
        drop(out.extend());
        let mut image: PageImage = [0; BLCKSZ];
        rel.with_raw_page(block, |src| image.copy_from_slice(src));
        out.with_raw_page(block, |dst| dst.copy_from_slice(&image));
    }
    out
}

/// Byte offsets of the items of `block` (from its line pointers).
fn items(image: &PageImage) -> Vec<(usize, usize)> {
    let lower = u16::from_ne_bytes([image[12], image[13]]) as usize;
    let mut out = Vec::new();
    let mut at = 24;
    while at + 4 <= lower.min(BLCKSZ) {
        let raw = u32::from_ne_bytes(image[at..at + 4].try_into().unwrap());
        let (off, len) = ((raw & 0x7FFF) as usize, (raw >> 17) as usize);
        if off >= 24 && off + len <= BLCKSZ {
            out.push((off, len));
        }
        at += 4;
    }
    out
}

/// A bad block number for a link.
fn bad_block(rng: &mut Rng, nblocks: u32) -> u32 {
    match rng.below(4) {
        0 => nblocks,
        1 => u32::MAX,
        2 => nblocks + 1 + rng.below(1000) as u32,
        _ => rng.next_u64() as u32,
    }
}

/// Damages `rel` in one of several ways; returns a description.
fn damage(rel: &MemRelation, rng: &mut Rng) -> String {
    let nblocks = rel.nblocks();
    let block = rng.below(nblocks as usize) as u32;
    match rng.below(8) {
        0 | 1 => {
            // Random bytes of a few pages.
            let pages = 1 + rng.below(3);
            for _ in 0..pages {
                let block = rng.below(nblocks as usize) as u32;
                let n = 1 + rng.below(40);
                rel.with_raw_page(block, |p| {
                    for _ in 0..n {
                        p[rng.below(BLCKSZ)] = rng.next_u64() as u8;
                    }
                });
            }
            format!("random bytes of {pages} pages")
        }
        2 => {
            // A whole page of noise (kept or not kept the header).
            let keep_header = rng.below(2) == 0;
            rel.with_raw_page(block, |p| {
                let from = if keep_header { 24 } else { 0 };
                for b in &mut p[from..] {
                    *b = rng.next_u64() as u8;
                }
            });
            format!("random page {block} (header kept: {keep_header})")
        }
        3 | 4 => {
            // A link of a neighbour tuple, or an element's neighbour
            // pointer, set to a bad block or offset.
            let block = 1 + rng.below((nblocks - 1) as usize) as u32;
            let what = rng.below(3);
            let bad = bad_block(rng, nblocks);
            let bad_offset = [0u16, 300, 0xFFFF][rng.below(3)];
            rel.with_raw_page(block, |p| {
                let items = items(p);
                if items.is_empty() {
                    return;
                }
                let (off, len) = items[rng.below(items.len())];
                let item = &mut p[off..off + len];
                let slot = match item.first() {
                    Some(&TUPLE_NEIGHBORS) if len >= 14 => 8 + 6 * rng.below((len - 8) / 6),
                    Some(&TUPLE_ELEMENT) if len >= 14 => 8,
                    _ => return,
                };
                let ptr = ItemPointer::read_from(&item[slot..slot + 6]);
                let new = match what {
                    0 => ItemPointer::new(bad, ptr.offset.max(1)),
                    1 => ItemPointer::new(ptr.block, bad_offset),
                    _ => ItemPointer::new(bad, bad_offset),
                };
                new.write_to(&mut item[slot..slot + 6]);
            });
            format!("link on block {block} set to block {bad}/offset {bad_offset} ({what})")
        }
        5 => {
            // Header bounds.
            let field = 12 + 2 * rng.below(3);
            let value = rng.next_u64() as u16;
            rel.with_raw_page(block, |p| {
                p[field..field + 2].copy_from_slice(&value.to_ne_bytes())
            });
            format!("header field at {field} of block {block} set to {value}")
        }
        6 => {
            // Level or count bytes of tuples.
            let block = 1 + rng.below((nblocks - 1) as usize) as u32;
            let value = [255u8, 200, 17, 6, 0][rng.below(5)];
            rel.with_raw_page(block, |p| {
                for (off, len) in items(p) {
                    if len > 4 && rng.below(3) == 0 {
                        p[off + 1 + rng.below(3)] = value;
                    }
                }
            });
            format!("level/state/count bytes of block {block} set to {value}")
        }
        _ => {
            // The meta page's entry point or insert hint.
            let bad = bad_block(rng, nblocks);
            rel.with_raw_page(0, |p| {
                let (off, len) = items(p)[0];
                let at = off + 8 + 4 * rng.below((len - 8) / 4);
                p[at..at + 4].copy_from_slice(&bad.to_ne_bytes());
            });
            format!("meta page word set to {bad}")
        }
    }
}

/// Runs `op` on `rel` with a bound on page accesses; fails on a panic.
fn bounded<T>(rel: &MemRelation, budget: u64, what: &str, op: impl FnOnce() -> T) -> T {
    rel.limit_accesses(Some(budget));
    let result = catch_unwind(AssertUnwindSafe(op));
    rel.limit_accesses(None);
    match result {
        Ok(v) => v,
        Err(e) => {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("{what} panicked: {msg}");
        }
    }
}

/// Only `Corrupted` may come back from a damaged index (and a payload size
/// mismatch when the meta page's size field itself was hit).
fn acceptable<T>(r: &Result<T, HnswError>) -> bool {
    matches!(
        r,
        Ok(_)
            | Err(HnswError::Corrupted(_))
            | Err(HnswError::UnsupportedVersion(_))
            | Err(HnswError::PayloadSizeMismatch { .. })
            | Err(HnswError::InvalidOption(_))
    )
}

#[test]
fn damaged_pages_give_results_or_corruption_errors() {
    let data = clustered(400, DIM, 4, 7);
    let mut options = default_build(DIM);
    options.index.m = 4;
    options.index.ef_construction = 16;
    let (base, _) = build_index(&L2, &data, options);
    let nblocks = base.nblocks();
    assert!(nblocks >= 4, "{nblocks} blocks");
    // Generous, but finite: an intact index needs far fewer.
    let budget = 400 * nblocks as u64 + 20_000;
    quiet_expected_panics();
    let mut outcomes = [0usize; 2];
    for case in 0..CASES {
        let mut rng = Rng::new(case + 1);
        let rel = copy(&base);
        let how = damage(&rel, &mut rng);
        let ctx = |op: &str| format!("case {case} ({how}): {op}");
        let query = to_bytes(&data[rng.below(data.len())]);

        let r = bounded(&rel, budget, &ctx("search"), || {
            search(&rel, &L2, &query, 20)
        });
        assert!(acceptable(&r), "{}: {r:?}", ctx("search"));
        outcomes[r.is_ok() as usize] += 1;

        let r = bounded(&rel, budget, &ctx("iterative scan"), || {
            let mut scan = HnswScan::new(
                &query,
                ScanOptions {
                    ef_search: 10,
                    iterative: IterativeScan::RelaxedOrder,
                    max_scan_tuples: 1_000_000,
                    memory_limit: usize::MAX,
                },
            );
            let mut rows = 0;
            loop {
                match scan.next(&rel, &L2) {
                    Ok(Some(_)) => rows += 1,
                    Ok(None) => return Ok(rows),
                    Err(e) => return Err(e),
                }
            }
        });
        assert!(acceptable(&r), "{}: {r:?}", ctx("iterative scan"));
        assert_eq!(rel.nblocks(), nblocks, "{}", ctx("scans grew the index"));

        let report = bounded(&rel, budget, &ctx("verify"), || verify(&rel));
        assert_eq!(rel.nblocks(), nblocks, "{}", ctx("verify grew the index"));
        let _ = report.is_ok();

        for i in 0..3 {
            let v = to_bytes(&data[rng.below(data.len())]);
            let r = bounded(&rel, budget, &ctx("insert"), || {
                insert(&rel, &L2, tid(10_000 + i), &v)
            });
            assert!(acceptable(&r), "{}: {r:?}", ctx("insert"));
        }
        assert!(
            rel.nblocks() <= nblocks + 6,
            "{}: {} blocks after 3 inserts",
            ctx("insert"),
            rel.nblocks()
        );
        let after_inserts = rel.nblocks();

        let r = bounded(&rel, budget, &ctx("vacuum"), || {
            vacuum(&rel, &L2, |t| row(t) % 3 == 0, || {})
        });
        assert!(acceptable(&r), "{}: {r:?}", ctx("vacuum"));
        assert_eq!(
            rel.nblocks(),
            after_inserts,
            "{}",
            ctx("vacuum grew the index")
        );
        let r = bounded(&rel, budget, &ctx("search after vacuum"), || {
            search(&rel, &L2, &query, 20)
        });
        assert!(acceptable(&r), "{}: {r:?}", ctx("search after vacuum"));
    }
    // Both outcomes occur: the damage is neither always fatal nor always
    // harmless, so the property is exercised both ways.
    assert!(outcomes[0] > 0 && outcomes[1] > 0, "{outcomes:?}");
}

/// Each targeted damage that a search must meet is reported as `Corrupted`
/// naming the block (a link past the end, and `InvalidBlockNumber`).
#[test]
fn link_past_the_end_is_reported_with_its_block() {
    let data = clustered(200, DIM, 2, 9);
    let (base, _) = build_index(&L2, &data, default_build(DIM));
    for bad in [base.nblocks(), u32::MAX] {
        let rel = copy(&base);
        // Every link of every neighbour tuple points past the end.
        for block in 1..rel.nblocks() {
            rel.with_raw_page(block, |p| {
                for (off, len) in items(p) {
                    if p[off] == TUPLE_NEIGHBORS {
                        for slot in (8..len).step_by(6) {
                            let ptr = ItemPointer::read_from(&p[off + slot..off + slot + 6]);
                            if ptr.is_valid() {
                                ItemPointer::new(bad, ptr.offset)
                                    .write_to(&mut p[off + slot..off + slot + 6]);
                            }
                        }
                    }
                }
            });
        }
        let nblocks = rel.nblocks();
        let err = search(&rel, &L2, &to_bytes(&data[0]), 10).unwrap_err();
        match &err {
            HnswError::Corrupted(msg) => {
                assert!(msg.contains(&format!("block {bad}")), "{msg}")
            }
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().contains("corrupted"), "{err}");
        let r = insert(&rel, &L2, tid(5000), &to_bytes(&data[1]));
        assert!(matches!(r, Err(HnswError::Corrupted(_))), "{r:?}");
        assert_eq!(rel.nblocks(), nblocks);
        let report = verify(&rel);
        assert!(!report.is_ok());
        // Sanity: the pages are otherwise intact.
        let page = rel.read(1);
        assert!((1..=page.max_offset()).any(|o| page.item(o).and_then(ElementRef::parse).is_some()));
        let _ = NeighborsRef::parse;
    }
}

/// Silences the panics the harness provokes and catches.
fn quiet_expected_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !info.to_string().contains("page access budget exhausted") {
            default(info);
        }
    }));
}
