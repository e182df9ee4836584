//! sparsevec operations that are plain arithmetic on (dim, 0-based ascending indices,
//! non-zero values).

use std::cmp::Ordering;
use vecformat::limits;

/// The Euclidean norm in float8 (`+0` for no elements), summed in pgvector's order.
pub fn l2_norm(values: &[f32]) -> f64 {
    crate::dense::f32_sum_of_squares(values).sqrt()
}

/// Squared Euclidean distance in pgvector's order ([`kernels::pgvector::sparse_l2_squared`]).
pub fn l2_squared(a: SparseRef, b: SparseRef) -> f32 {
    kernels::pgvector::sparse_l2_squared(a.indices, a.values, b.indices, b.values)
}

/// Inner product in pgvector's order ([`kernels::pgvector::sparse_dot`]).
pub fn dot(a: SparseRef, b: SparseRef) -> f32 {
    kernels::pgvector::sparse_dot(a.indices, a.values, b.indices, b.values)
}

/// Taxicab distance in pgvector's order ([`kernels::pgvector::sparse_l1`]).
pub fn l1(a: SparseRef, b: SparseRef) -> f32 {
    kernels::pgvector::sparse_l1(a.indices, a.values, b.indices, b.values)
}

/// Cosine distance in pgvector's order ([`kernels::pgvector::sparse_cosine_distance`]).
pub fn cosine_distance(a: SparseRef, b: SparseRef) -> f64 {
    kernels::pgvector::sparse_cosine_distance(a.indices, a.values, b.indices, b.values)
}

/// Unit-length copy; elements that round to zero are dropped (a sparsevec stores no zeros).
pub fn l2_normalize(indices: &[i32], values: &[f32]) -> crate::Result<(Vec<i32>, Vec<f32>)> {
    let norm = l2_norm(values);
    if norm.is_nan() || norm <= 0.0 {
        return Ok((indices.to_vec(), values.to_vec()));
    }
    let mut out_indices = Vec::with_capacity(indices.len());
    let mut out_values = Vec::with_capacity(values.len());
    for (&i, &v) in indices.iter().zip(values) {
        let scaled = (v as f64 / norm) as f32;
        if scaled.is_infinite() {
            return Err(limits::overflow_error());
        }
        if scaled != 0.0 {
            out_indices.push(i);
            out_values.push(scaled);
        }
    }
    Ok((out_indices, out_values))
}

/// A borrowed sparse vector.
#[derive(Clone, Copy, Debug)]
pub struct SparseRef<'a> {
    pub dim: i32,
    pub indices: &'a [i32],
    pub values: &'a [f32],
}

/// pgvector's order: the stored elements pairwise (a missing element counts as zero on the
/// side where it is missing), then the dimension count.
pub fn compare(a: SparseRef, b: SparseRef) -> Ordering {
    let sign = |negative: bool| {
        if negative {
            Ordering::Less
        } else {
            Ordering::Greater
        }
    };
    let nnz = a.indices.len().min(b.indices.len());
    for i in 0..nnz {
        let (ai, bi) = (a.indices[i], b.indices[i]);
        if ai < bi {
            return sign(a.values[i] < 0.0);
        }
        if ai > bi {
            return sign(b.values[i] < 0.0).reverse();
        }
        if a.values[i] < b.values[i] {
            return Ordering::Less;
        }
        if a.values[i] > b.values[i] {
            return Ordering::Greater;
        }
    }
    if a.indices.len() < b.indices.len() && b.indices[nnz] < a.dim {
        return sign(b.values[nnz] < 0.0).reverse();
    }
    if a.indices.len() > b.indices.len() && a.indices[nnz] < b.dim {
        return sign(a.values[nnz] < 0.0);
    }
    a.dim.cmp(&b.dim)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn norm_of_nothing_is_positive_zero() {
        assert!(l2_norm(&[]).is_sign_positive());
        assert_eq!(l2_norm(&[3.0, 4.0]), 5.0);
        assert_eq!(
            l2_normalize(&[1, 3], &[3.0, 4.0]).unwrap(),
            (vec![1, 3], vec![0.6, 0.8])
        );
    }

    #[test]
    fn order() {
        let s = |dim, indices: &'static [i32], values: &'static [f32]| SparseRef {
            dim,
            indices,
            values,
        };
        assert_eq!(
            compare(s(3, &[0, 1], &[1.0, 1.0]), s(3, &[0, 2], &[1.0, 1.0])),
            Ordering::Greater
        );
        assert_eq!(compare(s(3, &[], &[]), s(2, &[], &[])), Ordering::Greater);
        assert_eq!(
            compare(s(3, &[2], &[1.0]), s(2, &[1], &[1.0])),
            Ordering::Less
        );
        assert_eq!(compare(s(3, &[1], &[-1.0]), s(3, &[], &[])), Ordering::Less);
        assert_eq!(
            compare(s(3, &[1], &[2.0]), s(3, &[1], &[2.0])),
            Ordering::Equal
        );
    }

    #[test]
    fn fused_products_like_pgvector() {
        // pgvector 0.8.6: '{1:1,3:3e38,4:-1,5:1e-30,6:-2.583,7:3e38,8:-65504,9:0.0001}/9'
        // <#> '{1:0.5,2:-65504,3:8.746,4:3e38,5:1,6:9.047,7:-3e38,8:-5.134,9:7.71}/9' is
        // -Infinity: an overflowing product fused into an infinite sum stays infinite.
        let a = SparseRef {
            dim: 9,
            indices: &[0, 2, 3, 4, 5, 6, 7, 8],
            values: &[1.0, 3e38, -1.0, 1e-30, -2.583, 3e38, -65504.0, 0.0001],
        };
        let b = SparseRef {
            dim: 9,
            indices: &[0, 1, 2, 3, 4, 5, 6, 7, 8],
            values: &[0.5, -65504.0, 8.746, 3e38, 1.0, 9.047, -3e38, -5.134, 7.71],
        };
        assert_eq!(dot(a, b), f32::INFINITY);
        // Merges with nothing in common add every square or absolute value.
        let c = SparseRef {
            dim: 9,
            indices: &[],
            values: &[],
        };
        assert_eq!(l2_squared(a, c), l2_squared(c, a).max(l2_squared(a, c)));
        assert_eq!(l1(c, b), l1(b, c));
        assert!(cosine_distance(c, b).is_nan());
    }
}
