//! The state of `avg(vector)` / `avg(halfvec)` (and of `sum` through the same accumulate):
//! a float8 array `{count, sum_1, ..., sum_dim}`; `{0}` is the initial state.
//!
//! pgvector's quirks are reproduced on purpose, since the functions are callable from SQL
//! with any state: `halfvec_accum` reads the state's dimension count as an int16 and
//! `halfvec_avg` as a uint16; the combine function is shared by both types and names
//! `vector` in its messages.

use crate::{Element, Result};
use half::f16;
use vecformat::limits::{self, Kind};

/// The number of sums an accumulate or final function of `T` sees in a state array of
/// `len >= 1` elements.
fn state_dims<T: Element>(len: usize, in_final: bool) -> i64 {
    let dims = len as i64 - 1;
    match (T::KIND, in_final) {
        (Kind::Halfvec, false) => dims as i16 as i64,
        (Kind::Halfvec, true) => dims as u16 as i64,
        _ => dims as i32 as i64,
    }
}

/// Add one vector to the state. A state without sums (`{n}`) takes the vector's dimensions;
/// otherwise they must match, and a sum that overflows float8 is an error.
pub fn accumulate<T: Element>(state: &[f64], x: &[T]) -> Result<Vec<f64>> {
    debug_assert!(!state.is_empty());
    let dims = state_dims::<T>(state.len(), false);
    let mut next = Vec::with_capacity(x.len() + 1);
    next.push(state[0] + 1.0);
    if dims == 0 {
        next.extend(x.iter().map(|v| v.to_f32() as f64));
        return Ok(next);
    }
    limits::check_expected_dim(dims as i32, x.len() as i64)?;
    for (s, v) in state[1..].iter().zip(x) {
        let sum = s + v.to_f32() as f64;
        if sum.is_infinite() {
            return Err(limits::overflow_error());
        }
        next.push(sum);
    }
    Ok(next)
}

/// Merge two partial states (parallel aggregation). A state with count 0 contributes
/// nothing, but the result must still have between 1 and 16,000 dimensions.
pub fn combine(a: &[f64], b: &[f64]) -> Result<Vec<f64>> {
    debug_assert!(!a.is_empty() && !b.is_empty());
    let dims_a = a.len() as i64 - 1;
    let dims_b = b.len() as i64 - 1;
    let (count, sums): (f64, Vec<f64>) = if a[0] == 0.0 {
        limits::check_dim(Kind::Vector, dims_b)?;
        (b[0], b[1..].to_vec())
    } else if b[0] == 0.0 {
        limits::check_dim(Kind::Vector, dims_a)?;
        (a[0], a[1..].to_vec())
    } else {
        limits::check_dim(Kind::Vector, dims_a)?;
        limits::check_expected_dim(dims_a as i32, dims_b)?;
        let mut sums = Vec::with_capacity(a.len() - 1);
        for (x, y) in a[1..].iter().zip(&b[1..]) {
            let s = x + y;
            if s.is_infinite() {
                return Err(limits::overflow_error());
            }
            sums.push(s);
        }
        (a[0] + b[0], sums)
    };
    let mut out = Vec::with_capacity(sums.len() + 1);
    out.push(count);
    out.extend(sums);
    Ok(out)
}

/// The average: `None` (SQL NULL) for a count of 0; each element must be finite and fit
/// the element type.
pub fn average<T: Average>(state: &[f64]) -> Result<Option<Vec<T>>> {
    debug_assert!(!state.is_empty());
    let n = state[0];
    if n == 0.0 {
        return Ok(None);
    }
    let dims = state_dims::<T>(state.len(), true);
    limits::check_dim(T::KIND, dims)?;
    state[1..=dims as usize]
        .iter()
        .map(|&s| T::from_mean(s / n))
        .collect::<Result<Vec<T>>>()
        .map(Some)
}

/// How a float8 mean becomes an element: float4 conversion, then pgvector's checks.
pub trait Average: Element {
    fn from_mean(mean: f64) -> Result<Self>;
}

impl Average for f32 {
    fn from_mean(mean: f64) -> Result<Self> {
        let v = mean as f32;
        limits::check_element(Kind::Vector, v)?;
        Ok(v)
    }
}

impl Average for f16 {
    fn from_mean(mean: f64) -> Result<Self> {
        let h = limits::float_to_half(mean as f32)?;
        limits::check_element(Kind::Halfvec, h.to_f32())?;
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accumulate_and_average() {
        let s = accumulate(&[0.0], &[1.0f32, 2.0]).unwrap();
        assert_eq!(s, [1.0, 1.0, 2.0]);
        let s = accumulate(&s, &[3.0f32, 4.0]).unwrap();
        assert_eq!(s, [2.0, 4.0, 6.0]);
        assert_eq!(average::<f32>(&s).unwrap().unwrap(), [2.0, 3.0]);
        assert_eq!(average::<f32>(&[0.0]).unwrap(), None);
        assert_eq!(
            accumulate(&s, &[1.0f32]).unwrap_err().message,
            "expected 2 dimensions, not 1"
        );
        assert_eq!(
            accumulate(&[1.0, f64::INFINITY], &[1.0f32])
                .unwrap_err()
                .message,
            "value out of range: overflow"
        );
    }

    #[test]
    fn average_errors() {
        assert_eq!(
            average::<f32>(&[1.0]).unwrap_err().message,
            "vector must have at least 1 dimension"
        );
        assert_eq!(
            average::<f16>(&[1.0]).unwrap_err().message,
            "halfvec must have at least 1 dimension"
        );
        let mut big = vec![1.0; 16_002];
        assert_eq!(
            average::<f16>(&big).unwrap_err().message,
            "halfvec cannot have more than 16000 dimensions"
        );
        big[0] = 1.0;
        assert_eq!(
            average::<f32>(&big).unwrap_err().message,
            "vector cannot have more than 16000 dimensions"
        );
        assert_eq!(
            average::<f16>(&[1.0, 70000.0]).unwrap_err().message,
            "\"70000\" is out of range for type halfvec"
        );
        assert_eq!(
            average::<f16>(&[1.0, 1e300]).unwrap_err().message,
            "infinite value not allowed in halfvec"
        );
        assert_eq!(
            average::<f32>(&[1.0, f64::NAN]).unwrap_err().message,
            "NaN not allowed in vector"
        );
        // halfvec_avg reads the dimension count as uint16: 65,537 sums look like 1.
        let wrapped = vec![1.0; 65_538];
        assert_eq!(average::<f16>(&wrapped).unwrap().unwrap().len(), 1);
    }

    #[test]
    fn combine_states() {
        assert_eq!(
            combine(&[0.0], &[0.0]).unwrap_err().message,
            "vector must have at least 1 dimension"
        );
        assert_eq!(combine(&[0.0], &[2.0, 1.0]).unwrap(), [2.0, 1.0]);
        assert_eq!(combine(&[2.0, 1.0], &[0.0, 7.0, 7.0]).unwrap(), [2.0, 1.0]);
        assert_eq!(combine(&[1.0, 1.0], &[2.0, 3.0]).unwrap(), [3.0, 4.0]);
        assert_eq!(
            combine(&[1.0, 1.0], &[2.0, 3.0, 4.0]).unwrap_err().message,
            "expected 1 dimensions, not 2"
        );
        let big = vec![0.0; 16_002];
        assert_eq!(
            combine(&[0.0], &big).unwrap_err().message,
            "vector cannot have more than 16000 dimensions"
        );
        assert_eq!(
            combine(&[1.0, f64::MAX], &[1.0, f64::MAX])
                .unwrap_err()
                .message,
            "value out of range: overflow"
        );
    }
}
