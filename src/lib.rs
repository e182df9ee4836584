//! pgvector_rs: pgvector's SQL surface, implemented in Rust.
//!
//! This crate is the thin pgrx layer. It maps Postgres calls onto the pure crates
//! (`vecformat` for formats and validation, `kernels` for distances) and holds no
//! algorithm of its own. All SQL objects are declared by hand in `sql/pgvector_rs.sql`,
//! so that names, volatility, strictness and parallel safety match pgvector exactly; every
//! C symbol it references is defined here with [`pg_function!`].

// The unsafe functions of this crate all share one contract: they are called with the
// FunctionCallInfo Postgres passed to a V1 function whose SQL signature matches.
#![allow(clippy::missing_safety_doc, clippy::macro_metavars_in_unsafe)]

pgrx::pg_module_magic!();

pub mod am;
#[cfg(feature = "pg15")]
mod distributed;
pub mod fmgr;
mod info;
pub mod types;

pgrx::extension_sql_file!(
    "../sql/pgvector_rs.sql",
    name = "pgvector_rs_objects",
    bootstrap
);
pgrx::extension_sql_file!(
    "../sql/hnsw.sql",
    name = "pgvector_rs_hnsw",
    requires = ["pgvector_rs_objects"]
);
pgrx::extension_sql_file!(
    "../sql/ivfflat.sql",
    name = "pgvector_rs_ivfflat",
    requires = ["pgvector_rs_objects"]
);
pgrx::extension_sql_file!(
    "../sql/recall.sql",
    name = "pgvector_rs_recall",
    requires = ["pgvector_rs_objects"]
);

/// Registers the index options and configuration parameters when the library is loaded.
#[pgrx::pg_guard]
pub extern "C-unwind" fn _PG_init() {
    // Before am::init, which reserves the "pgvector_rs" prefix: a setting defined after
    // the reservation would lose a value SET before the library was loaded.
    #[cfg(feature = "pg15")]
    distributed::init();
    am::init();
}

/// In-database tests run by `cargo pgrx test`: they go through the real SQL definitions,
/// the function manager and the buffer manager. The exhaustive surface (every function,
/// cast, aggregate and error) is covered by the SQL regression suite in `tests/sql`.
#[cfg(any(test, feature = "pg_test"))]
#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    fn one<T: pgrx::IntoDatum + pgrx::FromDatum>(sql: &str) -> T {
        Spi::get_one::<T>(sql)
            .expect("query failed")
            .expect("query returned NULL")
    }

    #[pg_test]
    fn text_round_trip() {
        assert_eq!(
            one::<String>("SELECT '[1,2.5,-3e-05]'::vector::text"),
            "[1,2.5,-3e-05]"
        );
        assert_eq!(one::<String>("SELECT '[1,2]'::halfvec(2)::text"), "[1,2]");
        assert_eq!(
            one::<String>("SELECT '{3:2,1:1.5}/5'::sparsevec::text"),
            "{1:1.5,3:2}/5"
        );
    }

    #[pg_test]
    fn distances_agree_with_definitions() {
        assert_eq!(one::<f64>("SELECT '[0,0]'::vector <-> '[3,4]'"), 5.0);
        assert_eq!(one::<f64>("SELECT '[1,2]'::vector <#> '[3,4]'"), -11.0);
        assert_eq!(one::<f64>("SELECT '[1,2]'::vector <+> '[3,5]'"), 5.0);
        assert!(one::<f64>("SELECT '[1,1]'::vector <=> '[2,2]'").abs() < 1e-7);
        assert_eq!(one::<f64>("SELECT '{1:3}/2'::sparsevec <-> '{2:4}/2'"), 5.0);
        assert_eq!(one::<f64>("SELECT B'1010' <~> B'0110'"), 2.0);
    }

    #[pg_test]
    fn binary_send_matches_pgvector_wire_format() {
        let hex = one::<String>("SELECT encode(vector_send('[1,2]'), 'hex')");
        assert_eq!(hex, "000200003f80000040000000");
    }

    #[pg_test]
    fn exact_search_orders_by_distance() {
        Spi::run("CREATE TABLE items (id int, emb vector(3))").unwrap();
        Spi::run(
            "INSERT INTO items SELECT i, ARRAY[i, i * 2, 1]::real[] FROM generate_series(1, 100) i",
        )
        .unwrap();
        let first = one::<i32>("SELECT id FROM items ORDER BY emb <-> '[10,20,1]' LIMIT 1");
        assert_eq!(first, 10);
        let avg = one::<String>("SELECT avg(emb)::text FROM items");
        assert_eq!(avg, "[50.5,101,1]");
    }

    #[pg_test(error = "expected 3 dimensions, not 2")]
    fn typmod_is_enforced() {
        Spi::run("SELECT '[1,2]'::vector(3)").unwrap();
    }

    #[pg_test(error = "different vector dimensions 2 and 3")]
    fn mismatched_dimensions_are_an_error() {
        Spi::run("SELECT '[1,2]'::vector <-> '[1,2,3]'").unwrap();
    }
}

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
