//! The `quantization` index option (ours; pgvector has none), shared by
//! both access methods: how an index stores its vectors.
//!
//! `auto` (the default) stores `vector_cosine_ops` indexes in half precision
//! and everything else as given; `none` always stores vectors as given;
//! `half` asks for half precision where the access method supports it;
//! `rabitq` (hnsw and ivfflat) stores RaBitQ codes of `bits` bits per dimension
//! (the `bits` option, 1 to 8, default [`DEFAULT_BITS`]). Unit
//! vectors lose the same small fraction of their precision whatever the
//! data, while under L2 and inner product the loss depends on the data's
//! scale and offset, which the user knows and we do not: hence opt-in there.
//! The pages record what a build chose; readers follow the pages, so
//! altering the option takes effect at the next REINDEX.

use pgrx::pg_sys;
use pgrx::PgSqlErrorCode;
use vecspace::{Metric, Storage, VectorSpace};

use super::error;

/// Option values, as stored in `rd_options`.
pub const AUTO: i32 = 0;
pub const NONE: i32 = 1;
pub const HALF: i32 = 2;
pub const RABITQ: i32 = 3;

/// Bits per dimension of RaBitQ codes when `bits` is not given: at 384
/// dimensions 4-bit codes leave about a hundred rows per query to recheck,
/// 1-bit codes too many.
pub const DEFAULT_BITS: i32 = 4;

/// Largest `vector` / `halfvec` an index stores as codes: pgvector's type
/// limit (a code of 16,000 dimensions fits a page at up to 4 bits).
pub const MAX_CODE_DIMENSIONS: usize = 16_000;

/// The bits per dimension of a new code index, from its `bits` option
/// (0 when not given: [`DEFAULT_BITS`]).
pub fn bits_of(option: i32) -> u8 {
    if option == 0 {
        DEFAULT_BITS as u8
    } else {
        option.clamp(1, 8) as u8
    }
}

/// Refuses `bits` given without `quantization = rabitq`.
pub fn check_bits(bits: i32, quantization: i32) {
    if bits != 0 && quantization != RABITQ {
        error(
            PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
            "option \"bits\" requires quantization = rabitq",
            Some("Add quantization = rabitq to the index options, or remove bits."),
        )
    }
}

/// Adds the option to the reloption kind of an access method. The enum
/// table must outlive every later parse, so it is leaked, once per backend
/// and access method.
pub unsafe fn register(kind: pg_sys::relopt_kind::Type) {
    let members: &'static mut [pg_sys::relopt_enum_elt_def] = Box::leak(Box::new([
        pg_sys::relopt_enum_elt_def {
            string_val: c"auto".as_ptr(),
            symbol_val: AUTO,
        },
        pg_sys::relopt_enum_elt_def {
            string_val: c"none".as_ptr(),
            symbol_val: NONE,
        },
        pg_sys::relopt_enum_elt_def {
            string_val: c"half".as_ptr(),
            symbol_val: HALF,
        },
        pg_sys::relopt_enum_elt_def {
            string_val: c"rabitq".as_ptr(),
            symbol_val: RABITQ,
        },
        pg_sys::relopt_enum_elt_def {
            string_val: std::ptr::null(),
            symbol_val: 0,
        },
    ]));
    // SAFETY: called from `_PG_init`; the member array is leaked, so Postgres may keep pointing
    // to it.
    unsafe {
        pg_sys::add_enum_reloption(
            kind as pg_sys::bits32,
            c"quantization".as_ptr(),
            c"How the index stores vectors: auto, none (as given), half (half precision) or rabitq (RaBitQ codes); exact order by rechecking".as_ptr(),
            members.as_mut_ptr(),
            AUTO,
            c"Valid values are \"auto\", \"none\", \"half\" and \"rabitq\".".as_ptr(),
            pg_sys::AccessExclusiveLock as pg_sys::LOCKMODE,
        );
        // Bits per dimension of the codes of `quantization = rabitq` (0,
        // the default, means unset: DEFAULT_BITS).
        pg_sys::add_int_reloption(
            kind as pg_sys::bits32,
            c"bits".as_ptr(),
            c"Bits per dimension of RaBitQ codes (with quantization = rabitq)".as_ptr(),
            0,
            1,
            8,
            pg_sys::AccessExclusiveLock as pg_sys::LOCKMODE,
        );
    }
}

/// The parse entry of the option, stored as an `i32` at `offset`.
pub fn parse_elt(offset: usize) -> pg_sys::relopt_parse_elt {
    pg_sys::relopt_parse_elt {
        optname: c"quantization".as_ptr(),
        opttype: pg_sys::relopt_type::RELOPT_TYPE_ENUM,
        offset: offset as i32,
    }
}

/// The space a new build uses for option value `option`, given the metrics
/// with which the access method supports half precision (`vector` only) and
/// whether it supports RaBitQ codes (`codes`).
pub fn requested(
    space: VectorSpace,
    option: i32,
    half_metrics: &[Metric],
    codes: bool,
    am: &str,
) -> VectorSpace {
    let half = || {
        half_metrics
            .contains(&space.metric())
            .then(|| space.with_storage(Storage::Half))
            .flatten()
    };
    match option {
        NONE => space,
        RABITQ if !codes => error(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            &format!("quantization \"rabitq\" is not supported by {am} indexes"),
            Some("Use an ivfflat index, or quantization = 'half'."),
        ),
        RABITQ => space.with_storage(Storage::Codes).unwrap_or_else(|| {
            error(
                PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                &format!(
                    "quantization \"rabitq\" is only supported for the l2, ip and cosine operator classes of vector and halfvec in {am} indexes"
                ),
                None,
            )
        }),
        HALF => half().unwrap_or_else(|| {
            let mut classes: Vec<String> = half_metrics
                .iter()
                .map(|m| format!("vector_{}_ops", opclass_suffix(*m)))
                .collect();
            let last = classes.pop().unwrap_or_default();
            let list = if classes.is_empty() {
                last
            } else {
                format!("{} and {last}", classes.join(", "))
            };
            error(
                PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                &format!("quantization \"half\" is only supported for {list} in {am} indexes"),
                Some("Use quantization = 'auto' or 'none', or index a halfvec expression."),
            )
        }),
        _ if space.metric() == Metric::Cosine => half().unwrap_or(space),
        _ => space,
    }
}

fn opclass_suffix(metric: Metric) -> &'static str {
    match metric {
        Metric::L2 => "l2",
        Metric::InnerProduct => "ip",
        Metric::Cosine => "cosine",
        Metric::L1 => "l1",
        Metric::Hamming => "hamming",
        Metric::Jaccard => "jaccard",
    }
}

/// The space an index was built with, from the storage its pages record.
pub fn built(space: VectorSpace, storage: Storage, index_name: &str) -> VectorSpace {
    space.with_storage(storage).unwrap_or_else(|| {
        error(
            PgSqlErrorCode::ERRCODE_INDEX_CORRUPTED,
            &format!(
                "index \"{index_name}\" records a storage (half precision or codes) its operator class does not support"
            ),
            Some("REINDEX the index."),
        )
    })
}

/// An index's unknown storage code (written by a newer version).
pub fn unknown(code: u32, index_name: &str) -> ! {
    error(
        PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
        &format!(
            "index \"{index_name}\" stores vectors with quantization {code}, which this version does not know"
        ),
        Some("REINDEX the index."),
    )
}

/// Allocates the arrays a scan reports ORDER BY values in. The access
/// method owns them (`RelationGetIndexScan` leaves them NULL); all NULL
/// until a row has a bound to report.
pub unsafe fn alloc_orderby_values(scan: pg_sys::IndexScanDesc, norderbys: i32) {
    if norderbys <= 0 {
        return;
    }
    let n = norderbys as usize;
    // SAFETY: `scan` is a descriptor from `RelationGetIndexScan`; the arrays are palloc'd in
    // the scan's memory context with `n` entries.
    unsafe {
        (*scan).xs_orderbyvals =
            pg_sys::palloc0(n * std::mem::size_of::<pg_sys::Datum>()) as *mut pg_sys::Datum;
        let nulls = pg_sys::palloc(n) as *mut bool;
        std::ptr::write_bytes(nulls, 1, n);
        (*scan).xs_orderbynulls = nulls;
    }
}

/// Reports the row just returned: with a lower bound of its ORDER BY value
/// for the executor to recheck, or (`None`) as exact and in order.
pub unsafe fn report_row(scan: pg_sys::IndexScanDesc, bound: Option<f64>) {
    // SAFETY: `scan` is ours, with the arrays `alloc_orderby_values` made (or NULL ones,
    // checked).
    unsafe {
        let bound = bound.filter(|_| !(*scan).xs_orderbyvals.is_null());
        (*scan).xs_recheck = false;
        (*scan).xs_recheckorderby = bound.is_some();
        if let Some(bound) = bound {
            *(*scan).xs_orderbyvals = pgrx::IntoDatum::into_datum(bound).unwrap();
            *(*scan).xs_orderbynulls = false;
        }
    }
}
