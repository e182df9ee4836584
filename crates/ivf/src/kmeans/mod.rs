//! k-means training of the IVF centroids.
//!
//! The caller passes a sample of the table (pgvector samples 50 rows per
//! list) as one flat row-major `&[f32]`; [`kmeans`] returns `lists` centroids
//! in the same layout.
//!
//! * Seeding is k-means++ on a random subsample of at most
//!   [`SEEDING_POINTS_PER_LIST`] points per list: each of its `lists` steps is
//!   a pass over the points, so seeding on the whole sample would cost as much
//!   as `lists` Lloyd iterations' worth of memory traffic.
//! * Lloyd iterations run the register-blocked assignment in parallel
//!   (rayon) and stop once at most `tolerance × n` points changed list.
//! * Inner product and cosine use spherical k-means: centroids are normalised
//!   after every update and points are assigned by largest inner product (for
//!   cosine each point is weighted by `1/|x|` in the mean, which is the mean of
//!   the normalised points without copying the sample).
//! * Empty clusters take the point farthest from its centroid out of the
//!   largest cluster (splitting it); with fewer distinct points than lists some
//!   centroids are duplicates, never NaN.
//! * The result depends only on the input and the seed, not on the number of
//!   threads: per-point work is independent and every floating-point sum runs
//!   over fixed chunks reduced in index order.
//!
//! The progress callback is only ever called on the calling thread, between
//! parallel steps, so it may call back into Postgres (progress reporting,
//! interrupt checks).

mod lloyd;
mod seeding;

use crate::rng::SplitMix64;

/// Seeding subsample size, per list.
pub const SEEDING_POINTS_PER_LIST: usize = 32;

/// Distance the centroids are trained for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Metric {
    /// Euclidean distance: centroids are cluster means.
    L2,
    /// Negative inner product: spherical k-means on the raw vectors.
    InnerProduct,
    /// Cosine distance: spherical k-means on the normalised vectors.
    Cosine,
}

impl Metric {
    /// Whether centroids are kept at unit norm.
    pub fn is_spherical(self) -> bool {
        !matches!(self, Metric::L2)
    }
}

/// What to train.
#[derive(Clone, Debug, PartialEq)]
pub struct KMeansParams {
    /// Number of centroids (IVF lists) to produce.
    pub lists: usize,
    /// Distance the lists will be searched with.
    pub metric: Metric,
    /// Seed of every random choice; equal seeds give equal centroids.
    pub seed: u64,
    /// Upper bound on Lloyd iterations.
    pub max_iterations: usize,
    /// Stop once at most this fraction of the points changed list in an
    /// iteration (0 runs until no point moves).
    pub tolerance: f64,
}

impl KMeansParams {
    /// Defaults that converge well for IVF: 20 iterations at most, stop when
    /// fewer than 0.1% of the points move.
    pub fn new(lists: usize, metric: Metric) -> Self {
        Self {
            lists,
            metric,
            seed: 0,
            max_iterations: 20,
            tolerance: 1e-3,
        }
    }
}

/// Progress reported to the caller's callback.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Progress {
    /// k-means++ picked `chosen` of `total` initial centroids.
    Seeding {
        /// Centroids chosen so far.
        chosen: usize,
        /// Centroids to choose.
        total: usize,
    },
    /// One Lloyd assignment step finished.
    Iteration {
        /// 1-based iteration number.
        iteration: usize,
        /// The configured maximum.
        max_iterations: usize,
        /// Points whose list changed in this iteration (all points in the first).
        changed: usize,
        /// Mean distance of a point to its centroid, which never increases
        /// between iterations: squared L2 for [`Metric::L2`], `1 - cos` for
        /// [`Metric::Cosine`], negative inner product for [`Metric::InnerProduct`].
        objective: f64,
    },
}

/// Trains `params.lists` centroids on `sample` (row-major, `dims` floats per
/// point) and returns them row-major (`lists × dims` floats).
///
/// An empty sample yields seeded random centroids (unit length for spherical
/// metrics), like pgvector's build on an empty table.
///
/// # Panics
/// If `dims` is 0 while the sample is not empty, or `sample.len()` is not a
/// multiple of `dims`.
pub fn kmeans(
    sample: &[f32],
    dims: usize,
    params: &KMeansParams,
    progress: &mut dyn FnMut(Progress),
) -> Vec<f32> {
    kmeans_cancellable(sample, dims, params, &mut |p| {
        progress(p);
        true
    })
    .expect("never cancelled")
}

/// [`kmeans`] that stops (returning `None`) as soon as `progress` returns
/// false. `progress` is called on the thread that runs this function,
/// between parallel steps.
pub fn kmeans_cancellable(
    sample: &[f32],
    dims: usize,
    params: &KMeansParams,
    progress: &mut dyn FnMut(Progress) -> bool,
) -> Option<Vec<f32>> {
    let lists = params.lists;
    if lists == 0 || dims == 0 {
        assert!(sample.is_empty() || dims != 0, "dims must be positive");
        return Some(Vec::new());
    }
    assert_eq!(sample.len() % dims, 0, "sample length must be n × dims");
    let mut rng = SplitMix64::new(params.seed);
    if sample.is_empty() {
        return Some(random_centroids(lists, dims, params.metric, &mut rng));
    }
    let points = Points::new(sample, dims, params.metric);
    let mut centroids = seeding::kmeans_plus_plus(&points, lists, &mut rng, progress)?;
    lloyd::iterate(&points, &mut centroids, params, progress).then_some(centroids)
}

/// The sample with the per-point quantities every phase needs.
pub(crate) struct Points<'a> {
    pub(crate) data: &'a [f32],
    pub(crate) dims: usize,
    pub(crate) metric: Metric,
    /// `|x|²` of every point.
    pub(crate) squared_norms: Vec<f32>,
}

impl<'a> Points<'a> {
    fn new(data: &'a [f32], dims: usize, metric: Metric) -> Self {
        use rayon::prelude::*;
        let squared_norms = data
            .par_chunks(dims)
            .map(|x| crate::dot::dot(x, x))
            .collect();
        Self {
            data,
            dims,
            metric,
            squared_norms,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.squared_norms.len()
    }

    pub(crate) fn row(&self, i: usize) -> &'a [f32] {
        &self.data[i * self.dims..(i + 1) * self.dims]
    }

    /// `1/|x|` (0 for the zero vector): what a point is multiplied by to put it
    /// on the unit sphere.
    pub(crate) fn inverse_norm(&self, i: usize) -> f32 {
        let norm = self.squared_norms[i].sqrt();
        if norm > 0.0 {
            1.0 / norm
        } else {
            0.0
        }
    }
}

/// Scales `v` to unit length; leaves it untouched (and returns false) if it is
/// zero or not finite, so no NaN can come out of a degenerate cluster.
pub(crate) fn normalize(v: &mut [f32]) -> bool {
    let norm = v.iter().map(|&x| x as f64 * x as f64).sum::<f64>().sqrt();
    if norm > 0.0 && norm.is_finite() {
        v.iter_mut().for_each(|x| *x = (*x as f64 / norm) as f32);
        true
    } else {
        false
    }
}

/// Sums `f(i)` over `0..n` in f64, in parallel over fixed chunks that are
/// added in index order, so the result does not depend on the thread count.
pub(crate) fn deterministic_sum(n: usize, f: impl Fn(usize) -> f64 + Sync) -> f64 {
    use rayon::prelude::*;
    const CHUNK: usize = 4096;
    let partials: Vec<f64> = (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| (c * CHUNK..((c + 1) * CHUNK).min(n)).map(&f).sum())
        .collect();
    partials.iter().sum()
}

fn random_centroids(lists: usize, dims: usize, metric: Metric, rng: &mut SplitMix64) -> Vec<f32> {
    (0..lists)
        .flat_map(|_| random_centroid(dims, metric, rng))
        .collect()
}

/// The next of the seeded random centroids [`kmeans`] gives an empty
/// sample (the same values, one centroid at a time).
pub(crate) fn random_centroid(dims: usize, metric: Metric, rng: &mut SplitMix64) -> Vec<f32> {
    let mut centroid: Vec<f32> = (0..dims)
        .map(|_| (rng.next_f64() * 2.0 - 1.0) as f32)
        .collect();
    if metric.is_spherical() {
        normalize(&mut centroid);
    }
    centroid
}

#[cfg(test)]
mod tests;
