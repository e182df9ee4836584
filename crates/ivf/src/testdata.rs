//! Generated data for tests: Gaussian clusters around random centres.

use crate::rng::SplitMix64;

/// `clusters × per_cluster` points (row-major, cluster by cluster) scattered
/// with standard deviation `spread` around centres drawn uniformly in
/// `[-10, 10]^dims`; returns the points and the centres.
pub(crate) fn gaussian_clusters(
    clusters: usize,
    per_cluster: usize,
    dims: usize,
    spread: f32,
    seed: u64,
) -> (Vec<f32>, Vec<f32>) {
    let mut rng = SplitMix64::new(seed);
    let centres: Vec<f32> = (0..clusters * dims)
        .map(|_| (rng.next_f64() * 20.0 - 10.0) as f32)
        .collect();
    let mut points = Vec::with_capacity(clusters * per_cluster * dims);
    for centre in centres.chunks(dims) {
        for _ in 0..per_cluster {
            points.extend(centre.iter().map(|&c| c + spread * normal(&mut rng)));
        }
    }
    (points, centres)
}

/// Standard normal sample (Box–Muller).
pub(crate) fn normal(rng: &mut SplitMix64) -> f32 {
    let u = 1.0 - rng.next_f64();
    let v = rng.next_f64();
    ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
}

/// Squared Euclidean distance.
pub(crate) fn squared_l2(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// The f32 values of a payload.
pub(crate) fn floats(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_ne_bytes(b.try_into().unwrap()))
        .collect()
}

/// The payload of f32 values.
pub(crate) fn bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_ne_bytes()).collect()
}
