//! k-means training time on synthetic data (uniform noise: the worst case for
//! convergence, so every run does its full iteration budget).

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ivf::kmeans::{kmeans, KMeansParams, Metric};

/// Deterministic uniform floats in [-1, 1) (xorshift), no extra dependency.
fn noise(len: usize) -> Vec<f32> {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

fn bench_kmeans(c: &mut Criterion) {
    let mut group = c.benchmark_group("kmeans");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(4));
    // (sample points, dims, lists): pgvector's sample of 50 rows per list.
    for (n, dims, lists) in [(5_000, 128, 100), (15_800, 384, 316)] {
        let sample = noise(n * dims);
        let params = KMeansParams {
            max_iterations: 10,
            tolerance: 0.0,
            ..KMeansParams::new(lists, Metric::L2)
        };
        group.bench_function(
            BenchmarkId::from_parameter(format!("{n}x{dims}_k{lists}")),
            |b| b.iter(|| kmeans(&sample, dims, &params, &mut |_| {})),
        );
    }
    group.finish();
}

criterion_group!(benches, bench_kmeans);
criterion_main!(benches);
