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

/// The smallest and largest of `x` (NaNs ignored, as `f64::min` / `max`
/// do), in eight lanes so that it vectorizes.
fn min_max(x: &[f64]) -> (f64, f64) {
    let mut lo = [f64::INFINITY; 8];
    let mut hi = [f64::NEG_INFINITY; 8];
    let mut chunks = x.chunks_exact(8);
    for c in &mut chunks {
        for j in 0..8 {
            lo[j] = lo[j].min(c[j]);
            hi[j] = hi[j].max(c[j]);
        }
    }
    for &v in chunks.remainder() {
        lo[0] = lo[0].min(v);
        hi[0] = hi[0].max(v);
    }
    (
        lo.iter().copied().fold(f64::INFINITY, f64::min),
        hi.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    )
}

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
    /// `sqrt(1 - gamma)` and `sqrt(2n 2^-149)`: the L2 operator's f32 error.
    l2_scale: f64,
    l2_underflow: f64,
    /// The cosine operator's f32 error: `4 gamma` for its three f32 sums
    /// (as in `crates/space/src/bound.rs`), underflow within the admitted
    /// norms.
    cosine_slack: f64,
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

/// A code's header fields and its kernel product `sum x_i k_i`, as f64.
#[derive(Clone, Copy, Debug, Default)]
struct Raw {
    a: f64,
    alpha: f64,
    ysq4: f64,
    xsum: f64,
    dot: f64,
}

/// Codes per batch of [`Estimator::lower_bounds`] (its arrays live on the
/// stack; longer lists are taken a batch at a time).
const BATCH: usize = 32;

/// What a code holds, decoded for one evaluation.
#[derive(Clone, Copy, Debug)]
struct Parts {
    a: f64,
    alpha: f64,
    beta: f64,
    /// Largest `|beta - <x̄, v>|` from the query's quantization.
    dbeta: f64,
}

/// A query rotated once ([`Quantizer::rotate_query`]), to be prepared for
/// the codes of several centroids ([`Quantizer::query_rotated`]).
#[derive(Clone, Debug)]
pub struct RotatedQuery {
    /// The rotated query (normalized first under cosine).
    rotated: Vec<f64>,
    /// Its norm (before the rotation).
    norm: f64,
    /// A cosine query without a direction.
    degenerate: bool,
    /// The query itself (inner product's `<c, q>`).
    query: Vec<f32>,
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
        self.finish_query(r, b, degenerate, cq, cnorm, query_bits)
    }

    /// [`query`](Self::query) rotated once for the codes of many centroids
    /// (an ivfflat scan's lists): see [`query_rotated`](Self::query_rotated).
    pub fn rotate_query(&self, query: &[f32]) -> RotatedQuery {
        let n = self.dims();
        assert_eq!(query.len(), n, "query dimension mismatch");
        let (mut r, degenerate) = match self.metric() {
            Metric::InnerProduct => (query.iter().map(|&v| v as f64).collect(), false),
            metric => residual(metric, query, None),
        };
        let norm = norm(&r);
        self.rotation().apply(&mut r);
        RotatedQuery {
            rotated: r,
            norm,
            degenerate,
            query: query.to_vec(),
        }
    }

    /// The rotation of `centroid`, for [`query_rotated`](Self::query_rotated)
    /// (it does not depend on the query: a caller may keep it).
    pub fn rotate_centroid(&self, centroid: &[f32]) -> Vec<f64> {
        assert_eq!(centroid.len(), self.dims(), "centroid dimension mismatch");
        let mut r: Vec<f64> = centroid.iter().map(|&v| v as f64).collect();
        self.rotation().apply(&mut r);
        r
    }

    /// [`query`](Self::query) for the codes of `centroid`, given as the
    /// centroid and its [`rotate_centroid`](Self::rotate_centroid): the
    /// rotated residual is the difference of the rotations (the rotation is
    /// linear), so a scan of many lists rotates its query once. The
    /// rotation is orthogonal, so the residual's norm is taken after it;
    /// both differ from `query`'s by rounding (about 1e-15 relative), far
    /// inside the bounds' `SLACK64`.
    pub fn query_rotated(
        &self,
        query: &RotatedQuery,
        centroid: Option<(&[f32], &[f64])>,
        query_bits: u8,
    ) -> Estimator {
        let n = self.dims();
        assert_eq!(query.rotated.len(), n, "query dimension mismatch");
        match (self.metric(), centroid) {
            (Metric::InnerProduct, centroid) => {
                let (cq, cn) = match centroid {
                    Some((c, _)) => {
                        assert_eq!(c.len(), n, "centroid dimension mismatch");
                        let cq = c
                            .iter()
                            .zip(&query.query)
                            .map(|(&x, &y)| x as f64 * y as f64)
                            .sum();
                        let cn = c.iter().map(|&x| x as f64 * x as f64).sum::<f64>().sqrt();
                        (cq, cn)
                    }
                    None => (0.0, 0.0),
                };
                let r = query.rotated.clone();
                self.finish_query(r, query.norm, false, cq, cn, query_bits)
            }
            (_, Some((_, rotated))) => {
                assert_eq!(rotated.len(), n, "centroid dimension mismatch");
                let r: Vec<f64> = query
                    .rotated
                    .iter()
                    .zip(rotated)
                    .map(|(q, c)| q - c)
                    .collect();
                let b = norm(&r);
                self.finish_query(r, b, query.degenerate, 0.0, 0.0, query_bits)
            }
            (_, None) => {
                let r = query.rotated.clone();
                self.finish_query(r, query.norm, query.degenerate, 0.0, 0.0, query_bits)
            }
        }
    }

    /// The rest of [`query`](Self::query): `r` is the rotated residual, of
    /// norm `b`.
    fn finish_query(
        &self,
        mut r: Vec<f64>,
        b: f64,
        degenerate: bool,
        cq: f64,
        cnorm: f64,
        query_bits: u8,
    ) -> Estimator {
        assert!((1..=8).contains(&query_bits), "query_bits must be 1..=8");
        let n = self.dims();
        if b > 0.0 {
            // Times the inverse: each coordinate moves by at most an ulp,
            // far inside SLACK64.
            let inv = 1.0 / b;
            for v in r.iter_mut() {
                *v *= inv;
            }
        }
        // Uniform scalar quantization of v between its extremes.
        let qbits = query_bits as usize;
        let (lo, hi) = min_max(&r);
        let top = ((1u32 << qbits) - 1) as f64;
        let delta = if hi > lo { (hi - lo) / top } else { 0.0 };
        let inv_delta = if delta > 0.0 { 1.0 / delta } else { 0.0 };
        let words = self.words();
        let nibbles = self.layout() == Layout::Nibbles;
        let mut planes = vec![0u64; if nibbles { 0 } else { qbits * words }];
        let mut bytes = vec![0i8; if nibbles { words * 64 } else { 0 }];
        // Nearest level: `v >= lo`, so adding 1/2 and truncating rounds (a
        // NaN converts to level 0; `inv_delta` is 0 without a spread). Any
        // level would keep the bounds valid: `qerror` measures the one
        // chosen.
        let level = |v: f64| ((((v - lo) * inv_delta) + 0.5) as u64).min(top as u64);
        // `sum k_i` exactly in integers; `sum |v_i - v̂_i|` in eight
        // partial sums (any order's rounding is far inside SLACK64), so
        // neither is a chain of dependent additions.
        let mut ksum = 0u64;
        let mut errors = [0.0f64; 8];
        if nibbles {
            // k <= 255, so k - 128 fits a signed byte.
            let mut ksums = [0u64; 8];
            let mut chunks = r.chunks_exact(8);
            for (c, out) in (&mut chunks).zip(bytes.chunks_exact_mut(8)) {
                for j in 0..8 {
                    let k = level(c[j]);
                    ksums[j] += k;
                    errors[j] += (c[j] - (lo + delta * k as f64)).abs();
                    out[j] = (k as i32 - 128) as i8;
                }
            }
            let rest = chunks.remainder();
            let start = r.len() - rest.len();
            for (j, &v) in rest.iter().enumerate() {
                let k = level(v);
                ksums[j] += k;
                errors[j] += (v - (lo + delta * k as f64)).abs();
                bytes[start + j] = (k as i32 - 128) as i8;
            }
            ksum = ksums.iter().sum();
        } else {
            for (w, chunk) in r.chunks(64).enumerate() {
                let planes = &mut planes[w * qbits..(w + 1) * qbits];
                for (b, &v) in chunk.iter().enumerate() {
                    let k = level(v);
                    ksum += k;
                    errors[b % 8] += (v - (lo + delta * k as f64)).abs();
                    for (j, plane) in planes.iter_mut().enumerate() {
                        *plane |= (k >> j & 1) << b;
                    }
                }
            }
        }
        let ksum = ksum as f64;
        let qerror = errors.iter().sum::<f64>();
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
            l2_scale: (1.0 - gamma(n)).sqrt(),
            l2_underflow: (2.0 * n as f64 * F32_TINY).sqrt(),
            cosine_slack: 4.0 * gamma(n) + 4.0 * F32_UNIT + 3.0 * n as f64 * (2.0f64).powi(-89),
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

    /// The header's fields and the kernel's product of one code.
    #[inline(always)]
    fn raw(&self, code: &[u8]) -> Raw {
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
        Raw {
            a,
            alpha,
            ysq4,
            xsum,
            dot,
        }
    }

    /// [`Parts`] from a code's [`Raw`] fields: arithmetic only, so that a
    /// batch of them vectorizes.
    #[inline(always)]
    fn parts_of(&self, r: Raw) -> Parts {
        // <y, v̂> with y_i = x_i - center and v̂_i = lo + delta k_i.
        let center = ((1u32 << self.bits) - 1) as f64 / 2.0;
        let yv = self.delta * r.dot + self.lo * r.xsum
            - center * (self.delta * self.ksum + self.dims as f64 * self.lo);
        // One division for both (1 / |y|, |y| = sqrt(4|y|^2) / 2); its
        // rounding is far inside SLACK64.
        let inv_ynorm = 2.0 / r.ysq4.sqrt();
        Parts {
            a: r.a,
            alpha: r.alpha,
            beta: yv * inv_ynorm,
            dbeta: center * self.qerror * inv_ynorm,
        }
    }

    #[inline]
    fn parts(&self, code: &[u8]) -> Parts {
        self.parts_of(self.raw(code))
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

    /// The bound of every row when the query gives none: `-inf` for inner
    /// product, 0 for the metric distances.
    fn floor(&self) -> f64 {
        match self.metric {
            Metric::InnerProduct => f64::NEG_INFINITY,
            _ => 0.0,
        }
    }

    /// Whether no row has a bound above [`floor`](Self::floor).
    fn no_bounds(&self) -> bool {
        !self.qnorm.is_finite() || self.degenerate
    }

    fn lower_bound_of(&self, p: &Parts) -> f64 {
        if self.no_bounds() || !p.a.is_finite() {
            return self.floor();
        }
        match self.metric {
            Metric::L2 => self.l2_bound(p),
            Metric::Cosine => self.cosine_bound(p),
            Metric::InnerProduct => self.inner_product_bound(p),
        }
    }

    /// [`lower_bound`](Self::lower_bound) of each of `codes`, into `out`:
    /// the same values, bit for bit, computed a batch at a time so that the
    /// arithmetic (three square roots and a division per row) runs in
    /// vector registers. Panics if the lengths differ.
    pub fn lower_bounds(&self, codes: &[&[u8]], out: &mut [f64]) {
        assert_eq!(codes.len(), out.len(), "one bound per code");
        if self.no_bounds() {
            out.fill(self.floor());
            return;
        }
        let mut raw = RawBatch::default();
        for (codes, out) in codes.chunks(BATCH).zip(out.chunks_mut(BATCH)) {
            for (i, code) in codes.iter().enumerate() {
                raw.set(i, self.raw(code));
            }
            #[cfg(target_arch = "x86_64")]
            {
                let f = crate::kernel::features();
                if f & crate::kernel::AVX512F != 0 {
                    // SAFETY: AVX-512F was detected.
                    unsafe { self.bounds_avx512(&raw, out) };
                    continue;
                }
                if f & crate::kernel::AVX2 != 0 {
                    // SAFETY: AVX2 was detected.
                    unsafe { self.bounds_avx2(&raw, out) };
                    continue;
                }
            }
            self.bounds_of(&raw, out);
        }
    }

    /// [`bounds_of`](Self::bounds_of) compiled for AVX-512.
    ///
    /// # Safety
    /// The CPU must support AVX-512F.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn bounds_avx512(&self, raw: &RawBatch, out: &mut [f64]) {
        self.bounds_of(raw, out)
    }

    /// [`bounds_of`](Self::bounds_of) compiled for AVX2.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn bounds_avx2(&self, raw: &RawBatch, out: &mut [f64]) {
        self.bounds_of(raw, out)
    }

    /// The bounds of `raw[..out.len()]` (the query has bounds). Every path
    /// computes the same IEEE operations in the same order (Rust does not
    /// contract them into fused multiply-adds), so the results do not depend
    /// on the instruction set.
    #[inline(always)]
    fn bounds_of(&self, raw: &RawBatch, out: &mut [f64]) {
        let n = out.len().min(BATCH);
        let floor = self.floor();
        macro_rules! each {
            ($f:ident) => {
                for i in 0..n {
                    let p = self.parts_of(raw.get(i));
                    let v = self.$f(&p);
                    out[i] = if p.a.is_finite() { v } else { floor };
                }
            };
        }
        match self.metric {
            Metric::L2 => each!(l2_bound),
            Metric::Cosine => each!(cosine_bound),
            Metric::InnerProduct => each!(inner_product_bound),
        }
    }

    /// An upper bound of `t = <u, v>` (at most 1, at least -1) and the
    /// squared distance `(a - b)^2 + 2ab(1 - t)` of the normalized residuals
    /// it gives, rounded down.
    #[inline(always)]
    fn bound_terms(&self, p: &Parts) -> (f64, f64) {
        let (a, b) = (p.a, self.qnorm);
        // (Never NaN: `max_similarity` selects 1 for NaN inputs.)
        let t = (max_similarity(p.alpha, p.beta, p.dbeta) + SLACK64).clamp(-1.0, 1.0);
        // (a - b)^2 + 2ab(1 - t) avoids the cancellation of a^2 + b^2 - 2abt.
        let exact_sq = ((a - b) * (a - b) + 2.0 * a * b * (1.0 - t)).max(0.0) * (1.0 - 1e-12);
        (t, exact_sq)
    }

    /// `<->`: `sqrt(E) - s`, with `E` the squared distance of the bound and
    /// `s` the stored norm's f32 rounding (the distance is 1-Lipschitz in
    /// it), less the error of the operator's f32 sum (relative `gamma`, and
    /// `2^-149` per product for underflow): `sqrt(d^2 (1 - gamma) - 2n
    /// 2^-149) >= d sqrt(1 - gamma) - sqrt(2n 2^-149)`, precomputed.
    #[inline(always)]
    fn l2_bound(&self, p: &Parts) -> f64 {
        let (_, exact_sq) = self.bound_terms(p);
        let norm_slack = 2.0 * F32_UNIT * (p.a + self.qnorm);
        let d = exact_sq.sqrt() - norm_slack;
        ((d * self.l2_scale - self.l2_underflow) * (1.0 - 4.0 * F32_UNIT)).max(0.0)
    }

    /// `<=>`: half the squared distance of the normalized vectors. With
    /// `s` the stored norm's rounding, `(sqrt(E) - s)^2` is at least
    /// `E - 2 s sqrt(E)`, hence at least `E - 2 s (|a| + |b|)` (as `t` is at
    /// least -1, `E <= (|a| + |b|)^2`): no square root. Less the operator's
    /// f32 error (precomputed).
    #[inline(always)]
    fn cosine_bound(&self, p: &Parts) -> f64 {
        let (_, exact_sq) = self.bound_terms(p);
        let (a, b) = (p.a, self.qnorm);
        let s = 2.0 * F32_UNIT * (a + b) + SLACK64;
        let exact = (exact_sq - 2.0 * s * (a.abs() + b.abs())).max(0.0) / 2.0;
        (exact - self.cosine_slack).max(0.0)
    }

    /// `<#>`: `-(<c, q> + ab t)`, less the f32 errors; `-inf` where an f32
    /// inner product may overflow.
    #[inline(always)]
    fn inner_product_bound(&self, p: &Parts) -> f64 {
        let (t, _) = self.bound_terms(p);
        let (a, b) = (p.a, self.qnorm);
        let n = self.dims as f64;
        let ab = a * b;
        let onorm = self.cnorm + a * (1.0 + 2.0 * F32_UNIT);
        let slack = 2.0 * F32_UNIT * ab
            + self.gamma * onorm * b
            + 1e-12 * (self.cq.abs() + self.cnorm * b + ab)
            + 2.0 * n * F32_TINY;
        let v = -(self.cq + ab * t) - slack * 1.01;
        if (self.cnorm + a) * b * 1.01 >= F32_SAFE {
            f64::NEG_INFINITY
        } else {
            v
        }
    }
}

/// [`Raw`] fields of a batch of codes, one array per field (so that the
/// arithmetic over them vectorizes).
#[derive(Clone, Debug)]
struct RawBatch {
    a: [f64; BATCH],
    alpha: [f64; BATCH],
    ysq4: [f64; BATCH],
    xsum: [f64; BATCH],
    dot: [f64; BATCH],
}

impl Default for RawBatch {
    fn default() -> Self {
        RawBatch {
            a: [0.0; BATCH],
            alpha: [0.0; BATCH],
            ysq4: [0.0; BATCH],
            xsum: [0.0; BATCH],
            dot: [0.0; BATCH],
        }
    }
}

impl RawBatch {
    #[inline(always)]
    fn set(&mut self, i: usize, r: Raw) {
        self.a[i] = r.a;
        self.alpha[i] = r.alpha;
        self.ysq4[i] = r.ysq4;
        self.xsum[i] = r.xsum;
        self.dot[i] = r.dot;
    }

    #[inline(always)]
    fn get(&self, i: usize) -> Raw {
        Raw {
            a: self.a[i],
            alpha: self.alpha[i],
            ysq4: self.ysq4[i],
            xsum: self.xsum[i],
            dot: self.dot[i],
        }
    }
}

/// The largest `cos(acos x - acos y)` over `x` within `dx` of `alpha` and
/// `y` within `dy` of `beta` (both clamped to `[-1, 1]`): an upper bound of
/// `<u, v>` for unit `u, v` with `<x̄, u> = x` and `<x̄, v> = y`. Without
/// branches (both sides are computed, then one is selected), so that a
/// batch vectorizes.
#[inline(always)]
fn max_similarity(alpha: f64, beta: f64, dbeta: f64) -> f64 {
    let dalpha = alpha.abs() * 2.0 * F32_UNIT + SLACK64;
    let (a_lo, a_hi) = ((alpha - dalpha).max(-1.0), (alpha + dalpha).min(1.0));
    let (b_lo, b_hi) = (
        (beta - dbeta - SLACK64).max(-1.0),
        (beta + dbeta + SLACK64).min(1.0),
    );
    // acos is decreasing, so the angle intervals are as far apart as these
    // ends; intervals that overlap (or NaN, which compares false) give no
    // information.
    let left = a_lo > b_hi;
    let right = b_lo > a_hi;
    let x = if left { a_lo } else { a_hi };
    let y = if left { b_hi } else { b_lo };
    let v = (x * y + ((1.0 - x * x) * (1.0 - y * y)).max(0.0).sqrt()).min(1.0);
    if (left | right) & (a_lo <= a_hi) & (b_lo <= b_hi) {
        v
    } else {
        1.0
    }
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

    /// `lower_bounds` (a batch, on every instruction set this CPU has)
    /// gives `lower_bound`'s values bit for bit, damaged headers included.
    #[test]
    fn batches_are_bitwise_the_single_bound() {
        use crate::{Layout, Rotation};
        use pagestore::rng::SplitMix64;
        let mut rng = SplitMix64::new(0xBA7C);
        let gauss = |rng: &mut SplitMix64| {
            let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            let v = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
            ((-2.0 * (u + 1e-300).ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
        };
        for dims in [1usize, 2, 7, 64, 100, 384, 1000] {
            for metric in [Metric::L2, Metric::InnerProduct, Metric::Cosine] {
                for (bits, layout) in [
                    (1u8, Layout::Planes),
                    (2, Layout::Planes),
                    (4, Layout::Planes),
                    (4, Layout::Nibbles),
                    (8, Layout::Planes),
                ] {
                    let q = Quantizer::with_layout(
                        Rotation::new(dims, rng.next_u64()).unwrap(),
                        bits,
                        metric,
                        layout,
                    )
                    .unwrap();
                    let centroid: Vec<f32> = (0..dims).map(|_| gauss(&mut rng) * 0.3).collect();
                    let query: Vec<f32> = (0..dims).map(|_| gauss(&mut rng)).collect();
                    for c in [None, Some(centroid.as_slice())] {
                        // 70 rows: two full batches and a partial one; a
                        // few near the query, a few damaged.
                        let mut codes: Vec<Vec<u8>> = (0..70)
                            .map(|i| {
                                let row: Vec<f32> = if i % 9 == 0 {
                                    query.iter().map(|&x| x + gauss(&mut rng) * 0.01).collect()
                                } else {
                                    (0..dims).map(|_| gauss(&mut rng)).collect()
                                };
                                q.encode(&row, c)
                            })
                            .collect();
                        codes[3][0..4].copy_from_slice(&f32::NAN.to_le_bytes());
                        codes[40][0..4].copy_from_slice(&f32::INFINITY.to_le_bytes());
                        codes[41][4..8].copy_from_slice(&f32::NAN.to_le_bytes());
                        codes[42][8..12].copy_from_slice(&0u32.to_le_bytes());
                        codes[43][0..4].copy_from_slice(&(-1.5f32).to_le_bytes());
                        let refs: Vec<&[u8]> = codes.iter().map(|c| c.as_slice()).collect();
                        for qbits in [4u8, 8] {
                            for est in [
                                q.query(&query, c, qbits),
                                q.query(&vec![0.0; dims], c, qbits),
                            ] {
                                let single: Vec<u64> =
                                    refs.iter().map(|c| est.lower_bound(c).to_bits()).collect();
                                let mut batch = vec![0.0; refs.len()];
                                est.lower_bounds(&refs, &mut batch);
                                let batch: Vec<u64> = batch.iter().map(|b| b.to_bits()).collect();
                                assert_eq!(single, batch, "{dims} {metric:?} {bits} {layout:?}");
                                // The portable path, whatever the CPU has.
                                if !est.no_bounds() {
                                    let mut raw = RawBatch::default();
                                    for (i, code) in refs[..BATCH].iter().enumerate() {
                                        raw.set(i, est.raw(code));
                                    }
                                    let mut out = vec![0.0; BATCH];
                                    est.bounds_of(&raw, &mut out);
                                    let out: Vec<u64> = out.iter().map(|b| b.to_bits()).collect();
                                    assert_eq!(out, single[..BATCH]);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
