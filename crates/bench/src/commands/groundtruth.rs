//! `groundtruth`: compute exact neighbours once and save them next to the
//! data, so later runs (and other tools) need not recompute them.

use anyhow::{Context, Result};

use crate::cli::GroundtruthArgs;
use crate::dataset::npy::write_npy;
use crate::progress;

pub fn run(args: &GroundtruthArgs) -> Result<()> {
    let dataset = super::load_dataset(&args.dataset)?;
    let metric = super::choose_metric(args.metric, &dataset);
    let queries = super::first_queries(&dataset, args.queries);
    let truth = super::compute_ground_truth(&dataset, &queries, metric, args.k);

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let shape = [truth.ids.rows(), truth.ids.cols()];
    let ids: Vec<u8> = truth
        .ids
        .as_slice()
        .iter()
        .map(|&id| i32::try_from(id).context("id does not fit int32"))
        .collect::<Result<Vec<i32>>>()?
        .iter()
        .flat_map(|id| id.to_le_bytes())
        .collect();
    let distances: Vec<u8> = truth
        .distances
        .as_slice()
        .iter()
        .flat_map(|d| d.to_le_bytes())
        .collect();
    let neighbors_path = args.out.join("neighbors.npy");
    let distances_path = args.out.join("distances.npy");
    write_npy(&neighbors_path, "<i4", &shape, &ids)?;
    write_npy(&distances_path, "<f4", &shape, &distances)?;
    progress::status(format!(
        "wrote {} and {} ({} × {})",
        neighbors_path.display(),
        distances_path.display(),
        shape[0],
        shape[1]
    ));
    Ok(())
}
