//! Centroid training for a build: k-means on the sample, then each
//! centroid encoded as a payload of the index.

use crate::kmeans::{kmeans_cancellable, random_centroid, KMeansParams, Metric, Progress};
use crate::threads::WorkerPool;

/// Trains `lists` centroids on `sample` (row-major, `dims` floats per row;
/// empty for seeded random centroids) and encodes them with `encode` (which
/// returns false for a centroid the space cannot store), back to back.
///
/// k-means runs on `pool`'s workers (on this thread's rayon pool if
/// `None`), and so does `keep_going`, between its steps: it returns false
/// to stop training, and then this returns `None`. `encode` runs on this
/// thread.
///
/// A centroid `encode` refuses (a cosine cluster whose normalised points
/// cancel out has no direction) is replaced by a unit axis vector: any
/// direction serves it.
pub fn train_centroids(
    sample: &[f32],
    dims: usize,
    lists: usize,
    metric: Metric,
    pool: Option<&WorkerPool>,
    keep_going: &mut (dyn FnMut(Progress) -> bool + Send),
    encode: &mut dyn FnMut(&[f32], &mut Vec<u8>) -> bool,
) -> Option<Vec<u8>> {
    let params = KMeansParams::new(lists, metric);
    if sample.is_empty() && dims > 0 {
        // Seeded random centroids, generated and encoded one at a time: an
        // empty table's build needs memory for one centroid only.
        let mut rng = crate::rng::SplitMix64::new(params.seed);
        return Some(encode_all(
            (0..lists).map(|_| random_centroid(dims, metric, &mut rng)),
            dims,
            encode,
        ));
    }
    let mut train = || kmeans_cancellable(sample, dims, &params, keep_going);
    let centroids = match pool {
        Some(pool) => pool.install(train),
        None => train(),
    }?;
    Some(encode_all(centroids.chunks(dims), dims, encode))
}

/// Encodes centroids back to back, replacing refused ones by axes.
fn encode_all<C: AsRef<[f32]>>(
    centroids: impl Iterator<Item = C>,
    dims: usize,
    encode: &mut dyn FnMut(&[f32], &mut Vec<u8>) -> bool,
) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut payload = Vec::new();
    for (i, centroid) in centroids.enumerate() {
        if !encode(centroid.as_ref(), &mut payload) {
            let mut axis = vec![0.0f32; dims];
            axis[i % dims] = 1.0;
            encode(&axis, &mut payload);
        }
        bytes.extend_from_slice(&payload);
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kmeans::kmeans;

    fn encode_unit(c: &[f32], out: &mut Vec<u8>) -> bool {
        out.clear();
        let norm = c.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm == 0.0 {
            return false;
        }
        out.extend(c.iter().flat_map(|x| (x / norm).to_ne_bytes()));
        true
    }

    #[test]
    fn encodes_every_list() {
        let sample: Vec<f32> = (0..200)
            .flat_map(|i| [i as f32, 1.0, -(i as f32)])
            .collect();
        let pool = WorkerPool::new(2).unwrap();
        let mut raw = |c: &[f32], out: &mut Vec<u8>| {
            out.clear();
            out.extend(c.iter().flat_map(|x| x.to_ne_bytes()));
            true
        };
        let bytes = train_centroids(
            &sample,
            3,
            4,
            Metric::L2,
            Some(&pool),
            &mut |_| true,
            &mut raw,
        );
        assert_eq!(bytes.as_ref().map(Vec::len), Some(4 * 3 * 4));
        // The same centroids whatever the threads.
        let serial = train_centroids(&sample, 3, 4, Metric::L2, None, &mut |_| true, &mut raw);
        assert_eq!(bytes, serial);
        // An empty sample gives random, encodable centroids.
        let bytes = train_centroids(
            &[],
            3,
            5,
            Metric::Cosine,
            None,
            &mut |_| true,
            &mut encode_unit,
        );
        assert_eq!(bytes.map(|b| b.len()), Some(5 * 3 * 4));
    }

    #[test]
    fn empty_samples_give_kmeans_random_centroids() {
        for metric in [Metric::L2, Metric::Cosine] {
            let expected = kmeans(&[], 5, &KMeansParams::new(7, metric), &mut |_| {});
            let mut raw = |c: &[f32], out: &mut Vec<u8>| {
                out.clear();
                out.extend(c.iter().flat_map(|x| x.to_ne_bytes()));
                true
            };
            let bytes = train_centroids(&[], 5, 7, metric, None, &mut |_| true, &mut raw).unwrap();
            let got: Vec<f32> = bytes
                .chunks(4)
                .map(|b| f32::from_ne_bytes(b.try_into().unwrap()))
                .collect();
            assert_eq!(got, expected);
        }
    }

    #[test]
    fn training_stops_when_asked() {
        let sample: Vec<f32> = (0..3000).map(|i| (i % 97) as f32).collect();
        let mut calls = 0;
        let bytes = train_centroids(
            &sample,
            3,
            50,
            Metric::L2,
            None,
            &mut |_| {
                calls += 1;
                calls < 5
            },
            &mut |_, _| panic!("nothing is encoded after a stop"),
        );
        assert_eq!(bytes, None);
        assert_eq!(calls, 5);
    }

    #[test]
    fn refused_centroids_become_axes() {
        let bytes = train_centroids(&[], 2, 3, Metric::L2, None, &mut |_| true, &mut |_, out| {
            out.clear();
            false
        });
        // The encoder refuses even the axes: nothing is written, no panic.
        assert_eq!(bytes, Some(Vec::new()));
        let mut calls = 0;
        let bytes = train_centroids(&[], 2, 3, Metric::L2, None, &mut |_| true, &mut |c, out| {
            calls += 1;
            // Refuse every trained centroid, accept the axes.
            let axis = c.iter().filter(|&&x| x == 0.0).count() == 1 && c.contains(&1.0);
            out.clear();
            if axis {
                out.extend(c.iter().flat_map(|x| x.to_ne_bytes()));
            }
            axis
        });
        assert_eq!(calls, 6);
        let floats: Vec<f32> = bytes
            .unwrap()
            .chunks(4)
            .map(|b| f32::from_ne_bytes(b.try_into().unwrap()))
            .collect();
        assert_eq!(floats, vec![1.0, 0.0, 0.0, 1.0, 1.0, 0.0]);
    }
}
