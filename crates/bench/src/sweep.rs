//! Running the query set against the server: one search setting, one
//! client count at a time, timing every query.

use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use indicatif::ProgressBar;
use postgres::{Client, Statement};

use crate::db::{self, query::TextParam};

/// A search setting and the values to try, from `--sweep hnsw.ef_search=10,20`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SweepSpec {
    /// `None` for no sweep (`--sweep none`): one pass with server defaults.
    pub guc: Option<String>,
    pub values: Vec<String>,
}

impl SweepSpec {
    pub fn none() -> Self {
        Self {
            guc: None,
            values: vec![String::new()],
        }
    }
}

impl FromStr for SweepSpec {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> Result<Self> {
        if text.is_empty() || text == "none" {
            return Ok(Self::none());
        }
        let Some((guc, values)) = text.split_once('=') else {
            bail!(
                "expected SETTING=V1,V2,... (e.g. hnsw.ef_search=10,20,40) or none, got {text:?}"
            );
        };
        let guc = guc.trim();
        ensure!(
            !guc.is_empty()
                && guc
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.'),
            "{guc:?} is not a setting name"
        );
        let values: Vec<String> = values
            .split(',')
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect();
        ensure!(!values.is_empty(), "--sweep {guc} has no values");
        Ok(Self {
            guc: Some(guc.to_string()),
            values,
        })
    }
}

/// What every measurement runs: the SQL, one text literal per query, and
/// the session setup.
pub struct Workload<'a> {
    pub url: &'a str,
    pub setup: &'a [String],
    pub sql: &'a str,
    pub literals: &'a [String],
    /// Queries each connection runs before timing starts (caches, plan cache).
    pub warmup: usize,
}

/// One measured pass over the query set.
pub struct Measurement {
    /// Returned ids per query, in query order.
    pub results: Vec<Vec<i64>>,
    /// Per-query latency in ms, in query order.
    pub latencies_ms: Vec<f64>,
    /// Wall time from the start signal until the last query finished.
    pub elapsed: Duration,
}

impl Measurement {
    pub fn qps(&self) -> f64 {
        self.results.len() as f64 / self.elapsed.as_secs_f64()
    }
}

impl Workload<'_> {
    /// Runs every query once, spread over `clients` connections pulling from
    /// a shared counter, with `setting` (name, value) applied in each session.
    pub fn measure(
        &self,
        setting: Option<(&str, &str)>,
        clients: usize,
        progress: &ProgressBar,
    ) -> Result<Measurement> {
        ensure!(clients > 0, "need at least one client");
        // Connections are opened, configured and warmed before any thread
        // starts, so a failure there cannot leave others waiting at the barrier.
        let sessions = (0..clients)
            .map(|_| self.open_session(setting))
            .collect::<Result<Vec<_>>>()?;
        let next_query = AtomicUsize::new(0);
        let start_line = Barrier::new(clients + 1);
        let (per_client, elapsed) = std::thread::scope(|scope| {
            let handles: Vec<_> = sessions
                .into_iter()
                .map(|(client, statement)| {
                    let (next_query, start_line) = (&next_query, &start_line);
                    scope.spawn(move || {
                        self.run_client(client, statement, next_query, start_line, progress)
                    })
                })
                .collect();
            start_line.wait();
            let start = Instant::now();
            let results: Vec<_> = handles
                .into_iter()
                .map(|h| h.join().expect("query thread panicked"))
                .collect();
            (results, start.elapsed())
        });

        let n = self.literals.len();
        let mut results = vec![Vec::new(); n];
        let mut latencies_ms = vec![0.0; n];
        for outcome in per_client {
            for (query, ids, latency_ms) in outcome? {
                results[query] = ids;
                latencies_ms[query] = latency_ms;
            }
        }
        Ok(Measurement {
            results,
            latencies_ms,
            elapsed,
        })
    }

    fn open_session(&self, setting: Option<(&str, &str)>) -> Result<(Client, Statement)> {
        let mut client = db::connect(self.url)?;
        db::run_statements(&mut client, self.setup)?;
        if let Some((name, value)) = setting {
            client
                .execute("SELECT set_config($1, $2, false)", &[&name, &value])
                .with_context(|| format!("setting {name} = {value}"))?;
        }
        let statement = client
            .prepare(self.sql)
            .with_context(|| format!("preparing {}", self.sql))?;
        // An extension's setting is only a placeholder until its library
        // loads, and a value the library then rejects is dropped with a mere
        // WARNING, so the run would silently measure the default. One query
        // loads the library; then the setting is checked.
        let warmup = if setting.is_some() {
            self.warmup.max(1)
        } else {
            self.warmup
        };
        for literal in self.literals.iter().cycle().take(warmup) {
            client
                .query(&statement, &[&TextParam(literal)])
                .context("warm-up query")?;
        }
        if let Some((name, value)) = setting {
            let row = client.query_one("SELECT current_setting($1)", &[&name])?;
            let actual: String = row.get(0);
            ensure!(
                same_setting(value, &actual),
                "asked for {name} = {value}, but the server uses {actual} (invalid value?)"
            );
        }
        Ok((client, statement))
    }

    fn run_client(
        &self,
        mut client: Client,
        statement: Statement,
        next_query: &AtomicUsize,
        start_line: &Barrier,
        progress: &ProgressBar,
    ) -> Result<Vec<(usize, Vec<i64>, f64)>> {
        start_line.wait();
        let mut done = Vec::new();
        loop {
            let query = next_query.fetch_add(1, Ordering::Relaxed);
            let Some(literal) = self.literals.get(query) else {
                return Ok(done);
            };
            let start = Instant::now();
            let rows = client
                .query(&statement, &[&TextParam(literal)])
                .with_context(|| format!("query {query}"));
            let latency_ms = start.elapsed().as_secs_f64() * 1e3;
            let rows = match rows {
                Ok(rows) => rows,
                Err(e) => {
                    // Stop the other clients too: the measurement is void.
                    next_query.store(self.literals.len(), Ordering::Relaxed);
                    return Err(e);
                }
            };
            let ids = rows
                .iter()
                .map(|row| i64::from(row.get::<_, i32>(0)))
                .collect();
            done.push((query, ids, latency_ms));
            progress.inc(1);
        }
    }
}

/// Whether the server's report of a setting matches what was asked, allowing
/// for number formatting ("1.0" vs "1") and case ("ON" vs "on").
fn same_setting(asked: &str, actual: &str) -> bool {
    match (asked.parse::<f64>(), actual.parse::<f64>()) {
        (Ok(a), Ok(b)) => a == b,
        _ => asked.eq_ignore_ascii_case(actual),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_settings_loosely_but_not_too_loosely() {
        assert!(same_setting("40", "40"));
        assert!(same_setting("1.0", "1"));
        assert!(same_setting("ON", "on"));
        assert!(!same_setting("bogus", "1"));
        assert!(!same_setting("40", "4"));
    }

    #[test]
    fn parses_sweep_specs() {
        let spec: SweepSpec = "hnsw.ef_search=10, 20,40".parse().unwrap();
        assert_eq!(spec.guc.as_deref(), Some("hnsw.ef_search"));
        assert_eq!(spec.values, ["10", "20", "40"]);
        assert_eq!("none".parse::<SweepSpec>().unwrap(), SweepSpec::none());
        assert!("hnsw.ef_search".parse::<SweepSpec>().is_err());
        assert!("hnsw.ef_search=".parse::<SweepSpec>().is_err());
        assert!("x;drop=1".parse::<SweepSpec>().is_err());
    }
}
