//! Latency percentiles.

use serde::{Deserialize, Serialize};

/// Summary of per-query latencies, in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub mean_ms: f64,
}

impl LatencySummary {
    /// Summarises latencies (any order). Empty input gives all zeros.
    pub fn from_ms(latencies_ms: &[f64]) -> Self {
        if latencies_ms.is_empty() {
            return Self {
                p50_ms: 0.0,
                p95_ms: 0.0,
                p99_ms: 0.0,
                mean_ms: 0.0,
            };
        }
        let mut sorted = latencies_ms.to_vec();
        sorted.sort_by(f64::total_cmp);
        Self {
            p50_ms: percentile(&sorted, 50.0),
            p95_ms: percentile(&sorted, 95.0),
            p99_ms: percentile(&sorted, 99.0),
            mean_ms: sorted.iter().sum::<f64>() / sorted.len() as f64,
        }
    }
}

/// The `p`-th percentile of sorted, non-empty data, interpolating linearly
/// between closest ranks: NumPy's default, so the figures compare with the
/// baselines measured from Python.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    assert!(!sorted.is_empty(), "percentile of no data");
    let rank = (p / 100.0).clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let below = rank.floor() as usize;
    let above = rank.ceil() as usize;
    sorted[below] + (sorted[above] - sorted[below]) * (rank - below as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_match_numpy() {
        // numpy.percentile(range(1, 11), [50, 95, 99]) == [5.5, 9.55, 9.91]
        let data: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile(&data, 50.0), 5.5);
        assert!((percentile(&data, 95.0) - 9.55).abs() < 1e-12);
        assert!((percentile(&data, 99.0) - 9.91).abs() < 1e-12);
        assert_eq!(percentile(&data, 0.0), 1.0);
        assert_eq!(percentile(&data, 100.0), 10.0);
        assert_eq!(percentile(&[3.0], 99.0), 3.0);
    }

    #[test]
    fn summary_sorts_its_input() {
        let summary = LatencySummary::from_ms(&[4.0, 1.0, 3.0, 2.0, 100.0]);
        assert_eq!(summary.p50_ms, 3.0);
        assert_eq!(summary.mean_ms, 22.0);
        assert!(summary.p99_ms > 96.0 && summary.p99_ms < 100.0);
        assert_eq!(LatencySummary::from_ms(&[]).p50_ms, 0.0);
    }
}
