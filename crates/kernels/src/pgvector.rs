//! The distances exactly as pgvector 0.8.6 computes them, bit for bit: the
//! results of the SQL operators and functions (`<->`, `<#>`, `<=>`, `<+>`,
//! `l2_distance`, ...) and of the portable [`crate::scalar`] path, whose
//! table points here. The SIMD paths compute the same distances in their
//! own order (within 1e-5, relative); the indexes use whichever path is
//! active, the SQL layer always this one, so that it prints pgvector's
//! digits.
//!
//! halfvec follows pgvector's runtime-dispatched kernels on x86-64 CPUs
//! with F16C and FMA: eight float4 lanes accumulated with fused
//! multiply-add over the first `dim / 8 * 8` elements, the lanes summed in
//! pairs, then the remaining elements added one by one (multiply-adds
//! fused as well). `f32::mul_add` is always a single rounding; with the
//! `fma` target feature it is one instruction, which the functions select
//! at run time.
//!
//! Callers pass equally long slices (the SQL layer reports dimension
//! mismatches first); like every kernel, these look only at the common
//! prefix otherwise.

// Lane loops index several arrays by lane on purpose: they spell out pgvector's order.
#![allow(clippy::needless_range_loop)]
// The sparse merges update the next start inside the loop, as pgvector does.
#![allow(clippy::mut_range_bound)]

use crate::{f16, same_len};

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
            let (a, b) = same_len(a, b);
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
    if rest == 0 {
        // Whole blocks only (or nothing at all: 0).
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
            let (a, b) = same_len(a, b);
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

// ---------------------------------------------------------------------------- sparsevec
//
// pgvector's merge loops over the two index lists (0-based, strictly
// ascending), with its own choice of fused and unfused steps.

/// A sparse vector's non-zero elements.
#[derive(Clone, Copy)]
struct Sparse<'a> {
    indices: &'a [i32],
    values: &'a [f32],
}

/// The elements of one side, indices and values cut to the same length.
#[inline(always)]
fn sparse<'a>(indices: &'a [i32], values: &'a [f32]) -> Sparse<'a> {
    let (indices, values) = same_len(indices, values);
    Sparse { indices, values }
}

/// Squared Euclidean distance, pgvector's merge loop: a matching pair adds the rounded
/// square of its difference, an element only in `b` adds its rounded square before the
/// next `a` element, an element only in `a` is fused in (`fma`), and the elements of `b`
/// after the last of `a` are summed four lanes at a time when there are at least four.
pub fn sparse_l2_squared(ai: &[i32], av: &[f32], bi: &[i32], bv: &[f32]) -> f32 {
    let (a, b) = (sparse(ai, av), sparse(bi, bv));
    let mut distance = 0.0f32;
    let mut bpos = 0;
    for (i, &ai) in a.indices.iter().enumerate() {
        let mut bi = -1;
        for j in bpos..b.indices.len() {
            bi = b.indices[j];
            if ai == bi {
                let diff = a.values[i] - b.values[j];
                distance += diff * diff;
            } else if ai > bi {
                distance += b.values[j] * b.values[j];
            }
            if ai >= bi {
                bpos = j + 1;
            }
            if bi >= ai {
                break;
            }
        }
        if ai != bi {
            distance = a.values[i].mul_add(a.values[i], distance);
        }
    }
    lanes4(&b.values[bpos..], |x| x * x, distance)
}

/// Inner product: the products of matching elements fused into the sum in index order.
pub fn sparse_dot(ai: &[i32], av: &[f32], bi: &[i32], bv: &[f32]) -> f32 {
    let (a, b) = (sparse(ai, av), sparse(bi, bv));
    let mut distance = 0.0f32;
    let mut bpos = 0;
    for (i, &ai) in a.indices.iter().enumerate() {
        for j in bpos..b.indices.len() {
            let bi = b.indices[j];
            if ai == bi {
                distance = a.values[i].mul_add(b.values[j], distance);
            }
            if ai >= bi {
                bpos = j + 1;
            }
            if bi >= ai {
                break;
            }
        }
    }
    distance
}

/// Taxicab distance, the same merge as [`sparse_l2_squared`] with absolute values.
pub fn sparse_l1(ai: &[i32], av: &[f32], bi: &[i32], bv: &[f32]) -> f32 {
    let (a, b) = (sparse(ai, av), sparse(bi, bv));
    let mut distance = 0.0f32;
    let mut bpos = 0;
    for (i, &ai) in a.indices.iter().enumerate() {
        let mut bi = -1;
        for j in bpos..b.indices.len() {
            bi = b.indices[j];
            if ai == bi {
                distance += (a.values[i] - b.values[j]).abs();
            } else if ai > bi {
                distance += b.values[j].abs();
            }
            if ai >= bi {
                bpos = j + 1;
            }
            if bi >= ai {
                break;
            }
        }
        if ai != bi {
            distance += a.values[i].abs();
        }
    }
    lanes4(&b.values[bpos..], |x| x.abs(), distance)
}

/// Cosine distance: the inner product over the square root of the product of the float4
/// sums of squares, clamped to [-1, 1] (NaN for a zero vector passes).
pub fn sparse_cosine_distance(ai: &[i32], av: &[f32], bi: &[i32], bv: &[f32]) -> f64 {
    let (a, b) = (sparse(ai, av), sparse(bi, bv));
    let similarity = sparse_dot(a.indices, a.values, b.indices, b.values) as f64;
    let norm_a = f32_lanes_sum(a.values, |x| x * x);
    let norm_b = f32_lanes_sum(b.values, |x| x * x);
    let similarity = similarity / (norm_a as f64 * norm_b as f64).sqrt();
    // clamp keeps NaN (a zero vector) as it is, like pgvector's comparisons.
    1.0 - similarity.clamp(-1.0, 1.0)
}

/// `f(x)` summed as pgvector's compiled loops sum float4 terms: fewer than four terms one by
/// one; otherwise four lanes over whole blocks, the lanes added as `(l0 + l2) + (l1 + l3)`,
/// then the remaining terms one by one.
fn f32_lanes_sum(x: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut sum = 0.0f32;
    let rest = if x.len() >= 4 {
        let blocks = x.len() / 4 * 4;
        let mut lanes = [0.0f32; 4];
        for chunk in x[..blocks].chunks_exact(4) {
            for l in 0..4 {
                lanes[l] += f(chunk[l]);
            }
        }
        sum = (lanes[0] + lanes[2]) + (lanes[1] + lanes[3]);
        &x[blocks..]
    } else {
        x
    };
    for &v in rest {
        sum += f(v);
    }
    sum
}

/// The trailing loop of the merges, continuing the running `start`: whole blocks of four
/// lanes first (their sum added at once), then the remaining terms one by one.
fn lanes4(x: &[f32], f: impl Fn(f32) -> f32, start: f32) -> f32 {
    let mut distance = start;
    let rest = if x.len() >= 4 {
        let blocks = x.len() / 4 * 4;
        let mut lanes = [0.0f32; 4];
        for chunk in x[..blocks].chunks_exact(4) {
            for l in 0..4 {
                lanes[l] += f(chunk[l]);
            }
        }
        distance += (lanes[0] + lanes[2]) + (lanes[1] + lanes[3]);
        &x[blocks..]
    } else {
        x
    };
    for &v in rest {
        distance += f(v);
    }
    distance
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

    #[test]
    fn sparse_fused_products_like_pgvector() {
        // pgvector 0.8.6: '{1:1,3:3e38,4:-1,5:1e-30,6:-2.583,7:3e38,8:-65504,9:0.0001}/9'
        // <#> '{1:0.5,2:-65504,3:8.746,4:3e38,5:1,6:9.047,7:-3e38,8:-5.134,9:7.71}/9' is
        // -Infinity: an overflowing product fused into an infinite sum stays infinite.
        let (ai, av): (&[i32], &[f32]) = (
            &[0, 2, 3, 4, 5, 6, 7, 8],
            &[1.0, 3e38, -1.0, 1e-30, -2.583, 3e38, -65504.0, 0.0001],
        );
        let (bi, bv): (&[i32], &[f32]) = (
            &[0, 1, 2, 3, 4, 5, 6, 7, 8],
            &[0.5, -65504.0, 8.746, 3e38, 1.0, 9.047, -3e38, -5.134, 7.71],
        );
        assert_eq!(sparse_dot(ai, av, bi, bv), f32::INFINITY);
        // Merges with nothing in common add every square or absolute value.
        let (ci, cv): (&[i32], &[f32]) = (&[], &[]);
        assert_eq!(
            sparse_l2_squared(ai, av, ci, cv),
            sparse_l2_squared(ci, cv, ai, av).max(sparse_l2_squared(ai, av, ci, cv))
        );
        assert_eq!(sparse_l1(ci, cv, bi, bv), sparse_l1(bi, bv, ci, cv));
        assert!(sparse_cosine_distance(ci, cv, bi, bv).is_nan());
    }

    #[test]
    fn sparse_merge_steps() {
        // a only, both, b only, both, then b's tail in four lanes.
        let (ai, av): (&[i32], &[f32]) = (&[0, 2, 5], &[1.0, 2.0, 3.0]);
        let (bi, bv): (&[i32], &[f32]) =
            (&[2, 3, 5, 6, 7, 8, 9], &[1.0, 4.0, 1.0, 1.0, 1.0, 1.0, 1.0]);
        assert_eq!(
            sparse_l2_squared(ai, av, bi, bv),
            1.0 + 1.0 + 16.0 + 4.0 + 4.0
        );
        assert_eq!(sparse_l1(ai, av, bi, bv), 1.0 + 1.0 + 4.0 + 2.0 + 4.0);
        assert_eq!(sparse_dot(ai, av, bi, bv), 2.0 + 3.0);
    }

    #[test]
    fn the_scalar_table_is_this_module() {
        let t = crate::dispatch::variants(crate::Isa::Scalar)[0];
        let a = [1.164f32, 3.22, -1.599, 0.5, 7.0, -2.25, 1e-3];
        let b = [7.405f32, -6.258, -1.0, 0.25, -3.0, 9.5, 2.0];
        assert_eq!(
            t.l2_squared_f32(&a, &b).to_bits(),
            vector_l2_squared(&a, &b).to_bits()
        );
        assert_eq!(t.dot_f32(&a, &b).to_bits(), vector_dot(&a, &b).to_bits());
        assert_eq!(t.l1_f32(&a, &b).to_bits(), vector_l1(&a, &b).to_bits());
        assert_eq!(
            t.cosine_distance_f32(&a, &b).to_bits(),
            vector_cosine_distance(&a, &b).to_bits()
        );
        let (ah, bh) = (h(&a), h(&b));
        assert_eq!(
            t.l2_squared_f16(&ah, &bh).to_bits(),
            half_l2_squared(&ah, &bh).to_bits()
        );
        assert_eq!(t.dot_f16(&ah, &bh).to_bits(), half_dot(&ah, &bh).to_bits());
        assert_eq!(t.l1_f16(&ah, &bh).to_bits(), half_l1(&ah, &bh).to_bits());
        assert_eq!(
            t.cosine_distance_f16(&ah, &bh).to_bits(),
            half_cosine_distance(&ah, &bh).to_bits()
        );
        let (ai, bi) = ([0, 2, 5], [1, 2, 6]);
        assert_eq!(
            t.sparse_l2_squared(&ai, &a[..3], &bi, &b[..3]).to_bits(),
            sparse_l2_squared(&ai, &a[..3], &bi, &b[..3]).to_bits()
        );
    }
}
