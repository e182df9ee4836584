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
    let r = recall(
        &L2,
        &data,
        &queries,
        10,
        |_| true,
        |q| search(&rel, &L2, q, 64).unwrap(),
    );
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
    let r = recall(
        &L2,
        &data,
        &queries,
        10,
        |_| true,
        |q| search(&rel, &L2, q, 64).unwrap(),
    );
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
