//! Dimension limits and the checks shared by every input path (text, binary, casts, arrays).

use crate::error::{Result, SqlState, VectorError};
use half::f16;

/// Largest `vector` and `halfvec` (pgvector's VECTOR_MAX_DIM / HALFVEC_MAX_DIM).
pub const VECTOR_MAX_DIM: i32 = 16_000;
pub const HALFVEC_MAX_DIM: i32 = 16_000;
/// Largest `sparsevec` dimension count and number of stored (non-zero) elements.
pub const SPARSEVEC_MAX_DIM: i32 = 1_000_000_000;
pub const SPARSEVEC_MAX_NNZ: i32 = 16_000;

/// The three vector types; names appear verbatim in error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Vector,
    Halfvec,
    Sparsevec,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Vector => "vector",
            Kind::Halfvec => "halfvec",
            Kind::Sparsevec => "sparsevec",
        }
    }

    pub fn max_dim(self) -> i32 {
        match self {
            Kind::Vector => VECTOR_MAX_DIM,
            Kind::Halfvec => HALFVEC_MAX_DIM,
            Kind::Sparsevec => SPARSEVEC_MAX_DIM,
        }
    }
}

pub fn too_many_dims(kind: Kind) -> VectorError {
    VectorError::new(
        SqlState::ProgramLimitExceeded,
        format!(
            "{} cannot have more than {} dimensions",
            kind.name(),
            kind.max_dim()
        ),
    )
}

/// At least one dimension, at most the type's maximum.
pub fn check_dim(kind: Kind, dim: i64) -> Result<()> {
    if dim < 1 {
        return Err(VectorError::data(format!(
            "{} must have at least 1 dimension",
            kind.name()
        )));
    }
    if dim > kind.max_dim() as i64 {
        return Err(too_many_dims(kind));
    }
    Ok(())
}

/// A column's type modifier fixes the dimension count (-1 means unconstrained).
pub fn check_expected_dim(typmod: i32, dim: i64) -> Result<()> {
    if typmod != -1 && typmod as i64 != dim {
        return Err(VectorError::data(format!(
            "expected {typmod} dimensions, not {dim}"
        )));
    }
    Ok(())
}

/// Operands of a binary operator must agree.
pub fn check_same_dims(kind: Kind, a: i64, b: i64) -> Result<()> {
    if a != b {
        return Err(VectorError::data(format!(
            "different {} dimensions {a} and {b}",
            kind.name()
        )));
    }
    Ok(())
}

/// Elements must be finite.
pub fn check_element(kind: Kind, value: f32) -> Result<()> {
    if value.is_nan() {
        return Err(VectorError::data(format!(
            "NaN not allowed in {}",
            kind.name()
        )));
    }
    if value.is_infinite() {
        return Err(VectorError::data(format!(
            "infinite value not allowed in {}",
            kind.name()
        )));
    }
    Ok(())
}

/// float4 -> half with pgvector's overflow error (finite values beyond ±65504 do not fit);
/// the message shows the float4 in its shortest form.
pub fn float_to_half(value: f32) -> Result<f16> {
    let half = f16::from_f32(value);
    if half.is_infinite() && !value.is_infinite() {
        let mut shown = String::new();
        crate::float::push_f32(&mut shown, value);
        return Err(half_out_of_range(&shown));
    }
    Ok(half)
}

/// `"<text>" is out of range for type halfvec`.
pub fn half_out_of_range(shown: &str) -> VectorError {
    VectorError::new(
        SqlState::NumericValueOutOfRange,
        format!("\"{shown}\" is out of range for type halfvec"),
    )
}

/// The typmod input rules: exactly one integer within the type's range.
pub fn check_typmod(kind: Kind, typmods: &[i32]) -> Result<i32> {
    if typmods.len() != 1 {
        return Err(VectorError::new(
            SqlState::InvalidParameterValue,
            "invalid type modifier",
        ));
    }
    let dim = typmods[0];
    if dim < 1 {
        return Err(VectorError::new(
            SqlState::InvalidParameterValue,
            format!("dimensions for type {} must be at least 1", kind.name()),
        ));
    }
    if dim > kind.max_dim() {
        return Err(VectorError::new(
            SqlState::InvalidParameterValue,
            format!(
                "dimensions for type {} cannot exceed {}",
                kind.name(),
                kind.max_dim()
            ),
        ));
    }
    Ok(dim)
}

/// Arithmetic results must stay finite (pgvector's float_overflow_error).
pub fn overflow_error() -> VectorError {
    VectorError::new(
        SqlState::NumericValueOutOfRange,
        "value out of range: overflow",
    )
}

/// A non-zero product that rounds to zero (pgvector's float_underflow_error).
pub fn underflow_error() -> VectorError {
    VectorError::new(
        SqlState::NumericValueOutOfRange,
        "value out of range: underflow",
    )
}

/// Sparse vectors: nnz within limits and not above the dimension count.
pub fn check_nnz(nnz: i64, dim: i64) -> Result<()> {
    if nnz < 0 {
        return Err(VectorError::data(
            "sparsevec cannot have negative number of elements",
        ));
    }
    if nnz > SPARSEVEC_MAX_NNZ as i64 {
        return Err(too_many_nnz());
    }
    if nnz > dim {
        return Err(VectorError::new(
            SqlState::ProgramLimitExceeded,
            "sparsevec cannot have more elements than dimensions",
        ));
    }
    Ok(())
}

pub fn too_many_nnz() -> VectorError {
    VectorError::new(
        SqlState::ProgramLimitExceeded,
        format!("sparsevec cannot have more than {SPARSEVEC_MAX_NNZ} non-zero elements"),
    )
}

/// Sparse indices (0-based here) must be in range, strictly ascending: checked element by
/// element in pgvector's order (bounds first, then order, then duplicates).
pub fn check_sparse_indices(indices: &[i32], dim: i64) -> Result<()> {
    for (i, &index) in indices.iter().enumerate() {
        if index < 0 || index as i64 >= dim {
            return Err(VectorError::data("sparsevec index out of bounds"));
        }
        if i > 0 {
            let prev = indices[i - 1];
            if index < prev {
                return Err(VectorError::data(
                    "sparsevec indices must be in ascending order",
                ));
            }
            if index == prev {
                return Err(VectorError::data(
                    "sparsevec indices must not contain duplicates",
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dims() {
        assert!(check_dim(Kind::Vector, 1).is_ok());
        assert_eq!(
            check_dim(Kind::Vector, 0).unwrap_err().message,
            "vector must have at least 1 dimension"
        );
        let e = check_dim(Kind::Halfvec, 16_001).unwrap_err();
        assert_eq!(e.state, SqlState::ProgramLimitExceeded);
        assert_eq!(e.message, "halfvec cannot have more than 16000 dimensions");
        assert_eq!(
            check_dim(Kind::Halfvec, 0).unwrap_err().message,
            "halfvec must have at least 1 dimension"
        );
        assert_eq!(
            check_same_dims(Kind::Halfvec, 2, 1).unwrap_err().message,
            "different halfvec dimensions 2 and 1"
        );
        assert_eq!(
            check_dim(Kind::Sparsevec, 1_000_000_001)
                .unwrap_err()
                .message,
            "sparsevec cannot have more than 1000000000 dimensions"
        );
        assert_eq!(
            check_expected_dim(3, 2).unwrap_err().message,
            "expected 3 dimensions, not 2"
        );
        assert!(check_expected_dim(-1, 2).is_ok());
    }

    #[test]
    fn half_range() {
        assert_eq!(float_to_half(65504.0).unwrap(), f16::MAX);
        let e = float_to_half(65520.0).unwrap_err();
        assert_eq!(e.message, "\"65520\" is out of range for type halfvec");
        assert_eq!(e.state, SqlState::NumericValueOutOfRange);
        assert!(float_to_half(1e-10).unwrap() == f16::ZERO);
    }

    #[test]
    fn typmods() {
        assert_eq!(check_typmod(Kind::Vector, &[3]).unwrap(), 3);
        assert_eq!(
            check_typmod(Kind::Vector, &[3, 4]).unwrap_err().message,
            "invalid type modifier"
        );
        assert_eq!(
            check_typmod(Kind::Halfvec, &[0]).unwrap_err().message,
            "dimensions for type halfvec must be at least 1"
        );
        assert_eq!(
            check_typmod(Kind::Sparsevec, &[1_000_000_001])
                .unwrap_err()
                .message,
            "dimensions for type sparsevec cannot exceed 1000000000"
        );
    }

    #[test]
    fn sparse_indices() {
        assert!(check_sparse_indices(&[0, 2, 4], 5).is_ok());
        let msg = |indices: &[i32]| check_sparse_indices(indices, 5).unwrap_err().message;
        assert_eq!(msg(&[0, 5]), "sparsevec index out of bounds");
        assert_eq!(msg(&[-1]), "sparsevec index out of bounds");
        assert_eq!(msg(&[i32::MIN]), "sparsevec index out of bounds");
        assert_eq!(msg(&[2, 1]), "sparsevec indices must be in ascending order");
        assert_eq!(
            msg(&[1, 1]),
            "sparsevec indices must not contain duplicates"
        );
        // Bounds are checked before duplicates, element by element.
        assert_eq!(msg(&[7, 7]), "sparsevec index out of bounds");
    }
}
