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

use crate::same_len;

/// Independent merges interleaved; four chains keep a 4-wide core busy.
const WAYS: usize = 4;
/// Below this many entries on the longer side, splitting costs more than
/// it saves.
const SPLIT_MIN: usize = 64;

/// What a kernel adds for each index.
trait Terms {
    /// Whether indices present on one side only contribute (`one`).
    const ONE_SIDED: bool;
    /// Contribution of an index present on both sides.
    fn both(x: f32, y: f32) -> f32;
    /// Contribution of an index present on one side only.
    fn one(v: f32) -> f32;
}

struct Dot;
struct L2;
struct L1;

impl Terms for Dot {
    const ONE_SIDED: bool = false;
    fn both(x: f32, y: f32) -> f32 {
        x * y
    }
    fn one(_: f32) -> f32 {
        0.0
    }
}

impl Terms for L2 {
    const ONE_SIDED: bool = true;
    fn both(x: f32, y: f32) -> f32 {
        (x - y) * (x - y)
    }
    fn one(v: f32) -> f32 {
        v * v
    }
}

impl Terms for L1 {
    const ONE_SIDED: bool = true;
    fn both(x: f32, y: f32) -> f32 {
        (x - y).abs()
    }
    fn one(v: f32) -> f32 {
        v.abs()
    }
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
        let (p, q) = (v.av[self.i], v.bv[self.j]);
        self.sum += if x == y {
            T::both(p, q)
        } else if !T::ONE_SIDED {
            0.0
        } else if x < y {
            T::one(p)
        } else {
            T::one(q)
        };
        self.i += (x <= y) as usize;
        self.j += (y <= x) as usize;
    }

    /// Runs this merge to the end, including the one-sided leftovers.
    #[inline(always)]
    fn finish<T: Terms>(mut self, v: Operands) -> f32 {
        while self.safe_steps() > 0 {
            self.step::<T>(v);
        }
        if T::ONE_SIDED {
            for &x in v.av[self.i..self.i_end].iter().chain(&v.bv[self.j..self.j_end]) {
                self.sum += T::one(x);
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
        Operands { ai: bi, av: bv, bi: ai, bv: av }
    };
    let (na, nb) = (v.ai.len(), v.bi.len());
    if na < SPLIT_MIN {
        return Cursor { i: 0, i_end: na, j: 0, j_end: nb, sum: 0.0 }.finish::<T>(v);
    }
    // Run k covers a[cuts[k].0..cuts[k + 1].0] and b[cuts[k].1..cuts[k + 1].1]:
    // the b entries below a's first index of the next run.
    let cuts: [(usize, usize); WAYS + 1] = std::array::from_fn(|k| match k {
        0 => (0, 0),
        WAYS => (na, nb),
        _ => {
            let i = na * k / WAYS;
            (i, v.bi.partition_point(|&x| x < v.ai[i]))
        }
    });
    let mut runs: [Cursor; WAYS] = std::array::from_fn(|k| Cursor {
        i: cuts[k].0,
        i_end: cuts[k + 1].0,
        j: cuts[k].1,
        j_end: cuts[k + 1].1,
        sum: 0.0,
    });
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
