//! `run`: the benchmark itself — ground truth, load, build, sweep, report.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{ensure, Result};

use crate::cli::RunArgs;
use crate::dataset::{Dataset, Matrix};
use crate::db::{self, query, SizeOf, VectorTable};
use crate::groundtruth::BaseScorer;
use crate::latency::LatencySummary;
use crate::metric::Metric;
use crate::progress;
use crate::recall::RecallEvaluator;
use crate::report::{self, ResultRecord, RunInfo, SweepPoint};
use crate::sweep::Workload;
use crate::target;

pub fn run(args: &RunArgs) -> Result<()> {
    db::check_identifier(&args.table, "table name")?;
    let index = args
        .index
        .as_deref()
        .filter(|ddl| !ddl.eq_ignore_ascii_case("none"));
    if let Some(ddl) = index {
        db::check_index_ddl(ddl)?;
    }
    ensure!(args.k > 0, "-k must be at least 1");
    ensure!(args.queries != Some(0), "--queries must be at least 1");
    ensure!(
        args.target_recall.iter().all(|&t| t > 0.0 && t <= 1.0),
        "--target-recall values must be in (0, 1]"
    );
    ensure!(
        !args.clients.is_empty() && args.clients.iter().all(|&c| c > 0),
        "--clients needs positive counts"
    );

    let dataset = super::load_dataset(&args.dataset)?;
    let metric = super::choose_metric(args.metric, &dataset);
    let queries = super::first_queries(&dataset, args.queries);
    let truth = ground_truth(args, &dataset, &queries, metric)?;
    let scorer = BaseScorer::new(metric, &dataset.base);
    if !args.recompute_gt {
        check_shipped_distances(&dataset, &queries, &scorer);
    }
    let evaluator = if args.no_ties {
        RecallEvaluator::new(args.k, &truth)
    } else {
        RecallEvaluator::new(args.k, &truth).with_ties(&scorer, &queries)
    };

    let run = prepare_server(args, &dataset, metric, index, queries.rows())?;
    progress::status(
        report::markdown(&run, &[])
            .lines()
            .take(3)
            .collect::<Vec<_>>()
            .join("\n"),
    );

    let literals: Vec<String> = queries.iter_rows().map(query::vector_literal).collect();
    let sql = query::knn_sql(&args.table, metric, args.column_type, args.k);
    let workload = Workload {
        url: &args.url,
        setup: &args.setup,
        sql: &sql,
        literals: &literals,
        warmup: args.warmup,
    };
    check_plan(
        args,
        &sql,
        &literals[0],
        index.map(|_| VectorTable::index_name_for(&args.table)),
    )?;
    let mut points = Vec::new();
    for value in &args.sweep.values {
        let setting = args.sweep.guc.as_deref().map(|guc| (guc, value.as_str()));
        for &clients in &args.clients {
            let phase = match setting {
                Some((guc, value)) => format!("{guc}={value}, {clients} client(s)"),
                None => format!("{clients} client(s)"),
            };
            let point = measure_point(
                &workload,
                &evaluator,
                &phase,
                args.sweep.guc.clone(),
                setting,
                clients,
            )?;
            progress::status(format!(
                "{phase}: recall@{} {:.3}, {} QPS, p50 {} ms, p99 {} ms",
                args.k,
                point.recall,
                report::format_sig3(point.qps),
                report::format_sig3(point.latency.p50_ms),
                report::format_sig3(point.latency.p99_ms)
            ));
            save_point(args, &run, &point)?;
            points.push(point);
        }
    }
    let mut targets = Vec::new();
    for &target in &args.target_recall {
        let value = target.to_string();
        let setting = Some((target::TARGET_GUC, value.as_str()));
        let chosen = chosen_setting(args, &sql, &literals[0], &value)?;
        for &clients in &args.clients {
            let phase = format!("{}={value}, {clients} client(s)", target::TARGET_GUC);
            let point = measure_point(
                &workload,
                &evaluator,
                &phase,
                Some(target::TARGET_GUC.to_string()),
                setting,
                clients,
            )?;
            progress::status(format!(
                "{phase} ({}): recall@{} {:.3}, {} QPS, p50 {} ms",
                chosen.as_deref().unwrap_or("setting not reported"),
                args.k,
                point.recall,
                report::format_sig3(point.qps),
                report::format_sig3(point.latency.p50_ms),
            ));
            save_point(args, &run, &point)?;
            targets.push(target::TargetPoint {
                target: value.clone(),
                chosen: chosen.clone(),
                point,
            });
        }
    }
    print!("{}", report::markdown(&run, &points));
    if !targets.is_empty() {
        print!("{}", target::markdown(args.k, &targets, &points));
    }
    let points: Vec<SweepPoint> = points
        .into_iter()
        .chain(targets.into_iter().map(|t| t.point))
        .collect();
    if let Some(min) = args.min_recall {
        let low: Vec<String> = points
            .iter()
            .filter(|p| p.recall < min)
            .map(|p| {
                format!(
                    "{} (recall {:.3})",
                    p.value.as_deref().unwrap_or("default"),
                    p.recall
                )
            })
            .collect();
        anyhow::ensure!(
            low.is_empty(),
            "recall@{} below {min} at: {}",
            args.k,
            low.join(", ")
        );
    }
    Ok(())
}

/// The dataset's ground truth if it is usable, else freshly computed.
fn ground_truth(
    args: &RunArgs,
    dataset: &Dataset,
    queries: &Matrix<f32>,
    metric: Metric,
) -> Result<Matrix<i64>> {
    let shipped = dataset.neighbors.as_ref().filter(|_| !args.recompute_gt);
    match shipped {
        Some(neighbors) if neighbors.cols() >= args.k => {
            let mut truth = neighbors.first_cols(args.k)?;
            truth.truncate_rows(queries.rows());
            Ok(truth)
        }
        Some(neighbors) => {
            progress::status(format!(
                "the dataset's ground truth has {} neighbours per query, fewer than k = {}: recomputing",
                neighbors.cols(),
                args.k
            ));
            Ok(super::compute_ground_truth(dataset, queries, metric, args.k).ids)
        }
        None => Ok(super::compute_ground_truth(dataset, queries, metric, args.k).ids),
    }
}

/// Shows the query plan, and warns when an index was built but the planner
/// does not use it (say, an operator class for another --metric): the sweep
/// would then measure a sequential scan.
fn check_plan(args: &RunArgs, sql: &str, literal: &str, index_name: Option<String>) -> Result<()> {
    let mut client = db::connect(&args.url)?;
    db::run_statements(&mut client, &args.setup)?;
    let plan = query::explain(&mut client, sql, literal)?;
    // Plan lines quote the whole query vector; the start of each line says enough.
    let shortened: Vec<String> = plan
        .lines()
        .map(|line| match line.char_indices().nth(100) {
            Some((cut, _)) => format!("{}…", &line[..cut]),
            None => line.to_string(),
        })
        .collect();
    progress::status(format!("query plan:\n{}", shortened.join("\n")));
    if let Some(index_name) = index_name {
        if !plan.contains(&index_name) {
            progress::status(format!(
                "warning: the plan does not use {index_name}; check the operator class against --metric"
            ));
        }
    }
    Ok(())
}

/// The setting the server chooses under recall target `value`, from the
/// line pgvector_rs adds to EXPLAIN. One query first loads the library (the
/// first statement of a session that loads it gets no EXPLAIN line).
fn chosen_setting(args: &RunArgs, sql: &str, literal: &str, value: &str) -> Result<Option<String>> {
    let mut client = db::connect(&args.url)?;
    db::run_statements(&mut client, &args.setup)?;
    client.query(sql, &[&query::TextParam(literal)])?;
    client.execute(
        "SELECT set_config($1, $2, false)",
        &[&target::TARGET_GUC, &value],
    )?;
    let plan = query::explain(&mut client, sql, literal)?;
    Ok(target::chosen_setting(&plan))
}

/// Compares shipped nearest-neighbour distances with ours: a mismatch most
/// likely means the wrong --metric, which would make every recall wrong.
fn check_shipped_distances(dataset: &Dataset, queries: &Matrix<f32>, scorer: &BaseScorer) {
    let (Some(neighbors), Some(distances)) = (&dataset.neighbors, &dataset.distances) else {
        return;
    };
    for q in 0..queries.rows().min(10) {
        let ours = scorer
            .for_query(queries.row(q))
            .distance(neighbors.row(q)[0] as usize);
        let theirs = distances.row(q)[0];
        if (ours - theirs).abs() > 1e-3 * theirs.abs().max(1.0) {
            progress::status(format!(
                "warning: query {q}: the dataset gives distance {theirs} to its nearest neighbour, \
                 this metric gives {ours}; is --metric right?"
            ));
            return;
        }
    }
}

/// Connects, creates the extension, loads the table and builds the index as
/// needed, and returns what the report says about them.
fn prepare_server(
    args: &RunArgs,
    dataset: &Dataset,
    metric: Metric,
    index: Option<&str>,
    queries: usize,
) -> Result<RunInfo> {
    let mut client = db::connect(&args.url)?;
    db::run_statements(&mut client, &args.setup)?;
    let server_version = db::server_version(&mut client)?;
    let extension_version = db::ensure_extension(&mut client, &args.extension)?;
    let table = VectorTable {
        name: args.table.clone(),
        column: args.column_type,
        dim: dataset.base.cols(),
        fingerprint: fingerprint(dataset, args),
    };

    let load_s = if table.prepare(&mut client, args.reuse)? {
        let bar = progress::bar(dataset.base.rows() as u64, "load (COPY BINARY)");
        let elapsed = table.load(&mut client, &dataset.base, &bar)?;
        bar.finish_and_clear();
        progress::status(format!(
            "loaded {} rows in {:.1} s",
            dataset.base.rows(),
            elapsed.as_secs_f64()
        ));
        Some(elapsed.as_secs_f64())
    } else {
        progress::status(format!("reusing table {} (same data)", table.name));
        None
    };
    let build_s = match index {
        Some(ddl) if table.prepare_index(&mut client, Some(ddl), args.reuse)? => {
            let bar = progress::bar(dataset.base.rows() as u64, "build index");
            let elapsed = table.build_index(&args.url, &mut client, ddl, &bar)?;
            bar.finish_and_clear();
            progress::status(format!("built the index in {:.1} s", elapsed.as_secs_f64()));
            Some(elapsed.as_secs_f64())
        }
        Some(_) => {
            progress::status(format!("reusing index {} (same DDL)", table.index_name()));
            None
        }
        None => {
            table.prepare_index(&mut client, None, args.reuse)?;
            None
        }
    };
    let index_bytes = index
        .map(|_| db::relation_size(&mut client, &table.index_name(), SizeOf::Index))
        .transpose()?;
    let table_bytes = db::relation_size(&mut client, &table.name, SizeOf::Table)?;
    let timestamp = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    Ok(RunInfo {
        run_id: format!("{timestamp}-{}", std::process::id()),
        label: args.label.clone().unwrap_or_else(|| args.extension.clone()),
        timestamp,
        dataset: dataset.name.clone(),
        rows: dataset.base.rows(),
        dim: dataset.base.cols(),
        metric,
        k: args.k,
        queries,
        server: db::redact_url(&args.url),
        server_version,
        extension: args.extension.clone(),
        extension_version,
        column_type: args.column_type,
        index: index.map(String::from),
        load_s,
        build_s,
        index_bytes,
        table_bytes,
    })
}

/// Identifies the loaded data for `--reuse`: dataset name, shape, column
/// type, extension, and a checksum of the vectors.
fn fingerprint(dataset: &Dataset, args: &RunArgs) -> String {
    // FNV-1a over the f32 bit patterns: stable across builds, unlike std's hasher.
    let checksum = dataset
        .base
        .as_slice()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325u64, |hash, x| {
            (hash ^ u64::from(x.to_bits())).wrapping_mul(0x0000_0100_0000_01b3)
        });
    format!(
        "pgvector_rs-bench: dataset={} rows={} dim={} type={} extension={} checksum={checksum:016x}",
        dataset.name,
        dataset.base.rows(),
        dataset.base.cols(),
        args.column_type.sql_name(),
        args.extension
    )
}

/// Runs the query set once under `setting` with `clients` connections (a
/// progress bar named `phase`) and scores it.
fn measure_point(
    workload: &Workload,
    evaluator: &RecallEvaluator,
    phase: &str,
    guc: Option<String>,
    setting: Option<(&str, &str)>,
    clients: usize,
) -> Result<SweepPoint> {
    let bar = progress::bar(workload.literals.len() as u64, phase);
    let measurement = workload.measure(setting, clients, &bar)?;
    bar.finish_and_clear();
    Ok(SweepPoint {
        guc,
        value: setting.map(|(_, value)| value.to_string()),
        clients,
        recall: evaluator.mean_recall(&measurement.results),
        qps: measurement.qps(),
        latency: LatencySummary::from_ms(&measurement.latencies_ms),
    })
}

/// Appends a measured point to `--out` as we go, so an interrupted run
/// keeps what it measured.
fn save_point(args: &RunArgs, run: &RunInfo, point: &SweepPoint) -> Result<()> {
    if let Some(out) = &args.out {
        report::append_jsonl(
            out,
            &[ResultRecord {
                run: run.clone(),
                point: point.clone(),
            }],
        )?;
    }
    Ok(())
}
