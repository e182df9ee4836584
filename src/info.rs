//! Introspection: which distance-kernel path this backend uses, and a way to force one
//! (for testing and for benchmarking one path against another).

use crate::fmgr::*;
use vecformat::VectorError;

crate::pg_function!(simd_path, |_fcinfo| {
    text_datum(kernels::active_isa().name())
});

crate::pg_function!(simd_paths, |_fcinfo| {
    let names: Vec<&str> = kernels::supported_isas()
        .iter()
        .map(|isa| isa.name())
        .collect();
    text_datum(&names.join(","))
});

crate::pg_function!(force_simd_path, |fcinfo| {
    let name = text_arg(fcinfo, 0);
    let isa = kernels::Isa::from_name(&name).unwrap_or_else(|| {
        raise(
            VectorError::new(
                vecformat::SqlState::InvalidParameterValue,
                format!("unknown SIMD path \"{name}\""),
            )
            .with_detail("Use one of the paths listed by pgvector_rs_simd_paths()."),
        )
    });
    if let Err(message) = kernels::force_isa(isa) {
        raise(VectorError::new(
            vecformat::SqlState::InvalidParameterValue,
            message,
        ));
    }
    text_datum(kernels::active_isa().name())
});
