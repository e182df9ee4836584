//! Distance kernels for vector search: the inner loop of every index build
//! and every scan.
//!
//! Every public function dispatches, through one indirect call, to the best
//! implementation the running CPU supports (AVX-512, AVX2+FMA+F16C, NEON, or
//! the portable scalar code in [`scalar`]). The choice is made lazily on the
//! first call and can be overridden with [`force_isa`] for tests and
//! benchmarks.
//!
//! Numeric semantics follow pgvector: sums accumulate in `f32`, and the
//! final cosine / Jaccard ratios are computed in `f64`. There is one
//! implementation of each distance per path: [`pgvector`] computes them in
//! pgvector 0.8.6's exact order of operations (the SQL operators use it
//! directly, and the portable [`scalar`] path is it); the SIMD paths only
//! reorder the additions and fuse multiply-adds, which keeps them within
//! 1e-5 of exact, relative to the sum of absolute terms.
//!
//! Callers must pass slices of equal length (the SQL layer reports dimension
//! mismatches first). This is checked with `debug_assert!`; in release builds
//! the kernels only look at the common prefix, so a mismatch can give a wrong
//! number but never an out-of-bounds read.

pub use half::f16;

#[macro_use]
mod dispatch;
#[macro_use]
mod simd;
pub mod pgvector;
pub mod scalar;
mod sparse;

#[cfg(all(target_arch = "aarch64", target_endian = "little"))]
mod aarch64;
#[cfg(target_arch = "x86_64")]
mod x86;

#[cfg(test)]
mod tests;

pub use dispatch::{active_isa, active_variant, force_isa, supported_isas};

/// An instruction-set path of the kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// Portable Rust, no explicit SIMD.
    Scalar,
    /// x86-64 AVX2 + FMA + F16C.
    Avx2,
    /// x86-64 AVX-512F + AVX-512BW.
    Avx512,
    /// AArch64 Advanced SIMD.
    Neon,
}

impl Isa {
    /// Every path, in order of preference (best first).
    pub(crate) const BY_PREFERENCE: [Isa; 4] = [Isa::Avx512, Isa::Avx2, Isa::Neon, Isa::Scalar];

    /// Lower-case name, as accepted by [`Isa::from_name`].
    pub const fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
            Isa::Neon => "neon",
        }
    }

    /// Parses a name produced by [`Isa::name`] (ASCII case-insensitive).
    pub fn from_name(s: &str) -> Option<Isa> {
        Isa::BY_PREFERENCE
            .into_iter()
            .find(|isa| isa.name().eq_ignore_ascii_case(s.trim()))
    }
}

kernel_api! {
    /// Squared Euclidean distance, `sum (a_i - b_i)^2`.
    fn l2_squared_f32(a: &[f32], b: &[f32]) -> f32;
    /// Inner product, `sum a_i * b_i`.
    fn dot_f32(a: &[f32], b: &[f32]) -> f32;
    /// Manhattan distance, `sum |a_i - b_i|`.
    fn l1_f32(a: &[f32], b: &[f32]) -> f32;
    /// Squared Euclidean norm, `sum a_i^2`.
    fn norm_squared_f32(a: &[f32]) -> f32;
    /// Cosine distance `1 - a.b / (|a| |b|)`, from one pass over both vectors.
    /// The similarity is clamped to `[-1, 1]`; NaN if either norm is zero.
    fn cosine_distance_f32(a: &[f32], b: &[f32]) -> f64;

    /// [`l2_squared_f32`] over half-precision storage (f32 accumulation).
    fn l2_squared_f16(a: &[f16], b: &[f16]) -> f32;
    /// [`dot_f32`] over half-precision storage (f32 accumulation).
    fn dot_f16(a: &[f16], b: &[f16]) -> f32;
    /// [`l1_f32`] over half-precision storage (f32 accumulation).
    fn l1_f16(a: &[f16], b: &[f16]) -> f32;
    /// [`norm_squared_f32`] over half-precision storage (f32 accumulation).
    fn norm_squared_f16(a: &[f16]) -> f32;
    /// [`cosine_distance_f32`] over half-precision storage.
    fn cosine_distance_f16(a: &[f16], b: &[f16]) -> f64;

    /// [`l2_squared_f32`] of an f32 vector and a half-precision one (f32
    /// accumulation): a full-precision query against compact stored vectors.
    fn l2_squared_f32_f16(a: &[f32], b: &[f16]) -> f32;
    /// [`dot_f32`] of an f32 vector and a half-precision one.
    fn dot_f32_f16(a: &[f32], b: &[f16]) -> f32;
    /// [`l1_f32`] of an f32 vector and a half-precision one.
    fn l1_f32_f16(a: &[f32], b: &[f16]) -> f32;
    /// [`cosine_distance_f32`] of an f32 vector and a half-precision one.
    fn cosine_distance_f32_f16(a: &[f32], b: &[f16]) -> f64;
    /// `(a.b, |b|^2)` of an f32 vector and a half-precision one, in one
    /// pass: the cosine against a stored vector when `a` is known to be a
    /// unit vector (one accumulator less than [`cosine_distance_f32_f16`]).
    fn dot_norm_f32_f16(a: &[f32], b: &[f16]) -> (f32, f32);

    /// Number of differing bits.
    fn hamming(a: &[u8], b: &[u8]) -> u64;
    /// Number of set bits.
    fn popcount(a: &[u8]) -> u64;
    /// Jaccard distance `1 - |a & b| / |a | b|`; 1.0 when `a & b` is empty.
    fn jaccard_distance(a: &[u8], b: &[u8]) -> f64;

    /// Inner product of two sparse vectors (strictly ascending indices).
    fn sparse_dot(ai: &[i32], av: &[f32], bi: &[i32], bv: &[f32]) -> f32;
    /// Squared Euclidean distance of two sparse vectors; an index present on
    /// one side only contributes its value squared.
    fn sparse_l2_squared(ai: &[i32], av: &[f32], bi: &[i32], bv: &[f32]) -> f32;
    /// Manhattan distance of two sparse vectors; an index present on one
    /// side only contributes its absolute value.
    fn sparse_l1(ai: &[i32], av: &[f32], bi: &[i32], bv: &[f32]) -> f32;
}

/// The common prefix of two slices that callers promise are equally long.
#[inline(always)]
pub(crate) fn same_len<'a, 'b, T, U>(a: &'a [T], b: &'b [U]) -> (&'a [T], &'b [U]) {
    debug_assert_eq!(a.len(), b.len(), "kernel operands differ in length");
    let n = a.len().min(b.len());
    (&a[..n], &b[..n])
}

/// pgvector's cosine finish: the ratio in f64, clamped against rounding.
/// A zero norm yields 0/0 = NaN, which the clamp lets through on purpose.
#[inline]
pub(crate) fn cosine_from_parts(dot: f32, norm_a: f32, norm_b: f32) -> f64 {
    let similarity = dot as f64 / (norm_a as f64 * norm_b as f64).sqrt();
    1.0 - similarity.clamp(-1.0, 1.0)
}

/// pgvector's Jaccard finish from `|a & b|`, `|a|`, `|b|`.
#[inline]
pub(crate) fn jaccard_from_counts(ab: u64, aa: u64, bb: u64) -> f64 {
    if ab == 0 {
        1.0
    } else {
        1.0 - ab as f64 / (aa + bb - ab) as f64
    }
}
