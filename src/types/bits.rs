//! Distances between Postgres `bit` values (binary vectors): Hamming and Jaccard, on
//! popcount kernels.

use super::datum::{bit_arg, Bits};
use crate::fmgr::*;
use pgrx::pg_sys::FunctionCallInfo;
use vecformat::VectorError;

unsafe fn pair<'a>(fcinfo: FunctionCallInfo) -> (Bits<'a>, Bits<'a>) {
    unsafe {
        let a = bit_arg(fcinfo, 0);
        let b = bit_arg(fcinfo, 1);
        if a.len != b.len {
            raise(VectorError::data(format!(
                "different bit lengths {} and {}",
                a.len, b.len
            )));
        }
        (a, b)
    }
}

crate::pg_function!(hamming_distance, |fcinfo| {
    let (a, b) = pair(fcinfo);
    f64_datum(kernels::hamming(a.bytes, b.bytes) as f64)
});

crate::pg_function!(jaccard_distance, |fcinfo| {
    let (a, b) = pair(fcinfo);
    f64_datum(kernels::jaccard_distance(a.bytes, b.bytes))
});
