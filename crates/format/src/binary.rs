//! The binary send/receive formats (network byte order), identical to pgvector's so that
//! COPY BINARY files and binary-protocol drivers interoperate:
//!
//! - vector:    int16 dim, int16 unused (0), dim × float4
//! - halfvec:   int16 dim, int16 unused (0), dim × uint16 (IEEE half bits)
//! - sparsevec: int32 dim, int32 nnz, int32 unused (0), nnz × int32 index (0-based),
//!   nnz × float4 value (non-zero)
//!
//! Decoders validate everything before the caller allocates a datum and report how many
//! bytes they consumed; Postgres itself rejects bytes left over after a field.

use crate::error::{Result, SqlState, VectorError};
use crate::limits::{self, Kind};
use half::f16;

/// A cursor over received bytes; running short is a clean error, never a panic.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N]> {
        let end = self.pos + N;
        let chunk = self
            .bytes
            .get(self.pos..end)
            .ok_or_else(insufficient_data)?;
        self.pos = end;
        Ok(chunk.try_into().expect("slice has N bytes"))
    }
    fn i16(&mut self) -> Result<i16> {
        Ok(i16::from_be_bytes(self.take()?))
    }
    fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_be_bytes(self.take()?))
    }
    fn i32(&mut self) -> Result<i32> {
        Ok(i32::from_be_bytes(self.take()?))
    }
    fn f32(&mut self) -> Result<f32> {
        Ok(f32::from_be_bytes(self.take()?))
    }
}

/// Postgres's pq_getmsg* error when a message runs short (08P01).
fn insufficient_data() -> VectorError {
    VectorError::new(
        SqlState::ProtocolViolation,
        "insufficient data left in message",
    )
}

fn check_unused(unused: i32) -> Result<()> {
    if unused != 0 {
        return Err(VectorError::data(format!(
            "expected unused to be 0, not {unused}"
        )));
    }
    Ok(())
}

/// Decode a received `vector`; returns the elements and the bytes consumed.
pub fn decode_vector(bytes: &[u8], typmod: i32) -> Result<(Vec<f32>, usize)> {
    let mut r = Reader { bytes, pos: 0 };
    let dim = r.i16()?;
    let unused = r.i16()?;
    limits::check_dim(Kind::Vector, dim as i64)?;
    limits::check_expected_dim(typmod, dim as i64)?;
    check_unused(unused as i32)?;
    // Elements are read and checked one at a time, as pgvector does: a bad element is
    // reported before a short message. dim <= 16000 bounds the allocation.
    let mut values = Vec::with_capacity(dim as usize);
    for _ in 0..dim {
        let v = r.f32()?;
        limits::check_element(Kind::Vector, v)?;
        values.push(v);
    }
    Ok((values, r.pos))
}

/// Decode a received `halfvec`.
pub fn decode_halfvec(bytes: &[u8], typmod: i32) -> Result<(Vec<f16>, usize)> {
    let mut r = Reader { bytes, pos: 0 };
    let dim = r.i16()?;
    let unused = r.i16()?;
    limits::check_dim(Kind::Halfvec, dim as i64)?;
    limits::check_expected_dim(typmod, dim as i64)?;
    check_unused(unused as i32)?;
    let mut values = Vec::with_capacity(dim as usize);
    for _ in 0..dim {
        let v = f16::from_bits(r.u16()?);
        limits::check_element(Kind::Halfvec, v.to_f32())?;
        values.push(v);
    }
    Ok((values, r.pos))
}

/// A decoded `sparsevec`: dimension count, 0-based indices, values.
#[derive(Clone, Debug, PartialEq)]
pub struct SparseParts {
    pub dim: i32,
    pub indices: Vec<i32>,
    pub values: Vec<f32>,
}

/// Decode a received `sparsevec`.
pub fn decode_sparsevec(bytes: &[u8], typmod: i32) -> Result<(SparseParts, usize)> {
    let mut r = Reader { bytes, pos: 0 };
    let dim = r.i32()?;
    let nnz = r.i32()?;
    let unused = r.i32()?;
    limits::check_dim(Kind::Sparsevec, dim as i64)?;
    limits::check_nnz(nnz as i64, dim as i64)?;
    limits::check_expected_dim(typmod, dim as i64)?;
    check_unused(unused)?;
    // nnz <= 16000 bounds the allocations; each index is checked as soon as it is read.
    let nnz = nnz as usize;
    let mut indices = Vec::with_capacity(nnz);
    for _ in 0..nnz {
        indices.push(r.i32()?);
        let n = indices.len();
        limits::check_sparse_indices(&indices[n.saturating_sub(2)..], dim as i64)?;
    }
    let mut values = Vec::with_capacity(nnz);
    for _ in 0..nnz {
        let v = r.f32()?;
        limits::check_element(Kind::Sparsevec, v)?;
        if v == 0.0 {
            return Err(VectorError::data(
                "binary representation of sparsevec cannot contain zero values",
            ));
        }
        values.push(v);
    }
    Ok((
        SparseParts {
            dim,
            indices,
            values,
        },
        r.pos,
    ))
}

/// Encode a `vector` for sending.
pub fn encode_vector(values: &[f32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + values.len() * 4);
    out.extend_from_slice(&(values.len() as i16).to_be_bytes());
    out.extend_from_slice(&0i16.to_be_bytes());
    for v in values {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out
}

/// Encode a `halfvec` for sending.
pub fn encode_halfvec(values: &[f16]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + values.len() * 2);
    out.extend_from_slice(&(values.len() as i16).to_be_bytes());
    out.extend_from_slice(&0i16.to_be_bytes());
    for v in values {
        out.extend_from_slice(&v.to_bits().to_be_bytes());
    }
    out
}

/// Encode a `sparsevec` for sending.
pub fn encode_sparsevec(dim: i32, indices: &[i32], values: &[f32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + indices.len() * 8);
    out.extend_from_slice(&dim.to_be_bytes());
    out.extend_from_slice(&(indices.len() as i32).to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes());
    for i in indices {
        out.extend_from_slice(&i.to_be_bytes());
    }
    for v in values {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn vector_bytes_match_pgvector() {
        // pgvector-python: pack('>HH3f', 3, 0, 1, 2, 3)
        let bytes = encode_vector(&[1.0, 2.0, 3.0]);
        assert_eq!(
            bytes,
            [0, 3, 0, 0, 0x3f, 0x80, 0, 0, 0x40, 0, 0, 0, 0x40, 0x40, 0, 0]
        );
        assert_eq!(
            decode_vector(&bytes, -1).unwrap(),
            (vec![1.0, 2.0, 3.0], 16)
        );
        assert_eq!(
            decode_vector(&bytes, 2).unwrap_err().message,
            "expected 2 dimensions, not 3"
        );
    }

    #[test]
    fn halfvec_and_sparse_round_trip() {
        let h = vec![f16::from_f32(1.5), f16::from_f32(-2.0)];
        let bytes = encode_halfvec(&h);
        assert_eq!(bytes, [0, 2, 0, 0, 0x3e, 0x00, 0xc0, 0x00]);
        assert_eq!(decode_halfvec(&bytes, -1).unwrap().0, h);
        let bytes = encode_sparsevec(5, &[0, 2], &[1.5, 2.0]);
        let (parts, used) = decode_sparsevec(&bytes, 5).unwrap();
        assert_eq!(used, bytes.len());
        assert_eq!(
            parts,
            SparseParts {
                dim: 5,
                indices: vec![0, 2],
                values: vec![1.5, 2.0]
            }
        );
    }

    #[test]
    fn bad_input() {
        assert_eq!(
            decode_vector(&[0, 3, 0, 0, 0x3f], -1).unwrap_err().state,
            SqlState::ProtocolViolation
        );
        // A bad element is reported before the message runs short, as pgvector reads them.
        assert_eq!(
            decode_vector(&[0, 3, 0, 0, 0x7f, 0xc0, 0, 0], -1)
                .unwrap_err()
                .message,
            "NaN not allowed in vector"
        );
        let mut short = encode_sparsevec(5, &[7, 1], &[1.0, 1.0]);
        short.truncate(16);
        assert_eq!(
            decode_sparsevec(&short, -1).unwrap_err().message,
            "sparsevec index out of bounds"
        );
        assert_eq!(
            decode_vector(&[0, 0, 0, 0], -1).unwrap_err().message,
            "vector must have at least 1 dimension"
        );
        assert_eq!(
            decode_vector(&[0xff, 0xff, 0, 0], -1).unwrap_err().message,
            "vector must have at least 1 dimension"
        );
        assert_eq!(
            decode_vector(&[0, 1, 0, 1, 0, 0, 0, 0], -1)
                .unwrap_err()
                .message,
            "expected unused to be 0, not 1"
        );
        let nan = [0, 1, 0, 0, 0x7f, 0xc0, 0, 0];
        assert_eq!(
            decode_vector(&nan, -1).unwrap_err().message,
            "NaN not allowed in vector"
        );
        let half_inf = [0, 1, 0, 0, 0x7c, 0x00];
        assert_eq!(
            decode_halfvec(&half_inf, -1).unwrap_err().message,
            "infinite value not allowed in halfvec"
        );
        let zero = encode_sparsevec(5, &[1], &[0.0]);
        assert_eq!(
            decode_sparsevec(&zero, -1).unwrap_err().message,
            "binary representation of sparsevec cannot contain zero values"
        );
        let unsorted = encode_sparsevec(5, &[2, 1], &[1.0, 1.0]);
        assert_eq!(
            decode_sparsevec(&unsorted, -1).unwrap_err().message,
            "sparsevec indices must be in ascending order"
        );
        let too_many = encode_sparsevec(2, &[0, 1, 1], &[1.0, 1.0, 1.0]);
        assert_eq!(
            decode_sparsevec(&too_many, -1).unwrap_err().message,
            "sparsevec cannot have more elements than dimensions"
        );
    }

    proptest! {
        #[test]
        fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..96)) {
            let _ = decode_vector(&bytes, -1);
            let _ = decode_halfvec(&bytes, 3);
            let _ = decode_sparsevec(&bytes, -1);
        }

        #[test]
        fn vector_round_trip(values in proptest::collection::vec(-1e30f32..1e30, 1..64)) {
            let bytes = encode_vector(&values);
            prop_assert_eq!(decode_vector(&bytes, -1).unwrap(), (values, bytes.len()));
        }
    }
}
