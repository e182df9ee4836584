use super::*;
use crate::testdata::{gaussian_clusters, squared_l2};

fn run(sample: &[f32], dims: usize, params: &KMeansParams) -> (Vec<f32>, Vec<f64>) {
    let mut objectives = Vec::new();
    let centroids = kmeans(sample, dims, params, &mut |p| {
        if let Progress::Iteration { objective, .. } = p {
            objectives.push(objective);
        }
    });
    (centroids, objectives)
}

fn norms(centroids: &[f32], dims: usize) -> Vec<f32> {
    centroids
        .chunks(dims)
        .map(|c| c.iter().map(|x| x * x).sum::<f32>().sqrt())
        .collect()
}

fn assert_finite(centroids: &[f32]) {
    assert!(
        centroids.iter().all(|x| x.is_finite()),
        "NaN or inf centroid"
    );
}

#[test]
fn recovers_well_separated_clusters() {
    let (dims, clusters) = (16, 10);
    let (points, centres) = gaussian_clusters(clusters, 100, dims, 0.5, 42);
    let params = KMeansParams {
        tolerance: 0.0,
        max_iterations: 50,
        ..KMeansParams::new(clusters, Metric::L2)
    };
    let (centroids, _) = run(&points, dims, &params);
    // Every true centre has a centroid close to it, and no centroid is
    // shared: each centroid is matched to exactly one centre.
    let mut matched = vec![false; clusters];
    for centre in centres.chunks(dims) {
        let (nearest, distance) = centroids
            .chunks(dims)
            .map(|c| squared_l2(c, centre))
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap();
        assert!(distance < 0.1, "centre missed: {distance}");
        assert!(!matched[nearest], "centroid {nearest} matched twice");
        matched[nearest] = true;
    }
}

#[test]
fn objective_never_increases() {
    let dims = 8;
    let (points, _) = gaussian_clusters(20, 50, dims, 4.0, 7);
    for metric in [Metric::L2, Metric::Cosine, Metric::InnerProduct] {
        let params = KMeansParams {
            tolerance: 0.0,
            max_iterations: 30,
            ..KMeansParams::new(12, metric)
        };
        let (_, objectives) = run(&points, dims, &params);
        assert!(
            objectives.len() > 2,
            "{metric:?} converged too early to test"
        );
        for pair in objectives.windows(2) {
            let slack = 1e-5 * pair[0].abs().max(1.0);
            assert!(pair[1] <= pair[0] + slack, "{metric:?}: {objectives:?}");
        }
    }
}

#[test]
fn spherical_centroids_have_unit_norm() {
    let dims = 12;
    let (points, _) = gaussian_clusters(6, 40, dims, 3.0, 3);
    for metric in [Metric::Cosine, Metric::InnerProduct] {
        let (centroids, _) = run(&points, dims, &KMeansParams::new(9, metric));
        for norm in norms(&centroids, dims) {
            assert!((norm - 1.0).abs() < 1e-5, "{metric:?}: norm {norm}");
        }
    }
}

#[test]
fn more_lists_than_points_gives_finite_centroids() {
    let dims = 5;
    let (points, _) = gaussian_clusters(1, 7, dims, 1.0, 9);
    for metric in [Metric::L2, Metric::Cosine, Metric::InnerProduct] {
        let (centroids, _) = run(&points, dims, &KMeansParams::new(20, metric));
        assert_eq!(centroids.len(), 20 * dims);
        assert_finite(&centroids);
        // Every point is its own centroid: seven distinct centroids at least.
        for x in points.chunks(dims) {
            let scale = if metric.is_spherical() {
                1.0 / x.iter().map(|v| v * v).sum::<f32>().sqrt()
            } else {
                1.0
            };
            let target: Vec<f32> = x.iter().map(|v| v * scale).collect();
            let closest = centroids
                .chunks(dims)
                .map(|c| squared_l2(c, &target))
                .fold(f32::INFINITY, f32::min);
            assert!(closest < 1e-8, "{metric:?}: point without a centroid");
        }
    }
}

#[test]
fn identical_points_give_duplicate_centroids() {
    let dims = 4;
    let points: Vec<f32> = [1.0, -2.0, 0.5, 3.0].repeat(50);
    for metric in [Metric::L2, Metric::Cosine, Metric::InnerProduct] {
        let (centroids, _) = run(&points, dims, &KMeansParams::new(8, metric));
        assert_finite(&centroids);
        let expected: Vec<f32> = if metric.is_spherical() {
            let mut v = points[..dims].to_vec();
            normalize(&mut v);
            v
        } else {
            points[..dims].to_vec()
        };
        for c in centroids.chunks(dims) {
            assert!(squared_l2(c, &expected) < 1e-10, "{metric:?}: {c:?}");
        }
    }
}

#[test]
fn zero_vectors_do_not_produce_nan() {
    let dims = 3;
    let mut points = vec![0.0f32; 10 * dims];
    points.extend([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
    for metric in [Metric::L2, Metric::Cosine, Metric::InnerProduct] {
        let (centroids, _) = run(&points, dims, &KMeansParams::new(4, metric));
        assert_finite(&centroids);
    }
}

#[test]
fn empty_sample_gives_random_centroids() {
    let centroids = kmeans(&[], 6, &KMeansParams::new(5, Metric::Cosine), &mut |_| {});
    assert_eq!(centroids.len(), 30);
    for norm in norms(&centroids, 6) {
        assert!((norm - 1.0).abs() < 1e-5);
    }
    assert!(kmeans(&[], 6, &KMeansParams::new(0, Metric::L2), &mut |_| {}).is_empty());
}

#[test]
fn splits_clusters_when_seeds_leave_lists_empty() {
    // Two tight far-apart groups of very unequal size and many lists: most
    // seeds land in the big group, and Lloyd must keep every list populated.
    let dims = 2;
    let (mut points, _) = gaussian_clusters(1, 300, dims, 1.0, 11);
    points.extend([100.0, 100.0, 100.1, 100.0]);
    let (centroids, _) = run(&points, dims, &KMeansParams::new(30, Metric::L2));
    assert_finite(&centroids);
    let mut sizes = vec![0; 30];
    for x in points.chunks(dims) {
        let nearest = centroids
            .chunks(dims)
            .map(|c| squared_l2(c, x))
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap()
            .0;
        sizes[nearest] += 1;
    }
    assert!(sizes.iter().all(|&s| s > 0), "empty list left: {sizes:?}");
}

#[test]
fn same_seed_gives_same_centroids_for_any_thread_count() {
    let dims = 24;
    // More points than one reduction chunk, so partial sums are combined.
    let (points, _) = gaussian_clusters(30, 200, dims, 6.0, 5);
    for metric in [Metric::L2, Metric::Cosine] {
        let params = KMeansParams {
            seed: 99,
            ..KMeansParams::new(24, metric)
        };
        let runs: Vec<(Vec<f32>, Vec<f64>)> = [1, 2, 3]
            .iter()
            .map(|&threads| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap()
                    .install(|| run(&points, dims, &params))
            })
            .collect();
        assert_eq!(runs[0], runs[1]);
        assert_eq!(runs[0], runs[2]);
        let other_seed = run(&points, dims, &KMeansParams { seed: 1, ..params });
        assert_ne!(runs[0].0, other_seed.0);
    }
}

#[test]
fn progress_reports_seeding_then_iterations() {
    let dims = 4;
    let (points, _) = gaussian_clusters(3, 30, dims, 1.0, 1);
    let mut events = Vec::new();
    kmeans(&points, dims, &KMeansParams::new(3, Metric::L2), &mut |p| {
        events.push(p)
    });
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, Progress::Seeding { .. }))
            .count(),
        3
    );
    assert!(matches!(
        events[3],
        Progress::Iteration {
            iteration: 1,
            changed: 90,
            ..
        }
    ));
}
