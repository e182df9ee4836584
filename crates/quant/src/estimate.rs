//! Prepared queries: distance estimates, their probabilistic confidence
//! interval, and a provable lower bound of the exact distance.
//!
//! Notation: `a = |o - c|` (stored), `u` the rotated unit residual of the
//! row, `b` and `v` the same for the query (`q - c` for L2 and cosine, `q`
//! itself for inner product), `x̄ = y / |y|` the code's grid point,
//! `alpha = <x̄, u>` (stored) and `beta = <x̄, v>` (computed from the code and
//! the quantized query). Every distance is a decreasing function of
//! `t = <u, v>`:
//!
//! * L2 (`<->`): `sqrt(a^2 + b^2 - 2 a b t)`;
//! * inner product (`<#>`): `-(<c, q> + a b t)`;
//! * cosine (`<=>`): `(a^2 + b^2 - 2 a b t) / 2` of the normalized vectors.
//!
//! **Estimate** (RaBitQ): `t ≈ beta / alpha`.
//!
//! **Confidence interval** (RaBitQ's Theorem 3.2, with `eps0`):
//! `|beta / alpha - t| <= eps0 sqrt(1 - alpha^2) / (alpha sqrt(n - 1))` with
//! high probability over the random rotation, widened by the deterministic
//! error of quantizing the query.
//!
//! **Lower bound** (deterministic, for every vector): write
//! `u = alpha x̄ + sqrt(1 - alpha^2) e` and `v = beta x̄ + sqrt(1 - beta^2) f`
//! with unit `e, f` orthogonal to `x̄`; then `t = alpha beta +
//! sqrt(1 - alpha^2) sqrt(1 - beta^2) <e, f>`, so
//! `t <= cos(acos alpha - acos beta)`. With `alpha` and `beta` known to
//! intervals (the f32 rounding of `alpha`, the query's quantization error),
//! the largest value over the intervals is 1 if they overlap, else the
//! formula at the two closest ends. That upper bound of `t` gives a lower
//! bound of the exact distance, from which the error of Postgres's own f32
//! arithmetic (the operator's kernels: relative `gamma = (n + 4) 2^-24` of
//! the sum of the terms' magnitudes, plus `2^-149` per product for
//! underflow) and the f32 rounding of the stored norm are subtracted, as
//! `crates/space/src/bound.rs` does for half precision.

use crate::code::{norm, residual, Layout, Quantizer, HEADER_BYTES};
use crate::kernel::{nibble_dot, plane_dot};
use crate::Metric;

/// RaBitQ's `eps0`: the paper's recommended width of the confidence
/// interval (a failure probability of about `2 exp(-c0 eps0^2)`).
pub const EPS0: f64 = 1.9;

/// Unit roundoff of f32.
const F32_UNIT: f64 = 1.0 / (1u64 << 24) as f64;
/// Smallest positive subnormal f32 (the absolute error of a product that
/// underflows).
const F32_TINY: f64 = 1.401_298_464_324_817e-45;
/// Room for the f64 arithmetic of the rotation, the normalization and the
/// bounds themselves (their errors are below 1e-12, relative).
const SLACK64: f64 = 1e-9;
/// Above this `(|c| + a) b` an f32 inner product may overflow to infinity.
const F32_SAFE: f64 = 8.507_059_173_023_462e37; // 2^126

/// Relative error of an f32 sum of `n` products or squared differences.
fn gamma(n: usize) -> f64 {
    (n as f64 + 4.0) * F32_UNIT * 1.01
}

/// A query prepared against one centroid: its rotated, quantized residual.
#[derive(Clone, Debug)]
pub struct Estimator {
    metric: Metric,
    dims: usize,
    bits: usize,
    words: usize,
    qbits: usize,
    /// Query planes, interleaved by word (see [`crate::kernel`]); empty for
    /// [`Layout::Nibbles`] codes.
    planes: Vec<u64>,
    /// [`Layout::Nibbles`] codes: the query's levels minus 128 as signed
    /// bytes, in dimension order, zero beyond the dimensions (else empty).
    bytes: Vec<i8>,
    /// The quantized query is `v_i ≈ lo + delta k_i`.
    lo: f64,
    delta: f64,
    /// `sum k_i`.
    ksum: f64,
    /// `sum |v_i - (lo + delta k_i)|`.
    qerror: f64,
    /// `b`.
    qnorm: f64,
    /// `<c, q>` and `|c|` (inner product only).
    cq: f64,
    cnorm: f64,
    /// A cosine query without usable direction: every bound is 0.
    degenerate: bool,
    /// `1 / sqrt(n - 1)` (0 for one dimension).
    eps_scale: f64,
    gamma: f64,
}

/// An estimated distance and its confidence interval, in the operator's
/// units (`<->`: Euclidean distance, `<#>`: negative inner product, `<=>`:
/// cosine distance).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    /// The estimate.
    pub value: f64,
    /// Lower end of the confidence interval.
    pub low: f64,
    /// Upper end of the confidence interval.
    pub high: f64,
}

/// What a code holds, decoded for one evaluation.
struct Parts {
    a: f64,
    alpha: f64,
    beta: f64,
    /// Largest `|beta - <x̄, v>|` from the query's quantization.
    dbeta: f64,
}

impl Quantizer {
    /// Prepares `query` for the codes encoded relative to `centroid`, with
    /// the rotated query quantized to `query_bits` (1 to 8) bits per
    /// dimension. 8 is the default to use: the deterministic bound widens by
    /// the quantization error, about 16 times larger at 4 bits.
    pub fn query(&self, query: &[f32], centroid: Option<&[f32]>, query_bits: u8) -> Estimator {
        assert!((1..=8).contains(&query_bits), "query_bits must be 1..=8");
        let n = self.dims();
        assert_eq!(query.len(), n, "query dimension mismatch");
        let (mut r, degenerate, cq, cnorm) = match self.metric() {
            Metric::InnerProduct => {
                let r: Vec<f64> = query.iter().map(|&v| v as f64).collect();
                let (cq, cn) = match centroid {
                    Some(c) => {
                        assert_eq!(c.len(), n, "centroid dimension mismatch");
                        let cq = c
                            .iter()
                            .zip(query)
                            .map(|(&x, &y)| x as f64 * y as f64)
                            .sum();
                        let cn = c.iter().map(|&x| x as f64 * x as f64).sum::<f64>().sqrt();
                        (cq, cn)
                    }
                    None => (0.0, 0.0),
                };
                (r, false, cq, cn)
            }
            metric => {
                let (r, d) = residual(metric, query, centroid);
                (r, d, 0.0, 0.0)
            }
        };
        let b = norm(&r);
        self.rotation().apply(&mut r);
        if b > 0.0 {
            for v in r.iter_mut() {
                *v /= b;
            }
        }
        // Uniform scalar quantization of v between its extremes.
        let qbits = query_bits as usize;
        let lo = r.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = r.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let top = ((1u32 << qbits) - 1) as f64;
        let delta = if hi > lo { (hi - lo) / top } else { 0.0 };
        let words = self.words();
        let nibbles = self.layout() == Layout::Nibbles;
        let mut planes = vec![0u64; if nibbles { 0 } else { qbits * words }];
        let mut bytes = vec![0i8; if nibbles { words * 64 } else { 0 }];
        let (mut ksum, mut qerror) = (0.0f64, 0.0f64);
        for (w, chunk) in r.chunks(64).enumerate() {
            for (b, &v) in chunk.iter().enumerate() {
                // Nearest level: `v >= lo`, so adding 1/2 and truncating
                // rounds (a NaN converts to level 0). Any level would keep
                // the bounds valid: `qerror` measures the one chosen.
                let k = if delta > 0.0 {
                    ((((v - lo) / delta) + 0.5) as u64).min(top as u64)
                } else {
                    0
                };
                let kf = k as f64;
                ksum += kf;
                qerror += (v - (lo + delta * kf)).abs();
                if nibbles {
                    // k <= 255, so k - 128 fits a signed byte.
                    bytes[w * 64 + b] = (k as i32 - 128) as i8;
                } else {
                    for (j, plane) in planes[w * qbits..(w + 1) * qbits].iter_mut().enumerate() {
                        *plane |= (k >> j & 1) << b;
                    }
                }
            }
        }
        Estimator {
            metric: self.metric(),
            dims: n,
            bits: self.bits() as usize,
            words,
            qbits,
            planes,
            bytes,
            lo,
            delta,
            ksum,
            qerror,
            qnorm: b,
            cq,
            cnorm,
            degenerate,
            eps_scale: if n > 1 {
                1.0 / ((n - 1) as f64).sqrt()
            } else {
                0.0
            },
            gamma: gamma(n),
        }
    }
}

impl Estimator {
    /// `b`: the norm of the query's residual (of the query for inner product).
    pub fn query_norm(&self) -> f64 {
        self.qnorm
    }

    /// The deterministic error of the quantized query, `sum |v_i - v̂_i|`.
    pub fn quantization_error(&self) -> f64 {
        self.qerror
    }

    #[inline]
    fn parts(&self, code: &[u8]) -> Parts {
        let a = f32::from_le_bytes(code[0..4].try_into().expect("code header")) as f64;
        let alpha = f32::from_le_bytes(code[4..8].try_into().expect("code header")) as f64;
        let ysq4 = u32::from_le_bytes(code[8..12].try_into().expect("code header")) as f64;
        let xsum = u32::from_le_bytes(code[12..16].try_into().expect("code header")) as f64;
        let dot = if self.bytes.is_empty() {
            plane_dot(
                &code[HEADER_BYTES..],
                self.bits,
                &self.planes,
                self.qbits,
                self.words,
            ) as f64
        } else {
            // sum x_i k_i = sum x_i (k_i - 128) + 128 sum x_i, exact in f64.
            nibble_dot(&code[HEADER_BYTES..], &self.bytes, self.words) as f64 + 128.0 * xsum
        };
        // <y, v̂> with y_i = x_i - center and v̂_i = lo + delta k_i.
        let center = ((1u32 << self.bits) - 1) as f64 / 2.0;
        let yv = self.delta * dot + self.lo * xsum
            - center * (self.delta * self.ksum + self.dims as f64 * self.lo);
        // One division for both (1 / |y|, |y| = sqrt(4|y|^2) / 2); its
        // rounding is far inside SLACK64.
        let inv_ynorm = 2.0 / ysq4.sqrt();
        Parts {
            a,
            alpha,
            beta: yv * inv_ynorm,
            dbeta: center * self.qerror * inv_ynorm,
        }
    }

    /// The operator's value at `t = <u, v>`.
    #[inline]
    fn distance_at(&self, a: f64, t: f64) -> f64 {
        let b = self.qnorm;
        let t = t.clamp(-1.0, 1.0);
        match self.metric {
            Metric::L2 => ((a - b) * (a - b) + 2.0 * a * b * (1.0 - t))
                .max(0.0)
                .sqrt(),
            Metric::InnerProduct => -(self.cq + a * b * t),
            Metric::Cosine => ((a - b) * (a - b) + 2.0 * a * b * (1.0 - t)).max(0.0) / 2.0,
        }
    }

    fn trivial(&self) -> Estimate {
        Estimate {
            value: 1.0,
            low: 0.0,
            high: 2.0,
        }
    }

    /// The estimated distance of the row `code` encodes, in operator units.
    #[inline]
    pub fn estimate(&self, code: &[u8]) -> f64 {
        let p = self.parts(code);
        if !p.a.is_finite() || self.degenerate {
            return self.trivial().value;
        }
        self.distance_at(p.a, p.beta / p.alpha)
    }

    /// The estimate with its confidence interval (RaBitQ's bound with
    /// [`EPS0`], plus the query's quantization error): see
    /// [`interval_with`](Self::interval_with).
    pub fn interval(&self, code: &[u8]) -> Estimate {
        self.interval_with(code, EPS0)
    }

    /// The estimate with the confidence interval of width `eps0`: the error
    /// of `beta / alpha` is `sqrt(1 - t^2) sqrt(1 - alpha^2) / alpha` times
    /// a variable that is close to `N(0, 1 / (n - 1))` over the choice of
    /// rotation (measured: see the tests), so a row falls outside with
    /// probability at most about `2 Phi(-eps0)`: 5.7% at the paper's 1.9,
    /// 0.27% at 3, less when `|t|` is far from 0.
    pub fn interval_with(&self, code: &[u8], eps0: f64) -> Estimate {
        let p = self.parts(code);
        if !p.a.is_finite() || self.degenerate {
            return self.trivial();
        }
        let t = p.beta / p.alpha;
        let half = eps0 * self.eps_scale * (1.0 - p.alpha * p.alpha).max(0.0).sqrt() / p.alpha
            + (p.dbeta + SLACK64) / p.alpha;
        Estimate {
            value: self.distance_at(p.a, t),
            low: self.distance_at(p.a, t + half),
            high: self.distance_at(p.a, t - half),
        }
    }

    /// A lower bound of the value Postgres's operator computes (in f32, with
    /// the project's kernels) for the row `code` encodes and this query;
    /// holds for every vector, whatever the rotation.
    pub fn lower_bound(&self, code: &[u8]) -> f64 {
        self.lower_bound_of(&self.parts(code))
    }

    /// [`estimate`](Self::estimate) and [`lower_bound`](Self::lower_bound)
    /// of one code, reading it once (what a graph search needs: it
    /// navigates on the estimate and reports the bound).
    #[inline]
    pub fn estimate_and_lower_bound(&self, code: &[u8]) -> (f64, f64) {
        let p = self.parts(code);
        let estimate = if !p.a.is_finite() || self.degenerate {
            self.trivial().value
        } else {
            self.distance_at(p.a, p.beta / p.alpha)
        };
        (estimate, self.lower_bound_of(&p))
    }

    fn lower_bound_of(&self, p: &Parts) -> f64 {
        let (a, b) = (p.a, self.qnorm);
        let floor = match self.metric {
            Metric::InnerProduct => f64::NEG_INFINITY,
            _ => 0.0,
        };
        if !a.is_finite() || !b.is_finite() || self.degenerate {
            return floor;
        }
        let t = (max_similarity(p.alpha, p.beta, p.dbeta) + SLACK64).min(1.0);
        // (a - b)^2 + 2ab(1 - t) avoids the cancellation of a^2 + b^2 - 2abt.
        let exact_sq = ((a - b) * (a - b) + 2.0 * a * b * (1.0 - t)).max(0.0) * (1.0 - 1e-12);
        // The stored norm is the f32 rounding of a; the distance is
        // 1-Lipschitz in it.
        let norm_slack = 2.0 * F32_UNIT * (a + b);
        let n = self.dims as f64;
        match self.metric {
            Metric::L2 => {
                let d = exact_sq.sqrt() - norm_slack;
                if d <= 0.0 {
                    return 0.0;
                }
                let sq = d * d * (1.0 - self.gamma) - 2.0 * n * F32_TINY;
                if sq <= 0.0 {
                    0.0
                } else {
                    sq.sqrt() * (1.0 - 4.0 * F32_UNIT)
                }
            }
            Metric::Cosine => {
                let d = exact_sq.sqrt() - norm_slack - SLACK64;
                let exact = if d > 0.0 { d * d / 2.0 } else { 0.0 };
                // The operator's cosine: 4 gamma for its three f32 sums (as
                // in bound.rs), underflow within the admitted norms.
                let slack = 4.0 * self.gamma + 4.0 * F32_UNIT + 3.0 * n * (2.0f64).powi(-89);
                (exact - slack).max(0.0)
            }
            Metric::InnerProduct => {
                if (self.cnorm + a) * b * 1.01 >= F32_SAFE {
                    return f64::NEG_INFINITY;
                }
                let ab = a * b;
                let onorm = self.cnorm + a * (1.0 + 2.0 * F32_UNIT);
                let slack = 2.0 * F32_UNIT * ab
                    + self.gamma * onorm * b
                    + 1e-12 * (self.cq.abs() + self.cnorm * b + ab)
                    + 2.0 * n * F32_TINY;
                -(self.cq + ab * t) - slack * 1.01
            }
        }
    }
}

/// The largest `cos(acos x - acos y)` over `x` within `dx` of `alpha` and
/// `y` within `dy` of `beta` (both clamped to `[-1, 1]`): an upper bound of
/// `<u, v>` for unit `u, v` with `<x̄, u> = x` and `<x̄, v> = y`.
fn max_similarity(alpha: f64, beta: f64, dbeta: f64) -> f64 {
    let dalpha = alpha.abs() * 2.0 * F32_UNIT + SLACK64;
    let (a_lo, a_hi) = ((alpha - dalpha).max(-1.0), (alpha + dalpha).min(1.0));
    let (b_lo, b_hi) = (
        (beta - dbeta - SLACK64).max(-1.0),
        (beta + dbeta + SLACK64).min(1.0),
    );
    if !(a_lo <= a_hi && b_lo <= b_hi) {
        return 1.0; // NaN: no information
    }
    // acos is decreasing, so the angle intervals are as far apart as these.
    let (x, y) = if a_lo > b_hi {
        (a_lo, b_hi)
    } else if b_lo > a_hi {
        (a_hi, b_lo)
    } else {
        return 1.0;
    };
    (x * y + ((1.0 - x * x) * (1.0 - y * y)).max(0.0).sqrt()).min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_similarity_is_cos_of_angle_gap() {
        let (x, y) = (0.8f64, 0.1f64);
        let want = (x.acos() - y.acos()).cos();
        let got = max_similarity(x, y, 0.0);
        assert!(got >= want && got - want < 1e-6, "{got} {want}");
        assert_eq!(max_similarity(0.5, 0.5, 0.0), 1.0);
        assert_eq!(max_similarity(0.5, 0.4, 0.2), 1.0);
        assert_eq!(max_similarity(f64::NAN, 0.4, 0.0), 1.0);
    }
}
