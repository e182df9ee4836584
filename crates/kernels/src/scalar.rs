//! The portable path: pgvector's own order of operations for every
//! distance it defines (the functions of [`crate::pgvector`], re-exported
//! here under the kernel names), and straightforward sequential loops for
//! the kernels pgvector has no SQL counterpart of (norms, f32 x f16, bits).
//!
//! It is the fallback on CPUs without SIMD support, the oracle of the SIMD
//! tests and the baseline of the benchmarks. Keep it simple rather than fast.

use crate::{cosine_from_parts, f16, jaccard_from_counts, same_len, Isa, Kernels};

pub use crate::pgvector::{
    half_cosine_distance as cosine_distance_f16, half_dot as dot_f16, half_l1 as l1_f16,
    half_l2_squared as l2_squared_f16, sparse_dot, sparse_l1, sparse_l2_squared,
    vector_cosine_distance as cosine_distance_f32, vector_dot as dot_f32, vector_l1 as l1_f32,
    vector_l2_squared as l2_squared_f32,
};

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
    cosine_distance_f32_f16,
    dot_norm_f32_f16,
    hamming,
    popcount,
    jaccard_distance,
    sparse_dot,
    sparse_l2_squared,
    sparse_l1,
};

pub fn norm_squared_f32(a: &[f32]) -> f32 {
    let mut sum = 0.0f32;
    for &x in a {
        sum += x * x;
    }
    sum
}

pub fn norm_squared_f16(a: &[f16]) -> f32 {
    let mut sum = 0.0f32;
    for &x in a {
        sum += x.to_f32() * x.to_f32();
    }
    sum
}

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

pub fn cosine_distance_f32_f16(a: &[f32], b: &[f16]) -> f64 {
    let (a, b) = same_len(a, b);
    let (mut dot, mut na, mut nb) = (0.0f32, 0.0f32, 0.0f32);
    for (&x, &y) in a.iter().zip(b) {
        let y = y.to_f32();
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    cosine_from_parts(dot, na, nb)
}

pub fn dot_norm_f32_f16(a: &[f32], b: &[f16]) -> (f32, f32) {
    let (a, b) = same_len(a, b);
    let (mut dot, mut nb) = (0.0f32, 0.0f32);
    for (&x, &y) in a.iter().zip(b) {
        let y = y.to_f32();
        dot += x * y;
        nb += y * y;
    }
    (dot, nb)
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
