//! Advanced SIMD path: 4 f32 lanes, 16-byte bit blocks. Tails go through a
//! zeroed stack block, since NEON has no masked loads. f16 is widened with
//! FCVTL, which is base ARMv8 (no FP16 arithmetic extension needed).

use std::arch::aarch64::*;

simd_kernels!(crate::Isa::Neon, "neon");

type F = float32x4_t;
const LANES: usize = 4;

/// Skip the alignment peel: it would go through a stack copy, and 16-byte
/// loads rarely straddle a cache line.
const ALIGN_LOADS: bool = false;

type B = uint8x16_t;
const BYTES: usize = 16;

/// Two 64-bit popcount partial sums.
type C = uint64x2_t;

with_target_features! { "neon";
    fn zero() -> F {
        vdupq_n_f32(0.0)
    }

    fn add(a: F, b: F) -> F {
        vaddq_f32(a, b)
    }

    fn sub(a: F, b: F) -> F {
        vsubq_f32(a, b)
    }

    fn fmadd(a: F, b: F, acc: F) -> F {
        vfmaq_f32(acc, a, b)
    }

    fn abs(a: F) -> F {
        vabsq_f32(a)
    }

    fn hsum(v: F) -> f32 {
        vaddvq_f32(v)
    }

    unsafe fn load_bytes(p: *const u8) -> B {
        // SAFETY: the caller guarantees BYTES readable bytes at `p`.
        unsafe { vld1q_u8(p) }
    }

    fn load_bytes_partial(s: &[u8]) -> B {
        // SAFETY: the padded block holds BYTES bytes.
        unsafe { load_bytes(zero_padded::<_, BYTES>(s).as_ptr()) }
    }

    fn and(a: B, b: B) -> B {
        vandq_u8(a, b)
    }

    fn xor(a: B, b: B) -> B {
        veorq_u8(a, b)
    }

    fn count_zero() -> C {
        vdupq_n_u64(0)
    }

    fn count_add(acc: C, v: B) -> C {
        // Per-byte popcount, then widen pairwise until the 64-bit lanes.
        vpadalq_u32(acc, vpaddlq_u16(vpaddlq_u8(vcntq_u8(v))))
    }

    fn count_total(c: C) -> u64 {
        vaddvq_u64(c)
    }
}

impl Load for f32 {
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn load(p: *const f32) -> F {
        // SAFETY: the caller guarantees LANES readable elements at `p`.
        unsafe { vld1q_f32(p) }
    }

    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn load_partial(s: &[f32]) -> F {
        // SAFETY: the padded block holds LANES elements.
        unsafe { Self::load(zero_padded::<_, LANES>(s).as_ptr()) }
    }
}

impl Load for f16 {
    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn load(p: *const f16) -> F {
        // SAFETY: the caller guarantees LANES readable elements at `p`.
        let bits = unsafe { vld1_u16(p.cast()) };
        vcvt_f32_f16(vreinterpret_f16_u16(bits))
    }

    #[inline]
    #[target_feature(enable = "neon")]
    unsafe fn load_partial(s: &[f16]) -> F {
        // SAFETY: the padded block holds LANES elements.
        unsafe { Self::load(zero_padded::<_, LANES>(s).as_ptr()) }
    }
}

/// Copies a short tail into a zeroed block (NEON has no masked loads).
#[inline(always)]
fn zero_padded<T: Copy + Default, const N: usize>(s: &[T]) -> [T; N] {
    let mut block = [T::default(); N];
    block[..s.len()].copy_from_slice(s);
    block
}
