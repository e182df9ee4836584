//! The two element types of the dense vectors: float4 (`vector`) and IEEE half (`halfvec`).

use half::f16;
use vecformat::limits::Kind;

/// What the arithmetic needs to know about an element type.
pub trait Element: Copy + PartialEq + std::fmt::Debug + Send + Sync + 'static {
    /// The SQL type whose elements these are (names appear in error messages).
    const KIND: Kind;
    const ZERO: Self;
    fn to_f32(self) -> f32;
    /// Round a float4 to this type without range checks (half: to nearest even; values
    /// beyond ±65504 become infinite, which the callers check).
    fn narrow(value: f32) -> Self;
    fn is_inf(self) -> bool;
    /// Both zeros.
    fn is_zero(self) -> bool;
}

impl Element for f32 {
    const KIND: Kind = Kind::Vector;
    const ZERO: Self = 0.0;
    #[inline]
    fn to_f32(self) -> f32 {
        self
    }
    #[inline]
    fn narrow(value: f32) -> Self {
        value
    }
    #[inline]
    fn is_inf(self) -> bool {
        self.is_infinite()
    }
    #[inline]
    fn is_zero(self) -> bool {
        self == 0.0
    }
}

impl Element for f16 {
    const KIND: Kind = Kind::Halfvec;
    const ZERO: Self = f16::ZERO;
    #[inline]
    fn to_f32(self) -> f32 {
        f16::to_f32(self)
    }
    #[inline]
    fn narrow(value: f32) -> Self {
        f16::from_f32(value)
    }
    #[inline]
    fn is_inf(self) -> bool {
        self.is_infinite()
    }
    #[inline]
    fn is_zero(self) -> bool {
        self.to_bits() & 0x7fff == 0
    }
}
