//! Planning: recognise `ORDER BY col <op> const LIMIT n` on a table partitioned over
//! postgres_fdw foreign tables and offer a [`CustomPath`](pg_sys::CustomPath) that does
//! the whole query (per-partition top-k on the remote servers, merge, OFFSET/LIMIT).
//!
//! Conservative by construction: every check that fails returns `None` and Postgres
//! plans the query as it always does. Only the final upper relation of a plain SELECT
//! on one partitioned table is considered.

use super::ffi;
use super::util::*;
use core::ffi::{c_char, c_void};
use pgrx::pg_sys;
use std::ffi::CString;

/// pg_catalog's `float8 < float8` (Float8LessOperator): ascending distance order.
const FLOAT8_LT_OP: u32 = 672;
const FLOAT8OID: u32 = 701;
const INT8OID: u32 = 20;

/// The distance operators that order nearest first.
const DISTANCE_OPERATORS: [&str; 6] = ["<->", "<#>", "<=>", "<+>", "<~>", "<%>"];

/// A partition served by one remote query.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Leaf {
    pub server_oid: u32,
    pub rel_oid: u32,
    pub server_name: String,
    pub rel_name: String,
    pub sql: String,
    /// Index of the partition's first WHERE parameter in `custom_exprs`.
    pub param_start: usize,
    pub param_count: usize,
}

/// What the executor needs, carried in `custom_private` as one String node.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct PlanInfo {
    pub leaves: Vec<Leaf>,
    /// Local partitions, searched by the custom scan's child plans (`custom_plans`, in
    /// this order), merged with the remote results.
    pub locals: Vec<String>,
}

/// Fixed positions in `custom_exprs`.
pub(super) const EXPR_QUERY: usize = 0;
pub(super) const EXPR_LIMIT: usize = 1;
pub(super) const EXPR_OFFSET: usize = 2;
pub(super) const EXPR_FIRST_PARAM: usize = 3;

impl PlanInfo {
    pub fn encode(&self) -> String {
        let mut fields = vec![self.leaves.len().to_string()];
        for l in &self.leaves {
            fields.extend([
                l.server_oid.to_string(),
                l.rel_oid.to_string(),
                l.server_name.clone(),
                l.rel_name.clone(),
                l.sql.clone(),
                l.param_start.to_string(),
                l.param_count.to_string(),
            ]);
        }
        fields.push(self.locals.len().to_string());
        fields.extend(self.locals.iter().cloned());
        encode_fields(&fields)
    }

    pub fn decode(s: &str) -> Option<PlanInfo> {
        let f = decode_fields(s)?;
        let n: usize = f.first()?.parse().ok()?;
        let nl: usize = f.get(1 + 7 * n)?.parse().ok()?;
        if f.len() != 2 + 7 * n + nl {
            return None;
        }
        let locals = f[2 + 7 * n..].to_vec();
        let leaves = (0..n)
            .map(|i| {
                let g = &f[1 + 7 * i..1 + 7 * (i + 1)];
                Some(Leaf {
                    server_oid: g[0].parse().ok()?,
                    rel_oid: g[1].parse().ok()?,
                    server_name: g[2].clone(),
                    rel_name: g[3].clone(),
                    sql: g[4].clone(),
                    param_start: g[5].parse().ok()?,
                    param_count: g[6].parse().ok()?,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(PlanInfo { leaves, locals })
    }
}

/// Length-prefixed fields: `<len>:<bytes>` each; any text survives.
fn encode_fields(fields: &[String]) -> String {
    let mut out = String::new();
    for f in fields {
        out.push_str(&f.len().to_string());
        out.push(':');
        out.push_str(f);
    }
    out
}

fn decode_fields(mut s: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    while !s.is_empty() {
        let colon = s.find(':')?;
        let len: usize = s[..colon].parse().ok()?;
        let rest = &s[colon + 1..];
        out.push(rest.get(..len)?.to_string());
        s = &rest[len..];
    }
    Some(out)
}

pub(super) static mut PATH_METHODS: pg_sys::CustomPathMethods = pg_sys::CustomPathMethods {
    CustomName: super::CUSTOM_NAME.as_ptr(),
    PlanCustomPath: Some(plan_custom_path),
    ReparameterizeCustomPathByChild: None,
};

static mut PREV_UPPER_PATHS_HOOK: pg_sys::create_upper_paths_hook_type = None;

pub(super) unsafe fn install_hook() {
    // SAFETY: _PG_init runs once per backend, on its only thread.
    unsafe {
        PREV_UPPER_PATHS_HOOK = pg_sys::create_upper_paths_hook;
        pg_sys::create_upper_paths_hook = Some(upper_paths_hook);
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn upper_paths_hook(
    root: *mut pg_sys::PlannerInfo,
    stage: pg_sys::UpperRelationKind::Type,
    input_rel: *mut pg_sys::RelOptInfo,
    output_rel: *mut pg_sys::RelOptInfo,
    extra: *mut c_void,
) {
    // SAFETY: the planner passes valid pointers; the previous hook gets them unchanged.
    unsafe {
        if let Some(prev) = PREV_UPPER_PATHS_HOOK {
            prev(root, stage, input_rel, output_rel, extra);
        }
        if stage != pg_sys::UpperRelationKind::UPPERREL_FINAL || !super::ENABLED.get() {
            return;
        }
        let _ = try_add_path(root, output_rel);
    }
}

/// A distance operator of our extension: (quoted schema, operator name).
unsafe fn our_distance_operator(op: *mut pg_sys::OpExpr) -> Option<(String, String)> {
    // SAFETY: op is a valid OpExpr of the query; catalog lookups are ordinary backend calls.
    unsafe {
        if (*op).opresulttype != pg_sys::Oid::from(FLOAT8OID) || list_len((*op).args) != 2 {
            return None;
        }
        let opno = (*op).opno;
        let tup = pg_sys::SearchSysCache1(
            pg_sys::SysCacheIdentifier::OPEROID as i32,
            pg_sys::Datum::from(opno.to_u32()),
        );
        if tup.is_null() {
            return None;
        }
        let form = heap_tuple_struct::<pg_sys::FormData_pg_operator>(tup);
        let name = cstr((*form).oprname.data.as_ptr());
        let namespace = (*form).oprnamespace;
        let func = (*form).oprcode;
        pg_sys::ReleaseSysCache(tup);
        if !DISTANCE_OPERATORS.contains(&name.as_str()) {
            return None;
        }
        let ours = pg_sys::get_extension_oid(c"pgvector_rs".as_ptr(), true);
        if ours == pg_sys::InvalidOid
            || pg_sys::getExtensionOfObject(pg_sys::ProcedureRelationId, func) != ours
        {
            return None;
        }
        let schema = pg_sys::get_namespace_name(namespace);
        if schema.is_null() {
            return None;
        }
        Some((cstr(pg_sys::quote_identifier(schema)), name))
    }
}

/// No Vars, nothing volatile, no subplans: a value fixed for one execution.
unsafe fn pseudo_constant(node: *mut pg_sys::Node) -> bool {
    // SAFETY: node is a valid expression tree.
    unsafe {
        !pg_sys::contain_var_clause(node)
            && !pg_sys::contain_volatile_functions(node)
            && !pg_sys::contain_subplans(node)
    }
}

/// The Vars an output expression needs, not counting those inside the distance
/// expression itself (the remote server computes it).
struct VarWalk {
    dist: *mut pg_sys::Node,
    vars: Vec<*mut pg_sys::Var>,
}

/// expression_tree_walker callback: true = something we do not handle (stop).
#[pgrx::pg_guard]
unsafe extern "C-unwind" fn var_walker(node: *mut pg_sys::Node, ctx: *mut c_void) -> bool {
    // SAFETY: ctx is the VarWalk passed by try_add_path; node is part of a valid tree.
    unsafe {
        if node.is_null() {
            return false;
        }
        let walk = &mut *(ctx as *mut VarWalk);
        if pg_sys::equal(node as *const c_void, walk.dist as *const c_void) {
            return false;
        }
        if pgrx::is_a(node, pg_sys::NodeTag::T_Var) {
            walk.vars.push(node as *mut pg_sys::Var);
            return false;
        }
        if pgrx::is_a(node, pg_sys::NodeTag::T_Aggref)
            || pgrx::is_a(node, pg_sys::NodeTag::T_WindowFunc)
            || pgrx::is_a(node, pg_sys::NodeTag::T_SubPlan)
            || pgrx::is_a(node, pg_sys::NodeTag::T_SubLink)
            || pgrx::is_a(node, pg_sys::NodeTag::T_PlaceHolderVar)
        {
            return true;
        }
        pg_sys::expression_tree_walker(node, Some(var_walker), ctx)
    }
}

/// Leaf partitions under `parent`, recursing into sub-partitioned ones: foreign tables
/// into `foreign`, local tables into `local`.
unsafe fn collect_leaves(
    root: *mut pg_sys::PlannerInfo,
    parent: usize,
    foreign: &mut Vec<usize>,
    local: &mut Vec<usize>,
) -> Option<()> {
    // SAFETY: root's arrays are valid for indexes below simple_rel_array_size.
    unsafe {
        let appinfos = (*root).append_rel_list;
        for i in 0..list_len(appinfos) {
            let ai = list_nth::<pg_sys::AppendRelInfo>(appinfos, i);
            if (*ai).parent_relid as usize != parent {
                continue;
            }
            let child = (*ai).child_relid as usize;
            if child == 0 || child >= (*root).simple_rel_array_size as usize {
                return None;
            }
            let crel = *(*root).simple_rel_array.add(child);
            let crte = *(*root).simple_rte_array.add(child);
            if crel.is_null() || crte.is_null() {
                return None;
            }
            if pg_sys::is_dummy_rel(crel) {
                continue; // excluded by constraints: contributes no rows
            }
            match (*crte).relkind as u8 {
                pg_sys::RELKIND_PARTITIONED_TABLE => collect_leaves(root, child, foreign, local)?,
                pg_sys::RELKIND_FOREIGN_TABLE => foreign.push(child),
                pg_sys::RELKIND_RELATION => local.push(child),
                _ => return None,
            }
        }
        Some(())
    }
}

/// The WHERE clause postgres_fdw would send for `quals` on `rel` (" WHERE ..."), and the
/// Params it numbered $1..$n in it, or None if postgres_fdw would not ship them all.
unsafe fn deparse_where(
    fdw: &ffi::Fdw,
    root: *mut pg_sys::PlannerInfo,
    rel: *mut pg_sys::RelOptInfo,
) -> Option<(String, *mut pg_sys::List)> {
    // SAFETY: rel is a postgres_fdw base relation of this query (fdw_private is its
    // PgFdwRelationInfo, set by postgresGetForeignRelSize); the functions are
    // postgres_fdw's own, called through the FFI guard.
    unsafe {
        let rinfos = (*rel).baserestrictinfo;
        if rinfos.is_null() {
            return Some((String::new(), core::ptr::null_mut()));
        }
        let mut quals: *mut pg_sys::List = core::ptr::null_mut();
        for i in 0..list_len(rinfos) {
            let ri = list_nth::<pg_sys::RestrictInfo>(rinfos, i);
            if (*ri).security_level != 0 {
                return None;
            }
            let clause = (*ri).clause;
            let ok =
                pg_sys::ffi::pg_guard_ffi_boundary(|| (fdw.is_foreign_expr)(root, rel, clause));
            if !ok {
                return None;
            }
            quals = pg_sys::lappend(quals, ri as *mut c_void);
        }
        let deparse = |conds: *mut pg_sys::List, params: *mut *mut pg_sys::List| -> String {
            let buf = pg_sys::makeStringInfo();
            let mut retrieved: *mut pg_sys::List = core::ptr::null_mut();
            pg_sys::ffi::pg_guard_ffi_boundary(|| {
                (fdw.deparseSelectStmtForRel)(
                    buf,
                    root,
                    rel,
                    core::ptr::null_mut(),
                    conds,
                    core::ptr::null_mut(),
                    false,
                    false,
                    false,
                    &mut retrieved,
                    params,
                )
            });
            cstr((*buf).data)
        };
        let mut unused: *mut pg_sys::List = core::ptr::null_mut();
        let bare = deparse(core::ptr::null_mut(), &mut unused);
        let mut params: *mut pg_sys::List = core::ptr::null_mut();
        let full = deparse(quals, &mut params);
        let suffix = full.strip_prefix(bare.as_str())?;
        if !suffix.starts_with(" WHERE ") {
            return None;
        }
        Some((suffix.to_string(), params))
    }
}

/// The LIMIT's row count when it is a constant, else 10 (for costs).
unsafe fn limit_estimate(limit: *mut pg_sys::Node) -> f64 {
    // SAFETY: limit is the query's LIMIT expression (not NULL: checked by the caller).
    unsafe {
        if pgrx::is_a(limit, pg_sys::NodeTag::T_Const)
            && !(*(limit as *mut pg_sys::Const)).constisnull
        {
            ((*(limit as *mut pg_sys::Const)).constvalue.value() as i64 as f64).clamp(1.0, 1e9)
        } else {
            10.0
        }
    }
}

/// A foreign table option (schema_name, table_name, column_name).
unsafe fn option(options: *mut pg_sys::List, name: &str) -> Option<String> {
    // SAFETY: options is a List of DefElem from the catalog.
    unsafe {
        for i in 0..list_len(options) {
            let d = list_nth::<pg_sys::DefElem>(options, i);
            if cstr((*d).defname) == name {
                return Some(cstr(pg_sys::defGetString(d)));
            }
        }
        None
    }
}

unsafe fn quote_ident(s: &str) -> String {
    let c = CString::new(s).unwrap_or_default();
    // SAFETY: quote_identifier returns its argument or a palloc'd quoted copy.
    unsafe { cstr(pg_sys::quote_identifier(c.as_ptr())) }
}

/// Everything about the query's shape; None = not ours, plan normally.
unsafe fn try_add_path(
    root: *mut pg_sys::PlannerInfo,
    output_rel: *mut pg_sys::RelOptInfo,
) -> Option<()> {
    // SAFETY: all pointers come from the planner for the query being planned; each is
    // checked for NULL or for its node tag before it is dereferenced as that type.
    unsafe {
        let q = &*(*root).parse;
        if q.commandType != pg_sys::CmdType::CMD_SELECT
            || !q.utilityStmt.is_null()
            || q.hasAggs
            || q.hasWindowFuncs
            || q.hasTargetSRFs
            || q.hasSubLinks
            || q.hasDistinctOn
            || q.hasRecursive
            || q.hasModifyingCTE
            || q.hasForUpdate
            || q.hasRowSecurity
            || !q.cteList.is_null()
            || !q.groupClause.is_null()
            || !q.groupingSets.is_null()
            || !q.havingQual.is_null()
            || !q.windowClause.is_null()
            || !q.distinctClause.is_null()
            || !q.setOperations.is_null()
            || !q.rowMarks.is_null()
            || q.limitCount.is_null()
            || q.limitOption != pg_sys::LimitOption::LIMIT_OPTION_COUNT
            || list_len(q.sortClause) != 1
            || q.jointree.is_null()
            || list_len((*q.jointree).fromlist) != 1
        {
            return None;
        }
        let rtr = list_nth::<pg_sys::Node>((*q.jointree).fromlist, 0);
        if !pgrx::is_a(rtr, pg_sys::NodeTag::T_RangeTblRef) {
            return None;
        }
        let rti = (*(rtr as *mut pg_sys::RangeTblRef)).rtindex as usize;
        if rti == 0 || rti >= (*root).simple_rel_array_size as usize {
            return None;
        }
        let rte = *(*root).simple_rte_array.add(rti);
        let rel = *(*root).simple_rel_array.add(rti);
        if rte.is_null()
            || rel.is_null()
            || (*rte).rtekind != pg_sys::RTEKind::RTE_RELATION
            || (*rte).relkind as u8 != pg_sys::RELKIND_PARTITIONED_TABLE
            || !(*rte).inh
            || !(*rte).tablesample.is_null()
            || !(*rte).securityQuals.is_null()
        {
            return None;
        }

        // ORDER BY <var> <our op> <pseudo-constant> (or commuted), ascending, nulls last.
        let sgc = list_nth::<pg_sys::SortGroupClause>(q.sortClause, 0);
        if (*sgc).sortop != pg_sys::Oid::from(FLOAT8_LT_OP) || (*sgc).nulls_first {
            return None;
        }
        let tle = pg_sys::get_sortgroupclause_tle(sgc, q.targetList);
        if tle.is_null() {
            return None;
        }
        let dist = (*tle).expr as *mut pg_sys::Node;
        if !pgrx::is_a(dist, pg_sys::NodeTag::T_OpExpr) {
            return None;
        }
        let op = dist as *mut pg_sys::OpExpr;
        let (op_schema, op_name) = our_distance_operator(op)?;
        let a0 = list_nth::<pg_sys::Node>((*op).args, 0);
        let a1 = list_nth::<pg_sys::Node>((*op).args, 1);
        let (var, query, var_left) =
            if pgrx::is_a(a0, pg_sys::NodeTag::T_Var) && pseudo_constant(a1) {
                (a0 as *mut pg_sys::Var, a1, true)
            } else if pgrx::is_a(a1, pg_sys::NodeTag::T_Var) && pseudo_constant(a0) {
                (a1 as *mut pg_sys::Var, a0, false)
            } else {
                return None;
            };
        if (*var).varno as usize != rti || (*var).varlevelsup != 0 || (*var).varattno <= 0 {
            return None;
        }
        let query_type = pg_sys::exprType(query);

        // Columns the query's output needs besides the distance.
        let target = (*root).upper_targets[pg_sys::UpperRelationKind::UPPERREL_FINAL as usize];
        if target.is_null() {
            return None;
        }
        let mut walk = VarWalk {
            dist,
            vars: Vec::new(),
        };
        for i in 0..list_len((*target).exprs) {
            let e = list_nth::<pg_sys::Node>((*target).exprs, i);
            if var_walker(e, &mut walk as *mut VarWalk as *mut c_void) {
                return None;
            }
        }
        let mut vars: Vec<*mut pg_sys::Var> = Vec::new();
        for v in walk.vars {
            if (*v).varno as usize != rti || (*v).varlevelsup != 0 || (*v).varattno <= 0 {
                return None; // whole-row, system column or another relation
            }
            if !vars.iter().any(|w| (**w).varattno == (*v).varattno) {
                vars.push(v);
            }
        }

        // Every live leaf is a postgres_fdw foreign table whose quals all ship.
        let mut leaves_rti = Vec::new();
        let mut locals_rti = Vec::new();
        collect_leaves(root, rti, &mut leaves_rti, &mut locals_rti)?;
        if leaves_rti.is_empty() {
            return None; // only local partitions: Postgres's Merge Append is the plan
        }
        // Local partitions: their cheapest path in the query's order (an index scan by
        // distance when there is an index), or a sort of their cheapest path. Each child
        // plan outputs the scan tuple (distance, columns), translated to its own columns.
        let sort_pathkeys = (*root).sort_pathkeys;
        let limit_rows = limit_estimate(q.limitCount);
        if !locals_rti.is_empty() && sort_pathkeys.is_null() {
            return None;
        }
        let mut local_paths: *mut pg_sys::List = core::ptr::null_mut();
        let mut local_tlists: *mut pg_sys::List = core::ptr::null_mut();
        let mut local_names = Vec::new();
        let mut local_startup = 0.0;
        let mut local_total = 0.0;
        for &c in &locals_rti {
            let crel = *(*root).simple_rel_array.add(c);
            let crte = *(*root).simple_rte_array.add(c);
            let mut p = pg_sys::get_cheapest_path_for_pathkeys(
                (*crel).pathlist,
                sort_pathkeys,
                core::ptr::null_mut(),
                pg_sys::CostSelector::TOTAL_COST,
                false,
            );
            if p.is_null() {
                let cheapest = (*crel).cheapest_total_path;
                if cheapest.is_null() || !(*cheapest).param_info.is_null() {
                    return None;
                }
                p = pg_sys::create_sort_path(root, crel, cheapest, sort_pathkeys, -1.0)
                    as *mut pg_sys::Path;
            }
            // The child plan computes the distance and the columns from the heap tuple:
            // an index-only scan (none of ours, but another access method's) has only
            // the index's columns.
            if !(*p).param_info.is_null() || (*p).pathtype == pg_sys::NodeTag::T_IndexOnlyScan {
                return None;
            }
            let mut exprs: *mut pg_sys::List = core::ptr::null_mut();
            let mut parent_exprs = vec![dist];
            parent_exprs.extend(vars.iter().map(|v| *v as *mut pg_sys::Node));
            for e in parent_exprs {
                let copy = pg_sys::copyObjectImpl(e as *const c_void) as *mut pg_sys::Node;
                let t = pg_sys::adjust_appendrel_attrs_multilevel(
                    root,
                    copy,
                    (*crel).relids,
                    (*rel).relids,
                );
                exprs = pg_sys::lappend(exprs, t as *mut c_void);
            }
            local_paths = pg_sys::lappend(local_paths, p as *mut c_void);
            local_tlists = pg_sys::lappend(local_tlists, exprs as *mut c_void);
            local_names.push(cstr(pg_sys::get_rel_name((*crte).relid)));
            // Only the first k rows of each are read.
            let frac = (limit_rows / (*p).rows.max(1.0)).min(1.0);
            local_startup += (*p).startup_cost;
            local_total += (*p).startup_cost + frac * ((*p).total_cost - (*p).startup_cost);
        }
        let pgfdw_ext = pg_sys::get_extension_oid(c"postgres_fdw".as_ptr(), true);
        if pgfdw_ext == pg_sys::InvalidOid {
            return None;
        }
        for &c in &leaves_rti {
            let crte = *(*root).simple_rte_array.add(c);
            let ft = pg_sys::GetForeignTable((*crte).relid);
            let server = pg_sys::GetForeignServer((*ft).serverid);
            let wrapper = pg_sys::GetForeignDataWrapper((*server).fdwid);
            if (*wrapper).fdwhandler == pg_sys::InvalidOid
                || pg_sys::getExtensionOfObject(pg_sys::ProcedureRelationId, (*wrapper).fdwhandler)
                    != pgfdw_ext
            {
                return None;
            }
            if (*(*(*root).simple_rel_array.add(c))).fdw_private.is_null() {
                return None;
            }
        }
        let fdw = ffi::fdw()?;

        let parent_oid = (*rte).relid;
        let type_name = cstr(pg_sys::format_type_extended(
            query_type,
            -1,
            (pg_sys::FORMAT_TYPE_TYPEMOD_GIVEN | pg_sys::FORMAT_TYPE_FORCE_QUALIFY) as u16,
        ));
        let attname =
            |attno: i16| -> String { cstr(pg_sys::get_attname(parent_oid, attno, false)) };

        let mut custom_exprs: *mut pg_sys::List = core::ptr::null_mut();
        custom_exprs =
            pg_sys::lappend(custom_exprs, pg_sys::copyObjectImpl(query as *const c_void));
        custom_exprs = pg_sys::lappend(
            custom_exprs,
            pg_sys::copyObjectImpl(q.limitCount as *const c_void),
        );
        let offset = if q.limitOffset.is_null() {
            pg_sys::makeConst(
                pg_sys::Oid::from(INT8OID),
                -1,
                pg_sys::InvalidOid,
                8,
                pg_sys::Datum::from(0i64),
                false,
                true,
            ) as *mut c_void
        } else {
            pg_sys::copyObjectImpl(q.limitOffset as *const c_void)
        };
        custom_exprs = pg_sys::lappend(custom_exprs, offset);

        let mut leaves = Vec::new();
        for &c in &leaves_rti {
            let crte = *(*root).simple_rte_array.add(c);
            let crel = *(*root).simple_rel_array.add(c);
            let relid = (*crte).relid;
            let (where_sql, params) = deparse_where(fdw, root, crel)?;
            let nparams = list_len(params);
            let ft = pg_sys::GetForeignTable(relid);
            let server = pg_sys::GetForeignServer((*ft).serverid);
            let schema = option((*ft).options, "schema_name").unwrap_or_else(|| {
                cstr(pg_sys::get_namespace_name(pg_sys::get_rel_namespace(relid)))
            });
            let table = option((*ft).options, "table_name")
                .unwrap_or_else(|| cstr(pg_sys::get_rel_name(relid)));
            let remote_col = |attno: i16| -> Option<String> {
                let name = attname(attno);
                let cname = CString::new(name.clone()).ok()?;
                let cattno = pg_sys::get_attnum(relid, cname.as_ptr());
                if cattno <= 0 {
                    return None;
                }
                let opts = pg_sys::GetForeignColumnOptions(relid, cattno);
                Some(quote_ident(&option(opts, "column_name").unwrap_or(name)))
            };
            let vcol = remote_col((*var).varattno)?;
            let qparam = format!("${}::{}", nparams + 1, type_name);
            let dist_sql = if var_left {
                format!("({vcol} OPERATOR({op_schema}.{op_name}) {qparam})")
            } else {
                format!("({qparam} OPERATOR({op_schema}.{op_name}) {vcol})")
            };
            let mut select = vec![dist_sql.clone()];
            for v in &vars {
                select.push(remote_col((**v).varattno)?);
            }
            let sql = format!(
                "SELECT {} FROM {}.{}{} ORDER BY {} LIMIT ${}::pg_catalog.int8",
                select.join(", "),
                quote_ident(&schema),
                quote_ident(&table),
                where_sql,
                dist_sql,
                nparams + 2
            );
            let param_start = list_len(custom_exprs);
            for i in 0..nparams {
                custom_exprs = pg_sys::lappend(
                    custom_exprs,
                    pg_sys::copyObjectImpl(list_nth::<c_void>(params, i)),
                );
            }
            leaves.push(Leaf {
                server_oid: u32::from((*ft).serverid),
                rel_oid: u32::from(relid),
                server_name: cstr((*server).servername),
                rel_name: cstr(pg_sys::get_rel_name(relid)),
                sql,
                param_start,
                param_count: nparams,
            });
        }

        // Scan tuple: the distance, then the columns, in the remote SELECT's order.
        let mut scan_tlist: *mut pg_sys::List = core::ptr::null_mut();
        let dist_copy = pg_sys::copyObjectImpl(dist as *const c_void) as *mut pg_sys::Expr;
        scan_tlist = pg_sys::lappend(
            scan_tlist,
            pg_sys::makeTargetEntry(dist_copy, 1, core::ptr::null_mut(), false) as *mut c_void,
        );
        for (i, v) in vars.iter().enumerate() {
            let vc = pg_sys::copyObjectImpl(*v as *const c_void) as *mut pg_sys::Expr;
            scan_tlist = pg_sys::lappend(
                scan_tlist,
                pg_sys::makeTargetEntry(vc, (i + 2) as i16, core::ptr::null_mut(), false)
                    as *mut c_void,
            );
        }

        let info = PlanInfo {
            leaves,
            locals: local_names,
        }
        .encode();
        let info_c = CString::new(info).ok()?;
        let mut private: *mut pg_sys::List = core::ptr::null_mut();
        private = pg_sys::lappend(
            private,
            pg_sys::makeString(pg_sys::pstrdup(info_c.as_ptr())) as *mut c_void,
        );
        private = pg_sys::lappend(private, custom_exprs as *mut c_void);
        private = pg_sys::lappend(private, scan_tlist as *mut c_void);
        private = pg_sys::lappend(private, local_tlists as *mut c_void);

        let rows = limit_rows;
        let path =
            pg_sys::palloc0(core::mem::size_of::<pg_sys::CustomPath>()) as *mut pg_sys::CustomPath;
        (*path).path.type_ = pg_sys::NodeTag::T_CustomPath;
        (*path).path.pathtype = pg_sys::NodeTag::T_CustomScan;
        (*path).path.parent = output_rel;
        (*path).path.pathtarget = target;
        (*path).path.param_info = core::ptr::null_mut();
        (*path).path.parallel_aware = false;
        (*path).path.parallel_safe = false;
        (*path).path.parallel_workers = 0;
        (*path).path.rows = rows.clamp(1.0, 1e9);
        // Cheaper than any ordinary plan: the remote servers do the work with their
        // indexes (the local partitions cost what they cost in any plan).
        (*path).path.startup_cost = local_startup;
        (*path).path.total_cost = local_total + 0.01 * (*path).path.rows;
        (*path).path.pathkeys = (*root).sort_pathkeys;
        (*path).flags = 0;
        (*path).custom_paths = local_paths;
        (*path).custom_private = private;
        (*path).methods = &raw const PATH_METHODS;
        pg_sys::add_path(output_rel, path as *mut pg_sys::Path);
        Some(())
    }
}

#[pgrx::pg_guard]
unsafe extern "C-unwind" fn plan_custom_path(
    _root: *mut pg_sys::PlannerInfo,
    _rel: *mut pg_sys::RelOptInfo,
    best_path: *mut pg_sys::CustomPath,
    tlist: *mut pg_sys::List,
    clauses: *mut pg_sys::List,
    custom_plans: *mut pg_sys::List,
) -> *mut pg_sys::Plan {
    // SAFETY: best_path is the path built by try_add_path, its custom_private holds the
    // four entries written there; custom_plans are the plans of its custom_paths, in
    // the order of the translated target lists.
    unsafe {
        if !clauses.is_null() {
            pgrx::error!("pgvector_rs: unexpected quals on a distributed top-k path");
        }
        let private = (*best_path).custom_private;
        let cs =
            pg_sys::palloc0(core::mem::size_of::<pg_sys::CustomScan>()) as *mut pg_sys::CustomScan;
        (*cs).scan.plan.type_ = pg_sys::NodeTag::T_CustomScan;
        (*cs).scan.plan.targetlist = tlist;
        (*cs).scan.plan.qual = core::ptr::null_mut();
        (*cs).scan.scanrelid = 0;
        (*cs).flags = 0;
        // Each local partition's plan outputs the scan tuple: (distance, columns).
        let tlists = list_nth::<pg_sys::List>(private, 3);
        if list_len(tlists) != list_len(custom_plans) {
            pgrx::error!("pgvector_rs: distributed top-k path with mismatched local plans");
        }
        let mut plans: *mut pg_sys::List = core::ptr::null_mut();
        for i in 0..list_len(custom_plans) {
            let exprs = list_nth::<pg_sys::List>(tlists, i);
            let mut tlist: *mut pg_sys::List = core::ptr::null_mut();
            for j in 0..list_len(exprs) {
                let e = list_nth::<pg_sys::Expr>(exprs, j);
                tlist = pg_sys::lappend(
                    tlist,
                    pg_sys::makeTargetEntry(e, (j + 1) as i16, core::ptr::null_mut(), false)
                        as *mut c_void,
                );
            }
            let child = list_nth::<pg_sys::Plan>(custom_plans, i);
            plans = pg_sys::lappend(
                plans,
                pg_sys::change_plan_targetlist(child, tlist, false) as *mut c_void,
            );
        }
        (*cs).custom_plans = plans;
        (*cs).custom_exprs = list_nth::<pg_sys::List>(private, 1);
        (*cs).custom_private =
            pg_sys::lappend(core::ptr::null_mut(), list_nth::<c_void>(private, 0));
        (*cs).custom_scan_tlist = list_nth::<pg_sys::List>(private, 2);
        (*cs).methods = &raw const super::exec::SCAN_METHODS;
        cs as *mut pg_sys::Plan
    }
}

#[allow(dead_code)]
fn _assert_types(_: *const c_char) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_info_round_trips_any_text() {
        let info = PlanInfo {
            leaves: vec![
                Leaf {
                    server_oid: 4294967295,
                    rel_oid: 16384,
                    server_name: "shard:1".into(),
                    rel_name: "it\"ems 1".into(),
                    sql: "SELECT 1:2 FROM \"a:b\" WHERE x = '9:'".into(),
                    param_start: 3,
                    param_count: 2,
                },
                Leaf {
                    server_oid: 1,
                    rel_oid: 2,
                    server_name: String::new(),
                    rel_name: "é".into(),
                    sql: "".into(),
                    param_start: 5,
                    param_count: 0,
                },
            ],
            locals: vec!["p:2".into(), String::new()],
        };
        assert_eq!(PlanInfo::decode(&info.encode()), Some(info));
        assert_eq!(PlanInfo::decode("3:ab"), None);
        let none = PlanInfo {
            leaves: vec![],
            locals: vec![],
        };
        assert_eq!(PlanInfo::decode(&none.encode()), Some(none));
    }
}
