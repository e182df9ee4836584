//! Every element a build writes is reachable from the entry point: HNSW's
//! pruning leaves some elements without a link from any reachable one (2 of
//! 100,000 on pypi-minilm-100k, up to 3% of small clustered sets at m = 3),
//! and a scan could never return such a row.

mod common;

use common::*;
use hnsw::{verify, HnswScan, IssueKind, IterativeScan, ScanOptions};

#[test]
fn builds_leave_no_element_unreachable() {
    // Without the repair these leave 24, 122, 2, 49, 42 and 8 elements
    // unreachable (one thread).
    for (m, n, dim, clusters, seed, threads) in [
        (3u16, 5000usize, 8usize, 50usize, 3u64, 1usize),
        (3, 4000, 16, 40, 7, 2),
        (4, 5000, 8, 50, 8, 1),
        (3, 3000, 12, 20, 9, 2),
        (4, 4000, 16, 100, 10, 1),
        (3, 4000, 6, 60, 11, 2),
    ] {
        let data = clustered(n, dim, clusters, seed);
        let mut options = default_build(dim);
        options.index.m = m;
        options.threads = threads;
        let (rel, report) = build_index(&L2, &data, options);
        let check = verify(&rel);
        assert!(check.is_ok(), "{:?}", check.errors);
        let unreachable: Vec<_> = check
            .warnings
            .iter()
            .filter(|i| i.kind == IssueKind::Unreachable)
            .collect();
        assert!(unreachable.is_empty(), "m {m}, {n} x {dim}: {unreachable:?}");
        // An iterative scan without limits returns every row.
        let query = to_bytes(&data[0]);
        let mut scan = HnswScan::new(
            &query,
            ScanOptions {
                ef_search: 40,
                iterative: IterativeScan::RelaxedOrder,
                max_scan_tuples: u64::MAX,
                ..ScanOptions::default()
            },
        );
        let mut seen = vec![false; n];
        while let Some(item) = scan.next(&rel, &L2).unwrap() {
            seen[row(item.heap_tid)] = true;
        }
        let missing = seen.iter().filter(|s| !**s).count();
        assert_eq!(missing, 0, "m {m}: {missing} of {} rows never returned", report.heap_tuples);
    }
}
