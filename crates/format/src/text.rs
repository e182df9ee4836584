//! Text literals, parsed and printed exactly as pgvector 0.8 does, error messages included.
//!
//! Dense: `[1,2.5,-3e-05]` — whitespace allowed around elements and outside the brackets.
//! Sparse: `{1:1.5,3:2}/5` — 1-based indices in any order, zero values dropped.

use crate::error::{Result, SqlState, VectorError};
use crate::float::push_f32;
use crate::limits::{self, Kind};
use crate::scan::{is_space, scan_f32, scan_i64};
use half::f16;

fn syntax_error(kind: Kind, literal: &str) -> VectorError {
    VectorError::new(
        SqlState::InvalidTextRepresentation,
        format!(
            "invalid input syntax for type {}: \"{literal}\"",
            kind.name()
        ),
    )
}

fn out_of_range(kind: Kind, token: &[u8]) -> VectorError {
    VectorError::new(
        SqlState::NumericValueOutOfRange,
        format!(
            "\"{}\" is out of range for type {}",
            String::from_utf8_lossy(token),
            kind.name()
        ),
    )
}

fn skip_space(s: &[u8], mut pos: usize) -> usize {
    while pos < s.len() && is_space(s[pos]) {
        pos += 1;
    }
    pos
}

/// Parse a `vector` or `halfvec` literal into float4 values (for halfvec, already rounded to
/// half precision and range-checked), then apply the typmod. `kind` must be a dense kind.
pub fn parse_dense(literal: &str, kind: Kind, typmod: i32) -> Result<Vec<f32>> {
    let s = literal.as_bytes();
    let mut pos = skip_space(s, 0);
    if s.get(pos) != Some(&b'[') {
        return Err(
            syntax_error(kind, literal).with_detail("Vector contents must start with \"[\".")
        );
    }
    pos = skip_space(s, pos + 1);
    if s.get(pos) == Some(&b']') {
        return Err(VectorError::data(format!(
            "{} must have at least 1 dimension",
            kind.name()
        )));
    }
    // A literal of n bytes holds at most n/2 + 1 elements; do not over-reserve for huge input.
    let mut values = Vec::with_capacity((s.len() / 2 + 1).min(kind.max_dim() as usize));
    loop {
        if values.len() == kind.max_dim() as usize {
            return Err(limits::too_many_dims(kind));
        }
        pos = skip_space(s, pos);
        if pos >= s.len() {
            return Err(syntax_error(kind, literal));
        }
        let scanned = scan_f32(&s[pos..]);
        if scanned.len == 0 {
            return Err(syntax_error(kind, literal));
        }
        // Out of range for the element type: the message quotes the text as written.
        let value = match kind {
            Kind::Halfvec => {
                let half = f16::from_f32(scanned.value);
                if scanned.overflow || (half.is_infinite() && !scanned.value.is_infinite()) {
                    return Err(out_of_range(kind, &s[pos..pos + scanned.len]));
                }
                half.to_f32()
            }
            _ => {
                if scanned.overflow {
                    return Err(out_of_range(kind, &s[pos..pos + scanned.len]));
                }
                scanned.value
            }
        };
        limits::check_element(kind, value)?;
        values.push(value);
        pos = skip_space(s, pos + scanned.len);
        match s.get(pos) {
            Some(b',') => pos += 1,
            Some(b']') => {
                pos += 1;
                break;
            }
            _ => return Err(syntax_error(kind, literal)),
        }
    }
    pos = skip_space(s, pos);
    if pos != s.len() {
        return Err(syntax_error(kind, literal).with_detail("Junk after closing right brace."));
    }
    limits::check_dim(kind, values.len() as i64)?;
    limits::check_expected_dim(typmod, values.len() as i64)?;
    Ok(values)
}

/// A parsed sparse literal: dimension count and 0-based indices with their non-zero values.
#[derive(Clone, Debug, PartialEq)]
pub struct SparseLiteral {
    pub dim: i32,
    pub indices: Vec<i32>,
    pub values: Vec<f32>,
}

/// Parse a `sparsevec` literal, then apply the typmod, in pgvector's order: the whole
/// literal's syntax first (with each value's range, NaN and infinity as it is read), then the
/// dimensions, then the indices of the non-zero elements (zero elements are dropped first,
/// whatever their index).
pub fn parse_sparse(literal: &str, typmod: i32) -> Result<SparseLiteral> {
    let kind = Kind::Sparsevec;
    let s = literal.as_bytes();
    // Bound the element count before parsing, as pgvector does, by counting separators.
    let max_nnz = s.iter().filter(|&&b| b == b',').count() + 1;
    if max_nnz > limits::SPARSEVEC_MAX_NNZ as usize {
        return Err(limits::too_many_nnz());
    }
    let mut elements: Vec<(i32, f32)> = Vec::with_capacity(max_nnz);
    let mut pos = skip_space(s, 0);
    if s.get(pos) != Some(&b'{') {
        return Err(
            syntax_error(kind, literal).with_detail("Vector contents must start with \"{\".")
        );
    }
    pos = skip_space(s, pos + 1);
    if s.get(pos) == Some(&b'}') {
        pos += 1;
    } else {
        loop {
            pos = skip_space(s, pos);
            if pos >= s.len() {
                return Err(syntax_error(kind, literal));
            }
            let index = scan_i64(&s[pos..]);
            if index.len == 0 {
                return Err(syntax_error(kind, literal));
            }
            // Saturate into int32 (as pgvector does) so that a huge index is reported as out
            // of bounds later, not here.
            let index = index.value.clamp(i32::MIN as i64 + 1, i32::MAX as i64);
            pos = skip_space(s, pos + scan_i64(&s[pos..]).len);
            if s.get(pos) != Some(&b':') {
                return Err(syntax_error(kind, literal));
            }
            pos = skip_space(s, pos + 1);
            let scanned = scan_f32(&s[pos..]);
            if scanned.len == 0 {
                return Err(syntax_error(kind, literal));
            }
            if scanned.overflow || scanned.underflow {
                return Err(out_of_range(kind, &s[pos..pos + scanned.len]));
            }
            limits::check_element(kind, scanned.value)?;
            if scanned.value != 0.0 {
                // 1-based in SQL, 0-based stored.
                elements.push(((index - 1) as i32, scanned.value));
            }
            pos = skip_space(s, pos + scanned.len);
            match s.get(pos) {
                Some(b',') => pos += 1,
                Some(b'}') => {
                    pos += 1;
                    break;
                }
                _ => return Err(syntax_error(kind, literal)),
            }
        }
    }
    pos = skip_space(s, pos);
    if s.get(pos) != Some(&b'/') {
        return Err(syntax_error(kind, literal).with_detail("Unexpected end of input."));
    }
    pos = skip_space(s, pos + 1);
    let dim = scan_i64(&s[pos..]);
    if dim.len == 0 {
        return Err(syntax_error(kind, literal));
    }
    pos = skip_space(s, pos + dim.len);
    if pos != s.len() {
        return Err(syntax_error(kind, literal).with_detail("Junk after closing."));
    }
    let dim = dim.value.clamp(i32::MIN as i64, i32::MAX as i64);
    limits::check_dim(kind, dim)?;
    limits::check_expected_dim(typmod, dim)?;
    elements.sort_by_key(|&(index, _)| index);
    let indices: Vec<i32> = elements.iter().map(|&(index, _)| index).collect();
    limits::check_sparse_indices(&indices, dim)?;
    Ok(SparseLiteral {
        dim: dim as i32,
        indices,
        values: elements.into_iter().map(|(_, value)| value).collect(),
    })
}

/// `[x1,x2,...]` with Postgres float4 formatting.
pub fn format_dense(values: &[f32]) -> String {
    let mut out = String::with_capacity(values.len() * 12 + 2);
    out.push('[');
    for (i, &v) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_f32(&mut out, v);
    }
    out.push(']');
    out
}

/// halfvec elements print as the float4 they widen to.
pub fn format_half(values: &[f16]) -> String {
    let mut out = String::with_capacity(values.len() * 10 + 2);
    out.push('[');
    for (i, &v) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_f32(&mut out, v.to_f32());
    }
    out.push(']');
    out
}

/// `{i:v,...}/dim` with 1-based indices.
pub fn format_sparse(dim: i32, indices: &[i32], values: &[f32]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(indices.len() * 20 + 16);
    out.push('{');
    for (i, (&index, &v)) in indices.iter().zip(values).enumerate() {
        if i > 0 {
            out.push(',');
        }
        write!(out, "{}:", index as i64 + 1).expect("writing to a String cannot fail");
        push_f32(&mut out, v);
    }
    write!(out, "}}/{dim}").expect("writing to a String cannot fail");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn err(literal: &str, kind: Kind) -> VectorError {
        parse_dense(literal, kind, -1).unwrap_err()
    }

    #[test]
    fn dense_ok() {
        assert_eq!(
            parse_dense("[1,2,3]", Kind::Vector, -1).unwrap(),
            vec![1.0, 2.0, 3.0]
        );
        assert_eq!(
            parse_dense("  [ 1.5 ,\t-2e-1 ]\n", Kind::Vector, 2).unwrap(),
            vec![1.5, -0.2]
        );
        assert_eq!(parse_dense("[1e-50]", Kind::Vector, -1).unwrap(), vec![0.0]);
        assert_eq!(
            parse_dense("[0.1]", Kind::Halfvec, -1).unwrap(),
            vec![f16::from_f32(0.1).to_f32()]
        );
    }

    #[test]
    fn dense_errors() {
        let e = err("1,2", Kind::Vector);
        assert_eq!(e.message, "invalid input syntax for type vector: \"1,2\"");
        assert_eq!(
            e.detail.as_deref(),
            Some("Vector contents must start with \"[\".")
        );
        assert_eq!(e.state, SqlState::InvalidTextRepresentation);
        assert_eq!(
            err("[]", Kind::Vector).message,
            "vector must have at least 1 dimension"
        );
        assert_eq!(
            err("[1,]", Kind::Vector).message,
            "invalid input syntax for type vector: \"[1,]\""
        );
        assert_eq!(
            err("[1,,2]", Kind::Vector).state,
            SqlState::InvalidTextRepresentation
        );
        assert_eq!(
            err("[1", Kind::Vector).state,
            SqlState::InvalidTextRepresentation
        );
        assert_eq!(
            err("[1 2]", Kind::Vector).state,
            SqlState::InvalidTextRepresentation
        );
        assert_eq!(
            err("[1]x", Kind::Vector).detail.as_deref(),
            Some("Junk after closing right brace.")
        );
        assert_eq!(
            err("[NaN]", Kind::Vector).message,
            "NaN not allowed in vector"
        );
        assert_eq!(
            err("[-inf]", Kind::Halfvec).message,
            "infinite value not allowed in halfvec"
        );
        let e = err("[1e39]", Kind::Vector);
        assert_eq!(e.message, "\"1e39\" is out of range for type vector");
        assert_eq!(e.state, SqlState::NumericValueOutOfRange);
        assert_eq!(
            err("[65520]", Kind::Halfvec).message,
            "\"65520\" is out of range for type halfvec"
        );
        // The text as written, not the float it parsed to.
        assert_eq!(
            err("[1e38]", Kind::Halfvec).message,
            "\"1e38\" is out of range for type halfvec"
        );
        assert_eq!(
            err("[1, -1e5]", Kind::Halfvec).message,
            "\"-1e5\" is out of range for type halfvec"
        );
        assert_eq!(
            err("[]", Kind::Halfvec).message,
            "halfvec must have at least 1 dimension"
        );
        assert_eq!(
            parse_dense("[1,2]", Kind::Vector, 3).unwrap_err().message,
            "expected 3 dimensions, not 2"
        );
        let long = format!("[{}]", vec!["1"; 16_001].join(","));
        let e = err(&long, Kind::Vector);
        assert_eq!(e.state, SqlState::ProgramLimitExceeded);
        assert_eq!(e.message, "vector cannot have more than 16000 dimensions");
        let long = format!("[{}]", vec!["1"; 16_001].join(","));
        assert_eq!(
            err(&long, Kind::Halfvec).message,
            "halfvec cannot have more than 16000 dimensions"
        );
        assert!(parse_dense(
            &format!("[{}]", vec!["1"; 16_000].join(",")),
            Kind::Vector,
            -1
        )
        .is_ok());
    }

    #[test]
    fn sparse_ok() {
        let v = parse_sparse("{1:1.5,3:2}/5", -1).unwrap();
        assert_eq!(
            v,
            SparseLiteral {
                dim: 5,
                indices: vec![0, 2],
                values: vec![1.5, 2.0]
            }
        );
        let v = parse_sparse(" { 3 : 2 , 1:1.5, 2:0 } / 5 ", 5).unwrap();
        assert_eq!(v.indices, vec![0, 2]);
        assert_eq!(parse_sparse("{}/3", -1).unwrap().indices, Vec::<i32>::new());
        assert_eq!(format_sparse(5, &[0, 2], &[1.5, 2.0]), "{1:1.5,3:2}/5");
        assert_eq!(format_sparse(3, &[], &[]), "{}/3");
    }

    #[test]
    fn sparse_errors() {
        let e = |s: &str| parse_sparse(s, -1).unwrap_err();
        assert_eq!(
            e("[1:1]/2").detail.as_deref(),
            Some("Vector contents must start with \"{\".")
        );
        assert_eq!(
            e("{1:1}").detail.as_deref(),
            Some("Unexpected end of input.")
        );
        assert_eq!(e("{1:1}/2x").detail.as_deref(), Some("Junk after closing."));
        for literal in [
            "{0:1}/2",
            "{3:1}/2",
            "{-1:1}/2",
            "{99999999999999999999:1}/2",
        ] {
            assert_eq!(
                e(literal).message,
                "sparsevec index out of bounds",
                "{literal}"
            );
        }
        assert_eq!(
            e("{1:1,1:2}/2").message,
            "sparsevec indices must not contain duplicates"
        );
        // The whole literal is parsed before any index is checked.
        assert_eq!(e("{0:1,x}/2").state, SqlState::InvalidTextRepresentation);
        assert_eq!(
            e("{0:1}/0").message,
            "sparsevec must have at least 1 dimension"
        );
        assert_eq!(e("{0:nan}/2").message, "NaN not allowed in sparsevec");
        // Zero elements are dropped before the index checks.
        assert_eq!(
            parse_sparse("{0:0}/3", -1).unwrap().indices,
            Vec::<i32>::new()
        );
        assert_eq!(
            e("{}/99999999999").message,
            "sparsevec cannot have more than 1000000000 dimensions"
        );
        assert_eq!(
            e("{}/-99999999999").message,
            "sparsevec must have at least 1 dimension"
        );
        assert_eq!(e("{1:nan}/2").message, "NaN not allowed in sparsevec");
        assert_eq!(
            e("{1:1e-50}/2").message,
            "\"1e-50\" is out of range for type sparsevec"
        );
        assert_eq!(
            e("{}/0").message,
            "sparsevec must have at least 1 dimension"
        );
        assert_eq!(e("{}/1000000001").state, SqlState::ProgramLimitExceeded);
        assert!(parse_sparse("{1:1}/2", -1).is_ok());
    }

    #[test]
    fn output() {
        assert_eq!(format_dense(&[1.0, 2.0, 3.0]), "[1,2,3]");
        assert_eq!(
            format_dense(&[1e-5, 0.5, -1234567.0]),
            "[1e-05,0.5,-1.234567e+06]"
        );
        assert_eq!(
            format_half(&[f16::from_f32(0.1), f16::from_f32(2.0)]),
            "[0.099975586,2]"
        );
    }

    proptest! {
        #[test]
        fn dense_round_trip(values in proptest::collection::vec(-1e30f32..1e30, 1..64)) {
            let text = format_dense(&values);
            prop_assert_eq!(parse_dense(&text, Kind::Vector, -1).unwrap(), values);
        }

        #[test]
        fn never_panics(s in "\\PC{0,40}") {
            let _ = parse_dense(&s, Kind::Vector, -1);
            let _ = parse_dense(&s, Kind::Halfvec, 3);
            let _ = parse_sparse(&s, -1);
        }

        #[test]
        fn never_panics_on_near_literals(s in "[\\[\\]{}/:,0-9eE.+\\- ]{0,30}") {
            let _ = parse_dense(&s, Kind::Vector, -1);
            let _ = parse_sparse(&s, -1);
        }
    }
}
