//! The build's half-precision path: `vector` indexes build their in-memory
//! graph on [`Space::compact`] copies (f16) of the payloads. The graph must
//! be as good as one built on the exact payloads, the pages must hold the
//! exact payloads, and a payload that has no compact copy (a value beyond
//! f16's range) makes the whole build use the exact payloads.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};

use common::*;
use half::f16;
use hnsw::{search, verify, BuildOptions, Space};

/// Squared L2 on f32 payloads, with f16 compact copies as the `vector`
/// operator classes have; counts which distance the build used.
#[derive(Default)]
struct HalfL2 {
    exact: AtomicU64,
    compact: AtomicU64,
    encoded: AtomicU64,
}

impl Space for HalfL2 {
    fn distance(&self, a: &[u8], b: &[u8]) -> f32 {
        self.exact.fetch_add(1, Ordering::Relaxed);
        L2.distance(a, b)
    }

    fn compact(&self, payload: &[u8], out: &mut Vec<u8>) -> bool {
        if !f16_bytes(payload, out) {
            return false;
        }
        self.encoded.fetch_add(1, Ordering::Relaxed);
        true
    }

    fn compact_distance(&self, a: &[u8], b: &[u8]) -> f32 {
        self.compact.fetch_add(1, Ordering::Relaxed);
        let a: &[u16] = bytemuck::cast_slice(a);
        let b: &[u16] = bytemuck::cast_slice(b);
        a.iter()
            .zip(b)
            .map(|(&x, &y)| {
                let d = f16::from_bits(x).to_f32() - f16::from_bits(y).to_f32();
                d * d
            })
            .sum()
    }
}

impl HalfL2 {
    fn counts(&self) -> (u64, u64) {
        (
            self.exact.swap(0, Ordering::Relaxed),
            self.compact.swap(0, Ordering::Relaxed),
        )
    }
}

fn options(dim: usize, threads: usize) -> BuildOptions {
    BuildOptions {
        threads,
        ..default_build(dim)
    }
}

/// Values that f16 rounds (so a page holding f16 copies would show).
fn data(n: usize, dim: usize, seed: u64) -> Vec<Vec<f32>> {
    clustered(n, dim, 10, seed)
        .into_iter()
        .map(|v| v.into_iter().map(|x| x * 1.001 + 1e-4).collect())
        .collect()
}

#[test]
fn compact_build_matches_exact_build() {
    let dim = 32;
    let base = data(3000, dim, 40);
    let queries = data(100, dim, 41);
    let space = HalfL2::default();
    let (rel, report) = build_index(&space, &base, options(dim, 2));
    assert_eq!(report.in_memory_tuples, 3000);
    let (_, compact) = space.counts();
    assert!(compact > 0, "the build did not use the compact copies");
    assert_eq!(space.encoded.load(Ordering::Relaxed), 3000);
    let v = verify(&rel);
    assert!(v.is_ok(), "{:?}", v.errors);

    let (exact_rel, _) = build_index(&L2, &base, options(dim, 2));
    for ef in [10, 40] {
        let r_compact = l2_recall(&rel, &base, &queries, ef);
        let r_exact = l2_recall(&exact_rel, &base, &queries, ef);
        assert!(
            r_compact >= r_exact - 0.02,
            "ef {ef}: recall@10 {r_compact} with f16 construction, {r_exact} exact"
        );
        assert!(
            r_compact >= if ef == 10 { 0.85 } else { 0.97 },
            "ef {ef}: {r_compact}"
        );
    }
}

#[test]
fn pages_keep_exact_payloads() {
    let dim = 16;
    let base = data(1500, dim, 42);
    let space = HalfL2::default();
    let (rel, _) = build_index(&space, &base, options(dim, 2));
    let (_, compact) = space.counts();
    assert!(compact > 0);
    for (i, v) in base.iter().enumerate().step_by(7) {
        // f16 copies of these values differ from them: only an exact
        // payload gives distance 0, and every returned distance is the f32
        // distance to the original row.
        assert!(v.iter().any(|&x| f16::from_f32(x).to_f32() != x));
        let found = search(&rel, &space, &to_bytes(v), 40).unwrap();
        assert_eq!(row(found[0].heap_tid), i, "row {i}");
        assert_eq!(found[0].distance, 0.0, "row {i}");
        for r in &found {
            let want = L2.distance(&to_bytes(v), &to_bytes(&base[row(r.heap_tid)]));
            assert_eq!(r.distance, want);
        }
    }
    // Scans use the exact payloads only.
    let (exact, compact) = space.counts();
    assert!(exact > 0);
    assert_eq!(compact, 0);
}

#[test]
fn payload_beyond_f16_range_falls_back_to_exact() {
    let dim = 16;
    let mut base = data(1500, dim, 43);
    // 1e6 has no f16 (max 65504): no compact copy for this row.
    base[700][3] = 1e6;
    let queries = data(50, dim, 44);
    let space = HalfL2::default();
    let (rel, report) = build_index(&space, &base, options(dim, 2));
    assert_eq!(report.in_memory_tuples, 1500);
    let (exact, compact) = space.counts();
    assert_eq!(compact, 0, "compact distances used although a row has none");
    assert!(exact > 0);
    let v = verify(&rel);
    assert!(v.is_ok(), "{:?}", v.errors);
    assert!(l2_recall(&rel, &base, &queries, 40) >= 0.97);
    let found = search(&rel, &space, &to_bytes(&base[700]), 10).unwrap();
    assert_eq!(row(found[0].heap_tid), 700);
    assert_eq!(found[0].distance, 0.0);
}

#[test]
fn compact_build_on_one_thread_is_reproducible() {
    let dim = 16;
    let base = data(800, dim, 45);
    let space = HalfL2::default();
    let (a, _) = build_index(&space, &base, options(dim, 1));
    let (b, _) = build_index(&space, &base, options(dim, 1));
    for q in base.iter().step_by(50) {
        let q = to_bytes(q);
        assert_eq!(
            search(&a, &space, &q, 20).unwrap(),
            search(&b, &space, &q, 20).unwrap()
        );
    }
}
