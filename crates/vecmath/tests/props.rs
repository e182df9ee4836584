//! Property tests of the dense arithmetic and the aggregate state.

use half::f16;
use proptest::prelude::*;
use vecmath::{aggregate, dense};

fn vectors(dim: usize, n: std::ops::Range<usize>) -> impl Strategy<Value = Vec<Vec<f32>>> {
    proptest::collection::vec(proptest::collection::vec(-1e6f32..1e6, dim), n)
}

fn accumulate_all(rows: &[Vec<f32>]) -> Vec<f64> {
    rows.iter().fold(vec![0.0], |state, row| {
        aggregate::accumulate(&state, row).unwrap()
    })
}

proptest! {
    /// Splitting the rows over parallel workers and combining their states gives the
    /// same average as one worker, up to float8 rounding; the count is exact.
    #[test]
    fn combine_matches_serial(
        (rows, split) in (1usize..8).prop_flat_map(|dim| vectors(dim, 1..40))
            .prop_flat_map(|rows| { let n = rows.len(); (Just(rows), 0..=n) })
    ) {
        let serial = accumulate_all(&rows);
        let left = accumulate_all(&rows[..split]);
        let right = accumulate_all(&rows[split..]);
        let combined = aggregate::combine(&left, &right).unwrap();
        prop_assert_eq!(combined.len(), serial.len());
        prop_assert_eq!(combined[0], rows.len() as f64);
        for (c, s) in combined[1..].iter().zip(&serial[1..]) {
            prop_assert!((c - s).abs() <= 1e-9 * (1.0 + s.abs()), "{} vs {}", c, s);
        }
        let avg = aggregate::average::<f32>(&combined).unwrap().unwrap();
        prop_assert_eq!(avg.len(), rows[0].len());
        for (i, a) in avg.iter().enumerate() {
            let expect = rows.iter().map(|r| r[i] as f64).sum::<f64>() / rows.len() as f64;
            prop_assert!(((*a as f64) - expect).abs() <= 1e-6 * (1.0 + expect.abs()));
        }
    }

    /// Combining is associative and commutative on states of small integers (exact sums).
    #[test]
    fn combine_associative(
        states in proptest::collection::vec(
            (1u8..10, proptest::collection::vec(-1000i32..1000, 3)), 3)
    ) {
        let s: Vec<Vec<f64>> = states.iter()
            .map(|(n, sums)| std::iter::once(*n as f64).chain(sums.iter().map(|&v| v as f64)).collect())
            .collect();
        let ab_c = aggregate::combine(&aggregate::combine(&s[0], &s[1]).unwrap(), &s[2]).unwrap();
        let a_bc = aggregate::combine(&s[0], &aggregate::combine(&s[1], &s[2]).unwrap()).unwrap();
        let ba = aggregate::combine(&s[1], &s[0]).unwrap();
        prop_assert_eq!(&ab_c, &a_bc);
        prop_assert_eq!(ba, aggregate::combine(&s[0], &s[1]).unwrap());
    }

    /// An infinite sum is always the overflow error, from accumulate and from combine.
    #[test]
    fn overflow_is_an_error(dim in 1usize..5, at in 0usize..5, v in -1e6f32..1e6) {
        let at = at % dim;
        let mut state = vec![1.0; dim + 1];
        state[at + 1] = f64::MAX;
        let mut row = vec![v; dim];
        row[at] = f32::MAX;
        let mut other = state.clone();
        other[at + 1] = f64::MAX;
        let err = aggregate::combine(&state, &other).unwrap_err();
        prop_assert_eq!(err.message, "value out of range: overflow");
        state[at + 1] = f64::INFINITY;
        let err = aggregate::accumulate(&state, &row).unwrap_err();
        prop_assert_eq!(err.message, "value out of range: overflow");
    }

    /// Element-wise results have the operands' dimensions and agree with float4 arithmetic
    /// (vector) or its rounding to half (halfvec); mismatched dimensions are an error.
    #[test]
    fn elementwise_matches_scalar(
        (a, b) in (1usize..32).prop_flat_map(|d| (
            proptest::collection::vec(-1e3f32..1e3, d),
            proptest::collection::vec(-1e3f32..1e3, d)))
    ) {
        let sum = dense::add(&a, &b).unwrap();
        let diff = dense::sub(&a, &b).unwrap();
        prop_assert_eq!(sum.len(), a.len());
        for i in 0..a.len() {
            prop_assert_eq!(sum[i], a[i] + b[i]);
            prop_assert_eq!(diff[i], a[i] - b[i]);
        }
        prop_assert_eq!(dense::add(&b, &a).unwrap(), sum);
        let (ha, hb): (Vec<f16>, Vec<f16>) = (
            a.iter().map(|&v| f16::from_f32(v)).collect(),
            b.iter().map(|&v| f16::from_f32(v)).collect());
        let hs = dense::add(&ha, &hb).unwrap();
        for i in 0..a.len() {
            prop_assert_eq!(hs[i], f16::from_f32(ha[i].to_f32() + hb[i].to_f32()));
        }
        let mut longer = b.clone();
        longer.push(0.0);
        let err = dense::mul(&a, &longer).unwrap_err();
        prop_assert_eq!(err.message, format!("different vector dimensions {} and {}", a.len(), a.len() + 1));
    }

    /// subvector agrees with a naive clamp of [start, start + count) to [1, dim].
    #[test]
    fn subvector_model(dim in 1usize..20, start in -30i32..30, count in -5i32..30) {
        let x: Vec<f32> = (0..dim).map(|i| i as f32).collect();
        let lo = (start as i64).max(1);
        let hi = (start as i64 + count as i64).min(dim as i64 + 1);
        let got = dense::subvector(&x, start, count);
        if count >= 1 && start as i64 <= dim as i64 && hi > lo {
            prop_assert_eq!(got.unwrap(), x[(lo - 1) as usize..(hi - 1) as usize].to_vec());
        } else {
            prop_assert_eq!(got.unwrap_err().message, "vector must have at least 1 dimension");
        }
    }

    /// Normalized vectors have unit norm (or stay zero); quantization keeps one bit per
    /// element, set exactly for positive elements.
    #[test]
    fn normalize_and_quantize(x in proptest::collection::vec(-1e3f32..1e3, 1..64)) {
        let n = dense::l2_normalize(&x).unwrap();
        prop_assert_eq!(n.len(), x.len());
        if x.iter().any(|&v| v != 0.0) {
            prop_assert!((dense::l2_norm(&n) - 1.0).abs() < 1e-5);
        }
        let bits = dense::binary_quantize(&x);
        prop_assert_eq!(bits.len(), x.len().div_ceil(8));
        for (i, &v) in x.iter().enumerate() {
            prop_assert_eq!(bits[i / 8] & (0x80 >> (i % 8)) != 0, v > 0.0);
        }
        let cat = dense::concat(&x, &n).unwrap();
        prop_assert_eq!(cat.len(), 2 * x.len());
    }
}
