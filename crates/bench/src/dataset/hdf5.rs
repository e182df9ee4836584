//! A reader for ann-benchmarks HDF5 files (`glove-100-angular.hdf5`, ...).
//!
//! Those files hold `train` (base vectors), `test` (queries), `neighbors`
//! (ground-truth ids), `distances` and a root attribute `distance`
//! (`angular`, `euclidean`, ...). They are read with the pure-Rust
//! `hdf5-pure` crate, so no libhdf5 is needed at build or run time.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use hdf5_pure::File;

use super::matrix::Matrix;
use super::Dataset;
use crate::metric::Metric;

/// Reads an ann-benchmarks file.
pub fn read_ann_benchmarks(path: &Path) -> Result<Dataset> {
    // Streaming: a multi-gigabyte file is not copied into memory before decoding.
    let file = File::open_streaming(path)
        .map_err(|e| anyhow!("{e}"))
        .with_context(|| format!("opening HDF5 file {}", path.display()))?;
    let distance = file
        .root()
        .attrs()
        .map_err(|e| anyhow!("{e}"))
        .context("reading root attributes")?
        .get("distance")
        .and_then(|value| value.as_str().map(str::to_owned));
    let metric = match distance.as_deref() {
        Some(name) => Some(Metric::from_ann_benchmarks(name).with_context(|| {
            format!(
                "{}: distance {name:?} is not supported (cosine/l2/ip only)",
                path.display()
            )
        })?),
        None => None,
    };
    let has = |name: &str| file.dataset(name).is_ok();
    let read = || -> Result<Dataset> {
        Ok(Dataset {
            name: super::dataset_name(path),
            base: read_matrix(&file, "train", |ds| ds.read_f32())?,
            queries: read_matrix(&file, "test", |ds| ds.read_f32())?,
            neighbors: has("neighbors")
                .then(|| read_matrix(&file, "neighbors", |ds| ds.read_i64()))
                .transpose()?,
            distances: has("distances")
                .then(|| read_matrix(&file, "distances", |ds| ds.read_f32()))
                .transpose()?,
            metric,
        })
    };
    read().with_context(|| format!("reading {}", path.display()))
}

fn read_matrix<T>(
    file: &File,
    name: &str,
    read: impl Fn(&hdf5_pure::Dataset) -> Result<Vec<T>, hdf5_pure::Error>,
) -> Result<Matrix<T>> {
    let dataset = file
        .dataset(name)
        .map_err(|e| anyhow!("{e}"))
        .with_context(|| format!("no dataset {name:?}"))?;
    let shape = dataset
        .shape()
        .map_err(|e| anyhow!("{e}"))
        .with_context(|| format!("reading the shape of {name:?}"))?;
    let (rows, cols) = match shape[..] {
        [rows, cols] => (rows as usize, cols as usize),
        _ => bail!("dataset {name:?} has shape {shape:?}, expected 2-D"),
    };
    let values = read(&dataset)
        .map_err(|e| anyhow!("{e}"))
        .with_context(|| format!("reading dataset {name:?}"))?;
    Matrix::new(rows, cols, values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdf5_pure::{AttrValue, FileBuilder};

    /// Writes a small file shaped like an ann-benchmarks one; `chunked` stores
    /// `train` in chunks, as larger files are.
    fn write_fixture(path: &Path, chunked: bool) {
        let mut builder = FileBuilder::new();
        let train: Vec<f32> = (0..20).map(|i| i as f32).collect();
        let ds = builder
            .create_dataset("train")
            .with_f32_data(&train)
            .with_shape(&[5, 4]);
        if chunked {
            ds.with_chunks(&[2, 4]);
        }
        builder
            .create_dataset("test")
            .with_f32_data(&[1.0, 1.0, 1.0, 1.0])
            .with_shape(&[1, 4]);
        builder
            .create_dataset("neighbors")
            .with_i32_data(&[0, 1])
            .with_shape(&[1, 2]);
        builder
            .create_dataset("distances")
            .with_f32_data(&[0.1, 0.2])
            .with_shape(&[1, 2]);
        builder.set_attr("distance", AttrValue::VarLenString("angular".into()));
        builder.write(path).unwrap();
    }

    #[test]
    fn reads_contiguous_and_chunked_files() {
        let dir = tempfile::tempdir().unwrap();
        for chunked in [false, true] {
            let path = dir.path().join(format!("toy-{chunked}.hdf5"));
            write_fixture(&path, chunked);
            let dataset = read_ann_benchmarks(&path).unwrap();
            assert_eq!((dataset.base.rows(), dataset.base.cols()), (5, 4));
            assert_eq!(dataset.base.row(4), &[16.0, 17.0, 18.0, 19.0]);
            assert_eq!(dataset.queries.rows(), 1);
            assert_eq!(dataset.neighbors.unwrap().as_slice(), &[0, 1]);
            assert_eq!(dataset.distances.unwrap().as_slice(), &[0.1, 0.2]);
            assert_eq!(dataset.metric, Some(Metric::Cosine));
        }
    }

    #[test]
    fn reads_a_file_written_by_h5py() {
        // Made by tests/fixtures/make_h5py_fixture.py with h5py 3 / libhdf5:
        // what real ann-benchmarks files look like on disk (vlen string attribute).
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/h5py-toy-euclidean.hdf5");
        let dataset = read_ann_benchmarks(&path).unwrap();
        assert_eq!(dataset.metric, Some(Metric::L2));
        assert_eq!((dataset.base.rows(), dataset.base.cols()), (40, 3));
        assert_eq!(dataset.base.row(1), &[3.0, 4.0, 5.0]);
        assert_eq!(dataset.queries.rows(), 4);
        let neighbors = dataset.neighbors.unwrap();
        assert_eq!(neighbors.cols(), 5);
        // The fixture's neighbours are exact: check them against brute force.
        let truth = crate::groundtruth::exact_neighbors(
            Metric::L2,
            &dataset.base,
            &dataset.queries,
            5,
            None,
        );
        assert_eq!(truth.ids.as_slice(), neighbors.as_slice());
    }

    #[test]
    fn missing_dataset_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.hdf5");
        let mut builder = FileBuilder::new();
        builder
            .create_dataset("train")
            .with_f32_data(&[1.0])
            .with_shape(&[1, 1]);
        builder.write(&path).unwrap();
        let err = format!("{:#}", read_ann_benchmarks(&path).err().unwrap());
        assert!(err.contains("no dataset \"test\""), "{err}");
    }
}
