//! pgvector's inner-product recall check (test/t/012_hnsw_vector_build_recall.pl)
//! at crate level: 10,000 rows of three `random() * random()` coordinates,
//! 20 uniform queries, recall of the 20 nearest at ef_search 40 >= 0.97.

mod common;

use common::*;
use hnsw::{search, BuildOptions, Space};

/// Negative inner product on f32 payloads (pgvector's `<#>`).
struct NegDot;

impl Space for NegDot {
    fn distance(&self, a: &[u8], b: &[u8]) -> f32 {
        let a: &[f32] = bytemuck::cast_slice(a);
        let b: &[f32] = bytemuck::cast_slice(b);
        -a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>()
    }
}

/// [`NegDot`] whose build compares f16 copies, as `vector` indexes do.
struct HalfNegDot;

impl Space for HalfNegDot {
    fn distance(&self, a: &[u8], b: &[u8]) -> f32 {
        NegDot.distance(a, b)
    }

    fn compact(&self, payload: &[u8], out: &mut Vec<u8>) -> bool {
        out.clear();
        for &v in bytemuck::cast_slice::<u8, f32>(payload) {
            out.extend_from_slice(&half::f16::from_f32(v).to_bits().to_ne_bytes());
        }
        true
    }

    fn compact_distance(&self, a: &[u8], b: &[u8]) -> f32 {
        let a: &[u16] = bytemuck::cast_slice(a);
        let b: &[u16] = bytemuck::cast_slice(b);
        -a.iter()
            .zip(b)
            .map(|(&x, &y)| half::f16::from_bits(x).to_f32() * half::f16::from_bits(y).to_f32())
            .sum::<f32>()
    }
}

fn ip_recall<S: Space + Sync>(space: &S, threads: usize, seed: u64) -> f64 {
    let mut rng = Rng::new(seed);
    let data: Vec<Vec<f32>> = (0..10_000)
        .map(|_| (0..3).map(|_| rng.uniform() * rng.uniform()).collect())
        .collect();
    let queries: Vec<Vec<f32>> = (0..20)
        .map(|_| (0..3).map(|_| rng.uniform()).collect())
        .collect();
    let options = BuildOptions {
        threads,
        ..default_build(3)
    };
    let (rel, _) = build_index(space, &data, options);
    let v = hnsw::verify(&rel);
    assert!(v.is_ok(), "{:?}", v.errors);
    recall(
        &NegDot,
        &data,
        &queries,
        20,
        |_| true,
        |q| search(&rel, space, q, 40).unwrap(),
    )
}

#[test]
fn inner_product_recall_reaches_pgvector_threshold() {
    for seed in [1, 2] {
        for threads in [1, 2] {
            let r = ip_recall(&NegDot, threads, seed);
            eprintln!("seed {seed}, {threads} threads: recall@20 {r}");
            assert!(r >= 0.97, "seed {seed}, {threads} threads: recall@20 {r}");
            let r = ip_recall(&HalfNegDot, threads, seed);
            eprintln!("seed {seed}, {threads} threads, f16 build: recall@20 {r}");
            assert!(
                r >= 0.97,
                "seed {seed}, {threads} threads, f16 build: recall@20 {r}"
            );
        }
    }
}
