//! The search query, sent the way the baselines' Python client sent it:
//! a prepared statement whose parameter is the vector as a text literal
//! (`[0.1,0.2,...]`), parsed on the server by the type's input function.

use std::error::Error;

use anyhow::{Context, Result};
use postgres::types::{to_sql_checked, Format, IsNull, ToSql, Type};
use postgres::Client;

use crate::metric::Metric;

use super::ColumnType;

/// The k-NN query for a table: `SELECT id FROM t ORDER BY emb <op> $1::type LIMIT k`.
pub fn knn_sql(table: &str, metric: Metric, column: ColumnType, k: usize) -> String {
    format!(
        "SELECT id FROM {table} ORDER BY emb {} $1::{} LIMIT {k}",
        metric.operator(),
        column.sql_name()
    )
}

/// Formats a vector as pgvector's text literal. `f32`'s `Display` is the
/// shortest text that parses back to the same value, so nothing is lost.
pub fn vector_literal(vector: &[f32]) -> String {
    let mut out = String::with_capacity(vector.len() * 12 + 2);
    out.push('[');
    for (i, x) in vector.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&x.to_string());
    }
    out.push(']');
    out
}

/// The server's plan for `sql` with `literal` as its parameter (EXPLAIN
/// text), to show whether the index is used at all.
pub fn explain(client: &mut Client, sql: &str, literal: &str) -> Result<String> {
    let rows = client
        .query(&format!("EXPLAIN {sql}"), &[&TextParam(literal)])
        .with_context(|| format!("EXPLAIN {sql}"))?;
    Ok(rows
        .iter()
        .map(|row| row.get::<_, String>(0))
        .collect::<Vec<_>>()
        .join("\n"))
}

/// A query parameter sent in text format, whatever the parameter's type.
/// (The `postgres` crate sends parameters in binary by default, and has no
/// binary encoding for extension types; a text literal also keeps the
/// per-query parsing cost the same as in the baselines.)
#[derive(Debug)]
pub struct TextParam<'a>(pub &'a str);

impl ToSql for TextParam<'_> {
    fn to_sql(
        &self,
        _ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        out.extend_from_slice(self.0.as_bytes());
        Ok(IsNull::No)
    }

    fn accepts(_ty: &Type) -> bool {
        // The server parses the text with the parameter type's own input
        // function, so any type (vector, halfvec, text, ...) is fine.
        true
    }

    fn encode_format(&self, _ty: &Type) -> Format {
        Format::Text
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_literals_and_sql() {
        assert_eq!(vector_literal(&[0.1, -2.0, 1e-8]), "[0.1,-2,0.00000001]");
        assert_eq!(vector_literal(&[]), "[]");
        assert_eq!(
            knn_sql("items", Metric::Cosine, ColumnType::Vector, 10),
            "SELECT id FROM items ORDER BY emb <=> $1::vector LIMIT 10"
        );
        assert_eq!(
            knn_sql("t", Metric::Ip, ColumnType::Halfvec, 5),
            "SELECT id FROM t ORDER BY emb <#> $1::halfvec LIMIT 5"
        );
    }

    #[test]
    fn literal_round_trips_every_value() {
        let values = [0.1f32, 1.0 / 3.0, -7.25e-5, 65504.0, f32::MIN_POSITIVE];
        let literal = vector_literal(&values);
        let parsed: Vec<f32> = literal[1..literal.len() - 1]
            .split(',')
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(parsed, values);
    }
}
