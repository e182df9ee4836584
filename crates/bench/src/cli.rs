//! Command-line interface.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::dataset::DatasetSource;
use crate::db::ColumnType;
use crate::metric::Metric;
use crate::sweep::SweepSpec;

#[derive(Parser, Debug)]
#[command(
    name = "pgvector_rs-bench",
    version,
    about = "ANN benchmark for pgvector-compatible PostgreSQL extensions",
    long_about = "Loads a dataset into PostgreSQL, builds a vector index, sweeps a search \
                  setting and reports recall@k, QPS and latency percentiles, as Markdown on \
                  stdout and JSON lines in --out. Progress goes to stderr."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Load, build, sweep and report.
    Run(Box<RunArgs>),
    /// Draw a recall–QPS plot (SVG) from results files.
    Plot(PlotArgs),
    /// Compute exact ground truth and write neighbors.npy / distances.npy.
    Groundtruth(GroundtruthArgs),
}

#[derive(Args, Debug)]
pub struct DatasetArgs {
    /// Dataset: a directory of .npy files (base/query/neighbors/distances) or
    /// of .fvecs/.bvecs/.ivecs files (*_base, *_query, *_groundtruth), or an
    /// ann-benchmarks .hdf5 file.
    #[arg(long, value_name = "PATH")]
    pub dataset: Option<PathBuf>,
    /// Base vectors file (.npy/.fvecs/.bvecs), instead of or overriding --dataset.
    #[arg(long, value_name = "FILE")]
    pub base: Option<PathBuf>,
    /// Query vectors file (.npy/.fvecs/.bvecs).
    #[arg(long, value_name = "FILE")]
    pub query: Option<PathBuf>,
    /// Ground-truth neighbour ids (.npy/.ivecs).
    #[arg(long, value_name = "FILE")]
    pub groundtruth: Option<PathBuf>,
    /// Use only the first N base vectors (ground truth is then recomputed).
    #[arg(long, value_name = "N")]
    pub max_base: Option<usize>,
}

impl DatasetArgs {
    pub fn source(&self) -> DatasetSource {
        DatasetSource {
            path: self.dataset.clone(),
            base: self.base.clone(),
            query: self.query.clone(),
            groundtruth: self.groundtruth.clone(),
            max_base: self.max_base,
        }
    }
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub dataset: DatasetArgs,

    /// Connection string, e.g. postgresql://postgres@localhost:5432/postgres
    /// (or key=value form: "host=/var/run/postgresql user=postgres").
    #[arg(long)]
    pub url: String,
    /// Extension to create: `vector` (pgvector) or `pgvector_rs`.
    #[arg(long)]
    pub extension: String,
    /// Column type the vectors are stored as.
    #[arg(long, value_enum, default_value_t = ColumnType::Vector)]
    pub column_type: ColumnType,
    /// Distance (operator <=>, <-> or <#>). Default: the dataset's, else cosine.
    #[arg(long, value_enum)]
    pub metric: Option<Metric>,
    /// Table name.
    #[arg(long, default_value = "items")]
    pub table: String,
    /// Index clause after `CREATE INDEX ... ON <table>`, e.g.
    /// "USING hnsw (emb vector_cosine_ops) WITH (m=16, ef_construction=64)".
    /// Omit (or `none`) for exact search.
    #[arg(long, value_name = "DDL")]
    pub index: Option<String>,
    /// Extra SQL run on every connection before anything else, e.g.
    /// "SET maintenance_work_mem='2GB'" (repeatable).
    #[arg(long, value_name = "SQL")]
    pub setup: Vec<String>,
    /// Keep the table if it already holds this dataset, and the index if it
    /// was built from the same --index; otherwise (re)create them.
    #[arg(long)]
    pub reuse: bool,
    /// Search setting to sweep: NAME=V1,V2,... (e.g. hnsw.ef_search=10,20,40,
    /// ivfflat.probes=1,5,10) or `none`.
    #[arg(long, default_value = "none")]
    pub sweep: SweepSpec,
    /// After the sweep, run the query set again under each recall target
    /// (`SET pgvector_rs.target_recall = x`, comma-separated, e.g.
    /// 0.9,0.95,0.99; pgvector_rs only) and report each next to the best
    /// setting of the sweep reaching the same recall. The sweep's setting
    /// must not also be set by --setup (an explicitly set ef_search or
    /// probes wins over a target).
    #[arg(long, value_delimiter = ',', value_name = "RECALL,...")]
    pub target_recall: Vec<f64>,
    /// Neighbours per query (LIMIT k) and the k of recall@k.
    #[arg(short, long, default_value_t = 10)]
    pub k: usize,
    /// Use only the first N queries.
    #[arg(long, value_name = "N")]
    pub queries: Option<usize>,
    /// Concurrent client counts to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1")]
    pub clients: Vec<usize>,
    /// Untimed queries each connection runs first (warms caches and the plan cache).
    #[arg(long, default_value_t = 50)]
    pub warmup: usize,
    /// Compute exact ground truth even if the dataset has some.
    #[arg(long)]
    pub recompute_gt: bool,
    /// Count only ids in the true top-k as hits (no tie rule by distance).
    #[arg(long)]
    pub no_ties: bool,
    /// Fail (exit status 1) if any sweep point's recall@k is below this,
    /// after printing the results: turns a run into a recall test.
    #[arg(long, value_name = "RECALL")]
    pub min_recall: Option<f64>,
    /// Name of this run in results and plots. Default: the extension name.
    #[arg(long)]
    pub label: Option<String>,
    /// Append results to this JSON-lines file.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct PlotArgs {
    /// Results file(s) written by `run --out` (repeatable).
    #[arg(long = "in", value_name = "FILE", required = true)]
    pub input: Vec<PathBuf>,
    /// SVG file to write.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Runs to draw, by label (repeatable). Default: every label; the latest
    /// run of each.
    #[arg(long)]
    pub label: Vec<String>,
    /// Plot title.
    #[arg(long, default_value = "Recall vs queries per second")]
    pub title: String,
}

#[derive(Args, Debug)]
pub struct GroundtruthArgs {
    #[command(flatten)]
    pub dataset: DatasetArgs,
    /// Distance. Default: the dataset's, else cosine.
    #[arg(long, value_enum)]
    pub metric: Option<Metric>,
    /// Neighbours per query to keep.
    #[arg(short, long, default_value_t = 100)]
    pub k: usize,
    /// Use only the first N queries.
    #[arg(long, value_name = "N")]
    pub queries: Option<usize>,
    /// Directory to write neighbors.npy (int32) and distances.npy (float32) into.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}
