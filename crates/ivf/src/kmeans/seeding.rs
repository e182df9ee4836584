//! k-means++ seeding on a random subsample of the training points.

use rayon::prelude::*;

use super::{deterministic_sum, Points, Progress, SEEDING_POINTS_PER_LIST};
use crate::dot::dot;
use crate::rng::SplitMix64;

/// Distances are refreshed in parallel over chunks of this many points.
const UPDATE_CHUNK: usize = 256;

/// Picks `lists` initial centroids by k-means++ (each next centroid is a point
/// drawn with probability proportional to its squared distance from the
/// centroids chosen so far).
///
/// Spherical metrics seed on the normalised points, so the seeds are already
/// unit length. Once every point coincides with a chosen centroid (fewer
/// distinct points than lists) the remaining picks are uniform, giving
/// duplicate centroids rather than a division by zero.
pub(super) fn kmeans_plus_plus(
    points: &Points<'_>,
    lists: usize,
    rng: &mut SplitMix64,
    progress: &mut dyn FnMut(Progress) -> bool,
) -> Option<Vec<f32>> {
    let dims = points.dims;
    let candidates = Candidates::gather(points, lists, rng);
    let m = candidates.len();

    let mut centroids = Vec::with_capacity(lists * dims);
    let mut squared_distance = vec![f32::INFINITY; m];
    let mut pick = rng.below(m);
    for chosen in 1..=lists {
        let centroid = candidates.row(pick);
        centroids.extend_from_slice(centroid);
        if chosen == lists {
            break;
        }
        candidates.lower_distances(
            centroid,
            candidates.squared_norms[pick],
            &mut squared_distance,
        );
        if !progress(Progress::Seeding {
            chosen,
            total: lists,
        }) {
            return None;
        }
        pick = draw_proportional(&squared_distance, rng);
    }
    progress(Progress::Seeding {
        chosen: lists,
        total: lists,
    })
    .then_some(centroids)
}

/// The seeding subsample, copied contiguously (normalised for spherical
/// metrics) so that the `lists` passes over it stay cache friendly.
struct Candidates {
    data: Vec<f32>,
    dims: usize,
    squared_norms: Vec<f32>,
}

impl Candidates {
    fn gather(points: &Points<'_>, lists: usize, rng: &mut SplitMix64) -> Self {
        let n = points.len();
        let m = n.min(lists.saturating_mul(SEEDING_POINTS_PER_LIST));
        let chosen = sample_indices(n, m, rng);
        let spherical = points.metric.is_spherical();
        let mut data = Vec::with_capacity(m * points.dims);
        for &i in &chosen {
            let scale = if spherical {
                points.inverse_norm(i)
            } else {
                1.0
            };
            data.extend(points.row(i).iter().map(|&v| v * scale));
        }
        let squared_norms = data.par_chunks(points.dims).map(|x| dot(x, x)).collect();
        Self {
            data,
            dims: points.dims,
            squared_norms,
        }
    }

    fn len(&self) -> usize {
        self.squared_norms.len()
    }

    fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dims..(i + 1) * self.dims]
    }

    /// `distance[i] = min(distance[i], |x_i - centroid|²)`.
    fn lower_distances(&self, centroid: &[f32], centroid_squared_norm: f32, distance: &mut [f32]) {
        distance
            .par_chunks_mut(UPDATE_CHUNK)
            .enumerate()
            .for_each(|(chunk, out)| {
                for (offset, d) in out.iter_mut().enumerate() {
                    let i = chunk * UPDATE_CHUNK + offset;
                    let squared = self.squared_norms[i] + centroid_squared_norm
                        - 2.0 * dot(self.row(i), centroid);
                    *d = d.min(squared.max(0.0));
                }
            });
    }
}

/// `m` distinct indices of `0..n`, uniformly (partial Fisher–Yates), sorted
/// so that gathering them reads the sample front to back.
fn sample_indices(n: usize, m: usize, rng: &mut SplitMix64) -> Vec<usize> {
    let mut indices: Vec<usize> = (0..n).collect();
    if m < n {
        for i in 0..m {
            let j = i + rng.below(n - i);
            indices.swap(i, j);
        }
        indices.truncate(m);
        indices.sort_unstable();
    }
    indices
}

/// Index drawn with probability proportional to `weights` (uniform if they
/// are all zero).
fn draw_proportional(weights: &[f32], rng: &mut SplitMix64) -> usize {
    let total = deterministic_sum(weights.len(), |i| weights[i] as f64);
    if !(total > 0.0 && total.is_finite()) {
        return rng.below(weights.len());
    }
    let target = rng.next_f64() * total;
    let mut cumulative = 0.0;
    let mut last_positive = 0;
    for (i, &w) in weights.iter().enumerate() {
        if w > 0.0 {
            cumulative += w as f64;
            last_positive = i;
            if cumulative > target {
                return i;
            }
        }
    }
    // Rounding left the running sum just short of the target.
    last_positive
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_indices_are_distinct_sorted_and_in_range() {
        let mut rng = SplitMix64::new(1);
        let picked = sample_indices(100, 30, &mut rng);
        assert_eq!(picked.len(), 30);
        assert!(picked.windows(2).all(|w| w[0] < w[1]));
        assert!(picked.iter().all(|&i| i < 100));
        assert_eq!(sample_indices(5, 9, &mut rng), vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn draw_proportional_never_picks_zero_weights() {
        let mut rng = SplitMix64::new(2);
        let weights = [0.0, 1.0, 0.0, 3.0, 0.0];
        for _ in 0..200 {
            let i = draw_proportional(&weights, &mut rng);
            assert!(i == 1 || i == 3);
        }
        assert!(draw_proportional(&[0.0; 4], &mut rng) < 4);
    }
}
