//! Recall on the real pypi-minilm-100k embeddings, when present (skipped
//! without the dataset, and in debug builds, which would take minutes):
//! `cargo test --release -p pgvector_rs-ivf --test minilm -- --nocapture`.
//! The recall floors are what this code measured (1,000 queries: 0.762,
//! 0.840, 0.901, 0.946 at 5, 10, 20, 40 probes) less a margin for the
//! query subset; a regression in list assignment or scans fails them.
//! The k-means timing on the full base is a benchmark, ignored by default:
//! `cargo test --release -p pgvector_rs-ivf --test minilm -- --ignored --nocapture`

mod common;

use std::path::{Path, PathBuf};
use std::time::Instant;

use common::npy;
use ivf::kmeans::{kmeans, KMeansParams, Metric, Progress};

const DATASET: &str = "/work/shared/datasets/pypi-minilm-100k";
/// sqrt(rows), the list count the benchmark compares pgvector with.
const LISTS: usize = 316;

fn dataset_file(name: &str) -> Option<PathBuf> {
    let path = Path::new(DATASET).join(name);
    path.exists().then_some(path)
}

#[test]
#[ignore = "needs the pypi-minilm-100k dataset; run in release"]
fn kmeans_on_the_full_base() {
    let Some(path) = dataset_file("base.npy") else {
        eprintln!("dataset not found, skipping");
        return;
    };
    let base = npy::read_f32(&path);
    let dims = base.shape.1;
    let params = KMeansParams::new(LISTS, Metric::Cosine);
    let start = Instant::now();
    let mut iterations = Vec::new();
    let centroids = kmeans(&base.data, dims, &params, &mut |p| {
        if let Progress::Iteration { .. } = p {
            iterations.push((start.elapsed(), p));
        }
    });
    let elapsed = start.elapsed();
    for (at, p) in &iterations {
        eprintln!("{at:.2?} {p:?}");
    }
    eprintln!(
        "k-means on {}x{dims}, k = {LISTS}: {elapsed:.2?} ({} iterations)",
        base.shape.0,
        iterations.len()
    );
    assert_eq!(centroids.len(), LISTS * dims);
}

/// Cosine distance on unit-length f32 payloads, in 8 independent lanes so
/// that release builds vectorise it.
struct CosineF32;

impl ivf::Space for CosineF32 {
    fn distance(&self, query: &[u8], stored: &[u8]) -> f32 {
        let (a, b) = (as_floats(query), as_floats(stored));
        let mut lanes = [0.0f32; 8];
        let (a_chunks, b_chunks) = (a.chunks_exact(8), b.chunks_exact(8));
        let tail: f32 = a_chunks
            .remainder()
            .iter()
            .zip(b_chunks.remainder())
            .map(|(x, y)| x * y)
            .sum();
        for (x, y) in a_chunks.zip(b_chunks) {
            for l in 0..8 {
                lanes[l] += x[l] * y[l];
            }
        }
        1.0 - (lanes.iter().sum::<f32>() + tail)
    }

    fn dense(&self) -> Option<ivf::DenseEncoding> {
        Some(ivf::DenseEncoding {
            element: ivf::Element::F32,
            metric: Metric::Cosine,
        })
    }
}

fn as_floats(bytes: &[u8]) -> std::borrow::Cow<'_, [f32]> {
    match bytemuck::try_cast_slice(bytes) {
        Ok(floats) => std::borrow::Cow::Borrowed(floats),
        Err(_) => std::borrow::Cow::Owned(bytemuck::pod_collect_to_vec(bytes)),
    }
}

fn tid(row: usize) -> pagestore::ItemPointer {
    pagestore::ItemPointer::new((row / 100) as u32, (row % 100 + 1) as u16)
}

fn row_of(tid: pagestore::ItemPointer) -> usize {
    tid.block as usize * 100 + tid.offset as usize - 1
}

/// Recall@10 floors per probes (see the module comment).
const RECALL_FLOORS: [(usize, f64); 4] = [(5, 0.72), (10, 0.80), (20, 0.86), (40, 0.91)];
/// Queries used (of 1,000), to keep the test under a minute.
const QUERIES: usize = 300;

#[test]
fn build_and_recall_like_pgvector() {
    if cfg!(debug_assertions) {
        eprintln!("debug build: skipping (run with --release)");
        return;
    }
    let (Some(base), Some(queries), Some(neighbors)) = (
        dataset_file("base.npy"),
        dataset_file("query.npy"),
        dataset_file("neighbors.npy"),
    ) else {
        eprintln!("dataset not found, skipping");
        return;
    };
    let base = npy::read_f32(&base);
    let queries = npy::read_f32(&queries);
    let neighbors = npy::read_i32(&neighbors);
    let (n, dims) = base.shape;

    // Like pgvector: train on 50 rows per list, then assign every row.
    let start = Instant::now();
    let sample_rows = (LISTS * 50).min(n);
    let stride = n as f64 / sample_rows as f64;
    let sample: Vec<f32> = (0..sample_rows)
        .flat_map(|i| base.row((i as f64 * stride) as usize).iter().copied())
        .collect();
    let centroids = kmeans(
        &sample,
        dims,
        &KMeansParams::new(LISTS, Metric::Cosine),
        &mut |_| {},
    );
    let trained = start.elapsed();
    let rel = pagestore::MemRelation::new();
    let params = ivf::IndexParams {
        dims: dims as u32,
        payload_size: dims * 4,
        space_id: 0,
        quantization: 0,
    };
    let centroid_bytes = bytemuck::cast_slice(&centroids).to_vec();
    let mut builder =
        ivf::IvfBuilder::new(&rel, &CosineF32, params, centroid_bytes, |_| {}).unwrap();
    for i in 0..n {
        builder
            .push(tid(i), bytemuck::cast_slice(base.row(i)))
            .unwrap();
    }
    let stats = builder.finish().unwrap();
    eprintln!(
        "build: k-means on {sample_rows} rows {trained:.2?}, total {:.2?}, {} pages",
        start.elapsed(),
        stats.pages
    );

    let k = 10;
    let nqueries = queries.shape.0.min(QUERIES);
    let mut previous = 0.0;
    for (probes, floor) in RECALL_FLOORS {
        let start = Instant::now();
        let mut hits = 0;
        for q in 0..nqueries {
            let query = bytemuck::cast_slice(queries.row(q));
            let rows = ivf::search(&rel, &CosineF32, query, k, probes).unwrap();
            let truth: std::collections::HashSet<i32> =
                neighbors.row(q)[..k].iter().copied().collect();
            hits += rows
                .iter()
                .filter(|(t, _)| truth.contains(&(row_of(*t) as i32)))
                .count();
        }
        let elapsed = start.elapsed();
        let recall = hits as f64 / (nqueries * k) as f64;
        eprintln!(
            "probes {probes}: recall@{k} {recall:.3}, {:.0} queries/s (one thread)",
            nqueries as f64 / elapsed.as_secs_f64()
        );
        assert!(
            recall >= floor,
            "recall@{k} {recall:.3} at {probes} probes is below {floor}"
        );
        assert!(
            recall >= previous,
            "recall fell from {previous:.3} to {recall:.3} with more probes"
        );
        previous = recall;
    }
}
