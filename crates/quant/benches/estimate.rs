//! Cost of one RaBitQ estimate (and bound) per stored code, against the f32
//! and f16 distance kernels of `crates/kernels` on the same number of rows.
//!
//! Group `estimate/<dims>`: each call scores one query against the next of
//! `ROWS` stored rows (codes or vectors), so the data is not all in L1.
//! Also `encode/<dims>` (build cost per row) and `prepare/<dims>` (per query).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use kernels::f16;
use pagestore::rng::SplitMix64;
use quant::{Layout, Metric, Quantizer, Rotation};
use std::hint::black_box;
use std::time::Duration;

const DIMS: [usize; 2] = [384, 1536];
const ROWS: usize = 4096;

fn gaussian(rng: &mut SplitMix64) -> f32 {
    let u1 = ((rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64).max(1e-300);
    let u2 = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
}

fn bench(c: &mut Criterion) {
    let mut rng = SplitMix64::new(1);
    for dims in DIMS {
        let rows: Vec<Vec<f32>> = (0..ROWS)
            .map(|_| (0..dims).map(|_| gaussian(&mut rng)).collect())
            .collect();
        let halves: Vec<Vec<f16>> = rows
            .iter()
            .map(|r| r.iter().map(|&v| f16::from_f32(v)).collect())
            .collect();
        let query: Vec<f32> = (0..dims).map(|_| gaussian(&mut rng)).collect();

        let mut g = c.benchmark_group(format!("estimate/{dims}"));
        g.warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1));
        let mut i = 0;
        g.bench_function("kernels::l2_squared_f32", |b| {
            b.iter(|| {
                i = (i + 1) % ROWS;
                kernels::l2_squared_f32(black_box(&query), &rows[i])
            })
        });
        g.bench_function("kernels::l2_squared_f32_f16", |b| {
            b.iter(|| {
                i = (i + 1) % ROWS;
                kernels::l2_squared_f32_f16(black_box(&query), &halves[i])
            })
        });
        for (bits, layout) in [
            (1u8, Layout::Planes),
            (2, Layout::Planes),
            (4, Layout::Planes),
            (4, Layout::Nibbles),
        ] {
            let q =
                Quantizer::with_layout(Rotation::new(dims, 7).unwrap(), bits, Metric::L2, layout)
                    .unwrap();
            let name = match layout {
                Layout::Planes => format!("rabitq-{bits}bit"),
                Layout::Nibbles => format!("rabitq-{bits}bit-nibbles"),
            };
            let len = q.code_len();
            let codes: Vec<u8> = rows.iter().flat_map(|r| q.encode(r, None)).collect();
            for qbits in [4u8, 8] {
                let est = q.query(&query, None, qbits);
                g.bench_function(
                    BenchmarkId::new(format!("{name}-q{qbits}"), "estimate"),
                    |b| {
                        b.iter(|| {
                            i = (i + 1) % ROWS;
                            est.estimate(black_box(&codes[i * len..(i + 1) * len]))
                        })
                    },
                );
                if qbits == 8 {
                    g.bench_function(
                        BenchmarkId::new(format!("{name}-q{qbits}"), "lower_bound"),
                        |b| {
                            b.iter(|| {
                                i = (i + 1) % ROWS;
                                est.lower_bound(black_box(&codes[i * len..(i + 1) * len]))
                            })
                        },
                    );
                    // Per row, in batches of a list page's 32 rows.
                    let refs: Vec<&[u8]> = codes.chunks_exact(len).collect();
                    let mut out = vec![0.0; 32];
                    g.throughput(criterion::Throughput::Elements(32));
                    g.bench_function(
                        BenchmarkId::new(format!("{name}-q{qbits}"), "lower_bounds_x32"),
                        |b| {
                            b.iter(|| {
                                i = (i + 32) % (ROWS - 32);
                                est.lower_bounds(black_box(&refs[i..i + 32]), &mut out);
                                black_box(&out);
                            })
                        },
                    );
                    g.throughput(criterion::Throughput::Elements(1));
                }
            }
        }
        g.finish();

        let mut g = c.benchmark_group(format!("encode/{dims}"));
        g.warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1))
            .sample_size(20);
        for bits in [1u8, 4, 8] {
            let q = Quantizer::new(Rotation::new(dims, 7).unwrap(), bits, Metric::L2).unwrap();
            g.bench_function(format!("{bits}bit"), |b| {
                b.iter(|| {
                    i = (i + 1) % ROWS;
                    q.encode(black_box(&rows[i]), None)
                })
            });
        }
        let q = Quantizer::new(Rotation::new(dims, 7).unwrap(), 1, Metric::L2).unwrap();
        g.bench_function("prepare_query", |b| {
            b.iter(|| q.query(black_box(&query), None, 8))
        });
        // What an ivfflat scan does per list: cosine, against the list's
        // centroid, for 4-bit nibble codes.
        let q = Quantizer::with_layout(
            Rotation::new(dims, 7).unwrap(),
            4,
            Metric::Cosine,
            Layout::Nibbles,
        )
        .unwrap();
        let centroid: Vec<f32> = (0..dims).map(|_| gaussian(&mut rng) * 0.05).collect();
        g.bench_function("prepare_query_cosine_nibbles", |b| {
            b.iter(|| q.query(black_box(&query), Some(&centroid), 8))
        });
        g.bench_function("rotation", |b| {
            let x: Vec<f64> = query.iter().map(|&v| v as f64).collect();
            b.iter(|| {
                let mut y = x.clone();
                q.rotation().apply(black_box(&mut y));
                y
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
