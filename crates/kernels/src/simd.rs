//! The dense and bit kernels, written once for every SIMD path.
//!
//! `simd_kernels!` expands inside a path's module (`x86::avx2`,
//! `x86::avx512`, `aarch64::neon`) and builds that module's table, `const
//! TABLE` (for variants to copy from) and `static KERNELS`, on top of a few
//! primitives the module defines, every one `#[inline]` and compiled with
//! the same target features:
//!
//! * float lanes: `type F`, `const LANES`, `zero`, `add`, `sub`, `fmadd(a, b,
//!   acc)`, `abs`, `hsum`, and `impl Load for f32` / `impl Load for f16`
//!   (`Load` is declared here; f16 is widened to f32 on load);
//! * `const ALIGN_LOADS: bool` (see below);
//! * bytes: `type B`, `const BYTES`, `load_bytes`, `load_bytes_partial`, `and`,
//!   `xor`, and a popcount accumulator `type C` with `count_zero`,
//!   `count_add(acc, bytes)`, `count_total`.
//!
//! Loads are unaligned; the final partial block is loaded zero-filled (masked
//! load or a stack copy), which every kernel treats as neutral: 0*0, |0-0|
//! and popcount(0) are all 0, so no scalar tail loop is needed.
//!
//! Where the module sets `ALIGN_LOADS`, the bit kernels split a partial
//! first block off the same way so that all later loads from `a` are
//! aligned: a load straddling two cache lines costs two L1 accesses. The
//! float kernels do not (see `fold`): it would make their rounding depend on
//! the vectors' addresses. That costs them about a fifth on long vectors in
//! L1 (1536-dim dot on AVX-512: 48 ns unaligned, 37 ns with `a` aligned);
//! index scans, bound by memory latency, do not notice.
//!
//! `simd_bit_kernels!` is the bit half alone, for a variant that only
//! changes the popcount primitives.
//!
//! The sparse kernels are not here: see `crate::sparse`.

macro_rules! simd_kernels {
    ($isa:expr, $features:literal) => {
        use $crate::{cosine_from_parts, f16, same_len, Kernels};

        pub(crate) const TABLE: Kernels = Kernels {
            isa: $isa,
            name: $isa.name(),
            l2_squared_f32: l2_squared::<f32, f32>,
            dot_f32: dot::<f32, f32>,
            l1_f32: l1::<f32, f32>,
            norm_squared_f32: norm_squared::<f32>,
            cosine_distance_f32: cosine_distance::<f32, f32>,
            l2_squared_f16: l2_squared::<f16, f16>,
            dot_f16: dot::<f16, f16>,
            l1_f16: l1::<f16, f16>,
            norm_squared_f16: norm_squared::<f16>,
            cosine_distance_f16: cosine_distance::<f16, f16>,
            l2_squared_f32_f16: l2_squared::<f32, f16>,
            dot_f32_f16: dot::<f32, f16>,
            l1_f32_f16: l1::<f32, f16>,
            cosine_distance_f32_f16: cosine_distance::<f32, f16>,
            dot_norm_f32_f16: dot_norm::<f32, f16>,
            hamming,
            popcount,
            jaccard_distance,
            sparse_dot: $crate::sparse::dot,
            sparse_l2_squared: $crate::sparse::l2_squared,
            sparse_l1: $crate::sparse::l1,
        };

        pub(crate) static KERNELS: Kernels = TABLE;

        /// Element types the dense kernels read, widened to f32 lanes.
        trait Load: Copy {
            /// Loads `LANES` elements from `p`.
            ///
            /// # Safety
            /// `p` must be valid for `LANES` reads, and the CPU must have
            /// this module's target features.
            unsafe fn load(p: *const Self) -> F;
            /// Loads `s.len() < LANES` elements, zero-filling the other lanes.
            ///
            /// # Safety
            /// The CPU must have this module's target features.
            unsafe fn load_partial(s: &[Self]) -> F;
        }

        /// Independent accumulators per reduction: an FMA has a latency of
        /// about four cycles, so one accumulator would leave the units idle.
        const UNROLL: usize = 4;

        /// Feeds `step` every block of `LANES` element pairs, round-robin
        /// over `UNROLL` accumulators, then combines them with `merge`.
        #[inline]
        #[target_feature(enable = $features)]
        fn fold<T: Load, U: Load, A: Copy>(
            a: &[T],
            b: &[U],
            zero: A,
            step: impl Fn(A, F, F) -> A,
            merge: impl Fn(A, A) -> A,
        ) -> A {
            // No alignment peel here, unlike the bit kernels: its length
            // depends on the address, which would change how elements group
            // into lanes and so the rounding of the sum. The same two vectors
            // at two addresses (a heap tuple and the executor's copy of it)
            // would then be a last bit apart, and rows an index scan hands
            // to the executor for rechecking could come out an ulp out of
            // order. Float results depend only on the values.
            let (a, b) = same_len(a, b);
            let mut acc = [zero; UNROLL];
            let mut a_blocks = a.chunks_exact(LANES * UNROLL);
            let mut b_blocks = b.chunks_exact(LANES * UNROLL);
            for (x, y) in (&mut a_blocks).zip(&mut b_blocks) {
                for (k, acc) in acc.iter_mut().enumerate() {
                    // SAFETY: each block holds UNROLL * LANES elements.
                    let (x, y) = unsafe {
                        (
                            T::load(x.as_ptr().add(k * LANES)),
                            U::load(y.as_ptr().add(k * LANES)),
                        )
                    };
                    *acc = step(*acc, x, y);
                }
            }
            // Fewer than UNROLL full vectors remain, then a partial one.
            let mut a_rest = a_blocks.remainder().chunks_exact(LANES);
            let mut b_rest = b_blocks.remainder().chunks_exact(LANES);
            for (acc, (x, y)) in acc.iter_mut().zip((&mut a_rest).zip(&mut b_rest)) {
                // SAFETY: each chunk holds LANES elements.
                let (x, y) = unsafe { (T::load(x.as_ptr()), U::load(y.as_ptr())) };
                *acc = step(*acc, x, y);
            }
            if !a_rest.remainder().is_empty() {
                // SAFETY: the features are enabled here; remainders are < LANES.
                let (x, y) = unsafe {
                    (
                        T::load_partial(a_rest.remainder()),
                        U::load_partial(b_rest.remainder()),
                    )
                };
                acc[UNROLL - 1] = step(acc[UNROLL - 1], x, y);
            }
            merge(merge(acc[0], acc[1]), merge(acc[2], acc[3]))
        }

        #[target_feature(enable = $features)]
        fn l2_squared<T: Load, U: Load>(a: &[T], b: &[U]) -> f32 {
            let step = |acc, x, y| {
                let d = sub(x, y);
                fmadd(d, d, acc)
            };
            hsum(fold(a, b, zero(), step, |p, q| add(p, q)))
        }

        #[target_feature(enable = $features)]
        fn dot<T: Load, U: Load>(a: &[T], b: &[U]) -> f32 {
            let step = |acc, x, y| fmadd(x, y, acc);
            hsum(fold(a, b, zero(), step, |p, q| add(p, q)))
        }

        #[target_feature(enable = $features)]
        fn l1<T: Load, U: Load>(a: &[T], b: &[U]) -> f32 {
            let step = |acc, x, y| add(acc, abs(sub(x, y)));
            hsum(fold(a, b, zero(), step, |p, q| add(p, q)))
        }

        #[target_feature(enable = $features)]
        fn norm_squared<T: Load>(a: &[T]) -> f32 {
            // Both operands are `a`; LLVM merges the duplicate loads.
            let step = |acc, x, _| fmadd(x, x, acc);
            hsum(fold(a, a, zero(), step, |p, q| add(p, q)))
        }

        #[target_feature(enable = $features)]
        fn cosine_distance<T: Load, U: Load>(a: &[T], b: &[U]) -> f64 {
            let step =
                |[ab, aa, bb]: [F; 3], x, y| [fmadd(x, y, ab), fmadd(x, x, aa), fmadd(y, y, bb)];
            let merge = |p: [F; 3], q: [F; 3]| [add(p[0], q[0]), add(p[1], q[1]), add(p[2], q[2])];
            let [ab, aa, bb] = fold(a, b, [zero(); 3], step, merge);
            cosine_from_parts(hsum(ab), hsum(aa), hsum(bb))
        }

        #[target_feature(enable = $features)]
        fn dot_norm<T: Load, U: Load>(a: &[T], b: &[U]) -> (f32, f32) {
            let step = |[ab, bb]: [F; 2], x, y| [fmadd(x, y, ab), fmadd(y, y, bb)];
            let merge = |p: [F; 2], q: [F; 2]| [add(p[0], q[0]), add(p[1], q[1])];
            let [ab, bb] = fold(a, b, [zero(); 2], step, merge);
            (hsum(ab), hsum(bb))
        }

        simd_bit_kernels!($features);
    };
}

macro_rules! simd_bit_kernels {
    ($features:literal) => {
        /// Popcounts of the `N` byte vectors `words` derives from each block
        /// of `a` and `b`, summed over the whole slices.
        #[inline]
        #[target_feature(enable = $features)]
        fn fold_bits<const N: usize>(
            a: &[u8],
            b: &[u8],
            words: impl Fn(B, B) -> [B; N],
        ) -> [u64; N] {
            let (a, b) = $crate::same_len(a, b);
            let mut acc = [count_zero(); N];
            let mut absorb = |x: B, y: B| {
                for (acc, w) in acc.iter_mut().zip(words(x, y)) {
                    *acc = count_add(*acc, w);
                }
            };
            let (a, b) = if ALIGN_LOADS {
                let peel = $crate::simd::misaligned_prefix(a, BYTES);
                let ((a_head, a), (b_head, b)) = (a.split_at(peel), b.split_at(peel));
                if peel > 0 {
                    absorb(load_bytes_partial(a_head), load_bytes_partial(b_head));
                }
                (a, b)
            } else {
                (a, b)
            };
            let mut a_blocks = a.chunks_exact(BYTES);
            let mut b_blocks = b.chunks_exact(BYTES);
            for (x, y) in (&mut a_blocks).zip(&mut b_blocks) {
                // SAFETY: each block holds BYTES bytes.
                unsafe { absorb(load_bytes(x.as_ptr()), load_bytes(y.as_ptr())) };
            }
            if !a_blocks.remainder().is_empty() {
                absorb(
                    load_bytes_partial(a_blocks.remainder()),
                    load_bytes_partial(b_blocks.remainder()),
                );
            }
            acc.map(|c| count_total(c))
        }

        #[target_feature(enable = $features)]
        pub(super) fn hamming(a: &[u8], b: &[u8]) -> u64 {
            let [d] = fold_bits(a, b, |x, y| [xor(x, y)]);
            d
        }

        #[target_feature(enable = $features)]
        pub(super) fn popcount(a: &[u8]) -> u64 {
            let [n] = fold_bits(a, a, |x, _| [x]);
            n
        }

        #[target_feature(enable = $features)]
        pub(super) fn jaccard_distance(a: &[u8], b: &[u8]) -> f64 {
            let [ab, aa, bb] = fold_bits(a, b, |x, y| [and(x, y), x, y]);
            $crate::jaccard_from_counts(ab, aa, bb)
        }
    };
}

/// Length of the prefix of `s` that precedes the first `width`-byte
/// boundary (at most `s.len()`).
#[inline(always)]
pub(crate) fn misaligned_prefix<T>(s: &[T], width: usize) -> usize {
    (s.as_ptr().cast::<u8>().align_offset(width) / size_of::<T>()).min(s.len())
}

/// Marks each primitive function `#[inline]` and compiles it with the
/// path's target features, so that it inlines into the kernels.
macro_rules! with_target_features {
    ($features:literal; $($item:item)*) => {
        $(
            #[inline]
            #[target_feature(enable = $features)]
            $item
        )*
    };
}
