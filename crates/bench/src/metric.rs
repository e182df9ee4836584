//! Distance functions with pgvector's definitions, and their SQL operators.

use serde::{Deserialize, Serialize};

/// The distance a benchmark is run with. Each maps to one pgvector operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Metric {
    /// `<=>`: 1 − cosine similarity.
    Cosine,
    /// `<->`: Euclidean distance.
    L2,
    /// `<#>`: negative inner product (so that smaller is closer).
    Ip,
}

impl Metric {
    pub fn operator(self) -> &'static str {
        match self {
            Self::Cosine => "<=>",
            Self::L2 => "<->",
            Self::Ip => "<#>",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Cosine => "cosine",
            Self::L2 => "l2",
            Self::Ip => "ip",
        }
    }

    /// Maps the `distance` attribute of an ann-benchmarks HDF5 file.
    pub fn from_ann_benchmarks(distance: &str) -> Option<Self> {
        match distance.to_ascii_lowercase().as_str() {
            "angular" | "cosine" => Some(Self::Cosine),
            "euclidean" | "l2" => Some(Self::L2),
            "dot" | "ip" | "inner_product" | "innerproduct" => Some(Self::Ip),
            _ => None,
        }
    }

    /// The distance between two vectors, computed like pgvector does (in
    /// `f32`). Cosine with a zero vector is NaN, as in pgvector, which sorts
    /// it after every number.
    pub fn distance(self, a: &[f32], b: &[f32]) -> f32 {
        match self {
            Self::Cosine => cosine_from_dot(dot(a, b), dot(a, a).sqrt(), dot(b, b).sqrt()),
            Self::L2 => squared_l2(a, b).sqrt(),
            Self::Ip => -dot(a, b),
        }
    }
}

/// Cosine distance from a dot product and the two norms.
pub fn cosine_from_dot(dot: f32, norm_a: f32, norm_b: f32) -> f32 {
    let denominator = norm_a * norm_b;
    if denominator == 0.0 {
        return f32::NAN;
    }
    // Rounding can push the similarity just past ±1; pgvector clamps the same way.
    1.0 - (dot / denominator).clamp(-1.0, 1.0)
}

/// Number of independent accumulators: lets the compiler vectorise the sums
/// (float addition is not associative, so a single accumulator stays scalar).
const LANES: usize = 8;

pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    fold_lanes(a, b, |x, y| x * y)
}

pub fn squared_l2(a: &[f32], b: &[f32]) -> f32 {
    fold_lanes(a, b, |x, y| (x - y) * (x - y))
}

#[inline(always)]
fn fold_lanes(a: &[f32], b: &[f32], term: impl Fn(f32, f32) -> f32) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let mut sums = [0.0f32; LANES];
    let chunks = a.len() / LANES * LANES;
    for (ca, cb) in a[..chunks]
        .chunks_exact(LANES)
        .zip(b[..chunks].chunks_exact(LANES))
    {
        for lane in 0..LANES {
            sums[lane] += term(ca[lane], cb[lane]);
        }
    }
    let tail: f32 = a[chunks..]
        .iter()
        .zip(&b[chunks..])
        .map(|(&x, &y)| term(x, y))
        .sum();
    sums.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_match_definitions() {
        let a = [1.0, 0.0, 0.0];
        let b = [0.0, 2.0, 0.0];
        assert!((Metric::Cosine.distance(&a, &b) - 1.0).abs() < 1e-6);
        assert!((Metric::Cosine.distance(&a, &[3.0, 0.0, 0.0])).abs() < 1e-6);
        assert!((Metric::L2.distance(&a, &b) - 5f32.sqrt()).abs() < 1e-6);
        assert_eq!(
            Metric::Ip.distance(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]),
            -32.0
        );
        assert!(Metric::Cosine.distance(&a, &[0.0; 3]).is_nan());
    }

    #[test]
    fn lane_sums_match_naive_sums_for_odd_lengths() {
        let a: Vec<f32> = (0..37).map(|i| i as f32 * 0.25).collect();
        let b: Vec<f32> = (0..37).map(|i| 3.0 - i as f32 * 0.5).collect();
        let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - naive).abs() < 1e-3 * naive.abs());
    }

    #[test]
    fn maps_ann_benchmarks_names() {
        assert_eq!(Metric::from_ann_benchmarks("angular"), Some(Metric::Cosine));
        assert_eq!(Metric::from_ann_benchmarks("euclidean"), Some(Metric::L2));
        assert_eq!(Metric::from_ann_benchmarks("jaccard"), None);
    }
}
