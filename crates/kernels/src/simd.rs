//! The dense and bit kernels, written once for every SIMD path.
//!
//! `simd_kernels!` expands inside a path's module (`x86::avx2`,
//! `x86::avx512`, `aarch64::neon`) and builds that module's `KERNELS` table
//! on top of a few primitives the module defines, every one `#[inline]` and
//! compiled with the same target features:
//!
//! * float lanes: `type F`, `const LANES`, `zero`, `add`, `sub`, `fmadd(a, b,
//!   acc)`, `abs`, `hsum`, and `impl Load for f32` / `impl Load for f16`
//!   (`Load` is declared here; f16 is widened to f32 on load);
//! * bytes: `type B`, `const BYTES`, `load_bytes`, `load_bytes_partial`, `and`,
//!   `xor`, and a popcount accumulator `type C` with `count_zero`,
//!   `count_add(acc, bytes)`, `count_total`.
//!
//! Loads are unaligned; the final partial block is loaded zero-filled (masked
//! load or a stack copy), which every kernel treats as neutral: 0*0, |0-0|
//! and popcount(0) are all 0, so no scalar tail loop is needed.
//!
//! The sparse kernels are not here: see `crate::sparse`.

macro_rules! simd_kernels {
    ($isa:expr, $features:literal) => {
        use $crate::{cosine_from_parts, f16, jaccard_from_counts, same_len, Kernels};

        pub(crate) static KERNELS: Kernels = Kernels {
            isa: $isa,
            l2_squared_f32: l2_squared::<f32>,
            dot_f32: dot::<f32>,
            l1_f32: l1::<f32>,
            norm_squared_f32: norm_squared::<f32>,
            cosine_distance_f32: cosine_distance::<f32>,
            l2_squared_f16: l2_squared::<f16>,
            dot_f16: dot::<f16>,
            l1_f16: l1::<f16>,
            norm_squared_f16: norm_squared::<f16>,
            cosine_distance_f16: cosine_distance::<f16>,
            hamming,
            popcount,
            jaccard_distance,
            sparse_dot: $crate::sparse::dot,
            sparse_l2_squared: $crate::sparse::l2_squared,
            sparse_l1: $crate::sparse::l1,
        };

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
        fn fold<T: Load, A: Copy>(
            a: &[T],
            b: &[T],
            zero: A,
            step: impl Fn(A, F, F) -> A,
            merge: impl Fn(A, A) -> A,
        ) -> A {
            let (a, b) = same_len(a, b);
            let mut acc = [zero; UNROLL];
            let mut a_blocks = a.chunks_exact(LANES * UNROLL);
            let mut b_blocks = b.chunks_exact(LANES * UNROLL);
            for (x, y) in (&mut a_blocks).zip(&mut b_blocks) {
                for (k, acc) in acc.iter_mut().enumerate() {
                    // SAFETY: each block holds UNROLL * LANES elements.
                    let (x, y) = unsafe { (T::load(x.as_ptr().add(k * LANES)), T::load(y.as_ptr().add(k * LANES))) };
                    *acc = step(*acc, x, y);
                }
            }
            // Fewer than UNROLL full vectors remain, then a partial one.
            let mut a_rest = a_blocks.remainder().chunks_exact(LANES);
            let mut b_rest = b_blocks.remainder().chunks_exact(LANES);
            for (acc, (x, y)) in acc.iter_mut().zip((&mut a_rest).zip(&mut b_rest)) {
                // SAFETY: each chunk holds LANES elements.
                let (x, y) = unsafe { (T::load(x.as_ptr()), T::load(y.as_ptr())) };
                *acc = step(*acc, x, y);
            }
            if !a_rest.remainder().is_empty() {
                // SAFETY: the features are enabled here; remainders are < LANES.
                let (x, y) = unsafe { (T::load_partial(a_rest.remainder()), T::load_partial(b_rest.remainder())) };
                acc[UNROLL - 1] = step(acc[UNROLL - 1], x, y);
            }
            merge(merge(acc[0], acc[1]), merge(acc[2], acc[3]))
        }

        #[target_feature(enable = $features)]
        fn l2_squared<T: Load>(a: &[T], b: &[T]) -> f32 {
            let step = |acc, x, y| {
                let d = sub(x, y);
                fmadd(d, d, acc)
            };
            hsum(fold(a, b, zero(), step, |p, q| add(p, q)))
        }

        #[target_feature(enable = $features)]
        fn dot<T: Load>(a: &[T], b: &[T]) -> f32 {
            hsum(fold(a, b, zero(), |acc, x, y| fmadd(x, y, acc), |p, q| add(p, q)))
        }

        #[target_feature(enable = $features)]
        fn l1<T: Load>(a: &[T], b: &[T]) -> f32 {
            hsum(fold(a, b, zero(), |acc, x, y| add(acc, abs(sub(x, y))), |p, q| add(p, q)))
        }

        #[target_feature(enable = $features)]
        fn norm_squared<T: Load>(a: &[T]) -> f32 {
            // Both operands are `a`; the duplicate loads fold into one.
            hsum(fold(a, a, zero(), |acc, x, _| fmadd(x, x, acc), |p, q| add(p, q)))
        }

        #[target_feature(enable = $features)]
        fn cosine_distance<T: Load>(a: &[T], b: &[T]) -> f64 {
            let step = |[ab, aa, bb]: [F; 3], x, y| [fmadd(x, y, ab), fmadd(x, x, aa), fmadd(y, y, bb)];
            let merge = |p: [F; 3], q: [F; 3]| [add(p[0], q[0]), add(p[1], q[1]), add(p[2], q[2])];
            let [ab, aa, bb] = fold(a, b, [zero(); 3], step, merge);
            cosine_from_parts(hsum(ab), hsum(aa), hsum(bb))
        }

        /// Popcounts of the `N` byte vectors `words` derives from each block
        /// of `a` and `b`, summed over the whole slices.
        #[inline]
        #[target_feature(enable = $features)]
        fn fold_bits<const N: usize>(a: &[u8], b: &[u8], words: impl Fn(B, B) -> [B; N]) -> [u64; N] {
            let (a, b) = same_len(a, b);
            let mut acc = [count_zero(); N];
            let mut absorb = |x: B, y: B| {
                for (acc, w) in acc.iter_mut().zip(words(x, y)) {
                    *acc = count_add(*acc, w);
                }
            };
            let mut a_blocks = a.chunks_exact(BYTES);
            let mut b_blocks = b.chunks_exact(BYTES);
            for (x, y) in (&mut a_blocks).zip(&mut b_blocks) {
                // SAFETY: each block holds BYTES bytes.
                unsafe { absorb(load_bytes(x.as_ptr()), load_bytes(y.as_ptr())) };
            }
            if !a_blocks.remainder().is_empty() {
                absorb(load_bytes_partial(a_blocks.remainder()), load_bytes_partial(b_blocks.remainder()));
            }
            acc.map(|c| count_total(c))
        }

        #[target_feature(enable = $features)]
        fn hamming(a: &[u8], b: &[u8]) -> u64 {
            let [d] = fold_bits(a, b, |x, y| [xor(x, y)]);
            d
        }

        #[target_feature(enable = $features)]
        fn popcount(a: &[u8]) -> u64 {
            let [n] = fold_bits(a, a, |x, _| [x]);
            n
        }

        #[target_feature(enable = $features)]
        fn jaccard_distance(a: &[u8], b: &[u8]) -> f64 {
            let [ab, aa, bb] = fold_bits(a, b, |x, y| [and(x, y), x, y]);
            jaccard_from_counts(ab, aa, bb)
        }
    };
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

/// Copies a short tail into a zeroed block, for loads that have no masked
/// form on the path.
#[inline(always)]
pub(crate) fn zero_padded<T: Copy + Default, const N: usize>(s: &[T]) -> [T; N] {
    let mut block = [T::default(); N];
    block[..s.len()].copy_from_slice(s);
    block
}
