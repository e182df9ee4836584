//! The sample k-means trains on: a uniform reservoir sample of the table's
//! rows (Algorithm R) that grows within a memory budget.
//!
//! The caller offers rows one by one (a heap scan); [`Reservoir::offer`]
//! decides whether the row enters the sample before the caller decodes it,
//! so rows that do not enter cost nothing.
//!
//! Memory: a build fails where pgvector's fails, with pgvector's figures
//! ([`PgvectorMemory`]), and never needs more than pgvector would for the
//! same table. The sample and what k-means needs on top of it
//! ([`kmeans_memory`]) must stay within a limit that grows with the sample
//! as pgvector's accounting does; a reservoir that reaches it stops
//! growing, which is Algorithm R with that smaller capacity (rows before it
//! were all kept either way), so the sample stays uniform. Bit vectors are
//! the case that matters: k-means sees one float per bit, 32 times what
//! pgvector stores per sampled row, so their samples are smaller.

use crate::kmeans::SEEDING_POINTS_PER_LIST;
use crate::rng::SplitMix64;

/// Where an offered row goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// Appended: the reservoir is not full yet.
    Append,
    /// Replaces the sampled row at this index.
    Replace(usize),
}

/// Why a row could not enter the sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SampleError {
    /// Training on the sample needs more than the budget: pgvector's
    /// `memory required is {required_mb} MB, maintenance_work_mem is
    /// {budget_mb} MB` (both rounded as pgvector rounds them).
    Memory {
        /// Megabytes the full sample would need, rounded up.
        required_mb: usize,
        /// The budget in megabytes, rounded down.
        budget_mb: usize,
    },
    /// The row does not have the sample's dimensions.
    Dimensions {
        /// Floats per sampled row.
        expected: usize,
        /// Floats in the offered row.
        got: usize,
    },
}

/// Bytes k-means needs for `samples` rows of `dims` floats, `lists`
/// centroids and `threads` workers: the sample, per-point norms,
/// assignments and costs (20 bytes), the centroids, the k-means++
/// subsample and its distances, and each worker's f64 sum of a centroid.
pub fn kmeans_memory(samples: usize, dims: usize, lists: usize, threads: usize) -> usize {
    let row = dims * std::mem::size_of::<f32>();
    let seeding = samples.min(lists * SEEDING_POINTS_PER_LIST);
    samples * (row + 20) + lists * row + seeding * (row + 4) + threads.max(1) * dims * 8
}

/// pgvector's `MaxHeapTuplesPerPage` for 8 kB pages.
const MAX_HEAP_TUPLES_PER_PAGE: u64 = 291;

/// pgvector's accounting of an IVFFlat build's memory (the figures in its
/// `memory required is N MB` error): the centers and the sample as arrays
/// of `item_size`-byte values, then what its k-means allocates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PgvectorMemory {
    lists: usize,
    dims: usize,
    item_size: usize,
    sample_rows: usize,
}

impl PgvectorMemory {
    /// The build of `lists` lists over a table of `heap_blocks` blocks, for
    /// values of `dims` dimensions that take `item_size` bytes each
    /// (varlena header included).
    pub fn new(lists: usize, dims: usize, item_size: usize, heap_blocks: u64) -> Self {
        let target = (lists * 50).max(10_000) as u64;
        let sample_rows = target.min(heap_blocks * MAX_HEAP_TUPLES_PER_PAGE).max(1) as usize;
        PgvectorMemory {
            lists,
            dims,
            item_size,
            sample_rows,
        }
    }

    /// Rows pgvector samples at most.
    pub fn sample_rows(&self) -> usize {
        self.sample_rows
    }

    fn array(&self, rows: usize) -> usize {
        // A VectorArray header and MAXALIGNed items.
        32 + rows * self.item_size.div_ceil(8) * 8
    }

    /// Bytes once the centers and the sample array are allocated.
    pub fn before_sampling(&self) -> usize {
        self.array(self.lists) + self.array(self.sample_rows)
    }

    /// Bytes while k-means runs on `sampled` rows.
    pub fn at_kmeans(&self, sampled: usize) -> usize {
        let (k, n) = (self.lists, sampled);
        self.before_sampling()
            + self.array(k)
            + 4 * k * self.dims
            + 4 * k
            + 4 * n
            + 4 * n * k
            + 4 * n
            + 4 * k
            + 4 * k * k
            + 4 * k
    }

    /// pgvector's check of `bytes` against a budget of `budget` bytes
    /// (`maintenance_work_mem`), with its figures.
    pub fn check(bytes: usize, budget: usize) -> Result<(), SampleError> {
        if bytes / 1024 > budget / 1024 {
            return Err(SampleError::Memory {
                required_mb: bytes / (1024 * 1024) + 1,
                budget_mb: budget / (1024 * 1024),
            });
        }
        Ok(())
    }

    /// What our sample of `rows` rows may take: no more than pgvector's
    /// build takes with as many rows, and within `budget`.
    pub fn limit(&self, rows: usize, budget: usize) -> usize {
        self.at_kmeans(rows).min(budget)
    }
}

/// A uniform sample of up to `capacity` rows of `dims` floats, row-major.
pub struct Reservoir {
    capacity: usize,
    dims: usize,
    lists: usize,
    threads: usize,
    /// Bytes the sample and k-means may take with a given number of rows.
    limit: Box<dyn Fn(usize) -> usize>,
    rows: Vec<f32>,
    /// Rows offered once the reservoir was full (plus its capacity).
    seen: u64,
    rng: SplitMix64,
}

impl Reservoir {
    /// An empty reservoir for training `lists` centroids on `threads`
    /// workers, whose [`kmeans_memory`] with `n` rows may be at most
    /// `limit(n)`; `seed` fixes which rows are kept, so the same table
    /// gives the same sample.
    pub fn new(
        capacity: usize,
        dims: usize,
        lists: usize,
        threads: usize,
        limit: impl Fn(usize) -> usize + 'static,
        seed: u64,
    ) -> Self {
        Reservoir {
            capacity,
            dims,
            lists,
            threads,
            limit: Box::new(limit),
            rows: Vec::new(),
            seen: 0,
            rng: SplitMix64::new(seed),
        }
    }

    /// Rows in the sample.
    pub fn len(&self) -> usize {
        self.rows.len() / self.dims.max(1)
    }

    /// True if no row was kept.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The sample, row-major.
    pub fn rows(&self) -> &[f32] {
        &self.rows
    }

    /// Offers the next row of the table: where it goes if the caller puts
    /// it, or `None` if it is not sampled. Algorithm R: once `capacity` rows
    /// are in, the `t`-th row replaces a uniformly chosen one with
    /// probability `capacity / t`.
    pub fn offer(&mut self) -> Option<Slot> {
        if self.len() < self.capacity {
            return Some(Slot::Append);
        }
        self.seen = self.seen.max(self.capacity as u64) + 1;
        let j = self.rng.below(self.seen as usize);
        (j < self.capacity).then_some(Slot::Replace(j))
    }

    /// Puts `row` where [`Reservoir::offer`] said. A caller that cannot
    /// decode the offered row (a zero vector under cosine) simply does not
    /// put it.
    pub fn put(&mut self, slot: Slot, row: &[f32]) -> Result<(), SampleError> {
        if row.len() != self.dims {
            return Err(SampleError::Dimensions {
                expected: self.dims,
                got: row.len(),
            });
        }
        match slot {
            Slot::Append => {
                if self.reserve_row() {
                    self.rows.extend_from_slice(row);
                } else {
                    // Full at this size from now on: the row is offered
                    // again like any later one.
                    self.capacity = self.len();
                    if let Some(Slot::Replace(j)) = self.offer() {
                        self.rows[j * self.dims..(j + 1) * self.dims].copy_from_slice(row);
                    }
                }
            }
            Slot::Replace(j) => self.rows[j * self.dims..(j + 1) * self.dims].copy_from_slice(row),
        }
        Ok(())
    }

    /// Makes room for one more row, growing geometrically but never past
    /// the capacity or the memory limit; false if one more row would pass
    /// the limit.
    fn reserve_row(&mut self) -> bool {
        if self.rows.len() < self.rows.capacity() {
            return true;
        }
        let needed = self.len() + 1;
        let fits = |rows: usize| {
            kmeans_memory(rows, self.dims, self.lists, self.threads) <= (self.limit)(rows)
        };
        if !fits(needed) {
            return false;
        }
        let mut rows = (self.len() * 2).max(64).min(self.capacity).max(needed);
        while rows > needed && !fits(rows) {
            rows = needed + (rows - needed) / 2;
        }
        self.rows.reserve_exact(rows * self.dims - self.rows.len());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unlimited(capacity: usize, dims: usize, seed: u64) -> Reservoir {
        Reservoir::new(capacity, dims, 1, 1, |_| usize::MAX, seed)
    }

    fn fill(reservoir: &mut Reservoir, n: usize) {
        for i in 0..n {
            if let Some(slot) = reservoir.offer() {
                reservoir.put(slot, &[i as f32, 0.0]).unwrap();
            }
        }
    }

    #[test]
    fn keeps_everything_below_capacity() {
        let mut r = unlimited(10, 2, 1);
        fill(&mut r, 7);
        assert_eq!(r.len(), 7);
        let firsts: Vec<f32> = r.rows().chunks(2).map(|x| x[0]).collect();
        assert_eq!(firsts, (0..7).map(|i| i as f32).collect::<Vec<_>>());
    }

    #[test]
    fn sample_is_uniform_and_reproducible() {
        // Each of 100 rows should be kept about capacity/n = 20% of the time.
        let mut counts = [0u32; 100];
        for seed in 0..2000 {
            let mut r = unlimited(20, 2, seed);
            fill(&mut r, 100);
            assert_eq!(r.len(), 20);
            for row in r.rows().chunks(2) {
                counts[row[0] as usize] += 1;
            }
        }
        // Expected 400 per row; 5 sigma is about 90.
        for (i, &c) in counts.iter().enumerate() {
            assert!((300..500).contains(&c), "row {i} kept {c} times");
        }
        let mut a = unlimited(5, 2, 9);
        let mut b = unlimited(5, 2, 9);
        fill(&mut a, 1000);
        fill(&mut b, 1000);
        assert_eq!(a.rows(), b.rows());
    }

    #[test]
    fn a_sample_that_reaches_its_memory_limit_stays_uniform_at_that_size() {
        let limit = kmeans_memory(30, 2, 1, 1);
        let mut counts = [0u32; 100];
        for seed in 0..2000 {
            let mut r = Reservoir::new(1000, 2, 1, 1, move |_| limit, seed);
            fill(&mut r, 100);
            assert!(kmeans_memory(r.len(), 2, 1, 1) <= limit);
            assert_eq!(r.len(), 30);
            for row in r.rows().chunks(2) {
                counts[row[0] as usize] += 1;
            }
        }
        // Expected 600 per row (30%); 5 sigma is about 100.
        for (i, &c) in counts.iter().enumerate() {
            assert!((480..720).contains(&c), "row {i} kept {c} times");
        }
    }

    #[test]
    fn refuses_rows_of_other_dimensions() {
        let mut r = unlimited(5, 3, 0);
        let slot = r.offer().unwrap();
        assert_eq!(
            r.put(slot, &[1.0]),
            Err(SampleError::Dimensions {
                expected: 3,
                got: 1
            })
        );
    }

    #[test]
    fn pgvector_figures() {
        // bit(64000), 100 lists (items of 8 + 8000 bytes), empty table:
        // one sample row; pgvector builds at 1 MB (k-means does not run
        // without rows).
        let bits = PgvectorMemory::new(100, 64000, 8008, 0);
        assert_eq!(bits.sample_rows(), 1);
        assert!(PgvectorMemory::check(bits.before_sampling(), 1 << 20).is_ok());
        // One row in one block: room for 291 sample rows; k-means on the
        // one row needs 29,573,632 bytes: pgvector builds it at 29 MB (its
        // own regression test), not at 28 MB.
        let one = PgvectorMemory::new(100, 64000, 8008, 1);
        assert_eq!(one.sample_rows(), 291);
        assert!(PgvectorMemory::check(one.at_kmeans(1), 29 << 20).is_ok());
        assert_eq!(
            PgvectorMemory::check(one.at_kmeans(1), 28 << 20),
            Err(SampleError::Memory {
                required_mb: 29,
                budget_mb: 28
            })
        );
        // Large tables sample 50 rows per list, at least 10,000.
        assert_eq!(
            PgvectorMemory::new(1000, 3, 20, 1 << 20).sample_rows(),
            50_000
        );
        assert_eq!(
            PgvectorMemory::new(10, 3, 20, 1 << 20).sample_rows(),
            10_000
        );
    }

    #[test]
    fn our_sample_never_needs_more_than_pgvector() {
        // bit(64000) rows: 64,000 floats for k-means against 8,008 bytes
        // for pgvector, so fewer of them fit what pgvector would use.
        let model = PgvectorMemory::new(100, 64000, 8008, 7);
        let budget = 64 << 20;
        let mut r = Reservoir::new(
            model.sample_rows(),
            64000,
            100,
            2,
            move |rows| model.limit(rows, budget),
            5,
        );
        let row = vec![1.0f32; 64000];
        for _ in 0..1000 {
            if let Some(slot) = r.offer() {
                r.put(slot, &row).unwrap();
            }
        }
        assert!(!r.is_empty());
        assert!(kmeans_memory(r.len(), 64000, 100, 2) <= model.at_kmeans(1000));
        assert!(PgvectorMemory::check(model.at_kmeans(1000), budget).is_ok());
    }
}
