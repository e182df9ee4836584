//! pgvector_rs: pgvector's SQL surface, implemented in Rust.
//!
//! This crate is the thin pgrx layer. It maps Postgres calls onto the pure crates
//! (`vecformat` for formats and validation, `kernels` for distances) and holds no
//! algorithm of its own. All SQL objects are declared by hand in `sql/pgvector_rs.sql`,
//! so that names, volatility, strictness and parallel safety match pgvector exactly; every
//! C symbol it references is defined here with [`pg_function!`].

pgrx::pg_module_magic!();

pub mod fmgr;
mod info;
pub mod types;

pgrx::extension_sql_file!("../sql/pgvector_rs.sql", name = "pgvector_rs_objects", bootstrap);

#[cfg(any(test, feature = "pg_test"))]
#[pgrx::pg_schema]
mod tests;

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
