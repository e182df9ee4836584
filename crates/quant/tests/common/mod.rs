//! Shared helpers of the integration tests: random vectors and the exact
//! values Postgres's operators compute (with the project's kernels).
#![allow(dead_code)]

/// The `.npy` reader of the ivf crate's tests (one copy for both crates).
#[path = "../../../ivf/tests/common/npy.rs"]
pub mod npy;

use pagestore::rng::SplitMix64;
use quant::Metric;

/// Uniform in [0, 1).
pub fn uniform(rng: &mut SplitMix64) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// Standard normal (Box–Muller).
pub fn gaussian(rng: &mut SplitMix64) -> f64 {
    let u1 = uniform(rng).max(1e-300);
    let u2 = uniform(rng);
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// Kinds of random data.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Gaussian,
    Uniform,
    /// Small perturbations of one random point.
    Clustered,
    /// Gaussian scaled by a tiny factor (f32 squares underflow).
    Tiny,
    /// Gaussian scaled by a huge factor (f32 sums may overflow).
    Huge,
    /// Mostly zeros.
    Sparse,
}

pub const KINDS: [Kind; 6] = [
    Kind::Gaussian,
    Kind::Uniform,
    Kind::Clustered,
    Kind::Tiny,
    Kind::Huge,
    Kind::Sparse,
];

/// `count` vectors of `dims` dimensions of one kind.
pub fn vectors(kind: Kind, dims: usize, count: usize, rng: &mut SplitMix64) -> Vec<Vec<f32>> {
    let center: Vec<f64> = (0..dims).map(|_| gaussian(rng)).collect();
    let scale = match kind {
        Kind::Tiny => 10f64.powf(-20.0 - 18.0 * uniform(rng)),
        Kind::Huge => 10f64.powf(10.0 + 25.0 * uniform(rng)),
        _ => 1.0,
    };
    (0..count)
        .map(|_| {
            (0..dims)
                .map(|i| {
                    let v = match kind {
                        Kind::Gaussian | Kind::Tiny | Kind::Huge => gaussian(rng),
                        Kind::Uniform => 2.0 * uniform(rng) - 1.0,
                        Kind::Clustered => center[i] + 1e-3 * gaussian(rng),
                        Kind::Sparse => {
                            if uniform(rng) < 0.05 {
                                gaussian(rng)
                            } else {
                                0.0
                            }
                        }
                    };
                    (v * scale) as f32
                })
                .collect()
        })
        .collect()
}

/// The value of the SQL operator, as `src/types/dense.rs` computes it, with
/// the dispatched kernels and with the scalar reference ones.
pub fn sql_values(metric: Metric, o: &[f32], q: &[f32]) -> [f64; 2] {
    match metric {
        Metric::L2 => [
            (kernels::l2_squared_f32(o, q) as f64).sqrt(),
            (kernels::scalar::l2_squared_f32(o, q) as f64).sqrt(),
        ],
        Metric::InnerProduct => [
            -(kernels::dot_f32(o, q) as f64),
            -(kernels::scalar::dot_f32(o, q) as f64),
        ],
        Metric::Cosine => [
            kernels::cosine_distance_f32(o, q),
            kernels::scalar::cosine_distance_f32(o, q),
        ],
    }
}

/// The operator's value in exact (f64) arithmetic.
pub fn exact_value(metric: Metric, o: &[f32], q: &[f32]) -> f64 {
    let dot: f64 = o.iter().zip(q).map(|(&a, &b)| a as f64 * b as f64).sum();
    match metric {
        Metric::L2 => o
            .iter()
            .zip(q)
            .map(|(&a, &b)| (a as f64 - b as f64).powi(2))
            .sum::<f64>()
            .sqrt(),
        Metric::InnerProduct => -dot,
        Metric::Cosine => {
            let no: f64 = o.iter().map(|&a| a as f64 * a as f64).sum::<f64>().sqrt();
            let nq: f64 = q.iter().map(|&a| a as f64 * a as f64).sum::<f64>().sqrt();
            1.0 - (dot / (no * nq)).clamp(-1.0, 1.0)
        }
    }
}

pub const METRICS: [Metric; 3] = [Metric::L2, Metric::InnerProduct, Metric::Cosine];
