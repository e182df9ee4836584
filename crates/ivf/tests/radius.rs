//! Radius scans: [`Scan::skip_lists_outside`] leaves out the lists that cannot
//! hold a row within the radius.

use ivf::{IndexParams, IterativeScan, IvfBuilder, Scan, SearchOptions, Space};
use pagestore::{ItemPointer, MemRelation};

mod common;
use common::L2;

const DIM: usize = 2;

/// A 40 x 40 grid; 16 lists with centroids on a coarser grid (every point
/// is in the list of its nearest centroid).
fn point(i: usize) -> Vec<f32> {
    vec![(i % 40) as f32, (i / 40) as f32]
}

fn tid(i: usize) -> ItemPointer {
    ItemPointer::new((i / 100) as u32, (i % 100 + 1) as u16)
}

fn build() -> MemRelation {
    let rel = MemRelation::new();
    let centroids: Vec<u8> = (0..16)
        .flat_map(|l| {
            let c = [5.0 + 10.0 * (l % 4) as f32, 5.0 + 10.0 * (l / 4) as f32];
            bytemuck::cast_slice(&c).to_vec()
        })
        .collect();
    let params = IndexParams {
        dims: DIM as u32,
        payload_size: DIM * 4,
        space_id: 1,
        quantization: 0,
    };
    let mut builder = IvfBuilder::new(&rel, &L2, params, centroids, |_| {}).unwrap();
    for i in 0..1600 {
        builder
            .push(tid(i), bytemuck::cast_slice(&point(i)))
            .unwrap();
    }
    builder.finish().unwrap();
    rel
}

#[test]
fn lists_beyond_the_bound_are_skipped_and_the_rows_within_are_found() {
    let rel = build();
    let options = SearchOptions {
        probes: 1,
        iterative: IterativeScan::RelaxedOrder { max_probes: 16 },
    };
    for (qx, qy, r) in [
        (12.0f32, 17.0f32, 3.0f32),
        (0.0, 0.0, 4.0),
        (20.0, 20.0, 1.0),
        (7.5, 31.0, 6.0),
    ] {
        let query: Vec<u8> = bytemuck::cast_slice(&[qx, qy]).to_vec();
        let threshold = r * r; // squared
        let within: Vec<usize> = (0..1600)
            .filter(|&i| L2.distance(&query, bytemuck::cast_slice(&point(i))) <= threshold)
            .collect();
        assert!(!within.is_empty());
        let mut scan = Scan::new(&rel, &L2, &query, &options).unwrap();
        // squared distances
        scan.skip_lists_outside(
            &rel,
            r as f64,
            |d| (d as f64).sqrt(),
            |a, b| (L2.distance(a, b) as f64).sqrt(),
        )
        .unwrap();
        let mut found = Vec::new();
        while let Some((t, d)) = scan.next(&rel, &L2).unwrap() {
            if d <= threshold {
                found.push(t.block as usize * 100 + t.offset as usize - 1);
            }
        }
        found.sort();
        assert_eq!(found, within, "query ({qx}, {qy}) radius {r}");
        assert!(scan.lists_read() <= 6, "{} lists read", scan.lists_read());
    }
    // without the bound, the scan reads every list
    let query: Vec<u8> = bytemuck::cast_slice(&[12.0f32, 17.0]).to_vec();
    let mut scan = Scan::new(&rel, &L2, &query, &options).unwrap();
    while scan.next(&rel, &L2).unwrap().is_some() {}
    assert_eq!(scan.lists_read(), 16);
}
