//! halfvec distances computed exactly as pgvector 0.8.6 does on x86-64 CPUs with F16C and
//! FMA (its runtime-dispatched kernels): eight float4 lanes accumulated with fused
//! multiply-add over the first `dim / 8 * 8` elements, the lanes summed in pairs, then
//! the remaining elements added one by one (multiply-adds fused as well). Following the same
//! order of operations gives the same float4 result bit for bit, so `<->`, `<#>`, `<=>` and
//! `<+>` on halfvec print what pgvector prints.
//!
//! `f32::mul_add` is always a single rounding; with the `fma` target feature it is one
//! instruction, which [`HalfDistances`] selects at run time.

use half::f16;

/// pgvector writes `s[0] + s[1] + ... + s[7]`; compiled with `-fassociative-math`, it adds
/// in pairs.
#[inline(always)]
fn lanes_sum(s: &[f32; 8]) -> f32 {
    ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]))
}

#[inline(always)]
fn l2_squared_impl(a: &[f16], b: &[f16]) -> f32 {
    let count = a.len() / 8 * 8;
    let mut s = [0f32; 8];
    for i in (0..count).step_by(8) {
        for l in 0..8 {
            let d = a[i + l].to_f32() - b[i + l].to_f32();
            s[l] = d.mul_add(d, s[l]);
        }
    }
    let mut distance = lanes_sum(&s);
    for i in count..a.len() {
        let d = a[i].to_f32() - b[i].to_f32();
        distance = d.mul_add(d, distance);
    }
    distance
}

#[inline(always)]
fn dot_impl(a: &[f16], b: &[f16]) -> f32 {
    let count = a.len() / 8 * 8;
    let mut s = [0f32; 8];
    for i in (0..count).step_by(8) {
        for l in 0..8 {
            s[l] = a[i + l].to_f32().mul_add(b[i + l].to_f32(), s[l]);
        }
    }
    let mut distance = lanes_sum(&s);
    for i in count..a.len() {
        distance = a[i].to_f32().mul_add(b[i].to_f32(), distance);
    }
    distance
}

#[inline(always)]
fn cosine_impl(a: &[f16], b: &[f16]) -> f64 {
    let count = a.len() / 8 * 8;
    let (mut sim, mut na, mut nb) = ([0f32; 8], [0f32; 8], [0f32; 8]);
    for i in (0..count).step_by(8) {
        for l in 0..8 {
            let (x, y) = (a[i + l].to_f32(), b[i + l].to_f32());
            sim[l] = x.mul_add(y, sim[l]);
            na[l] = x.mul_add(x, na[l]);
            nb[l] = y.mul_add(y, nb[l]);
        }
    }
    let (mut similarity, mut norma, mut normb) = (lanes_sum(&sim), lanes_sum(&na), lanes_sum(&nb));
    for i in count..a.len() {
        let (x, y) = (a[i].to_f32(), b[i].to_f32());
        similarity = x.mul_add(y, similarity);
        norma = x.mul_add(x, norma);
        normb = y.mul_add(y, normb);
    }
    similarity as f64 / (norma as f64 * normb as f64).sqrt()
}

#[inline(always)]
fn l1_impl(a: &[f16], b: &[f16]) -> f32 {
    let count = a.len() / 8 * 8;
    let mut s = [0f32; 8];
    for i in (0..count).step_by(8) {
        for l in 0..8 {
            s[l] += (a[i + l].to_f32() - b[i + l].to_f32()).abs();
        }
    }
    let mut distance = lanes_sum(&s);
    for i in count..a.len() {
        distance += (a[i].to_f32() - b[i].to_f32()).abs();
    }
    distance
}

macro_rules! dispatch {
    ($name:ident, $imp:ident, $out:ty, $doc:literal) => {
        #[doc = $doc]
        pub fn $name(a: &[f16], b: &[f16]) -> $out {
            debug_assert_eq!(a.len(), b.len());
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "fma,f16c")]
                fn fast(a: &[f16], b: &[f16]) -> $out {
                    $imp(a, b)
                }
                if std::arch::is_x86_feature_detected!("fma")
                    && std::arch::is_x86_feature_detected!("f16c")
                {
                    // SAFETY: the CPU has the features `fast` was compiled for.
                    return unsafe { fast(a, b) };
                }
            }
            $imp(a, b)
        }
    };
}

dispatch!(
    half_l2_squared,
    l2_squared_impl,
    f32,
    "Squared Euclidean distance."
);
dispatch!(half_dot, dot_impl, f32, "Inner product.");
dispatch!(
    half_cosine_similarity,
    cosine_impl,
    f64,
    "Cosine similarity (NaN for a zero vector)."
);
dispatch!(half_l1, l1_impl, f32, "Taxicab distance.");

/// Cosine distance with pgvector's clamping of the similarity to [-1, 1] (NaN passes).
pub fn half_cosine_distance(a: &[f16], b: &[f16]) -> f64 {
    let similarity = half_cosine_similarity(a, b);
    // clamp keeps NaN (a zero vector) as it is, like pgvector's comparisons.
    1.0 - similarity.clamp(-1.0, 1.0)
}

// ---------------------------------------------------------------------------- vector
//
// pgvector writes plain loops for `vector` and leaves them to the compiler
// (`-ftree-vectorize -fassociative-math`, FMA on x86-64 CPUs that have it). The reference
// build (GCC, x86-64 with FMA) turns them into four float4 lanes over whole blocks of four,
// the lanes summed as `(l0 + l2) + (l1 + l3)`, then a scalar tail; which steps are fused
// differs per function, and is reproduced here step for step.

/// `(l0 + l2) + (l1 + l3)`.
#[inline(always)]
fn h4(l: &[f32; 4]) -> f32 {
    (l[0] + l[2]) + (l[1] + l[3])
}

#[inline(always)]
fn f32_l2_squared_impl(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len();
    let d = |i: usize| a[i] - b[i];
    let blocks = if n >= 4 { n / 4 * 4 } else { 0 };
    let mut lanes = [0f32; 4];
    for i in (0..blocks).step_by(4) {
        for l in 0..4 {
            let x = d(i + l);
            lanes[l] += x * x;
        }
    }
    let rest = n - blocks;
    if blocks > 0 && rest == 0 {
        return h4(&lanes);
    }
    // The tail: one element fused onto the lane sum, or a pair fused onto the two half
    // sums, added, and a third element fused on.
    let (p0, p1) = (lanes[0] + lanes[2], lanes[1] + lanes[3]);
    if rest == 1 {
        let start = if blocks > 0 { p0 + p1 } else { 0.0 };
        let x = d(blocks);
        return x.mul_add(x, start);
    }
    let (x0, x1) = (d(blocks), d(blocks + 1));
    let (t0, t1) = if blocks > 0 {
        (x0.mul_add(x0, p0), x1.mul_add(x1, p1))
    } else {
        (x0.mul_add(x0, 0.0), x1.mul_add(x1, 0.0))
    };
    let sum = t0 + t1;
    if rest == 3 {
        let x = d(blocks + 2);
        return x.mul_add(x, sum);
    }
    sum
}

#[inline(always)]
fn f32_dot_impl(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len();
    let blocks = if n >= 4 { n / 4 * 4 } else { 0 };
    let mut lanes = [0f32; 4];
    for i in (0..blocks).step_by(4) {
        for l in 0..4 {
            lanes[l] += a[i + l] * b[i + l];
        }
    }
    let mut sum = if blocks > 0 { h4(&lanes) } else { 0.0 };
    for i in blocks..n {
        sum += a[i] * b[i];
    }
    sum
}

#[inline(always)]
fn f32_cosine_impl(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len();
    let blocks = if n >= 4 { n / 4 * 4 } else { 0 };
    let (mut sim, mut na, mut nb) = ([0f32; 4], [0f32; 4], [0f32; 4]);
    for i in (0..blocks).step_by(4) {
        for l in 0..4 {
            let (x, y) = (a[i + l], b[i + l]);
            sim[l] = x.mul_add(y, sim[l]);
            na[l] = x.mul_add(x, na[l]);
            nb[l] = y.mul_add(y, nb[l]);
        }
    }
    let (mut similarity, mut norma, mut normb) = if blocks > 0 {
        (h4(&sim), h4(&na), h4(&nb))
    } else {
        (0.0, 0.0, 0.0)
    };
    for i in blocks..n {
        let (x, y) = (a[i], b[i]);
        similarity = x.mul_add(y, similarity);
        norma = x.mul_add(x, norma);
        normb = y.mul_add(y, normb);
    }
    similarity as f64 / (norma as f64 * normb as f64).sqrt()
}

#[inline(always)]
fn f32_l1_impl(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len();
    let blocks = if n >= 4 { n / 4 * 4 } else { 0 };
    let mut lanes = [0f32; 4];
    for i in (0..blocks).step_by(4) {
        for l in 0..4 {
            lanes[l] += (a[i + l] - b[i + l]).abs();
        }
    }
    let mut sum = if blocks > 0 { h4(&lanes) } else { 0.0 };
    for i in blocks..n {
        sum += (a[i] - b[i]).abs();
    }
    sum
}

macro_rules! dispatch_f32 {
    ($name:ident, $imp:ident, $out:ty, $doc:literal) => {
        #[doc = $doc]
        pub fn $name(a: &[f32], b: &[f32]) -> $out {
            debug_assert_eq!(a.len(), b.len());
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "fma")]
                fn fast(a: &[f32], b: &[f32]) -> $out {
                    $imp(a, b)
                }
                if std::arch::is_x86_feature_detected!("fma") {
                    // SAFETY: the CPU has the feature `fast` was compiled for.
                    return unsafe { fast(a, b) };
                }
            }
            $imp(a, b)
        }
    };
}

dispatch_f32!(
    vector_l2_squared,
    f32_l2_squared_impl,
    f32,
    "Squared Euclidean distance."
);
dispatch_f32!(vector_dot, f32_dot_impl, f32, "Inner product.");
dispatch_f32!(
    vector_cosine_similarity,
    f32_cosine_impl,
    f64,
    "Cosine similarity."
);
dispatch_f32!(vector_l1, f32_l1_impl, f32, "Taxicab distance.");

/// Cosine distance with pgvector's clamping (NaN for a zero vector passes).
pub fn vector_cosine_distance(a: &[f32], b: &[f32]) -> f64 {
    let similarity = vector_cosine_similarity(a, b);
    // clamp keeps NaN (a zero vector) as it is, like pgvector's comparisons.
    1.0 - similarity.clamp(-1.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(v: &[f32]) -> Vec<f16> {
        v.iter().map(|&x| f16::from_f32(x)).collect()
    }

    #[test]
    fn small_values() {
        let a = h(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
        let b = h(&[0.0; 9]);
        assert_eq!(half_l2_squared(&a, &b), 285.0);
        assert_eq!(half_dot(&a, &a), 285.0);
        assert_eq!(half_l1(&a, &b), 45.0);
        assert!((half_cosine_distance(&a, &a)).abs() < 1e-7);
        assert!(half_cosine_distance(&a, &b).is_nan());
    }

    #[test]
    fn matches_pgvector() {
        // Printed by pgvector 0.8.6: '[0.786,65504,100,65504,3.354,0,65504,-8.644,-65504]'
        // <#> '[65504,65504,65504,-65504,1e-7,0.293,-4.14,-7.689,3.16]' is -6123820.
        let a = h(&[
            0.786, 65504.0, 100.0, 65504.0, 3.354, 0.0, 65504.0, -8.644, -65504.0,
        ]);
        let b = h(&[
            65504.0, 65504.0, 65504.0, -65504.0, 1e-7, 0.293, -4.14, -7.689, 3.16,
        ]);
        assert_eq!(-(half_dot(&a, &b) as f64), -6123820.0);
    }

    #[test]
    fn vector_matches_pgvector() {
        // Printed by pgvector 0.8.6 (x86-64, FMA).
        let a = [-3.609f32, -2.869, -0.192];
        let b = [0.0f32, 1e-30, 1e-7];
        assert_eq!(vector_l1(&a, &b) as f64, 6.669999599456787);
        let a = [9.058f32, 8.652, -3.0];
        let b = [2.556f32, 100.0, 3.406];
        assert_eq!(-(vector_dot(&a, &b) as f64), -878.13427734375);
        let a = [1.164f32, 3.22, -1.599];
        let b = [7.405f32, -6.258, -1.0];
        assert_eq!(vector_l2_squared(&a, &b) as f64, 129.141357421875);
    }
}
