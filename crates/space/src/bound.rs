//! Lower bounds of the exact ORDER BY value of a row whose vector an index
//! stores in half precision.
//!
//! The executor recomputes the operator on the heap row and reorders, so a
//! bound only has to be at most the operator's result, as the operator
//! computes it in f32, and as tight as possible. Error terms, for `n`
//! dimensions, a stored half `h` of the exact `x` and `e = x - h`:
//!
//! * rounding to f16: `|e_i| <= 2^-11 |x_i|` in the normal range and
//!   `<= 2^-25` in the subnormal one, so `|e| <= 2^-11 |x| + 2^-25 sqrt(n)`;
//! * an f32 sum of `n` products or squared differences: relative error at
//!   most `gamma = (n + 2) 2^-24` of the sum of the terms' magnitudes (any
//!   summation order, with or without FMA), for the kernel and for the
//!   operator alike.
//!
//! Every bound is a non-decreasing function of the index's distance, so rows
//! the index returns in distance order also come with non-decreasing bounds,
//! which the executor's reorder queue needs to return rows in exact order.

/// Unit roundoff of f32.
const F32_UNIT: f64 = 1.0 / (1u64 << 24) as f64;
/// Largest relative rounding error of an f16 in the normal range.
const F16_UNIT: f64 = 1.0 / 2048.0;
/// Largest absolute rounding error of an f16 in the subnormal range.
const F16_SUBNORMAL: f64 = 1.0 / (1u64 << 25) as f64;

/// How to turn the index's distance of a row into a lower bound of the ORDER
/// BY value; made once per scan by [`VectorSpace::order_by_bound`].
///
/// [`VectorSpace::order_by_bound`]: crate::VectorSpace::order_by_bound
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OrderByBound {
    kind: Kind,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    /// `<=>`: the distance is `-cos(q, h)` for unit `q` and `x`; bound
    /// `1 + distance - slack`.
    Cosine { slack: f64 },
    /// `<->`: the distance is `|q - h|^2`; bound
    /// `(sqrt(distance / (1 + gamma)) - error) sqrt(1 - gamma)`, at least 0.
    L2 { error: f64, gamma: f64 },
    /// `<#>`: the distance is `-q.h`; bound `distance - slack`.
    InnerProduct { slack: f64 },
    /// The index reports the bound itself (RaBitQ codes): the distance is
    /// already a lower bound of the operator's value, in its units.
    Reported,
}

/// Relative error of an f32 sum of `n` terms (see the module documentation),
/// with a little room for the conversions around it.
fn gamma(n: usize) -> f64 {
    (n as f64 + 2.0) * F32_UNIT * 1.01
}

/// `|e|` for a unit vector.
fn unit_rounding(n: usize) -> f64 {
    F16_UNIT + F16_SUBNORMAL * (n as f64).sqrt()
}

/// Largest `|x|` of a vector whose half-precision copy has norm at most
/// `max_half_norm` (itself computed in f32, hence the first factor).
fn max_exact_norm(n: usize, max_half_norm: f64) -> f64 {
    let half_norm = max_half_norm * (1.0 + gamma(n));
    (half_norm + F16_SUBNORMAL * (n as f64).sqrt()) / (1.0 - F16_UNIT)
}

impl OrderByBound {
    /// For `<=>` on unit vectors, the index comparing `cos(q, h)`. Split
    /// `e` into its parts along `x` (`e_r`) and across it (`e_t`): then
    /// `|h/|h| - x|^2 = 2 - 2 / sqrt(1 + t^2) <= t^2` with
    /// `t = |e_t| / (1 + e_r) <= |e| / (1 - |e|)`, which bounds the change
    /// of the similarity (the norm's own error cancels). The operator
    /// normalises by norms it sums in f32, which costs up to `2 gamma` of
    /// the similarity; the kernel, which does too, as much again; the
    /// query's normalisation one f32 rounding.
    pub(crate) fn cosine(n: usize) -> Self {
        let e = unit_rounding(n);
        let slack = e / (1.0 - e) + 6.0 * gamma(n) + 4.0 * F32_UNIT;
        OrderByBound {
            kind: Kind::Cosine { slack },
        }
    }

    /// For `<->`, over stored halves of norm at most `max_half_norm`.
    pub(crate) fn l2(n: usize, max_half_norm: f64) -> Self {
        let x = max_exact_norm(n, max_half_norm);
        OrderByBound {
            kind: Kind::L2 {
                error: F16_UNIT * x + F16_SUBNORMAL * (n as f64).sqrt(),
                gamma: gamma(n),
            },
        }
    }

    /// For `<#>` with a query of norm `query_norm`, over stored halves of
    /// norm at most `max_half_norm`: `-q.x >= -q.h - |q| |e|`, and both f32
    /// dot products err by `gamma |q| |x|` at most.
    pub(crate) fn inner_product(n: usize, max_half_norm: f64, query_norm: f64) -> Self {
        let x = max_exact_norm(n, max_half_norm);
        let error = F16_UNIT * x + F16_SUBNORMAL * (n as f64).sqrt();
        let slack = query_norm * (error + 2.0 * gamma(n) * (x + error)) * 1.01;
        OrderByBound {
            kind: Kind::InnerProduct { slack },
        }
    }

    /// For indexes whose distances already are lower bounds of the
    /// operator's value (`Storage::Codes`): passed through unchanged.
    pub(crate) fn reported() -> Self {
        OrderByBound {
            kind: Kind::Reported,
        }
    }

    /// The bound for a row at index distance `distance`.
    pub fn lower_bound(&self, distance: f32) -> f64 {
        let d = distance as f64;
        match self.kind {
            Kind::Cosine { slack } => 1.0 + d - slack,
            Kind::L2 { error, gamma } => {
                let near = (d.max(0.0) / (1.0 + gamma)).sqrt() - error;
                if near <= 0.0 {
                    0.0
                } else {
                    near * (1.0 - gamma).sqrt() * (1.0 - 4.0 * F32_UNIT)
                }
            }
            Kind::InnerProduct { slack } => d - slack,
            Kind::Reported => d,
        }
    }
}
