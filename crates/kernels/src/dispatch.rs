//! Runtime selection of the kernel table.
//!
//! Each path provides one `static Kernels` of function pointers. The active
//! table is an `AtomicPtr` to one of those statics, so a call costs one
//! atomic load (a plain `mov` on x86/ARM), one null check and one indirect
//! call, and [`force_isa`] can switch paths while other threads are calling.

use crate::{Isa, Kernels};
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

/// Declares the kernel table and the public functions that dispatch through
/// it, from one list of signatures, so the two can never drift apart.
macro_rules! kernel_api {
    ($($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)*) => {
        /// One path's implementations of every kernel.
        ///
        /// Invariant: a `&Kernels` is only handed out (by
        /// `dispatch::variants`) for a table the running CPU supports; the
        /// safe methods below rely on it.
        pub(crate) struct Kernels {
            pub(crate) isa: Isa,
            /// The path's name, plus the optional features of a variant.
            pub(crate) name: &'static str,
            $(pub(crate) $name: unsafe fn($($ty),*) -> $ret,)*
        }

        impl Kernels {
            $(
                #[inline(always)]
                pub(crate) fn $name(&self, $($arg: $ty),*) -> $ret {
                    // SAFETY: by the type invariant the CPU has every feature
                    // this table's functions were compiled for.
                    unsafe { (self.$name)($($arg),*) }
                }
            )*
        }

        $(
            $(#[$doc])*
            #[inline]
            pub fn $name($($arg: $ty),*) -> $ret {
                crate::dispatch::active().$name($($arg),*)
            }
        )*
    };
}

/// The tables of `isa` that the running CPU can execute, best first: the
/// path's main table, preceded by variants that also need optional
/// features (only AVX-512 has one, VPOPCNTDQ for the bit kernels).
pub(crate) fn variants(isa: Isa) -> Vec<&'static Kernels> {
    let mut tables: Vec<&'static Kernels> = Vec::new();
    match isa {
        Isa::Scalar => tables.push(&crate::scalar::KERNELS),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 if crate::x86::has_avx2() => tables.push(&crate::x86::avx2::KERNELS),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 if crate::x86::has_avx512() => {
            if crate::x86::has_avx512_vpopcntdq() {
                tables.push(&crate::x86::avx512::KERNELS_VPOPCNTDQ);
            }
            tables.push(&crate::x86::avx512::KERNELS);
        }
        #[cfg(all(target_arch = "aarch64", target_endian = "little"))]
        Isa::Neon if crate::aarch64::has_neon() => tables.push(&crate::aarch64::neon::KERNELS),
        _ => {}
    }
    tables
}

/// The best table of a path the running CPU supports; `None` otherwise.
pub(crate) fn table(isa: Isa) -> Option<&'static Kernels> {
    variants(isa).first().copied()
}

/// Every path this CPU can run, best first; always ends with `Scalar`.
pub fn supported_isas() -> Vec<Isa> {
    Isa::BY_PREFERENCE
        .into_iter()
        .filter(|&isa| table(isa).is_some())
        .collect()
}

/// Null until the first call picks the best table. Relaxed ordering is
/// enough: the pointees are immutable statics, so there is no data to publish.
static ACTIVE: AtomicPtr<Kernels> = AtomicPtr::new(ptr::null_mut());

#[inline(always)]
pub(crate) fn active() -> &'static Kernels {
    let p = ACTIVE.load(Ordering::Relaxed);
    if p.is_null() {
        return init_active();
    }
    // SAFETY: ACTIVE only ever holds null or a pointer to a `static Kernels`
    // obtained from `table`.
    unsafe { &*p }
}

#[cold]
fn init_active() -> &'static Kernels {
    let best = supported_isas()[0];
    let best = table(best).expect("supported_isas only lists supported paths");
    let p = ptr::from_ref(best).cast_mut();
    // A concurrent `force_isa` wins over the lazy default.
    match ACTIVE.compare_exchange(ptr::null_mut(), p, Ordering::Relaxed, Ordering::Relaxed) {
        Ok(_) => best,
        // SAFETY: as in `active`; the slot is non-null once the exchange fails.
        Err(current) => unsafe { &*current },
    }
}

/// The path all kernels currently use (picks the best one on first use).
pub fn active_isa() -> Isa {
    active().isa
}

/// Name of the active table: the path's name, plus the optional features it
/// uses beyond the path's baseline (e.g. `avx512+vpopcntdq`).
pub fn active_variant() -> &'static str {
    active().name
}

/// Switches every kernel to `isa`, for tests and benchmarks. Fails, leaving
/// the active path unchanged, if this CPU (or build target) lacks `isa`.
pub fn force_isa(isa: Isa) -> Result<(), String> {
    let t = table(isa)
        .ok_or_else(|| format!("this CPU does not support the {} kernels", isa.name()))?;
    ACTIVE.store(ptr::from_ref(t).cast_mut(), Ordering::Relaxed);
    Ok(())
}
