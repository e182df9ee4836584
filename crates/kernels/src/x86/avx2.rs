//! AVX2 + FMA + F16C path: 8 f32 lanes, 32-byte bit blocks.

use std::arch::x86_64::*;

simd_kernels!(crate::Isa::Avx2, "avx2,fma,f16c");

type F = __m256;
const LANES: usize = 8;

/// Peel a partial first block so that the loads from `a` are aligned.
const ALIGN_LOADS: bool = true;

type B = __m256i;
const BYTES: usize = 32;

/// Four 64-bit popcount partial sums.
type C = __m256i;

with_target_features! { "avx2,fma,f16c";
    fn zero() -> F {
        _mm256_setzero_ps()
    }

    fn add(a: F, b: F) -> F {
        _mm256_add_ps(a, b)
    }

    fn sub(a: F, b: F) -> F {
        _mm256_sub_ps(a, b)
    }

    fn fmadd(a: F, b: F, acc: F) -> F {
        _mm256_fmadd_ps(a, b, acc)
    }

    fn abs(a: F) -> F {
        // -0.0 is the sign bit alone.
        _mm256_andnot_ps(_mm256_set1_ps(-0.0), a)
    }

    fn hsum(v: F) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)))
    }

    unsafe fn load_bytes(p: *const u8) -> B {
        // SAFETY: the caller guarantees BYTES readable bytes at `p`.
        unsafe { _mm256_loadu_si256(p.cast()) }
    }

    fn load_bytes_partial(s: &[u8]) -> B {
        // Whole 32-bit words with a mask load, the last s.len() % 4 bytes
        // assembled into the next lane: no copy, no call to memcpy.
        let words = s.len() / 4;
        let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        let in_words = _mm256_cmpgt_epi32(_mm256_set1_epi32(words as i32), lane);
        // SAFETY: only the first `words` 4-byte units of `s` are read.
        let v = unsafe { _mm256_maskload_epi32(s.as_ptr().cast(), in_words) };
        let rest = s[words * 4..].iter().rev().fold(0u32, |acc, &byte| (acc << 8) | byte as u32);
        let at_rest = _mm256_cmpeq_epi32(lane, _mm256_set1_epi32(words as i32));
        _mm256_or_si256(v, _mm256_and_si256(at_rest, _mm256_set1_epi32(rest as i32)))
    }

    fn and(a: B, b: B) -> B {
        _mm256_and_si256(a, b)
    }

    fn xor(a: B, b: B) -> B {
        _mm256_xor_si256(a, b)
    }

    fn count_zero() -> C {
        _mm256_setzero_si256()
    }

    fn count_add(acc: C, v: B) -> C {
        // AVX2 has no vector popcount: look up each nibble's count with a
        // byte shuffle, then let `sad` sum the bytes of each 64-bit lane.
        #[rustfmt::skip]
        let lut = _mm256_setr_epi8(
            0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
            0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
        );
        let nibble = _mm256_set1_epi8(0x0f);
        let lo = _mm256_and_si256(v, nibble);
        let hi = _mm256_and_si256(_mm256_srli_epi16::<4>(v), nibble);
        let bytes = _mm256_add_epi8(_mm256_shuffle_epi8(lut, lo), _mm256_shuffle_epi8(lut, hi));
        _mm256_add_epi64(acc, _mm256_sad_epu8(bytes, _mm256_setzero_si256()))
    }

    fn count_total(c: C) -> u64 {
        let s = _mm_add_epi64(_mm256_castsi256_si128(c), _mm256_extracti128_si256::<1>(c));
        (_mm_cvtsi128_si64(s) + _mm_extract_epi64::<1>(s)) as u64
    }
}

impl Load for f32 {
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn load(p: *const f32) -> F {
        // SAFETY: the caller guarantees LANES readable elements at `p`.
        unsafe { _mm256_loadu_ps(p) }
    }

    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn load_partial(s: &[f32]) -> F {
        // Lane k is loaded iff k < len, i.e. iff k - len is negative: the
        // mask load reads the sign bits and never touches the other lanes.
        let mask = _mm256_sub_epi32(
            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
            _mm256_set1_epi32(s.len() as i32),
        );
        // SAFETY: only the first s.len() elements are read.
        unsafe { _mm256_maskload_ps(s.as_ptr(), mask) }
    }
}

impl Load for f16 {
    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn load(p: *const f16) -> F {
        // SAFETY: the caller guarantees LANES readable elements at `p`.
        _mm256_cvtph_ps(unsafe { _mm_loadu_si128(p.cast()) })
    }

    #[inline]
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn load_partial(s: &[f16]) -> F {
        // There is no 16-bit mask load before AVX-512BW: load whole pairs
        // with a 32-bit mask load and blend in an odd last element.
        let n = s.len();
        let in_pairs = _mm_cmpgt_epi32(_mm_set1_epi32((n / 2) as i32), _mm_setr_epi32(0, 1, 2, 3));
        // SAFETY: only the first n / 2 pairs of `s` are read.
        let mut bits = unsafe { _mm_maskload_epi32(s.as_ptr().cast(), in_pairs) };
        if n % 2 == 1 {
            let last = s[n - 1];
            let at_last = _mm_cmpeq_epi16(
                _mm_setr_epi16(0, 1, 2, 3, 4, 5, 6, 7),
                _mm_set1_epi16((n - 1) as i16),
            );
            bits = _mm_blendv_epi8(bits, _mm_set1_epi16(last.to_bits() as i16), at_last);
        }
        _mm256_cvtph_ps(bits)
    }
}
