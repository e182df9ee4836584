//! Cost estimates: pgvector's formulas (so that plain plans match pgvector's), extended
//! to what an ordered scan must read to keep the query's promise under other filters
//! ([`model`]).
//!
//! pgvector charges an ordered scan's startup with the fraction of the index a search of
//! `hnsw.ef_search` (or `ivfflat.probes` lists) reads. Under a filter that keeps a fraction
//! `s` of the rows, a scan must produce about `LIMIT / s` rows in index order to return
//! `LIMIT` rows: an iterative scan keeps searching for them (up to `hnsw.max_scan_tuples`
//! or `ivfflat.max_probes`), a plain one returns fewer rows than asked. [`model`] turns that
//! into the effective `ef_search` (lists) the pgvector formula is applied to, so that the
//! planner prefers an exact plan (a btree bitmap scan and a sort) when the graph would read
//! more than the exact plan, and charges a scan that cannot return `LIMIT` rows under its
//! caps with what keeping the promise would cost.

use pgrx::pg_sys;

/// The pure cost model (no Postgres types): what an ordered scan reads.
pub mod model {
    /// What the query asks of an ordered (or radius) index scan.
    #[derive(Clone, Copy, Debug, PartialEq)]
    pub struct Demand {
        /// Rows in the index (`> 0`).
        pub index_tuples: f64,
        /// Rows the query wants from the scan after the other quals: the LIMIT, else all
        /// rows the quals keep.
        pub wanted: f64,
        /// Fraction of the rows the index returns that the other quals (the ones the
        /// index does not answer) keep, in `(0, 1]`.
        pub other_selectivity: f64,
        /// Fraction of the index the index's own quals (a radius) admit, in `(0, 1]`:
        /// the scan ends at the radius.
        pub index_selectivity: f64,
    }

    impl Demand {
        /// Rows the scan must produce in index order: `wanted / other_selectivity`,
        /// at most what the index quals admit, at least 1.
        pub fn needed(&self) -> f64 {
            let s = self.other_selectivity.clamp(1e-12, 1.0);
            let admitted = self.index_tuples * self.index_selectivity.clamp(0.0, 1.0);
            (self.wanted.max(1.0) / s).min(admitted).max(1.0)
        }

        /// True if the other quals filter rows: only then is a scan that returns fewer
        /// rows than wanted (a plain scan, or one stopped by its cap) charged for the
        /// rows it misses. Unfiltered scans keep pgvector's estimate (and behaviour).
        pub fn filtered(&self) -> bool {
            self.other_selectivity < 1.0 - 1e-9
        }
    }

    /// pgvector's hnsw estimate of the fraction of the index a search with a beam of
    /// `ef` reads: the descent through the upper layers plus the layer-0 search.
    pub fn hnsw_fraction(tuples: f64, m: f64, ef: f64) -> f64 {
        if tuples <= 0.0 {
            return 1.0;
        }
        let ml = 1.0 / m.ln();
        let entry_level = (tuples.ln() * ml).floor();
        ((entry_level * m + hnsw_layer0_visits(tuples, m, ef)) / tuples).min(1.0)
    }

    /// Elements a layer-0 search with a beam of `ef` computes distances to (pgvector's
    /// estimate): `2 m ef` neighbours, of which a fraction is new.
    pub fn hnsw_layer0_visits(tuples: f64, m: f64, ef: f64) -> f64 {
        let ef = ef.max(1.0);
        let selectivity = 0.55 * tuples.max(2.0).ln() / (m.ln() * (1.0 + ef.ln()));
        2.0 * m * ef * selectivity
    }

    /// An hnsw scan's settings.
    #[derive(Clone, Copy, Debug, PartialEq)]
    pub struct GraphScan {
        /// The index's `m`.
        pub m: f64,
        /// `hnsw.ef_search`.
        pub ef_search: f64,
        /// An iterative scan (or a radius scan, which always iterates).
        pub iterative: bool,
        /// `hnsw.max_scan_tuples`: elements an iterative scan visits at most.
        pub max_scan_tuples: f64,
    }

    /// The beam an hnsw scan effectively searches with to produce `demand`'s rows: the
    /// rows needed (at least `ef_search`); an iterative scan stops at
    /// `max_scan_tuples` visits, a plain one after `ef_search` rows. A filtered scan
    /// that stops before the rows it needs is charged as if it went on to them.
    pub fn hnsw_effective_ef(scan: &GraphScan, demand: &Demand) -> f64 {
        let n = demand.index_tuples;
        let needed = demand.needed();
        let ef = scan.ef_search.max(1.0);
        if needed <= ef {
            return ef;
        }
        let reach = if scan.iterative {
            hnsw_ef_for_visits(n, scan.m, scan.max_scan_tuples).max(ef)
        } else {
            ef
        };
        if needed <= reach || demand.filtered() {
            needed
        } else {
            reach
        }
    }

    /// The largest beam whose layer-0 search visits at most `visits` elements.
    fn hnsw_ef_for_visits(tuples: f64, m: f64, visits: f64) -> f64 {
        let (mut lo, mut hi) = (1.0f64, tuples.max(1.0));
        if hnsw_layer0_visits(tuples, m, hi) <= visits {
            return hi;
        }
        for _ in 0..60 {
            let mid = 0.5 * (lo + hi);
            if hnsw_layer0_visits(tuples, m, mid) <= visits {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// The fraction of an hnsw index an ordered scan reads for `demand`.
    pub fn hnsw_ratio(scan: &GraphScan, demand: &Demand) -> f64 {
        hnsw_fraction(demand.index_tuples, scan.m, hnsw_effective_ef(scan, demand))
    }

    /// An ivfflat scan's settings.
    #[derive(Clone, Copy, Debug, PartialEq)]
    pub struct ListScan {
        /// Lists of the index.
        pub lists: f64,
        /// `ivfflat.probes`.
        pub probes: f64,
        /// An iterative scan (or a radius scan).
        pub iterative: bool,
        /// `ivfflat.max_probes`.
        pub max_probes: f64,
    }

    /// The fraction of an ivfflat index an ordered scan reads for `demand`: the lists
    /// holding the rows needed (in batches of `probes`, at least `probes`); an
    /// iterative scan stops at `max_probes` lists, a plain one after `probes`. A
    /// filtered scan that stops before the rows it needs is charged as if it went on.
    pub fn ivf_ratio(scan: &ListScan, demand: &Demand) -> f64 {
        let lists = scan.lists.max(1.0);
        let probes = scan.probes.clamp(1.0, lists);
        let per_list = demand.index_tuples / lists;
        let needed_lists = if per_list > 0.0 {
            (demand.needed() / per_list).ceil().clamp(1.0, lists)
        } else {
            lists
        };
        let batches = (needed_lists / probes).ceil() * probes;
        let reach = if scan.iterative {
            scan.max_probes.max(probes)
        } else {
            probes
        };
        let read = if batches <= reach || demand.filtered() {
            batches
        } else {
            reach
        };
        (read.max(probes) / lists).min(1.0)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        const N: f64 = 100_000.0;

        fn demand(limit: f64, selectivity: f64) -> Demand {
            Demand {
                index_tuples: N,
                wanted: limit,
                other_selectivity: selectivity,
                index_selectivity: 1.0,
            }
        }

        fn graph(iterative: bool) -> GraphScan {
            GraphScan {
                m: 16.0,
                ef_search: 40.0,
                iterative,
                max_scan_tuples: 20_000.0,
            }
        }

        #[test]
        fn unfiltered_scans_keep_pgvectors_estimate() {
            let pgvector = hnsw_fraction(N, 16.0, 40.0);
            for iterative in [false, true] {
                assert_eq!(hnsw_ratio(&graph(iterative), &demand(10.0, 1.0)), pgvector);
                // LIMIT above ef_search: a plain scan returns ef_search rows, as pgvector
                assert_eq!(hnsw_ratio(&graph(false), &demand(100.0, 1.0)), pgvector);
            }
            let lists = ListScan {
                lists: 100.0,
                probes: 1.0,
                iterative: false,
                max_probes: 100.0,
            };
            assert_eq!(ivf_ratio(&lists, &demand(10.0, 1.0)), 0.01);
            assert_eq!(ivf_ratio(&lists, &demand(5000.0, 1.0)), 0.01);
        }

        #[test]
        fn the_pgvector_formula() {
            // entry level floor(ln 1e5 / ln 16) = 4; layer 0: 2*16*40 * 0.55 ln 1e5 / (ln 16 (1 + ln 40))
            let expected =
                (4.0 * 16.0 + 1280.0 * 0.55 * N.ln() / (16f64.ln() * (1.0 + 40f64.ln()))) / N;
            assert!((hnsw_fraction(N, 16.0, 40.0) - expected).abs() < 1e-12);
            assert_eq!(hnsw_fraction(0.0, 16.0, 40.0), 1.0);
            assert_eq!(hnsw_fraction(10.0, 16.0, 40.0), 1.0);
        }

        #[test]
        fn filters_raise_the_cost_with_the_rows_needed() {
            let g = graph(true);
            let r10 = hnsw_ratio(&g, &demand(10.0, 0.10));
            let r1 = hnsw_ratio(&g, &demand(10.0, 0.01));
            let r01 = hnsw_ratio(&g, &demand(10.0, 0.001));
            let plain = hnsw_ratio(&g, &demand(10.0, 1.0));
            assert!(
                plain < r10 && r10 < r1 && r1 < r01,
                "{plain} {r10} {r1} {r01}"
            );
            // 1% needs 1,000 rows in order: a beam of 1,000
            assert_eq!(hnsw_effective_ef(&g, &demand(10.0, 0.01)), 1000.0);
            // a 10% filter needs 100 rows, more than ef_search
            assert_eq!(hnsw_effective_ef(&g, &demand(10.0, 0.1)), 100.0);
            // a 50% filter needs 20: the first round of 40 has them
            assert_eq!(hnsw_effective_ef(&g, &demand(10.0, 0.5)), 40.0);
        }

        #[test]
        fn scans_that_cannot_keep_the_promise_are_charged_for_it() {
            // plain scan: ef_search 40 rows hold 0.4 rows passing a 1% filter
            assert_eq!(
                hnsw_effective_ef(&graph(false), &demand(10.0, 0.01)),
                1000.0
            );
            // iterative: max_scan_tuples = 20,000 visits is a beam of about 2,000,
            // 0.01% needs 100,000 rows (all of the index)
            let capped = hnsw_ef_for_visits(N, 16.0, 20_000.0);
            assert!(capped > 1000.0 && capped < 5000.0, "{capped}");
            assert_eq!(hnsw_effective_ef(&graph(true), &demand(10.0, 0.0001)), N);
            assert_eq!(hnsw_ratio(&graph(true), &demand(10.0, 0.0001)), 1.0);
            // unfiltered, no LIMIT: the cap bounds the work and nothing is charged
            let all = demand(N, 1.0);
            assert!((hnsw_effective_ef(&graph(true), &all) - capped).abs() < 1e-6);
            assert_eq!(hnsw_effective_ef(&graph(false), &all), 40.0);
        }

        #[test]
        fn ivfflat_reads_lists_in_batches_of_probes() {
            let it = ListScan {
                lists: 100.0,
                probes: 2.0,
                iterative: true,
                max_probes: 10.0,
            };
            // 1,000 rows per list: 10% needs 100 rows (one list, a batch of two)
            assert_eq!(ivf_ratio(&it, &demand(10.0, 0.1)), 0.02);
            // 0.1% needs 10,000 rows: 10 lists
            assert_eq!(ivf_ratio(&it, &demand(10.0, 0.001)), 0.1);
            // 0.01% needs every row: over max_probes, charged for all 100 lists
            assert_eq!(ivf_ratio(&it, &demand(10.0, 0.0001)), 1.0);
            // unfiltered without LIMIT: max_probes bounds it
            assert_eq!(ivf_ratio(&it, &demand(N, 1.0)), 0.1);
            let plain = ListScan {
                iterative: false,
                ..it
            };
            assert_eq!(ivf_ratio(&plain, &demand(N, 1.0)), 0.02);
            assert_eq!(ivf_ratio(&plain, &demand(10.0, 0.001)), 0.1);
        }

        /// The calibration of the README's pypi-minilm-100k example (hnsw, m 16).
        fn pypi_calibration() -> ::calibrate::Calibration {
            #[rustfmt::skip]
            let recall: Vec<f32> = vec![
                0.810, 0.875, 0.900, 0.945, 0.970, 0.970, 0.985, 0.990, 1.000, 1.000,
                0.808, 0.869, 0.902, 0.938, 0.960, 0.970, 0.982, 0.992, 0.996, 0.998,
                0.099, 0.159, 0.249, 0.398, 0.639, 0.932, 0.960, 0.976, 0.987, 0.993,
            ];
            ::calibrate::Calibration {
                queries: 200,
                rows: 100_000,
                held_out: true,
                ks: vec![1, 10, 100],
                settings: vec![10, 16, 25, 40, 64, 100, 160, 250, 400, 640],
                recall,
            }
        }

        #[test]
        fn a_recall_target_is_charged_at_the_beam_it_chooses() {
            // The planner passes the setting the scan will start with (the
            // calibration's choice for the target at the query's k).
            let cal = pypi_calibration();
            let low = cal.choose_confident(0.90, 10, 10).setting as f64;
            let high = cal.choose_confident(0.99, 10, 10).setting as f64;
            assert!(low < 40.0 && high > 200.0, "{low} {high}");
            let at = |ef: f64| GraphScan {
                ef_search: ef,
                ..graph(true)
            };
            // unfiltered: the charge follows the chosen beam
            let unfiltered = demand(10.0, 1.0);
            assert!(hnsw_ratio(&at(low), &unfiltered) < hnsw_ratio(&at(40.0), &unfiltered));
            assert!(hnsw_ratio(&at(40.0), &unfiltered) < hnsw_ratio(&at(high), &unfiltered));
            // a 10% filter needs 100 rows in order: the default beam and the
            // low target are charged for those; the high target searches
            // with its larger beam from the start, and is charged for it
            assert_eq!(hnsw_effective_ef(&at(low), &demand(10.0, 0.1)), 100.0);
            assert_eq!(hnsw_effective_ef(&at(40.0), &demand(10.0, 0.1)), 100.0);
            assert_eq!(hnsw_effective_ef(&at(high), &demand(10.0, 0.1)), high);
            assert!(hnsw_ratio(&at(high), &demand(10.0, 0.1)) > hnsw_ratio(&at(40.0), &demand(10.0, 0.1)));
            // a 1% filter needs 1,000 rows, more than either beam: no change
            assert_eq!(
                hnsw_ratio(&at(high), &demand(10.0, 0.01)),
                hnsw_ratio(&at(40.0), &demand(10.0, 0.01))
            );
            // LIMIT 100 at 0.99 asks for a larger beam still
            let high100 = cal.choose_confident(0.99, 100, 100).setting as f64;
            assert!(high100 > high, "{high100} {high}");
            assert_eq!(hnsw_effective_ef(&at(high100), &demand(100.0, 0.5)), high100);
        }

        #[test]
        fn a_recall_target_is_charged_at_the_probes_it_chooses() {
            let lists = |probes: f64| ListScan {
                lists: 100.0,
                probes,
                iterative: true,
                max_probes: 100.0,
            };
            // 10% needs 100 rows, in one list of 1,000: the probes chosen
            // decide what is read
            assert_eq!(ivf_ratio(&lists(1.0), &demand(10.0, 0.1)), 0.01);
            assert_eq!(ivf_ratio(&lists(12.0), &demand(10.0, 0.1)), 0.12);
            // 0.1% needs 10 lists: in batches of the chosen probes
            assert_eq!(ivf_ratio(&lists(4.0), &demand(10.0, 0.001)), 0.12);
        }

        #[test]
        fn a_radius_bounds_the_rows_needed() {
            let d = Demand {
                index_tuples: N,
                wanted: 1000.0,
                other_selectivity: 1.0,
                index_selectivity: 0.001,
            };
            assert_eq!(d.needed(), 100.0);
            // radius scans iterate: a beam of the rows inside the sphere
            assert_eq!(hnsw_effective_ef(&graph(true), &d), 100.0);
            let filtered = Demand {
                other_selectivity: 0.01,
                ..d
            };
            assert_eq!(filtered.needed(), 100.0);
        }
    }
}

/// Outputs of `amcostestimate`.
pub struct Costs {
    pub startup: f64,
    pub total: f64,
    pub selectivity: f64,
    pub correlation: f64,
    pub pages: f64,
}

/// Makes the planner never choose the index for a path without ORDER BY:
/// the access methods only produce ordered scans.
pub unsafe fn without_order(path: *mut pg_sys::IndexPath) -> Option<Costs> {
    // SAFETY: `path` is the index path the planner asks to cost.
    unsafe {
        // Radius scans (index clauses) need no ORDER BY.
        if !(*path).indexorderbys.is_null() || !(*path).indexclauses.is_null() {
            return None;
        }
        #[cfg(feature = "pg18")]
        {
            (*path).path.disabled_nodes = 2;
        }
        Some(Costs {
            startup: f64::INFINITY,
            total: f64::INFINITY,
            selectivity: 0.0,
            correlation: 0.0,
            pages: 0.0,
        })
    }
}

/// `genericcostestimate` with `num_index_tuples` preset (0 = let Postgres
/// estimate from the selectivity).
pub unsafe fn generic(
    root: *mut pg_sys::PlannerInfo,
    path: *mut pg_sys::IndexPath,
    loop_count: f64,
    num_index_tuples: f64,
) -> pg_sys::GenericCosts {
    // SAFETY: a zeroed `GenericCosts` is its C initial state; the planner's `root` and `path`
    // are passed through unchanged.
    unsafe {
        let mut costs: pg_sys::GenericCosts = std::mem::zeroed();
        costs.numIndexTuples = num_index_tuples;
        pg_sys::genericcostestimate(root, path, loop_count, &mut costs);
        costs
    }
}

/// What the query asks of the scan `path` costs (see [`model::Demand`]), given the
/// selectivity `genericcostestimate` found for the index's own clauses.
pub unsafe fn demand(
    root: *mut pg_sys::PlannerInfo,
    path: *mut pg_sys::IndexPath,
    index_selectivity: f64,
) -> model::Demand {
    // SAFETY: the planner's state and the path it asks to cost; a path's parent is its
    // base relation, whose size estimates are set before its paths are built.
    unsafe {
        let n = (*(*path).indexinfo).tuples.max(1.0);
        let rel = (*path).path.parent;
        let index_selectivity = index_selectivity.clamp(1e-12, 1.0);
        // rows after every restriction of the relation, over the rows the index admits
        // (for a partial index, its predicate is among the restrictions)
        let rows = (*rel).rows.max(1.0);
        let other = (rows / (n * index_selectivity)).clamp(1e-12, 1.0);
        let limit = (*root).limit_tuples;
        let wanted = if limit > 0.0 { limit.min(rows) } else { rows };
        model::Demand {
            index_tuples: n,
            wanted,
            other_selectivity: other,
            index_selectivity,
        }
    }
}

/// The query's k as the planner sees it: LIMIT + OFFSET when both are
/// known at plan time (`limit_tuples`), else `None` (no LIMIT, or a
/// parameter of a generic plan).
pub unsafe fn planned_k(root: *mut pg_sys::PlannerInfo) -> Option<u32> {
    // SAFETY: the planner's state, valid while a path is costed.
    let limit = unsafe { (*root).limit_tuples };
    (limit >= 1.0).then(|| limit.min(u32::MAX as f64) as u32)
}

/// The `ef_search` (`probes`) a scan of `path`'s index will start with:
/// [`recall::decide`](super::recall::decide), the one function the scan
/// itself calls, at the planner's k. Under `pgvector_rs.target_recall`
/// that is the calibrated setting for the target, so a high target charges
/// the graph for the larger beam it will search with (and the exact plan
/// wins where it is cheaper than the graph at that recall); an index
/// option counts as it will at run time.
pub unsafe fn planned_setting(
    kind: super::recall::Kind,
    root: *mut pg_sys::PlannerInfo,
    path: *mut pg_sys::IndexPath,
) -> f64 {
    // SAFETY: the planner holds a lock on every index of the relations it
    // plans (taken in `get_relation_info`), so opening with NoLock is safe,
    // as pgvector's cost estimates do to read the meta page.
    unsafe {
        let oid = (*(*path).indexinfo).indexoid;
        let index = pg_sys::index_open(oid, pg_sys::NoLock as pg_sys::LOCKMODE);
        let decision = super::recall::decide_for(kind, index, planned_k(root));
        pg_sys::index_close(index, pg_sys::NoLock as pg_sys::LOCKMODE);
        decision.setting.max(1) as f64
    }
}

/// `seq_page_cost` of the index's tablespace.
pub unsafe fn seq_page_cost(path: *mut pg_sys::IndexPath) -> f64 {
    // SAFETY: `indexinfo` of a path being costed is valid; the out-parameter points to a local.
    unsafe {
        let mut seq = 0.0;
        pg_sys::get_tablespace_page_costs(
            (*(*path).indexinfo).reltablespace,
            std::ptr::null_mut(),
            &mut seq,
        );
        seq
    }
}

/// Writes `costs` to `amcostestimate`'s out-parameters.
#[allow(clippy::too_many_arguments)]
pub unsafe fn store(
    costs: Costs,
    startup: *mut pg_sys::Cost,
    total: *mut pg_sys::Cost,
    selectivity: *mut pg_sys::Selectivity,
    correlation: *mut f64,
    pages: *mut f64,
) {
    // SAFETY: `amcostestimate`'s out-parameters are valid pointers to write to.
    unsafe {
        *startup = costs.startup;
        *total = costs.total;
        *selectivity = costs.selectivity;
        *correlation = costs.correlation;
        *pages = costs.pages;
    }
}
