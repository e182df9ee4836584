//! What a code index's scan start costs next to the scan: rebuilding the
//! codec from the meta page (what `src/am/ivfflat.rs` does at every scan
//! start and insert) against a whole scan returning 10 rows, at 384 and
//! 3,072 dimensions (2,000 rows, 40 lists, 4 probes, 4-bit codes, in memory).

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ivf::rabitq::{read_rabitq_meta, Metric, RabitqCodec};
use ivf::{IndexParams, IterativeScan, IvfBuilder, Scan, SearchOptions};
use pagestore::{ItemPointer, MemRelation};

struct L2;

impl ivf::Space for L2 {
    fn distance(&self, a: &[u8], b: &[u8]) -> f32 {
        let (a, b): (&[f32], &[f32]) = (bytemuck::cast_slice(a), bytemuck::cast_slice(b));
        a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
    }
}

fn noise(len: usize, seed: u64) -> Vec<f32> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

fn bench_codes_scan(c: &mut Criterion) {
    let mut group = c.benchmark_group("codes_scan");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2));
    let (rows, lists) = (2_000, 40);
    for dims in [384, 3072] {
        let data = noise(rows * dims, 7);
        let centroids: Vec<u8> = bytemuck::cast_slice(&data[..lists * dims]).to_vec();
        let codec = RabitqCodec::new(dims, 4, 11, Metric::L2).unwrap();
        let rel = MemRelation::new();
        let params = IndexParams {
            dims: dims as u32,
            payload_size: dims * 4,
            space_id: 1,
            quantization: 0,
        };
        let mut builder =
            IvfBuilder::new_with_codes(&rel, &L2, params, centroids, &codec, |_| {}).unwrap();
        for (i, row) in data.chunks(dims).enumerate() {
            let tid = ItemPointer::new((i / 100) as u32, (i % 100 + 1) as u16);
            builder
                .push_with_vector(tid, bytemuck::cast_slice(row), row)
                .unwrap();
        }
        builder.finish().unwrap();
        let query = noise(dims, 99);
        let options = SearchOptions {
            probes: 4,
            iterative: IterativeScan::Off,
        };
        group.bench_function(BenchmarkId::new("codec_from_meta", dims), |b| {
            b.iter(|| {
                let meta = read_rabitq_meta(&rel).unwrap();
                RabitqCodec::from_meta(&meta, Metric::L2).unwrap()
            })
        });
        group.bench_function(BenchmarkId::new("scan_10_rows", dims), |b| {
            b.iter(|| {
                let meta = read_rabitq_meta(&rel).unwrap();
                let codec = RabitqCodec::from_meta(&meta, Metric::L2).unwrap();
                let mut scan = Scan::new_with_codes(
                    &rel,
                    &L2,
                    bytemuck::cast_slice(&query),
                    &query,
                    codec,
                    &options,
                )
                .unwrap();
                (0..10)
                    .filter_map(|_| scan.next(&rel, &L2).unwrap())
                    .count()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_codes_scan);
criterion_main!(benches);
