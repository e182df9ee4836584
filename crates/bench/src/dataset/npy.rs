//! A reader for NumPy `.npy` files (format versions 1, 2 and 3).
//!
//! The format is a magic string, a version, a little-endian header length and
//! a Python dict literal such as
//! `{'descr': '<f2', 'fortran_order': False, 'shape': (100000, 384), }`,
//! followed by the raw array. Only what ANN datasets use is supported:
//! little-endian float16/32/64 and int32/64 in C (row-major) order; anything
//! else is refused with an error that names the problem.

use std::path::Path;

use anyhow::{bail, ensure, Context, Result};
use half::f16;

use super::matrix::Matrix;

const MAGIC: &[u8] = b"\x93NUMPY";

/// Element types this reader understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NpyDtype {
    F16,
    F32,
    F64,
    I32,
    I64,
}

impl NpyDtype {
    /// Parses a NumPy type string such as `<f4`.
    pub fn from_descr(descr: &str) -> Result<Self> {
        let supported = "supported: <f2, <f4, <f8, <i4, <i8";
        let (order, kind) = descr.split_at(descr.len().min(1));
        match order {
            // '=' is native order, which is little-endian on every platform we build for.
            "<" | "=" => {}
            ">" => bail!("big-endian dtype {descr:?} is not supported ({supported})"),
            _ => bail!("unsupported dtype {descr:?} ({supported})"),
        }
        Ok(match kind {
            "f2" => Self::F16,
            "f4" => Self::F32,
            "f8" => Self::F64,
            "i4" => Self::I32,
            "i8" => Self::I64,
            _ => bail!("unsupported dtype {descr:?} ({supported})"),
        })
    }

    pub fn size(self) -> usize {
        match self {
            Self::F16 => 2,
            Self::F32 | Self::I32 => 4,
            Self::F64 | Self::I64 => 8,
        }
    }
}

/// The parsed header: element type and shape (always C order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NpyHeader {
    pub dtype: NpyDtype,
    pub shape: Vec<usize>,
}

/// An array as stored: header plus raw little-endian bytes.
pub struct NpyArray {
    pub header: NpyHeader,
    data: Vec<u8>,
}

/// Reads a whole `.npy` file.
pub fn read_npy(path: &Path) -> Result<NpyArray> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    parse_npy(bytes).with_context(|| format!("parsing {} as .npy", path.display()))
}

/// Parses the bytes of a `.npy` file.
pub fn parse_npy(mut bytes: Vec<u8>) -> Result<NpyArray> {
    let (header, data_offset) = parse_header(&bytes)?;
    let expected = header
        .shape
        .iter()
        .try_fold(header.dtype.size(), |acc, &d| acc.checked_mul(d))
        .context("array size overflows")?;
    let actual = bytes.len() - data_offset;
    ensure!(
        actual == expected,
        "shape {:?} of {:?} needs {expected} data bytes, file has {actual}",
        header.shape,
        header.dtype
    );
    bytes.drain(..data_offset);
    Ok(NpyArray {
        header,
        data: bytes,
    })
}

/// Parses the preamble and header dict; returns the header and where the data starts.
pub fn parse_header(bytes: &[u8]) -> Result<(NpyHeader, usize)> {
    ensure!(
        bytes.len() >= 10 && bytes.starts_with(MAGIC),
        "not a NumPy .npy file (missing \\x93NUMPY magic)"
    );
    let major = bytes[6];
    // Version 1 stores the header length in 2 bytes, versions 2 and 3 in 4.
    let (len_size, header_len) = match major {
        1 => (2, u16::from_le_bytes([bytes[8], bytes[9]]) as usize),
        2 | 3 => {
            ensure!(bytes.len() >= 12, "truncated .npy preamble");
            (
                4,
                u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize,
            )
        }
        _ => bail!("unsupported .npy format version {major}.{}", bytes[7]),
    };
    let start = 8 + len_size;
    let end = start + header_len;
    ensure!(bytes.len() >= end, "truncated .npy header");
    let text = std::str::from_utf8(&bytes[start..end]).context("header is not text")?;
    let dict = PyLiteralParser::new(text).parse_dict()?;

    let mut descr = None;
    let mut fortran_order = None;
    let mut shape = None;
    for (key, value) in dict {
        match (key.as_str(), value) {
            ("descr", PyValue::Str(s)) => descr = Some(s),
            ("fortran_order", PyValue::Bool(b)) => fortran_order = Some(b),
            ("shape", PyValue::Tuple(dims)) => shape = Some(dims),
            (key @ ("descr" | "fortran_order" | "shape"), value) => {
                bail!("header key {key:?} has unexpected value {value:?}")
            }
            _ => {} // Unknown keys are allowed by the format and carry nothing we need.
        }
    }
    let descr = descr.context("header has no 'descr'")?;
    ensure!(
        !fortran_order.context("header has no 'fortran_order'")?,
        "Fortran-order (column-major) arrays are not supported; save with C order \
         (numpy.ascontiguousarray)"
    );
    let shape = shape.context("header has no 'shape'")?;
    let dtype = NpyDtype::from_descr(&descr)?;
    Ok((NpyHeader { dtype, shape }, end))
}

impl NpyArray {
    /// The array as a 2-D matrix of `f32` (float16/float64/integers are converted).
    pub fn into_f32_matrix(self) -> Result<Matrix<f32>> {
        let (rows, cols) = self.matrix_shape()?;
        let values: Vec<f32> = match self.header.dtype {
            NpyDtype::F16 => decode(&self.data, |b| f16::from_le_bytes(b).to_f32()),
            NpyDtype::F32 => decode(&self.data, f32::from_le_bytes),
            NpyDtype::F64 => decode(&self.data, |b| f64::from_le_bytes(b) as f32),
            NpyDtype::I32 => decode(&self.data, |b| i32::from_le_bytes(b) as f32),
            NpyDtype::I64 => decode(&self.data, |b| i64::from_le_bytes(b) as f32),
        };
        Matrix::new(rows, cols, values)
    }

    /// The array as a 2-D matrix of ids; fails for floating-point dtypes.
    pub fn into_i64_matrix(self) -> Result<Matrix<i64>> {
        let (rows, cols) = self.matrix_shape()?;
        let values: Vec<i64> = match self.header.dtype {
            NpyDtype::I32 => decode(&self.data, |b| i64::from(i32::from_le_bytes(b))),
            NpyDtype::I64 => decode(&self.data, i64::from_le_bytes),
            other => bail!("expected an integer array of ids, got dtype {other:?}"),
        };
        Matrix::new(rows, cols, values)
    }

    fn matrix_shape(&self) -> Result<(usize, usize)> {
        match self.header.shape[..] {
            [rows, cols] => Ok((rows, cols)),
            _ => bail!("expected a 2-D array, got shape {:?}", self.header.shape),
        }
    }
}

/// Decodes fixed-size little-endian elements.
fn decode<const N: usize, T>(bytes: &[u8], from_le: impl Fn([u8; N]) -> T) -> Vec<T> {
    bytes
        .chunks_exact(N)
        .map(|chunk| from_le(chunk.try_into().unwrap()))
        .collect()
}

/// Writes a version-1 `.npy` file; used by tests and by `groundtruth` output.
pub fn write_npy(path: &Path, descr: &str, shape: &[usize], data: &[u8]) -> Result<()> {
    let shape_text = match shape {
        [single] => format!("({single},)"),
        dims => format!(
            "({})",
            dims.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_text}, }}");
    // NumPy pads the header with spaces so the data starts on a 64-byte boundary.
    let unpadded = MAGIC.len() + 2 + 2 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(unpadded + 64 + data.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    std::fs::write(path, out).with_context(|| format!("writing {}", path.display()))
}

/// A value in the header dict: the only Python literals NumPy writes there.
#[derive(Debug, PartialEq)]
enum PyValue {
    Str(String),
    Bool(bool),
    Tuple(Vec<usize>),
}

/// A recursive-descent parser for the small subset of Python literal syntax
/// used by `.npy` headers.
struct PyLiteralParser<'a> {
    rest: &'a str,
}

impl<'a> PyLiteralParser<'a> {
    fn new(text: &'a str) -> Self {
        Self { rest: text }
    }

    fn skip_whitespace(&mut self) {
        self.rest = self.rest.trim_start();
    }

    /// Consumes `token` if it comes next (after whitespace).
    fn eat(&mut self, token: &str) -> bool {
        self.skip_whitespace();
        match self.rest.strip_prefix(token) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    fn expect(&mut self, token: &str) -> Result<()> {
        ensure!(
            self.eat(token),
            "malformed .npy header: expected {token:?} at {:?}",
            self.rest
        );
        Ok(())
    }

    fn parse_dict(&mut self) -> Result<Vec<(String, PyValue)>> {
        self.expect("{")?;
        let mut entries = Vec::new();
        while !self.eat("}") {
            let key = self.parse_string()?;
            self.expect(":")?;
            entries.push((key, self.parse_value()?));
            if !self.eat(",") {
                self.expect("}")?;
                break;
            }
        }
        Ok(entries)
    }

    fn parse_value(&mut self) -> Result<PyValue> {
        self.skip_whitespace();
        if self.eat("True") {
            Ok(PyValue::Bool(true))
        } else if self.eat("False") {
            Ok(PyValue::Bool(false))
        } else if self.rest.starts_with('(') {
            self.parse_tuple().map(PyValue::Tuple)
        } else {
            self.parse_string().map(PyValue::Str)
        }
    }

    fn parse_string(&mut self) -> Result<String> {
        self.skip_whitespace();
        let quote = self
            .rest
            .chars()
            .next()
            .filter(|c| *c == '\'' || *c == '"')
            .with_context(|| {
                format!(
                    "malformed .npy header: expected a string at {:?}",
                    self.rest
                )
            })?;
        let body = &self.rest[1..];
        let end = body
            .find(quote)
            .context("malformed .npy header: unterminated string")?;
        self.rest = &body[end + 1..];
        Ok(body[..end].to_string())
    }

    fn parse_tuple(&mut self) -> Result<Vec<usize>> {
        self.expect("(")?;
        let mut dims = Vec::new();
        while !self.eat(")") {
            self.skip_whitespace();
            let digits = self.rest.len()
                - self
                    .rest
                    .trim_start_matches(|c: char| c.is_ascii_digit())
                    .len();
            let (number, rest) = self.rest.split_at(digits);
            // Python 2 era files wrote long integers as `100000L`.
            self.rest = rest.strip_prefix('L').unwrap_or(rest);
            dims.push(number.parse().with_context(|| {
                format!(
                    "malformed .npy header: expected a dimension at {:?}",
                    self.rest
                )
            })?);
            if !self.eat(",") {
                self.expect(")")?;
                break;
            }
        }
        Ok(dims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn le_bytes<const N: usize, T: Copy>(values: &[T], to_le: impl Fn(T) -> [u8; N]) -> Vec<u8> {
        values.iter().flat_map(|&v| to_le(v)).collect()
    }

    #[test]
    fn reads_float16_matrix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("base.npy");
        let values = [0.5f32, -1.25, 3.0, 65504.0, 0.0, 1.0e-3];
        let data = le_bytes(&values, |v| f16::from_f32(v).to_le_bytes());
        write_npy(&path, "<f2", &[2, 3], &data).unwrap();

        let m = read_npy(&path).unwrap().into_f32_matrix().unwrap();
        assert_eq!((m.rows(), m.cols()), (2, 3));
        assert_eq!(&m.as_slice()[..5], &values[..5]);
        // 1e-3 is not exact in float16: the reader must give the float16 value.
        assert_eq!(m.as_slice()[5], f16::from_f32(1.0e-3).to_f32());
    }

    #[test]
    fn reads_every_supported_dtype() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.npy");
        let cases: [(&str, Vec<u8>); 4] = [
            ("<f4", le_bytes(&[1.5f32, 2.0], f32::to_le_bytes)),
            ("<f8", le_bytes(&[1.5f64, 2.0], f64::to_le_bytes)),
            ("<i4", le_bytes(&[7i32, -2], i32::to_le_bytes)),
            ("<i8", le_bytes(&[7i64, -2], i64::to_le_bytes)),
        ];
        for (descr, data) in cases {
            write_npy(&path, descr, &[1, 2], &data).unwrap();
            let floats = read_npy(&path).unwrap().into_f32_matrix().unwrap();
            assert_eq!(floats.cols(), 2, "{descr}");
            if descr.contains('i') {
                let ids = read_npy(&path).unwrap().into_i64_matrix().unwrap();
                assert_eq!(ids.as_slice(), &[7, -2], "{descr}");
            } else {
                assert_eq!(floats.as_slice(), &[1.5, 2.0], "{descr}");
                assert!(read_npy(&path).unwrap().into_i64_matrix().is_err());
            }
        }
    }

    #[test]
    fn written_header_is_64_byte_aligned_and_parses() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("n.npy");
        write_npy(&path, "<i4", &[1000, 100], &vec![0; 400_000]).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let (header, offset) = parse_header(&bytes).unwrap();
        assert_eq!(offset % 64, 0);
        assert_eq!(header.shape, vec![1000, 100]);
        assert_eq!(header.dtype, NpyDtype::I32);
    }

    #[test]
    fn parses_numpy_written_header_variants() {
        // Exactly what numpy 1.x writes, plus a Python 2 style long and double quotes.
        let text = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }";
        let dict = PyLiteralParser::new(text).parse_dict().unwrap();
        assert_eq!(dict[2].1, PyValue::Tuple(vec![3]));
        let text = "{\"descr\": \"<i8\", \"shape\": (2L, 5L), \"fortran_order\": False}";
        let dict = PyLiteralParser::new(text).parse_dict().unwrap();
        assert_eq!(dict[1].1, PyValue::Tuple(vec![2, 5]));
    }

    fn header_error(descr: &str, fortran: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.npy");
        let mut bytes = Vec::new();
        let header =
            format!("{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': (1, 2), }}\n");
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&[1, 0]);
        bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(&[0; 16]);
        std::fs::write(&path, bytes).unwrap();
        format!("{:#}", read_npy(&path).err().expect("must fail"))
    }

    #[test]
    fn refuses_unsupported_headers_with_clear_errors() {
        assert!(header_error("<f4", "True").contains("Fortran-order"));
        assert!(header_error(">f4", "False").contains("big-endian"));
        assert!(header_error("<c8", "False").contains("unsupported dtype"));
        // Right header, wrong amount of data (16 bytes for a 1×2 float16 array).
        assert!(header_error("<f2", "False").contains("needs 4 data bytes"));
    }

    #[test]
    fn refuses_garbage() {
        assert!(parse_npy(b"PK\x03\x04 not numpy".to_vec()).is_err());
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&[1, 0, 20, 0]);
        bytes.extend_from_slice(b"{'descr': '<f4'");
        let err = format!("{:#}", parse_npy(bytes).err().unwrap());
        assert!(err.contains("truncated"), "{err}");
    }
}
