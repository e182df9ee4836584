//! Index scans: rank the centroids by distance to the query, then read the
//! nearest lists and return their tuples nearest first.
//!
//! A plain scan reads `probes` lists and ends, like pgvector with
//! `ivfflat.iterative_scan = off`. An iterative scan (`relaxed_order`) reads
//! the next `probes` lists whenever the caller wants more rows than the lists
//! read so far hold, up to `max_probes` lists; rows are ordered within each
//! batch of lists but a later batch may return a nearer row than an earlier
//! one, so the executor re-sorts, as with pgvector.

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
}

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
        })
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
                return Ok(Some((c.tid, c.distance)));
            }
            if self.next_list == self.lists.len() {
                return Ok(None);
            }
            self.read_next_batch(rel, space)?;
        }
    }

    /// Lists read so far.
    pub fn lists_read(&self) -> usize {
        self.next_list
    }

    fn read_next_batch<R: Relation, S: Space>(
        &mut self,
        rel: &R,
        space: &S,
    ) -> Result<(), IvfError> {
        let end = (self.next_list + self.probes).min(self.lists.len());
        let mut batch = std::mem::take(&mut self.candidates).into_vec();
        for &head in &self.lists[self.next_list..end] {
            for_each_page(rel, head, |page| {
                for_each_tuple(page, |tid, payload| {
                    let distance = space.distance(&self.query, payload);
                    batch.push(Candidate { distance, tid });
                })
            })?;
        }
        self.next_list = end;
        // Heapify in O(n): most scans only pop a few rows.
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
