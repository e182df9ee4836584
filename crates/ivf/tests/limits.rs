//! Scans stay within their memory limit and return the same rows in the
//! same order as an unbounded scan; every loop stops when interrupted.

use ivf::{
    bulk_delete, insert, IndexParams, IterativeScan, IvfBuilder, IvfError, Scan, SearchOptions,
};
use pagestore::{ItemPointer, MemRelation};

const DIM: usize = 4;

mod common;
use common::L2;

fn vector(i: usize) -> Vec<u8> {
    // Few distinct values: many equal distances, so ties must resume exactly.
    let v: Vec<f32> = (0..DIM).map(|d| ((i * 31 + d * 7) % 13) as f32).collect();
    bytemuck::cast_slice(&v).to_vec()
}

fn tid(i: usize) -> ItemPointer {
    ItemPointer::new((i / 100) as u32, (i % 100 + 1) as u16)
}

fn build(rows: usize, lists: usize) -> MemRelation {
    let rel = MemRelation::new();
    let centroids: Vec<u8> = (0..lists).flat_map(|l| vector(l * 5 + 1)).collect();
    let params = IndexParams {
        dims: DIM as u32,
        payload_size: DIM * 4,
        space_id: 1,
        quantization: 0,
    };
    let mut builder = IvfBuilder::new(&rel, &L2, params, centroids, |_| {}).unwrap();
    for i in 0..rows {
        builder.push(tid(i), &vector(i)).unwrap();
    }
    builder.finish().unwrap();
    rel
}

fn scan(
    rel: &MemRelation,
    options: SearchOptions,
    memory: Option<usize>,
) -> (Vec<(ItemPointer, f32)>, usize) {
    let query = vector(3);
    let mut scan = Scan::new(rel, &L2, &query, &options).unwrap();
    if let Some(bytes) = memory {
        scan.set_memory_limit(bytes);
    }
    let mut rows = Vec::new();
    let mut most_held = 0;
    while let Some(row) = scan.next(rel, &L2).unwrap() {
        most_held = most_held.max(scan.rows_held());
        rows.push(row);
    }
    (rows, most_held)
}

#[test]
fn a_small_memory_limit_bounds_the_rows_held_and_keeps_the_order() {
    let rel = build(5000, 4);
    for options in [
        SearchOptions {
            probes: 4,
            iterative: IterativeScan::Off,
        },
        SearchOptions {
            probes: 1,
            iterative: IterativeScan::RelaxedOrder { max_probes: 4 },
        },
    ] {
        let (all, held_unbounded) = scan(&rel, options, Some(usize::MAX / 2));
        assert_eq!(all.len(), 5000);
        assert!(held_unbounded > 1000, "{held_unbounded}");
        // 64 kB of work_mem, and the smallest limit.
        for bytes in [64 << 10, 0] {
            let (bounded, held) = scan(&rel, options, Some(bytes));
            let cap = (bytes / 12).max(64);
            assert!(held <= cap, "{held} rows held with a cap of {cap}");
            assert_eq!(bounded, all, "{options:?} with {bytes} bytes");
        }
    }
}

#[test]
fn interrupts_stop_scans_inserts_and_vacuum() {
    let rel = build(3000, 8);
    let query = vector(3);
    let options = SearchOptions {
        probes: 8,
        iterative: IterativeScan::Off,
    };
    // A scan checks more than once: a cancel that arrives after the first
    // check still stops it.
    rel.interrupt_after(None);
    let before = rel.interrupt_checks();
    let _ = scan(&rel, options, None);
    let checks = rel.interrupt_checks() - before;
    assert!(checks >= 2, "{checks} checks");
    for after in 0..checks {
        rel.interrupt_after(Some(after));
        let r = Scan::new(&rel, &L2, &query, &options).and_then(|mut s| {
            while s.next(&rel, &L2)?.is_some() {}
            Ok(())
        });
        assert_eq!(r, Err(IvfError::Cancelled), "cancel after {after} checks");
    }
    rel.interrupt_after(Some(0));
    assert_eq!(
        insert(&rel, &L2, tid(9000), &query),
        Err(IvfError::Cancelled)
    );
    for after in [0, 1, 5] {
        rel.interrupt_after(Some(after));
        let r = bulk_delete(&rel, &mut |_| true);
        assert_eq!(r.err(), Some(IvfError::Cancelled), "cancel after {after}");
    }
    rel.interrupt_after(None);
    assert!(bulk_delete(&rel, &mut |_| false).is_ok());
}
