//! x86-64 paths. Detection asks for every feature a path's code is compiled
//! with (rustc also implies AVX2/FMA/F16C from AVX-512F), so a table is
//! never handed out on a CPU, or VM, that masks one of them.

pub(crate) mod avx2;
pub(crate) mod avx512;

pub(crate) fn has_avx2() -> bool {
    is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
        && is_x86_feature_detected!("f16c")
}

pub(crate) fn has_avx512() -> bool {
    has_avx2() && is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw")
}

pub(crate) fn has_avx512_vpopcntdq() -> bool {
    has_avx512() && is_x86_feature_detected!("avx512vpopcntdq")
}
