//! Element-wise operations on `vector` and `halfvec`, with pgvector's checks in pgvector's
//! order.

use crate::{Element, Result};
use std::cmp::Ordering;
use vecformat::limits;

/// Operands of an element-wise operator must have the same dimensions.
pub fn check_pair<T: Element>(a: &[T], b: &[T]) -> Result<()> {
    limits::check_same_dims(T::KIND, a.len() as i64, b.len() as i64)
}

/// `a + b`; an infinite element is `value out of range: overflow`.
pub fn add<T: Element>(a: &[T], b: &[T]) -> Result<Vec<T>> {
    elementwise(a, b, |x, y| x + y, false)
}

/// `a - b`; an infinite element is `value out of range: overflow`.
pub fn sub<T: Element>(a: &[T], b: &[T]) -> Result<Vec<T>> {
    elementwise(a, b, |x, y| x - y, false)
}

/// `a * b`; also `value out of range: underflow` when a product of non-zero elements
/// rounds to zero.
pub fn mul<T: Element>(a: &[T], b: &[T]) -> Result<Vec<T>> {
    elementwise(a, b, |x, y| x * y, true)
}

fn elementwise<T: Element>(
    a: &[T],
    b: &[T],
    op: impl Fn(f32, f32) -> f32,
    check_underflow: bool,
) -> Result<Vec<T>> {
    check_pair(a, b)?;
    let result: Vec<T> = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| T::narrow(op(x.to_f32(), y.to_f32())))
        .collect();
    // Checked after computing, element by element: the first bad element decides.
    for ((&r, &x), &y) in result.iter().zip(a).zip(b) {
        if r.is_inf() {
            return Err(limits::overflow_error());
        }
        if check_underflow && r.is_zero() && !(x.is_zero() || y.is_zero()) {
            return Err(limits::underflow_error());
        }
    }
    Ok(result)
}

/// `a || b`; the result must fit the type's dimension limit.
pub fn concat<T: Element>(a: &[T], b: &[T]) -> Result<Vec<T>> {
    limits::check_dim(T::KIND, (a.len() + b.len()) as i64)?;
    let mut out = Vec::with_capacity(a.len() + b.len());
    out.extend_from_slice(a);
    out.extend_from_slice(b);
    Ok(out)
}

/// `subvector(x, start, count)`: the 1-based range `[start, start + count)`, clamped to the
/// vector like `substring`; an empty result is an error. Returns the 0-based range.
pub fn subvector_range<T: Element>(
    x: &[T],
    start: i32,
    count: i32,
) -> Result<std::ops::Range<usize>> {
    let too_small = || {
        vecformat::VectorError::data(format!("{} must have at least 1 dimension", T::KIND.name()))
    };
    let dim = x.len() as i64;
    let (start, count) = (start as i64, count as i64);
    if count < 1 {
        return Err(too_small());
    }
    let end = if start > dim - count {
        dim + 1
    } else {
        start + count
    };
    let start = if start < 1 {
        1
    } else if start > dim {
        return Err(too_small());
    } else {
        start
    };
    limits::check_dim(T::KIND, end - start)?;
    Ok((start - 1) as usize..(end - 1) as usize)
}

/// `subvector(x, start, count)` as a copy.
pub fn subvector<T: Element>(x: &[T], start: i32, count: i32) -> Result<Vec<T>> {
    Ok(x[subvector_range(x, start, count)?].to_vec())
}

/// The Euclidean norm in float8 (`+0` for the zero vector), summed in pgvector's order:
/// one by one for halfvec, [`f32_sum_of_squares`] for vector.
pub fn l2_norm<T: Element>(x: &[T]) -> f64 {
    if T::KIND == vecformat::limits::Kind::Vector {
        let values: &[f32] = bytemuck_f32(x);
        return f32_sum_of_squares(values).sqrt();
    }
    x.iter()
        .fold(0.0f64, |sum, &v| {
            let v = v.to_f32() as f64;
            sum + v * v
        })
        .sqrt()
}

/// A `vector`'s elements as `f32` (the identity: `T` is `f32` when its kind is Vector).
fn bytemuck_f32<T: Element>(x: &[T]) -> &[f32] {
    assert_eq!(std::mem::size_of::<T>(), 4);
    // SAFETY: only called for T = f32 (the only 4-byte element type, asserted above), so
    // the pointer, length and alignment are those of a valid `[f32]`.
    unsafe { std::slice::from_raw_parts(x.as_ptr() as *const f32, x.len()) }
}

/// The float8 sum of squares of float4 values as pgvector's compiled loop computes it:
/// fewer than four values one by one; otherwise two float8 lanes over blocks of four,
/// lane 0 adding `x0² + x2²` and lane 1 `x1² + x3²` per block (the squares are exact),
/// `lane1 + lane0`, then the remaining values one by one.
pub fn f32_sum_of_squares(x: &[f32]) -> f64 {
    let sq = |v: f32| v as f64 * v as f64;
    let mut sum = 0.0f64;
    let rest = if x.len() >= 4 {
        let blocks = x.len() / 4 * 4;
        let (mut lane0, mut lane1) = (0.0f64, 0.0f64);
        for c in x[..blocks].chunks_exact(4) {
            lane0 += sq(c[0]) + sq(c[2]);
            lane1 += sq(c[1]) + sq(c[3]);
        }
        sum = lane1 + lane0;
        &x[blocks..]
    } else {
        x
    };
    for &v in rest {
        sum += sq(v);
    }
    sum
}

/// Unit-length copy; the zero vector stays all zeros. An element that overflows (a norm
/// that underflowed) is `value out of range: overflow`.
pub fn l2_normalize<T: Element>(x: &[T]) -> Result<Vec<T>> {
    let norm = l2_norm(x);
    if norm.is_nan() || norm <= 0.0 {
        return Ok(vec![T::ZERO; x.len()]);
    }
    let out: Vec<T> = x
        .iter()
        .map(|&v| T::narrow((v.to_f32() as f64 / norm) as f32))
        .collect();
    if out.iter().any(|v| v.is_inf()) {
        return Err(limits::overflow_error());
    }
    Ok(out)
}

/// One bit per element, set when the element is positive, most significant bit first;
/// `ceil(dim / 8)` bytes.
pub fn binary_quantize<T: Element>(x: &[T]) -> Vec<u8> {
    let mut bytes = vec![0u8; x.len().div_ceil(8)];
    for (i, v) in x.iter().enumerate() {
        if v.to_f32() > 0.0 {
            bytes[i / 8] |= 0x80 >> (i % 8);
        }
    }
    bytes
}

/// Element by element, then by dimension count (consistent with Postgres arrays).
pub fn compare<T: Element>(a: &[T], b: &[T]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (x.to_f32(), y.to_f32());
        if x < y {
            return Ordering::Less;
        }
        if x > y {
            return Ordering::Greater;
        }
    }
    a.len().cmp(&b.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use half::f16;

    fn h(values: &[f32]) -> Vec<f16> {
        values.iter().map(|&v| f16::from_f32(v)).collect()
    }

    #[test]
    fn arithmetic() {
        assert_eq!(add(&[1.0f32, 2.0], &[3.0, 4.0]).unwrap(), [4.0, 6.0]);
        assert_eq!(sub(&[1.0f32, 2.0], &[3.0, 4.0]).unwrap(), [-2.0, -2.0]);
        assert_eq!(mul(&[1.0f32, 2.0], &[3.0, 4.0]).unwrap(), [3.0, 8.0]);
        let e = add(&[1.0f32, 2.0], &[3.0]).unwrap_err();
        assert_eq!(e.message, "different vector dimensions 2 and 1");
        let e = mul(&h(&[1.0, 2.0]), &h(&[3.0])).unwrap_err();
        assert_eq!(e.message, "different halfvec dimensions 2 and 1");
        assert_eq!(
            add(&[f32::MAX], &[f32::MAX]).unwrap_err().message,
            "value out of range: overflow"
        );
        assert_eq!(
            add(&h(&[65504.0]), &h(&[65504.0])).unwrap_err().message,
            "value out of range: overflow"
        );
        assert_eq!(
            mul(&[1e-30f32], &[1e-30]).unwrap_err().message,
            "value out of range: underflow"
        );
        assert_eq!(
            mul(&h(&[1e-4]), &h(&[1e-4])).unwrap_err().message,
            "value out of range: underflow"
        );
        // A zero operand is not an underflow.
        assert_eq!(mul(&[0.0f32, -0.0], &[1e-30, 5.0]).unwrap(), [0.0, -0.0]);
        // The first bad element decides between overflow and underflow.
        assert_eq!(
            mul(&[1e-30f32, 1e30], &[1e-30, 1e30]).unwrap_err().message,
            "value out of range: underflow"
        );
    }

    #[test]
    fn concat_and_subvector() {
        assert_eq!(concat(&[1.0f32], &[2.0, 3.0]).unwrap(), [1.0, 2.0, 3.0]);
        let big = vec![0.0f32; 8000];
        let more = vec![0.0f32; 8001];
        assert_eq!(
            concat(&big, &more).unwrap_err().message,
            "vector cannot have more than 16000 dimensions"
        );
        assert_eq!(
            concat(&h(&big), &h(&more)).unwrap_err().message,
            "halfvec cannot have more than 16000 dimensions"
        );
        let x = [1.0f32, 2.0, 3.0, 4.0, 5.0];
        assert_eq!(subvector(&x, 1, 3).unwrap(), [1.0, 2.0, 3.0]);
        assert_eq!(subvector(&x, 3, 2).unwrap(), [3.0, 4.0]);
        assert_eq!(subvector(&x, -1, 3).unwrap(), [1.0]);
        assert_eq!(subvector(&x, 3, i32::MAX).unwrap(), [3.0, 4.0, 5.0]);
        assert_eq!(
            subvector(&x, i32::MIN, i32::MAX).unwrap_err().message,
            "vector must have at least 1 dimension"
        );
        for (start, count) in [(1, 0), (6, 1), (-3, 3), (0, -1), (i32::MAX, 1)] {
            assert_eq!(
                subvector(&h(&x), start, count).unwrap_err().message,
                "halfvec must have at least 1 dimension",
                "{start} {count}"
            );
        }
    }

    #[test]
    fn norms() {
        assert_eq!(l2_norm(&[3.0f32, 4.0]), 5.0);
        assert!(l2_norm(&[0.0f32, -0.0]).is_sign_positive());
        assert_eq!(l2_normalize(&[3.0f32, 4.0]).unwrap(), [0.6, 0.8]);
        assert_eq!(l2_normalize(&[0.0f32, -0.0]).unwrap(), [0.0, 0.0]);
        assert_eq!(l2_normalize(&h(&[3.0, 4.0])).unwrap(), h(&[0.6, 0.8]));
        // A norm that underflows in float8 makes an element overflow.
        assert!(l2_normalize(&[1e-45f32]).is_ok());
    }

    #[test]
    fn quantize_and_compare() {
        assert_eq!(
            binary_quantize(&[1.0f32, -1.0, 0.0, 2.0, 3.0, 0.0, 0.0, 0.0, 5.0]),
            [0b1001_1000, 0b1000_0000]
        );
        assert_eq!(compare(&[1.0f32, 2.0], &[1.0, 3.0]), Ordering::Less);
        assert_eq!(compare(&[1.0f32, 2.0], &[1.0]), Ordering::Greater);
        assert_eq!(compare(&[0.0f32], &[-0.0]), Ordering::Equal);
    }
}
