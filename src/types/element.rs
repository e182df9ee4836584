//! What differs between `vector` (float4 elements) and `halfvec` (float2 elements); the SQL
//! functions of both types are written once, generic over this trait.

use half::f16;
use vecformat::limits::{self, Kind};
use vecformat::VectorError;

pub trait Element: Copy + PartialEq + 'static {
    const KIND: Kind;
    fn to_f32(self) -> f32;
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
    const KIND: Kind = Kind::Vector;
    #[inline]
    fn to_f32(self) -> f32 {
        self
    }
    #[inline]
    fn from_f32(value: f32) -> Result<Self, VectorError> {
        Ok(value)
    }
    #[inline]
    fn l2_squared(a: &[Self], b: &[Self]) -> f32 {
        kernels::l2_squared_f32(a, b)
    }
    #[inline]
    fn dot(a: &[Self], b: &[Self]) -> f32 {
        kernels::dot_f32(a, b)
    }
    #[inline]
    fn l1(a: &[Self], b: &[Self]) -> f32 {
        kernels::l1_f32(a, b)
    }
    #[inline]
    fn cosine_distance(a: &[Self], b: &[Self]) -> f64 {
        kernels::cosine_distance_f32(a, b)
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

impl Element for f16 {
    const KIND: Kind = Kind::Halfvec;
    #[inline]
    fn to_f32(self) -> f32 {
        f16::to_f32(self)
    }
    #[inline]
    fn from_f32(value: f32) -> Result<Self, VectorError> {
        limits::float_to_half(value)
    }
    #[inline]
    fn l2_squared(a: &[Self], b: &[Self]) -> f32 {
        kernels::l2_squared_f16(a, b)
    }
    #[inline]
    fn dot(a: &[Self], b: &[Self]) -> f32 {
        kernels::dot_f16(a, b)
    }
    #[inline]
    fn l1(a: &[Self], b: &[Self]) -> f32 {
        kernels::l1_f16(a, b)
    }
    #[inline]
    fn cosine_distance(a: &[Self], b: &[Self]) -> f64 {
        kernels::cosine_distance_f16(a, b)
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
