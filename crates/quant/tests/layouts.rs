//! The two layouts of 4-bit codes ([`Layout::Planes`], [`Layout::Nibbles`])
//! hold the same levels and give bit-identical estimates, intervals and
//! lower bounds: the kernels compute the same exact integer, so every
//! property the bounds tests prove of one layout holds of the other.

mod common;

use common::*;
use pagestore::rng::SplitMix64;
use quant::{parse_stored_bits, Layout, Metric, Quantizer, Rotation, NIBBLES_FLAG};

#[test]
fn nibbles_and_planes_agree_bit_for_bit() {
    let mut rng = SplitMix64::new(0x1A7);
    for &dims in &[1usize, 3, 63, 64, 65, 100, 384, 1536, 3072] {
        for metric in [Metric::L2, Metric::InnerProduct, Metric::Cosine] {
            for kind in KINDS {
                let rotation = Rotation::new(dims, rng.next_u64()).unwrap();
                let planes = Quantizer::with_layout(rotation.clone(), 4, metric, Layout::Planes)
                    .unwrap();
                let nibbles =
                    Quantizer::with_layout(rotation, 4, metric, Layout::Nibbles).unwrap();
                assert_eq!(planes.code_len(), nibbles.code_len());
                let rows = vectors(kind, dims, 4, &mut rng);
                let centroid = vectors(Kind::Gaussian, dims, 1, &mut rng).remove(0);
                let queries = vectors(kind, dims, 2, &mut rng);
                for c in [None, Some(centroid.as_slice())] {
                    let pc: Vec<Vec<u8>> = rows.iter().map(|o| planes.encode(o, c)).collect();
                    let nc: Vec<Vec<u8>> = rows.iter().map(|o| nibbles.encode(o, c)).collect();
                    for (p, n) in pc.iter().zip(&nc) {
                        assert_eq!(p[..16], n[..16], "headers differ");
                        // (Headers are equal bytes, NaN norms included.)
                        assert_eq!(planes.decode(p).unwrap().levels, nibbles.decode(n).unwrap().levels);
                    }
                    for (pa, na) in pc.iter().zip(&nc) {
                        for (pb, nb) in pc.iter().zip(&nc) {
                            assert_eq!(planes.level_product(pa, pb), nibbles.level_product(na, nb));
                        }
                    }
                    for q in &queries {
                        for qbits in [4u8, 8] {
                            let pe = planes.query(q, c, qbits);
                            let ne = nibbles.query(q, c, qbits);
                            for (p, n) in pc.iter().zip(&nc) {
                                let (a, b) = (pe.estimate_and_lower_bound(p), ne.estimate_and_lower_bound(n));
                                assert_eq!(a.0.to_bits(), b.0.to_bits(), "{dims} {metric:?} {kind:?}");
                                assert_eq!(a.1.to_bits(), b.1.to_bits(), "{dims} {metric:?} {kind:?}");
                                let (a, b) = (pe.interval(p), ne.interval(n));
                                assert_eq!(a.low.to_bits(), b.low.to_bits());
                                assert_eq!(a.high.to_bits(), b.high.to_bits());
                            }
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn stored_bits_round_trip_and_refuse_what_no_quantizer_writes() {
    for bits in 1..=8u8 {
        let layouts: &[Layout] = if bits == 4 {
            &[Layout::Planes, Layout::Nibbles]
        } else {
            &[Layout::Planes]
        };
        for &layout in layouts {
            let q = Quantizer::with_layout(Rotation::new(10, 1).unwrap(), bits, Metric::L2, layout)
                .unwrap();
            assert_eq!(parse_stored_bits(q.stored_bits()), Some((bits, layout)));
            let again =
                Quantizer::from_stored_bits(Rotation::new(10, 1).unwrap(), q.stored_bits(), Metric::L2)
                    .unwrap();
            assert_eq!((again.bits(), again.layout()), (bits, layout));
        }
        if bits != 4 {
            assert_eq!(parse_stored_bits(bits as u32 | NIBBLES_FLAG), None);
            assert!(Quantizer::with_layout(Rotation::new(10, 1).unwrap(), bits, Metric::L2, Layout::Nibbles).is_err());
        }
    }
    // Codes written before the layout existed: plain bits, bit planes.
    assert_eq!(parse_stored_bits(4), Some((4, Layout::Planes)));
    for bad in [0, 9, 0x200 | 4, NIBBLES_FLAG, u32::MAX] {
        assert_eq!(parse_stored_bits(bad), None, "{bad:#x}");
    }
    assert_eq!(Layout::for_new_codes(4), Layout::Nibbles);
    assert_eq!(Layout::for_new_codes(1), Layout::Planes);
}
