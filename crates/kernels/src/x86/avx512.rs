//! AVX-512F + AVX-512BW path: 16 f32 lanes, 64-byte bit blocks, and masked
//! loads for every tail (BW supplies the 8- and 16-bit ones).
//!
//! Popcount uses a BW nibble lookup; CPUs with VPOPCNTDQ (Ice Lake, Zen 4
//! and later) get the `KERNELS_VPOPCNTDQ` variant, with native popcounts.

use std::arch::x86_64::*;

simd_kernels!(crate::Isa::Avx512, "avx512f,avx512bw,avx2,fma,f16c");

type F = __m512;
const LANES: usize = 16;

/// Peel a partial first block so that the loads from `a` are aligned.
const ALIGN_LOADS: bool = true;

type B = __m512i;
const BYTES: usize = 64;

/// Eight 64-bit popcount partial sums.
type C = __m512i;

with_target_features! { "avx512f,avx512bw,avx2,fma,f16c";
    fn zero() -> F {
        _mm512_setzero_ps()
    }

    fn add(a: F, b: F) -> F {
        _mm512_add_ps(a, b)
    }

    fn sub(a: F, b: F) -> F {
        _mm512_sub_ps(a, b)
    }

    fn fmadd(a: F, b: F, acc: F) -> F {
        _mm512_fmadd_ps(a, b, acc)
    }

    fn abs(a: F) -> F {
        _mm512_abs_ps(a)
    }

    fn hsum(v: F) -> f32 {
        _mm512_reduce_add_ps(v)
    }

    unsafe fn load_bytes(p: *const u8) -> B {
        // SAFETY: the caller guarantees BYTES readable bytes at `p`.
        unsafe { _mm512_loadu_si512(p.cast()) }
    }

    fn load_bytes_partial(s: &[u8]) -> B {
        // SAFETY: the mask covers exactly the s.len() < 64 bytes of `s`;
        // masked-off bytes are neither read nor able to fault.
        unsafe { _mm512_maskz_loadu_epi8(low_bits(s.len()), s.as_ptr().cast()) }
    }

    fn and(a: B, b: B) -> B {
        _mm512_and_si512(a, b)
    }

    fn xor(a: B, b: B) -> B {
        _mm512_xor_si512(a, b)
    }

    fn count_zero() -> C {
        _mm512_setzero_si512()
    }

    fn count_add(acc: C, v: B) -> C {
        // Nibble lookup with a byte shuffle, then `sad` sums each 64-bit lane.
        #[rustfmt::skip]
        let lut = _mm512_set4_epi32(0x0403_0302, 0x0302_0201, 0x0302_0201, 0x0201_0100);
        let nibble = _mm512_set1_epi8(0x0f);
        let lo = _mm512_and_si512(v, nibble);
        let hi = _mm512_and_si512(_mm512_srli_epi16::<4>(v), nibble);
        let bytes = _mm512_add_epi8(_mm512_shuffle_epi8(lut, lo), _mm512_shuffle_epi8(lut, hi));
        _mm512_add_epi64(acc, _mm512_sad_epu8(bytes, _mm512_setzero_si512()))
    }

    fn count_total(c: C) -> u64 {
        _mm512_reduce_add_epi64(c) as u64
    }
}

/// The AVX-512 table with the bit kernels on VPOPCNTDQ.
pub(crate) static KERNELS_VPOPCNTDQ: Kernels = Kernels {
    name: "avx512+vpopcntdq",
    hamming: vpopcntdq::hamming,
    popcount: vpopcntdq::popcount,
    jaccard_distance: vpopcntdq::jaccard_distance,
    ..TABLE
};

mod vpopcntdq {
    use super::{
        and, count_total, count_zero, load_bytes, load_bytes_partial, xor, ALIGN_LOADS, B, BYTES, C,
    };
    use std::arch::x86_64::*;

    simd_bit_kernels!("avx512f,avx512bw,avx512vpopcntdq,avx2,fma,f16c");

    with_target_features! { "avx512f,avx512bw,avx512vpopcntdq,avx2,fma,f16c";
        fn count_add(acc: C, v: B) -> C {
            _mm512_add_epi64(acc, _mm512_popcnt_epi64(v))
        }
    }
}

/// A load mask selecting the first `n < 64` elements.
#[inline(always)]
fn low_bits(n: usize) -> u64 {
    debug_assert!(n < 64);
    (1u64 << n) - 1
}

impl Load for f32 {
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
    unsafe fn load(p: *const f32) -> F {
        // SAFETY: the caller guarantees LANES readable elements at `p`.
        unsafe { _mm512_loadu_ps(p) }
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
    unsafe fn load_partial(s: &[f32]) -> F {
        // SAFETY: the mask covers exactly the s.len() < 16 elements of `s`.
        unsafe { _mm512_maskz_loadu_ps(low_bits(s.len()) as __mmask16, s.as_ptr()) }
    }
}

impl Load for f16 {
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
    unsafe fn load(p: *const f16) -> F {
        // SAFETY: the caller guarantees LANES readable elements at `p`.
        _mm512_cvtph_ps(unsafe { _mm256_loadu_si256(p.cast()) })
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw,avx2,fma,f16c")]
    unsafe fn load_partial(s: &[f16]) -> F {
        // A 512-bit masked load of 16-bit elements (the 256-bit form would
        // need AVX-512VL); only the low 16 elements are ever selected.
        // SAFETY: the mask covers exactly the s.len() < 16 elements of `s`.
        let halves =
            unsafe { _mm512_maskz_loadu_epi16(low_bits(s.len()) as __mmask32, s.as_ptr().cast()) };
        _mm512_cvtph_ps(_mm512_castsi512_si256(halves))
    }
}
