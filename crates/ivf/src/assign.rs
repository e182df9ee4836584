//! Choosing the list of each row during a build.

use rayon::prelude::*;

use crate::dot::{assign_all, metric_bias, Best};
use crate::error::IvfError;
use crate::kmeans::{normalize, Metric};
use crate::space::{DenseEncoding, Space};

/// Assigns rows to their nearest centroid, in parallel.
pub(crate) struct ListAssigner<'a, S: Space> {
    space: &'a S,
    payload_size: usize,
    /// Centroid payloads, row-major.
    centroids: Vec<u8>,
    dense: Option<DenseCentroids>,
}

/// Decoded centroids for the blocked kernel (see [`Space::dense`]).
struct DenseCentroids {
    encoding: DenseEncoding,
    dims: usize,
    /// Row-major, unit length for cosine so that the largest inner product
    /// is the smallest cosine distance.
    centroids: Vec<f32>,
    bias: Vec<f32>,
}

impl<'a, S: Space> ListAssigner<'a, S> {
    pub(crate) fn new(
        space: &'a S,
        centroids: Vec<u8>,
        payload_size: usize,
    ) -> Result<Self, IvfError> {
        let dense = match space.dense() {
            None => None,
            Some(encoding) => Some(DenseCentroids::new(encoding, &centroids, payload_size)?),
        };
        Ok(Self {
            space,
            payload_size,
            centroids,
            dense,
        })
    }

    /// Centroid payloads, row-major.
    pub(crate) fn centroids(&self) -> &[u8] {
        &self.centroids
    }

    /// Index of the nearest centroid of every payload in `payloads` (row-major).
    pub(crate) fn assign(&self, payloads: &[u8]) -> Vec<usize> {
        match &self.dense {
            Some(dense) => dense.assign(payloads, self.payload_size),
            None => payloads
                .par_chunks(self.payload_size)
                .map(|payload| self.nearest_by_distance(payload))
                .collect(),
        }
    }

    /// The first centroid of smallest [`Space::distance`].
    fn nearest_by_distance(&self, payload: &[u8]) -> usize {
        let mut best = (0, f32::INFINITY);
        for (i, centroid) in self.centroids.chunks(self.payload_size).enumerate() {
            let distance = self.space.distance(payload, centroid);
            if distance < best.1 {
                best = (i, distance);
            }
        }
        best.0
    }
}

impl DenseCentroids {
    fn new(
        encoding: DenseEncoding,
        payloads: &[u8],
        payload_size: usize,
    ) -> Result<Self, IvfError> {
        let element_size = encoding.element.size();
        if !payload_size.is_multiple_of(element_size) {
            return Err(IvfError::InvalidBuild(format!(
                "payload size {payload_size} is not a whole number of {:?} elements",
                encoding.element
            )));
        }
        let dims = payload_size / element_size;
        let mut centroids = decode_all(encoding, payloads, payload_size, dims);
        if encoding.metric == Metric::Cosine {
            centroids.chunks_mut(dims).for_each(|c| {
                normalize(c);
            });
        }
        let bias = metric_bias(encoding.metric, &centroids, dims);
        Ok(Self {
            encoding,
            dims,
            centroids,
            bias,
        })
    }

    fn assign(&self, payloads: &[u8], payload_size: usize) -> Vec<usize> {
        let points = decode_all(self.encoding, payloads, payload_size, self.dims);
        let none = Best {
            centroid: 0,
            score: f32::NEG_INFINITY,
        };
        let mut best = vec![none; payloads.len() / payload_size];
        assign_all(&points, &self.centroids, &self.bias, self.dims, &mut best);
        best.iter().map(|b| b.centroid as usize).collect()
    }
}

/// Decodes row-major payloads into row-major floats, in parallel.
fn decode_all(
    encoding: DenseEncoding,
    payloads: &[u8],
    payload_size: usize,
    dims: usize,
) -> Vec<f32> {
    let mut out = vec![0.0f32; payloads.len() / payload_size * dims];
    out.par_chunks_mut(dims)
        .zip(payloads.par_chunks(payload_size))
        .for_each(|(row, payload)| encoding.element.decode_into(payload, row));
    out
}
