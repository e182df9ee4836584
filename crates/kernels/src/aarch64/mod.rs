//! AArch64 paths (little-endian only: the f16 loads reinterpret lanes).

pub(crate) mod neon;

pub(crate) fn has_neon() -> bool {
    std::arch::is_aarch64_feature_detected!("neon")
}
