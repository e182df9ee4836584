//! Exact k-nearest-neighbour search: ground truth for datasets that ship
//! none, and the distances recall uses to recognise ties.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use indicatif::ProgressBar;
use rayon::prelude::*;

use crate::dataset::Matrix;
use crate::metric::{cosine_from_dot, dot, Metric};

/// Exact neighbours per query, nearest first, with their distances.
pub struct GroundTruth {
    pub ids: Matrix<i64>,
    pub distances: Matrix<f32>,
}

/// Computes distances from queries to base rows. For cosine the base norms
/// are computed once up front, which makes a query–row distance cost one dot
/// product instead of three. The values are bit-identical to
/// [`Metric::distance`], so ties found here are ties there too.
pub struct BaseScorer<'a> {
    metric: Metric,
    base: &'a Matrix<f32>,
    base_norms: Vec<f32>,
}

impl<'a> BaseScorer<'a> {
    pub fn new(metric: Metric, base: &'a Matrix<f32>) -> Self {
        let base_norms = match metric {
            Metric::Cosine => (0..base.rows())
                .into_par_iter()
                .map(|i| norm(base.row(i)))
                .collect(),
            Metric::L2 | Metric::Ip => Vec::new(),
        };
        Self {
            metric,
            base,
            base_norms,
        }
    }

    /// A scorer bound to one query (its norm computed once).
    pub fn for_query<'q>(&'q self, query: &'q [f32]) -> QueryScorer<'q> {
        QueryScorer {
            scorer: self,
            query,
            query_norm: norm(query),
        }
    }
}

pub struct QueryScorer<'q> {
    scorer: &'q BaseScorer<'q>,
    query: &'q [f32],
    query_norm: f32,
}

impl QueryScorer<'_> {
    /// How many base rows there are (valid ids are `0..rows()`).
    pub fn rows(&self) -> usize {
        self.scorer.base.rows()
    }

    /// The distance from the query to base row `id`.
    pub fn distance(&self, id: usize) -> f32 {
        let row = self.scorer.base.row(id);
        match self.scorer.metric {
            Metric::Cosine => cosine_from_dot(
                dot(self.query, row),
                self.query_norm,
                self.scorer.base_norms[id],
            ),
            metric => metric.distance(self.query, row),
        }
    }
}

fn norm(v: &[f32]) -> f32 {
    dot(v, v).sqrt()
}

/// A candidate neighbour, ordered by distance then id (so results are
/// deterministic when distances tie). NaN sorts last, as in PostgreSQL.
#[derive(Clone, Copy, Debug)]
struct Candidate {
    distance: f32,
    id: usize,
}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        self.distance
            .total_cmp(&other.distance)
            .then(self.id.cmp(&other.id))
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Candidate {}

/// The exact `k` nearest base rows for every query (brute force, one rayon
/// task per query). `progress` is advanced by one per finished query.
pub fn exact_neighbors(
    metric: Metric,
    base: &Matrix<f32>,
    queries: &Matrix<f32>,
    k: usize,
    progress: Option<&ProgressBar>,
) -> GroundTruth {
    let k = k.min(base.rows());
    let scorer = BaseScorer::new(metric, base);
    let per_query: Vec<Vec<Candidate>> = (0..queries.rows())
        .into_par_iter()
        .map(|q| {
            let top = top_k(&scorer.for_query(queries.row(q)), base.rows(), k);
            if let Some(progress) = progress {
                progress.inc(1);
            }
            top
        })
        .collect();
    let ids = per_query.iter().flatten().map(|c| c.id as i64).collect();
    let distances = per_query.iter().flatten().map(|c| c.distance).collect();
    GroundTruth {
        ids: Matrix::new(queries.rows(), k, ids).expect("k results per query"),
        distances: Matrix::new(queries.rows(), k, distances).expect("k results per query"),
    }
}

/// The `k` best of `rows` candidates, best first, via a bounded max-heap
/// whose top is the worst candidate kept so far.
fn top_k(scorer: &QueryScorer, rows: usize, k: usize) -> Vec<Candidate> {
    let mut heap = BinaryHeap::with_capacity(k + 1);
    for id in 0..rows {
        let candidate = Candidate {
            distance: scorer.distance(id),
            id,
        };
        if heap.len() < k {
            heap.push(candidate);
        } else if heap.peek().is_some_and(|worst| candidate < *worst) {
            heap.pop();
            heap.push(candidate);
        }
    }
    heap.into_sorted_vec()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Deterministic pseudo-random vectors (no `rand` dependency needed).
    pub(crate) fn random_matrix(rows: usize, cols: usize, seed: u64) -> Matrix<f32> {
        let mut state = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let data = (0..rows * cols)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 33) as f32 / (1u64 << 31) as f32) * 2.0 - 1.0
            })
            .collect();
        Matrix::new(rows, cols, data).unwrap()
    }

    fn brute_force(metric: Metric, base: &Matrix<f32>, query: &[f32], k: usize) -> Vec<i64> {
        let mut all: Vec<(f32, usize)> = base
            .iter_rows()
            .enumerate()
            .map(|(id, row)| (metric.distance(query, row), id))
            .collect();
        all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        all.iter().take(k).map(|&(_, id)| id as i64).collect()
    }

    #[test]
    fn matches_brute_force_for_every_metric() {
        let base = random_matrix(500, 19, 1);
        let queries = random_matrix(20, 19, 2);
        for metric in [Metric::Cosine, Metric::L2, Metric::Ip] {
            let truth = exact_neighbors(metric, &base, &queries, 10, None);
            for q in 0..queries.rows() {
                let expected = brute_force(metric, &base, queries.row(q), 10);
                assert_eq!(
                    truth.ids.row(q),
                    expected.as_slice(),
                    "{metric:?} query {q}"
                );
                let d = truth.distances.row(q);
                assert!(d.windows(2).all(|w| w[0] <= w[1]), "sorted distances");
                assert_eq!(
                    d[0],
                    metric.distance(queries.row(q), base.row(expected[0] as usize))
                );
            }
        }
    }

    #[test]
    fn ties_break_by_id_and_k_is_capped() {
        // Rows 1 and 3 are the same vector: equally close, lower id first.
        let base = Matrix::new(4, 2, vec![5.0, 5.0, 1.0, 0.0, 9.0, 9.0, 1.0, 0.0]).unwrap();
        let queries = Matrix::new(1, 2, vec![1.0, 0.1]).unwrap();
        let truth = exact_neighbors(Metric::L2, &base, &queries, 10, None);
        assert_eq!(truth.ids.as_slice(), &[1, 3, 0, 2]);
    }
}
