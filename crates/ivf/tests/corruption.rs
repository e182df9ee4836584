//! Damaged pages: every operation on an ivfflat index returns a result or
//! `Corrupted` / "not an ivfflat index", within a bounded number of page
//! accesses, without panicking or growing the relation (beyond an insert's
//! own page).
//!
//! A property test over seeded cases: an index is built in memory, copied,
//! damaged (random bytes of random pages, whole random pages, and targeted
//! fields: list and centroid links set to the relation's end,
//! `InvalidBlockNumber`, a cycle, or a page of another kind; header bounds;
//! the meta page's counts), then scanned (plain and iterative, with a small
//! memory limit), inserted into and vacuumed. The ivf crate has no check
//! function: the scans that read every list stand in for it.

use std::panic::{catch_unwind, AssertUnwindSafe};

use ivf::format::{FLAG_ROLE_MASK, MAX_LISTS};
use ivf::{
    bulk_delete, insert, IndexParams, IterativeScan, IvfBuilder, IvfError, Scan, SearchOptions,
};
use pagestore::{ItemPointer, MemRelation, Page, PageImage, Relation, BLCKSZ};

const DIM: usize = 4;
const LISTS: usize = 6;
const ROWS: usize = 600;
const CASES: u64 = 400;

mod common;
use common::L2;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn vector(&mut self) -> Vec<u8> {
        let v: Vec<f32> = (0..DIM)
            .map(|_| (self.below(1000) as f32) / 100.0)
            .collect();
        bytemuck::cast_slice(&v).to_vec()
    }
}

fn tid(i: usize) -> ItemPointer {
    ItemPointer::new((i / 100) as u32, (i % 100 + 1) as u16)
}

fn build() -> MemRelation {
    let rel = MemRelation::new();
    let mut rng = Rng(0x5eed);
    let centroids: Vec<u8> = (0..LISTS).flat_map(|_| rng.vector()).collect();
    let params = IndexParams {
        dims: DIM as u32,
        payload_size: DIM * 4,
        space_id: 1,
        quantization: 0,
    };
    let mut builder = IvfBuilder::new(&rel, &L2, params, centroids, |_| {}).unwrap();
    for i in 0..ROWS {
        builder.push(tid(i), &rng.vector()).unwrap();
    }
    builder.finish().unwrap();
    rel
}

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

/// Byte ranges of the items of a page.
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

/// Offset of `opaque.next` in a page image.
const NEXT_AT: usize = BLCKSZ - 16;

fn bad_block(rng: &mut Rng, nblocks: u32) -> u32 {
    match rng.below(5) {
        0 => nblocks,
        1 => u32::MAX - 1, // u32::MAX itself ends a chain
        2 => nblocks + 1 + rng.below(100) as u32,
        3 => 0,                                  // the meta page: a page of another kind
        _ => rng.below(nblocks as usize) as u32, // maybe a cycle
    }
}

fn damage(rel: &MemRelation, rng: &mut Rng) -> String {
    let nblocks = rel.nblocks();
    let block = rng.below(nblocks as usize) as u32;
    match rng.below(7) {
        0 | 1 => {
            let pages = 1 + rng.below(3);
            for _ in 0..pages {
                let block = rng.below(nblocks as usize) as u32;
                let n = 1 + rng.below(40);
                rel.with_raw_page(block, |p| {
                    for _ in 0..n {
                        p[rng.below(BLCKSZ)] = rng.next() as u8;
                    }
                });
            }
            format!("random bytes of {pages} pages")
        }
        2 => {
            let keep_header = rng.below(2) == 0;
            rel.with_raw_page(block, |p| {
                let from = if keep_header { 24 } else { 0 };
                for b in &mut p[from..] {
                    *b = rng.next() as u8;
                }
            });
            format!("random page {block} (header kept: {keep_header})")
        }
        3 => {
            // A page's `next` link.
            let bad = bad_block(rng, nblocks);
            rel.with_raw_page(block, |p| {
                p[NEXT_AT..NEXT_AT + 4].copy_from_slice(&bad.to_ne_bytes())
            });
            format!("next link of block {block} set to {bad}")
        }
        4 => {
            // A centroid's `head` or `insert_block`.
            let bad = bad_block(rng, nblocks);
            let which = 4 * rng.below(2);
            let mut done = false;
            for b in 1..nblocks {
                if done {
                    break;
                }
                rel.with_raw_page(b, |p| {
                    let role = u16::from_ne_bytes([p[BLCKSZ - 12], p[BLCKSZ - 11]]);
                    if role & FLAG_ROLE_MASK != 2 {
                        return;
                    }
                    let items = items(p);
                    let (off, _) = items[rng.below(items.len())];
                    p[off + which..off + which + 4].copy_from_slice(&bad.to_ne_bytes());
                    done = true;
                });
            }
            format!("centroid word {which} set to {bad}")
        }
        5 => {
            let field = 12 + 2 * rng.below(3);
            let value = rng.next() as u16;
            rel.with_raw_page(block, |p| {
                p[field..field + 2].copy_from_slice(&value.to_ne_bytes())
            });
            format!("header field at {field} of block {block} set to {value}")
        }
        _ => {
            // Meta page words: dims, payload size, lists, first centroid block.
            let word = 2 + rng.below(6);
            let value = [0u32, 1, 3, MAX_LISTS + 1, u32::MAX, nblocks][rng.below(6)];
            rel.with_raw_page(0, |p| {
                let (off, _) = items(p)[0];
                p[off + 4 * word..off + 4 * word + 4].copy_from_slice(&value.to_ne_bytes());
            });
            format!("meta word {word} set to {value}")
        }
    }
}

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

fn acceptable<T>(r: &Result<T, IvfError>) -> bool {
    matches!(
        r,
        Ok(_)
            | Err(IvfError::Corrupted(_))
            | Err(IvfError::NotAnIvfIndex)
            | Err(IvfError::UnsupportedVersion(_))
            | Err(IvfError::UnsupportedQuantization(_))
            | Err(IvfError::PayloadSize { .. })
    )
}

/// Every row of a scan of all lists, with a memory limit of `memory` bytes.
fn scan_all(rel: &MemRelation, query: &[u8], memory: usize) -> Result<usize, IvfError> {
    let options = SearchOptions {
        probes: 2,
        iterative: IterativeScan::RelaxedOrder { max_probes: LISTS },
    };
    let mut scan = Scan::new(rel, &L2, query, &options)?;
    scan.set_memory_limit(memory);
    let mut rows = 0;
    while scan.next(rel, &L2)?.is_some() {
        rows += 1;
    }
    Ok(rows)
}

#[test]
fn damaged_pages_give_results_or_corruption_errors() {
    let base = build();
    let nblocks = base.nblocks();
    // An intact full scan reads each page once or twice.
    let budget = 50 * nblocks as u64 + 1000;
    let mut outcomes = [0usize; 2];
    quiet_expected_panics();
    for case in 0..CASES {
        let mut rng = Rng(case * 7919 + 17);
        let rel = copy(&base);
        let how = damage(&rel, &mut rng);
        let ctx = |op: &str| format!("case {case} ({how}): {op}");
        let query = rng.vector();

        let r = bounded(&rel, budget, &ctx("search"), || {
            ivf::search(&rel, &L2, &query, 10, 3)
        });
        assert!(acceptable(&r), "{}: {r:?}", ctx("search"));
        outcomes[r.is_ok() as usize] += 1;
        let r = bounded(&rel, budget, &ctx("full scan"), || {
            scan_all(&rel, &query, 1 << 20)
        });
        assert!(acceptable(&r), "{}: {r:?}", ctx("full scan"));
        assert_eq!(rel.nblocks(), nblocks, "{}", ctx("scans grew the index"));

        for i in 0..3 {
            let v = rng.vector();
            let r = bounded(&rel, budget, &ctx("insert"), || {
                insert(&rel, &L2, tid(10_000 + i), &v)
            });
            assert!(acceptable(&r), "{}: {r:?}", ctx("insert"));
        }
        assert!(
            rel.nblocks() <= nblocks + 3,
            "{}",
            ctx("insert grew too much")
        );
        let after_inserts = rel.nblocks();

        let r = bounded(&rel, budget, &ctx("vacuum"), || {
            bulk_delete(&rel, &mut |t: ItemPointer| t.offset % 3 == 0)
        });
        assert!(acceptable(&r), "{}: {r:?}", ctx("vacuum"));
        assert_eq!(
            rel.nblocks(),
            after_inserts,
            "{}",
            ctx("vacuum grew the index")
        );
    }
    assert!(outcomes[0] > 0 && outcomes[1] > 0, "{outcomes:?}");
}

/// A cycle in a list, a link past the end and `InvalidBlockNumber - 1` are
/// each reported as corruption by a scan and a vacuum; an insert either
/// places its row before it meets the damage or reports it.
#[test]
fn chain_damage_is_reported() {
    let base = build();
    let n = base.nblocks();
    let list_pages: Vec<u32> = (1..n)
        .filter(|&b| base.read(b).opaque().flags & FLAG_ROLE_MASK == 3)
        .collect();
    for bad in [n, u32::MAX - 1, list_pages[0]] {
        let rel = copy(&base);
        // Every list page links to `bad` (a cycle when it is a list page).
        for &b in &list_pages {
            rel.with_raw_page(b, |p| {
                p[NEXT_AT..NEXT_AT + 4].copy_from_slice(&bad.to_ne_bytes())
            });
        }
        let query = vec![0u8; DIM * 4];
        let r = scan_all(&rel, &query, 1 << 20);
        assert!(matches!(r, Err(IvfError::Corrupted(_))), "{bad}: {r:?}");
        let r = insert(&rel, &L2, tid(9999), &query);
        assert!(
            matches!(r, Ok(()) | Err(IvfError::Corrupted(_))),
            "{bad}: {r:?}"
        );
        let r = bulk_delete(&rel, &mut |_| false);
        assert!(matches!(r, Err(IvfError::Corrupted(_))), "{bad}: {r:?}");
        assert!(rel.nblocks() <= n + 1);
    }
}

/// An hnsw page is not an ivfflat meta page.
#[test]
fn foreign_page_id_is_not_an_ivfflat_index() {
    let rel = copy(&build());
    rel.with_raw_page(0, |p| {
        p[BLCKSZ - 10..BLCKSZ - 8].copy_from_slice(&0xFF94u16.to_ne_bytes())
    });
    assert_eq!(ivf::read_meta(&rel).unwrap_err(), IvfError::NotAnIvfIndex);
}

fn quiet_expected_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !info.to_string().contains("page access budget exhausted") {
            default(info);
        }
    }));
}
