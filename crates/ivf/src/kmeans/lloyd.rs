//! Lloyd iterations: assign every point to its best centroid, move each
//! centroid to the mean of its points, until few points change list.

use rayon::prelude::*;

use super::{deterministic_sum, KMeansParams, Metric, Points, Progress};
use crate::dot::{assign_all, metric_bias, Best};

/// Runs Lloyd iterations from the seeds in `centroids`, updating them in
/// place; false if `progress` asked to stop.
pub(super) fn iterate(
    points: &Points<'_>,
    centroids: &mut [f32],
    params: &KMeansParams,
    progress: &mut dyn FnMut(Progress) -> bool,
) -> bool {
    let n = points.len();
    let mut best = vec![
        Best {
            centroid: 0,
            score: 0.0
        };
        n
    ];
    let mut labels = vec![u32::MAX; n];
    for iteration in 1..=params.max_iterations {
        assign(points, centroids, &mut best);
        let changed = best
            .par_iter()
            .zip(labels.par_iter())
            .filter(|(b, &label)| b.centroid != label)
            .count();
        labels
            .par_iter_mut()
            .zip(&best)
            .for_each(|(label, b)| *label = b.centroid);
        let costs: Vec<f32> = (0..n)
            .into_par_iter()
            .map(|i| point_cost(points, i, best[i].score))
            .collect();
        if !progress(Progress::Iteration {
            iteration,
            max_iterations: params.max_iterations,
            changed,
            objective: deterministic_sum(n, |i| costs[i] as f64) / n as f64,
        }) {
            return false;
        }
        fill_empty_clusters(&mut labels, &costs, centroids.len() / points.dims);
        update(points, &labels, centroids);
        if changed as f64 <= params.tolerance * n as f64 {
            break;
        }
    }
    true
}

/// Finds the best centroid of every point.
fn assign(points: &Points<'_>, centroids: &[f32], best: &mut [Best]) {
    let bias = metric_bias(points.metric, centroids, points.dims);
    assign_all(points.data, centroids, &bias, points.dims, best);
}

/// Distance of point `i` to the centroid it scored `score` against (see
/// [`Progress::Iteration::objective`]).
fn point_cost(points: &Points<'_>, i: usize, score: f32) -> f32 {
    match points.metric {
        // |x - c|² = |x|² - 2 (x·c - |c|²/2)
        Metric::L2 => (points.squared_norms[i] - 2.0 * score).max(0.0),
        Metric::Cosine => 1.0 - score * points.inverse_norm(i),
        Metric::InnerProduct => -score,
    }
}

/// Gives every empty cluster the point farthest from its centroid in the
/// currently largest cluster, which splits that cluster over the next
/// iterations. Clusters stay empty (keeping their previous centroid) only
/// when no cluster has two points to spare one.
fn fill_empty_clusters(labels: &mut [u32], costs: &[f32], lists: usize) {
    let mut counts = vec![0usize; lists];
    labels.iter().for_each(|&l| counts[l as usize] += 1);
    for empty in 0..lists {
        if counts[empty] != 0 {
            continue;
        }
        // First maximum: deterministic tie-break on the lowest index.
        let largest = (0..lists).fold(0, |best, c| if counts[c] > counts[best] { c } else { best });
        if counts[largest] < 2 {
            return;
        }
        let farthest = (0..labels.len())
            .filter(|&i| labels[i] as usize == largest)
            .fold(None, |best: Option<usize>, i| match best {
                Some(b) if costs[b] >= costs[i] => Some(b),
                _ => Some(i),
            });
        if let Some(i) = farthest {
            labels[i] = empty as u32;
            counts[largest] -= 1;
            counts[empty] = 1;
        }
    }
}

/// Moves each centroid to the (weighted) mean of its points, normalised for
/// spherical metrics; centroids without points keep their position.
fn update(points: &Points<'_>, labels: &[u32], centroids: &mut [f32]) {
    let dims = points.dims;
    let lists = centroids.len() / dims;
    let (members, starts) = group_by_label(labels, lists);
    centroids
        .par_chunks_mut(dims)
        .enumerate()
        .for_each(|(c, centroid)| {
            let members = &members[starts[c]..starts[c + 1]];
            if members.is_empty() {
                return;
            }
            // f64 sums in index order: exact enough and thread-count independent.
            let mut sum = vec![0.0f64; dims];
            for &i in members {
                let i = i as usize;
                let weight = match points.metric {
                    Metric::Cosine => points.inverse_norm(i) as f64,
                    Metric::L2 | Metric::InnerProduct => 1.0,
                };
                for (s, &x) in sum.iter_mut().zip(points.row(i)) {
                    *s += weight * x as f64;
                }
            }
            let scale = if points.metric.is_spherical() {
                sum.iter().map(|s| s * s).sum::<f64>().sqrt()
            } else {
                members.len() as f64
            };
            if scale > 0.0 && scale.is_finite() {
                centroid
                    .iter_mut()
                    .zip(&sum)
                    .for_each(|(c, s)| *c = (s / scale) as f32);
            }
        });
}

/// Point indices grouped by label (counting sort, so each group is in index
/// order) and the start of every group, with a final end offset.
fn group_by_label(labels: &[u32], lists: usize) -> (Vec<u32>, Vec<usize>) {
    let mut starts = vec![0usize; lists + 1];
    labels.iter().for_each(|&l| starts[l as usize + 1] += 1);
    for c in 0..lists {
        starts[c + 1] += starts[c];
    }
    let mut next = starts.clone();
    let mut members = vec![0u32; labels.len()];
    for (i, &l) in labels.iter().enumerate() {
        members[next[l as usize]] = i as u32;
        next[l as usize] += 1;
    }
    (members, starts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_cluster_takes_farthest_point_of_largest() {
        // Cluster 0 has three points (the one at index 2 is farthest), 1 has one, 2 none.
        let mut labels = vec![0, 0, 0, 1];
        let costs = [0.1, 0.2, 5.0, 9.0];
        fill_empty_clusters(&mut labels, &costs, 3);
        assert_eq!(labels, vec![0, 0, 2, 1]);
    }

    #[test]
    fn empty_clusters_stay_empty_when_nothing_can_be_split() {
        let mut labels = vec![0, 1];
        fill_empty_clusters(&mut labels, &[1.0, 1.0], 4);
        assert_eq!(labels, vec![0, 1]);
    }

    #[test]
    fn grouping_keeps_index_order() {
        let (members, starts) = group_by_label(&[2, 0, 2, 1, 0], 3);
        assert_eq!(members, vec![1, 4, 3, 0, 2]);
        assert_eq!(starts, vec![0, 2, 3, 5]);
    }
}
