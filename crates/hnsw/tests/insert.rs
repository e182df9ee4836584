//! Inserts into the on-page graph: recall, empty index, duplicates,
//! concurrency.

mod common;

use std::sync::Arc;

use common::*;
use hnsw::{insert, search, verify, HnswError, InsertOutcome};
use pagestore::MemRelation;

#[test]
fn inserts_after_build_keep_recall() {
    let dim = 32;
    let data = clustered(2400, dim, 10, 20);
    let queries = clustered(50, dim, 10, 21);
    let (rel, _) = build_index(&L2, &data[..1600], default_build(dim));
    for (i, v) in data.iter().enumerate().skip(1600) {
        let outcome = insert(&rel, &L2, tid(i), &to_bytes(v)).unwrap();
        assert!(matches!(outcome, InsertOutcome::Inserted(_)));
    }
    let v = verify(&rel);
    assert!(v.is_ok(), "{:?}", v.errors);
    assert!(v.warnings.is_empty(), "{:?}", v.warnings);
    assert_eq!(v.live_elements, 2400);
    let r = l2_recall(&rel, &data, &queries, 64);
    assert!(r >= 0.95, "recall@10 = {r}");
}

#[test]
fn insert_into_empty_index() {
    let dim = 16;
    let data = clustered(600, dim, 5, 22);
    let rel = MemRelation::new();
    hnsw::build_empty(&rel, &index_options(dim)).unwrap();
    for (i, v) in data.iter().enumerate() {
        insert(&rel, &L2, tid(i), &to_bytes(v)).unwrap();
    }
    let v = verify(&rel);
    assert!(v.is_ok(), "{:?}", v.errors);
    assert!(v.warnings.is_empty(), "{:?}", v.warnings);
    let queries = clustered(30, dim, 5, 23);
    let r = l2_recall(&rel, &data, &queries, 64);
    assert!(r >= 0.95, "recall@10 = {r}");
}

#[test]
fn duplicates_share_elements() {
    let dim = 8;
    let mut data = clustered(200, dim, 4, 24);
    let dup = data[0].clone();
    data.extend(std::iter::repeat_n(dup.clone(), 24));
    let (rel, report) = build_index(&L2, &data, default_build(dim));
    assert_eq!(report.heap_tuples, 224);
    // 25 copies need at least 3 elements of at most 10 heap TIDs. Two
    // workers inserting copies at the same moment can each start an element
    // (neither is linked into the graph yet), so allow a few more; without
    // merging there would be 24 more.
    assert!(report.in_memory_elements <= 200 + 6, "{report:?}");
    let v = verify(&rel);
    assert!(v.is_ok(), "{:?}", v.errors);
    assert_eq!(v.heap_tids, 224);

    // On-page inserts of the same vector join an existing element.
    let outcome = insert(&rel, &L2, tid(300), &to_bytes(&data[5])).unwrap();
    assert!(
        matches!(outcome, InsertOutcome::Duplicate(_)),
        "{outcome:?}"
    );

    let results = search(&rel, &L2, &to_bytes(&dup), 64).unwrap();
    let zero: Vec<usize> = results
        .iter()
        .filter(|r| r.distance == 0.0)
        .map(|r| row(r.heap_tid))
        .collect();
    assert_eq!(zero.len(), 25, "{zero:?}");
    assert!(zero.contains(&0) && zero.contains(&223));
}

#[test]
fn rejects_payload_of_wrong_size() {
    let (rel, _) = build_index(&L2, &clustered(20, 4, 2, 25), default_build(4));
    let err = insert(&rel, &L2, tid(99), &[0u8; 20]).unwrap_err();
    assert_eq!(
        err,
        HnswError::PayloadSizeMismatch {
            expected: 16,
            got: 20
        }
    );
}

#[test]
fn concurrent_readers_during_inserts() {
    let dim = 16;
    let data = Arc::new(clustered(1400, dim, 8, 26));
    let (rel, _) = build_index(&L2, &data[..800], default_build(dim));
    let rel = Arc::new(rel);
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let (rel, data) = (rel.clone(), data.clone());
            std::thread::spawn(move || {
                for i in (800 + w..1400).step_by(2) {
                    insert(&*rel, &L2, tid(i), &to_bytes(&data[i])).unwrap();
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..2)
        .map(|r| {
            let (rel, data) = (rel.clone(), data.clone());
            std::thread::spawn(move || {
                for i in 0..150 {
                    let q = to_bytes(&data[(i * 7 + r) % 800]);
                    let results = search(&*rel, &L2, &q, 20).unwrap();
                    assert_eq!(results.len(), 20);
                    assert_eq!(results[0].distance, 0.0);
                    assert!(results.windows(2).all(|w| w[0].distance <= w[1].distance));
                }
            })
        })
        .collect();
    for t in writers.into_iter().chain(readers) {
        t.join().unwrap();
    }
    let v = verify(&*rel);
    assert!(v.is_ok(), "{:?}", v.errors);
    assert_eq!(v.live_elements, 1400);
    let queries = clustered(30, dim, 8, 27);
    let r = recall(
        &L2,
        &data,
        &queries,
        10,
        |_| true,
        |q| search(&*rel, &L2, q, 64).unwrap(),
    );
    assert!(r >= 0.95, "recall@10 = {r}");
}

/// [`L2`] whose payload norm is the first coordinate's magnitude.
struct Normed;

impl hnsw::Space for Normed {
    fn distance(&self, a: &[u8], b: &[u8]) -> f32 {
        L2.distance(a, b)
    }
    fn payload_norm(&self, payload: &[u8]) -> f32 {
        f32::from_ne_bytes(payload[..4].try_into().unwrap()).abs()
    }
}

fn max_payload_norm(rel: &MemRelation) -> f64 {
    use pagestore::{Page, Relation};
    let page = rel.read(hnsw::format::META_BLOCK);
    hnsw::format::MetaTuple::decode(page.item(hnsw::format::META_OFFSET).unwrap())
        .unwrap()
        .max_payload_norm
}

#[test]
fn builds_and_inserts_keep_the_largest_payload_norm() {
    let dim = 4;
    let data: Vec<Vec<f32>> = (0..300)
        .map(|i| vec![i as f32 / 10.0, 1.0, 2.0, 3.0])
        .collect();
    let (rel, _) = build_index(&Normed, &data, default_build(dim));
    assert_eq!(max_payload_norm(&rel), 29.9f32 as f64);
    insert(&rel, &Normed, tid(400), &to_bytes(&[-3.0, 0.0, 0.0, 0.0])).unwrap();
    assert_eq!(max_payload_norm(&rel), 29.9f32 as f64);
    insert(&rel, &Normed, tid(401), &to_bytes(&[-31.5, 0.0, 0.0, 0.0])).unwrap();
    assert_eq!(max_payload_norm(&rel), 31.5);
    // A build past its memory budget inserts the rest, raising it too.
    let mut options = default_build(dim);
    options.memory_budget = 1;
    let (rel, report) = build_index(&Normed, &data, options);
    assert!(report.memory_budget_exceeded);
    assert_eq!(max_payload_norm(&rel), 29.9f32 as f64);
    // Spaces without a norm leave it at 0.
    let (rel, _) = build_index(&L2, &data, default_build(dim));
    assert_eq!(max_payload_norm(&rel), 0.0);
}
