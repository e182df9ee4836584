//! The subcommands, and the dataset handling they share.

pub mod groundtruth;
pub mod plot;
pub mod run;

use anyhow::Result;

use crate::cli::DatasetArgs;
use crate::dataset::{Dataset, Matrix};
use crate::groundtruth::{exact_neighbors, GroundTruth};
use crate::metric::Metric;
use crate::progress;

/// Loads the dataset named on the command line and says what it holds.
fn load_dataset(args: &DatasetArgs) -> Result<Dataset> {
    let dataset = args.source().load()?;
    progress::status(format!(
        "dataset {}: {} base vectors × {} dimensions, {} queries, ground truth: {}",
        dataset.name,
        dataset.base.rows(),
        dataset.base.cols(),
        dataset.queries.rows(),
        dataset
            .neighbors
            .as_ref()
            .map_or("none".to_string(), |n| format!(
                "{} neighbours per query",
                n.cols()
            ))
    ));
    Ok(dataset)
}

/// The metric to use: the one asked for, else the dataset's, else cosine
/// (what sentence-embedding datasets use). A conflict is only warned about:
/// running a dataset under another metric is legitimate, if unusual.
fn choose_metric(asked: Option<Metric>, dataset: &Dataset) -> Metric {
    match (asked, dataset.metric) {
        (Some(asked), Some(declared)) if asked != declared => {
            progress::status(format!(
                "warning: the dataset declares {} distance, running with {} as asked",
                declared.name(),
                asked.name()
            ));
            asked
        }
        (Some(metric), _) | (None, Some(metric)) => metric,
        (None, None) => Metric::Cosine,
    }
}

/// The first `limit` queries (all when `None`).
fn first_queries(dataset: &Dataset, limit: Option<usize>) -> Matrix<f32> {
    let mut queries = dataset.queries.clone();
    queries.truncate_rows(limit.unwrap_or(usize::MAX));
    queries
}

/// Exact neighbours by brute force, with a progress bar.
fn compute_ground_truth(
    dataset: &Dataset,
    queries: &Matrix<f32>,
    metric: Metric,
    k: usize,
) -> GroundTruth {
    let bar = progress::bar(queries.rows() as u64, "ground truth");
    let truth = exact_neighbors(metric, &dataset.base, queries, k, Some(&bar));
    bar.finish_and_clear();
    progress::status(format!(
        "computed exact ground truth ({} distance, top {k}) for {} queries in {:.1} s",
        metric.name(),
        queries.rows(),
        bar.elapsed().as_secs_f64()
    ));
    truth
}
