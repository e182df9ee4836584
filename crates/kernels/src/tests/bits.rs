//! Bit kernels: exact agreement with a byte-at-a-time count and with the
//! scalar reference.

use super::{tables, Rng};
use crate::{jaccard_from_counts, scalar};
use proptest::collection::vec;
use proptest::prelude::*;

fn count(a: &[u8], b: &[u8], f: impl Fn(u8, u8) -> u8) -> u64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| f(x, y).count_ones() as u64)
        .sum()
}

fn check(a: &[u8], b: &[u8]) {
    let hamming = count(a, b, |x, y| x ^ y);
    let popcount = count(a, a, |x, _| x);
    let jaccard = jaccard_from_counts(count(a, b, |x, y| x & y), popcount, count(b, b, |x, _| x));
    assert_eq!(scalar::hamming(a, b), hamming);
    assert_eq!(scalar::popcount(a), popcount);
    assert_eq!(scalar::jaccard_distance(a, b).to_bits(), jaccard.to_bits());
    for t in tables() {
        let what = format!("{} len {}", t.name, a.len());
        assert_eq!(t.hamming(a, b), hamming, "{what} hamming");
        assert_eq!(t.popcount(a), popcount, "{what} popcount");
        assert_eq!(
            t.jaccard_distance(a, b).to_bits(),
            jaccard.to_bits(),
            "{what} jaccard"
        );
    }
}

proptest! {
    #[test]
    fn bit_paths_are_exact(
        (a, b, skip_a, skip_b) in (0..=2048usize, 0..64usize, 0..64usize).prop_flat_map(|(len, sa, sb)| {
            (vec(any::<u8>(), len + sa), vec(any::<u8>(), len + sb), Just(sa), Just(sb))
        })
    ) {
        check(&a[skip_a..], &b[skip_b..]);
    }

    #[test]
    fn sparse_bit_patterns_are_exact(
        (a, b) in (0..=600usize).prop_flat_map(|len| {
            // Mostly-zero bytes: jaccard's `ab == 0` branch and small counts.
            let byte = prop_oneof![8 => Just(0u8), 1 => any::<u8>()];
            (vec(byte.clone(), len), vec(byte, len))
        })
    ) {
        check(&a, &b);
    }
}

#[test]
fn every_length_is_exact() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for len in 0..=2048usize {
        // Start offsets cycle through every alignment modulo 64.
        let (skip_a, skip_b) = (len % 67, len % 71);
        let a: Vec<u8> = (0..len + skip_a).map(|_| rng.next_u64() as u8).collect();
        let b: Vec<u8> = (0..len + skip_b).map(|_| rng.next_u64() as u8).collect();
        check(&a[skip_a..], &b[skip_b..]);
    }
}

#[test]
fn jaccard_edge_cases() {
    for t in tables() {
        let isa = t.name;
        let zeros = [0u8; 77];
        let ones = [0xffu8; 77];
        assert_eq!(t.jaccard_distance(&zeros, &zeros), 1.0, "{isa}");
        assert_eq!(t.jaccard_distance(&ones, &zeros), 1.0, "{isa}");
        assert_eq!(t.jaccard_distance(&ones, &ones), 0.0, "{isa}");
        assert_eq!(t.jaccard_distance(&[], &[]), 1.0, "{isa}");
        assert_eq!(t.hamming(&ones, &zeros), 77 * 8, "{isa}");
        assert_eq!(t.popcount(&ones), 77 * 8, "{isa}");
    }
}
