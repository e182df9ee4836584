//! The caller-supplied distance over opaque vector payloads.

use crate::kmeans::Metric;

/// Distance between a query and a stored payload (a centroid or a list
/// tuple), both in the encoding the index was built with (e.g. f32 or f16
/// values, already normalised for cosine).
///
/// Smaller is nearer. `Sync` because builds compute distances on several
/// threads; implementations must not call into Postgres.
pub trait Space: Sync {
    /// Distance from `query` to `stored`. In builds and inserts both are
    /// stored payloads; in scans `query` is in the caller's query encoding
    /// (see [`Space::query_size`]).
    fn distance(&self, query: &[u8], stored: &[u8]) -> f32;

    /// Bytes of a scan's query for stored payloads of `stored_size` bytes:
    /// the same (the default) unless queries keep more precision than the
    /// index stores.
    fn query_size(&self, stored_size: usize) -> usize {
        stored_size
    }

    /// A magnitude of a stored payload that the caller's distance bounds
    /// depend on; the index keeps the largest over its rows in the meta page
    /// ([`crate::format::MetaTuple::max_payload_norm`]), raised by builds
    /// and inserts before a row can be found. 0 (the default) if none.
    fn payload_norm(&self, payload: &[u8]) -> f32 {
        let _ = payload;
        0.0
    }

    /// Declares the payloads dense float vectors ranked by a k-means metric
    /// (`None`, the default, for any other payload). Informational: builds
    /// and inserts both assign rows to lists with [`Space::distance`], so a
    /// row lands in the same list however it arrived.
    fn dense(&self) -> Option<DenseEncoding> {
        None
    }
}

/// Layout and metric of dense float payloads (see [`Space::dense`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DenseEncoding {
    /// Element type of the payload: a native-endian array of it.
    pub element: Element,
    /// The metric [`Space::distance`] orders like (any monotonic function of
    /// it: squared or not, `1 - cos` or `-cos`, ...).
    pub metric: Metric,
}

/// Element type of a dense payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Element {
    /// `float4` (pgvector `vector`).
    F32,
    /// IEEE half precision (pgvector `halfvec`).
    F16,
}

impl Element {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Element::F32 => 4,
            Element::F16 => 2,
        }
    }
}
