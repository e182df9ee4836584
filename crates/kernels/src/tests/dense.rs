//! f32 and f16 kernels against an f64 reference.

use super::{assert_close, tables, Rng};
use crate::{f16, Kernels};
use proptest::collection::vec;
use proptest::prelude::*;

/// Tolerance of every comparison: relative to the value for sums of
/// non-negative terms, relative to the sum of absolute terms otherwise.
const REL: f64 = 1e-5;

/// Exact (f64) results for one pair of vectors.
struct Reference {
    l2: f64,
    dot: f64,
    dot_abs: f64,
    l1: f64,
    norm: f64,
    cosine: f64,
    cosine_scale: f64,
}

impl Reference {
    fn new(a: &[f64], b: &[f64]) -> Reference {
        let sum =
            |f: &dyn Fn(f64, f64) -> f64| a.iter().zip(b).map(|(&x, &y)| f(x, y)).sum::<f64>();
        let dot = sum(&|x, y| x * y);
        let dot_abs = sum(&|x, y| (x * y).abs());
        let norm = sum(&|x, _| x * x);
        let norm_b = sum(&|_, y| y * y);
        let magnitude = (norm * norm_b).sqrt();
        Reference {
            l2: sum(&|x, y| (x - y) * (x - y)),
            dot,
            dot_abs,
            l1: sum(&|x, y| (x - y).abs()),
            norm,
            cosine: 1.0 - (dot / magnitude).clamp(-1.0, 1.0),
            // Errors in the dot product (and, relatively, in the norms)
            // move the similarity by up to this much per unit of REL.
            cosine_scale: dot_abs / magnitude + 1.0,
        }
    }

    fn check(&self, what: &str, got: [f64; 5]) {
        let [l2, dot, l1, norm, cosine] = got;
        assert_close(&format!("{what} l2_squared"), l2, self.l2, self.l2, REL);
        assert_close(&format!("{what} dot"), dot, self.dot, self.dot_abs, REL);
        assert_close(&format!("{what} l1"), l1, self.l1, self.l1, REL);
        assert_close(
            &format!("{what} norm_squared"),
            norm,
            self.norm,
            self.norm,
            REL,
        );
        assert_close(
            &format!("{what} cosine"),
            cosine,
            self.cosine,
            self.cosine_scale,
            REL,
        );
    }
}

fn check_f32(t: &Kernels, a: &[f32], b: &[f32]) {
    let wide = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
    let got = [
        t.l2_squared_f32(a, b) as f64,
        t.dot_f32(a, b) as f64,
        t.l1_f32(a, b) as f64,
        t.norm_squared_f32(a) as f64,
        t.cosine_distance_f32(a, b),
    ];
    Reference::new(&wide(a), &wide(b)).check(&format!("{} f32 len {}", t.name, a.len()), got);
}

fn check_f16(t: &Kernels, a: &[f16], b: &[f16]) {
    let wide = |v: &[f16]| v.iter().map(|&x| x.to_f64()).collect::<Vec<_>>();
    let got = [
        t.l2_squared_f16(a, b) as f64,
        t.dot_f16(a, b) as f64,
        t.l1_f16(a, b) as f64,
        t.norm_squared_f16(a) as f64,
        t.cosine_distance_f16(a, b),
    ];
    Reference::new(&wide(a), &wide(b)).check(&format!("{} f16 len {}", t.name, a.len()), got);
}

/// The mixed kernels (f32 query, half-precision stored vector), checked
/// like the others; the norm slot repeats the reference's.
fn check_f32_f16(t: &Kernels, a: &[f32], b: &[f16]) {
    let wide_b = b.iter().map(|&x| x.to_f64()).collect::<Vec<_>>();
    let wide_a = a.iter().map(|&x| x as f64).collect::<Vec<_>>();
    let reference = Reference::new(&wide_a, &wide_b);
    let what = format!("{} f32*f16 len {}", t.name, a.len());
    let got = [
        t.l2_squared_f32_f16(a, b) as f64,
        t.dot_f32_f16(a, b) as f64,
        t.l1_f32_f16(a, b) as f64,
        reference.norm,
        t.cosine_distance_f32_f16(a, b),
    ];
    reference.check(&what, got);
    // The one-pass dot product and norm of `b`, against `b` with itself.
    let (dot, norm_b) = t.dot_norm_f32_f16(a, b);
    let self_reference = Reference::new(&wide_b, &wide_b);
    assert_close(
        &format!("{what} dot_norm.0"),
        dot as f64,
        reference.dot,
        reference.dot_abs,
        REL,
    );
    assert_close(
        &format!("{what} dot_norm.1"),
        norm_b as f64,
        self_reference.norm,
        self_reference.norm,
        REL,
    );
}

fn halves(v: &[f32]) -> Vec<f16> {
    v.iter().map(|&x| f16::from_f32(x)).collect()
}

/// Two vectors of one length (0..=2048), each with 0..32 spare leading
/// elements so that the tested slices start at any alignment (the paths
/// peel a first block up to a 64-byte boundary).
fn pair(scale: f32) -> impl Strategy<Value = (Vec<f32>, usize, Vec<f32>, usize)> {
    (0..=2048usize, 0..32usize, 0..32usize).prop_flat_map(move |(len, skip_a, skip_b)| {
        (
            vec(-scale..scale, len + skip_a),
            Just(skip_a),
            vec(-scale..scale, len + skip_b),
            Just(skip_b),
        )
    })
}

proptest! {
    #[test]
    fn f32_paths_match_reference((a, skip_a, b, skip_b) in pair(100.0)) {
        for t in tables() {
            check_f32(t, &a[skip_a..], &b[skip_b..]);
        }
    }

    #[test]
    fn f32_paths_match_reference_on_near_vectors(
        (a, skip_a, noise, skip_b) in pair(1.0),
        scale in 1e-3f32..1e3,
    ) {
        // b = a + small noise: the regime of nearest-neighbour search, where
        // l2 and cosine distances are small differences of large sums.
        let b: Vec<f32> = a[skip_a..].iter().zip(&noise[skip_b..]).map(|(&x, &e)| (x + 1e-3 * e) * scale).collect();
        let a: Vec<f32> = a[skip_a..].iter().map(|&x| x * scale).collect();
        for t in tables() {
            check_f32(t, &a, &b);
        }
    }

    #[test]
    fn f16_paths_match_reference((a, skip_a, b, skip_b) in pair(8.0)) {
        let (a, b) = (halves(&a), halves(&b));
        for t in tables() {
            check_f16(t, &a[skip_a..], &b[skip_b..]);
        }
    }

    #[test]
    fn f32_f16_paths_match_reference((a, skip_a, b, skip_b) in pair(8.0)) {
        let b = halves(&b);
        for t in tables() {
            check_f32_f16(t, &a[skip_a..], &b[skip_b..]);
        }
    }
}

/// Every length up to 2048, at start offsets cycling through 0..17 and
/// 0..19 elements, so that every tail shape and (with the allocator's
/// 16-byte alignment) every peel length of every path is exercised.
#[test]
fn every_length_matches_reference() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let tables = tables();
    for len in 0..=2048usize {
        let (skip_a, skip_b) = (len % 17, len % 19);
        let a: Vec<f32> = (0..len + skip_a).map(|_| rng.symmetric(4.0)).collect();
        let b: Vec<f32> = (0..len + skip_b).map(|_| rng.symmetric(4.0)).collect();
        let (ah, bh) = (halves(&a), halves(&b));
        for t in &tables {
            check_f32(t, &a[skip_a..], &b[skip_b..]);
            check_f16(t, &ah[skip_a..], &bh[skip_b..]);
            check_f32_f16(t, &a[skip_a..], &bh[skip_b..]);
        }
    }
}

#[test]
fn cosine_special_cases() {
    let v: Vec<f32> = (0..301).map(|i| (i as f32 * 0.37).sin() + 0.1).collect();
    let neg: Vec<f32> = v.iter().map(|&x| -x).collect();
    let zero = vec![0.0f32; v.len()];
    let (vh, negh, zeroh) = (halves(&v), halves(&neg), halves(&zero));
    for t in tables() {
        let isa = t.name;
        for (d, what) in [
            (t.cosine_distance_f32(&zero, &zero), "f32 zero/zero"),
            (t.cosine_distance_f32(&v, &zero), "f32 v/zero"),
            (t.cosine_distance_f32(&zero, &v), "f32 zero/v"),
            (t.cosine_distance_f32(&[], &[]), "f32 empty"),
            (t.cosine_distance_f16(&zeroh, &zeroh), "f16 zero/zero"),
            (t.cosine_distance_f16(&vh, &zeroh), "f16 v/zero"),
        ] {
            assert!(d.is_nan(), "{isa} {what}: {d}");
        }
        for (d, what) in [
            (t.cosine_distance_f32(&v, &v), "f32"),
            (t.cosine_distance_f16(&vh, &vh), "f16"),
        ] {
            assert!((0.0..1e-6).contains(&d), "{isa} {what} identical: {d}");
        }
        for (d, what) in [
            (t.cosine_distance_f32(&v, &neg), "f32"),
            (t.cosine_distance_f16(&vh, &negh), "f16"),
        ] {
            assert!(
                (d - 2.0).abs() < 1e-6 && d <= 2.0,
                "{isa} {what} opposite: {d}"
            );
        }
    }
}

#[test]
fn f16_specials_widen_exactly() {
    // Subnormals, extremes and infinities, alone in a vector of zeros at
    // every lane position of the main loop, the partial blocks and the tail.
    let specials = [
        f16::from_bits(0x0001),
        f16::from_bits(0x83ff),
        f16::MAX,
        f16::MIN,
        f16::INFINITY,
        f16::NEG_INFINITY,
    ];
    let ones = [f16::ONE; 80];
    for t in tables() {
        for x in specials {
            for pos in 0..ones.len() {
                let mut a = [f16::ZERO; 80];
                a[pos] = x;
                assert_eq!(t.dot_f16(&a, &ones), x.to_f32(), "{} {x} at {pos}", t.name);
            }
        }
        let mut a = [f16::ZERO; 21];
        a[20] = f16::NAN;
        assert!(t.dot_f16(&a, &ones[..21]).is_nan(), "{}", t.name);
    }
}

/// Float results depend on the values only, not on where they are in
/// memory: the executor recomputes a distance on a copy of a heap tuple and
/// must get the same bits the scan's first computation got.
#[test]
fn results_do_not_depend_on_alignment() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for len in [7usize, 64, 100, 384, 1000] {
        let a: Vec<f32> = (0..len).map(|_| rng.symmetric(3.0)).collect();
        let b: Vec<f32> = (0..len).map(|_| rng.symmetric(3.0)).collect();
        let bh = halves(&b);
        for t in tables() {
            let expected = (
                t.dot_f32(&a, &b).to_bits(),
                t.l2_squared_f32(&a, &b).to_bits(),
                t.cosine_distance_f32(&a, &b).to_bits(),
                t.dot_f32_f16(&a, &bh).to_bits(),
            );
            for shift in 1..16 {
                let mut a2 = vec![0.0f32; shift];
                a2.extend_from_slice(&a);
                let mut b2 = vec![0.0f32; 16 - shift];
                b2.extend_from_slice(&b);
                let (a2, b2) = (&a2[shift..], &b2[16 - shift..]);
                let got = (
                    t.dot_f32(a2, b2).to_bits(),
                    t.l2_squared_f32(a2, b2).to_bits(),
                    t.cosine_distance_f32(a2, b2).to_bits(),
                    t.dot_f32_f16(a2, &bh).to_bits(),
                );
                assert_eq!(got, expected, "{} len {len} shift {shift}", t.name);
            }
        }
    }
}
