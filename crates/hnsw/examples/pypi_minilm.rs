//! Builds an index on the pypi-minilm-100k dataset (if present) and prints
//! build time, index size and recall@10 against the exact ground truth.
//!
//! `cargo run --release -p pgvector_rs-hnsw --example pypi_minilm [dir]`
//!
//! With `HNSW_COMPACT=1` the graph is built on f16 copies of the vectors
//! compared by their cosine (`Space::compact`). `HNSW_THREADS` sets the
//! build threads (default: one per core), `HNSW_SEED` the level seed.
//!
//! Vectors are stored as f32 (like pgvector's `vector` column), normalised,
//! with cosine distance computed as `1 - dot` (pgvector normalises cosine
//! vectors in HNSW indexes too).

use std::time::Instant;

use hnsw::{build, search, BuildOptions, IndexOptions, ItemPointer, Space};
use pagestore::{MemRelation, Relation};

/// `1 - dot(a, b)` over f32 payloads, with the extension's SIMD kernels.
/// With `HNSW_COMPACT=1` the graph is built on half-precision copies
/// compared by their cosine (as `vector_cosine_ops` builds did).
struct CosineNormalized;

impl Space for CosineNormalized {
    fn distance(&self, a: &[u8], b: &[u8]) -> f32 {
        1.0 - kernels::dot_f32(bytemuck::cast_slice(a), bytemuck::cast_slice(b))
    }

    fn compact(&self, payload: &[u8], out: &mut Vec<u8>) -> bool {
        out.clear();
        if std::env::var_os("HNSW_COMPACT").is_none() {
            return false;
        }
        for &v in bytemuck::cast_slice::<u8, f32>(payload) {
            out.extend_from_slice(&half::f16::from_f32(v).to_bits().to_ne_bytes());
        }
        true
    }

    fn compact_distance(&self, a: &[u8], b: &[u8]) -> f32 {
        kernels::cosine_distance_f16(bytemuck::cast_slice(a), bytemuck::cast_slice(b)) as f32
    }
}

/// Reads a NumPy v1 `.npy` file: (shape, little-endian data bytes).
fn read_npy(path: &std::path::Path) -> (Vec<usize>, Vec<u8>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(&bytes[..6], b"\x93NUMPY");
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
    let shape_start = header.find("'shape': (").unwrap() + 10;
    let shape_end = shape_start + header[shape_start..].find(')').unwrap();
    let shape = header[shape_start..shape_end]
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().unwrap())
        .collect();
    (shape, bytes[10 + header_len..].to_vec())
}

fn f16_rows(path: &std::path::Path) -> Vec<Vec<f32>> {
    let (shape, data) = read_npy(path);
    let dim = shape[1];
    data.chunks_exact(2 * dim)
        .map(|row| {
            let v: Vec<f32> = row
                .chunks_exact(2)
                .map(|h| half::f16::from_le_bytes([h[0], h[1]]).to_f32())
                .collect();
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.iter().map(|x| x / norm).collect()
        })
        .collect()
}

/// CPU seconds used by this process so far (Linux; 0 elsewhere): on a
/// shared machine wall time varies with other load, CPU time much less.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn main() {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/work/shared/datasets/pypi-minilm-100k".into());
    let dir = std::path::Path::new(&dir);
    if !dir.join("base.npy").exists() {
        eprintln!("dataset not found in {}", dir.display());
        return;
    }
    let base = f16_rows(&dir.join("base.npy"));
    let queries = f16_rows(&dir.join("query.npy"));
    let (shape, truth) = read_npy(&dir.join("neighbors.npy"));
    let truth: Vec<i32> = bytemuck::pod_collect_to_vec(&truth);
    let dim = base[0].len();
    println!(
        "{} base vectors, {} queries, {dim} dimensions",
        base.len(),
        queries.len()
    );

    let options = BuildOptions {
        index: IndexOptions {
            m: 16,
            ef_construction: 64,
            dimensions: dim as u32,
            payload_size: (dim * 4) as u32,
            space_id: 0,
            quantization: 0,
            ..IndexOptions::default()
        },
        memory_budget: 2 << 30,
        threads: std::env::var("HNSW_THREADS")
            .ok()
            .and_then(|t| t.parse().ok())
            .unwrap_or(0),
        seed: std::env::var("HNSW_SEED")
            .ok()
            .and_then(|t| t.parse().ok())
            .unwrap_or(BuildOptions::default().seed),
    };
    let rel = MemRelation::new();
    let start = Instant::now();
    let cpu_start = cpu_seconds();
    let items = base.iter().enumerate().map(|(i, v)| {
        let tid = ItemPointer::new(i as u32 / 100, (i % 100) as u16 + 1);
        (tid, bytemuck::cast_slice::<f32, u8>(v).to_vec())
    });
    let report = build(&rel, &CosineNormalized, options, items, |_| true).unwrap();
    println!(
        "build {:.1} s ({:.1} CPU s), {} pages = {:.1} MB, {report:?}",
        start.elapsed().as_secs_f64(),
        cpu_seconds() - cpu_start,
        rel.nblocks(),
        rel.size_bytes() as f64 / 1e6
    );

    for ef in [20, 40, 80, 160, 320] {
        let start = Instant::now();
        rel.reset_stats();
        let mut hits = 0;
        for (qi, q) in queries.iter().enumerate() {
            let found =
                search(&rel, &CosineNormalized, bytemuck::cast_slice(q), ef.max(10)).unwrap();
            let want = &truth[qi * shape[1]..qi * shape[1] + 10];
            hits += found
                .iter()
                .take(10)
                .filter(|r| {
                    want.contains(&(r.heap_tid.block as i32 * 100 + r.heap_tid.offset as i32 - 1))
                })
                .count();
        }
        let elapsed = start.elapsed().as_secs_f64();
        println!(
            "ef {ef:>3}: recall@10 {:.4}, {:.3} ms/query, {:.0} page reads/query",
            hits as f64 / (queries.len() * 10) as f64,
            elapsed * 1000.0 / queries.len() as f64,
            rel.stats().reads as f64 / queries.len() as f64
        );
    }
}
