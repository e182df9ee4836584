//! Cost estimates (pgvector's formulas, so that plans match pgvector's).

use pgrx::pg_sys;

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
        if !(*path).indexorderbys.is_null() {
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
