//! What differs between `vector` (float4 elements) and `halfvec` (float2 elements); the SQL
//! functions of both types are written once, generic over this trait.

use half::f16;
use vecformat::limits;
use vecformat::VectorError;

/// The element kinds, their names and the arithmetic come from `vecmath::Element`.
pub trait Element: vecmath::aggregate::Average {
    /// Narrow a float4, failing when the value does not fit the element type.
    fn from_f32(value: f32) -> Result<Self, VectorError>;
    fn l2_squared(a: &[Self], b: &[Self]) -> f32;
    fn dot(a: &[Self], b: &[Self]) -> f32;
    fn l1(a: &[Self], b: &[Self]) -> f32;
    fn cosine_distance(a: &[Self], b: &[Self]) -> f64;
    fn format(values: &[Self]) -> String;
    fn decode(bytes: &[u8], typmod: i32) -> Result<(Vec<Self>, usize), VectorError>;
    fn encode(values: &[Self]) -> Vec<u8>;
}

impl Element for f32 {
    #[inline]
    fn from_f32(value: f32) -> Result<Self, VectorError> {
        Ok(value)
    }
    #[inline]
    fn l2_squared(a: &[Self], b: &[Self]) -> f32 {
        vecmath::distance::vector_l2_squared(a, b)
    }
    #[inline]
    fn dot(a: &[Self], b: &[Self]) -> f32 {
        vecmath::distance::vector_dot(a, b)
    }
    #[inline]
    fn l1(a: &[Self], b: &[Self]) -> f32 {
        vecmath::distance::vector_l1(a, b)
    }
    #[inline]
    fn cosine_distance(a: &[Self], b: &[Self]) -> f64 {
        vecmath::distance::vector_cosine_distance(a, b)
    }
    fn format(values: &[Self]) -> String {
        vecformat::text::format_dense(values)
    }
    fn decode(bytes: &[u8], typmod: i32) -> Result<(Vec<Self>, usize), VectorError> {
        vecformat::binary::decode_vector(bytes, typmod)
    }
    fn encode(values: &[Self]) -> Vec<u8> {
        vecformat::binary::encode_vector(values)
    }
}

/// vector's and halfvec's SQL distances follow pgvector's own order of operations (see
/// `vecmath::distance`), so that they print the same digits.
impl Element for f16 {
    #[inline]
    fn from_f32(value: f32) -> Result<Self, VectorError> {
        limits::float_to_half(value)
    }
    #[inline]
    fn l2_squared(a: &[Self], b: &[Self]) -> f32 {
        vecmath::distance::half_l2_squared(a, b)
    }
    #[inline]
    fn dot(a: &[Self], b: &[Self]) -> f32 {
        vecmath::distance::half_dot(a, b)
    }
    #[inline]
    fn l1(a: &[Self], b: &[Self]) -> f32 {
        vecmath::distance::half_l1(a, b)
    }
    #[inline]
    fn cosine_distance(a: &[Self], b: &[Self]) -> f64 {
        vecmath::distance::half_cosine_distance(a, b)
    }
    fn format(values: &[Self]) -> String {
        vecformat::text::format_half(values)
    }
    fn decode(bytes: &[u8], typmod: i32) -> Result<(Vec<Self>, usize), VectorError> {
        vecformat::binary::decode_halfvec(bytes, typmod)
    }
    fn encode(values: &[Self]) -> Vec<u8> {
        vecformat::binary::encode_halfvec(values)
    }
}
