//! Errors carry the SQLSTATE and the exact message pgvector raises, so the pgrx layer only
//! has to hand them to `ereport`.

use std::fmt;

/// The SQLSTATEs pgvector uses for bad input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqlState {
    /// 22000
    DataException,
    /// 22P02
    InvalidTextRepresentation,
    /// 22P03
    InvalidBinaryRepresentation,
    /// 22003
    NumericValueOutOfRange,
    /// 22023
    InvalidParameterValue,
    /// 22004
    NullValueNotAllowed,
    /// 54000
    ProgramLimitExceeded,
    /// 08P01 (a binary message that runs short)
    ProtocolViolation,
    /// XX000 (pgvector's elog(ERROR) internal checks)
    InternalError,
}

impl SqlState {
    /// The five-character code, as clients see it.
    pub fn code(self) -> &'static str {
        match self {
            SqlState::DataException => "22000",
            SqlState::InvalidTextRepresentation => "22P02",
            SqlState::InvalidBinaryRepresentation => "22P03",
            SqlState::NumericValueOutOfRange => "22003",
            SqlState::InvalidParameterValue => "22023",
            SqlState::NullValueNotAllowed => "22004",
            SqlState::ProgramLimitExceeded => "54000",
            SqlState::ProtocolViolation => "08P01",
            SqlState::InternalError => "XX000",
        }
    }
}

/// A user-facing error: SQLSTATE, primary message and optional detail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VectorError {
    pub state: SqlState,
    pub message: String,
    pub detail: Option<String>,
}

impl VectorError {
    pub fn new(state: SqlState, message: impl Into<String>) -> Self {
        VectorError {
            state,
            message: message.into(),
            detail: None,
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn data(message: impl Into<String>) -> Self {
        Self::new(SqlState::DataException, message)
    }
}

impl fmt::Display for VectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.state.code())?;
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

impl std::error::Error for VectorError {}

pub type Result<T> = std::result::Result<T, VectorError>;
