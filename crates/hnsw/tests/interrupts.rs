//! Every loop whose length depends on the data or a setting stops when the
//! relation reports an interrupt (`MemRelation::interrupt_after`; in
//! Postgres, `CHECK_FOR_INTERRUPTS` raises the cancel itself).

mod common;

use common::*;
use hnsw::{
    insert, search, vacuum, verify, HnswError, HnswScan, IssueKind, IterativeScan, ScanOptions,
};
use pagestore::MemRelation;

const DIM: usize = 8;

fn index() -> (MemRelation, Vec<Vec<f32>>) {
    let data = clustered(2000, DIM, 4, 11);
    let (rel, _) = build_index(&L2, &data, default_build(DIM));
    (rel, data)
}

/// Interrupt checks `op` makes when nothing interrupts it.
fn checks_of<T>(rel: &MemRelation, op: impl FnOnce() -> T) -> u64 {
    rel.interrupt_after(None);
    let before = rel.interrupt_checks();
    op();
    rel.interrupt_checks() - before
}

#[test]
fn graph_searches_stop() {
    let (rel, data) = index();
    let query = to_bytes(&data[0]);
    let checks = checks_of(&rel, || search(&rel, &L2, &query, 1000).unwrap());
    assert!(checks >= 5, "a search with ef 1000 checked {checks} times");
    for after in [0, 1, checks / 2, checks - 1] {
        rel.interrupt_after(Some(after));
        assert_eq!(
            search(&rel, &L2, &query, 1000).unwrap_err(),
            HnswError::Cancelled,
            "cancel after {after} of {checks} checks"
        );
    }
    // An iterative scan that would visit every element.
    let options = ScanOptions {
        ef_search: 40,
        iterative: IterativeScan::RelaxedOrder,
        max_scan_tuples: u64::MAX,
        memory_limit: usize::MAX,
    };
    let drain = |rel: &MemRelation| {
        let mut scan = HnswScan::new(&query, options);
        let mut rows = 0;
        while scan.next(rel, &L2)?.is_some() {
            rows += 1;
        }
        Ok::<_, HnswError>(rows)
    };
    let checks = checks_of(&rel, || assert_eq!(drain(&rel).unwrap(), 2000));
    assert!(checks >= 20, "{checks}");
    rel.interrupt_after(Some(checks / 2));
    assert_eq!(drain(&rel).unwrap_err(), HnswError::Cancelled);
}

#[test]
fn inserts_vacuum_and_verify_stop() {
    let (rel, data) = index();
    rel.interrupt_after(Some(0));
    assert_eq!(
        insert(&rel, &L2, tid(5000), &to_bytes(&data[1])).unwrap_err(),
        HnswError::Cancelled
    );
    // Vacuum: in every phase (page scan, repair, freeing).
    rel.interrupt_after(None);
    let checks = {
        let (rel2, _) = index();
        checks_of(&rel2, || {
            vacuum(&rel2, &L2, |t| row(t) % 2 == 0, || {}).unwrap()
        })
    };
    assert!(checks > 10, "{checks}");
    for after in [0, checks / 3, 2 * checks / 3, checks - 1] {
        let (rel2, _) = index();
        rel2.interrupt_after(Some(after));
        let r = vacuum(&rel2, &L2, |t| row(t) % 2 == 0, || {});
        assert_eq!(
            r.unwrap_err(),
            HnswError::Cancelled,
            "after {after} of {checks}"
        );
        // What was done is consistent: a later vacuum finishes the work.
        rel2.interrupt_after(None);
        vacuum(&rel2, &L2, |t| row(t) % 2 == 0, || {}).unwrap();
        assert!(verify(&rel2).is_ok());
    }
    let checks = checks_of(&rel, || assert!(verify(&rel).is_ok()));
    assert!(checks >= 3, "{checks}");
    for after in 0..checks {
        rel.interrupt_after(Some(after));
        let report = verify(&rel);
        assert_eq!(report.errors.len(), 1);
        assert_eq!(report.errors[0].kind, IssueKind::Interrupted);
    }
}
