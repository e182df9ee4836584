use half::f16;
use proptest::prelude::*;

use crate::{ElementType, Metric, VectorSpace};

fn space(e: ElementType, m: Metric) -> VectorSpace {
    VectorSpace::new(e, m).unwrap()
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
}

#[test]
fn only_pgvector_combinations_exist() {
    assert!(VectorSpace::new(ElementType::Bit, Metric::L2).is_none());
    assert!(VectorSpace::new(ElementType::F32, Metric::Hamming).is_none());
    assert!(VectorSpace::new(ElementType::Bit, Metric::Jaccard).is_some());
    assert!(VectorSpace::new(ElementType::Sparse, Metric::L1).is_some());
}

#[test]
fn ids_are_distinct() {
    let mut ids = std::collections::HashSet::new();
    for e in [
        ElementType::F32,
        ElementType::F16,
        ElementType::Sparse,
        ElementType::Bit,
    ] {
        for m in [
            Metric::L2,
            Metric::InnerProduct,
            Metric::Cosine,
            Metric::L1,
            Metric::Hamming,
            Metric::Jaccard,
        ] {
            if let Some(s) = VectorSpace::new(e, m) {
                assert!(ids.insert(s.id()));
            }
        }
    }
    assert_eq!(ids.len(), 14);
}

#[test]
fn dense_distances_match_definitions() {
    let (a, b) = ([1.0f32, 2.0, 3.0], [4.0f32, -6.0, 3.5]);
    let (mut pa, mut pb) = (Vec::new(), Vec::new());
    let l2 = space(ElementType::F32, Metric::L2);
    assert!(l2.encode_f32(&a, &mut pa) && l2.encode_f32(&b, &mut pb));
    assert_eq!(l2.distance(&pa, &pb), 9.0 + 64.0 + 0.25);
    let ip = space(ElementType::F32, Metric::InnerProduct);
    assert_eq!(ip.distance(&pa, &pb), -(4.0 - 12.0 + 10.5));
    let l1 = space(ElementType::F32, Metric::L1);
    assert_eq!(l1.distance(&pa, &pb), 3.0 + 8.0 + 0.5);
    let cos = space(ElementType::F32, Metric::Cosine);
    assert!(cos.encode_f32(&a, &mut pa) && cos.encode_f32(&b, &mut pb));
    let expected = -dot(&a, &b) / (dot(&a, &a) * dot(&b, &b)).sqrt();
    assert!((cos.distance(&pa, &pb) as f64 - expected).abs() < 1e-6);
}

#[test]
fn zero_vectors_are_not_indexed_under_cosine() {
    let mut out = vec![1];
    assert!(!space(ElementType::F32, Metric::Cosine).encode_f32(&[0.0, 0.0], &mut out));
    assert!(out.is_empty());
    assert!(space(ElementType::F32, Metric::L2).encode_f32(&[0.0, 0.0], &mut out));
    assert!(!space(ElementType::Sparse, Metric::Cosine).encode_sparse(&[], &[], &mut out));
}

#[test]
fn halfvec_payloads() {
    let s = space(ElementType::F16, Metric::L2);
    let v = [f16::from_f32(1.0), f16::from_f32(-2.0)];
    let w = [f16::from_f32(0.5), f16::from_f32(2.0)];
    let (mut pa, mut pb) = (Vec::new(), Vec::new());
    assert!(s.encode_f16(&v, &mut pa) && s.encode_f16(&w, &mut pb));
    assert_eq!(pa.len(), 4);
    assert_eq!(s.distance(&pa, &pb), 0.25 + 16.0);
    // Cosine on halfvec keeps the values and uses the operator's kernel.
    let c = space(ElementType::F16, Metric::Cosine);
    assert!(c.encode_f16(&v, &mut pa) && c.encode_f16(&w, &mut pb));
    let mut back = Vec::new();
    assert!(c.decode_dense(&pa, &mut back));
    assert_eq!(back, [1.0, -2.0]);
    assert_eq!(
        c.distance(&pa, &pb),
        kernels::cosine_distance_f16(&v, &w) as f32
    );
    assert!(!c.encode_f16(&[f16::ZERO, f16::ZERO], &mut pa));
}

#[test]
fn sparse_payloads() {
    let s = space(ElementType::Sparse, Metric::L2);
    let (mut pa, mut pb) = (Vec::new(), Vec::new());
    assert!(s.encode_sparse(&[0, 5], &[3.0, 1.0], &mut pa));
    assert!(s.encode_sparse(&[5, 7], &[2.0, 4.0], &mut pb));
    assert_eq!(pa.len(), 4 + 16);
    assert_eq!(s.distance(&pa, &pb), 9.0 + 1.0 + 16.0);
    let ip = space(ElementType::Sparse, Metric::InnerProduct);
    assert_eq!(ip.distance(&pa, &pb), -2.0);
    // A truncated payload compares what is there instead of panicking.
    let _ = s.distance(&pa[..7], &pb);
}

#[test]
fn bit_payloads_and_centroids() {
    let h = space(ElementType::Bit, Metric::Hamming);
    let (mut pa, mut pb) = (Vec::new(), Vec::new());
    assert!(h.encode_bits(&[0b1010_0000], &mut pa) && h.encode_bits(&[0b0110_0000], &mut pb));
    assert_eq!(h.distance(&pa, &pb), 2.0);
    let mut floats = Vec::new();
    assert!(h.decode_dense(&pa, &mut floats));
    assert_eq!(floats, [1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
    let mut c = Vec::new();
    assert!(h.encode_centroid(&[0.9, 0.1, 0.5, 0.49, 0.0], 5, &mut c));
    assert_eq!(c, [0b1010_0000]);
    let j = space(ElementType::Bit, Metric::Jaccard);
    assert!((j.distance(&pa, &pb) - (1.0 - 1.0 / 3.0)).abs() < 1e-6);
}

proptest! {
    /// Ranking by payload distance equals ranking by the SQL operator.
    #[test]
    fn cosine_payload_distance_orders_like_cosine(
        q in prop::collection::vec(-10.0f32..10.0, 8),
        a in prop::collection::vec(-10.0f32..10.0, 8),
        b in prop::collection::vec(-10.0f32..10.0, 8),
    ) {
        let s = space(ElementType::F32, Metric::Cosine);
        let cos = |x: &[f32], y: &[f32]| 1.0 - dot(x, y) / (dot(x, x) * dot(y, y)).sqrt();
        let (mut pq, mut pa, mut pb) = (Vec::new(), Vec::new(), Vec::new());
        prop_assume!(s.encode_f32(&q, &mut pq) && s.encode_f32(&a, &mut pa) && s.encode_f32(&b, &mut pb));
        let (ea, eb) = (cos(&q, &a), cos(&q, &b));
        prop_assume!((ea - eb).abs() > 1e-4);
        prop_assert_eq!(s.distance(&pq, &pa) < s.distance(&pq, &pb), ea < eb);
    }
}

#[test]
fn compact_encodings_for_graph_construction() {
    use hnsw::Space as _;
    let a: Vec<f32> = (0..64).map(|i| (i as f32 * 0.37).sin()).collect();
    let b: Vec<f32> = (0..64).map(|i| (i as f32 * 0.11).cos()).collect();
    for metric in [Metric::L2, Metric::InnerProduct, Metric::Cosine, Metric::L1] {
        let s = space(ElementType::F32, metric);
        let (mut pa, mut pb, mut ca, mut cb) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        assert!(s.encode_f32(&a, &mut pa) && s.encode_f32(&b, &mut pb));
        assert!(
            s.compact(&pa, &mut ca) && s.compact(&pb, &mut cb),
            "{metric:?}"
        );
        assert_eq!(ca.len(), pa.len() / 2);
        let exact = s.distance(&pa, &pb);
        let approx = s.compact_distance(&ca, &cb);
        assert!(
            (exact - approx).abs() <= 1e-2 * exact.abs().max(1.0),
            "{metric:?}: {exact} vs {approx}"
        );
    }
    // Beyond half precision's range: no compact encoding.
    let s = space(ElementType::F32, Metric::L2);
    let (mut p, mut c) = (Vec::new(), Vec::new());
    assert!(s.encode_f32(&[1.0, 1e6], &mut p));
    assert!(!s.compact(&p, &mut c));
    // Other element types keep their exact payloads.
    let h = space(ElementType::F16, Metric::L2);
    assert!(!h.compact(&[0, 60], &mut c));
}

mod half_storage {
    use super::*;
    use crate::Storage;

    fn half(metric: Metric) -> VectorSpace {
        space(ElementType::F32, metric)
            .with_storage(Storage::Half)
            .unwrap()
    }

    /// What the operator returns for two `vector`s (the same kernels and
    /// f64 finishing as the SQL functions), and the lower bound an index
    /// with half-precision storage reports for the pair.
    fn exact_and_bound(metric: Metric, q: &[f32], x: &[f32]) -> Option<(f64, f64)> {
        let space = half(metric);
        let (mut query, mut stored) = (Vec::new(), Vec::new());
        if !space.query_space().encode_f32(q, &mut query) || !space.encode_f32(x, &mut stored) {
            return None;
        }
        let d = space.query_distance(&query, &stored);
        let bound = space
            .order_by_bound(&query, q.len(), || space.payload_norm(&stored) as f64)
            .unwrap()
            .lower_bound(d);
        let exact = match metric {
            Metric::Cosine => kernels::cosine_distance_f32(q, x),
            Metric::L2 => (kernels::l2_squared_f32(q, x) as f64).sqrt(),
            _ => -(kernels::dot_f32(q, x) as f64),
        };
        Some((exact, bound))
    }

    #[test]
    fn half_storage_combinations() {
        assert!(space(ElementType::F32, Metric::L1)
            .with_storage(Storage::Half)
            .is_none());
        assert!(space(ElementType::F16, Metric::Cosine)
            .with_storage(Storage::Half)
            .is_none());
        let half = half(Metric::Cosine);
        assert_ne!(half.id(), space(ElementType::F32, Metric::Cosine).id());
        assert_ne!(half.id(), self::half(Metric::L2).id());
        assert_eq!(half.payload_size(384), Some(768));
        assert_eq!(half.query_space().payload_size(384), Some(1536));
        assert_eq!(
            space(ElementType::F32, Metric::Cosine).order_by_bound(&[0; 12], 3, || 0.0),
            None
        );
        // Values beyond f16's range are refused, not silently indexed.
        assert!(!self::half(Metric::L2).fits_storage(&[1.0, 70000.0]));
        assert!(self::half(Metric::Cosine).fits_storage(&[1.0, 70000.0]));
        assert!(!self::half(Metric::L2).encode_f32(&[1.0, 70000.0], &mut Vec::new()));
    }

    #[test]
    fn bounds_are_tight_and_below_the_operator() {
        let v: Vec<f32> = (0..384)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
            .collect();
        let neg: Vec<f32> = v.iter().map(|x| -x).collect();
        let near: Vec<f32> = v.iter().map(|x| x + 0.01).collect();
        for metric in [Metric::Cosine, Metric::L2, Metric::InnerProduct] {
            for (q, x) in [(&v, &v), (&v, &neg), (&v, &near)] {
                let (exact, bound) = exact_and_bound(metric, q, x).unwrap();
                assert!(bound <= exact, "{metric:?}: {bound} > {exact}");
                // f16 keeps 11 bits: the slack is about 2^-11 of |q| |x|
                // (of 1 for cosine, whose vectors are normalised).
                let norm = |v: &[f32]| dot(v, v).sqrt();
                let scale = match metric {
                    Metric::Cosine => 1.0,
                    _ => norm(q) * norm(x),
                };
                assert!(
                    exact - bound < 1e-3 * scale,
                    "{metric:?}: loose {bound} for {exact}"
                );
            }
        }
    }

    /// Vectors of one length with components of very different magnitudes
    /// (down to f16's subnormal range and up to near its maximum), and a
    /// second vector near the first (the case where the order matters most).
    fn pair() -> impl Strategy<Value = (Vec<f32>, Vec<f32>)> {
        (1usize..2000).prop_flat_map(|n| {
            (
                proptest::collection::vec((-1.0f32..1.0, -8i32..4), n),
                proptest::collection::vec(-1.0f32..1.0, n),
                0.0f32..2.0,
            )
                .prop_map(|(a, noise, mix)| {
                    let a: Vec<f32> = a.iter().map(|&(v, e)| v * 10f32.powi(e)).collect();
                    let b = a
                        .iter()
                        .zip(&noise)
                        .map(|(x, e)| x + mix * mix * mix * e)
                        .collect();
                    (a, b)
                })
        })
    }

    proptest! {
        #[test]
        fn bounds_never_exceed_the_operator((q, x) in pair()) {
            for metric in [Metric::Cosine, Metric::L2, Metric::InnerProduct] {
                if let Some((exact, bound)) = exact_and_bound(metric, &q, &x) {
                    prop_assert!(bound <= exact, "{:?}: bound {} > exact {}", metric, bound, exact);
                }
            }
            // Unit vectors: the cosine bound is tight.
            if let Some((exact, bound)) = exact_and_bound(Metric::Cosine, &q, &x) {
                prop_assert!(exact - bound < 2e-3 + 1e-6 * q.len() as f64, "loose: {} vs {}", bound, exact);
            }
        }
    }
}

/// RaBitQ code storage: payloads are the raw vectors as f32 (halfvec values
/// widened exactly, nothing normalised), queries are encoded the same way,
/// distances rank like the operators, centroids are unit vectors under
/// cosine, and the index's distances pass through as the reported bounds.
#[test]
fn codes_storage_keeps_raw_f32_payloads() {
    use crate::Storage;
    for e in [ElementType::F32, ElementType::F16] {
        for m in [Metric::L2, Metric::InnerProduct, Metric::Cosine] {
            let s = space(e, m).with_storage(Storage::Codes).unwrap();
            assert_eq!(s.query_space(), s);
            assert_eq!(s.payload_size(3), Some(12));
            assert!(!s.normalizes());
            let v = [1.5f32, -2.0, 0.25];
            let mut p = Vec::new();
            match e {
                ElementType::F32 => assert!(s.encode_f32(&v, &mut p)),
                _ => {
                    let h: Vec<f16> = v.iter().map(|&x| f16::from_f32(x)).collect();
                    assert!(s.encode_f16(&h, &mut p))
                }
            }
            let floats: Vec<f32> = bytemuck::pod_collect_to_vec(&p);
            assert_eq!(floats, v, "{e:?} {m:?}: the raw values");
            let w = [0.5f32, 1.0, -1.0];
            let mut q = Vec::new();
            assert!(space(ElementType::F32, m)
                .with_storage(Storage::Codes)
                .unwrap()
                .encode_f32(&w, &mut q));
            let d = s.distance(&q, &p) as f64;
            let expected = match m {
                Metric::L2 => v.iter().zip(&w).map(|(a, b)| ((a - b) * (a - b)) as f64).sum(),
                Metric::InnerProduct => -dot(&v, &w),
                _ => 1.0 - dot(&v, &w) / (dot(&v, &v).sqrt() * dot(&w, &w).sqrt()),
            };
            assert!((d - expected).abs() < 1e-5, "{e:?} {m:?}: {d} vs {expected}");
            assert_eq!(s.query_distance(&q, &p), s.distance(&q, &p));
            let bound = s.order_by_bound(&q, 3, || 0.0).unwrap();
            assert_eq!(bound.lower_bound(0.125), 0.125);
            let mut c = Vec::new();
            assert!(s.encode_centroid(&[3.0, 4.0, 0.0], 3, &mut c));
            let c: Vec<f32> = bytemuck::pod_collect_to_vec(&c);
            if m == Metric::Cosine {
                assert!((c[0] - 0.6).abs() < 1e-6 && (c[1] - 0.8).abs() < 1e-6);
            } else {
                assert_eq!(c, [3.0, 4.0, 0.0]);
            }
            let mut dense = Vec::new();
            assert!(s.decode_dense(&p, &mut dense));
            assert_eq!(dense, v);
        }
    }
    // Only the float classes of vector and halfvec have codes.
    assert!(space(ElementType::F32, Metric::L1).with_storage(Storage::Codes).is_none());
    assert!(space(ElementType::Bit, Metric::Hamming).with_storage(Storage::Codes).is_none());
    assert!(space(ElementType::Sparse, Metric::L2).with_storage(Storage::Codes).is_none());
    let a = space(ElementType::F32, Metric::L2).with_storage(Storage::Codes).unwrap();
    let b = space(ElementType::F16, Metric::L2).with_storage(Storage::Codes).unwrap();
    assert_ne!(a.id(), b.id());
    assert_ne!(a.id(), space(ElementType::F32, Metric::L2).id());
}
