//! Scored candidates and the HNSW neighbour-selection heuristic.

use std::cmp::Ordering;

/// An id with its distance to some base point; ordered by distance, then id
/// (so heaps and sorts are deterministic).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scored<T> {
    pub dist: f32,
    pub id: T,
}

impl<T: Ord> PartialEq for Scored<T> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl<T: Ord> Eq for Scored<T> {}

impl<T: Ord> PartialOrd for Scored<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T: Ord> Ord for Scored<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.dist
            .total_cmp(&other.dist)
            .then_with(|| self.id.cmp(&other.id))
    }
}

/// Neighbour selection heuristic (Malkov & Yashunin, algorithm 4, without
/// candidate extension or kept pruned connections, as in hnswlib): walk the
/// candidates from nearest to farthest and keep one only if it is closer to
/// the base than to every neighbour kept so far. This keeps edges pointing in
/// diverse directions, which is what makes the graph navigable.
///
/// `candidates` must be sorted ascending; `distance(a, b)` is the distance
/// between two candidates. The result (at most `cap`) replaces `selected`.
pub(crate) fn select_neighbors<T: Copy>(
    candidates: &[Scored<T>],
    cap: usize,
    mut distance: impl FnMut(T, T) -> f32,
    selected: &mut Vec<Scored<T>>,
    keep_pruned: bool,
) {
    selected.clear();
    let mut pruned = Vec::new();
    for &candidate in candidates {
        if selected.len() >= cap {
            break;
        }
        let diverse = selected
            .iter()
            .all(|kept| distance(candidate.id, kept.id) >= candidate.dist);
        if diverse {
            selected.push(candidate);
        } else {
            pruned.push(candidate);
        }
    }
    if keep_pruned {
        let room = cap - selected.len();
        selected.extend(pruned.into_iter().take(room));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heuristic_prefers_diverse_directions() {
        // Points on a line: base at 0, candidates at 1, 2 (behind 1) and -3.
        let pos = [1.0f32, 2.0, -3.0];
        let cands: Vec<Scored<usize>> = (0..3)
            .map(|i| Scored {
                dist: pos[i].abs(),
                id: i,
            })
            .collect();
        let mut out = Vec::new();
        select_neighbors(&cands, 3, |a, b| (pos[a] - pos[b]).abs(), &mut out, false);
        let ids: Vec<_> = out.iter().map(|s| s.id).collect();
        assert_eq!(ids, vec![0, 2]);
        select_neighbors(&cands, 1, |a, b| (pos[a] - pos[b]).abs(), &mut out, false);
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn scored_orders_by_distance_then_id() {
        let mut v = [
            Scored { dist: 1.0, id: 2 },
            Scored { dist: 0.5, id: 9 },
            Scored { dist: 1.0, id: 1 },
        ];
        v.sort();
        assert_eq!(v.iter().map(|s| s.id).collect::<Vec<_>>(), vec![9, 1, 2]);
    }
}
