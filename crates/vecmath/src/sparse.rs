//! sparsevec operations that are plain arithmetic on (dim, 0-based ascending indices,
//! non-zero values).

use std::cmp::Ordering;
use vecformat::limits;

/// The Euclidean norm in float8, element order (`+0` for no elements).
pub fn l2_norm(values: &[f32]) -> f64 {
    values
        .iter()
        .fold(0.0f64, |sum, &v| sum + v as f64 * v as f64)
        .sqrt()
}

/// Unit-length copy; elements that round to zero are dropped (a sparsevec stores no zeros).
pub fn l2_normalize(indices: &[i32], values: &[f32]) -> crate::Result<(Vec<i32>, Vec<f32>)> {
    let norm = l2_norm(values);
    if !(norm > 0.0) {
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
}
