//! A random orthogonal rotation of `R^n`, recomputed from a seed, applied in
//! `O(n log n)` without any `n × n` matrix.
//!
//! Construction ("overlapping randomized Hadamard"): let `p` be the largest
//! power of two `<= n`, `H_p` the `p × p` Walsh–Hadamard matrix scaled by
//! `1/sqrt(p)` (orthogonal), and `D` a diagonal of random signs. One round is
//!
//! 1. `x <- D_1 x`, then `H_p` on the head block `x[0..p]`;
//! 2. if `p < n`: `x <- D_2 x`, then `H_p` on the tail block `x[n-p..n]`.
//!
//! Since `p > n/2` the two blocks overlap and cover every coordinate. Every
//! step is orthogonal on `R^n` (identity outside its block), so the product of
//! [`ROUNDS`] rounds is exactly orthogonal in exact arithmetic, whatever the
//! signs are; the signs only make it *random*. A vector keeps its dimension:
//! no padding, so codes of an `n`-dimensional vector have exactly `n` bits per
//! bit plane.
//!
//! The transform runs in `f64`: its rounding error (a few units of `2^-53`
//! per butterfly level, relative to the norm) is negligible next to the `f32`
//! margins of the bounds, which allow `1e-9` for it.

use pagestore::rng::SplitMix64;

/// Rounds of sign flips and Hadamard transforms. Three rounds of a randomized
/// Hadamard transform already behave like a uniformly random rotation for
/// RaBitQ's purposes; four leave margin for the block scheme.
pub const ROUNDS: usize = 4;

/// Largest supported dimension (16,000 is what the indexes need).
pub const MAX_DIMS: usize = 1 << 16;

/// Serialized size of a [`Rotation`], see [`Rotation::to_bytes`].
pub const ROTATION_BYTES: usize = 16;

const MAGIC: [u8; 3] = *b"RRT";
const VERSION: u8 = 1;

/// A seeded random rotation of `R^dims`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rotation {
    dims: usize,
    seed: u64,
    /// Largest power of two `<= dims`.
    block: usize,
    /// Sign masks, one bit per coordinate (set = negate): `2 * ROUNDS` masks
    /// of `words` words each (head flip, tail flip per round).
    signs: Vec<u64>,
    words: usize,
}

/// Why a rotation or a quantizer could not be made or read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The dimension is 0 or above [`MAX_DIMS`].
    Dimensions(usize),
    /// Bits per dimension outside `1..=8`.
    Bits(u8),
    /// Serialized bytes that are not a rotation of this format.
    Corrupt(&'static str),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Dimensions(d) => {
                write!(f, "dimensions must be between 1 and {MAX_DIMS}, not {d}")
            }
            Error::Bits(b) => write!(f, "bits must be between 1 and 8, not {b}"),
            Error::Corrupt(why) => write!(f, "corrupt rotation: {why}"),
        }
    }
}

impl std::error::Error for Error {}

impl Rotation {
    /// The rotation of `R^dims` chosen by `seed`. Cheap: `O(dims)` to set up.
    pub fn new(dims: usize, seed: u64) -> Result<Self, Error> {
        if dims == 0 || dims > MAX_DIMS {
            return Err(Error::Dimensions(dims));
        }
        let block = 1usize << (usize::BITS - 1 - dims.leading_zeros());
        let words = dims.div_ceil(64);
        let mut rng = SplitMix64::new(seed);
        let mut signs: Vec<u64> = (0..2 * ROUNDS * words).map(|_| rng.next_u64()).collect();
        // Bits past `dims` are never read; keep them zero for tidiness.
        if !dims.is_multiple_of(64) {
            let keep = (1u64 << (dims % 64)) - 1;
            for m in signs.chunks_mut(words) {
                *m.last_mut().expect("words >= 1") &= keep;
            }
        }
        Ok(Rotation {
            dims,
            seed,
            block,
            signs,
            words,
        })
    }

    /// The dimension it rotates.
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// The seed it was made from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// `Q x`, in place. `x.len()` must be `dims`.
    pub fn apply(&self, x: &mut [f64]) {
        assert_eq!(x.len(), self.dims, "rotation dimension mismatch");
        #[cfg(target_arch = "x86_64")]
        {
            let f = crate::kernel::features();
            if f & crate::kernel::AVX512F != 0 {
                // SAFETY: the CPU has AVX-512F (detected).
                unsafe { self.apply_avx512(x) };
                return;
            }
            if f & crate::kernel::AVX2 != 0 {
                // SAFETY: the CPU has AVX2 (detected).
                unsafe { self.apply_avx2(x) };
                return;
            }
        }
        self.apply_generic(x);
    }

    /// [`apply`](Self::apply) compiled for AVX-512, bit for bit the same
    /// (see [`apply_avx2`](Self::apply_avx2)).
    ///
    /// # Safety
    /// The CPU must support AVX-512F.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn apply_avx512(&self, x: &mut [f64]) {
        self.apply_generic(x)
    }

    /// [`apply`](Self::apply) compiled for AVX2: the same operations in the
    /// same order (each butterfly and sign flip is one exactly rounded
    /// operation per coordinate), so the result is bit for bit the same.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn apply_avx2(&self, x: &mut [f64]) {
        self.apply_generic(x)
    }

    #[inline(always)]
    fn apply_generic(&self, x: &mut [f64]) {
        let (n, p) = (self.dims, self.block);
        let scale = 1.0 / (p as f64).sqrt();
        for round in 0..ROUNDS {
            self.flip(x, 2 * round);
            fwht(&mut x[..p], scale);
            if p < n {
                self.flip(x, 2 * round + 1);
                fwht(&mut x[n - p..], scale);
            }
        }
    }

    /// `Q^T x = Q^-1 x`, in place: the steps of [`apply`](Self::apply) in
    /// reverse order (each step is symmetric or a sign flip, hence its own
    /// inverse).
    pub fn apply_inverse(&self, x: &mut [f64]) {
        assert_eq!(x.len(), self.dims, "rotation dimension mismatch");
        let (n, p) = (self.dims, self.block);
        let scale = 1.0 / (p as f64).sqrt();
        for round in (0..ROUNDS).rev() {
            if p < n {
                fwht(&mut x[n - p..], scale);
                self.flip(x, 2 * round + 1);
            }
            fwht(&mut x[..p], scale);
            self.flip(x, 2 * round);
        }
    }

    /// `Q x` of an `f32` vector, widened to `f64` (exactly).
    pub fn rotate(&self, x: &[f32]) -> Vec<f64> {
        let mut y: Vec<f64> = x.iter().map(|&v| v as f64).collect();
        self.apply(&mut y);
        y
    }

    #[inline(always)]
    fn flip(&self, x: &mut [f64], mask: usize) {
        let m = &self.signs[mask * self.words..(mask + 1) * self.words];
        // Negation is the sign bit: flipping it is exactly `-v` (NaN and
        // zeros included), without a branch per coordinate.
        for (chunk, &word) in x.chunks_mut(64).zip(m) {
            for (i, v) in chunk.iter_mut().enumerate() {
                *v = f64::from_bits(v.to_bits() ^ ((word >> i) & 1) << 63);
            }
        }
    }

    /// What an index stores to recompute the rotation: magic, version,
    /// dimensions, seed (16 bytes, little-endian).
    pub fn to_bytes(&self) -> [u8; ROTATION_BYTES] {
        let mut b = [0u8; ROTATION_BYTES];
        b[..3].copy_from_slice(&MAGIC);
        b[3] = VERSION;
        b[4..8].copy_from_slice(&(self.dims as u32).to_le_bytes());
        b[8..16].copy_from_slice(&self.seed.to_le_bytes());
        b
    }

    /// Reads what [`to_bytes`](Self::to_bytes) wrote.
    pub fn from_bytes(b: &[u8]) -> Result<Self, Error> {
        if b.len() != ROTATION_BYTES {
            return Err(Error::Corrupt("wrong length"));
        }
        if b[..3] != MAGIC {
            return Err(Error::Corrupt("bad magic"));
        }
        if b[3] != VERSION {
            return Err(Error::Corrupt("unknown version"));
        }
        let dims = u32::from_le_bytes(b[4..8].try_into().expect("4 bytes")) as usize;
        let seed = u64::from_le_bytes(b[8..16].try_into().expect("8 bytes"));
        Rotation::new(dims, seed).map_err(|_| Error::Corrupt("bad dimensions"))
    }
}

/// In-place fast Walsh–Hadamard transform of a power-of-two-long slice,
/// multiplied by `scale`.
#[inline(always)]
fn fwht(x: &mut [f64], scale: f64) {
    let n = x.len();
    debug_assert!(n.is_power_of_two());
    // The two narrowest levels by hand (a loop over chunks of 2 or 4 does
    // not vectorize); the same butterflies as the general loop below.
    if n >= 2 {
        for c in x.chunks_exact_mut(2) {
            let (u, v) = (c[0], c[1]);
            c[0] = u + v;
            c[1] = u - v;
        }
    }
    if n >= 4 {
        for c in x.chunks_exact_mut(4) {
            let (a, b, u, v) = (c[0], c[1], c[2], c[3]);
            c[0] = a + u;
            c[1] = b + v;
            c[2] = a - u;
            c[3] = b - v;
        }
    }
    butterflies_from(x, 4);
    for v in x.iter_mut() {
        *v *= scale;
    }
}

/// The unscaled butterfly levels of width `h` and up, one loop per level.
#[inline(always)]
fn butterflies_from(x: &mut [f64], mut h: usize) {
    while h < x.len() {
        for chunk in x.chunks_exact_mut(2 * h) {
            let (a, b) = chunk.split_at_mut(h);
            for (u, v) in a.iter_mut().zip(b.iter_mut()) {
                let (s, d) = (*u + *v, *u - *v);
                *u = s;
                *v = d;
            }
        }
        h *= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rotation as first written: a branch per sign and the general
    /// loop for every butterfly level (no unrolled levels, no AVX2). Codes
    /// stored by earlier builds were made with it, so [`Rotation::apply`]
    /// must give the same bits.
    fn reference_apply(r: &Rotation, x: &mut [f64]) {
        fn fwht(x: &mut [f64], scale: f64) {
            butterflies_from(x, 1);
            for v in x.iter_mut() {
                *v *= scale;
            }
        }
        let flip = |x: &mut [f64], mask: usize| {
            let m = &r.signs[mask * r.words..(mask + 1) * r.words];
            for (i, v) in x.iter_mut().enumerate() {
                if m[i / 64] >> (i % 64) & 1 == 1 {
                    *v = -*v;
                }
            }
        };
        let (n, p) = (r.dims, r.block);
        let scale = 1.0 / (p as f64).sqrt();
        for round in 0..ROUNDS {
            flip(x, 2 * round);
            fwht(&mut x[..p], scale);
            if p < n {
                flip(x, 2 * round + 1);
                fwht(&mut x[n - p..], scale);
            }
        }
    }

    #[test]
    fn apply_is_bitwise_the_reference() {
        let mut rng = SplitMix64::new(11);
        let dims: Vec<usize> = (1..=130).chain([255, 256, 257, 384, 1000, 1536, 3072]).collect();
        for n in dims {
            let r = Rotation::new(n, 1000 + n as u64).unwrap();
            for case in 0..3 {
                let x: Vec<f64> = (0..n)
                    .map(|i| match case {
                        0 => (rng.next_u64() as i64 as f64) / 9.2e18,
                        1 => f64::from_bits(rng.next_u64() >> 2),
                        _ => [0.0, -0.0, 1e-300, -3.5, f64::NAN][i % 5],
                    })
                    .collect();
                let (mut a, mut b) = (x.clone(), x);
                r.apply(&mut a);
                reference_apply(&r, &mut b);
                for (i, (u, v)) in a.iter().zip(&b).enumerate() {
                    // A NaN's sign and payload depend on the operand order
                    // the vector unit chose; vectors hold no NaN (the types
                    // reject them), so only NaN-ness must agree.
                    if u.is_nan() || v.is_nan() {
                        assert!(u.is_nan() && v.is_nan(), "dims {n}, case {case}, coordinate {i}");
                        continue;
                    }
                    assert_eq!(u.to_bits(), v.to_bits(), "dims {n}, case {case}, coordinate {i}");
                }
            }
        }
    }

    #[test]
    fn small_dimensions_are_orthogonal() {
        // Columns Q e_i of every small dimension are orthonormal.
        for n in 1..=40 {
            let r = Rotation::new(n, 7 + n as u64).unwrap();
            let cols: Vec<Vec<f64>> = (0..n)
                .map(|i| {
                    let mut e = vec![0.0; n];
                    e[i] = 1.0;
                    r.apply(&mut e);
                    e
                })
                .collect();
            for i in 0..n {
                for j in 0..n {
                    let d: f64 = cols[i].iter().zip(&cols[j]).map(|(a, b)| a * b).sum();
                    let want = if i == j { 1.0 } else { 0.0 };
                    assert!((d - want).abs() < 1e-12, "n={n} i={i} j={j} d={d}");
                }
            }
        }
    }

    #[test]
    fn inverse_undoes() {
        let r = Rotation::new(100, 1).unwrap();
        let x: Vec<f64> = (0..100).map(|i| (i as f64).sin()).collect();
        let mut y = x.clone();
        r.apply(&mut y);
        r.apply_inverse(&mut y);
        for (a, b) in x.iter().zip(&y) {
            assert!((a - b).abs() < 1e-12);
        }
    }

    #[test]
    fn bytes_round_trip_and_reject() {
        let r = Rotation::new(16000, 0xDEAD_BEEF).unwrap();
        let b = r.to_bytes();
        assert_eq!(Rotation::from_bytes(&b).unwrap(), r);
        let mut bad = b;
        bad[0] = b'X';
        assert!(Rotation::from_bytes(&bad).is_err());
        let mut bad = b;
        bad[4..8].copy_from_slice(&0u32.to_le_bytes());
        assert!(Rotation::from_bytes(&bad).is_err());
        assert!(Rotation::from_bytes(&b[..15]).is_err());
        assert_eq!(Rotation::new(0, 1), Err(Error::Dimensions(0)));
        assert!(Rotation::new(MAX_DIMS + 1, 1).is_err());
    }
}
