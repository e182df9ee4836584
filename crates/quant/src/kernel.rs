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

const UNKNOWN: u8 = 0;
const SCALAR: u8 = 1;
const POPCNT: u8 = 2;
static PATH: AtomicU8 = AtomicU8::new(UNKNOWN);

fn detect() -> u8 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("popcnt") {
        return POPCNT;
    }
    SCALAR
}

/// Name of the path [`plane_dot`] uses on this CPU.
pub fn active_path() -> &'static str {
    match current() {
        POPCNT => "popcnt",
        _ => "scalar",
    }
}

#[inline(always)]
fn current() -> u8 {
    let p = PATH.load(Ordering::Relaxed);
    if p != UNKNOWN {
        return p;
    }
    let p = detect();
    PATH.store(p, Ordering::Relaxed);
    p
}

/// `sum_i x_i k_i` for a code body of `bits` planes and a query of `qbits`
/// interleaved planes, `words` 64-bit words per plane (`qbits <= 8`).
///
/// Panics if `code` or `query` is too short.
#[inline]
pub fn plane_dot(code: &[u8], bits: usize, query: &[u64], qbits: usize, words: usize) -> u64 {
    assert!(qbits <= 8, "at most 8 query bits");
    #[cfg(target_arch = "x86_64")]
    if current() == POPCNT {
        // SAFETY: `current` only answers POPCNT after detecting the feature.
        return unsafe { with_popcnt(code, bits, query, qbits, words) };
    }
    scalar(code, bits, query, qbits, words)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pagestore::rng::SplitMix64;

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
