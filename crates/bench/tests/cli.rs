//! End-to-end checks of the binary that need no PostgreSQL server.

use std::path::Path;
use std::process::{Command, Output};

use pgvector_rs_bench::dataset::npy::{read_npy, write_npy};

fn bench(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pgvector_rs-bench"))
        .args(args)
        .output()
        .expect("run the binary")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A 6 × 2 dataset in a .npy directory: points on a line, queries near 0 and 5.
fn write_tiny_dataset(dir: &Path) {
    let base: Vec<u8> = (0..6)
        .flat_map(|i| [i as f32, 0.0])
        .flat_map(f32::to_le_bytes)
        .collect();
    write_npy(&dir.join("base.npy"), "<f4", &[6, 2], &base).unwrap();
    let query: Vec<u8> = [0.2f32, 0.0, 4.9, 0.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    write_npy(&dir.join("query.npy"), "<f4", &[2, 2], &query).unwrap();
}

#[test]
fn groundtruth_command_writes_exact_neighbours() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_dataset(dir.path());
    let out = dir.path().join("gt");
    let output = bench(&[
        "groundtruth",
        "--dataset",
        dir.path().to_str().unwrap(),
        "--metric",
        "l2",
        "-k",
        "3",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let ids = read_npy(&out.join("neighbors.npy"))
        .unwrap()
        .into_i64_matrix()
        .unwrap();
    assert_eq!(ids.as_slice(), &[0, 1, 2, 5, 4, 3]);
    let distances = read_npy(&out.join("distances.npy"))
        .unwrap()
        .into_f32_matrix()
        .unwrap();
    assert!((distances.row(0)[0] - 0.2).abs() < 1e-6);
}

#[test]
fn plot_command_draws_every_run() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("results.jsonl");
    let line = |label: &str, value: u32, recall: f64, qps: f64| {
        format!(
            r#"{{"run_id":"{label}-1","label":"{label}","timestamp":1,"dataset":"d","rows":6,"dim":2,"metric":"cosine","k":10,"queries":2,"server":"s","server_version":"15","extension":"vector","extension_version":"0.8.0","column_type":"vector","index":"USING hnsw (emb vector_cosine_ops)","load_s":1.0,"build_s":2.0,"index_bytes":8192,"table_bytes":8192,"guc":"hnsw.ef_search","value":"{value}","clients":1,"recall":{recall},"qps":{qps},"p50_ms":1.0,"p95_ms":2.0,"p99_ms":3.0,"mean_ms":1.2}}"#
        )
    };
    let text = [
        line("pgvector", 10, 0.81, 1200.0),
        line("pgvector", 40, 0.93, 600.0),
        line("pgvector_rs", 10, 0.85, 1500.0),
    ]
    .join("\n");
    std::fs::write(&results, text).unwrap();
    let svg = dir.path().join("plot.svg");
    let output = bench(&[
        "plot",
        "--in",
        results.to_str().unwrap(),
        "--out",
        svg.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let svg = std::fs::read_to_string(svg).unwrap();
    assert_eq!(svg.matches("<polyline").count(), 2);
    assert!(svg.contains(">pgvector_rs</text>"));

    let output = bench(&[
        "plot",
        "--in",
        results.to_str().unwrap(),
        "--out",
        "x.svg",
        "--label",
        "nope",
    ]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("no results to plot"));
}

#[test]
fn run_reports_unreachable_server_clearly() {
    let dir = tempfile::tempdir().unwrap();
    write_tiny_dataset(dir.path());
    // Port 1 on loopback: nothing listens, so the connection is refused at once.
    let output = bench(&[
        "run",
        "--dataset",
        dir.path().to_str().unwrap(),
        "--url",
        "postgresql://postgres:secret@127.0.0.1:1/postgres",
        "--extension",
        "vector",
    ]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(
        err.contains("connecting to postgresql://postgres:***@127.0.0.1:1/postgres"),
        "{err}"
    );
    assert!(
        !err.contains("secret"),
        "the password must not be printed: {err}"
    );
    // The ground truth (none shipped) was computed before connecting.
    assert!(err.contains("computed exact ground truth"), "{err}");
}

#[test]
fn run_rejects_bad_arguments_before_any_work() {
    let output = bench(&[
        "run",
        "--dataset",
        "/nonexistent",
        "--url",
        "postgresql://x@127.0.0.1:1/x",
        "--extension",
        "vector",
        "--index",
        "hnsw (emb vector_cosine_ops)",
    ]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("--index takes what follows"),
        "{}",
        stderr(&output)
    );

    let output = bench(&[
        "run",
        "--url",
        "u",
        "--extension",
        "vector",
        "--sweep",
        "hnsw.ef_search",
    ]);
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("expected SETTING=V1,V2"),
        "{}",
        stderr(&output)
    );
}
