//! verify() catches corruption; crashes between page writes leave a
//! consistent, searchable index.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};

use common::*;
use hnsw::format::{ElementRef, NeighborsMut, TUPLE_NEIGHBORS};
use hnsw::{insert, search, vacuum, verify, IssueKind};
use pagestore::{ItemPointer, MemRelation, Page, PageMut, Relation};

/// Finds the first neighbour tuple with a non-empty layer 0 and applies
/// `corrupt` to it.
fn corrupt_first_list(rel: &MemRelation, corrupt: impl FnOnce(&mut NeighborsMut<'_>, ItemPointer)) {
    let mut page = rel.write(1);
    let off = (1..=page.max_offset())
        .find(|&o| page.item(o).unwrap()[0] == TUPLE_NEIGHBORS)
        .unwrap();
    let mut list = NeighborsMut::parse(page.item_mut(off).unwrap(), 16).unwrap();
    let owner = list.as_ref().element();
    corrupt(&mut list, owner);
}

#[test]
fn verify_finds_injected_dangling_link() {
    let (rel, _) = build_index(&L2, &clustered(300, 8, 3, 50), default_build(8));
    assert!(verify(&rel).is_ok());
    corrupt_first_list(&rel, |list, _| {
        let mut links: Vec<ItemPointer> = list.as_ref().layer(0).collect();
        links[0] = ItemPointer::new(1, 200); // no such item
        list.set_layer(0, &links);
    });
    let report = verify(&rel);
    assert!(!report.is_ok());
    assert!(
        report
            .errors
            .iter()
            .any(|e| e.kind == IssueKind::DanglingLink),
        "{:?}",
        report.errors
    );
    // Searches survive the bad link.
    assert_eq!(
        search(&rel, &L2, &to_bytes(&[0.0; 8]), 10).unwrap().len(),
        10
    );
}

#[test]
fn verify_finds_self_links_and_bad_levels() {
    let (rel, _) = build_index(&L2, &clustered(300, 8, 3, 51), default_build(8));
    corrupt_first_list(&rel, |list, owner| {
        let mut links: Vec<ItemPointer> = list.as_ref().layer(0).collect();
        links[0] = owner;
        list.set_layer(0, &links);
    });
    let report = verify(&rel);
    assert!(
        report.errors.iter().any(|e| e.kind == IssueKind::BadList),
        "{:?}",
        report.errors
    );

    let (rel, _) = build_index(&L2, &clustered(300, 8, 3, 52), default_build(8));
    // Find a level-0 element and link to it from a layer-1 list.
    let (level0, level1_nt) = {
        let mut level0 = None;
        let mut level1 = None;
        for block in 1..rel.nblocks() {
            let page = rel.read(block);
            for off in 1..=page.max_offset() {
                if let Some(e) = page.item(off).and_then(ElementRef::parse) {
                    let at = ItemPointer::new(block, off);
                    match e.level() {
                        0 => level0 = level0.or(Some(at)),
                        _ => level1 = level1.or(Some(e.neighbors())),
                    }
                }
            }
        }
        (level0.unwrap(), level1.unwrap())
    };
    {
        let mut page = rel.write(level1_nt.block);
        let mut list = NeighborsMut::parse(page.item_mut(level1_nt.offset).unwrap(), 16).unwrap();
        list.set_layer(1, &[level0]);
    }
    let report = verify(&rel);
    assert!(
        report.errors.iter().any(|e| e.kind == IssueKind::BadLevel),
        "{:?}",
        report.errors
    );
}

#[test]
fn verify_rejects_foreign_pages() {
    let (rel, _) = build_index(&L2, &clustered(50, 4, 2, 53), default_build(4));
    {
        let mut page = rel.extend();
        *page.opaque_mut() = pagestore::PageOpaque::with_page_id(0xABCD);
        page.add_item(b"not ours");
    }
    let report = verify(&rel);
    assert!(report.errors.iter().any(|e| e.kind == IssueKind::Page));
    let empty = MemRelation::new();
    assert_eq!(verify(&empty).errors[0].kind, IssueKind::Meta);
}

/// Silences the expected "simulated crash" panics.
fn quiet_crashes() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !info.to_string().contains("simulated crash") {
            default(info);
        }
    }));
}

/// Runs `op` with a crash after `writes` page writes; true if it crashed.
fn crash_after(rel: &MemRelation, writes: u64, op: impl FnOnce()) -> bool {
    rel.crash_after_writes(Some(writes));
    let crashed = catch_unwind(AssertUnwindSafe(op)).is_err();
    rel.crash_after_writes(None);
    crashed
}

fn assert_consistent(rel: &MemRelation, data: &[Vec<f32>], context: &str) {
    let report = verify(rel);
    assert!(report.is_ok(), "{context}: {:?}", report.errors);
    let found = search(rel, &L2, &to_bytes(&data[3]), 10).unwrap();
    assert_eq!(found.len(), 10, "{context}");
    assert!(found.windows(2).all(|w| w[0].distance <= w[1].distance));
}

#[test]
fn crash_during_insert_leaves_consistent_index() {
    quiet_crashes();
    let data = clustered(160, 8, 3, 54);
    let mut writes = 0;
    loop {
        let (rel, _) = build_index(&L2, &data[..150], default_build(8));
        let crashed = crash_after(&rel, writes, || {
            for (i, v) in data.iter().enumerate().skip(150) {
                insert(&rel, &L2, tid(i), &to_bytes(v)).unwrap();
            }
        });
        assert_consistent(&rel, &data, &format!("crash after {writes} writes"));
        // The index keeps working after the crash.
        insert(&rel, &L2, tid(999), &to_bytes(&data[0])).unwrap();
        assert!(verify(&rel).is_ok());
        if !crashed {
            break;
        }
        writes += 7;
    }
    assert!(writes > 50, "inserts took only {writes} writes");
}

#[test]
fn crash_during_vacuum_then_vacuum_again() {
    quiet_crashes();
    let data = clustered(200, 8, 3, 55);
    let dead = |t: ItemPointer| row(t).is_multiple_of(3);
    let mut writes = 0;
    loop {
        let (rel, _) = build_index(&L2, &data, default_build(8));
        let crashed = crash_after(&rel, writes, || {
            vacuum(&rel, &L2, dead, || {}).unwrap();
        });
        assert_consistent(&rel, &data, &format!("crash after {writes} writes"));
        vacuum(&rel, &L2, dead, || {}).unwrap();
        let report = verify(&rel);
        assert!(report.is_ok(), "{:?}", report.errors);
        assert_eq!(report.live_elements, 133);
        assert_eq!(report.deleted_elements, 0);
        let found = search(&rel, &L2, &to_bytes(&data[3]), 50).unwrap();
        assert!(found.iter().all(|r| !dead(r.heap_tid)));
        if !crashed {
            break;
        }
        writes += 11;
    }
}

/// Postgres extends a relation before the WAL record initialising the new
/// page is flushed, so a crash can leave an all-zero page behind. It is
/// unreachable: verify reports a warning, and inserts and searches go on.
#[test]
fn empty_page_left_by_a_crash_is_only_a_warning() {
    let data = clustered(200, 8, 3, 51);
    let (rel, _) = build_index(&L2, &data, default_build(8));
    drop(rel.extend()); // extended, never initialised by the index
    let report = verify(&rel);
    assert!(report.is_ok(), "{:?}", report.errors);
    assert_eq!(report.warnings.len(), 1);
    insert(&rel, &L2, ItemPointer::new(900, 1), &to_bytes(&[0.5; 8])).unwrap();
    assert!(verify(&rel).is_ok());
    assert_eq!(
        search(&rel, &L2, &to_bytes(&[0.5; 8]), 10).unwrap()[0].heap_tid,
        ItemPointer::new(900, 1)
    );
}

#[test]
fn verify_holds_a_bounded_summary_and_fails_past_its_budget() {
    let n = 3000;
    let (rel, _) = build_index(&L2, &clustered(n, 8, 3, 61), default_build(8));
    let unbounded = verify(&rel);
    assert!(unbounded.is_ok(), "{:?}", unbounded.errors);
    // About 40 bytes per element, arrays grown by doubling: well within
    // 100 bytes per element, whatever the neighbour lists hold.
    let report = hnsw::verify_within(&rel, 100 * n).expect("fits 100 bytes per element");
    assert!(report.is_ok());
    assert_eq!(report.live_elements, unbounded.live_elements);
    assert_eq!(report.heap_tids, unbounded.heap_tids);
    assert_eq!(report.warning_count, unbounded.warning_count);
    // A budget far below that fails cleanly instead of growing.
    match hnsw::verify_within(&rel, 10 * n) {
        Err(hnsw::HnswError::OutOfMemory { requested, limit }) => {
            assert_eq!(limit, 10 * n);
            assert!(requested > 0);
        }
        other => panic!("expected OutOfMemory, got {other:?}"),
    }
}

#[test]
fn verify_finds_unreachable_elements_by_rereading_lists() {
    let (rel, _) = build_index(&L2, &clustered(300, 8, 3, 62), default_build(8));
    // Empty every layer-0 list: only the entry point stays reachable.
    for block in 1..rel.nblocks() {
        let mut page = rel.write(block);
        for off in 1..=page.max_offset() {
            if page.item(off).unwrap()[0] == TUPLE_NEIGHBORS {
                let mut list = NeighborsMut::parse(page.item_mut(off).unwrap(), 16).unwrap();
                list.set_layer(0, &[]);
            }
        }
    }
    let report = hnsw::verify_within(&rel, 1 << 20).unwrap();
    let unreachable: Vec<_> = report
        .warnings
        .iter()
        .filter(|w| w.kind == IssueKind::Unreachable)
        .collect();
    assert_eq!(unreachable.len(), 1, "{:?}", report.warnings);
    assert!(
        unreachable[0]
            .detail
            .starts_with(&format!("{} live", report.live_elements - 1)),
        "{}",
        unreachable[0].detail
    );
}
