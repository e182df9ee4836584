//! Resumable scans: pgvector's iterative scan modes.

mod common;

use std::collections::HashSet;

use common::*;
use hnsw::{HnswScan, IterativeScan, ScanItem, ScanOptions};
use pagestore::MemRelation;

fn drain(rel: &MemRelation, query: &[f32], options: ScanOptions) -> Vec<ScanItem> {
    let mut scan = HnswScan::new(&to_bytes(query), options);
    let mut out = Vec::new();
    while let Some(item) = scan.next(rel, &L2).unwrap() {
        out.push(item);
    }
    out
}

fn unlimited(mode: IterativeScan, ef: usize) -> ScanOptions {
    ScanOptions {
        ef_search: ef,
        iterative: mode,
        max_scan_tuples: u64::MAX,
        memory_limit: usize::MAX,
    }
}

#[test]
fn off_returns_one_batch() {
    let data = clustered(500, 8, 4, 40);
    let (rel, _) = build_index(&L2, &data, default_build(8));
    let items = drain(&rel, &data[1], unlimited(IterativeScan::Off, 25));
    assert_eq!(items.len(), 25);
    assert!(items.windows(2).all(|w| w[0].distance <= w[1].distance));
}

#[test]
fn relaxed_scan_returns_every_element_once() {
    let data = clustered(800, 8, 4, 41);
    let (rel, _) = build_index(&L2, &data, default_build(8));
    let query = &clustered(1, 8, 4, 42)[0];
    let items = drain(&rel, query, unlimited(IterativeScan::RelaxedOrder, 10));
    let rows: HashSet<usize> = items.iter().map(|i| row(i.heap_tid)).collect();
    assert_eq!(items.len(), 800);
    assert_eq!(rows.len(), 800);
    // Approximately ordered: each batch is sorted and the first batch is
    // the true top 10.
    let truth = brute_force(&L2, &rows_as_bytes(&data), &to_bytes(query), 10, |_| true);
    let first: Vec<usize> = items[..10].iter().map(|i| row(i.heap_tid)).collect();
    assert_eq!(first, truth);
    let inversions = items
        .windows(2)
        .filter(|w| w[0].distance > w[1].distance)
        .count();
    assert!(inversions < 80, "{inversions} inversions");
}

#[test]
fn strict_scan_is_sorted_and_nearly_complete() {
    let data = clustered(800, 8, 4, 43);
    let (rel, _) = build_index(&L2, &data, default_build(8));
    let query = &clustered(1, 8, 4, 44)[0];
    let items = drain(&rel, query, unlimited(IterativeScan::StrictOrder, 10));
    assert!(items.windows(2).all(|w| w[0].distance <= w[1].distance));
    let rows: HashSet<usize> = items.iter().map(|i| row(i.heap_tid)).collect();
    assert_eq!(rows.len(), items.len(), "no duplicates");
    // Rows found only after a farther one was returned are skipped.
    assert!(items.len() >= 700, "{} of 800", items.len());
    // With a beam covering everything the order is exact and complete.
    let items = drain(&rel, query, unlimited(IterativeScan::StrictOrder, 800));
    let got: Vec<usize> = items.iter().map(|i| row(i.heap_tid)).collect();
    assert_eq!(
        got,
        brute_force(&L2, &rows_as_bytes(&data), &to_bytes(query), 800, |_| true)
    );
}

#[test]
fn iterative_scan_finds_rows_passing_a_selective_filter() {
    let dim = 16;
    let data = clustered(3000, dim, 8, 45);
    let (rel, _) = build_index(&L2, &data, default_build(dim));
    let passes = |i: usize| i % 50 == 7; // 2% of rows
    let query = &clustered(1, dim, 8, 46)[0];
    let mut scan = HnswScan::new(
        &to_bytes(query),
        ScanOptions {
            ef_search: 40,
            iterative: IterativeScan::RelaxedOrder,
            ..ScanOptions::default()
        },
    );
    let mut found = Vec::new();
    while found.len() < 10 {
        let item = scan.next(&rel, &L2).unwrap().expect("scan ended early");
        if passes(row(item.heap_tid)) {
            found.push(row(item.heap_tid));
        }
    }
    let truth = brute_force(&L2, &rows_as_bytes(&data), &to_bytes(query), 10, passes);
    let hits = truth.iter().filter(|t| found.contains(t)).count();
    assert!(hits >= 9, "{hits}/10: {found:?} vs {truth:?}");
    assert!(scan.tuples_visited() < 3000);
}

#[test]
fn max_scan_tuples_and_memory_limit_stop_the_scan() {
    let data = clustered(2000, 8, 4, 47);
    let (rel, _) = build_index(&L2, &data, default_build(8));
    let options = ScanOptions {
        max_scan_tuples: 300,
        ..unlimited(IterativeScan::RelaxedOrder, 20)
    };
    let mut scan = HnswScan::new(&to_bytes(&data[0]), options);
    let mut n = 0;
    while scan.next(&rel, &L2).unwrap().is_some() {
        n += 1;
    }
    // Stops soon after the limit; everything visited may still be returned.
    assert!(
        scan.tuples_visited() < 300 + 64,
        "{}",
        scan.tuples_visited()
    );
    assert!(n >= 20 && n as u64 <= scan.tuples_visited(), "{n}");

    let options = ScanOptions {
        memory_limit: 64 * 1024,
        ..unlimited(IterativeScan::StrictOrder, 20)
    };
    let items = drain(&rel, &data[0], options);
    assert!(items.len() >= 20 && items.len() < 2000, "{}", items.len());
}
