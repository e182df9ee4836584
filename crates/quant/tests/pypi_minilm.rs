//! RaBitQ codes on real embeddings: `/work/shared/datasets/pypi-minilm-100k`
//! (384-d, cosine; skipped when absent). Recall@10 of "rank by estimate,
//! rerank the best R exactly" against the dataset's ground truth, and the
//! tightness of the provable bound.

mod common;

use common::npy;
use quant::{Metric, Quantizer, Rotation};
use std::path::Path;

const DATA: &str = "/work/shared/datasets/pypi-minilm-100k";
const QUERIES: usize = 200;
const RERANK: [usize; 4] = [10, 20, 50, 100];

struct Figures {
    recall: Vec<f64>,
    /// Mean (exact - bound) over every row, and over the true top 10.
    gap_all: f64,
    gap_top10: f64,
    /// Rows the bound (resp. the interval) proves farther than the 10th
    /// neighbour.
    pruned_bound: f64,
    pruned_interval: f64,
}

fn run(
    base: &npy::Matrix<f32>,
    queries: &npy::Matrix<f32>,
    truth: &npy::Matrix<i32>,
    bits: u8,
    centroid: Option<&[f32]>,
) -> Figures {
    let (rows, dims) = base.shape;
    let q = Quantizer::new(Rotation::new(dims, 0x5EED).unwrap(), bits, Metric::Cosine).unwrap();
    let len = q.code_len();
    let mut codes = vec![0u8; rows * len];
    for (i, code) in codes.chunks_exact_mut(len).enumerate() {
        q.encode_into(base.row(i), centroid, code);
    }
    let mut hits = vec![0usize; RERANK.len()];
    let (mut gap_all, mut n_all, mut gap_top, mut n_top) = (0.0, 0usize, 0.0, 0usize);
    let (mut pruned_b, mut pruned_i, mut n_pruned) = (0usize, 0usize, 0usize);
    let mut scored: Vec<(f64, u32)> = Vec::with_capacity(rows);
    for qi in 0..QUERIES {
        let query = queries.row(qi);
        let est = q.query(query, centroid, 8);
        scored.clear();
        scored.extend(
            codes
                .chunks_exact(len)
                .enumerate()
                .map(|(i, c)| (est.estimate(c), i as u32)),
        );
        let r_max = *RERANK.last().unwrap();
        scored.select_nth_unstable_by(r_max, |a, b| a.0.total_cmp(&b.0));
        scored[..r_max].sort_by(|a, b| a.0.total_cmp(&b.0));
        let gt: Vec<u32> = (0..10).map(|k| truth.row(qi)[k] as u32).collect();
        for (slot, &r) in RERANK.iter().enumerate() {
            let mut exact: Vec<(f64, u32)> = scored[..r]
                .iter()
                .map(|&(_, i)| (kernels::cosine_distance_f32(base.row(i as usize), query), i))
                .collect();
            exact.sort_by(|a, b| a.0.total_cmp(&b.0));
            hits[slot] += exact
                .iter()
                .take(10)
                .filter(|(_, i)| gt.contains(i))
                .count();
        }
        // Bound tightness on every 20th query (every row).
        if qi % 20 == 0 {
            let d10 = kernels::cosine_distance_f32(base.row(gt[9] as usize), query);
            for (i, c) in codes.chunks_exact(len).enumerate() {
                let exact = kernels::cosine_distance_f32(base.row(i), query);
                let lb = est.lower_bound(c);
                assert!(lb <= exact, "bound {lb} > exact {exact}");
                gap_all += exact - lb;
                n_all += 1;
                if gt.contains(&(i as u32)) {
                    gap_top += exact - lb;
                    n_top += 1;
                }
                n_pruned += 1;
                pruned_b += (lb > d10) as usize;
                pruned_i += (est.interval(c).low > d10) as usize;
            }
        }
    }
    Figures {
        recall: hits
            .iter()
            .map(|&h| h as f64 / (10 * QUERIES) as f64)
            .collect(),
        gap_all: gap_all / n_all as f64,
        gap_top10: gap_top / n_top as f64,
        pruned_bound: pruned_b as f64 / n_pruned as f64,
        pruned_interval: pruned_i as f64 / n_pruned as f64,
    }
}

#[test]
fn recall_and_bound_on_pypi_minilm() {
    let dir = Path::new(DATA);
    if !dir.join("base.npy").exists() {
        eprintln!("skipped: {DATA} is absent");
        return;
    }
    let base = npy::read_f32(&dir.join("base.npy"));
    let queries = npy::read_f32(&dir.join("query.npy"));
    let truth = npy::read_i32(&dir.join("neighbors.npy"));
    let dims = base.shape.1;
    // The normalized mean: an IVF-like centroid for the whole set.
    let mut mean = vec![0.0f64; dims];
    for i in 0..base.shape.0 {
        let r = base.row(i);
        let n: f64 = r.iter().map(|&v| v as f64 * v as f64).sum::<f64>().sqrt();
        for (m, &v) in mean.iter_mut().zip(r) {
            *m += v as f64 / n;
        }
    }
    let mn: f64 = mean.iter().map(|v| v * v).sum::<f64>().sqrt();
    let mean: Vec<f32> = mean.iter().map(|v| (v / mn) as f32).collect();

    // QUANT_FULL=1 adds an IVF-like configuration (residuals to the mean).
    let mut configs: Vec<(u8, Option<&[f32]>, &str)> = vec![(1, None, "none"), (4, None, "none")];
    if std::env::var_os("QUANT_FULL").is_some() {
        configs.push((1, Some(&mean), "mean"));
        configs.push((2, None, "none"));
    }
    for (bits, centroid, label) in configs {
        let f = run(&base, &queries, &truth, bits, centroid);
        println!(
            "bits {bits} centroid {label}: recall@10 after rerank R = 10/20/50/100: {:.3} / {:.3} / {:.3} / {:.3}; \
             mean exact - bound: all rows {:.4}, true top-10 {:.4}; rows provably beyond the 10th: bound {:.1}%, interval {:.1}%",
            f.recall[0], f.recall[1], f.recall[2], f.recall[3],
            f.gap_all, f.gap_top10, 100.0 * f.pruned_bound, 100.0 * f.pruned_interval,
        );
        if bits == 1 && centroid.is_none() {
            assert!(f.recall[3] >= 0.95, "R=100: {}", f.recall[3]);
            assert!(f.recall[0] >= 0.40, "R=10: {}", f.recall[0]);
        }
        if bits == 4 {
            assert!(f.recall[1] >= 0.97, "R=20: {}", f.recall[1]);
        }
    }
}
