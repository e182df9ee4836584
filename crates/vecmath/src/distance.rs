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
    let similarity = if similarity > 1.0 {
        1.0
    } else if similarity < -1.0 {
        -1.0
    } else {
        similarity
    };
    1.0 - similarity
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
}
