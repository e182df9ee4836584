//! Readers for the TEXMEX `.fvecs` / `.bvecs` / `.ivecs` formats (SIFT, GIST, ...).
//!
//! Each record is a little-endian `int32` dimension followed by that many
//! elements: `float32` (fvecs), `uint8` (bvecs) or `int32` (ivecs).

use std::path::Path;

use anyhow::{bail, ensure, Context, Result};

use super::matrix::Matrix;

/// Reads float vectors; `limit` keeps only the first rows (for huge files).
pub fn read_fvecs(path: &Path, limit: Option<usize>) -> Result<Matrix<f32>> {
    read_records(path, 4, limit, |b| {
        f32::from_le_bytes(b.try_into().unwrap())
    })
}

/// Reads byte vectors (e.g. SIFT1B), widened to `f32`.
pub fn read_bvecs(path: &Path, limit: Option<usize>) -> Result<Matrix<f32>> {
    read_records(path, 1, limit, |b| f32::from(b[0]))
}

/// Reads integer vectors: ground-truth neighbour ids.
pub fn read_ivecs(path: &Path, limit: Option<usize>) -> Result<Matrix<i64>> {
    read_records(path, 4, limit, |b| {
        i64::from(i32::from_le_bytes(b.try_into().unwrap()))
    })
}

fn read_records<T>(
    path: &Path,
    element_size: usize,
    limit: Option<usize>,
    decode: impl Fn(&[u8]) -> T,
) -> Result<Matrix<T>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    parse_records(&bytes, element_size, limit, decode)
        .with_context(|| format!("parsing {}", path.display()))
}

fn parse_records<T>(
    bytes: &[u8],
    element_size: usize,
    limit: Option<usize>,
    decode: impl Fn(&[u8]) -> T,
) -> Result<Matrix<T>> {
    if bytes.is_empty() {
        return Matrix::new(0, 0, Vec::new());
    }
    ensure!(bytes.len() >= 4, "file is shorter than one record header");
    let dim = i32::from_le_bytes(bytes[..4].try_into().unwrap());
    ensure!(dim > 0, "first record has dimension {dim}");
    let dim = dim as usize;
    let record_size = 4 + dim * element_size;
    ensure!(
        bytes.len().is_multiple_of(record_size),
        "file size {} is not a multiple of the record size {record_size} \
         (dimension {dim}); wrong format (fvecs/bvecs/ivecs) or a truncated file?",
        bytes.len()
    );
    let rows = (bytes.len() / record_size).min(limit.unwrap_or(usize::MAX));
    let mut values = Vec::with_capacity(rows * dim);
    for (row, record) in bytes.chunks_exact(record_size).take(rows).enumerate() {
        let this_dim = i32::from_le_bytes(record[..4].try_into().unwrap());
        if this_dim as usize != dim {
            bail!("record {row} has dimension {this_dim}, the first had {dim}");
        }
        values.extend(record[4..].chunks_exact(element_size).map(&decode));
    }
    Matrix::new(rows, dim, values)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Encodes rows in the TEXMEX layout.
    pub(crate) fn encode<T: Copy, const N: usize>(
        rows: &[&[T]],
        to_le: impl Fn(T) -> [u8; N],
    ) -> Vec<u8> {
        let mut out = Vec::new();
        for row in rows {
            out.extend_from_slice(&(row.len() as i32).to_le_bytes());
            for &v in *row {
                out.extend_from_slice(&to_le(v));
            }
        }
        out
    }

    #[test]
    fn reads_fvecs_ivecs_bvecs() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("base.fvecs");
        std::fs::write(
            &f,
            encode(&[&[1.0f32, 2.0, 3.0], &[4.0, 5.5, -6.0]], f32::to_le_bytes),
        )
        .unwrap();
        let m = read_fvecs(&f, None).unwrap();
        assert_eq!((m.rows(), m.cols()), (2, 3));
        assert_eq!(m.row(1), &[4.0, 5.5, -6.0]);
        assert_eq!(read_fvecs(&f, Some(1)).unwrap().rows(), 1);

        let i = dir.path().join("gt.ivecs");
        std::fs::write(&i, encode(&[&[9i32, 8], &[7, 6]], i32::to_le_bytes)).unwrap();
        assert_eq!(read_ivecs(&i, None).unwrap().as_slice(), &[9, 8, 7, 6]);

        let b = dir.path().join("base.bvecs");
        std::fs::write(&b, encode(&[&[0u8, 255]], |v| [v])).unwrap();
        assert_eq!(read_bvecs(&b, None).unwrap().as_slice(), &[0.0, 255.0]);
    }

    #[test]
    fn rejects_inconsistent_files() {
        // Dimension changes between records.
        let bytes = encode(&[&[1.0f32, 2.0], &[3.0, 4.0]], f32::to_le_bytes);
        let mut changed = bytes.clone();
        changed[12..16].copy_from_slice(&1i32.to_le_bytes());
        let err = parse_records(&changed, 4, None, |b| b[0])
            .unwrap_err()
            .to_string();
        assert!(err.contains("record 1 has dimension 1"), "{err}");
        // Truncated.
        let err = parse_records(&bytes[..bytes.len() - 1], 4, None, |b| b[0])
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a multiple"), "{err}");
    }
}
