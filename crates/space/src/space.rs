//! [`VectorSpace`]: encoding and comparing payloads of one operator class.

use half::f16;

use crate::bound::OrderByBound;

/// Element type of the indexed column (after any expression).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ElementType {
    /// `vector`: `float4` elements.
    F32,
    /// `halfvec`: half-precision elements.
    F16,
    /// `sparsevec`: (index, `float4`) pairs.
    Sparse,
    /// `bit`: packed bits.
    Bit,
}

/// Distance an operator class ranks by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Metric {
    /// `<->` (`*_l2_ops`).
    L2,
    /// `<#>` (`*_ip_ops`).
    InnerProduct,
    /// `<=>` (`*_cosine_ops`).
    Cosine,
    /// `<+>` (`*_l1_ops`).
    L1,
    /// `<~>` (`bit_hamming_ops`).
    Hamming,
    /// `<%>` (`bit_jaccard_ops`).
    Jaccard,
}

/// How an index stores the vectors of its column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Storage {
    /// The column's own precision.
    Exact,
    /// `vector` stored as half-precision values (normalised first under
    /// cosine distance): half the bytes per element, so scans and builds
    /// move half the memory. Scans compare the full-precision query with the
    /// stored halves and report a lower bound of the exact distance for each
    /// row ([`VectorSpace::order_by_bound`]), which the executor turns into
    /// exact order by rechecking the heap value.
    Half,
    /// RaBitQ codes (`ivfflat` with `quantization = rabitq`): the index's
    /// lists hold codes of the vectors, its centroids are `f32` payloads.
    /// Payloads of this storage are the vector as the operator sees it, as
    /// `f32` values, not normalised (`halfvec` values widened exactly), so
    /// that a payload is also the raw vector a code is encoded from; cosine
    /// compares them by the cosine distance (centroids are unit vectors).
    /// The index itself reports each row's provable lower bound of the
    /// operator's value ([`VectorSpace::order_by_bound`] passes it through),
    /// which the executor rechecks, as for [`Storage::Half`].
    Codes,
}

/// One operator class: how payloads are encoded and compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct VectorSpace {
    element: ElementType,
    metric: Metric,
    storage: Storage,
}

/// Bytes of the `nnz` header of a sparse payload.
const SPARSE_HEADER: usize = 4;

impl VectorSpace {
    /// The space of an operator class, or `None` for combinations pgvector
    /// does not define (bit vectors with float metrics and the reverse).
    pub fn new(element: ElementType, metric: Metric) -> Option<Self> {
        let bit_metric = matches!(metric, Metric::Hamming | Metric::Jaccard);
        (bit_metric == (element == ElementType::Bit)).then_some(VectorSpace {
            element,
            metric,
            storage: Storage::Exact,
        })
    }

    /// This space with another storage, or `None` if the combination is not
    /// supported: [`Storage::Half`] needs `vector` under L2, inner product
    /// or cosine distance (the L1 bound would need another norm).
    pub fn with_storage(self, storage: Storage) -> Option<Self> {
        let supported = match storage {
            Storage::Exact => true,
            Storage::Half => {
                self.element == ElementType::F32
                    && matches!(
                        self.metric,
                        Metric::L2 | Metric::InnerProduct | Metric::Cosine
                    )
            }
            Storage::Codes => {
                matches!(self.element, ElementType::F32 | ElementType::F16)
                    && matches!(
                        self.metric,
                        Metric::L2 | Metric::InnerProduct | Metric::Cosine
                    )
            }
        };
        supported.then_some(VectorSpace { storage, ..self })
    }

    /// Storage of the indexed vectors.
    pub fn storage(&self) -> Storage {
        self.storage
    }

    /// The space queries are encoded in: the same operator class at the
    /// column's own precision (for [`Storage::Codes`], the space itself: its
    /// payloads are the raw vectors as `f32`). Compare its payloads with
    /// stored ones through [`VectorSpace::query_distance`].
    pub fn query_space(&self) -> Self {
        if self.storage == Storage::Codes {
            return *self;
        }
        VectorSpace {
            storage: Storage::Exact,
            ..*self
        }
    }

    /// Element type.
    pub fn element(&self) -> ElementType {
        self.element
    }

    /// Metric.
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// A stable number for this space, stored in index meta pages so that a
    /// scan can check it is reading an index built for the same operator
    /// class encoding.
    pub fn id(&self) -> u16 {
        let element = match (self.element, self.storage) {
            (ElementType::F32, Storage::Half) => 5,
            (ElementType::F32, Storage::Codes) => 6,
            (ElementType::F16, Storage::Codes) => 7,
            (ElementType::F32, _) => 1,
            (ElementType::F16, _) => 2,
            (ElementType::Sparse, _) => 3,
            (ElementType::Bit, _) => 4,
        };
        let metric = match self.metric {
            Metric::L2 => 1,
            Metric::InnerProduct => 2,
            Metric::Cosine => 3,
            Metric::L1 => 4,
            Metric::Hamming => 5,
            Metric::Jaccard => 6,
        };
        element << 8 | metric
    }

    /// Payload bytes of a `dims`-dimensional vector when the size is fixed
    /// (everything except sparse vectors).
    pub fn payload_size(&self, dims: usize) -> Option<usize> {
        match self.element {
            ElementType::F32 if self.storage == Storage::Half => Some(dims * 2),
            ElementType::F32 => Some(dims * 4),
            ElementType::F16 if self.storage == Storage::Codes => Some(dims * 4),
            ElementType::F16 => Some(dims * 2),
            ElementType::Sparse => None,
            ElementType::Bit => Some(dims.div_ceil(8)),
        }
    }

    /// True if payloads are normalised to unit length: cosine on `vector`
    /// and `sparsevec`. Half-precision payloads stay as they are and are
    /// compared with the cosine kernel of the `<=>` operator: rounding a
    /// normalised vector to f16 costs about 1e-3 of relative precision,
    /// enough to order near-ties differently from exact search.
    pub fn normalizes(&self) -> bool {
        self.metric == Metric::Cosine
            && self.element != ElementType::F16
            && self.storage != Storage::Codes
    }

    /// Encodes a `vector` into `out` (cleared first). Returns false, leaving
    /// `out` empty, if the vector cannot be ranked by this space: a zero
    /// vector under cosine distance, which pgvector does not index either.
    pub fn encode_f32(&self, values: &[f32], out: &mut Vec<u8>) -> bool {
        out.clear();
        let scale = match self.unit_scale(values.iter().map(|&v| v as f64 * v as f64).sum()) {
            Some(s) => s,
            None => return false,
        };
        if self.metric == Metric::Cosine && !values.iter().any(|&v| v != 0.0) {
            return false;
        }
        out.reserve(values.len() * 4);
        match self.element {
            // One rounding, from the exactly scaled value: each stored value
            // is within 2^-11 of its magnitude (or 2^-25 when subnormal) of
            // the exact one, the error `order_by_bound` allows for.
            ElementType::F32 if self.storage == Storage::Half => {
                for &v in values {
                    let h = f16::from_f64(v as f64 * scale);
                    if !h.is_finite() {
                        out.clear();
                        return false;
                    }
                    out.extend_from_slice(&h.to_bits().to_ne_bytes());
                }
            }
            ElementType::F32 => {
                for &v in values {
                    out.extend_from_slice(&((v as f64 * scale) as f32).to_ne_bytes());
                }
            }
            ElementType::F16 => {
                for &v in values {
                    let h = f16::from_f64(v as f64 * scale);
                    out.extend_from_slice(&h.to_bits().to_ne_bytes());
                }
            }
            _ => return false,
        }
        true
    }

    /// Encodes a `halfvec` (see [`VectorSpace::encode_f32`]).
    pub fn encode_f16(&self, values: &[f16], out: &mut Vec<u8>) -> bool {
        out.clear();
        if self.element != ElementType::F16 {
            return false;
        }
        if self.metric == Metric::Cosine && !values.iter().any(|v| v.to_f32() != 0.0) {
            return false;
        }
        if self.storage == Storage::Codes {
            // Widened exactly: the values the operator computes with.
            out.reserve(values.len() * 4);
            for v in values {
                out.extend_from_slice(&v.to_f32().to_ne_bytes());
            }
            return true;
        }
        out.extend_from_slice(bytemuck::cast_slice(values));
        true
    }

    /// Encodes a `sparsevec` given its 0-based ascending indices and values
    /// (see [`VectorSpace::encode_f32`]).
    pub fn encode_sparse(&self, indices: &[i32], values: &[f32], out: &mut Vec<u8>) -> bool {
        out.clear();
        if self.element != ElementType::Sparse || indices.len() != values.len() {
            return false;
        }
        let Some(scale) = self.unit_scale(values.iter().map(|&v| v as f64 * v as f64).sum()) else {
            return false;
        };
        out.reserve(SPARSE_HEADER + 8 * values.len());
        out.extend_from_slice(&(indices.len() as u32).to_ne_bytes());
        out.extend_from_slice(bytemuck::cast_slice(indices));
        for &v in values {
            out.extend_from_slice(&((v as f64 * scale) as f32).to_ne_bytes());
        }
        true
    }

    /// Encodes a `bit` string's data bytes.
    pub fn encode_bits(&self, bytes: &[u8], out: &mut Vec<u8>) -> bool {
        out.clear();
        if self.element != ElementType::Bit {
            return false;
        }
        out.extend_from_slice(bytes);
        true
    }

    /// `1/|v|` for cosine (`None` for a zero or non-finite norm), 1 otherwise.
    fn unit_scale(&self, norm_squared: f64) -> Option<f64> {
        if !self.normalizes() {
            return Some(1.0);
        }
        let norm = norm_squared.sqrt();
        (norm > 0.0 && norm.is_finite()).then(|| 1.0 / norm)
    }

    /// Distance between two payloads of this space.
    ///
    /// Payloads come from [`VectorSpace`]'s encoders or from index pages and
    /// have matching sizes; a mismatch (corruption) compares the common
    /// prefix rather than panicking.
    #[inline]
    pub fn distance(&self, a: &[u8], b: &[u8]) -> f32 {
        if self.storage == Storage::Codes {
            let (a, b) = (floats(a), floats(b));
            return match self.metric {
                Metric::L2 => kernels::l2_squared_f32(a, b),
                Metric::Cosine => kernels::cosine_distance_f32(a, b) as f32,
                _ => -kernels::dot_f32(a, b),
            };
        }
        match self.element {
            ElementType::F32 if self.storage == Storage::Half => {
                let (a, b) = (halves(a), halves(b));
                match self.metric {
                    Metric::L2 => kernels::l2_squared_f16(a, b),
                    // Two stored unit vectors (graph construction, inserts):
                    // -cos of the halves themselves, see `half_unit_distance`.
                    Metric::Cosine => half_unit_distance(a, b),
                    _ => -kernels::dot_f16(a, b),
                }
            }
            ElementType::F32 => {
                let (a, b) = (floats(a), floats(b));
                match self.metric {
                    Metric::L2 => kernels::l2_squared_f32(a, b),
                    Metric::InnerProduct | Metric::Cosine => -kernels::dot_f32(a, b),
                    Metric::L1 => kernels::l1_f32(a, b),
                    _ => f32::NAN,
                }
            }
            ElementType::F16 => {
                let (a, b) = (halves(a), halves(b));
                match self.metric {
                    Metric::L2 => kernels::l2_squared_f16(a, b),
                    Metric::InnerProduct => -kernels::dot_f16(a, b),
                    Metric::Cosine => kernels::cosine_distance_f16(a, b) as f32,
                    Metric::L1 => kernels::l1_f16(a, b),
                    _ => f32::NAN,
                }
            }
            ElementType::Sparse => {
                let ((ai, av), (bi, bv)) = (sparse_parts(a), sparse_parts(b));
                match self.metric {
                    Metric::L2 => kernels::sparse_l2_squared(ai, av, bi, bv),
                    Metric::InnerProduct | Metric::Cosine => -kernels::sparse_dot(ai, av, bi, bv),
                    Metric::L1 => kernels::sparse_l1(ai, av, bi, bv),
                    _ => f32::NAN,
                }
            }
            ElementType::Bit => match self.metric {
                Metric::Hamming => kernels::hamming(a, b) as f32,
                Metric::Jaccard => kernels::jaccard_distance(a, b) as f32,
                _ => f32::NAN,
            },
        }
    }

    /// Distance between a query payload of [`VectorSpace::query_space`] and
    /// a stored payload of this space (for exact storage, the same as
    /// [`VectorSpace::distance`]).
    #[inline]
    pub fn query_distance(&self, query: &[u8], stored: &[u8]) -> f32 {
        match self.storage {
            Storage::Half => {
                let (query, stored) = (floats(query), halves(stored));
                match self.metric {
                    Metric::L2 => kernels::l2_squared_f32_f16(query, stored),
                    // The unit query against a stored unit vector's halves,
                    // divided by their norm (see `half_unit_distance`; the
                    // query's norm is 1 up to one rounding, in the bound).
                    Metric::Cosine => {
                        let (dot, norm) = kernels::dot_norm_f32_f16(query, stored);
                        (-(dot as f64) / (norm as f64).sqrt()) as f32
                    }
                    _ => -kernels::dot_f32_f16(query, stored),
                }
            }
            Storage::Exact | Storage::Codes => self.distance(query, stored),
        }
    }

    /// True if `values` fit this space's storage: every value within f16's
    /// range for [`Storage::Half`] (cosine normalises first, so always).
    /// [`VectorSpace::encode_f32`] refuses the others; callers that must not
    /// skip such a row ask this when it does, and raise an error.
    pub fn fits_storage(&self, values: &[f32]) -> bool {
        self.storage != Storage::Half
            || self.metric == Metric::Cosine
            || values.iter().all(|&v| f16::from_f32(v).is_finite())
    }

    /// The norm of a stored payload that lower bounds depend on: the
    /// Euclidean norm of the halves under L2 and inner product with
    /// [`Storage::Half`], 0 otherwise. An index keeps the largest over its
    /// payloads and passes it to [`VectorSpace::order_by_bound`].
    pub fn payload_norm(&self, stored: &[u8]) -> f32 {
        match (self.storage, self.metric) {
            (Storage::Half, Metric::L2 | Metric::InnerProduct) => {
                kernels::norm_squared_f16(halves(stored)).sqrt()
            }
            _ => 0.0,
        }
    }

    /// How to report the ORDER BY value of rows to the executor, for a scan
    /// with `query` (a payload of [`VectorSpace::query_space`]) over an index
    /// of `dims` dimensions whose payloads have [`VectorSpace::payload_norm`]
    /// at most `max_payload_norm()` (asked for only under L2 and inner
    /// product: reading it costs the caller a page read); `None` when stored
    /// payloads are exact (the index order is then the operator's and
    /// nothing needs rechecking).
    ///
    /// For [`Storage::Half`] the result turns an index distance into a lower
    /// bound of the operator's value (see `bound.rs` for the derivation). The
    /// executor rechecks the heap row, so rows come back in exact order; a
    /// bound is within about 6e-4 of the distance for unit vectors at 384
    /// dimensions, so it only fetches the rows that close to the k-th.
    pub fn order_by_bound(
        &self,
        query: &[u8],
        dims: usize,
        max_payload_norm: impl FnOnce() -> f64,
    ) -> Option<OrderByBound> {
        match self.storage {
            Storage::Exact => return None,
            Storage::Codes => return Some(OrderByBound::reported()),
            Storage::Half => {}
        }
        Some(match self.metric {
            Metric::Cosine => OrderByBound::cosine(dims),
            Metric::L2 => OrderByBound::l2(dims, max_payload_norm()),
            _ => {
                let query_norm = floats(query)
                    .iter()
                    .map(|&v| v as f64 * v as f64)
                    .sum::<f64>()
                    .sqrt();
                OrderByBound::inner_product(dims, max_payload_norm(), query_norm)
            }
        })
    }

    /// Decodes a fixed-size payload into `out` as `f32` values (bits become
    /// 0.0 / 1.0), for k-means training; returns false for sparse payloads.
    pub fn decode_dense(&self, payload: &[u8], out: &mut Vec<f32>) -> bool {
        out.clear();
        match self.element {
            ElementType::F32 if self.storage == Storage::Half => {
                out.extend(halves(payload).iter().map(|h| h.to_f32()))
            }
            ElementType::F32 => out.extend_from_slice(floats(payload)),
            ElementType::F16 if self.storage == Storage::Codes => {
                out.extend_from_slice(floats(payload))
            }
            ElementType::F16 => out.extend(halves(payload).iter().map(|h| h.to_f32())),
            ElementType::Bit => {
                for byte in payload {
                    out.extend((0..8).rev().map(|bit| ((byte >> bit) & 1) as f32));
                }
            }
            ElementType::Sparse => return false,
        }
        true
    }

    /// Encodes a trained centroid (`f32` values, `dims` of them) as a payload
    /// that queries are compared with: normalised for cosine, rounded to the
    /// nearest bit (ties to 1 are impossible to prefer, so ≥ 0.5 sets it) for
    /// bit vectors. Returns false for an unusable (zero) cosine centroid.
    pub fn encode_centroid(&self, centroid: &[f32], dims: usize, out: &mut Vec<u8>) -> bool {
        let centroid = &centroid[..dims.min(centroid.len())];
        if self.storage == Storage::Codes {
            // Unit centroids under cosine: codes are of `o / |o| - c`.
            let unit = VectorSpace {
                element: ElementType::F32,
                storage: Storage::Exact,
                ..*self
            };
            return unit.encode_f32(centroid, out);
        }
        match self.element {
            ElementType::F32 | ElementType::F16 => self.encode_f32(centroid, out),
            ElementType::Bit => {
                out.clear();
                out.resize(dims.div_ceil(8), 0);
                for (i, &v) in centroid.iter().enumerate() {
                    if v >= 0.5 {
                        out[i / 8] |= 0x80 >> (i % 8);
                    }
                }
                true
            }
            ElementType::Sparse => false,
        }
    }

    /// The k-means metric that trains centroids for this space, if dense.
    pub fn kmeans_metric(&self) -> Option<ivf::Metric> {
        match (self.element, self.metric) {
            (ElementType::Sparse, _) => None,
            (_, Metric::L2 | Metric::Hamming | Metric::Jaccard | Metric::L1) => {
                Some(ivf::Metric::L2)
            }
            (_, Metric::InnerProduct) => Some(ivf::Metric::InnerProduct),
            (_, Metric::Cosine) => Some(ivf::Metric::Cosine),
        }
    }
}

/// Payload bytes as `f32`s. Payloads are 4-byte aligned wherever they live
/// (pages MAXALIGN items; encoders produce `Vec<u8>` from the allocator,
/// which aligns to at least 8). A misaligned payload would be a bug: the
/// cast panics, which the pgrx layer reports as an ERROR.
#[inline]
pub(crate) fn floats(bytes: &[u8]) -> &[f32] {
    bytemuck::cast_slice(&bytes[..bytes.len() / 4 * 4])
}

#[inline]
pub(crate) fn halves(bytes: &[u8]) -> &[f16] {
    bytemuck::cast_slice(&bytes[..bytes.len() / 2 * 2])
}

/// Writes `values` rounded to half precision into `out` (cleared first), or
/// returns false, `out` empty, if one is beyond f16's range: the graph
/// construction encoding of f32 payloads ([`hnsw::Space::compact`]).
pub(crate) fn compact_halves(values: &[f32], out: &mut Vec<u8>) -> bool {
    out.clear();
    out.reserve(values.len() * 2);
    for &v in values {
        let h = f16::from_f32(v);
        if !h.is_finite() {
            out.clear();
            return false;
        }
        out.extend_from_slice(&h.to_bits().to_ne_bytes());
    }
    true
}

#[inline]
fn sparse_parts(bytes: &[u8]) -> (&[i32], &[f32]) {
    let nnz = bytes
        .get(..SPARSE_HEADER)
        .map(|h| u32::from_ne_bytes(h.try_into().unwrap()) as usize)
        .unwrap_or(0);
    let body = &bytes[SPARSE_HEADER.min(bytes.len())..];
    let nnz = nnz.min(body.len() / 8);
    let (indices, rest) = body.split_at(nnz * 4);
    (
        bytemuck::cast_slice(indices),
        bytemuck::cast_slice(&rest[..nnz * 4]),
    )
}

impl hnsw::Space for VectorSpace {
    #[inline]
    fn distance(&self, a: &[u8], b: &[u8]) -> f32 {
        VectorSpace::distance(self, a, b)
    }

    fn payload_norm(&self, payload: &[u8]) -> f32 {
        VectorSpace::payload_norm(self, payload)
    }

    /// `vector` payloads become half precision while the graph is built
    /// (about 1e-3 relative error in a distance, far below what changes
    /// which neighbours a graph keeps); values beyond f16's range have none.
    fn compact(&self, payload: &[u8], out: &mut Vec<u8>) -> bool {
        out.clear();
        if self.element != ElementType::F32
            || self.storage != Storage::Exact
            || matches!(self.metric, Metric::Hamming | Metric::Jaccard)
        {
            return false;
        }
        compact_halves(floats(payload), out)
    }

    /// The `halfvec` distance of the same metric, except that cosine
    /// payloads are normalised and compare by the negative dot product, as
    /// `vector` payloads do.
    #[inline]
    fn compact_distance(&self, a: &[u8], b: &[u8]) -> f32 {
        let metric = match self.metric {
            Metric::Cosine => return half_unit_distance(halves(a), halves(b)),
            other => other,
        };
        VectorSpace {
            element: ElementType::F16,
            metric,
            storage: Storage::Exact,
        }
        .distance(a, b)
    }
}

/// `-cos(a, b)` of two unit vectors rounded to half precision, on the scale
/// of the negative dot product that exact unit vectors compare by.
///
/// Rounding moves each vector by up to about 2^-12 per coordinate, mostly
/// off the unit sphere: the dot product of the halves is then off by about
/// 10^-4, which is more than the whole distance between near neighbours in
/// dense data (two directions 0.01 rad apart are 5·10^-5 apart), so graphs
/// built on it link near neighbours almost at random and leave elements
/// unreachable. Dividing by the halves' own norms cancels the radial part
/// of the error; what is left grows with the angle, like the distance.
#[inline]
fn half_unit_distance(a: &[f16], b: &[f16]) -> f32 {
    (kernels::cosine_distance_f16(a, b) - 1.0) as f32
}

impl ivf::Space for VectorSpace {
    #[inline]
    fn distance(&self, query: &[u8], stored: &[u8]) -> f32 {
        VectorSpace::distance(self, query, stored)
    }

    fn payload_norm(&self, payload: &[u8]) -> f32 {
        VectorSpace::payload_norm(self, payload)
    }

    /// Queries of half-precision storage stay `f32`: twice the bytes.
    fn query_size(&self, stored_size: usize) -> usize {
        match self.storage {
            Storage::Half => stored_size * 2,
            Storage::Exact | Storage::Codes => stored_size,
        }
    }

    fn dense(&self) -> Option<ivf::DenseEncoding> {
        // Codes are taken of the raw vector, kept as f32; halves rank like
        // the vectors they round (normalised under cosine). All by the same
        // metric.
        let element = match (self.storage, self.element) {
            (Storage::Codes, _) => ivf::Element::F32,
            (Storage::Half, _) => ivf::Element::F16,
            (_, ElementType::F32) => ivf::Element::F32,
            (_, ElementType::F16) => ivf::Element::F16,
            _ => return None,
        };
        let metric = match self.metric {
            Metric::L2 => ivf::Metric::L2,
            Metric::InnerProduct => ivf::Metric::InnerProduct,
            Metric::Cosine => ivf::Metric::Cosine,
            _ => return None,
        };
        Some(ivf::DenseEncoding { element, metric })
    }
}
