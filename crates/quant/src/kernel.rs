//! The hot loop: inner product of a bit-plane code with a bit-plane query.
//!
//! A code of `B` bits per dimension is stored as `B` bit planes `X_l` and a
//! query quantized to `Bq` bits as `Bq` planes `Q_j`, so
//!
//! `sum_i x_i k_i = sum_l sum_j 2^(l+j) popcount(X_l & Q_j)`
//!
//! is exact integer arithmetic. The query planes are interleaved by word
//! (`query[w * Bq + j]`), so each code word is loaded once.
//!
//! Paths: [`scalar`] (portable, the reference) and, on x86-64, the same loop
//! compiled with the `popcnt` instruction, chosen at run time (the baseline
//! x86-64 target has no `popcnt`, and `count_ones` then costs ~15
//! instructions).
//!
//! 4-bit codes laid out as nibbles ([`crate::Layout::Nibbles`]) take
//! [`nibble_dot`] instead: the levels times the query's bytes, 64
//! dimensions per 32 code bytes, with AVX2's byte multiply-add where the CPU
//! has it ([`nibble_scalar`] is the reference).

use std::sync::atomic::{AtomicU8, Ordering};

/// One plane of the code against all `QB` query planes:
/// `sum_j 2^j sum_w popcount(x_w & q_{w,j})`.
#[inline(always)]
fn plane<const QB: usize>(plane: &[u8], query: &[u64]) -> u64 {
    let mut acc = [0u64; QB];
    for (x, q) in plane.chunks_exact(8).zip(query.chunks_exact(QB)) {
        let x = u64::from_le_bytes(x.try_into().expect("8 bytes"));
        for j in 0..QB {
            acc[j] += (x & q[j]).count_ones() as u64;
        }
    }
    let mut sum = 0;
    for (j, a) in acc.iter().enumerate() {
        sum += a << j;
    }
    sum
}

#[inline(always)]
fn planes<const QB: usize>(code: &[u8], bits: usize, query: &[u64], words: usize) -> u64 {
    let mut total = 0u64;
    for l in 0..bits {
        total += plane::<QB>(&code[l * words * 8..(l + 1) * words * 8], query) << l;
    }
    total
}

/// The reference implementation of [`plane_dot`].
#[inline(always)]
pub fn scalar(code: &[u8], bits: usize, query: &[u64], qbits: usize, words: usize) -> u64 {
    assert!(code.len() >= bits * words * 8 && query.len() >= qbits * words);
    let query = &query[..qbits * words];
    match qbits {
        1 => planes::<1>(code, bits, query, words),
        2 => planes::<2>(code, bits, query, words),
        3 => planes::<3>(code, bits, query, words),
        4 => planes::<4>(code, bits, query, words),
        5 => planes::<5>(code, bits, query, words),
        6 => planes::<6>(code, bits, query, words),
        7 => planes::<7>(code, bits, query, words),
        8 => planes::<8>(code, bits, query, words),
        _ => panic!("at most 8 query bits"),
    }
}

/// `scalar` with the `popcnt` instruction.
///
/// # Safety
/// The CPU must support `popcnt`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
unsafe fn with_popcnt(code: &[u8], bits: usize, query: &[u64], qbits: usize, words: usize) -> u64 {
    scalar(code, bits, query, qbits, words)
}

/// What the CPU has, detected once: [`DETECTED`] plus the feature bits.
static FEATURES: AtomicU8 = AtomicU8::new(0);
const DETECTED: u8 = 1;
const POPCNT: u8 = 2;
pub(crate) const AVX2: u8 = 4;
pub(crate) const AVX512F: u8 = 8;

#[inline(always)]
pub(crate) fn features() -> u8 {
    let f = FEATURES.load(Ordering::Relaxed);
    if f != 0 {
        return f;
    }
    #[allow(unused_mut)]
    let mut f = DETECTED;
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("popcnt") {
            f |= POPCNT;
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            f |= AVX2;
        }
        if std::arch::is_x86_feature_detected!("avx512f") {
            f |= AVX512F;
        }
    }
    FEATURES.store(f, Ordering::Relaxed);
    f
}

/// Name of the path [`plane_dot`] uses on this CPU.
pub fn active_path() -> &'static str {
    if features() & POPCNT != 0 {
        "popcnt"
    } else {
        "scalar"
    }
}

/// `sum_i x_i k_i` for a code body of `bits` planes and a query of `qbits`
/// interleaved planes, `words` 64-bit words per plane (`qbits <= 8`).
///
/// Panics if `code` or `query` is too short.
#[inline]
pub fn plane_dot(code: &[u8], bits: usize, query: &[u64], qbits: usize, words: usize) -> u64 {
    assert!(qbits <= 8, "at most 8 query bits");
    #[cfg(target_arch = "x86_64")]
    if features() & POPCNT != 0 {
        // SAFETY: `features` only sets POPCNT after detecting the feature.
        return unsafe { with_popcnt(code, bits, query, qbits, words) };
    }
    scalar(code, bits, query, qbits, words)
}

/// The reference implementation of [`nibble_dot`].
#[inline(always)]
pub fn nibble_scalar(body: &[u8], query: &[i8], words: usize) -> i64 {
    assert!(body.len() >= words * 32 && query.len() >= words * 64);
    let mut total = 0i64;
    for w in 0..words {
        let (code, q) = (&body[w * 32..w * 32 + 32], &query[w * 64..w * 64 + 64]);
        // 64 products of at most 15 * 128: no overflow in i32.
        let mut s = 0i32;
        for j in 0..32 {
            s += (code[j] & 15) as i32 * q[j] as i32 + (code[j] >> 4) as i32 * q[32 + j] as i32;
        }
        total += s as i64;
    }
    total
}

/// [`nibble_scalar`] with AVX2: `vpmaddubsw` multiplies the unsigned
/// levels (at most 15) with the signed query bytes and adds pairs (at most
/// `2 * 15 * 128` in magnitude, so never saturates), the two nibbles' sums
/// are added in 16 bits (at most 7,680), `vpmaddwd` widens to 32 bits.
///
/// # Safety
/// The CPU must support AVX2, and `body` / `query` must hold `words * 32`
/// / `words * 64` bytes (checked by the caller).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn nibble_avx2(body: &[u8], query: &[i8], words: usize) -> i64 {
    use std::arch::x86_64::*;
    debug_assert!(body.len() >= words * 32 && query.len() >= words * 64);
    let low = _mm256_set1_epi8(15);
    let ones = _mm256_set1_epi16(1);
    let mut acc = _mm256_setzero_si256();
    // Each 32-bit lane gains at most 4 * 7,680 per word; 250 words (16,000
    // dimensions, the rotation's limit) stay far below i32's range.
    for w in 0..words {
        // SAFETY: the reads stay within `body[w * 32 .. w * 32 + 32]` and
        // `query[w * 64 .. w * 64 + 64]` (lengths above); unaligned loads.
        let (c, q0, q1) = unsafe {
            (
                _mm256_loadu_si256(body.as_ptr().add(w * 32) as *const __m256i),
                _mm256_loadu_si256(query.as_ptr().add(w * 64) as *const __m256i),
                _mm256_loadu_si256(query.as_ptr().add(w * 64 + 32) as *const __m256i),
            )
        };
        let lo = _mm256_and_si256(c, low);
        let hi = _mm256_and_si256(_mm256_srli_epi16(c, 4), low);
        let s = _mm256_add_epi16(_mm256_maddubs_epi16(lo, q0), _mm256_maddubs_epi16(hi, q1));
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(s, ones));
    }
    let sum = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    let sum = _mm_add_epi32(sum, _mm_shuffle_epi32(sum, 0b01_00_11_10));
    let sum = _mm_add_epi32(sum, _mm_shuffle_epi32(sum, 0b10_11_00_01));
    _mm_cvtsi128_si32(sum) as i64
}

/// `sum_i x_i q_i` for a [`crate::Layout::Nibbles`] code body (`words * 32`
/// bytes: 64 levels per 32 bytes) and signed query bytes in dimension
/// order (`words * 64`).
///
/// Panics if `body` or `query` is too short.
#[inline]
pub fn nibble_dot(body: &[u8], query: &[i8], words: usize) -> i64 {
    assert!(body.len() >= words * 32 && query.len() >= words * 64);
    #[cfg(target_arch = "x86_64")]
    if features() & AVX2 != 0 {
        // SAFETY: AVX2 was detected, and the lengths were checked above.
        return unsafe { nibble_avx2(body, query, words) };
    }
    nibble_scalar(body, query, words)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pagestore::rng::SplitMix64;

    #[test]
    fn nibble_paths_agree_with_naive_sum() {
        let mut rng = SplitMix64::new(5);
        for &dims in &[1usize, 31, 32, 33, 64, 65, 384, 1000, 16_000] {
            let words = dims.div_ceil(64);
            for round in 0..4 {
                let x: Vec<u8> = (0..dims).map(|_| (rng.next_u64() % 16) as u8).collect();
                // Extremes in some rounds: every product at its largest.
                let q: Vec<i8> = (0..words * 64)
                    .map(|_| match round {
                        0 => -128,
                        1 => 127,
                        _ => rng.next_u64() as i8,
                    })
                    .collect();
                let mut body = vec![0u8; words * 32];
                for (i, &v) in x.iter().enumerate() {
                    let j = i % 64;
                    body[i / 64 * 32 + j % 32] |= v << if j < 32 { 0 } else { 4 };
                }
                let want: i64 = x.iter().zip(&q).map(|(&a, &b)| a as i64 * b as i64).sum();
                assert_eq!(nibble_scalar(&body, &q, words), want, "{dims}");
                assert_eq!(nibble_dot(&body, &q, words), want, "{dims}");
                #[cfg(target_arch = "x86_64")]
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: AVX2 detected; lengths as built above.
                    assert_eq!(unsafe { nibble_avx2(&body, &q, words) }, want, "{dims}");
                }
            }
        }
    }

    #[test]
    fn paths_agree_with_naive_sum() {
        let mut rng = SplitMix64::new(3);
        for &dims in &[1usize, 63, 64, 65, 384, 1000] {
            let words = dims.div_ceil(64);
            for bits in 1..=8usize {
                for qbits in [1usize, 4, 8] {
                    // Random values, then planes of them.
                    let x: Vec<u64> = (0..dims).map(|_| rng.next_u64() % (1 << bits)).collect();
                    let k: Vec<u64> = (0..dims).map(|_| rng.next_u64() % (1 << qbits)).collect();
                    let mut code = vec![0u8; bits * words * 8];
                    for l in 0..bits {
                        for i in 0..dims {
                            if x[i] >> l & 1 == 1 {
                                code[(l * words + i / 64) * 8 + (i % 64) / 8] |= 1 << (i % 8);
                            }
                        }
                    }
                    let mut query = vec![0u64; qbits * words];
                    for j in 0..qbits {
                        for i in 0..dims {
                            if k[i] >> j & 1 == 1 {
                                query[(i / 64) * qbits + j] |= 1 << (i % 64);
                            }
                        }
                    }
                    let want: u64 = x.iter().zip(&k).map(|(a, b)| a * b).sum();
                    assert_eq!(scalar(&code, bits, &query, qbits, words), want);
                    assert_eq!(plane_dot(&code, bits, &query, qbits, words), want);
                }
            }
        }
    }
}
