//! RaBitQ codes of list tuples ([`FORMAT_VERSION_RABITQ`] indexes): the
//! crate-level pieces an index storing codes instead of vectors is made of.
//!
//! * [`RabitqCodec`] is made from the meta page ([`RabitqMeta`]): the
//!   rotation comes back from its 16 stored bytes (a seed), so a build, an
//!   insert and every scan use the same one;
//! * a row's code is relative to its list's centroid (the f32 centroid
//!   payload), [`RabitqCodec::encode_into`];
//! * a scan prepares one [`ListBound`] per (query, list) and gets, for each
//!   code of the list, a **provable lower bound** of the exact value of
//!   Postgres's operator (`<->`, `<#>`, `<=>` in f32; `quant`'s
//!   `tests/bounds.rs` proves it over adversarial data), to report as the
//!   ORDER BY value with a recheck, as half-precision storage does;
//! * [`for_each_code`] walks a list's pages and yields its codes.
//!
//! The access-method wiring (the `quantization = rabitq` option, builds,
//! inserts, vacuum and scans over such an index) is not done yet:
//! [`MetaTuple::decode`](crate::format::MetaTuple::decode), which every
//! existing path reads the meta page with, rejects a code index as an
//! unsupported quantization.

use pagestore::{BlockNumber, ItemPointer, Page, Relation, FIRST_OFFSET};
use quant::{Estimator, Metric, Quantizer, Rotation};

use crate::error::IvfError;
use crate::format::{
    rabitq_code_size, MetaTuple, PageRole, RabitqMeta, RabitqTrailer, FLAG_ROLE_MASK,
    FORMAT_VERSION_RABITQ, IVF_PAGE_ID, META_BLOCK, META_MAGIC, QUANTIZATION_RABITQ,
};
use crate::lists::{for_each_page, for_each_tuple};

/// Bits of the query's quantization in a scan (`quant`'s `query_bits`): 8
/// keeps the query's share of the bound's slack small.
pub const QUERY_BITS: u8 = 8;

/// Encoder and per-list estimators of a code index.
pub struct RabitqCodec {
    quantizer: Quantizer,
}

impl RabitqCodec {
    /// The codec of a new index: `dims` dimensions, `bits` (1..=8) bits per
    /// dimension, the rotation chosen by `seed`.
    pub fn new(dims: usize, bits: u8, seed: u64, metric: Metric) -> Result<Self, IvfError> {
        let rotation = Rotation::new(dims, seed)
            .map_err(|e| IvfError::InvalidBuild(format!("rabitq rotation: {e}")))?;
        let quantizer = Quantizer::new(rotation, bits, metric)
            .map_err(|e| IvfError::InvalidBuild(format!("rabitq codes: {e}")))?;
        Ok(Self { quantizer })
    }

    /// The codec an index's meta page records (already validated by
    /// [`RabitqMeta::decode`]); `metric` comes from the operator class.
    pub fn from_meta(meta: &RabitqMeta, metric: Metric) -> Result<Self, IvfError> {
        let rotation = Rotation::from_bytes(&meta.codes.rotation)
            .map_err(|_| IvfError::Corrupted("rotation of the codes is damaged"))?;
        if rotation.dims() != meta.meta.dims as usize {
            return Err(IvfError::Corrupted(
                "rotation of the codes has other dimensions",
            ));
        }
        let quantizer = Quantizer::new(rotation, meta.codes.bits as u8, metric)
            .map_err(|_| IvfError::Corrupted("bits per dimension of the codes out of range"))?;
        if quantizer.code_len() != meta.codes.code_size as usize {
            return Err(IvfError::Corrupted(
                "code size does not match the dimensions",
            ));
        }
        Ok(Self { quantizer })
    }

    /// What the meta page records of this codec.
    pub fn trailer(&self) -> RabitqTrailer {
        RabitqTrailer {
            bits: self.quantizer.bits() as u32,
            code_size: self.code_size() as u32,
            rotation: self.quantizer.rotation().to_bytes(),
        }
    }

    /// The meta item of a new code index (everything but the codec's
    /// fields comes from `meta`; its payloads are f32 centroids).
    pub fn meta_item(&self, meta: MetaTuple) -> RabitqMeta {
        RabitqMeta {
            meta: MetaTuple {
                magic: META_MAGIC,
                version: FORMAT_VERSION_RABITQ,
                quantization: QUANTIZATION_RABITQ,
                dims: self.dims() as u32,
                payload_size: (self.dims() * 4) as u32,
                ..meta
            },
            codes: self.trailer(),
        }
    }

    /// Dimensions of the vectors.
    pub fn dims(&self) -> usize {
        self.quantizer.dims()
    }

    /// Bytes of a code.
    pub fn code_size(&self) -> usize {
        debug_assert_eq!(
            self.quantizer.code_len(),
            rabitq_code_size(self.dims(), self.quantizer.bits() as usize)
        );
        self.quantizer.code_len()
    }

    /// The underlying quantizer.
    pub fn quantizer(&self) -> &Quantizer {
        &self.quantizer
    }

    /// Writes the code of `vector` relative to `centroid` (its list's f32
    /// centroid) into `out` (`code_size()` bytes).
    pub fn encode_into(&self, vector: &[f32], centroid: &[f32], out: &mut [u8]) {
        self.quantizer.encode_into(vector, Some(centroid), out);
    }

    /// The estimator of `query` against the codes of the list of `centroid`:
    /// prepared once per list a scan reads.
    pub fn list_bound(&self, query: &[f32], centroid: &[f32]) -> ListBound {
        ListBound {
            estimator: self.quantizer.query(query, Some(centroid), QUERY_BITS),
        }
    }
}

/// A query against the codes of one list.
pub struct ListBound {
    estimator: Estimator,
}

impl ListBound {
    /// A value never above what Postgres's operator returns for the row and
    /// the query (f64; `-inf` where no finite bound is provable).
    pub fn lower_bound(&self, code: &[u8]) -> f64 {
        self.estimator.lower_bound(code)
    }

    /// RaBitQ's estimate of the operator's value (for navigation only: it
    /// may be above the exact value).
    pub fn estimate(&self, code: &[u8]) -> f64 {
        self.estimator.estimate(code)
    }
}

/// Reads and validates the meta page of a code index.
pub fn read_rabitq_meta<R: Relation>(rel: &R) -> Result<RabitqMeta, IvfError> {
    if rel.nblocks() == 0 {
        return Err(IvfError::NotAnIvfIndex);
    }
    let page = rel.read(META_BLOCK);
    let opaque = page.opaque();
    if opaque.page_id != IVF_PAGE_ID || opaque.flags & FLAG_ROLE_MASK != PageRole::Meta as u16 {
        return Err(IvfError::NotAnIvfIndex);
    }
    let item = page.item(FIRST_OFFSET).ok_or(IvfError::NotAnIvfIndex)?;
    RabitqMeta::decode(item)
}

/// Calls `visit` with the heap TID and code of every tuple of the list
/// starting at `head` (empty slots and items of another size are skipped),
/// one page at a time under its shared lock.
pub fn for_each_code<R: Relation>(
    rel: &R,
    head: BlockNumber,
    code_size: u32,
    mut visit: impl FnMut(ItemPointer, &[u8]),
) -> Result<(), IvfError> {
    for_each_page(rel, head, |page| {
        for_each_tuple(page, code_size, |tid, code| visit(tid, code))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{encode_list_tuple, FORMAT_VERSION, QUANTIZATION_HALF};
    use crate::lists::{link_at_tail, new_list_page, place_tuple};
    use pagestore::{MemRelation, PageMut};

    fn gaussian(rng: &mut pagestore::rng::SplitMix64, n: usize) -> Vec<f32> {
        (0..n)
            .map(|_| {
                // Sum of uniforms: close enough to Gaussian for test data.
                let s: f64 = (0..4).map(|_| rng.next_f64()).sum();
                (s - 2.0) as f32
            })
            .collect()
    }

    fn exact(metric: Metric, o: &[f32], q: &[f32]) -> f64 {
        match metric {
            Metric::L2 => (kernels::l2_squared_f32(o, q) as f64).sqrt(),
            Metric::InnerProduct => -(kernels::dot_f32(o, q) as f64),
            Metric::Cosine => kernels::cosine_distance_f32(o, q),
        }
    }

    fn base_meta() -> MetaTuple {
        MetaTuple {
            magic: META_MAGIC,
            version: FORMAT_VERSION,
            dims: 0,
            payload_size: 0,
            lists: 3,
            space_id: 7,
            quantization: QUANTIZATION_HALF,
            first_centroid_block: 1,
            max_payload_norm: 0.0,
            reserved: 0,
        }
    }

    #[test]
    fn meta_item_round_trips_and_old_readers_reject_it() {
        let codec = RabitqCodec::new(384, 1, 0xC0DE, Metric::Cosine).unwrap();
        let meta = codec.meta_item(base_meta());
        assert_eq!(meta.meta.version, FORMAT_VERSION_RABITQ);
        assert_eq!(meta.meta.quantization, QUANTIZATION_RABITQ);
        assert_eq!(meta.meta.payload_size, 384 * 4);
        assert_eq!(meta.codes.code_size, 64, "16 bytes + 384 bits");
        let item = meta.encode();
        assert_eq!(item.len(), 64);
        assert_eq!(RabitqMeta::decode(&item), Ok(meta));
        // The same rotation comes back from the page.
        let again = RabitqCodec::from_meta(&meta, Metric::Cosine).unwrap();
        assert_eq!(again.trailer(), codec.trailer());
        assert_eq!(again.quantizer().rotation().seed(), 0xC0DE);
        // Every path that reads vectors refuses it with a clear error.
        assert_eq!(
            MetaTuple::decode(&item),
            Err(IvfError::UnsupportedQuantization(QUANTIZATION_RABITQ))
        );
        // And a version-1 index is not a code index.
        let v1 = MetaTuple {
            dims: 3,
            payload_size: 6,
            ..base_meta()
        };
        assert_eq!(MetaTuple::decode(bytemuck::bytes_of(&v1)), Ok(v1));
        assert_eq!(
            RabitqMeta::decode(bytemuck::bytes_of(&v1)),
            Err(IvfError::UnsupportedQuantization(QUANTIZATION_HALF))
        );
    }

    #[test]
    fn damaged_meta_items_are_errors() {
        let codec = RabitqCodec::new(100, 4, 1, Metric::L2).unwrap();
        let good = codec.meta_item(base_meta());
        let bad = |f: &dyn Fn(&mut RabitqMeta)| {
            let mut m = good;
            f(&mut m);
            RabitqMeta::decode(&m.encode())
        };
        assert!(matches!(
            bad(&|m| m.codes.bits = 0),
            Err(IvfError::Corrupted(_))
        ));
        assert!(matches!(
            bad(&|m| m.codes.bits = 9),
            Err(IvfError::Corrupted(_))
        ));
        assert!(matches!(
            bad(&|m| m.codes.code_size += 8),
            Err(IvfError::Corrupted(_))
        ));
        assert!(matches!(
            bad(&|m| m.meta.payload_size = 4),
            Err(IvfError::Corrupted(_))
        ));
        assert_eq!(
            bad(&|m| m.meta.version = 3),
            Err(IvfError::UnsupportedVersion(3))
        );
        assert_eq!(
            bad(&|m| m.meta.quantization = 9),
            Err(IvfError::UnsupportedQuantization(9))
        );
        assert_eq!(bad(&|m| m.meta.magic = 1), Err(IvfError::NotAnIvfIndex));
        // A rotation of other dimensions, or damaged bytes, is caught when read.
        let mut other = good;
        other.codes.rotation = Rotation::new(99, 1).unwrap().to_bytes();
        assert!(RabitqCodec::from_meta(&other, Metric::L2).is_err());
        let mut garbage = good;
        garbage.codes.rotation = [0xAB; 16];
        assert!(RabitqCodec::from_meta(&garbage, Metric::L2).is_err());
        assert_eq!(good.encode()[..62].len(), 62);
        assert_eq!(
            RabitqMeta::decode(&good.encode()[..62]),
            Err(IvfError::NotAnIvfIndex)
        );
    }

    /// Codes stored in list pages and read back give lower bounds that hold
    /// for every row and every operator, and a scan that emits rows by bound
    /// and reranks them exactly (the executor's reorder queue) returns the
    /// exact nearest rows in exact order.
    #[test]
    fn stored_codes_bound_the_exact_distance_and_rerank_to_exact_order() {
        let dims = 77;
        let mut rng = pagestore::rng::SplitMix64::new(5);
        for metric in [Metric::L2, Metric::InnerProduct, Metric::Cosine] {
            for bits in [1u8, 2, 4] {
                let codec = RabitqCodec::new(dims, bits, 42, metric).unwrap();
                let rel = MemRelation::new();
                // Block 0: the meta page, then one list.
                {
                    let mut page = rel.extend();
                    *page.opaque_mut() = PageRole::Meta.opaque();
                    let meta = codec.meta_item(base_meta());
                    assert!(page.add_item(&meta.encode()).is_some());
                }
                let centroid = gaussian(&mut rng, dims);
                let rows: Vec<Vec<f32>> = (0..300)
                    .map(|_| {
                        let v = gaussian(&mut rng, dims);
                        v.iter().zip(&centroid).map(|(a, c)| a * 0.5 + c).collect()
                    })
                    .collect();
                let mut code = vec![0u8; codec.code_size()];
                let mut tuple = Vec::new();
                let mut ends: Option<(BlockNumber, BlockNumber)> = None;
                for (i, row) in rows.iter().enumerate() {
                    codec.encode_into(row, &centroid, &mut code);
                    encode_list_tuple(ItemPointer::new(1, i as u16 + 1), &code, &mut tuple);
                    ends = Some(match ends {
                        None => {
                            let b = new_list_page(&rel, &tuple);
                            (b, b)
                        }
                        Some((head, tail)) => {
                            if place_tuple(&mut rel.write(tail), &tuple) {
                                (head, tail)
                            } else {
                                let b = new_list_page(&rel, &tuple);
                                link_at_tail(&rel, head, b).unwrap();
                                (head, b)
                            }
                        }
                    });
                }
                let (head, tail) = ends.unwrap();
                assert_ne!(head, tail, "the codes span several pages");
                let meta = read_rabitq_meta(&rel).unwrap();
                let codec = RabitqCodec::from_meta(&meta, metric).unwrap();
                for _ in 0..5 {
                    let query = gaussian(&mut rng, dims);
                    let bound = codec.list_bound(&query, &centroid);
                    let mut seen = 0;
                    let mut ranked = Vec::new();
                    for_each_code(&rel, head, meta.codes.code_size, |tid, code| {
                        let row = &rows[tid.offset as usize - 1];
                        let lb = bound.lower_bound(code);
                        let ex = exact(metric, row, &query);
                        assert!(lb <= ex, "{metric:?} {bits} bits: bound {lb} > exact {ex}");
                        ranked.push((lb, ex, tid));
                        seen += 1;
                    })
                    .unwrap();
                    assert_eq!(seen, rows.len());
                    // Reorder queue: pop by bound, emit an exact row once no
                    // pending bound is below it.
                    ranked.sort_by(|a, b| a.0.total_cmp(&b.0));
                    let k = 10;
                    let mut queue: Vec<(f64, ItemPointer)> = Vec::new();
                    let mut out = Vec::new();
                    let mut reranked = 0;
                    for &(lb, ex, tid) in &ranked {
                        while out.len() < k {
                            let best = queue
                                .iter()
                                .enumerate()
                                .min_by(|a, b| a.1 .0.total_cmp(&b.1 .0));
                            match best {
                                Some((i, &(d, _))) if d <= lb => out.push(queue.swap_remove(i)),
                                _ => break,
                            }
                        }
                        if out.len() == k {
                            break;
                        }
                        queue.push((ex, tid));
                        reranked += 1;
                    }
                    queue.sort_by(|a, b| a.0.total_cmp(&b.0));
                    out.extend(queue.into_iter().take(k - out.len()));
                    let mut truth: Vec<(f64, ItemPointer)> =
                        ranked.iter().map(|&(_, ex, tid)| (ex, tid)).collect();
                    truth.sort_by(|a, b| a.0.total_cmp(&b.0));
                    let got: Vec<f64> = out.iter().map(|r| r.0).collect();
                    let want: Vec<f64> = truth[..k].iter().map(|r| r.0).collect();
                    assert_eq!(got, want, "{metric:?} {bits} bits");
                    assert!(reranked <= rows.len());
                }
            }
        }
    }
}
