//! Everything that talks to the server: connecting, the extension, the
//! table and its index, loading, sizes.

pub mod copy_binary;
pub mod query;

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use indicatif::ProgressBar;
use postgres::{Client, NoTls};
use serde::{Deserialize, Serialize};

use crate::dataset::Matrix;

/// The column type vectors are stored as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    /// 4-byte floats.
    Vector,
    /// 2-byte floats (half the storage).
    Halfvec,
}

impl ColumnType {
    pub fn sql_name(self) -> &'static str {
        match self {
            Self::Vector => "vector",
            Self::Halfvec => "halfvec",
        }
    }

    /// pgvector's limit for a column of this type.
    pub fn max_dimensions(self) -> usize {
        16_000
    }
}

pub fn connect(url: &str) -> Result<Client> {
    Client::connect(url, NoTls).with_context(|| format!("connecting to {}", redact_url(url)))
}

/// The connection string with any password replaced, fit for reports and logs.
pub fn redact_url(url: &str) -> String {
    // postgresql://user:password@host/... — the password sits between the
    // first ':' after the scheme and the '@'.
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some((userinfo, host)) = rest.split_once('@') {
            if let Some((user, _password)) = userinfo.split_once(':') {
                return format!("{scheme}://{user}:***@{host}");
            }
        }
    }
    if url.contains("password=") {
        return url
            .split_whitespace()
            .map(|kv| {
                if kv.starts_with("password=") {
                    "password=***"
                } else {
                    kv
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
    }
    url.to_string()
}

/// Runs extra statements such as `SET maintenance_work_mem = '2GB'`.
pub fn run_statements(client: &mut Client, statements: &[String]) -> Result<()> {
    for statement in statements {
        client
            .batch_execute(statement)
            .with_context(|| format!("running setup statement {statement:?}"))?;
    }
    Ok(())
}

/// The server's version string, e.g. "15.20 (Debian 15.20-0+deb12u1)".
pub fn server_version(client: &mut Client) -> Result<String> {
    let row = client.query_one("SHOW server_version", &[])?;
    Ok(row.get(0))
}

/// Creates the extension if needed and returns its installed version.
pub fn ensure_extension(client: &mut Client, name: &str) -> Result<String> {
    check_identifier(name, "extension name")?;
    client
        .batch_execute(&format!("CREATE EXTENSION IF NOT EXISTS {name}"))
        .with_context(|| format!("creating extension {name}"))?;
    let row = client.query_one(
        "SELECT extversion FROM pg_extension WHERE extname = $1",
        &[&name],
    )?;
    Ok(row.get(0))
}

/// Table and index names are spliced into SQL, so only plain identifiers are allowed.
pub fn check_identifier(name: &str, what: &str) -> Result<()> {
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    ensure!(
        valid,
        "{what} {name:?} must be a plain lower-case identifier ([a-z_][a-z0-9_]*)"
    );
    Ok(())
}

fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The comment on a relation, which is how a previous run labelled what it built.
fn relation_comment(client: &mut Client, name: &str) -> Result<Option<String>> {
    let row = client.query_one(
        "SELECT obj_description(to_regclass($1), 'pg_class')",
        &[&name],
    )?;
    Ok(row.get(0))
}

fn relation_exists(client: &mut Client, name: &str) -> Result<bool> {
    let row = client.query_one("SELECT to_regclass($1) IS NOT NULL", &[&name])?;
    Ok(row.get(0))
}

/// Which on-disk size to measure.
#[derive(Clone, Copy, Debug)]
pub enum SizeOf {
    /// `pg_relation_size`: the main fork, what an index occupies.
    Index,
    /// `pg_table_size`: heap plus TOAST, free-space and visibility maps but
    /// no indexes; TOAST matters once vectors exceed ~2 kB (e.g. 1536-d).
    Table,
}

/// On-disk size in bytes of a table or index (the baselines report both).
pub fn relation_size(client: &mut Client, name: &str, size_of: SizeOf) -> Result<i64> {
    let function = match size_of {
        SizeOf::Index => "pg_relation_size",
        SizeOf::Table => "pg_table_size",
    };
    let row = client
        .query_one(&format!("SELECT {function}(to_regclass($1))"), &[&name])
        .with_context(|| format!("measuring the size of {name}"))?;
    Ok(row.get(0))
}

/// The vector table of a run.
pub struct VectorTable {
    pub name: String,
    pub column: ColumnType,
    pub dim: usize,
    /// Identifies the data loaded (dataset, rows, type); stored as the
    /// table's comment so that `--reuse` can tell whether it still matches.
    pub fingerprint: String,
}

impl VectorTable {
    pub fn index_name(&self) -> String {
        Self::index_name_for(&self.name)
    }

    /// The index of table `table` is always `<table>_emb_idx`.
    pub fn index_name_for(table: &str) -> String {
        format!("{table}_emb_idx")
    }

    /// Readies the table; returns whether the vectors need loading. With
    /// `reuse`, a table whose fingerprint matches is kept as it is.
    pub fn prepare(&self, client: &mut Client, reuse: bool) -> Result<bool> {
        if reuse && relation_comment(client, &self.name)?.as_deref() == Some(&self.fingerprint) {
            return Ok(false);
        }
        ensure!(
            self.dim <= self.column.max_dimensions(),
            "{} columns allow at most {} dimensions, the data has {}",
            self.column.sql_name(),
            self.column.max_dimensions(),
            self.dim
        );
        client
            .batch_execute(&format!(
                "DROP TABLE IF EXISTS {name} CASCADE;
                 CREATE TABLE {name} (id int PRIMARY KEY, emb {ty}({dim}));",
                name = self.name,
                ty = self.column.sql_name(),
                dim = self.dim
            ))
            .with_context(|| format!("creating table {}", self.name))?;
        Ok(true)
    }

    /// Loads `vectors` (row i gets id i) with binary COPY, then marks the
    /// table with its fingerprint. Returns the COPY time.
    pub fn load(
        &self,
        client: &mut Client,
        vectors: &Matrix<f32>,
        progress: &ProgressBar,
    ) -> Result<Duration> {
        // Flushing in ~1 MiB pieces keeps memory flat and the progress bar moving.
        const FLUSH_BYTES: usize = 1 << 20;
        let start = Instant::now();
        let mut writer = client
            .copy_in(&format!(
                "COPY {} (id, emb) FROM STDIN (FORMAT BINARY)",
                self.name
            ))
            .context("starting COPY")?;
        let mut buffer = copy_binary::header();
        for (id, row) in vectors.iter_rows().enumerate() {
            let id = i32::try_from(id).context("more rows than an int id can number")?;
            copy_binary::encode_row(&mut buffer, id, row, self.column)?;
            if buffer.len() >= FLUSH_BYTES {
                writer.write_all(&buffer).context("sending COPY data")?;
                buffer.clear();
                progress.set_position(id as u64 + 1);
            }
        }
        buffer.extend_from_slice(&copy_binary::TRAILER);
        writer.write_all(&buffer).context("sending COPY data")?;
        let rows = writer.finish().context("finishing COPY")?;
        progress.set_position(rows);
        ensure!(
            rows as usize == vectors.rows(),
            "COPY stored {rows} rows, expected {}",
            vectors.rows()
        );
        let elapsed = start.elapsed();
        // VACUUM sets hint bits and the visibility map now, so the first
        // measured scan does not pay for it; ANALYZE gives the planner row counts.
        client.batch_execute(&format!("VACUUM (ANALYZE) {}", self.name))?;
        client.batch_execute(&format!(
            "COMMENT ON TABLE {} IS {}",
            self.name,
            quote_literal(&self.fingerprint)
        ))?;
        Ok(elapsed)
    }

    /// Readies the index; returns whether it needs building. Without an
    /// index (exact search) any old one is dropped; with `reuse`, an index
    /// built from the same DDL is kept.
    pub fn prepare_index(
        &self,
        client: &mut Client,
        ddl: Option<&str>,
        reuse: bool,
    ) -> Result<bool> {
        let index = self.index_name();
        if reuse && ddl.is_some() && relation_comment(client, &index)?.as_deref() == ddl {
            return Ok(false);
        }
        if relation_exists(client, &index)? {
            client.batch_execute(&format!("DROP INDEX {index}"))?;
        }
        Ok(ddl.is_some())
    }

    /// Runs `CREATE INDEX <name> ON <table> <ddl>` and returns how long it
    /// took. A second connection polls `pg_stat_progress_create_index`
    /// meanwhile to drive the progress bar.
    pub fn build_index(
        &self,
        url: &str,
        client: &mut Client,
        ddl: &str,
        progress: &ProgressBar,
    ) -> Result<Duration> {
        let index = self.index_name();
        let statement = format!("CREATE INDEX {index} ON {} {ddl}", self.name);
        let done = AtomicBool::new(false);
        let mut monitor = connect(url)?;
        let start = Instant::now();
        let result = std::thread::scope(|scope| {
            scope.spawn(|| watch_index_build(&mut monitor, &self.name, &done, progress));
            let result = client.batch_execute(&statement);
            done.store(true, Ordering::Relaxed);
            result
        });
        let elapsed = start.elapsed();
        result.with_context(|| format!("building the index: {statement}"))?;
        client.batch_execute(&format!(
            "COMMENT ON INDEX {index} IS {}",
            quote_literal(ddl)
        ))?;
        Ok(elapsed)
    }
}

/// Mirrors the server's index-build progress into `progress` until `done`.
fn watch_index_build(monitor: &mut Client, table: &str, done: &AtomicBool, progress: &ProgressBar) {
    const POLL: Duration = Duration::from_millis(250);
    while !done.load(Ordering::Relaxed) {
        // Progress is cosmetic: a failed poll must not fail the build.
        if let Ok(Some(row)) = monitor.query_opt(
            "SELECT phase, tuples_done, tuples_total FROM pg_stat_progress_create_index
             WHERE relid = to_regclass($1)",
            &[&table],
        ) {
            let phase: String = row.get(0);
            let tuples_done: i64 = row.get(1);
            let tuples_total: i64 = row.get(2);
            if tuples_total > 0 {
                progress.set_length(tuples_total as u64);
            }
            progress.set_position(tuples_done.max(0) as u64);
            progress.set_message(phase);
        }
        std::thread::sleep(POLL);
    }
}

/// Fails unless `ddl` looks like a `USING ...` clause, to give a clear
/// error before a long load rather than after it.
pub fn check_index_ddl(ddl: &str) -> Result<()> {
    if !ddl.trim_start().to_ascii_uppercase().starts_with("USING ") {
        bail!("--index takes what follows `CREATE INDEX ... ON table`, e.g. \"USING hnsw (emb vector_cosine_ops)\"; got {ddl:?}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgresql://bob:secret@db:5432/x"),
            "postgresql://bob:***@db:5432/x"
        );
        assert_eq!(redact_url("postgresql://bob@db/x"), "postgresql://bob@db/x");
        assert_eq!(
            redact_url("host=/tmp user=bob password=pw"),
            "host=/tmp user=bob password=***"
        );
    }

    #[test]
    fn validates_identifiers_and_ddl() {
        assert!(check_identifier("items_2", "table").is_ok());
        assert!(check_identifier("items; DROP TABLE x", "table").is_err());
        assert!(check_identifier("Items", "table").is_err());
        assert!(check_index_ddl("USING hnsw (emb vector_cosine_ops)").is_ok());
        assert!(check_index_ddl("hnsw (emb)").is_err());
        assert_eq!(quote_literal("it's"), "'it''s'");
    }
}
