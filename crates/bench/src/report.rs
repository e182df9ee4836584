//! Results: JSON lines (one per run × setting × client count) and the
//! Markdown table laid out like `/work/shared/baselines/README.md`.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::db::ColumnType;
use crate::latency::LatencySummary;
use crate::metric::Metric;

/// What is shared by every measurement of one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// Unique per invocation, so repeated runs under one label stay apart.
    pub run_id: String,
    pub label: String,
    /// Seconds since the Unix epoch at the start of the run.
    pub timestamp: u64,
    pub dataset: String,
    pub rows: usize,
    pub dim: usize,
    pub metric: Metric,
    pub k: usize,
    pub queries: usize,
    /// Connection string with the password removed.
    pub server: String,
    pub server_version: String,
    pub extension: String,
    pub extension_version: String,
    pub column_type: ColumnType,
    /// The `USING ...` clause, or `None` for exact search.
    pub index: Option<String>,
    /// `None` when the data or index was reused rather than built.
    pub load_s: Option<f64>,
    pub build_s: Option<f64>,
    pub index_bytes: Option<i64>,
    pub table_bytes: i64,
}

/// One measured setting.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepPoint {
    /// The swept setting (e.g. `hnsw.ef_search`) and its value, if any.
    pub guc: Option<String>,
    pub value: Option<String>,
    pub clients: usize,
    /// Mean recall@k over the queries.
    pub recall: f64,
    pub qps: f64,
    #[serde(flatten)]
    pub latency: LatencySummary,
}

/// One line of the results file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResultRecord {
    #[serde(flatten)]
    pub run: RunInfo,
    #[serde(flatten)]
    pub point: SweepPoint,
}

/// Appends records to a JSON-lines file (created if missing).
pub fn append_jsonl(path: &Path, records: &[ResultRecord]) -> Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    let mut text = String::new();
    for record in records {
        text.push_str(&serde_json::to_string(record)?);
        text.push('\n');
    }
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

/// Reads a JSON-lines results file; blank lines are skipped.
pub fn read_jsonl(path: &Path) -> Result<Vec<ResultRecord>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut records = Vec::new();
    for (number, line) in BufReader::new(file).lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        records.push(
            serde_json::from_str(&line)
                .with_context(|| format!("{} line {}", path.display(), number + 1))?,
        );
    }
    Ok(records)
}

/// Three significant digits without exponent: 1218, 26.7, 4.22, 0.79.
pub fn format_sig3(value: f64) -> String {
    if value == 0.0 || !value.is_finite() {
        return format!("{value}");
    }
    let magnitude = value.abs().log10().floor() as i32;
    let decimals = (2 - magnitude).max(0) as usize;
    format!("{value:.decimals$}")
}

/// Bytes as MiB with one decimal (the baselines' "MB" are MiB).
pub fn format_mib(bytes: i64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// The run's heading, its summary line and the result table.
pub fn markdown(run: &RunInfo, points: &[SweepPoint]) -> String {
    let mut out = String::new();
    let what = match &run.index {
        Some(index) => index.clone(),
        None => "exact search (no index)".to_string(),
    };
    let _ = writeln!(
        out,
        "## {}: {} {}, {}",
        run.label, run.extension, run.extension_version, what
    );
    let _ = writeln!(
        out,
        "{} ({} × {}, {}), k = {}, {} queries, PostgreSQL {}.",
        run.dataset,
        run.rows,
        run.dim,
        run.metric.name(),
        run.k,
        run.queries,
        run.server_version
    );
    let seconds = |s: Option<f64>| s.map_or("reused".to_string(), |s| format!("{s:.1} s"));
    let mut summary = Vec::new();
    if run.index.is_some() {
        summary.push(format!("Build {}.", seconds(run.build_s)));
        summary.push(format!(
            "Index {}.",
            run.index_bytes.map_or("?".into(), format_mib)
        ));
    }
    summary.push(format!("Table {}.", format_mib(run.table_bytes)));
    summary.push(format!("Load {}.", seconds(run.load_s)));
    let _ = writeln!(out, "{}\n", summary.join(" "));

    let guc = points
        .iter()
        .find_map(|p| p.guc.clone())
        .unwrap_or_else(|| "setting".to_string());
    let _ = writeln!(
        out,
        "| {guc} | recall@{} | QPS | p50 ms | p95 ms | p99 ms | clients |",
        run.k
    );
    let _ = writeln!(out, "| --- | --- | --- | --- | --- | --- | --- |");
    let mut ordered: Vec<&SweepPoint> = points.iter().collect();
    // Stable: settings keep their sweep order within each client count.
    ordered.sort_by_key(|p| p.clients);
    for p in ordered {
        let _ = writeln!(
            out,
            "| {} | {:.3} | {} | {} | {} | {} | {} |",
            p.value.as_deref().unwrap_or("default"),
            p.recall,
            format_sig3(p.qps),
            format_sig3(p.latency.p50_ms),
            format_sig3(p.latency.p95_ms),
            format_sig3(p.latency.p99_ms),
            p.clients
        );
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn sample_run(label: &str, index: Option<&str>) -> RunInfo {
        RunInfo {
            run_id: format!("{label}-1"),
            label: label.into(),
            timestamp: 1_700_000_000,
            dataset: "toy".into(),
            rows: 100_000,
            dim: 384,
            metric: Metric::Cosine,
            k: 10,
            queries: 1000,
            server: "postgresql://u@localhost:5499/postgres".into(),
            server_version: "15.20".into(),
            extension: "vector".into(),
            extension_version: "0.8.0".into(),
            column_type: ColumnType::Vector,
            index: index.map(String::from),
            load_s: Some(9.04),
            build_s: index.map(|_| 47.93),
            index_bytes: index.map(|_| 204_800_000),
            table_bytes: 163_840_000,
        }
    }

    pub(crate) fn sample_point(value: &str, clients: usize, recall: f64, qps: f64) -> SweepPoint {
        SweepPoint {
            guc: Some("hnsw.ef_search".into()),
            value: Some(value.into()),
            clients,
            recall,
            qps,
            latency: LatencySummary {
                p50_ms: 0.7912,
                p95_ms: 1.5,
                p99_ms: 12.345,
                mean_ms: 0.9,
            },
        }
    }

    #[test]
    fn formats_numbers_like_the_baselines() {
        assert_eq!(format_sig3(1218.4), "1218");
        assert_eq!(format_sig3(26.71), "26.7");
        assert_eq!(format_sig3(4.2249), "4.22");
        assert_eq!(format_sig3(0.7912), "0.791");
        assert_eq!(format_mib(163_840_000), "156.2 MiB");
    }

    #[test]
    fn markdown_table_has_the_baseline_columns() {
        let run = sample_run("pgvector", Some("USING hnsw (emb vector_cosine_ops)"));
        let points = [
            sample_point("10", 1, 0.8123, 1218.4),
            sample_point("10", 4, 0.8123, 2500.0),
            sample_point("20", 1, 0.891, 964.0),
        ];
        let text = markdown(&run, &points);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "## pgvector: vector 0.8.0, USING hnsw (emb vector_cosine_ops)"
        );
        assert_eq!(
            lines[2],
            "Build 47.9 s. Index 195.3 MiB. Table 156.2 MiB. Load 9.0 s."
        );
        assert_eq!(
            lines[4],
            "| hnsw.ef_search | recall@10 | QPS | p50 ms | p95 ms | p99 ms | clients |"
        );
        assert_eq!(lines[6], "| 10 | 0.812 | 1218 | 0.791 | 1.50 | 12.3 | 1 |");
        // One-client rows first, in sweep order, then the 4-client row.
        assert_eq!(lines[7], "| 20 | 0.891 | 964 | 0.791 | 1.50 | 12.3 | 1 |");
        assert!(lines[8].ends_with("| 4 |"));
    }

    #[test]
    fn exact_search_header_has_no_index_figures() {
        let mut point = sample_point("", 1, 1.0, 14.0);
        point.guc = None;
        point.value = None;
        let text = markdown(&sample_run("exact", None), &[point]);
        assert!(text.contains("exact search (no index)"));
        assert!(text.contains("\nTable 156.2 MiB. Load 9.0 s.\n"));
        assert!(text.contains("| setting | recall@10 |"));
        assert!(text.contains("| default | 1.000 | 14.0 |"));
    }

    #[test]
    fn json_lines_round_trip_and_append() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.jsonl");
        let first = ResultRecord {
            run: sample_run("a", None),
            point: sample_point("10", 1, 0.5, 10.0),
        };
        let second = ResultRecord {
            run: sample_run("b", Some("USING ivfflat")),
            point: sample_point("20", 4, 0.9, 5.0),
        };
        append_jsonl(&path, std::slice::from_ref(&first)).unwrap();
        append_jsonl(&path, std::slice::from_ref(&second)).unwrap();
        assert_eq!(read_jsonl(&path).unwrap(), vec![first, second]);
        // Flat objects: every field at the top level, for jq and pandas.
        let text = std::fs::read_to_string(&path).unwrap();
        let value: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(value["p50_ms"], 0.7912);
        assert_eq!(value["metric"], "cosine");
        assert_eq!(value["guc"], "hnsw.ef_search");

        std::fs::write(&path, "{not json}\n").unwrap();
        let err = format!("{:#}", read_jsonl(&path).unwrap_err());
        assert!(err.contains("line 1"), "{err}");
    }
}
