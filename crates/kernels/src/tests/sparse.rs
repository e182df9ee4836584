//! Sparse kernels against a dense f64 reference and the textbook merge.

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
    let (mut a, mut b) = (Sparse { indices: vec![], values: vec![] }, Sparse { indices: vec![], values: vec![] });
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
    let sum = |f: &dyn Fn(f64, f64) -> f64| da.iter().zip(&db).map(|(&x, &y)| f(x, y)).sum::<f64>();
    let (dot, dot_abs) = (sum(&|x, y| x * y), sum(&|x, y| (x * y).abs()));
    let (l2, l1) = (sum(&|x, y| (x - y) * (x - y)), sum(&|x, y| (x - y).abs()));
    let (ai, av, bi, bv) = (&a.indices[..], &a.values[..], &b.indices[..], &b.values[..]);
    for (name, want, scale, f) in [
        ("dot", dot, dot_abs, scalar::sparse_dot as fn(&[i32], &[f32], &[i32], &[f32]) -> f32),
        ("l2", l2, l2, scalar::sparse_l2_squared),
        ("l1", l1, l1, scalar::sparse_l1),
    ] {
        assert_close(&format!("scalar reference {name}"), f(ai, av, bi, bv) as f64, want, scale, 1e-5);
    }
    for t in tables() {
        let isa = t.isa.name();
        let got = [t.sparse_dot(ai, av, bi, bv), t.sparse_l2_squared(ai, av, bi, bv), t.sparse_l1(ai, av, bi, bv)];
        assert_close(&format!("{isa} sparse_dot"), got[0] as f64, dot, dot_abs, 1e-5);
        assert_close(&format!("{isa} sparse_l2_squared"), got[1] as f64, l2, l2, 1e-5);
        assert_close(&format!("{isa} sparse_l1"), got[2] as f64, l1, l1, 1e-5);
        // Same terms in the same (merge) order as the reference: equal.
        assert_eq!(got[0], scalar::sparse_dot(ai, av, bi, bv), "{isa} sparse_dot vs scalar");
        assert_eq!(got[1], scalar::sparse_l2_squared(ai, av, bi, bv), "{isa} sparse_l2 vs scalar");
        assert_eq!(got[2], scalar::sparse_l1(ai, av, bi, bv), "{isa} sparse_l1 vs scalar");
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
fn sparse_edge_cases() {
    let (e, one) = (Sparse { indices: vec![], values: vec![] }, Sparse { indices: vec![3], values: vec![-2.0] });
    check(&e, &e, 0);
    check(&e, &one, 4);
    check(&one, &e, 4);
    check(&one, &one, 4);
    // Extreme indices must compare correctly (no subtraction overflow).
    let lo_hi = |x: f32| Sparse { indices: vec![i32::MIN, -1, 0, i32::MAX], values: vec![x, 2.0 * x, 3.0, x] };
    let (a, b) = (lo_hi(1.0), lo_hi(-0.5));
    for t in tables() {
        assert_eq!(t.sparse_dot(&a.indices, &a.values, &b.indices, &b.values), -0.5 - 2.0 + 9.0 - 0.5);
        assert_eq!(t.sparse_l2_squared(&a.indices, &a.values, &b.indices, &b.values), 2.25 + 9.0 + 0.0 + 2.25);
        assert_eq!(t.sparse_l1(&a.indices, &a.values, &b.indices, &b.values), 1.5 + 3.0 + 0.0 + 1.5);
        let c = Sparse { indices: vec![i32::MIN + 1, i32::MAX - 1], values: vec![1.0, 1.0] };
        assert_eq!(t.sparse_l1(&a.indices, &a.values, &c.indices, &c.values), 1.0 + 1.0 + 2.0 + 3.0 + 1.0 + 1.0);
        assert_eq!(t.sparse_dot(&a.indices, &a.values, &c.indices, &c.values), 0.0);
    }
}
