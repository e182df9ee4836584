//! Sparse-vector kernels: a merge-join over strictly ascending indices,
//! shared by every path (the work is index chasing, not arithmetic).
//!
//! A textbook merge branches on `a[i] < b[j]`, which is close to random and
//! mispredicts about every other step. Advancing the cursors arithmetically
//! instead removes the branch but leaves a serial dependency (load the
//! index, compare, add to the cursor, load again) of ~7 cycles per step. So
//! the longer side is cut into `WAYS` equal runs, the other side is cut at
//! the same index values by binary search, and the resulting independent
//! merges are stepped in lockstep: the CPU overlaps their dependency chains.
//! An index present on both sides always falls in the same run.
//!
//! Measured on random 5%-dense vectors, against the textbook merge of
//! `scalar`: 2-2.5x faster from 384 dimensions on (1536: ~180 ns vs ~480).

use crate::same_len;

/// Independent merges interleaved. Two already hide most of the latency;
/// more ran no faster, as their cursors no longer fit in registers.
const WAYS: usize = 2;
/// Below this many entries on the longer side, splitting costs more than
/// it saves.
const SPLIT_MIN: usize = 16;

/// What a kernel adds for each merge step.
trait Terms {
    /// Whether indices present on one side only contribute.
    const ONE_SIDED: bool;
    /// The term for the current step: `p` and `q` are the values under the
    /// two cursors, `on_a` / `on_b` whether the current (smallest) index is
    /// the one under that cursor (both: an index present on both sides).
    fn term(on_a: bool, on_b: bool, p: f32, q: f32) -> f32;
}

struct Dot;
struct L2;
struct L1;

impl Terms for Dot {
    const ONE_SIDED: bool = false;
    #[inline(always)]
    fn term(on_a: bool, on_b: bool, p: f32, q: f32) -> f32 {
        // Common indices are rare and this branch predicts well.
        if on_a && on_b {
            p * q
        } else {
            0.0
        }
    }
}

impl Terms for L2 {
    const ONE_SIDED: bool = true;
    #[inline(always)]
    fn term(on_a: bool, on_b: bool, p: f32, q: f32) -> f32 {
        let d = keep_if(on_a, p) - keep_if(on_b, q);
        d * d
    }
}

impl Terms for L1 {
    const ONE_SIDED: bool = true;
    #[inline(always)]
    fn term(on_a: bool, on_b: bool, p: f32, q: f32) -> f32 {
        (keep_if(on_a, p) - keep_if(on_b, q)).abs()
    }
}

/// `v` if `keep`, else +0.0, computed with a bit mask. The mask goes through
/// `black_box` because LLVM otherwise sees that `v` is unused when `keep`
/// is false and turns the mask back into a branch around the load of `v`,
/// a branch that mispredicts half the time here (measured: 2x slower).
#[inline(always)]
fn keep_if(keep: bool, v: f32) -> f32 {
    f32::from_bits(v.to_bits() & std::hint::black_box((keep as u32).wrapping_neg()))
}

/// Both sparse vectors, indices and values of equal lengths.
#[derive(Clone, Copy)]
struct Operands<'a> {
    ai: &'a [i32],
    av: &'a [f32],
    bi: &'a [i32],
    bv: &'a [f32],
}

/// One merge over `a[i..i_end]` and `b[j..j_end]`.
#[derive(Clone, Copy)]
struct Cursor {
    i: usize,
    i_end: usize,
    j: usize,
    j_end: usize,
    sum: f32,
}

impl Cursor {
    /// The merge of `a[start.0..end.0]` with `b[start.1..end.1]`.
    fn new(start: (usize, usize), end: (usize, usize)) -> Cursor {
        Cursor {
            i: start.0,
            i_end: end.0,
            j: start.1,
            j_end: end.1,
            sum: 0.0,
        }
    }

    /// Steps that certainly stay within both ranges (each step advances
    /// `i`, `j` or both by one).
    #[inline(always)]
    fn safe_steps(&self) -> usize {
        (self.i_end - self.i).min(self.j_end - self.j)
    }

    /// One branch-free merge step; requires `safe_steps() > 0`.
    #[inline(always)]
    fn step<T: Terms>(&mut self, v: Operands) {
        let (x, y) = (v.ai[self.i], v.bi[self.j]);
        let (on_a, on_b) = (x <= y, y <= x);
        self.sum += T::term(on_a, on_b, v.av[self.i], v.bv[self.j]);
        self.i += on_a as usize;
        self.j += on_b as usize;
    }

    /// Runs this merge to the end, including the one-sided leftovers.
    #[inline(always)]
    fn finish<T: Terms>(mut self, v: Operands) -> f32 {
        while self.safe_steps() > 0 {
            self.step::<T>(v);
        }
        if T::ONE_SIDED {
            for &p in &v.av[self.i..self.i_end] {
                self.sum += T::term(true, false, p, 0.0);
            }
            for &q in &v.bv[self.j..self.j_end] {
                self.sum += T::term(false, true, 0.0, q);
            }
        }
        self.sum
    }
}

#[inline(always)]
fn merge<T: Terms>(ai: &[i32], av: &[f32], bi: &[i32], bv: &[f32]) -> f32 {
    let (ai, av) = same_len(ai, av);
    let (bi, bv) = same_len(bi, bv);
    // Every kernel is symmetric in a and b: split the longer side.
    let v = if ai.len() >= bi.len() {
        Operands { ai, av, bi, bv }
    } else {
        Operands {
            ai: bi,
            av: bv,
            bi: ai,
            bv: av,
        }
    };
    let (na, nb) = (v.ai.len(), v.bi.len());
    if na < SPLIT_MIN {
        return Cursor::new((0, 0), (na, nb)).finish::<T>(v);
    }
    // Run k merges a[cuts[k].0..cuts[k + 1].0] with b[cuts[k].1..cuts[k + 1].1],
    // where each b cut is the first entry not below a's index at that a cut.
    let cuts: [(usize, usize); WAYS + 1] = std::array::from_fn(|k| match k {
        0 => (0, 0),
        WAYS => (na, nb),
        _ => {
            let i = na * k / WAYS;
            (i, v.bi.partition_point(|&x| x < v.ai[i]))
        }
    });
    let mut runs: [Cursor; WAYS] = std::array::from_fn(|k| Cursor::new(cuts[k], cuts[k + 1]));
    loop {
        let n = runs.iter().map(Cursor::safe_steps).min().unwrap_or(0);
        if n == 0 {
            break;
        }
        for _ in 0..n {
            for run in &mut runs {
                run.step::<T>(v);
            }
        }
    }
    runs.iter().map(|run| run.finish::<T>(v)).sum()
}

pub(crate) fn dot(ai: &[i32], av: &[f32], bi: &[i32], bv: &[f32]) -> f32 {
    merge::<Dot>(ai, av, bi, bv)
}

pub(crate) fn l2_squared(ai: &[i32], av: &[f32], bi: &[i32], bv: &[f32]) -> f32 {
    merge::<L2>(ai, av, bi, bv)
}

pub(crate) fn l1(ai: &[i32], av: &[f32], bi: &[i32], bv: &[f32]) -> f32 {
    merge::<L1>(ai, av, bi, bv)
}
