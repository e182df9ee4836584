//! Tests of the index over the in-memory page store.

use std::collections::{HashMap, HashSet};

use pagestore::{ItemPointer, MemRelation, Page, Relation};

use crate::format::{PageRole, FLAG_ROLE_MASK, META_BLOCK};
use crate::kmeans::{kmeans, KMeansParams, Metric};
use crate::testdata::{bytes, floats, gaussian_clusters, squared_l2};
use crate::*;

/// f32 payloads compared by squared Euclidean distance.
struct L2Space;

impl Space for L2Space {
    fn distance(&self, a: &[u8], b: &[u8]) -> f32 {
        squared_l2(&floats(a), &floats(b))
    }
}

/// Unit-length f32 payloads compared by cosine distance.
struct CosineSpace;

impl Space for CosineSpace {
    fn distance(&self, a: &[u8], b: &[u8]) -> f32 {
        1.0 - floats(a)
            .iter()
            .zip(floats(b))
            .map(|(x, y)| x * y)
            .sum::<f32>()
    }
}

/// Heap TID of point `i` (several per block, like a heap).
fn tid(i: usize) -> ItemPointer {
    ItemPointer::new((i / 7) as u32, (i % 7 + 1) as u16)
}

fn point_of(tid: ItemPointer) -> usize {
    tid.block as usize * 7 + tid.offset as usize - 1
}

struct Fixture {
    rel: MemRelation,
    points: Vec<f32>,
    dims: usize,
    lists: usize,
}

/// Trains `lists` centroids on `points` (for `metric`) and builds an index
/// of `space` over all of them.
fn build_with<S: Space>(
    space: &S,
    points: &[f32],
    dims: usize,
    lists: usize,
    metric: Metric,
) -> MemRelation {
    let rel = MemRelation::new();
    let centroids = kmeans(points, dims, &KMeansParams::new(lists, metric), &mut |_| {});
    let params = IndexParams {
        dims: dims as u32,
        payload_size: dims * 4,
        space_id: 1,
        quantization: 0,
    };
    let mut builder = IvfBuilder::new(&rel, space, params, bytes(&centroids), |_| {}).unwrap();
    for (i, x) in points.chunks(dims).enumerate() {
        builder.push(tid(i), &bytes(x)).unwrap();
    }
    builder.finish().unwrap();
    rel
}

/// Trains `lists` centroids on `points` and builds an index over all of them.
fn build(points: Vec<f32>, dims: usize, lists: usize, metric: Metric) -> Fixture {
    let rel = MemRelation::new();
    let centroids = kmeans(
        &points,
        dims,
        &KMeansParams::new(lists, metric),
        &mut |_| {},
    );
    let params = IndexParams {
        dims: dims as u32,
        payload_size: dims * 4,
        space_id: 1,
        quantization: 0,
    };
    let mut reported = 0;
    let mut builder = IvfBuilder::new(&rel, &L2Space, params, bytes(&centroids), |done| {
        reported = done
    })
    .unwrap();
    for (i, x) in points.chunks(dims).enumerate() {
        builder.push(tid(i), &bytes(x)).unwrap();
    }
    let stats = builder.finish().unwrap();
    let n = points.len() / dims;
    assert_eq!(stats.tuples, n as u64);
    assert_eq!(reported, n as u64);
    Fixture {
        rel,
        points,
        dims,
        lists,
    }
}

fn clustered_fixture() -> Fixture {
    let dims = 16;
    let (points, _) = gaussian_clusters(40, 50, dims, 3.0, 17);
    build(points, dims, 20, Metric::L2)
}

impl Fixture {
    fn row(&self, i: usize) -> &[f32] {
        &self.points[i * self.dims..(i + 1) * self.dims]
    }

    fn len(&self) -> usize {
        self.points.len() / self.dims
    }

    /// The exact k nearest points of `query`.
    fn brute_force(&self, query: &[f32], k: usize) -> Vec<usize> {
        let mut all: Vec<(f32, usize)> = (0..self.len())
            .map(|i| (squared_l2(query, self.row(i)), i))
            .collect();
        all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        all.into_iter().take(k).map(|(_, i)| i).collect()
    }

    fn search(&self, query: &[f32], k: usize, probes: usize) -> Vec<usize> {
        search(&self.rel, &L2Space, &bytes(query), k, probes)
            .unwrap()
            .into_iter()
            .map(|(t, _)| point_of(t))
            .collect()
    }

    /// Every row of an exhausted iterative scan over all lists.
    fn scan_all(&self) -> Vec<ItemPointer> {
        let options = SearchOptions {
            probes: 3,
            iterative: IterativeScan::RelaxedOrder {
                max_probes: self.lists,
            },
        };
        let query = bytes(&vec![0.0; self.dims]);
        let mut scan = Scan::new(&self.rel, &L2Space, &query, &options).unwrap();
        let mut rows = Vec::new();
        while let Some((t, _)) = scan.next(&self.rel, &L2Space).unwrap() {
            rows.push(t);
        }
        rows
    }
}

fn recall(found: &[usize], truth: &[usize]) -> f64 {
    let truth: HashSet<_> = truth.iter().collect();
    found.iter().filter(|i| truth.contains(i)).count() as f64 / truth.len() as f64
}

#[test]
fn recall_rises_with_probes_and_all_probes_is_exact() {
    let f = clustered_fixture();
    let (queries, _) = gaussian_clusters(40, 2, f.dims, 3.0, 17);
    let k = 10;
    let mut recalls = Vec::new();
    for probes in [1, 2, 5, f.lists] {
        let mut total = 0.0;
        for q in queries.chunks(f.dims) {
            let found = f.search(q, k, probes);
            assert_eq!(found.len(), k);
            total += recall(&found, &f.brute_force(q, k));
        }
        recalls.push(total / (queries.len() / f.dims) as f64);
    }
    assert!(recalls.windows(2).all(|w| w[0] <= w[1]), "{recalls:?}");
    assert!(recalls[0] > 0.3, "{recalls:?}");
    assert_eq!(recalls[3], 1.0);
}

#[test]
fn results_come_nearest_first_with_exact_distances() {
    let f = clustered_fixture();
    let query = f.row(5).to_vec();
    let rows = search(&f.rel, &L2Space, &bytes(&query), 20, 4).unwrap();
    assert_eq!(point_of(rows[0].0), 5);
    assert_eq!(rows[0].1, 0.0);
    for pair in rows.windows(2) {
        assert!(pair[0].1 <= pair[1].1);
    }
    for (t, d) in rows {
        assert_eq!(d, squared_l2(&query, f.row(point_of(t))));
    }
}

#[test]
fn iterative_scan_returns_every_row_once_when_exhausted() {
    let f = clustered_fixture();
    let rows = f.scan_all();
    assert_eq!(rows.len(), f.len());
    let unique: HashSet<_> = rows.iter().collect();
    assert_eq!(unique.len(), f.len());

    // Without iteration the scan stops after its probes.
    let options = SearchOptions {
        probes: 3,
        iterative: IterativeScan::Off,
    };
    let mut scan = Scan::new(&f.rel, &L2Space, &bytes(f.row(0)), &options).unwrap();
    let mut plain = 0;
    while scan.next(&f.rel, &L2Space).unwrap().is_some() {
        plain += 1;
    }
    assert_eq!(scan.lists_read(), 3);
    assert!(plain < f.len());

    // max_probes bounds the lists read.
    let options = SearchOptions {
        probes: 3,
        iterative: IterativeScan::RelaxedOrder { max_probes: 7 },
    };
    let mut scan = Scan::new(&f.rel, &L2Space, &bytes(f.row(0)), &options).unwrap();
    while scan.next(&f.rel, &L2Space).unwrap().is_some() {}
    assert_eq!(scan.lists_read(), 7);
}

#[test]
fn inserted_rows_are_found() {
    let mut f = clustered_fixture();
    let base = f.len();
    let (extra, _) = gaussian_clusters(10, 30, f.dims, 3.0, 99);
    for (j, x) in extra.chunks(f.dims).enumerate() {
        insert(&f.rel, &L2Space, tid(base + j), &bytes(x)).unwrap();
    }
    f.points.extend(&extra);
    for j in 0..extra.len() / f.dims {
        let i = base + j;
        assert_eq!(
            f.search(f.row(i), 1, 1),
            vec![i],
            "inserted row {i} not found"
        );
    }
    assert_eq!(f.scan_all().len(), f.len());
}

#[test]
fn inserts_start_empty_lists_and_extend_full_pages() {
    // No rows at build time: every list starts without pages.
    let f = build(Vec::new(), 8, 4, Metric::L2);
    let dims = f.dims;
    let (points, _) = gaussian_clusters(4, 100, dims, 1.0, 5);
    let pages_before = f.rel.nblocks();
    for (i, x) in points.chunks(dims).enumerate() {
        insert(&f.rel, &L2Space, tid(i), &bytes(x)).unwrap();
    }
    // 400 tuples of 40 bytes: about 170 per page, so several pages per list.
    assert!(f.rel.nblocks() > pages_before + 2);
    let f = Fixture { points, ..f };
    let rows: HashSet<_> = f.scan_all().into_iter().collect();
    assert_eq!(rows, (0..f.len()).map(tid).collect());
}

#[test]
fn vacuum_removes_exactly_the_dead_rows() {
    let f = clustered_fixture();
    let dead: HashSet<ItemPointer> = (0..f.len()).filter(|i| i % 3 == 0).map(tid).collect();
    let mut calls = 0;
    let stats = bulk_delete(&f.rel, &mut |t| {
        calls += 1;
        dead.contains(&t)
    })
    .unwrap();
    assert_eq!(calls, f.len());
    assert_eq!(stats.tuples_removed, dead.len() as u64);
    assert_eq!(stats.tuples_remaining, (f.len() - dead.len()) as u64);
    let rows: HashSet<_> = f.scan_all().into_iter().collect();
    let live: HashSet<_> = (0..f.len())
        .map(tid)
        .filter(|t| !dead.contains(t))
        .collect();
    assert_eq!(rows, live);
    assert_eq!(
        list_tuple_counts(&f.rel).iter().sum::<u64>(),
        live.len() as u64
    );

    // A second vacuum finds nothing more to remove.
    let again = bulk_delete(&f.rel, &mut |t| dead.contains(&t)).unwrap();
    assert_eq!(again.tuples_removed, 0);
}

#[test]
fn vacuum_calls_the_delay_point_once_per_list_page() {
    let f = clustered_fixture();
    let list_pages = (0..f.rel.nblocks())
        .filter(|&b| f.rel.read(b).opaque().flags & FLAG_ROLE_MASK == PageRole::List as u16)
        .count();
    let mut delays = 0;
    crate::bulk_delete_with_delay(&f.rel, &mut |_| false, &mut || delays += 1).unwrap();
    assert_eq!(delays, list_pages);
}

#[test]
fn inserts_reuse_space_freed_by_vacuum() {
    let f = clustered_fixture();
    let n = f.len();
    bulk_delete(&f.rel, &mut |t| point_of(t).is_multiple_of(2)).unwrap();
    let pages = f.rel.nblocks();
    // Re-insert the deleted rows under new TIDs: they fit in the freed slots.
    for i in (0..n).step_by(2) {
        insert(&f.rel, &L2Space, tid(n + i), &bytes(f.row(i))).unwrap();
    }
    assert!(
        f.rel.nblocks() <= pages + f.lists as u32,
        "freed space not reused"
    );
    let rows: HashSet<_> = f.scan_all().into_iter().collect();
    let expected: HashSet<_> = (0..n)
        .map(|i| if i % 2 == 0 { tid(n + i) } else { tid(i) })
        .collect();
    assert_eq!(rows, expected);
}

#[test]
fn cosine_index_finds_exact_neighbours_with_all_probes() {
    let dims = 12;
    let (mut points, _) = gaussian_clusters(10, 30, dims, 4.0, 8);
    points.chunks_mut(dims).for_each(|x| {
        crate::kmeans::normalize(x);
    });
    let rel = build_with(&CosineSpace, &points, dims, 6, Metric::Cosine);
    let query = &points[7 * dims..8 * dims];
    let rows = search(&rel, &CosineSpace, &bytes(query), 5, 6).unwrap();
    assert_eq!(point_of(rows[0].0), 7);
    let mut exact: Vec<(f32, usize)> = points
        .chunks(dims)
        .enumerate()
        .map(|(i, x)| (CosineSpace.distance(&bytes(query), &bytes(x)), i))
        .collect();
    exact.sort_by(|a, b| a.0.total_cmp(&b.0));
    let found: Vec<f32> = rows.iter().map(|r| r.1).collect();
    let expected: Vec<f32> = exact[..5].iter().map(|e| e.0).collect();
    assert_eq!(found, expected);
}

#[test]
fn a_crash_between_page_writes_leaves_a_searchable_index() {
    // Wide tuples (30 per page) and few lists: the inserts below start lists
    // and extend full pages many times.
    let dims = 64;
    let (points, _) = gaussian_clusters(4, 25, dims, 2.0, 31);
    let f = build(points, dims, 4, Metric::L2);
    let base = f.len();
    let (extra, _) = gaussian_clusters(4, 30, dims, 2.0, 123);
    let insert_all = |rel: &MemRelation, committed: &mut usize| {
        for (j, x) in extra.chunks(dims).enumerate() {
            insert(rel, &L2Space, tid(base + j), &bytes(x)).unwrap();
            *committed += 1;
        }
    };
    let dry_run = clone_relation(&f.rel);
    dry_run.reset_stats();
    insert_all(&dry_run, &mut 0);
    let total_writes = dry_run.stats().writes + dry_run.stats().extends;

    // Crash after every possible number of page writes.
    for budget in 0..total_writes {
        let rel = clone_relation(&f.rel);
        rel.crash_after_writes(Some(budget));
        let mut committed = 0;
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            insert_all(&rel, &mut committed)
        }));
        assert!(outcome.is_err(), "budget {budget} did not crash");
        rel.crash_after_writes(None);
        let g = Fixture {
            rel,
            points: f.points.clone(),
            dims,
            lists: f.lists,
        };
        let rows: HashSet<_> = g.scan_all().into_iter().collect();
        for i in 0..base + committed {
            assert!(rows.contains(&tid(i)), "budget {budget}: row {i} lost");
        }
        // The index still takes inserts.
        insert(&g.rel, &L2Space, tid(10_000), &bytes(g.row(0))).unwrap();
        assert!(g.scan_all().contains(&tid(10_000)));
    }
}

#[test]
fn concurrent_inserts_are_all_found() {
    let f = build(Vec::new(), 4, 3, Metric::L2);
    let (points, _) = gaussian_clusters(3, 400, f.dims, 1.0, 77);
    let threads = 4;
    let per_thread = points.len() / f.dims / threads;
    std::thread::scope(|s| {
        for t in 0..threads {
            let (rel, points, dims) = (&f.rel, &points, f.dims);
            s.spawn(move || {
                for i in t * per_thread..(t + 1) * per_thread {
                    insert(
                        rel,
                        &L2Space,
                        tid(i),
                        &bytes(&points[i * dims..(i + 1) * dims]),
                    )
                    .unwrap();
                }
            });
        }
    });
    let rows = f.scan_all();
    assert_eq!(rows.len(), threads * per_thread);
    let unique: HashSet<_> = rows.into_iter().collect();
    assert_eq!(unique, (0..threads * per_thread).map(tid).collect());
}

#[test]
fn build_writes_the_documented_layout() {
    let f = clustered_fixture();
    let meta_page = f.rel.read(META_BLOCK);
    let meta = crate::format::MetaTuple::decode(meta_page.item(1).unwrap()).unwrap();
    assert_eq!((meta.dims, meta.payload_size, meta.lists), (16, 64, 20));
    assert_eq!(
        meta_page.opaque().flags & FLAG_ROLE_MASK,
        PageRole::Meta as u16
    );
    drop(meta_page);
    // Every list page is reachable from exactly one centroid.
    let mut owners: HashMap<u32, usize> = HashMap::new();
    let centroids = centroid_headers(&f.rel);
    for (list, header) in centroids.iter().enumerate() {
        crate::lists::for_each_page(&f.rel, header.head, |page| {
            assert_eq!(page.opaque().flags & FLAG_ROLE_MASK, PageRole::List as u16);
            assert!(owners.insert(page.block(), list).is_none());
        })
        .unwrap();
    }
    let list_pages = (0..f.rel.nblocks())
        .filter(|&b| f.rel.read(b).opaque().flags & FLAG_ROLE_MASK == PageRole::List as u16)
        .count();
    assert_eq!(owners.len(), list_pages);
}

#[test]
fn invalid_inputs_are_errors() {
    let f = clustered_fixture();
    assert!(matches!(
        insert(&f.rel, &L2Space, tid(0), &[0; 3]),
        Err(IvfError::PayloadSize {
            expected: 64,
            actual: 3
        })
    ));
    assert!(search(&f.rel, &L2Space, &[0; 8], 1, 1).is_err());
    let empty = MemRelation::new();
    assert_eq!(
        search(&empty, &L2Space, &[0; 64], 1, 1),
        Err(IvfError::NotAnIvfIndex)
    );
    let params = IndexParams {
        dims: 16,
        payload_size: 64,
        space_id: 1,
        quantization: 0,
    };
    let not_empty = IvfBuilder::new(&f.rel, &L2Space, params, vec![0; 64], |_| {});
    assert!(matches!(not_empty, Err(IvfError::InvalidBuild(_))));
    let ragged = IvfBuilder::new(&empty, &L2Space, params, vec![0; 65], |_| {});
    assert!(matches!(ragged, Err(IvfError::InvalidBuild(_))));
}

fn centroid_headers(rel: &MemRelation) -> Vec<crate::format::CentroidHeader> {
    let meta = crate::centroids::read_meta(rel).unwrap();
    let mut headers = Vec::new();
    crate::centroids::for_each_centroid(rel, &meta, |e| headers.push(e.header)).unwrap();
    headers
}

fn list_tuple_counts(rel: &MemRelation) -> Vec<u64> {
    centroid_headers(rel).iter().map(|h| h.tuples).collect()
}

/// A page-by-page copy of a relation, to crash several times from one state.
fn clone_relation(rel: &MemRelation) -> MemRelation {
    use pagestore::PageMut;
    let copy = MemRelation::new();
    for block in 0..rel.nblocks() {
        let source = rel.read(block);
        let mut target = copy.extend();
        *target.opaque_mut() = *source.opaque();
        for offset in 1..=source.max_offset() {
            let item = source
                .item(offset)
                .expect("index items always have storage");
            target.add_item(item).unwrap();
        }
    }
    copy
}

/// A space that also declares its payloads dense, enabling the blocked build path.
struct Dense<S>(S, DenseEncoding);

impl<S: Space> Space for Dense<S> {
    fn distance(&self, a: &[u8], b: &[u8]) -> f32 {
        self.0.distance(a, b)
    }
    fn dense(&self) -> Option<DenseEncoding> {
        Some(self.1)
    }
}

/// f16 payloads compared by squared Euclidean distance.
struct HalfL2Space;

impl Space for HalfL2Space {
    fn distance(&self, a: &[u8], b: &[u8]) -> f32 {
        squared_l2(&half_floats(a), &half_floats(b))
    }
}

fn half_floats(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(2)
        .map(|b| half::f16::from_ne_bytes([b[0], b[1]]).to_f32())
        .collect()
}

fn half_bytes(values: &[f32]) -> Vec<u8> {
    values
        .iter()
        .flat_map(|&v| half::f16::from_f32(v).to_ne_bytes())
        .collect()
}

/// Builds an index of `payloads` (row-major) and checks that every row landed
/// in a list whose centroid is (up to rounding) its nearest under `space`.
fn assert_rows_in_nearest_lists<S: Space>(
    space: &S,
    centroids: Vec<u8>,
    payloads: &[u8],
    size: usize,
) {
    let rel = MemRelation::new();
    let params = IndexParams {
        dims: 0,
        payload_size: size,
        space_id: 0,
        quantization: 0,
    };
    let mut builder = IvfBuilder::new(&rel, space, params, centroids.clone(), |_| {}).unwrap();
    for (i, payload) in payloads.chunks(size).enumerate() {
        builder.push(tid(i), payload).unwrap();
    }
    builder.finish().unwrap();
    let mut seen = 0;
    for (list, header) in centroid_headers(&rel).iter().enumerate() {
        let own = &centroids[list * size..(list + 1) * size];
        crate::lists::for_each_page(&rel, header.head, |page| {
            crate::lists::for_each_tuple(page, size as u32, |t, payload| {
                seen += 1;
                assert_eq!(
                    payload,
                    &payloads[point_of(t) * size..(point_of(t) + 1) * size]
                );
                let best = centroids
                    .chunks(size)
                    .map(|c| space.distance(payload, c))
                    .fold(f32::INFINITY, f32::min);
                let distance = space.distance(payload, own);
                assert!(
                    distance <= best + 1e-4 * best.abs().max(1.0),
                    "{distance} > {best}"
                );
            })
        })
        .unwrap();
    }
    assert_eq!(seen, payloads.len() / size);
}

#[test]
fn dense_builds_put_every_row_in_its_nearest_list() {
    let dims = 24;
    let (mut points, _) = gaussian_clusters(12, 40, dims, 5.0, 4);
    for metric in [Metric::L2, Metric::Cosine] {
        if metric == Metric::Cosine {
            points.chunks_mut(dims).for_each(|x| {
                crate::kmeans::normalize(x);
            });
        }
        let centroids = kmeans(&points, dims, &KMeansParams::new(9, metric), &mut |_| {});
        let encoding = DenseEncoding {
            element: Element::F32,
            metric,
        };
        let payloads = bytes(&points);
        match metric {
            Metric::Cosine => assert_rows_in_nearest_lists(
                &Dense(CosineSpace, encoding),
                bytes(&centroids),
                &payloads,
                dims * 4,
            ),
            _ => assert_rows_in_nearest_lists(
                &Dense(L2Space, encoding),
                bytes(&centroids),
                &payloads,
                dims * 4,
            ),
        }
    }
    let centroids = kmeans(
        &points,
        dims,
        &KMeansParams::new(9, Metric::L2),
        &mut |_| {},
    );
    let f16 = DenseEncoding {
        element: Element::F16,
        metric: Metric::L2,
    };
    assert_rows_in_nearest_lists(
        &Dense(HalfL2Space, f16),
        half_bytes(&centroids),
        &half_bytes(&points),
        dims * 2,
    );
    // The generic path agrees with itself too.
    assert_rows_in_nearest_lists(
        &HalfL2Space,
        half_bytes(&centroids),
        &half_bytes(&points),
        dims * 2,
    );
}

/// [`L2Space`] whose payload norm is the first coordinate's magnitude.
struct NormedSpace;

impl Space for NormedSpace {
    fn distance(&self, a: &[u8], b: &[u8]) -> f32 {
        L2Space.distance(a, b)
    }
    fn payload_norm(&self, payload: &[u8]) -> f32 {
        floats(payload)[0].abs()
    }
}

#[test]
fn builds_and_inserts_keep_the_largest_payload_norm() {
    let dims = 4;
    let points: Vec<f32> = (0..200)
        .flat_map(|i| [i as f32 / 10.0, 1.0, 2.0, 3.0])
        .collect();
    let rel = build_with(&NormedSpace, &points, dims, 4, Metric::L2);
    assert_eq!(read_meta(&rel).unwrap().max_payload_norm, 19.9);
    insert(&rel, &NormedSpace, tid(500), &bytes(&[-5.0, 0.0, 0.0, 0.0])).unwrap();
    assert_eq!(read_meta(&rel).unwrap().max_payload_norm, 19.9);
    insert(
        &rel,
        &NormedSpace,
        tid(501),
        &bytes(&[-25.5, 0.0, 0.0, 0.0]),
    )
    .unwrap();
    assert_eq!(read_meta(&rel).unwrap().max_payload_norm, 25.5);
    // Spaces without a norm leave it at 0.
    assert_eq!(
        read_meta(&clustered_fixture().rel)
            .unwrap()
            .max_payload_norm,
        0.0
    );
}
