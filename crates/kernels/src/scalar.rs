//! Straightforward reference implementations of every kernel.
//!
//! They accumulate sequentially in `f32`, exactly like pgvector's C loops,
//! and serve as the portable fallback path, as the oracle for the SIMD tests
//! and as the baseline in the benchmarks. Keep them simple rather than fast.

use crate::{cosine_from_parts, f16, jaccard_from_counts, same_len, Isa, Kernels};

pub(crate) static KERNELS: Kernels = Kernels {
    isa: Isa::Scalar,
    name: "scalar",
    l2_squared_f32,
    dot_f32,
    l1_f32,
    norm_squared_f32,
    cosine_distance_f32,
    l2_squared_f16,
    dot_f16,
    l1_f16,
    norm_squared_f16,
    cosine_distance_f16,
    l2_squared_f32_f16,
    dot_f32_f16,
    l1_f32_f16,
    hamming,
    popcount,
    jaccard_distance,
    // Every table shares the branch-free, interleaved merge of
    // `crate::sparse`, about twice as fast as the textbook merge below.
    sparse_dot: crate::sparse::dot,
    sparse_l2_squared: crate::sparse::l2_squared,
    sparse_l1: crate::sparse::l1,
};

/// Generates the f32 and f16 versions of the dense kernels, which differ
/// only in how an element is widened to f32.
macro_rules! dense {
    ($t:ty, $to_f32:expr, $l2:ident, $dot:ident, $l1:ident, $norm:ident, $cos:ident) => {
        pub fn $l2(a: &[$t], b: &[$t]) -> f32 {
            let (a, b) = same_len(a, b);
            let mut sum = 0.0f32;
            for (&x, &y) in a.iter().zip(b) {
                let d = $to_f32(x) - $to_f32(y);
                sum += d * d;
            }
            sum
        }

        pub fn $dot(a: &[$t], b: &[$t]) -> f32 {
            let (a, b) = same_len(a, b);
            let mut sum = 0.0f32;
            for (&x, &y) in a.iter().zip(b) {
                sum += $to_f32(x) * $to_f32(y);
            }
            sum
        }

        pub fn $l1(a: &[$t], b: &[$t]) -> f32 {
            let (a, b) = same_len(a, b);
            let mut sum = 0.0f32;
            for (&x, &y) in a.iter().zip(b) {
                sum += ($to_f32(x) - $to_f32(y)).abs();
            }
            sum
        }

        pub fn $norm(a: &[$t]) -> f32 {
            let mut sum = 0.0f32;
            for &x in a {
                sum += $to_f32(x) * $to_f32(x);
            }
            sum
        }

        pub fn $cos(a: &[$t], b: &[$t]) -> f64 {
            let (a, b) = same_len(a, b);
            let (mut dot, mut na, mut nb) = (0.0f32, 0.0f32, 0.0f32);
            for (&x, &y) in a.iter().zip(b) {
                let (x, y) = ($to_f32(x), $to_f32(y));
                dot += x * y;
                na += x * x;
                nb += y * y;
            }
            cosine_from_parts(dot, na, nb)
        }
    };
}

dense!(
    f32,
    |x: f32| x,
    l2_squared_f32,
    dot_f32,
    l1_f32,
    norm_squared_f32,
    cosine_distance_f32
);
dense!(
    f16,
    f16::to_f32,
    l2_squared_f16,
    dot_f16,
    l1_f16,
    norm_squared_f16,
    cosine_distance_f16
);

pub fn l2_squared_f32_f16(a: &[f32], b: &[f16]) -> f32 {
    let (a, b) = same_len(a, b);
    let mut sum = 0.0f32;
    for (&x, &y) in a.iter().zip(b) {
        let d = x - y.to_f32();
        sum += d * d;
    }
    sum
}

pub fn dot_f32_f16(a: &[f32], b: &[f16]) -> f32 {
    let (a, b) = same_len(a, b);
    let mut sum = 0.0f32;
    for (&x, &y) in a.iter().zip(b) {
        sum += x * y.to_f32();
    }
    sum
}

pub fn l1_f32_f16(a: &[f32], b: &[f16]) -> f32 {
    let (a, b) = same_len(a, b);
    let mut sum = 0.0f32;
    for (&x, &y) in a.iter().zip(b) {
        sum += (x - y.to_f32()).abs();
    }
    sum
}

/// Sum of `f` over the bytes of `a` and `b`, eight bytes at a time.
fn bit_count(a: &[u8], b: &[u8], f: impl Fn(u64, u64) -> u64) -> u64 {
    let (a, b) = same_len(a, b);
    let word = |s: &[u8]| u64::from_ne_bytes(s.try_into().expect("8-byte chunk"));
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: u64 = ac
        .remainder()
        .iter()
        .zip(bc.remainder())
        .map(|(&x, &y)| f(x as u64, y as u64))
        .sum();
    ac.zip(bc).map(|(x, y)| f(word(x), word(y))).sum::<u64>() + tail
}

pub fn hamming(a: &[u8], b: &[u8]) -> u64 {
    bit_count(a, b, |x, y| (x ^ y).count_ones() as u64)
}

pub fn popcount(a: &[u8]) -> u64 {
    bit_count(a, a, |x, _| x.count_ones() as u64)
}

pub fn jaccard_distance(a: &[u8], b: &[u8]) -> f64 {
    let ab = bit_count(a, b, |x, y| (x & y).count_ones() as u64);
    jaccard_from_counts(ab, popcount(a), popcount(b))
}

/// Textbook merge-join over two sorted index lists: `both(x, y)` for an
/// index present on both sides, `one(v)` for an index present on one side.
fn merge(
    ai: &[i32],
    av: &[f32],
    bi: &[i32],
    bv: &[f32],
    both: impl Fn(f32, f32) -> f32,
    one: impl Fn(f32) -> f32,
) -> f32 {
    let (ai, av) = same_len(ai, av);
    let (bi, bv) = same_len(bi, bv);
    let (mut i, mut j, mut sum) = (0, 0, 0.0f32);
    while i < ai.len() && j < bi.len() {
        if ai[i] == bi[j] {
            sum += both(av[i], bv[j]);
            i += 1;
            j += 1;
        } else if ai[i] < bi[j] {
            sum += one(av[i]);
            i += 1;
        } else {
            sum += one(bv[j]);
            j += 1;
        }
    }
    for &v in av[i..].iter().chain(&bv[j..]) {
        sum += one(v);
    }
    sum
}

pub fn sparse_dot(ai: &[i32], av: &[f32], bi: &[i32], bv: &[f32]) -> f32 {
    merge(ai, av, bi, bv, |x, y| x * y, |_| 0.0)
}

pub fn sparse_l2_squared(ai: &[i32], av: &[f32], bi: &[i32], bv: &[f32]) -> f32 {
    merge(ai, av, bi, bv, |x, y| (x - y) * (x - y), |v| v * v)
}

pub fn sparse_l1(ai: &[i32], av: &[f32], bi: &[i32], bv: &[f32]) -> f32 {
    merge(ai, av, bi, bv, |x, y| (x - y).abs(), |v| v.abs())
}
