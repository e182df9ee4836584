//! Minimal reader for NumPy `.npy` version 1 files (little-endian, C order),
//! enough for the benchmark datasets under `/work/shared/datasets`.

use std::path::Path;

/// A 2-D array read from an `.npy` file.
pub struct Matrix<T> {
    /// Rows × columns.
    pub shape: (usize, usize),
    /// Row-major values.
    pub data: Vec<T>,
}

impl<T> Matrix<T> {
    /// Row `i`.
    pub fn row(&self, i: usize) -> &[T] {
        &self.data[i * self.shape.1..(i + 1) * self.shape.1]
    }
}

/// Reads a float16 (`<f2`) or float32 (`<f4`) matrix as f32.
pub fn read_f32(path: &Path) -> Matrix<f32> {
    let (descr, shape, body) = read(path);
    let data = match descr.as_str() {
        "<f2" => body
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        "<f4" => body
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        other => panic!("{}: unsupported dtype {other}", path.display()),
    };
    Matrix { shape, data }
}

/// Reads an int32 (`<i4`) matrix.
pub fn read_i32(path: &Path) -> Matrix<i32> {
    let (descr, shape, body) = read(path);
    assert_eq!(descr, "<i4", "{}", path.display());
    let data = body
        .chunks_exact(4)
        .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Matrix { shape, data }
}

/// Splits a file into (dtype descriptor, 2-D shape, raw data).
fn read(path: &Path) -> (String, (usize, usize), Vec<u8>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&bytes[..6], b"\x93NUMPY", "not an npy file");
    assert_eq!(bytes[6], 1, "only npy version 1 is supported");
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + header_len]).expect("ascii header");
    assert!(header.contains("'fortran_order': False"), "C order only");
    let descr = quoted_value(header, "'descr':");
    let shape_text = header
        .split("'shape':")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .expect("shape");
    let dims: Vec<usize> = shape_text
        .trim_start_matches([' ', '('])
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let shape = match dims[..] {
        [rows, cols] => (rows, cols),
        [rows] => (rows, 1),
        _ => panic!("unsupported shape {shape_text}"),
    };
    (descr, shape, bytes[10 + header_len..].to_vec())
}

fn quoted_value(header: &str, key: &str) -> String {
    let rest = header.split(key).nth(1).expect("key present");
    rest.split('\'').nth(1).expect("quoted value").to_string()
}
