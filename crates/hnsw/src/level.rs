//! Deterministic pseudo-random level assignment.

/// A fast, well-mixed 64-bit hash: the first output of the generator the
/// index crates share, seeded with `x`.
pub(crate) fn mix64(x: u64) -> u64 {
    pagestore::rng::SplitMix64::mix(x)
}

/// Level for an element whose random draw is `hash`: `floor(-ln(u) * mL)`
/// with `u` uniform in (0, 1) and `mL = 1 / ln(m)`, capped at `cap`.
pub(crate) fn random_level(hash: u64, m: u16, cap: u8) -> u8 {
    let u = ((hash >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    let ml = 1.0 / (m as f64).ln();
    let level = (-u.ln() * ml).floor();
    level.min(cap as f64) as u8
}

/// Level of the `index`-th element of a build seeded with `seed`.
pub(crate) fn build_level(seed: u64, index: u64, m: u16, cap: u8) -> u8 {
    random_level(mix64(seed ^ mix64(index)), m, cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_distribution_matches_ml() {
        let n = 200_000u64;
        let mut counts = [0u64; 8];
        for i in 0..n {
            counts[build_level(42, i, 16, 7) as usize] += 1;
        }
        // P(level >= 1) = 1/m.
        let above = (n - counts[0]) as f64 / n as f64;
        assert!((above - 1.0 / 16.0).abs() < 0.005, "{above}");
        let above2 = (n - counts[0] - counts[1]) as f64 / n as f64;
        assert!((above2 - 1.0 / 256.0).abs() < 0.001, "{above2}");
        assert_eq!(build_level(1, 5, 16, 3), build_level(1, 5, 16, 3));
        assert!((0..1000).all(|i| build_level(7, i, 2, 3) <= 3));
    }
}
