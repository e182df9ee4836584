//! The seeded pseudo-random generator the index crates share (SplitMix64).
//!
//! Kept in-tree rather than pulled from `rand` so that a given seed yields
//! the same centroids, samples and graph levels forever, whatever version of
//! a dependency is resolved. It lives here because both index crates
//! (`hnsw`, `ivf`) already depend on the page store.

/// SplitMix64: 64 bits of state, passes BigCrush, trivially reproducible.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator whose first output is [`SplitMix64::mix`] of `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// The first output of a generator seeded with `x`: a fast, well-mixed
    /// 64-bit hash (the SplitMix64 finaliser after one step).
    pub fn mix(x: u64) -> u64 {
        SplitMix64::new(x).next_u64()
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `0..bound` (`bound > 0`), by widening multiplication
    /// (Lemire); the bias is below `bound / 2^64`.
    pub fn below(&mut self, bound: usize) -> usize {
        debug_assert!(bound > 0);
        ((self.next_u64() as u128 * bound as u128) >> 64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_never_change() {
        // The reference outputs of SplitMix64 seeded with 0 (Vigna's code).
        let mut rng = SplitMix64::new(0);
        assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(rng.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(SplitMix64::mix(0), 0xE220_A839_7B1D_CDAF);
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut rng = SplitMix64::new(7);
        let mut seen = [false; 5];
        for _ in 0..1000 {
            seen[rng.below(5)] = true;
        }
        assert!(seen.iter().all(|&s| s));
        let f = rng.next_f64();
        assert!((0.0..1.0).contains(&f));
    }
}
