//! Recall@k against ground truth, with the tie rule the datasets ask for:
//! a returned id that is not in the true top-k still counts when its true
//! distance equals the k-th true distance (it is an equally good answer).

use std::collections::HashSet;

use crate::dataset::Matrix;
use crate::groundtruth::BaseScorer;

/// How close (relative, at least 1.0 absolute scale) two distances must be to
/// count as a tie. Both sides come from the same `f32` arithmetic, so true
/// ties are equal to the bit; the slack only absorbs ground truth computed
/// with a different summation order.
pub const TIE_TOLERANCE: f32 = 1e-6;

/// Distances that let recall recognise ties: the true distance of each
/// returned id (NaN when unknown) and of the k-th true neighbour.
pub struct TieDistances<'a> {
    pub returned: &'a [f32],
    pub kth: f32,
}

/// |returned ∩ truth[..k]| / k, plus ties at the k-th distance when
/// `ties` is given. Duplicate returned ids count once, and never more than
/// k hits are counted.
pub fn recall_at_k(returned: &[i64], truth: &[i64], k: usize, ties: Option<TieDistances>) -> f64 {
    if k == 0 {
        return 1.0;
    }
    let top_k: HashSet<i64> = truth.iter().take(k).copied().collect();
    let tie_limit = ties
        .as_ref()
        .map(|t| t.kth + TIE_TOLERANCE * t.kth.abs().max(1.0));
    let mut seen = HashSet::new();
    let mut hits = 0;
    for (rank, &id) in returned.iter().take(k).enumerate() {
        if !seen.insert(id) {
            continue;
        }
        let is_tie = match (&ties, tie_limit) {
            (Some(t), Some(limit)) => t.returned.get(rank).is_some_and(|&d| d <= limit),
            _ => false,
        };
        if top_k.contains(&id) || is_tie {
            hits += 1;
        }
    }
    hits.min(k) as f64 / k as f64
}

/// Scores result lists of a query set against its ground truth.
pub struct RecallEvaluator<'a> {
    k: usize,
    truth: &'a Matrix<i64>,
    /// With the base vectors at hand, ties can be checked by distance.
    tie_scorer: Option<(&'a BaseScorer<'a>, &'a Matrix<f32>)>,
}

impl<'a> RecallEvaluator<'a> {
    pub fn new(k: usize, truth: &'a Matrix<i64>) -> Self {
        Self {
            k,
            truth,
            tie_scorer: None,
        }
    }

    /// Enables the tie rule, computing distances from `queries` to the base set.
    pub fn with_ties(mut self, scorer: &'a BaseScorer<'a>, queries: &'a Matrix<f32>) -> Self {
        self.tie_scorer = Some((scorer, queries));
        self
    }

    pub fn recall(&self, query: usize, returned: &[i64]) -> f64 {
        let truth = self.truth.row(query);
        let Some((scorer, queries)) = self.tie_scorer else {
            return recall_at_k(returned, truth, self.k, None);
        };
        let scorer = scorer.for_query(queries.row(query));
        let distance = |id: i64| {
            usize::try_from(id)
                .ok()
                .filter(|&id| id < scorer.rows())
                .map_or(f32::NAN, |id| scorer.distance(id))
        };
        let Some(&kth_id) = truth.get(self.k.min(truth.len()).saturating_sub(1)) else {
            return recall_at_k(returned, truth, self.k, None);
        };
        let returned_distances: Vec<f32> = returned
            .iter()
            .take(self.k)
            .map(|&id| distance(id))
            .collect();
        let ties = TieDistances {
            returned: &returned_distances,
            kth: distance(kth_id),
        };
        recall_at_k(returned, truth, self.k, Some(ties))
    }

    /// Mean recall over queries `0..results.len()`.
    pub fn mean_recall(&self, results: &[Vec<i64>]) -> f64 {
        if results.is_empty() {
            return 0.0;
        }
        let total: f64 = results
            .iter()
            .enumerate()
            .map(|(query, returned)| self.recall(query, returned))
            .sum();
        total / results.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metric::Metric;

    #[test]
    fn counts_ids_in_true_top_k_only() {
        assert_eq!(recall_at_k(&[1, 2, 3], &[3, 2, 9], 3, None), 2.0 / 3.0);
        // Id 4 is a true neighbour, but only at rank 4: not in the top 2.
        assert_eq!(recall_at_k(&[4, 1], &[1, 2, 3, 4], 2, None), 0.5);
        // Results past k are ignored, short lists are misses, duplicates count once.
        assert_eq!(recall_at_k(&[9, 1, 2], &[1, 2], 2, None), 0.5);
        assert_eq!(recall_at_k(&[1], &[1, 2], 2, None), 0.5);
        assert_eq!(recall_at_k(&[1, 1], &[1, 2], 2, None), 0.5);
        assert_eq!(recall_at_k(&[], &[1, 2], 2, None), 0.0);
    }

    #[test]
    fn ties_at_kth_distance_are_hits() {
        let truth = [10, 11, 12];
        // Id 99 is not in the truth, but as close as the 3rd neighbour.
        let tie = TieDistances {
            returned: &[0.1, 0.2, 0.5],
            kth: 0.5,
        };
        assert_eq!(recall_at_k(&[10, 11, 99], &truth, 3, Some(tie)), 1.0);
        // Farther than the k-th distance: a miss.
        let farther = TieDistances {
            returned: &[0.1, 0.2, 0.5001],
            kth: 0.5,
        };
        assert_eq!(
            recall_at_k(&[10, 11, 99], &truth, 3, Some(farther)),
            2.0 / 3.0
        );
        // Unknown distance (NaN) never ties.
        let unknown = TieDistances {
            returned: &[0.1, 0.2, f32::NAN],
            kth: 0.5,
        };
        assert_eq!(
            recall_at_k(&[10, 11, 99], &truth, 3, Some(unknown)),
            2.0 / 3.0
        );
    }

    #[test]
    fn evaluator_finds_ties_from_base_vectors() {
        // Rows 1 and 2 are identical, so for this query both are the 1st
        // neighbour; the truth lists row 1 only.
        let base = Matrix::new(3, 2, vec![5.0, 5.0, 1.0, 0.0, 1.0, 0.0]).unwrap();
        let queries = Matrix::new(1, 2, vec![1.0, 0.0]).unwrap();
        let truth = Matrix::new(1, 1, vec![1]).unwrap();
        let scorer = BaseScorer::new(Metric::L2, &base);
        let plain = RecallEvaluator::new(1, &truth);
        assert_eq!(plain.recall(0, &[2]), 0.0);
        let with_ties = RecallEvaluator::new(1, &truth).with_ties(&scorer, &queries);
        assert_eq!(with_ties.recall(0, &[2]), 1.0);
        assert_eq!(with_ties.recall(0, &[0]), 0.0);
        // An id the base set does not have is a miss, not a panic.
        assert_eq!(with_ties.recall(0, &[42]), 0.0);
        assert_eq!(with_ties.mean_recall(&[vec![2]]), 1.0);
    }
}
