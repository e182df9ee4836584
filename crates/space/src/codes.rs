//! RaBitQ codes in HNSW graphs (`quantization = rabitq` of `hnsw`).
//!
//! An element stores the code of its vector ([`quant::Quantizer::encode`],
//! relative to no centroid: the rotation alone). The graph is built in
//! memory from the vectors themselves (as `f32` payloads of
//! [`Storage::Codes`], compared in half precision like `quantization =
//! none`), then the pages get the codes ([`hnsw::Space::encode_stored`]).
//! Inserts and vacuum compare stored codes with each other
//! ([`CodeSpace::code_distance`]: the vectors the codes stand for, with
//! RaBitQ's unbiasing); scans compare the prepared query with codes by the
//! estimator and report its provable lower bound ([`CodeQuery`]).

use quant::{Estimator, Quantizer, HEADER_BYTES};

use crate::space::{floats, halves, Metric, Storage, VectorSpace};

/// Bits per dimension of the quantized query (as ivfflat: 8 keeps the
/// query's own quantization error, which widens the lower bound, small).
pub const CODE_QUERY_BITS: u8 = 8;

/// The operator class of a code index and its quantizer: the
/// [`hnsw::Space`] of builds, inserts and vacuum.
#[derive(Clone, Debug)]
pub struct CodeSpace {
    space: VectorSpace,
    quantizer: Quantizer,
}

impl CodeSpace {
    /// The space of `space` (which must have [`Storage::Codes`]) with codes
    /// of `bits` bits per dimension under the rotation of `seed`, for
    /// `dims` dimensions; `None` for a space without codes or invalid
    /// parameters.
    ///
    /// The codes are laid out as new codes are
    /// ([`quant::Layout::for_new_codes`]); an index records
    /// [`stored_bits`](Self::stored_bits) and reads it back with
    /// [`from_stored`](Self::from_stored).
    pub fn new(space: VectorSpace, dims: usize, bits: u8, seed: u64) -> Option<Self> {
        Self::from_stored(space, dims, Self::stored_bits_of_new(bits)?, seed)
    }

    /// The space of an index whose meta page records `stored` bits
    /// ([`stored_bits`](Self::stored_bits): bits per dimension and layout;
    /// plain bits are bit planes, as in indexes written before nibbles).
    pub fn from_stored(space: VectorSpace, dims: usize, stored: u32, seed: u64) -> Option<Self> {
        if space.storage() != Storage::Codes {
            return None;
        }
        let metric = code_metric(space.metric())?;
        let rotation = quant::Rotation::new(dims, seed).ok()?;
        let quantizer = Quantizer::from_stored_bits(rotation, stored, metric).ok()?;
        Some(CodeSpace { space, quantizer })
    }

    /// What a new index of `bits` bits per dimension records (`None` for
    /// bits outside 1..=8).
    pub fn stored_bits_of_new(bits: u8) -> Option<u32> {
        let stored = quant::stored_bits(bits, quant::Layout::for_new_codes(bits));
        quant::parse_stored_bits(stored).map(|_| stored)
    }

    /// The bits field of the index's meta page: bits per dimension and
    /// layout of the codes.
    pub fn stored_bits(&self) -> u32 {
        self.quantizer.stored_bits()
    }

    /// The quantizer.
    pub fn quantizer(&self) -> &Quantizer {
        &self.quantizer
    }

    /// Bytes of a code of `dims` dimensions at `bits` bits (what an element
    /// stores).
    pub fn code_len(dims: usize, bits: u8) -> usize {
        HEADER_BYTES + bits as usize * dims.div_ceil(64) * 8
    }

    /// Prepares a scan's query (a payload of the space: `f32` values).
    pub fn prepare(&self, query: &[u8]) -> Option<CodeQuery> {
        let values = floats(query);
        if values.len() != self.quantizer.dims() {
            return None;
        }
        Some(CodeQuery {
            estimator: self.quantizer.query(values, None, CODE_QUERY_BITS),
            code_len: self.quantizer.code_len(),
        })
    }

    /// The distance between the vectors two codes stand for, in the
    /// operator's units: `t = <x̄_a, x̄_b> / (alpha_a alpha_b)` estimates the
    /// cosine of the two rotated residuals (each grid point is its vector's
    /// direction scaled by alpha plus an error orthogonal to it), computed
    /// from the codes' levels without undoing the rotation.
    pub fn code_distance(&self, a: &[u8], b: &[u8]) -> f32 {
        let len = self.quantizer.code_len();
        if a.len() != len || b.len() != len {
            return f32::MAX; // damaged: never preferred
        }
        let (na, alpha_a, ysq_a, xsum_a) = header(a);
        let (nb, alpha_b, ysq_b, xsum_b) = header(b);
        let bits = self.quantizer.bits() as usize;
        let n = self.quantizer.dims() as f64;
        let center = ((1u32 << bits) - 1) as f64 / 2.0;
        let xx = self.quantizer.level_product(a, b) as f64;
        let yy = xx - center * (xsum_a + xsum_b) + n * center * center;
        let denominator = (ysq_a.sqrt() / 2.0) * (ysq_b.sqrt() / 2.0) * alpha_a * alpha_b;
        let t = if denominator > 0.0 {
            (yy / denominator).clamp(-1.0, 1.0)
        } else {
            0.0
        };
        let metric = self.space.metric();
        if !(na.is_finite() && nb.is_finite()) {
            // A cosine code without direction (or a damaged norm).
            return if metric == Metric::Cosine {
                1.0
            } else {
                f32::MAX
            };
        }
        let squared = ((na - nb) * (na - nb) + 2.0 * na * nb * (1.0 - t)).max(0.0);
        (match metric {
            Metric::L2 => squared.sqrt(),
            Metric::Cosine => squared / 2.0,
            _ => -(na * nb * t),
        }) as f32
    }
}

/// Norm, alpha, `4|y|^2` and `sum x_i` of a code's header.
#[inline]
fn header(code: &[u8]) -> (f64, f64, f64, f64) {
    let f = |i: usize| f32::from_le_bytes(code[i..i + 4].try_into().expect("header")) as f64;
    let u = |i: usize| u32::from_le_bytes(code[i..i + 4].try_into().expect("header")) as f64;
    (f(0), f(4), u(8), u(12))
}

fn code_metric(metric: Metric) -> Option<quant::Metric> {
    Some(match metric {
        Metric::L2 => quant::Metric::L2,
        Metric::InnerProduct => quant::Metric::InnerProduct,
        Metric::Cosine => quant::Metric::Cosine,
        _ => return None,
    })
}

impl hnsw::Space for CodeSpace {
    /// Two stored codes (inserts, vacuum).
    #[inline]
    fn distance(&self, a: &[u8], b: &[u8]) -> f32 {
        self.code_distance(a, b)
    }

    /// A code's length, for a payload of the quantizer's dimensions.
    fn stored_len(&self, payload: &[u8]) -> Option<usize> {
        (payload.len() % 4 == 0 && payload.len() / 4 == self.quantizer.dims())
            .then(|| self.quantizer.code_len())
    }

    /// Two vectors given to the build (`f32` payloads).
    #[inline]
    fn input_distance(&self, a: &[u8], b: &[u8]) -> f32 {
        self.space.distance(a, b)
    }

    fn encode_stored(&self, payload: &[u8], out: &mut Vec<u8>) -> bool {
        let values = floats(payload);
        if values.len() != self.quantizer.dims() || payload.len() % 4 != 0 {
            return false; // stored as given: the size check refuses it
        }
        out.clear();
        out.resize(self.quantizer.code_len(), 0);
        self.quantizer.encode_into(values, None, out);
        true
    }

    /// The build's vectors in half precision, as `quantization = none`
    /// builds `vector` graphs (values beyond f16's range have none).
    fn compact(&self, payload: &[u8], out: &mut Vec<u8>) -> bool {
        crate::space::compact_halves(floats(payload), out)
    }

    #[inline]
    fn compact_distance(&self, a: &[u8], b: &[u8]) -> f32 {
        let (a, b) = (halves(a), halves(b));
        match self.space.metric() {
            Metric::L2 => kernels::l2_squared_f16(a, b),
            Metric::Cosine => kernels::cosine_distance_f16(a, b) as f32,
            _ => -kernels::dot_f16(a, b),
        }
    }
}

/// A scan's query prepared against an index's codes: the search navigates
/// on the estimated distance and reports the provable lower bound of the
/// operator's value (rounded down to `f32`), which the executor rechecks.
#[derive(Clone, Debug)]
pub struct CodeQuery {
    estimator: Estimator,
    code_len: usize,
}

impl CodeQuery {
    /// The estimate and the lower bound for `code` (a damaged code of the
    /// wrong length: never preferred, bound -infinity, so it is rechecked).
    #[inline]
    pub fn estimate_and_bound(&self, code: &[u8]) -> (f32, f32) {
        if code.len() != self.code_len {
            return (f32::MAX, f32::NEG_INFINITY);
        }
        let (estimate, bound) = self.estimator.estimate_and_lower_bound(code);
        (estimate as f32, round_down(bound))
    }
}

/// The largest `f32` at most `x`.
fn round_down(x: f64) -> f32 {
    let f = x as f32;
    if (f as f64) > x {
        f.next_down()
    } else {
        f
    }
}

impl hnsw::Space for CodeQuery {
    /// The estimate alone (the search navigates by it).
    #[inline]
    fn distance(&self, _query: &[u8], stored: &[u8]) -> f32 {
        if stored.len() != self.code_len {
            return f32::MAX;
        }
        self.estimator.estimate(stored) as f32
    }

    #[inline]
    fn distance_and_bound(&self, _query: &[u8], stored: &[u8]) -> (f32, f32) {
        self.estimate_and_bound(stored)
    }

    /// The bound takes as long again as the estimate: one-round scans take
    /// it only of the elements entering their beam.
    fn lazy_bound(&self) -> bool {
        true
    }

    #[inline]
    fn bound(&self, _query: &[u8], stored: &[u8]) -> f32 {
        if stored.len() != self.code_len {
            return f32::NEG_INFINITY;
        }
        round_down(self.estimator.lower_bound(stored))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ElementType;
    use hnsw::{BuildOptions, HnswScan, IndexOptions, ItemPointer, IterativeScan, ScanOptions};
    use pagestore::MemRelation;

    /// Deterministic clustered data (xorshift).
    fn data(n: usize, dims: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut s = seed | 1;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        let centres: Vec<Vec<f32>> = (0..8)
            .map(|_| (0..dims).map(|_| next()).collect())
            .collect();
        (0..n)
            .map(|i| centres[i % 8].iter().map(|c| c + 0.4 * next()).collect())
            .collect()
    }

    fn bytes(v: &[f32]) -> Vec<u8> {
        bytemuck::cast_slice(v).to_vec()
    }

    /// The SQL operator's value.
    fn exact(metric: Metric, a: &[f32], b: &[f32]) -> f64 {
        let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
        let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
        let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
        match metric {
            Metric::L2 => a
                .iter()
                .zip(b)
                .map(|(x, y)| ((x - y) as f64).powi(2))
                .sum::<f64>()
                .sqrt(),
            Metric::InnerProduct => -dot,
            _ => 1.0 - dot / (na * nb),
        }
    }

    fn tid(i: usize) -> ItemPointer {
        ItemPointer::new(1 + (i / 100) as u32, 1 + (i % 100) as u16)
    }

    fn code_space(metric: Metric, dims: usize, bits: u8) -> CodeSpace {
        let space = VectorSpace::new(ElementType::F32, metric)
            .unwrap()
            .with_storage(Storage::Codes)
            .unwrap();
        CodeSpace::new(space, dims, bits, 7).unwrap()
    }

    /// New 4-bit codes are nibbles; an index that recorded plain bits (bit
    /// planes, written before nibbles) reads as planes, and both compare
    /// codes identically.
    #[test]
    fn layouts_of_new_and_older_indexes() {
        let space = VectorSpace::new(ElementType::F32, Metric::L2)
            .unwrap()
            .with_storage(Storage::Codes)
            .unwrap();
        let new = CodeSpace::new(space, 100, 4, 7).unwrap();
        assert_eq!(new.quantizer().layout(), quant::Layout::Nibbles);
        assert_eq!(new.stored_bits(), 4 | quant::NIBBLES_FLAG);
        assert_eq!(CodeSpace::stored_bits_of_new(4), Some(new.stored_bits()));
        assert_eq!(CodeSpace::stored_bits_of_new(2), Some(2));
        assert_eq!(CodeSpace::stored_bits_of_new(9), None);
        let old = CodeSpace::from_stored(space, 100, 4, 7).unwrap();
        assert_eq!(old.quantizer().layout(), quant::Layout::Planes);
        assert!(CodeSpace::from_stored(space, 100, 2 | quant::NIBBLES_FLAG, 7).is_none());
        let rows = data(6, 100, 9);
        let enc = |cs: &CodeSpace| -> Vec<Vec<u8>> {
            rows.iter().map(|v| cs.quantizer().encode(v, None)).collect()
        };
        let (a, b) = (enc(&new), enc(&old));
        for i in 0..rows.len() {
            for j in 0..rows.len() {
                assert_eq!(
                    new.code_distance(&a[i], &a[j]).to_bits(),
                    old.code_distance(&b[i], &b[j]).to_bits()
                );
            }
        }
    }

    #[test]
    fn code_distance_estimates_the_distance() {
        for metric in [Metric::L2, Metric::InnerProduct, Metric::Cosine] {
            let (dims, rows) = (128, data(200, 128, 3));
            let cs = code_space(metric, dims, 4);
            let codes: Vec<Vec<u8>> = rows
                .iter()
                .map(|v| cs.quantizer().encode(v, None))
                .collect();
            let mut error = 0.0;
            let mut scale = 0.0;
            for i in 0..50 {
                for j in 50..100 {
                    let e = exact(metric, &rows[i], &rows[j]);
                    error += (cs.code_distance(&codes[i], &codes[j]) as f64 - e).abs();
                    scale += e.abs();
                }
            }
            assert!(
                error / scale < 0.08,
                "{metric:?}: relative error {}",
                error / scale
            );
            // Symmetric, and a code is nearest to itself.
            assert_eq!(
                cs.code_distance(&codes[1], &codes[2]),
                cs.code_distance(&codes[2], &codes[1])
            );
            // Damaged codes are never preferred.
            assert_eq!(cs.code_distance(&codes[1][..10], &codes[2]), f32::MAX);
        }
    }

    /// Builds, inserts, vacuums and scans a code graph: every reported
    /// value is a lower bound of the exact distance, one round comes in
    /// non-decreasing order of it, and reranking the round finds the exact
    /// nearest rows.
    #[test]
    fn graph_of_codes_scans_with_bounds() {
        for (metric, bits) in [
            (Metric::L2, 4),
            (Metric::InnerProduct, 4),
            (Metric::Cosine, 4),
        ] {
            let dims = 64;
            let rows = data(1500, dims, 11);
            let cs = code_space(metric, dims, bits);
            let options = BuildOptions {
                index: IndexOptions {
                    dimensions: dims as u32,
                    payload_size: CodeSpace::code_len(dims, bits) as u32,
                    quantization: hnsw::format::QUANTIZATION_RABITQ,
                    code_seed: 7,
                    code_bits: cs.stored_bits(),
                    ..IndexOptions::default()
                },
                threads: 1,
                ..BuildOptions::default()
            };
            let rel = MemRelation::new();
            let items = rows[..1200]
                .iter()
                .enumerate()
                .map(|(i, v)| (tid(i), bytes(v)));
            hnsw::build(&rel, &cs, options, items, |_| true).expect("build");
            // Inserts compare codes with codes.
            for (i, v) in rows.iter().enumerate().skip(1200) {
                let mut code = Vec::new();
                assert!(hnsw::Space::encode_stored(&cs, &bytes(v), &mut code));
                hnsw::insert(&rel, &cs, tid(i), &code).expect("insert");
            }
            let dead = |t: ItemPointer| t.offset % 3 == 0;
            hnsw::vacuum(&rel, &cs, dead, || {}).expect("vacuum");
            let report = hnsw::verify(&rel);
            assert!(report.is_ok(), "{metric:?}: {:?}", report.errors);
            let alive: Vec<usize> = (0..rows.len()).filter(|&i| !dead(tid(i))).collect();
            let mut hits = 0;
            for q in 0..10 {
                let query = data(1, dims, 100 + q).remove(0);
                let prepared = cs.prepare(&bytes(&query)).unwrap();
                // Inner product estimates are coarser without a centroid: a beam
                // over every row checks bounds, order and reachability
                // (the error scales with |o| |q|, not with the residuals).
                let ef_search = if metric == Metric::InnerProduct {
                    2000
                } else {
                    100
                };
                let options = ScanOptions {
                    ef_search,
                    iterative: IterativeScan::Off,
                    ..ScanOptions::default()
                };
                let mut scan = HnswScan::new(&bytes(&query), options);
                let mut found = Vec::new();
                let mut last = f32::NEG_INFINITY;
                while let Some(item) = scan.next(&rel, &prepared).unwrap() {
                    let i = alive
                        .iter()
                        .copied()
                        .find(|&i| tid(i) == item.heap_tid)
                        .expect("a live row");
                    let e = exact(metric, &query, &rows[i]);
                    assert!(
                        item.distance as f64 <= e + 1e-6,
                        "{metric:?}: bound {} > {e}",
                        item.distance
                    );
                    assert!(item.distance >= last, "{metric:?}: bounds out of order");
                    last = item.distance;
                    found.push((e, i));
                }
                found.sort_by(|a, b| a.0.total_cmp(&b.0));
                let mut truth: Vec<(f64, usize)> = alive
                    .iter()
                    .map(|&i| (exact(metric, &query, &rows[i]), i))
                    .collect();
                truth.sort_by(|a, b| a.0.total_cmp(&b.0));
                hits += truth[..10]
                    .iter()
                    .filter(|t| found.iter().take(10).any(|f| f.1 == t.1))
                    .count();
            }
            // Inner-product graphs leave some rows unreachable whatever
            // the storage (not a metric); their bounds and order are
            // checked above.
            if metric != Metric::InnerProduct {
                assert!(hits >= 90, "{metric:?}: recall@10 {}", hits as f64 / 100.0);
            }
        }
    }
}
