//! Vacuum: dead TIDs disappear, recall holds, space is reused.

mod common;

use std::collections::HashSet;
use std::sync::Arc;

use common::*;
use hnsw::{insert, search, vacuum, verify, HnswScan, IterativeScan, ScanOptions};
use pagestore::Relation;

#[test]
fn vacuum_half_keeps_recall_and_hides_deleted() {
    let dim = 24;
    let data = clustered(2000, dim, 8, 30);
    let queries = clustered(50, dim, 8, 31);
    let (rel, _) = build_index(&L2, &data, default_build(dim));
    let dead = |t| row(t).is_multiple_of(2);
    let stats = vacuum(&rel, &L2, dead, || {}).unwrap();
    assert_eq!(stats.heap_tids_removed, 1000);
    assert_eq!(stats.heap_tids_remaining, 1000);
    assert_eq!(stats.elements_deleted, 1000);
    assert_eq!(stats.elements_freed, 1000);
    assert_eq!(stats.live_elements, 1000);
    assert!(stats.lists_repaired > 0);
    let v = verify(&rel);
    assert!(v.is_ok(), "{:?}", v.errors);
    // Pruned links can leave an element or two without incoming links, in
    // fresh builds as well (the HNSW heuristic does not guarantee
    // reachability); more than a handful would mean broken repair.
    assert!(
        v.warnings
            .iter()
            .all(|w| w.kind == hnsw::IssueKind::Unreachable
                && w.detail
                    .split(' ')
                    .next()
                    .unwrap()
                    .parse::<usize>()
                    .unwrap()
                    <= 5),
        "{:?}",
        v.warnings
    );
    assert_eq!((v.live_elements, v.free_elements), (1000, 1000));

    let alive = |i: usize| i % 2 == 1;
    let r = recall(&L2, &data, &queries, 10, alive, |q| {
        let found = search(&rel, &L2, q, 64).unwrap();
        assert!(
            found.iter().all(|r| alive(row(r.heap_tid))),
            "deleted row returned"
        );
        found
    });
    assert!(r >= 0.95, "recall@10 on survivors = {r}");

    // An exhaustive scan returns only survivors, all but the few that the
    // heuristic left without incoming links (see above).
    let mut scan = HnswScan::new(
        &to_bytes(&queries[0]),
        ScanOptions {
            ef_search: 40,
            iterative: IterativeScan::RelaxedOrder,
            max_scan_tuples: u64::MAX,
            memory_limit: usize::MAX,
        },
    );
    let mut seen = HashSet::new();
    while let Some(item) = scan.next(&rel, &L2).unwrap() {
        assert!(seen.insert(row(item.heap_tid)));
    }
    assert!(seen.iter().all(|&i| alive(i)));
    assert!(
        seen.len() >= 995,
        "{} of 1000 survivors reachable",
        seen.len()
    );
}

#[test]
fn churn_reuses_space() {
    let dim = 16;
    let data = clustered(3000, dim, 8, 32);
    let (rel, _) = build_index(&L2, &data[..1000], default_build(dim));
    let pages_after_build = rel.nblocks();
    let mut live: Vec<usize> = (0..1000).collect();
    let mut next = 1000;
    let mut rng = Rng::new(33);
    for round in 0..4 {
        // Delete 250 random live rows, then insert 250 new ones.
        let mut dead = HashSet::new();
        while dead.len() < 250 {
            dead.insert(live[rng.below(live.len())]);
        }
        live.retain(|i| !dead.contains(i));
        let stats = vacuum(&rel, &L2, |t| dead.contains(&row(t)), || {}).unwrap();
        assert_eq!(stats.elements_freed, 250, "round {round}");
        for (i, v) in data.iter().enumerate().skip(next).take(250) {
            insert(&rel, &L2, tid(i), &to_bytes(v)).unwrap();
            live.push(i);
        }
        next += 250;
        let v = verify(&rel);
        assert!(v.is_ok(), "round {round}: {:?}", v.errors);
        assert_eq!(v.live_elements, 1000);
    }
    // Freed slots were reused: at most a few pages more than after build
    // (neighbour tuples of higher-level elements can need a bigger slot).
    assert!(
        rel.nblocks() <= pages_after_build + pages_after_build / 10,
        "{} pages after churn vs {pages_after_build} after build",
        rel.nblocks()
    );
    let alive: HashSet<usize> = live.iter().copied().collect();
    let queries = clustered(30, dim, 8, 34);
    let r = recall(
        &L2,
        &data,
        &queries,
        10,
        |i| alive.contains(&i),
        |q| search(&rel, &L2, q, 64).unwrap(),
    );
    assert!(r >= 0.95, "recall@10 after churn = {r}");
}

#[test]
fn count_only_vacuum_changes_nothing() {
    let (rel, _) = build_index(&L2, &clustered(300, 8, 3, 35), default_build(8));
    rel.reset_stats();
    let stats = vacuum(&rel, &L2, |_| false, || {}).unwrap();
    assert_eq!(stats.heap_tids_remaining, 300);
    assert_eq!(stats.elements_deleted, 0);
    // Nothing to write: no WAL either.
    assert_eq!(rel.stats().writes, 0);
}

#[test]
fn deleting_everything_then_inserting_again() {
    let dim = 8;
    let data = clustered(400, dim, 3, 36);
    let (rel, _) = build_index(&L2, &data[..200], default_build(dim));
    vacuum(&rel, &L2, |_| true, || {}).unwrap();
    assert!(search(&rel, &L2, &to_bytes(&data[0]), 10)
        .unwrap()
        .is_empty());
    assert!(verify(&rel).is_ok());
    let pages = rel.nblocks();
    for (i, v) in data.iter().enumerate().skip(200) {
        insert(&rel, &L2, tid(i), &to_bytes(v)).unwrap();
    }
    // Freed slots are reused; an element whose level needs a bigger
    // neighbour tuple than any free slot offers may take a new page.
    assert!(
        rel.nblocks() <= pages + 1,
        "{} pages, {pages} before",
        rel.nblocks()
    );
    let v = verify(&rel);
    assert!(v.is_ok(), "{:?}", v.errors);
    assert_eq!(v.live_elements, 200);
    let found = search(&rel, &L2, &to_bytes(&data[300]), 10).unwrap();
    assert_eq!(row(found[0].heap_tid), 300);
}

#[test]
fn partial_tid_removal_keeps_element() {
    let dim = 4;
    let mut data = clustered(50, dim, 2, 37);
    data.push(data[3].clone()); // row 50 duplicates row 3
    let (rel, _) = build_index(&L2, &data, default_build(dim));
    let stats = vacuum(&rel, &L2, |t| row(t) == 3, || {}).unwrap();
    assert_eq!(stats.heap_tids_removed, 1);
    assert_eq!(stats.elements_deleted, 0);
    let found = search(&rel, &L2, &to_bytes(&data[3]), 5).unwrap();
    assert_eq!(row(found[0].heap_tid), 50);
    assert!(found.iter().all(|r| row(r.heap_tid) != 3));
}

#[test]
fn vacuum_concurrent_with_inserts() {
    let dim = 16;
    let data = Arc::new(clustered(1600, dim, 8, 38));
    let (rel, _) = build_index(&L2, &data[..1000], default_build(dim));
    let rel = Arc::new(rel);
    let inserter = {
        let (rel, data) = (rel.clone(), data.clone());
        std::thread::spawn(move || {
            for i in 1000..1600 {
                insert(&*rel, &L2, tid(i), &to_bytes(&data[i])).unwrap();
            }
        })
    };
    let dead = |t| row(t) < 1000 && row(t).is_multiple_of(3);
    vacuum(&*rel, &L2, dead, || {}).unwrap();
    inserter.join().unwrap();
    let v = verify(&*rel);
    assert!(v.is_ok(), "{:?}", v.errors);
    let alive = |i: usize| !(i < 1000 && i.is_multiple_of(3));
    assert_eq!(
        v.live_elements as usize,
        (0..1600).filter(|&i| alive(i)).count()
    );
    // A second vacuum cleans up anything left by the race.
    vacuum(&*rel, &L2, |t| !alive(row(t)), || {}).unwrap();
    let queries = clustered(30, dim, 8, 39);
    let r = recall(&L2, &data, &queries, 10, alive, |q| {
        let found = search(&*rel, &L2, q, 64).unwrap();
        assert!(found.iter().all(|r| alive(row(r.heap_tid))));
        found
    });
    assert!(r >= 0.95, "recall@10 = {r}");
}

/// pgvector's own check (test/t/011_hnsw_vacuum.pl): deleting every row,
/// vacuuming and inserting the same rows again grows the index by at most
/// 2%. The rows repeat (each coordinate is `i % c`), so many share an
/// element, as in that test.
#[test]
fn reinserting_everything_reuses_freed_space() {
    let moduli = [7usize, 389, 641];
    let data: Vec<Vec<f32>> = (1..=10_000usize)
        .map(|i| moduli.iter().map(|&c| (i % c) as f32).collect())
        .collect();
    let (rel, _) = build_index(&L2, &data, default_build(3));
    let pages = rel.nblocks();
    vacuum(&rel, &L2, |_| true, || {}).unwrap();
    // New heap TIDs, as Postgres gives re-inserted rows.
    let offset = data.len();
    for (i, v) in data.iter().enumerate() {
        insert(&rel, &L2, tid(offset + i), &to_bytes(v)).unwrap();
    }
    let v = verify(&rel);
    assert!(v.is_ok(), "{:?}", v.errors);
    eprintln!(
        "{pages} pages after build, {} after re-inserting",
        rel.nblocks()
    );
    assert!(
        rel.nblocks() as f64 <= pages as f64 * 1.02,
        "{} pages after re-inserting, {pages} after build",
        rel.nblocks()
    );
}

/// An insert that runs while vacuum scans for dead rows (before its
/// barrier) can link to an element that vacuum then marks deleted, from a
/// page added after vacuum started. The repair pass must read that page
/// too, or the freed element stays linked (a dangling link, which the
/// concurrent insert-and-vacuum test once found).
#[test]
fn repair_reaches_pages_added_while_vacuum_scanned() {
    let dim = 8;
    let data = clustered(600, dim, 4, 41);
    let (rel, _) = build_index(&L2, &data, default_build(dim));
    let pages_before = rel.nblocks();
    let dead = |t| row(t) < 300;
    let mut inserted = false;
    vacuum(&rel, &L2, dead, || {
        if !inserted {
            inserted = true;
            // Before the first page is scanned: every row is still live, so
            // the new elements link to rows about to be deleted. The index
            // has no free slot yet, so they go to new pages.
            for (i, row) in data.iter().take(40).enumerate() {
                let mut v = row.clone();
                v[0] += 1e-3;
                insert(&rel, &L2, tid(10_000 + i), &to_bytes(&v)).unwrap();
            }
        }
    })
    .unwrap();
    assert!(inserted);
    assert!(rel.nblocks() > pages_before, "the inserts added no page");
    let v = verify(&rel);
    assert!(
        v.is_ok(),
        "{} issues, first {:?}",
        v.errors.len(),
        v.errors.iter().take(3).collect::<Vec<_>>()
    );
}
