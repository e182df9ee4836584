//! Shared test utilities: seeded data, f32 spaces, brute force, helpers.
#![allow(dead_code)]

use hnsw::{build, BuildOptions, BuildReport, IndexOptions, ItemPointer, ScanItem, Space};
use pagestore::MemRelation;

/// xorshift64* generator: deterministic, dependency-free.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Approximately standard normal (sum of uniforms).
    pub fn normal(&mut self) -> f32 {
        (0..4).map(|_| self.uniform()).sum::<f32>() * 1.732 - 3.464
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// `n` vectors of `dim` dimensions in `clusters` clusters, each cluster a
/// random 24-dimensional subspace around a random centre plus a little
/// isotropic noise: like real embeddings, the intrinsic dimension is far
/// below `dim`.
pub fn clustered(n: usize, dim: usize, clusters: usize, seed: u64) -> Vec<Vec<f32>> {
    const INTRINSIC: usize = 24;
    // Centres and bases depend only on the cluster count, so base data and
    // queries drawn with different seeds share them.
    let mut shape_rng = Rng::new(clusters as u64 * 7919 + dim as u64);
    let shapes: Vec<(Vec<f32>, Vec<Vec<f32>>)> = (0..clusters)
        .map(|_| {
            let centre = (0..dim).map(|_| shape_rng.uniform() * 2.0 - 1.0).collect();
            let basis = (0..INTRINSIC)
                .map(|_| (0..dim).map(|_| shape_rng.normal() * 0.15).collect())
                .collect();
            (centre, basis)
        })
        .collect();
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| {
            let (centre, basis) = &shapes[rng.below(clusters)];
            let mut v: Vec<f32> = centre.iter().map(|&c| c + 0.01 * rng.normal()).collect();
            for axis in basis {
                let z = rng.normal();
                for (x, a) in v.iter_mut().zip(axis) {
                    *x += z * a;
                }
            }
            v
        })
        .collect()
}

/// Writes the half-precision bits of the f32 `payload` into `out`
/// (cleared first); false, leaving `out` empty, if a value has no half.
#[allow(dead_code)]
pub fn f16_bytes(payload: &[u8], out: &mut Vec<u8>) -> bool {
    out.clear();
    for &v in bytemuck::cast_slice::<u8, f32>(payload) {
        let h = half::f16::from_f32(v);
        if !h.is_finite() {
            out.clear();
            return false;
        }
        out.extend_from_slice(&h.to_bits().to_ne_bytes());
    }
    true
}

pub fn to_bytes(v: &[f32]) -> Vec<u8> {
    bytemuck::cast_slice(v).to_vec()
}

fn floats(b: &[u8]) -> &[f32] {
    bytemuck::cast_slice(b)
}

/// Squared Euclidean distance on f32 payloads.
pub struct L2;

impl Space for L2 {
    fn distance(&self, a: &[u8], b: &[u8]) -> f32 {
        let (a, b) = (floats(a), floats(b));
        let mut sum = 0.0;
        for i in 0..a.len() {
            let d = a[i] - b[i];
            sum += d * d;
        }
        sum
    }
}

/// Cosine distance on f32 payloads.
pub struct Cosine;

impl Space for Cosine {
    fn distance(&self, a: &[u8], b: &[u8]) -> f32 {
        let (a, b) = (floats(a), floats(b));
        let mut dot = 0.0;
        let mut na = 0.0;
        let mut nb = 0.0;
        for (x, y) in a.iter().zip(b) {
            dot += x * y;
            na += x * x;
            nb += y * y;
        }
        1.0 - dot / (na * nb).sqrt().max(f32::MIN_POSITIVE)
    }
}

/// Heap TID standing in for row `i`.
pub fn tid(i: usize) -> ItemPointer {
    ItemPointer::new((i / 100) as u32, (i % 100 + 1) as u16)
}

/// Inverse of [`tid`].
pub fn row(t: ItemPointer) -> usize {
    t.block as usize * 100 + t.offset as usize - 1
}

pub fn index_options(dim: usize) -> IndexOptions {
    IndexOptions {
        m: 16,
        ef_construction: 64,
        dimensions: dim as u32,
        payload_size: (dim * 4) as u32,
        space_id: 1,
        quantization: 0,
        ..IndexOptions::default()
    }
}

/// Builds an index over `data` (row i has `tid(i)`).
pub fn build_index<S: Space + Sync>(
    space: &S,
    data: &[Vec<f32>],
    options: BuildOptions,
) -> (MemRelation, BuildReport) {
    let rel = MemRelation::new();
    let items = data.iter().enumerate().map(|(i, v)| (tid(i), to_bytes(v)));
    let report = build(&rel, space, options, items, |_| true).expect("build");
    (rel, report)
}

pub fn default_build(dim: usize) -> BuildOptions {
    BuildOptions {
        index: index_options(dim),
        ..BuildOptions::default()
    }
}

/// Exact `k` nearest rows among those `alive` (rows as payload bytes).
pub fn brute_force<S: Space>(
    space: &S,
    rows: &[Vec<u8>],
    query: &[u8],
    k: usize,
    alive: impl Fn(usize) -> bool,
) -> Vec<usize> {
    let mut all: Vec<(f32, usize)> = rows
        .iter()
        .enumerate()
        .filter(|(i, _)| alive(*i))
        .map(|(i, v)| (space.distance(query, v), i))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    all.into_iter().take(k).map(|(_, i)| i).collect()
}

/// Payload bytes of every row.
pub fn rows_as_bytes(data: &[Vec<f32>]) -> Vec<Vec<u8>> {
    data.iter().map(|v| to_bytes(v)).collect()
}

/// Mean recall@k of `search` over `queries` against the `alive` rows.
pub fn recall<S: Space>(
    space: &S,
    data: &[Vec<f32>],
    queries: &[Vec<f32>],
    k: usize,
    alive: impl Fn(usize) -> bool + Copy,
    mut search: impl FnMut(&[u8]) -> Vec<ScanItem>,
) -> f64 {
    let rows = rows_as_bytes(data);
    let mut hits = 0;
    for q in queries {
        let q = to_bytes(q);
        let truth = brute_force(space, &rows, &q, k, alive);
        let found: Vec<usize> = search(&q).iter().take(k).map(|r| row(r.heap_tid)).collect();
        hits += truth.iter().filter(|t| found.contains(t)).count();
    }
    hits as f64 / (queries.len() * k) as f64
}

/// Recall@10 of plain searches with `ef` over an L2 index of every row of
/// `data`.
pub fn l2_recall(rel: &MemRelation, data: &[Vec<f32>], queries: &[Vec<f32>], ef: usize) -> f64 {
    recall(
        &L2,
        data,
        queries,
        10,
        |_| true,
        |q| hnsw::search(rel, &L2, q, ef).unwrap(),
    )
}
