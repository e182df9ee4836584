//! Sparse kernels (and the textbook merge of `scalar`) against a dense f64
//! reference.

use super::{assert_close, tables};
use crate::scalar;
use proptest::collection::vec;
use proptest::prelude::*;

struct Sparse {
    indices: Vec<i32>,
    values: Vec<f32>,
}

/// Builds two sparse vectors from `(gap, side, a value, b value)` entries:
/// the index advances by `gap` (>= 1, so strictly ascending) and the entry
/// belongs to `a` only, `b` only, both, or neither by `side`.
fn build(entries: &[(i32, u8, f32, f32)], start: i32) -> (Sparse, Sparse, usize) {
    let (mut a, mut b) = (
        Sparse {
            indices: vec![],
            values: vec![],
        },
        Sparse {
            indices: vec![],
            values: vec![],
        },
    );
    let mut index = start;
    for &(gap, side, x, y) in entries {
        index += gap;
        if side & 1 != 0 {
            a.indices.push(index);
            a.values.push(x);
        }
        if side & 2 != 0 {
            b.indices.push(index);
            b.values.push(y);
        }
    }
    (a, b, (index + 1) as usize)
}

fn dense(v: &Sparse, dim: usize) -> Vec<f64> {
    let mut d = vec![0.0; dim];
    for (&i, &x) in v.indices.iter().zip(&v.values) {
        d[i as usize] = x as f64;
    }
    d
}

fn check(a: &Sparse, b: &Sparse, dim: usize) {
    let (da, db) = (dense(a, dim), dense(b, dim));
    let sum = |f: &dyn Fn(f64, f64) -> f64| da.iter().zip(&db).map(|(&x, &y)| f(x, y)).sum();
    let dot: f64 = sum(&|x, y| x * y);
    let dot_abs: f64 = sum(&|x, y| (x * y).abs());
    let l2: f64 = sum(&|x, y| (x - y) * (x - y));
    let l1: f64 = sum(&|x, y| (x - y).abs());
    // (kernel, exact value, tolerance scale): dot relative to sum |a_i b_i|.
    let expected = [
        ("dot", dot, dot_abs),
        ("l2_squared", l2, l2),
        ("l1", l1, l1),
    ];

    let (ai, av, bi, bv) = (&a.indices[..], &a.values[..], &b.indices[..], &b.values[..]);
    let mut results = vec![(
        "scalar reference",
        [
            scalar::sparse_dot(ai, av, bi, bv),
            scalar::sparse_l2_squared(ai, av, bi, bv),
            scalar::sparse_l1(ai, av, bi, bv),
        ],
    )];
    for t in tables() {
        let got = [
            t.sparse_dot(ai, av, bi, bv),
            t.sparse_l2_squared(ai, av, bi, bv),
            t.sparse_l1(ai, av, bi, bv),
        ];
        results.push((t.name, got));
    }
    for (who, got) in results {
        for ((name, want, scale), got) in expected.iter().zip(got) {
            assert_close(
                &format!("{who} sparse_{name}"),
                got as f64,
                *want,
                *scale,
                1e-5,
            );
        }
    }
}

fn entries(max: usize) -> impl Strategy<Value = Vec<(i32, u8, f32, f32)>> {
    vec((1..4i32, 0..4u8, -10f32..10.0, -10f32..10.0), 0..max)
}

proptest! {
    #[test]
    fn sparse_paths_match_dense_reference(e in entries(2048), start in -1..50i32) {
        let (a, b, dim) = build(&e, start);
        check(&a, &b, dim);
    }

    #[test]
    fn sparse_paths_with_mostly_disjoint_indices(
        e in vec((1..40i32, prop_oneof![10 => 1..3u8, 1 => Just(3u8)], -10f32..10.0, -10f32..10.0), 0..300)
    ) {
        let (a, b, dim) = build(&e, -1);
        check(&a, &b, dim);
    }
}

#[test]
fn sparse_runs_with_skewed_sides() {
    // The merge cuts the longer side into runs and the shorter one by
    // index value; make whole runs of one side empty, tiny or long.
    let a = Sparse {
        indices: (0..200).map(|i| i * 3).collect(),
        values: (0..200).map(|i| i as f32 * 0.5 - 40.0).collect(),
    };
    let sides = [
        (0..60).map(|i| i * 3).collect::<Vec<i32>>(), // overlaps a's first run only
        (0..60).map(|i| 400 + i * 7).collect(),       // a's second run only
        (0..50).map(|i| 1000 + i).collect(),          // entirely after a
        (0..300).map(|i| -1000 + i * 5).collect(),    // mostly before a
        (0..17).map(|i| i * 36).collect(),            // sparse, spread
        (0..400).map(|i| i * 3 / 2).collect::<Vec<_>>(), // denser than a
    ];
    for bi in sides {
        let mut bi = bi;
        bi.dedup();
        let b = Sparse {
            values: bi.iter().map(|&i| (i % 13) as f32 - 6.0).collect(),
            indices: bi,
        };
        let shift = |v: &Sparse| Sparse {
            indices: v.indices.iter().map(|&i| i + 1000).collect(),
            values: v.values.clone(),
        };
        let (a, b) = (shift(&a), shift(&b));
        let dim = (a.indices.last().max(b.indices.last()).copied().unwrap_or(0) + 1) as usize;
        check(&a, &b, dim);
        check(&b, &a, dim);
    }
}

#[test]
fn sparse_edge_cases() {
    let (e, one) = (
        Sparse {
            indices: vec![],
            values: vec![],
        },
        Sparse {
            indices: vec![3],
            values: vec![-2.0],
        },
    );
    check(&e, &e, 0);
    check(&e, &one, 4);
    check(&one, &e, 4);
    check(&one, &one, 4);
    // Extreme indices must compare correctly (no subtraction overflow).
    let lo_hi = |x: f32| Sparse {
        indices: vec![i32::MIN, -1, 0, i32::MAX],
        values: vec![x, 2.0 * x, 3.0, x],
    };
    let (a, b) = (lo_hi(1.0), lo_hi(-0.5));
    for t in tables() {
        assert_eq!(
            t.sparse_dot(&a.indices, &a.values, &b.indices, &b.values),
            -0.5 - 2.0 + 9.0 - 0.5
        );
        assert_eq!(
            t.sparse_l2_squared(&a.indices, &a.values, &b.indices, &b.values),
            2.25 + 9.0 + 0.0 + 2.25
        );
        assert_eq!(
            t.sparse_l1(&a.indices, &a.values, &b.indices, &b.values),
            1.5 + 3.0 + 0.0 + 1.5
        );
        let c = Sparse {
            indices: vec![i32::MIN + 1, i32::MAX - 1],
            values: vec![1.0, 1.0],
        };
        assert_eq!(
            t.sparse_l1(&a.indices, &a.values, &c.indices, &c.values),
            1.0 + 1.0 + 2.0 + 3.0 + 1.0 + 1.0
        );
        assert_eq!(
            t.sparse_dot(&a.indices, &a.values, &c.indices, &c.values),
            0.0
        );
    }
}
