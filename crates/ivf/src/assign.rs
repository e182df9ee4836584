//! Choosing the list of each row during a build.
//!
//! A build assigns a row exactly as [`crate::insert`] does: the first
//! centroid of smallest [`Space::distance`], computed by the caller's space
//! (the kernels crate's dispatched kernels for `VectorSpace`). A row near a
//! boundary between two lists therefore lands in the same list whether it
//! arrived with the build or was inserted later, which the scan relies on
//! no more than pgvector does, but which keeps a rebuilt index identical to
//! one grown by inserts from the same centroids.

use rayon::prelude::*;

use crate::error::IvfError;
use crate::space::Space;

/// Assigns rows to their nearest centroid, in parallel.
pub(crate) struct ListAssigner<'a, S: Space> {
    space: &'a S,
    payload_size: usize,
    /// Centroid payloads, row-major.
    centroids: Vec<u8>,
}

impl<'a, S: Space> ListAssigner<'a, S> {
    pub(crate) fn new(
        space: &'a S,
        centroids: Vec<u8>,
        payload_size: usize,
    ) -> Result<Self, IvfError> {
        if payload_size == 0 || !centroids.len().is_multiple_of(payload_size) {
            return Err(IvfError::InvalidBuild(format!(
                "{} centroid bytes are not whole payloads of {payload_size} bytes",
                centroids.len()
            )));
        }
        Ok(Self {
            space,
            payload_size,
            centroids,
        })
    }

    /// Centroid payloads, row-major.
    pub(crate) fn centroids(&self) -> &[u8] {
        &self.centroids
    }

    /// Index of the nearest centroid of every payload in `payloads` (row-major).
    pub(crate) fn assign(&self, payloads: &[u8]) -> Vec<usize> {
        payloads
            .par_chunks(self.payload_size)
            .map(|payload| nearest(self.space, &self.centroids, self.payload_size, payload))
            .collect()
    }
}

/// The first centroid of smallest distance to `payload`, by the rule
/// [`crate::insert`] follows: the first centroid is taken, then each later
/// one only if strictly nearer.
pub(crate) fn nearest<S: Space>(
    space: &S,
    centroids: &[u8],
    payload_size: usize,
    payload: &[u8],
) -> usize {
    let mut best: Option<(f32, usize)> = None;
    for (i, centroid) in centroids.chunks(payload_size).enumerate() {
        let distance = space.distance(payload, centroid);
        if best.is_none_or(|b| distance < b.0) {
            best = Some((distance, i));
        }
    }
    best.map_or(0, |b| b.1)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use pagestore::{ItemPointer, MemRelation, Relation};

    use crate::rng::SplitMix64;
    use crate::space::{DenseEncoding, Element};
    use crate::testdata::{bytes, floats};
    use crate::{insert, IndexParams, IvfBuilder, Metric, Space};

    /// f32 squared L2 by a plain loop, declaring its payloads dense (which
    /// once sent builds through a separate blocked kernel).
    struct DenseL2;

    impl Space for DenseL2 {
        fn distance(&self, a: &[u8], b: &[u8]) -> f32 {
            floats(a)
                .iter()
                .zip(floats(b))
                .map(|(x, y)| (x - y) * (x - y))
                .sum()
        }
        fn dense(&self) -> Option<DenseEncoding> {
            Some(DenseEncoding {
                element: Element::F32,
                metric: Metric::L2,
            })
        }
    }

    fn tid(i: usize) -> ItemPointer {
        ItemPointer::new((i / 50) as u32, (i % 50 + 1) as u16)
    }

    /// The list of every heap TID in an index.
    fn lists_of(rel: &MemRelation) -> HashMap<ItemPointer, u32> {
        let meta = crate::centroids::read_meta(rel).unwrap();
        let mut heads = Vec::new();
        crate::centroids::for_each_centroid(rel, &meta, |e| heads.push((e.list, e.header.head)))
            .unwrap();
        let mut out = HashMap::new();
        for (list, head) in heads {
            crate::lists::for_each_page(rel, head, |page| {
                crate::lists::for_each_tuple(page, meta.payload_size, |t, _| {
                    out.insert(t, list);
                })
            })
            .unwrap();
        }
        out
    }

    #[test]
    fn builds_and_inserts_assign_boundary_rows_alike() {
        let (dims, lists) = (37, 6);
        let mut rng = SplitMix64::new(11);
        let mut uniform = || (rng.next_f64() * 2.0 - 1.0) as f32;
        let centroids: Vec<f32> = (0..lists * dims).map(|_| uniform() * 3.0).collect();
        // Rows on (or within rounding of) the bisector of two centroids.
        let mut rows = Vec::new();
        for i in 0..3000 {
            let (a, b) = (i % lists, (i / lists + 1 + i) % lists);
            let t = 0.5 + (uniform() as f64 * 1e-6 * (i % 3) as f64) as f32;
            for d in 0..dims {
                let (ca, cb) = (centroids[a * dims + d], centroids[b * dims + d]);
                rows.push(ca + (cb - ca) * t + uniform() * 1e-7);
            }
        }
        let size = dims * 4;
        let params = IndexParams {
            dims: dims as u32,
            payload_size: size,
            space_id: 0,
            quantization: 0,
        };
        let built = MemRelation::new();
        let mut builder =
            IvfBuilder::new(&built, &DenseL2, params, bytes(&centroids), |_| {}).unwrap();
        for (i, row) in rows.chunks(dims).enumerate() {
            builder.push(tid(i), &bytes(row)).unwrap();
        }
        builder.finish().unwrap();

        let inserted = MemRelation::new();
        IvfBuilder::new(&inserted, &DenseL2, params, bytes(&centroids), |_| {})
            .unwrap()
            .finish()
            .unwrap();
        for (i, row) in rows.chunks(dims).enumerate() {
            insert(&inserted, &DenseL2, tid(i), &bytes(row)).unwrap();
        }
        assert!(inserted.nblocks() > 0);
        let (by_build, by_insert) = (lists_of(&built), lists_of(&inserted));
        assert_eq!(by_build.len(), rows.len() / dims);
        let differing = by_build
            .iter()
            .filter(|(t, list)| by_insert.get(t) != Some(list))
            .count();
        assert_eq!(differing, 0, "{differing} rows landed in other lists");
    }
}
