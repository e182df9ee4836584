//! Per-call cost of every kernel on every path this CPU supports, through
//! the public (dispatched) functions, at typical embedding sizes.
//!
//! Group `<kernel>/<dims>`, one benchmark per path, named after the table
//! the path uses on this CPU (e.g. `avx512+vpopcntdq`). Hamming runs over the
//! same number of bytes as the f32 vectors (4 * dims); sparse vectors have
//! about 5% of `dims` non-zeros, and also run pgvector's own merge (the SQL
//! path, `kernels::scalar`) as `reference`; each call compares one query
//! with the next of many stored vectors.

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion};
use kernels::{active_variant, f16, force_isa, scalar, supported_isas};
use std::hint::black_box;
use std::time::Duration;

const DIMS: [usize; 4] = [128, 384, 768, 1536];
/// The sparse benchmarks cycle through this many index entries in total
/// (spread over `dims / 20`-entry vectors): enough that the branch predictor
/// cannot learn the merge order, as it would from a few repeated pairs.
const SPARSE_ENTRIES: usize = 100_000;

/// Deterministic data without a rand dependency (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }

    /// About `dims / 20` distinct sorted indices below `dims`, with values.
    fn sparse(&mut self, dims: usize) -> (Vec<i32>, Vec<f32>) {
        let mut indices: Vec<i32> = (0..dims / 20)
            .map(|_| (self.next_u64() % dims as u64) as i32)
            .collect();
        indices.sort_unstable();
        indices.dedup();
        let values = indices.iter().map(|_| self.f32()).collect();
        (indices, values)
    }
}

/// Benchmarks `f` once per supported path in group `name/dims`, which is
/// returned for extra entries (it finishes when dropped).
fn per_path<'c>(
    c: &'c mut Criterion,
    name: &str,
    dims: usize,
    mut f: impl FnMut() -> f64,
) -> BenchmarkGroup<'c, WallTime> {
    let mut group = c.benchmark_group(format!("{name}/{dims}"));
    for isa in supported_isas() {
        force_isa(isa).expect("supported path");
        group.bench_function(BenchmarkId::from_parameter(active_variant()), |bench| {
            bench.iter(&mut f)
        });
    }
    group
}

fn distance(c: &mut Criterion) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for dims in DIMS {
        let a: Vec<f32> = (0..dims).map(|_| rng.f32()).collect();
        let b: Vec<f32> = (0..dims).map(|_| rng.f32()).collect();
        let (ah, bh): (Vec<f16>, Vec<f16>) = (
            a.iter().map(|&x| f16::from_f32(x)).collect(),
            b.iter().map(|&x| f16::from_f32(x)).collect(),
        );
        let (a, b, ah, bh) = (&a[..], &b[..], &ah[..], &bh[..]);

        per_path(c, "l2_squared_f32", dims, || {
            kernels::l2_squared_f32(black_box(a), black_box(b)) as f64
        });
        per_path(c, "dot_f32", dims, || {
            kernels::dot_f32(black_box(a), black_box(b)) as f64
        });
        per_path(c, "cosine_f32", dims, || {
            kernels::cosine_distance_f32(black_box(a), black_box(b))
        });
        per_path(c, "l1_f32", dims, || {
            kernels::l1_f32(black_box(a), black_box(b)) as f64
        });
        per_path(c, "l2_squared_f16", dims, || {
            kernels::l2_squared_f16(black_box(ah), black_box(bh)) as f64
        });
        per_path(c, "dot_f16", dims, || {
            kernels::dot_f16(black_box(ah), black_box(bh)) as f64
        });
        per_path(c, "cosine_f16", dims, || {
            kernels::cosine_distance_f16(black_box(ah), black_box(bh))
        });
        per_path(c, "l1_f16", dims, || {
            kernels::l1_f16(black_box(ah), black_box(bh)) as f64
        });
        // A query against half-precision storage (scans of quantized indexes).
        per_path(c, "dot_f32_f16", dims, || {
            kernels::dot_f32_f16(black_box(a), black_box(bh)) as f64
        });
        per_path(c, "cosine_f32_f16", dims, || {
            kernels::cosine_distance_f32_f16(black_box(a), black_box(bh))
        });
        per_path(c, "dot_norm_f32_f16", dims, || {
            let (dot, norm) = kernels::dot_norm_f32_f16(black_box(a), black_box(bh));
            (dot / norm.sqrt()) as f64
        });

        let bytes: Vec<u8> = (0..dims * 4).map(|_| rng.next_u64() as u8).collect();
        let other: Vec<u8> = (0..dims * 4).map(|_| rng.next_u64() as u8).collect();
        per_path(c, "hamming", dims, || {
            kernels::hamming(black_box(&bytes), black_box(&other)) as f64
        });

        // One query against many stored vectors, as in a scan.
        let (qi, qv) = rng.sparse(dims);
        let stored: Vec<(Vec<i32>, Vec<f32>)> = (0..SPARSE_ENTRIES / (dims / 20))
            .map(|_| rng.sparse(dims))
            .collect();
        let mut next = stored.iter().cycle();
        per_path(c, "sparse_dot", dims, || {
            let (bi, bv) = next.next().expect("cycle");
            kernels::sparse_dot(black_box(&qi), black_box(&qv), black_box(bi), black_box(bv)) as f64
        })
        .bench_function("reference", |bench| {
            let mut next = stored.iter().cycle();
            bench.iter(|| {
                let (bi, bv) = next.next().expect("cycle");
                scalar::sparse_dot(black_box(&qi), black_box(&qv), black_box(bi), black_box(bv))
            })
        });
    }
    force_isa(supported_isas()[0]).expect("best path");
}

criterion_group! {
    name = benches;
    // Short runs: the whole suite must stay within a few minutes on 2 cores.
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(800))
        .sample_size(10);
    targets = distance
}
criterion_main!(benches);
