//! The issue asked whether simd-json parses a 384-float query literal faster than a plain
//! scanner. This benchmark answers it: both parse the same literal into Vec<f32>.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use std::time::Duration;
use vecformat::limits::Kind;
use vecformat::text::{format_dense, parse_dense};

fn literal(dims: usize) -> String {
    let values: Vec<f32> = (0..dims).map(|i| ((i as f32) * 0.37).sin() * 0.1).collect();
    format_dense(&values)
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_vector_literal");
    group
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    for dims in [384usize, 1536] {
        let text = literal(dims);
        group.bench_function(format!("scanner/{dims}"), |b| {
            b.iter(|| parse_dense(black_box(&text), Kind::Vector, -1).unwrap())
        });
        group.bench_function(format!("simd_json/{dims}"), |b| {
            b.iter(|| {
                // simd-json parses in place, so it needs its own mutable copy of the input.
                let mut bytes = black_box(&text).as_bytes().to_vec();
                let parsed: Vec<f32> = simd_json::from_slice(&mut bytes).unwrap();
                parsed
            })
        });
        group.bench_function(format!("format/{dims}"), |b| {
            let values = parse_dense(&text, Kind::Vector, -1).unwrap();
            b.iter(|| format_dense(black_box(&values)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
