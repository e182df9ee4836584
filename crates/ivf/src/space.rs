//! The caller-supplied distance over opaque vector payloads.

/// Distance between a query and a stored payload (a centroid or a list
/// tuple), both in the encoding the index was built with (e.g. f32 or f16
/// values, already normalised for cosine).
///
/// Smaller is nearer. `Sync` because builds compute distances on several
/// threads; implementations must not call into Postgres.
pub trait Space: Sync {
    /// Distance from `query` to `stored`; both have the index's payload size.
    fn distance(&self, query: &[u8], stored: &[u8]) -> f32;
}
