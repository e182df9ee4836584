//! Build and search on 10,000 clustered 128-dimensional f32 vectors.
//!
//! `cargo bench -p pgvector_rs-hnsw`

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Duration;

use common::{build_index, clustered, default_build, to_bytes, L2};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use hnsw::{search, HnswScan, IterativeScan, ScanOptions};

const N: usize = 10_000;
const DIM: usize = 128;

fn bench(c: &mut Criterion) {
    let data = clustered(N, DIM, 32, 1);
    let queries: Vec<Vec<u8>> = clustered(100, DIM, 32, 2)
        .iter()
        .map(|q| to_bytes(q))
        .collect();

    let mut group = c.benchmark_group("hnsw_10k_128");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(8));
    group.bench_function("build", |b| {
        b.iter_batched(
            || (),
            |_| build_index(&L2, &data, default_build(DIM)),
            BatchSize::PerIteration,
        )
    });
    group.finish();

    let (rel, _) = build_index(&L2, &data, default_build(DIM));
    let mut group = c.benchmark_group("hnsw_10k_128_search");
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    group.bench_function("ef40_100_queries", |b| {
        b.iter(|| {
            for q in &queries {
                std::hint::black_box(search(&rel, &L2, q, 40).unwrap());
            }
        })
    });
    group.bench_function("relaxed_iterative_200_results_100_queries", |b| {
        let options = ScanOptions {
            ef_search: 40,
            iterative: IterativeScan::RelaxedOrder,
            ..ScanOptions::default()
        };
        b.iter(|| {
            for q in &queries {
                let mut scan = HnswScan::new(q, options);
                for _ in 0..200 {
                    std::hint::black_box(scan.next(&rel, &L2).unwrap());
                }
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
