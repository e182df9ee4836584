//! PostgreSQL binary COPY encoding of `(id int4, emb vector|halfvec)` rows.
//!
//! Binary COPY skips text parsing of every float on the server, which makes
//! loading several times faster than text COPY. pgvector's binary (recv)
//! format is: int16 dimension, int16 unused (0), then the elements: float4
//! for `vector`, IEEE half bits for `halfvec`; everything big-endian.

use anyhow::{ensure, Result};
use half::f16;

use super::ColumnType;

/// The fixed file header: signature, flags (no OIDs), header-extension length.
pub fn header() -> Vec<u8> {
    let mut out = b"PGCOPY\n\xff\r\n\0".to_vec();
    out.extend_from_slice(&0i32.to_be_bytes());
    out.extend_from_slice(&0i32.to_be_bytes());
    out
}

/// The file trailer: a tuple field count of -1.
pub const TRAILER: [u8; 2] = (-1i16).to_be_bytes();

/// Appends one `(id, emb)` tuple.
pub fn encode_row(out: &mut Vec<u8>, id: i32, vector: &[f32], column: ColumnType) -> Result<()> {
    let dim = i16::try_from(vector.len())
        .ok()
        .filter(|&d| d as usize <= column.max_dimensions());
    ensure!(
        dim.is_some(),
        "{} columns allow at most {} dimensions, got {}",
        column.sql_name(),
        column.max_dimensions(),
        vector.len()
    );
    let element_size = match column {
        ColumnType::Vector => 4,
        ColumnType::Halfvec => 2,
    };
    out.extend_from_slice(&2i16.to_be_bytes()); // field count
    out.extend_from_slice(&4i32.to_be_bytes()); // id: length, value
    out.extend_from_slice(&id.to_be_bytes());
    let emb_len = 4 + element_size * vector.len();
    out.extend_from_slice(&(emb_len as i32).to_be_bytes());
    out.extend_from_slice(&dim.unwrap_or_default().to_be_bytes());
    out.extend_from_slice(&0i16.to_be_bytes()); // unused
    match column {
        ColumnType::Vector => {
            for &x in vector {
                out.extend_from_slice(&x.to_be_bytes());
            }
        }
        ColumnType::Halfvec => {
            for &x in vector {
                out.extend_from_slice(&f16::from_f32(x).to_bits().to_be_bytes());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_trailer_are_byte_exact() {
        assert_eq!(
            header(),
            [
                b'P', b'G', b'C', b'O', b'P', b'Y', b'\n', 0xff, b'\r', b'\n', 0, 0, 0, 0, 0, 0, 0,
                0, 0
            ]
        );
        assert_eq!(TRAILER, [0xff, 0xff]);
    }

    #[test]
    fn vector_row_is_byte_exact() {
        let mut out = Vec::new();
        encode_row(&mut out, 7, &[1.0, -2.5], ColumnType::Vector).unwrap();
        #[rustfmt::skip]
        let expected = [
            0, 2,                   // two fields
            0, 0, 0, 4, 0, 0, 0, 7, // id = 7
            0, 0, 0, 12,            // 4 header bytes + 2 × float4
            0, 2, 0, 0,             // dim = 2, unused = 0
            0x3f, 0x80, 0, 0,       // 1.0
            0xc0, 0x20, 0, 0,       // -2.5
        ];
        assert_eq!(out, expected);
    }

    #[test]
    fn halfvec_row_is_byte_exact() {
        let mut out = Vec::new();
        encode_row(&mut out, 1, &[1.0, -2.5, 0.0], ColumnType::Halfvec).unwrap();
        #[rustfmt::skip]
        let expected = [
            0, 2,
            0, 0, 0, 4, 0, 0, 0, 1,
            0, 0, 0, 10,            // 4 + 3 × 2
            0, 3, 0, 0,
            0x3c, 0x00,             // 1.0 in half precision
            0xc1, 0x00,             // -2.5
            0x00, 0x00,
        ];
        assert_eq!(out, expected);
    }

    #[test]
    fn refuses_too_many_dimensions() {
        let mut out = Vec::new();
        let err = encode_row(&mut out, 1, &vec![0.0; 16_001], ColumnType::Vector).unwrap_err();
        assert!(err.to_string().contains("at most 16000"), "{err}");
    }
}
