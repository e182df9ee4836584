//! Every path the CPU supports is tested through its own table, so no test
//! depends on (or races over) the globally active path; only `dispatch`
//! switches it, under a lock.

mod bits;
mod dense;
mod dispatch;
mod sparse;

use crate::{dispatch::variants, supported_isas, Kernels};

/// Every table this CPU can run, scalar and variants included.
fn tables() -> Vec<&'static Kernels> {
    supported_isas().into_iter().flat_map(variants).collect()
}

/// Deterministic xorshift64* generator for the exhaustive tests.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `[-scale, scale)`.
    fn symmetric(&mut self, scale: f32) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
    }
}

/// `got` is within `rel` of `want`, scaled by `scale`; NaN only matches NaN.
#[track_caller]
fn assert_close(what: &str, got: f64, want: f64, scale: f64, rel: f64) {
    if want.is_nan() {
        assert!(got.is_nan(), "{what}: got {got}, want NaN");
    } else {
        let tol = rel * scale.abs() + 1e-30;
        assert!(
            (got - want).abs() <= tol,
            "{what}: got {got}, want {want} (tolerance {tol:e})"
        );
    }
}
