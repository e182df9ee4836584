//! Datasets: base vectors, queries and (optionally) ground truth, from
//! `.npy` directories, TEXMEX `.fvecs`/`.bvecs`/`.ivecs` files or
//! ann-benchmarks HDF5 files.

pub mod hdf5;
pub mod matrix;
pub mod npy;
pub mod vecs;

use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};

pub use matrix::Matrix;

use crate::metric::Metric;

/// Everything a benchmark run needs from the data side. Row `i` of `base`
/// has id `i`, which is what ground-truth files refer to.
pub struct Dataset {
    /// Short name for reports (directory or file stem).
    pub name: String,
    pub base: Matrix<f32>,
    pub queries: Matrix<f32>,
    /// Ids of the exact nearest base rows per query, nearest first.
    pub neighbors: Option<Matrix<i64>>,
    /// The matching distances, when the dataset ships them.
    pub distances: Option<Matrix<f32>>,
    /// The metric the dataset declares (ann-benchmarks files do).
    pub metric: Option<Metric>,
}

/// Where to read a dataset from: a directory or HDF5 file, and/or explicit
/// per-role files that override what the directory would supply.
#[derive(Clone, Debug, Default)]
pub struct DatasetSource {
    pub path: Option<PathBuf>,
    pub base: Option<PathBuf>,
    pub query: Option<PathBuf>,
    pub groundtruth: Option<PathBuf>,
    /// Keep only the first N base rows; shipped ground truth is then dropped.
    pub max_base: Option<usize>,
}

/// File names accepted for each role inside a dataset directory, either
/// exactly or after a prefix and `_` (as in `sift_base.fvecs`).
const BASE_NAMES: &[&str] = &["base.npy", "base.fvecs", "base.bvecs"];
const QUERY_NAMES: &[&str] = &["query.npy", "queries.npy", "query.fvecs", "query.bvecs"];
const NEIGHBOR_NAMES: &[&str] = &[
    "neighbors.npy",
    "groundtruth.npy",
    "groundtruth.ivecs",
    "neighbors.ivecs",
];
const DISTANCE_NAMES: &[&str] = &["distances.npy"];

impl DatasetSource {
    pub fn load(&self) -> Result<Dataset> {
        let mut dataset = match &self.path {
            Some(path) if path.is_dir() => self.load_directory(path)?,
            Some(path) if is_hdf5(path) => {
                ensure!(
                    self.base.is_none() && self.query.is_none(),
                    "--base/--query cannot override parts of an HDF5 dataset"
                );
                let mut dataset = hdf5::read_ann_benchmarks(path)?;
                if let Some(gt) = &self.groundtruth {
                    dataset.neighbors = Some(read_ids(gt)?);
                    dataset.distances = None;
                }
                dataset
            }
            Some(path) if path.exists() => {
                bail!(
                    "{}: expected a directory or an .hdf5/.h5 file",
                    path.display()
                )
            }
            Some(path) => bail!("dataset {} does not exist", path.display()),
            None => self.load_files()?,
        };
        if let Some(max_base) = self.max_base {
            dataset.base.truncate_rows(max_base);
            // Neighbours found in the whole file are not those of a prefix of
            // it (and the readers stop early, so we cannot tell whether
            // anything was cut): a subset always gets fresh ground truth.
            dataset.neighbors = None;
            dataset.distances = None;
        }
        dataset.validate()?;
        Ok(dataset)
    }

    fn load_directory(&self, dir: &Path) -> Result<Dataset> {
        let base = match &self.base {
            Some(path) => path.clone(),
            None => find_role(dir, BASE_NAMES)?.with_context(|| {
                format!(
                    "{}: no base file ({})",
                    dir.display(),
                    BASE_NAMES.join(", ")
                )
            })?,
        };
        let query = match &self.query {
            Some(path) => path.clone(),
            None => find_role(dir, QUERY_NAMES)?.with_context(|| {
                format!(
                    "{}: no query file ({})",
                    dir.display(),
                    QUERY_NAMES.join(", ")
                )
            })?,
        };
        let groundtruth = match &self.groundtruth {
            Some(path) => Some(path.clone()),
            None => find_role(dir, NEIGHBOR_NAMES)?,
        };
        // Shipped distances only belong to the shipped neighbours.
        let distances = match self.groundtruth {
            Some(_) => None,
            None => find_role(dir, DISTANCE_NAMES)?,
        };
        Ok(Dataset {
            name: dataset_name(dir),
            base: read_vectors(&base, self.max_base)?,
            queries: read_vectors(&query, None)?,
            neighbors: groundtruth.as_deref().map(read_ids).transpose()?,
            distances: distances
                .as_deref()
                .map(|p| npy::read_npy(p)?.into_f32_matrix())
                .transpose()?,
            metric: None,
        })
    }

    fn load_files(&self) -> Result<Dataset> {
        let (Some(base), Some(query)) = (&self.base, &self.query) else {
            bail!("give --dataset, or both --base and --query");
        };
        Ok(Dataset {
            name: dataset_name(base),
            base: read_vectors(base, self.max_base)?,
            queries: read_vectors(query, None)?,
            neighbors: self.groundtruth.as_deref().map(read_ids).transpose()?,
            distances: None,
            metric: None,
        })
    }
}

impl Dataset {
    /// Checks that the parts fit together, so mistakes surface before a long load.
    pub fn validate(&self) -> Result<()> {
        ensure!(self.base.rows() > 0, "the base set is empty");
        ensure!(self.queries.rows() > 0, "the query set is empty");
        ensure!(
            self.base.cols() == self.queries.cols(),
            "base vectors have {} dimensions but queries have {}",
            self.base.cols(),
            self.queries.cols()
        );
        if let Some(neighbors) = &self.neighbors {
            ensure!(
                neighbors.rows() >= self.queries.rows(),
                "ground truth has {} rows for {} queries",
                neighbors.rows(),
                self.queries.rows()
            );
            let rows = self.base.rows() as i64;
            if let Some(bad) = neighbors
                .as_slice()
                .iter()
                .find(|&&id| id < 0 || id >= rows)
            {
                bail!("ground truth refers to id {bad}, but the base set has {rows} rows");
            }
        }
        if let (Some(neighbors), Some(distances)) = (&self.neighbors, &self.distances) {
            ensure!(
                (distances.rows(), distances.cols()) == (neighbors.rows(), neighbors.cols()),
                "distances are {}×{} but neighbours are {}×{}",
                distances.rows(),
                distances.cols(),
                neighbors.rows(),
                neighbors.cols()
            );
        }
        Ok(())
    }
}

fn is_hdf5(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("hdf5" | "h5")
    )
}

/// The dataset's name for reports: the file stem or directory name.
pub fn dataset_name(path: &Path) -> String {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Finds the one file in `dir` that plays a role; errors if several do.
fn find_role(dir: &Path, names: &[&str]) -> Result<Option<PathBuf>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry?.path();
        let Some(file_name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let plays_role = names.iter().any(|name| {
            file_name == *name
                || file_name
                    .strip_suffix(name)
                    .is_some_and(|prefix| prefix.ends_with('_'))
        });
        if plays_role {
            found.push(path);
        }
    }
    found.sort();
    match found.len() {
        0 | 1 => Ok(found.pop()),
        _ => bail!(
            "{}: several candidate files {:?}; name one explicitly",
            dir.display(),
            found
        ),
    }
}

/// Reads a vector file by extension: `.npy`, `.fvecs` or `.bvecs`.
pub fn read_vectors(path: &Path, limit: Option<usize>) -> Result<Matrix<f32>> {
    let mut matrix = match path.extension().and_then(|e| e.to_str()) {
        Some("npy") => npy::read_npy(path)?.into_f32_matrix()?,
        Some("fvecs") => return vecs::read_fvecs(path, limit),
        Some("bvecs") => return vecs::read_bvecs(path, limit),
        _ => bail!(
            "{}: unknown vector file type (.npy, .fvecs, .bvecs)",
            path.display()
        ),
    };
    matrix.truncate_rows(limit.unwrap_or(usize::MAX));
    Ok(matrix)
}

/// Reads a neighbour-id file by extension: `.npy` or `.ivecs`.
pub fn read_ids(path: &Path) -> Result<Matrix<i64>> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("npy") => npy::read_npy(path)?.into_i64_matrix(),
        Some("ivecs") => vecs::read_ivecs(path, None),
        _ => bail!(
            "{}: unknown ground-truth file type (.npy, .ivecs)",
            path.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vecs::tests::encode;

    fn write_f32_npy(path: &Path, rows: usize, cols: usize, values: &[f32]) {
        let data: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        npy::write_npy(path, "<f4", &[rows, cols], &data).unwrap();
    }

    #[test]
    fn loads_npy_directory_by_role() {
        let dir = tempfile::tempdir().unwrap();
        write_f32_npy(
            &dir.path().join("base.npy"),
            3,
            2,
            &[0.0, 1.0, 1.0, 0.0, 1.0, 1.0],
        );
        write_f32_npy(&dir.path().join("query.npy"), 1, 2, &[1.0, 0.9]);
        let ids: Vec<u8> = [2i32, 0].iter().flat_map(|v| v.to_le_bytes()).collect();
        npy::write_npy(&dir.path().join("neighbors.npy"), "<i4", &[1, 2], &ids).unwrap();
        let source = DatasetSource {
            path: Some(dir.path().into()),
            ..Default::default()
        };
        let dataset = source.load().unwrap();
        assert_eq!(dataset.base.rows(), 3);
        assert_eq!(dataset.neighbors.unwrap().as_slice(), &[2, 0]);
        assert!(dataset.distances.is_none());

        // Taking a subset of the base set drops the shipped ground truth.
        let source = DatasetSource {
            max_base: Some(2),
            ..source
        };
        let dataset = source.load().unwrap();
        assert_eq!(dataset.base.rows(), 2);
        assert!(dataset.neighbors.is_none());
    }

    #[test]
    fn loads_texmex_directory_with_prefixes() {
        let dir = tempfile::tempdir().unwrap();
        let write =
            |name: &str, bytes: Vec<u8>| std::fs::write(dir.path().join(name), bytes).unwrap();
        write(
            "sift_base.fvecs",
            encode(&[&[0.0f32, 0.0], &[1.0, 1.0]], f32::to_le_bytes),
        );
        write(
            "sift_query.fvecs",
            encode(&[&[0.9f32, 0.9]], f32::to_le_bytes),
        );
        write(
            "sift_groundtruth.ivecs",
            encode(&[&[1i32, 0]], i32::to_le_bytes),
        );
        write(
            "sift_learn.fvecs",
            encode(&[&[5.0f32, 5.0]], f32::to_le_bytes),
        );
        let source = DatasetSource {
            path: Some(dir.path().into()),
            ..Default::default()
        };
        let dataset = source.load().unwrap();
        assert_eq!(dataset.base.rows(), 2);
        assert_eq!(dataset.queries.row(0), &[0.9, 0.9]);
        assert_eq!(dataset.neighbors.unwrap().as_slice(), &[1, 0]);
    }

    #[test]
    fn rejects_mismatched_parts() {
        let dir = tempfile::tempdir().unwrap();
        write_f32_npy(&dir.path().join("base.npy"), 2, 2, &[0.0; 4]);
        write_f32_npy(&dir.path().join("query.npy"), 1, 3, &[0.0; 3]);
        let source = DatasetSource {
            path: Some(dir.path().into()),
            ..Default::default()
        };
        let err = source.load().err().unwrap().to_string();
        assert!(err.contains("2 dimensions but queries have 3"), "{err}");

        write_f32_npy(&dir.path().join("query.npy"), 1, 2, &[0.0; 2]);
        let ids: Vec<u8> = [7i32].iter().flat_map(|v| v.to_le_bytes()).collect();
        npy::write_npy(&dir.path().join("neighbors.npy"), "<i4", &[1, 1], &ids).unwrap();
        let err = source.load().err().unwrap().to_string();
        assert!(err.contains("refers to id 7"), "{err}");
    }
}
