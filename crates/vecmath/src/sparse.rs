//! sparsevec operations that are plain arithmetic on (dim, 0-based ascending indices,
//! non-zero values).

use std::cmp::Ordering;
use vecformat::limits;

/// The Euclidean norm in float8 (`+0` for no elements), summed in pgvector's order.
pub fn l2_norm(values: &[f32]) -> f64 {
    crate::dense::f32_sum_of_squares(values).sqrt()
}

/// Squared Euclidean distance, pgvector's merge loop: a matching pair adds the rounded
/// square of its difference, an element only in `b` adds its rounded square before the
/// next `a` element, an element only in `a` is fused in (`fma`), and the elements of `b`
/// after the last of `a` are summed four lanes at a time when there are at least four.
pub fn l2_squared(a: SparseRef, b: SparseRef) -> f32 {
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
pub fn dot(a: SparseRef, b: SparseRef) -> f32 {
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

/// Taxicab distance, the same merge as [`l2_squared`] with absolute values.
pub fn l1(a: SparseRef, b: SparseRef) -> f32 {
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
pub fn cosine_distance(a: SparseRef, b: SparseRef) -> f64 {
    let similarity = dot(a, b) as f64;
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
