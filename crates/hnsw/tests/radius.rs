//! Radius scans: [`HnswScan::stop_beyond`] continues past `ef_search` and
//! stops once the search has passed the radius.

mod common;

use std::collections::HashSet;

use common::*;
use hnsw::{HnswScan, IterativeScan, ScanOptions, Space};

fn options(mode: IterativeScan) -> ScanOptions {
    ScanOptions {
        ef_search: 20,
        iterative: mode,
        max_scan_tuples: u64::MAX,
        memory_limit: usize::MAX,
    }
}

#[test]
fn a_radius_scan_finds_the_rows_within_and_stops_soon_after() {
    let data = clustered(1500, 8, 4, 51);
    let (rel, _) = build_index(&L2, &data, default_build(8));
    let rows = rows_as_bytes(&data);
    for (qi, query) in clustered(5, 8, 4, 52).iter().enumerate() {
        let q = to_bytes(query);
        // the squared radius of the 200th nearest row: ten times ef_search
        let ranked = brute_force(&L2, &rows, &q, 200, |_| true);
        let threshold = L2.distance(&q, &rows[ranked[199]]);
        let within: HashSet<usize> = ranked.into_iter().collect();
        for mode in [
            IterativeScan::Off,
            IterativeScan::RelaxedOrder,
            IterativeScan::StrictOrder,
        ] {
            let mut scan = HnswScan::new(&q, options(mode));
            scan.stop_beyond(threshold);
            let mut found = HashSet::new();
            let mut returned = 0;
            while let Some(item) = scan.next(&rel, &L2).unwrap() {
                returned += 1;
                if item.distance <= threshold {
                    found.insert(row(item.heap_tid));
                }
            }
            // plain scans would stop after ef_search = 20 rows
            let missed = within.difference(&found).count();
            let tolerated = if mode == IterativeScan::StrictOrder {
                20
            } else {
                4
            };
            assert!(
                missed <= tolerated,
                "query {qi} {mode:?}: {missed} of 200 missed"
            );
            // it stops a round or a few past the radius, not at the end of the index
            assert!(
                returned < 600,
                "query {qi} {mode:?}: {returned} rows returned"
            );
        }
    }
}

#[test]
fn a_radius_below_every_distance_ends_after_the_first_round() {
    let data = clustered(500, 8, 4, 53);
    let (rel, _) = build_index(&L2, &data, default_build(8));
    let q = to_bytes(&clustered(1, 8, 4, 54)[0]);
    let mut scan = HnswScan::new(&q, options(IterativeScan::RelaxedOrder));
    scan.stop_beyond(-1.0);
    assert!(scan.next(&rel, &L2).unwrap().is_none());
    // an infinite radius returns every element
    let mut scan = HnswScan::new(&q, options(IterativeScan::RelaxedOrder));
    scan.stop_beyond(f32::INFINITY);
    let mut n = 0;
    while scan.next(&rel, &L2).unwrap().is_some() {
        n += 1;
    }
    assert_eq!(n, 500);
}
