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

/// Word `w` of plane `l` of a code body (little-endian `u64`s).
#[inline(always)]
fn word(code: &[u8], words: usize, l: usize, w: usize) -> u64 {
    let at = (l * words + w) * 8;
    u64::from_le_bytes(code[at..at + 8].try_into().expect("8 bytes"))
}

/// The reference implementation of [`plane_dot`].
#[inline(always)]
pub fn scalar(code: &[u8], bits: usize, query: &[u64], qbits: usize, words: usize) -> u64 {
    assert!(code.len() >= bits * words * 8 && query.len() >= qbits * words);
    let mut total = 0u64;
    for l in 0..bits {
        // Per query plane j: sum over words of popcount(X_l & Q_j).
        let mut acc = [0u64; 8];
        for w in 0..words {
            let x = word(code, words, l, w);
            let q = &query[w * qbits..(w + 1) * qbits];
            for j in 0..qbits {
                acc[j] += (x & q[j]).count_ones() as u64;
            }
        }
        let mut plane = 0u64;
        for (j, a) in acc.iter().enumerate().take(qbits) {
            plane += a << j;
        }
        total += plane << l;
    }
    total
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
    use crate::rng::SplitMix64;

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
