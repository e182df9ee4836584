//! Dense `f32` dot products for k-means training (only: builds and inserts
//! assign rows to lists with the caller's [`crate::Space::distance`]).
//!
//! The cost of k-means is the assignment step: every sample point against
//! every centroid. [`assign_block`] computes it as a register-blocked product
//! (a tile of [`TILE_POINTS`] points × [`TILE_CENTROIDS`] centroids shares each
//! load across many fused multiply-adds), which runs several times faster than
//! one dot product per pair.
//!
//! Every pair is always accumulated by the same sequence of operations (one
//! 8-lane accumulator, a fixed horizontal sum, then the tail in order) whether
//! it is computed inside a full tile, a padded edge tile or by [`dot`], so a
//! score never depends on how points were split into blocks or threads.

/// Points per register tile.
pub(crate) const TILE_POINTS: usize = 3;
/// Centroids per register tile.
pub(crate) const TILE_CENTROIDS: usize = 4;
/// Lanes of the accumulators (one AVX register of `f32`).
const LANES: usize = 8;

/// The best centroid found for one point.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Best {
    /// Index of the centroid with the highest score; ties go to the lowest index.
    pub(crate) centroid: u32,
    /// `x·c - bias[c]` for that centroid.
    pub(crate) score: f32,
}

impl Best {
    const NONE: Best = Best {
        centroid: 0,
        score: f32::NEG_INFINITY,
    };
}

/// Dot product of two equally long slices.
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    tile::<1, 1>([a], [b])[0][0]
}

/// For each point of `points` (row-major, `dims` wide) finds the centroid
/// maximising `x·c - bias[c]` and stores it in `best` (one entry per point).
///
/// With `bias = |c|²/2` this is the nearest centroid in L2 distance, with
/// `bias = 0` the one of largest inner product.
pub(crate) fn assign_block(
    points: &[f32],
    centroids: &[f32],
    bias: &[f32],
    dims: usize,
    best: &mut [Best],
) {
    let n = best.len();
    let k = bias.len();
    assert_eq!(points.len(), n * dims);
    assert_eq!(centroids.len(), k * dims);
    best.fill(Best::NONE);
    if dims == 0 {
        return;
    }
    // Centroid tiles outermost: the 4 centroids of a tile stay in L1 while
    // the block of points (sized by the caller to fit L2) streams past them.
    for c0 in (0..k).step_by(TILE_CENTROIDS) {
        let cs: [&[f32]; TILE_CENTROIDS] =
            std::array::from_fn(|j| row(centroids, dims, (c0 + j).min(k - 1)));
        for p0 in (0..n).step_by(TILE_POINTS) {
            // Edge tiles repeat the last row; the duplicate results are ignored.
            let xs: [&[f32]; TILE_POINTS] =
                std::array::from_fn(|i| row(points, dims, (p0 + i).min(n - 1)));
            let scores = tile::<TILE_POINTS, TILE_CENTROIDS>(xs, cs);
            for (i, point_scores) in scores.iter().enumerate().take(n - p0) {
                let slot = &mut best[p0 + i];
                for (j, &dot) in point_scores.iter().enumerate().take(k - c0) {
                    let score = dot - bias[c0 + j];
                    // Strictly greater: ties keep the lower centroid index.
                    if score > slot.score {
                        *slot = Best {
                            centroid: (c0 + j) as u32,
                            score,
                        };
                    }
                }
            }
        }
    }
}

/// [`assign_block`] over all `points`, in parallel over blocks of points
/// small enough to stay in L2 while every centroid streams past them.
pub(crate) fn assign_all(
    points: &[f32],
    centroids: &[f32],
    bias: &[f32],
    dims: usize,
    best: &mut [Best],
) {
    use rayon::prelude::*;
    const BLOCK_BYTES: usize = 128 * 1024;
    let block = (BLOCK_BYTES / (dims.max(1) * 4))
        .max(1)
        .div_ceil(TILE_POINTS)
        * TILE_POINTS;
    points
        .par_chunks(block * dims.max(1))
        .zip(best.par_chunks_mut(block))
        .for_each(|(rows, out)| assign_block(rows, centroids, bias, dims, out));
}

/// Per-centroid bias for [`assign_block`] that makes its argmax the nearest
/// centroid under `metric`: `|c|²/2` for L2, none for inner products (cosine
/// needs unit-length centroids, which spherical k-means produces).
pub(crate) fn metric_bias(
    metric: crate::kmeans::Metric,
    centroids: &[f32],
    dims: usize,
) -> Vec<f32> {
    use crate::kmeans::Metric;
    match metric {
        Metric::L2 => centroids.chunks(dims).map(|c| dot(c, c) / 2.0).collect(),
        Metric::InnerProduct | Metric::Cosine => vec![0.0; centroids.len() / dims],
    }
}

fn row(flat: &[f32], dims: usize, index: usize) -> &[f32] {
    &flat[index * dims..(index + 1) * dims]
}

/// All `P × C` dot products between `xs` and `cs` (all of one length).
fn tile<const P: usize, const C: usize>(xs: [&[f32]; P], cs: [&[f32]; C]) -> [[f32; C]; P] {
    let dims = xs[0].len();
    assert!(xs.iter().chain(cs.iter()).all(|v| v.len() == dims));
    #[cfg(target_arch = "x86_64")]
    if avx2::available() {
        // SAFETY: the CPU supports AVX2 and FMA, and all slices hold `dims` floats.
        return unsafe { avx2::tile(xs, cs) };
    }
    portable_tile(xs, cs)
}

/// Same operation order as the SIMD kernel, written for the autovectoriser.
fn portable_tile<const P: usize, const C: usize>(
    xs: [&[f32]; P],
    cs: [&[f32]; C],
) -> [[f32; C]; P] {
    let dims = xs[0].len();
    let body = dims / LANES * LANES;
    let mut acc = [[[0.0f32; LANES]; C]; P];
    for off in (0..body).step_by(LANES) {
        for (x, acc_row) in xs.iter().zip(acc.iter_mut()) {
            for (c, lanes) in cs.iter().zip(acc_row.iter_mut()) {
                for l in 0..LANES {
                    lanes[l] += x[off + l] * c[off + l];
                }
            }
        }
    }
    let mut out = [[0.0f32; C]; P];
    for p in 0..P {
        for c in 0..C {
            let a = acc[p][c];
            // Mirrors the SIMD reduction: halves, then pairs, then the last two.
            let h: [f32; 4] = std::array::from_fn(|i| a[i] + a[i + 4]);
            let mut sum = (h[0] + h[2]) + (h[1] + h[3]);
            for d in body..dims {
                sum += xs[p][d] * cs[c][d];
            }
            out[p][c] = sum;
        }
    }
    out
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::LANES;
    use std::arch::x86_64::*;

    pub(super) fn available() -> bool {
        // std caches the CPUID result, so this is a couple of atomic loads.
        is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
    }

    /// # Safety
    /// The CPU must support AVX2 and FMA, and every slice must have the length
    /// of `xs[0]`.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn tile<const P: usize, const C: usize>(
        xs: [&[f32]; P],
        cs: [&[f32]; C],
    ) -> [[f32; C]; P] {
        let dims = xs[0].len();
        let body = dims / LANES * LANES;
        let mut acc = [[_mm256_setzero_ps(); C]; P];
        let mut off = 0;
        while off < body {
            let mut xv = [_mm256_setzero_ps(); P];
            for p in 0..P {
                // SAFETY: off + LANES <= body <= dims == xs[p].len().
                xv[p] = unsafe { _mm256_loadu_ps(xs[p].as_ptr().add(off)) };
            }
            for c in 0..C {
                // SAFETY: as above, cs[c].len() == dims.
                let cv = unsafe { _mm256_loadu_ps(cs[c].as_ptr().add(off)) };
                for p in 0..P {
                    acc[p][c] = _mm256_fmadd_ps(xv[p], cv, acc[p][c]);
                }
            }
            off += LANES;
        }
        let mut out = [[0.0f32; C]; P];
        for p in 0..P {
            for c in 0..C {
                let mut sum = horizontal_sum(acc[p][c]);
                for d in body..dims {
                    sum = xs[p][d].mul_add(cs[c][d], sum);
                }
                out[p][c] = sum;
            }
        }
        out
    }

    #[target_feature(enable = "avx2,fma")]
    fn horizontal_sum(v: __m256) -> f32 {
        let halves = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
        let pairs = _mm_add_ps(halves, _mm_movehl_ps(halves, halves));
        let last = _mm_add_ss(pairs, _mm_shuffle_ps::<0b01>(pairs, pairs));
        _mm_cvtss_f32(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_dot(a: &[f32], b: &[f32]) -> f64 {
        a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum()
    }

    fn pseudo_random(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s % 2000) as f32 / 1000.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn dot_matches_naive_for_odd_lengths() {
        for dims in [1, 7, 8, 9, 31, 384] {
            let a = pseudo_random(dims, 1);
            let b = pseudo_random(dims, 2);
            let got = dot(&a, &b) as f64;
            assert!((got - naive_dot(&a, &b)).abs() < 1e-4, "dims {dims}");
        }
    }

    #[test]
    fn portable_and_simd_tiles_agree_closely() {
        let dims = 45;
        let a = pseudo_random(dims, 3);
        let b = pseudo_random(dims, 4);
        let simd = tile::<1, 1>([&a], [&b])[0][0];
        let portable = portable_tile::<1, 1>([&a], [&b])[0][0];
        assert!((simd - portable).abs() < 1e-4);
    }

    #[test]
    fn assign_block_finds_best_and_is_identical_to_single_dots() {
        let dims = 19;
        let (n, k) = (10, 7);
        let points = pseudo_random(n * dims, 5);
        let centroids = pseudo_random(k * dims, 6);
        let bias: Vec<f32> = (0..k).map(|c| c as f32 * 0.01).collect();
        let mut best = vec![Best::NONE; n];
        assign_block(&points, &centroids, &bias, dims, &mut best);
        for (i, b) in best.iter().enumerate() {
            let x = row(&points, dims, i);
            let scores: Vec<f32> = (0..k)
                .map(|c| dot(x, row(&centroids, dims, c)) - bias[c])
                .collect();
            let max = scores.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            let first = scores.iter().position(|&s| s == max).unwrap();
            // Bit-identical: tiles and single dots share the operation order.
            assert_eq!(b.score, max);
            assert_eq!(b.centroid as usize, first);
        }
    }
}
