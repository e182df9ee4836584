//! Index scans: rank the centroids by distance to the query, then read the
//! nearest lists and return their tuples nearest first.
//!
//! A plain scan reads `probes` lists and ends, like pgvector with
//! `ivfflat.iterative_scan = off`. An iterative scan (`relaxed_order`) reads
//! the next `probes` lists whenever the caller wants more rows than the lists
//! read so far hold, up to `max_probes` lists; rows are ordered within each
//! batch of lists but a later batch may return a nearer row than an earlier
//! one, so the executor re-sorts, as with pgvector.
//!
//! Memory is bounded ([`Scan::set_memory_limit`], `work_mem` in Postgres):
//! a batch keeps at most as many rows as fit the limit, the nearest ones.
//! When the caller wants more than that, the batch's lists are read again
//! for the next nearest rows after the last one returned (rows order by
//! distance, then heap TID, so no row is returned twice or skipped). Where
//! pgvector's sort would spill to disk, this reads the lists again; the
//! order returned is the same.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use pagestore::{BlockNumber, ItemPointer, Relation};

use crate::centroids::{for_each_centroid, read_meta};
use crate::error::IvfError;
use crate::lists::{for_each_page, for_each_tuple};
use crate::space::Space;

/// Whether a scan continues into more lists once its probes are exhausted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IterativeScan {
    /// Read `probes` lists, then end.
    Off,
    /// Keep reading `probes` more lists at a time, up to `max_probes` lists in
    /// all (`probes` if smaller).
    RelaxedOrder {
        /// Upper bound on lists read.
        max_probes: usize,
    },
}

/// How many lists a scan reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SearchOptions {
    /// Lists read per batch (at least one is read).
    pub probes: usize,
    /// Whether to continue after the first batch.
    pub iterative: IterativeScan,
}

/// A scan in progress. It holds no locks or page references between calls,
/// so it can live in the executor's scan state across `amgettuple` calls.
pub struct Scan {
    query: Vec<u8>,
    /// Heads of the lists to read, nearest centroid first.
    lists: Vec<BlockNumber>,
    next_list: usize,
    probes: usize,
    /// Rows of the lists read so far that were not yet returned.
    candidates: BinaryHeap<Candidate>,
    /// The index's payload size (rows of another size are damaged).
    payload_size: u32,
    /// Most rows held at once (from the memory limit).
    max_candidates: usize,
    /// Lists of the current batch, `lists[batch_start..next_list]`.
    batch_start: usize,
    /// The current batch held more rows than `max_candidates`: the rows
    /// after `last_returned` are still to be collected.
    batch_truncated: bool,
    /// The last row returned from the current batch.
    last_returned: Option<Candidate>,
    /// Radius scans ([`Scan::stop_beyond`]): end after a batch whose
    /// nearest row is farther than this distance.
    radius_stop: Option<f32>,
}

/// Bytes of one row held by a scan.
const CANDIDATE_BYTES: usize = std::mem::size_of::<Candidate>();
/// Default memory limit of a scan: Postgres' default `work_mem` (4 MB).
pub const DEFAULT_SCAN_MEMORY: usize = 4 << 20;

impl Scan {
    /// Ranks the lists for `query` (a payload of the index's encoding).
    pub fn new<R: Relation, S: Space>(
        rel: &R,
        space: &S,
        query: &[u8],
        options: &SearchOptions,
    ) -> Result<Self, IvfError> {
        let meta = read_meta(rel)?;
        let expected = space.query_size(meta.payload_size as usize);
        if query.len() != expected {
            return Err(IvfError::PayloadSize {
                expected,
                actual: query.len(),
            });
        }
        let mut ranked = Vec::with_capacity(meta.lists as usize);
        for_each_centroid(rel, &meta, |entry| {
            let distance = space.distance(query, entry.payload);
            ranked.push((distance, entry.list, entry.header.head));
        })?;
        let probes = options.probes.max(1);
        let wanted = match options.iterative {
            IterativeScan::Off => probes,
            IterativeScan::RelaxedOrder { max_probes } => max_probes.max(probes),
        }
        .min(ranked.len());
        // Ties broken by list number so that equal inputs give equal scans.
        let by_distance = |a: &(f32, u32, BlockNumber), b: &(f32, u32, BlockNumber)| {
            a.0.total_cmp(&b.0).then(a.1.cmp(&b.1))
        };
        if wanted < ranked.len() {
            ranked.select_nth_unstable_by(wanted, by_distance);
            ranked.truncate(wanted);
        }
        ranked.sort_unstable_by(by_distance);
        Ok(Self {
            query: query.to_vec(),
            lists: ranked.into_iter().map(|(_, _, head)| head).collect(),
            next_list: 0,
            probes,
            candidates: BinaryHeap::new(),
            payload_size: meta.payload_size,
            max_candidates: DEFAULT_SCAN_MEMORY / CANDIDATE_BYTES,
            batch_start: 0,
            batch_truncated: false,
            last_returned: None,
            radius_stop: None,
        })
    }

    /// Makes this a radius scan: it ends after the first batch of lists
    /// whose nearest row is farther than `threshold` (a distance of the
    /// index's space). Lists come nearest centroid first, so the next
    /// batches are unlikely to hold nearer rows. Batches without rows do not
    /// end it. The lists it may read are the ones [`Scan::new`] ranked (for
    /// radius scans, create it with an iterative [`SearchOptions`]).
    pub fn stop_beyond(&mut self, threshold: f32) {
        self.radius_stop = Some(threshold);
    }

    /// Bounds the rows held at once to what fits `bytes` (at least 64
    /// rows); the default is [`DEFAULT_SCAN_MEMORY`]. In Postgres:
    /// `work_mem` in bytes.
    pub fn set_memory_limit(&mut self, bytes: usize) {
        self.max_candidates = (bytes / CANDIDATE_BYTES).max(64);
    }

    /// The next row (heap TID and distance), reading the next batch of lists
    /// when the rows read so far are exhausted; `None` at the end of the scan.
    pub fn next<R: Relation, S: Space>(
        &mut self,
        rel: &R,
        space: &S,
    ) -> Result<Option<(ItemPointer, f32)>, IvfError> {
        loop {
            if let Some(c) = self.candidates.pop() {
                self.last_returned = Some(c);
                return Ok(Some((c.tid, c.distance)));
            }
            if self.batch_truncated {
                self.read_batch(rel, space, self.batch_start, self.next_list)?;
                continue;
            }
            if self.next_list == self.lists.len() {
                return Ok(None);
            }
            let start = self.next_list;
            let end = (start + self.probes).min(self.lists.len());
            self.last_returned = None;
            self.read_batch(rel, space, start, end)?;
            if let (Some(threshold), Some(nearest)) = (self.radius_stop, self.candidates.peek()) {
                if nearest.distance > threshold {
                    self.candidates.clear();
                    self.batch_truncated = false;
                    self.lists.truncate(self.next_list);
                    return Ok(None);
                }
            }
        }
    }

    /// Rows held in memory now (at most what the memory limit allows).
    pub fn rows_held(&self) -> usize {
        self.candidates.len()
    }

    /// Lists read so far.
    pub fn lists_read(&self) -> usize {
        self.next_list
    }

    /// Collects the rows of `lists[start..end]` after `last_returned` (all
    /// of them if `None`), keeping the `max_candidates` nearest.
    fn read_batch<R: Relation, S: Space>(
        &mut self,
        rel: &R,
        space: &S,
        start: usize,
        end: usize,
    ) -> Result<(), IvfError> {
        let payload_size = self.payload_size;
        let cap = self.max_candidates;
        let mut batch = std::mem::take(&mut self.candidates).into_vec();
        batch.clear();
        // Below the cap the batch is a plain vector, heapified in O(n) at
        // the end (most scans only pop a few rows); at the cap it becomes a
        // max-heap of the nearest rows (reversed order), whose farthest row
        // is replaced by each nearer one.
        let mut farthest_first: BinaryHeap<std::cmp::Reverse<Candidate>> = BinaryHeap::new();
        let mut truncated = false;
        let after = self.last_returned;
        let query = &self.query;
        let mut failed = None;
        for &head in &self.lists[start..end] {
            for_each_page(rel, head, |page| {
                for_each_tuple(page, payload_size, |tid, payload| {
                    let c = Candidate {
                        distance: space.distance(query, payload),
                        tid,
                    };
                    // `Candidate`'s order is reversed: `a > b` means a is nearer.
                    if after.is_some_and(|last| c >= last) {
                        return;
                    }
                    if farthest_first.is_empty() {
                        if batch.len() == batch.capacity() {
                            let more = batch.capacity().max(16).min(cap - batch.len());
                            if batch.try_reserve_exact(more).is_err() && failed.is_none() {
                                failed = Some(IvfError::OutOfMemory {
                                    requested: more * CANDIDATE_BYTES,
                                    limit: usize::MAX,
                                });
                                return;
                            }
                        }
                        batch.push(c);
                        if batch.len() == cap {
                            farthest_first = batch.drain(..).map(std::cmp::Reverse).collect();
                        }
                    } else {
                        truncated = true;
                        let mut farthest = farthest_first.peek_mut().expect("at the cap");
                        if c > farthest.0 {
                            *farthest = std::cmp::Reverse(c);
                        }
                    }
                })
            })?;
            if let Some(e) = failed.take() {
                return Err(e);
            }
        }
        if !farthest_first.is_empty() {
            batch.extend(farthest_first.into_iter().map(|r| r.0));
        }
        self.next_list = end;
        self.batch_start = start;
        self.batch_truncated = truncated;
        self.candidates = BinaryHeap::from(batch);
        Ok(())
    }
}

/// The `k` nearest rows among the `probes` nearest lists, nearest first.
pub fn search<R: Relation, S: Space>(
    rel: &R,
    space: &S,
    query: &[u8],
    k: usize,
    probes: usize,
) -> Result<Vec<(ItemPointer, f32)>, IvfError> {
    let options = SearchOptions {
        probes,
        iterative: IterativeScan::Off,
    };
    let mut scan = Scan::new(rel, space, query, &options)?;
    let mut rows = Vec::with_capacity(k);
    while rows.len() < k {
        match scan.next(rel, space)? {
            Some(row) => rows.push(row),
            None => break,
        }
    }
    Ok(rows)
}

/// A row waiting in the scan's heap.
#[derive(Clone, Copy, Debug)]
struct Candidate {
    distance: f32,
    tid: ItemPointer,
}

impl Ord for Candidate {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the nearest row first;
    /// equal distances pop in TID order.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .distance
            .total_cmp(&self.distance)
            .then_with(|| other.tid.cmp(&self.tid))
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Candidate {}
