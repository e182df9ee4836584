//! Spaces that store another encoding than the payloads given to the build
//! ([`Space::encode_stored`], as code indexes do): the build collects the
//! payloads, encodes each once, all at once on the build's threads, and the
//! pages hold the encodings; vectors past the memory budget are encoded as
//! they are inserted; payloads without an encoding are stored as given.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};

use common::*;
use half::f16;
use hnsw::{search, verify, BuildOptions, BuildPhase, HnswError, Space};

/// Squared L2 where the pages store half-precision copies (a payload with
/// a value beyond f16's range is stored as given, in f32); distances
/// decode either by length. Counts encodings.
struct HalfStored {
    dims: usize,
    encoded: AtomicU64,
}

impl HalfStored {
    fn new(dims: usize) -> Self {
        HalfStored {
            dims,
            encoded: AtomicU64::new(0),
        }
    }

    fn decode(&self, bytes: &[u8]) -> Vec<f32> {
        if bytes.len() == 2 * self.dims {
            bytemuck::cast_slice::<u8, u16>(bytes)
                .iter()
                .map(|&h| f16::from_bits(h).to_f32())
                .collect()
        } else {
            bytemuck::cast_slice::<u8, f32>(bytes).to_vec()
        }
    }
}

impl Space for HalfStored {
    fn distance(&self, a: &[u8], b: &[u8]) -> f32 {
        let (a, b) = (self.decode(a), self.decode(b));
        a.iter().zip(&b).map(|(x, y)| (x - y) * (x - y)).sum()
    }

    fn encode_stored(&self, payload: &[u8], out: &mut Vec<u8>) -> bool {
        self.encoded.fetch_add(1, Ordering::Relaxed);
        f16_bytes(payload, out)
    }

    fn stored_len(&self, payload: &[u8]) -> Option<usize> {
        let values = bytemuck::cast_slice::<u8, f32>(payload);
        values
            .iter()
            .all(|&v| f16::from_f32(v).is_finite())
            .then_some(2 * values.len())
    }

    fn input_distance(&self, a: &[u8], b: &[u8]) -> f32 {
        L2.distance(a, b)
    }
}

fn half_bytes(v: &[f32]) -> Vec<u8> {
    v.iter()
        .flat_map(|&x| f16::from_f32(x).to_bits().to_ne_bytes())
        .collect()
}

/// Every row is found at distance 0 by `stored(row)`, what its element
/// should store: the pages hold the encodings (an f32 payload read as
/// halves would not be found, nor halves read as f32).
fn assert_every_row_found(
    rel: &pagestore::MemRelation,
    space: &HalfStored,
    data: &[Vec<f32>],
    stored: impl Fn(&[f32]) -> Vec<u8>,
) {
    for (i, v) in data.iter().enumerate() {
        let found = search(rel, space, &stored(v), 20).unwrap();
        assert!(
            found.iter().any(|f| f.heap_tid == tid(i) && f.distance == 0.0),
            "row {i} not found by what it should store"
        );
    }
}

#[test]
fn pages_hold_encodings_made_once_each() {
    let dims = 8;
    let data = clustered(600, dims, 6, 31);
    for threads in [1, 2] {
        let space = HalfStored::new(dims);
        let mut options = default_build(dims);
        options.index.payload_size = (2 * dims) as u32;
        options.threads = threads;
        let (rel, report) = build_index(&space, &data, options);
        assert_eq!(report.in_memory_tuples, 600);
        assert_eq!(
            space.encoded.load(Ordering::Relaxed),
            600,
            "each vector encoded once"
        );
        assert!(verify(&rel).is_ok());
        assert_every_row_found(&rel, &space, &data, half_bytes);
    }
}

#[test]
fn vectors_past_the_memory_budget_are_encoded_as_inserted() {
    let dims = 8;
    let data = clustered(600, dims, 6, 32);
    let space = HalfStored::new(dims);
    let options = BuildOptions {
        memory_budget: 40_000,
        ..default_build(dims)
    };
    let mut options = options;
    options.index.payload_size = (2 * dims) as u32;
    let (rel, report) = build_index(&space, &data, options);
    assert!(report.memory_budget_exceeded);
    assert!(
        report.in_memory_tuples > 0 && report.inserted_on_pages > 0,
        "{report:?}"
    );
    assert_eq!(report.in_memory_tuples + report.inserted_on_pages, 600);
    assert!(verify(&rel).is_ok());
    assert_every_row_found(&rel, &space, &data, half_bytes);
}

#[test]
fn payloads_without_an_encoding_are_stored_as_given() {
    let dims = 8;
    let mut data = clustered(300, dims, 4, 33);
    // Beyond f16's range: no encoding, these rows keep their f32 payload.
    for v in data.iter_mut().step_by(7) {
        v[0] = 1e6;
    }
    let space = HalfStored::new(dims);
    let mut options = default_build(dims);
    options.index.payload_size = 0; // stored lengths differ
    let (rel, _) = build_index(&space, &data, options);
    assert!(verify(&rel).is_ok());
    assert_every_row_found(&rel, &space, &data, |v| {
        if v[0] == 1e6 {
            to_bytes(v)
        } else {
            half_bytes(v)
        }
    });
}

#[test]
fn cancelling_while_encoding_stops_the_build() {
    let dims = 8;
    let data = clustered(300, dims, 4, 34);
    let space = HalfStored::new(dims);
    let mut options = default_build(dims);
    options.index.payload_size = (2 * dims) as u32;
    let rel = pagestore::MemRelation::new();
    let items = data.iter().enumerate().map(|(i, v)| (tid(i), to_bytes(v)));
    let err = hnsw::build(&rel, &space, options, items, |p| {
        p.phase != BuildPhase::Building
    })
    .unwrap_err();
    assert_eq!(err, HnswError::Cancelled);
}
