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

use crate::centroids::{
    for_each_centroid, read_centroid, read_code_meta, read_meta, read_meta_any, CentroidLocation,
};
use crate::error::IvfError;
use crate::lists::{for_each_page, for_each_tuple};
use crate::rabitq::{CentroidCache, RabitqCodec};
use quant::RotatedQuery;
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
    candidates: Nearest,
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
    /// Distances from the query to the centroids of `lists`, in order.
    list_distances: Vec<f32>,
    /// List numbers of `lists`, in order.
    list_numbers: Vec<u32>,
    /// A scan of a code index (see [`Scan::new_with_codes`]).
    codes: Option<CodeScan>,
}

/// State of a scan over RaBitQ codes.
struct CodeScan {
    codec: RabitqCodec,
    /// The query as the operator sees it.
    vector: Vec<f32>,
    /// The index's meta tuple (where centroids are, and their size).
    meta: crate::format::MetaTuple,
    /// Where the centroids of `lists` are, in order: each is read when its
    /// list is, so a scan holds one centroid at a time (64 kB at 16,000
    /// dimensions) whatever its `max_probes`.
    locations: Vec<CentroidLocation>,
    /// The centroid last read, as bytes and as floats.
    centroid_bytes: Vec<u8>,
    centroid: Vec<f32>,
    /// The query rotated (once, when the first list is read).
    rotated: Option<RotatedQuery>,
    /// Rotated centroids, possibly kept from earlier scans.
    cache: CentroidCache,
}

/// The rows of a batch, handed out nearest first: the nearest are selected
/// and sorted a prefix at a time (256 rows, then twice as many each time),
/// so a scan that returns a few hundred of its thousands of rows orders
/// only those (`O(n)` to select them), where a heap of all of them cost
/// `O(n)` to build and a logarithmic sift per row.
#[derive(Default)]
struct Nearest {
    rows: Vec<Candidate>,
    /// `rows[..sorted]` are in order, and none of `rows[sorted..]` is nearer.
    sorted: usize,
    /// The next row to hand out.
    next: usize,
}

impl Nearest {
    /// The first prefix to order.
    const FIRST: usize = 256;

    fn new(rows: Vec<Candidate>) -> Self {
        Nearest {
            rows,
            sorted: 0,
            next: 0,
        }
    }

    /// `Candidate`'s order is reversed (`a > b`: a is nearer).
    fn nearest_first(a: &Candidate, b: &Candidate) -> Ordering {
        b.cmp(a)
    }

    /// The nearest row not handed out yet.
    fn pop(&mut self) -> Option<Candidate> {
        if self.next == self.sorted {
            let rest = &mut self.rows[self.sorted..];
            if rest.is_empty() {
                return None;
            }
            let take = self.sorted.max(Self::FIRST).min(rest.len());
            if take < rest.len() {
                rest.select_nth_unstable_by(take, Self::nearest_first);
            }
            rest[..take].sort_unstable_by(Self::nearest_first);
            self.sorted += take;
        }
        let row = self.rows[self.next];
        self.next += 1;
        Some(row)
    }

    /// Rows not handed out yet.
    fn len(&self) -> usize {
        self.rows.len() - self.next
    }

    /// The vector, emptied, for the next batch.
    fn into_rows(mut self) -> Vec<Candidate> {
        self.rows.clear();
        self.rows
    }
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
        Self::new_inner(rel, space, query, &meta, options, None)
    }

    /// A scan of a code index ([`crate::format::FORMAT_VERSION_RABITQ`]):
    /// lists are ranked by `query` (the space's encoding) as usual, and each
    /// row's distance is a **provable lower bound** of the operator's value
    /// (`<->`, `<#>` or `<=>` of `codec`'s metric, in the operator's units,
    /// rounded down to f32) between `vector` (the query as the operator
    /// sees it) and the row, from its code. Rows come in the order of
    /// their bounds: a caller reports them as ORDER BY values to recheck
    /// (the executor's reorder queue then returns exact order). `codec` is
    /// [`RabitqCodec::from_meta`] of the index.
    pub fn new_with_codes<R: Relation, S: Space>(
        rel: &R,
        space: &S,
        query: &[u8],
        vector: &[f32],
        codec: RabitqCodec,
        options: &SearchOptions,
    ) -> Result<Self, IvfError> {
        let meta = read_code_meta(rel, &codec, vector)?;
        // The index's trailer equals the codec's (checked above).
        let code_size = codec.trailer().code_size;
        let code = CodeScan {
            codec,
            vector: vector.to_vec(),
            meta,
            locations: Vec::new(),
            centroid_bytes: Vec::new(),
            centroid: Vec::new(),
            rotated: None,
            cache: CentroidCache::new(0),
        };
        let mut scan = Self::new_inner(rel, space, query, &meta, options, Some(code))?;
        scan.payload_size = code_size;
        Ok(scan)
    }

    fn new_inner<R: Relation, S: Space>(
        rel: &R,
        space: &S,
        query: &[u8],
        meta: &crate::format::MetaTuple,
        options: &SearchOptions,
        mut codes: Option<CodeScan>,
    ) -> Result<Self, IvfError> {
        let expected = space.query_size(meta.payload_size as usize);
        if query.len() != expected {
            return Err(IvfError::PayloadSize {
                expected,
                actual: query.len(),
            });
        }
        let mut ranked = Vec::with_capacity(meta.lists as usize);
        let mut locations = Vec::with_capacity(meta.lists as usize);
        for_each_centroid(rel, meta, |entry| {
            let distance = space.distance(query, entry.payload);
            ranked.push((distance, entry.list, entry.header.head));
            locations.push(entry.location);
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
        if let Some(code) = codes.as_mut() {
            // Where the centroids of the lists the scan may read are, in
            // rank order (`locations` is in list order).
            code.locations = ranked.iter().map(|r| locations[r.1 as usize]).collect();
        }
        Ok(Self {
            query: query.to_vec(),
            list_distances: ranked.iter().map(|r| r.0).collect(),
            list_numbers: ranked.iter().map(|r| r.1).collect(),
            lists: ranked.into_iter().map(|(_, _, head)| head).collect(),
            next_list: 0,
            probes,
            candidates: Nearest::default(),
            payload_size: meta.payload_size,
            max_candidates: DEFAULT_SCAN_MEMORY / CANDIDATE_BYTES,
            batch_start: 0,
            batch_truncated: false,
            last_returned: None,
            codes,
        })
    }

    /// Leaves out, before the scan reads any list, the lists that cannot
    /// hold a row within Euclidean distance `radius` of the query: for
    /// radius scans. A row is in the list of its nearest centroid, so a row
    /// of list `j` is on `c_j`'s side of the bisector of `c_1` (the nearest
    /// centroid to the query) and `c_j`, which is `(e_j^2 - e_1^2) / (2
    /// |c_j - c_1|)` away from the query (`e_i`: the query's Euclidean
    /// distance to `c_i`); lists farther than `radius` (with 1% of margin)
    /// are skipped. `euclidean_of` turns a distance of the space (between
    /// the query and a centroid) into the Euclidean distance, and
    /// `centroid_euclidean` gives it between two centroid payloads; the space
    /// must be a metric one where rows are assigned to the Euclidean-nearest
    /// centroid (L2, or cosine on normalised vectors).
    pub fn skip_lists_outside<R: Relation>(
        &mut self,
        rel: &R,
        radius: f64,
        euclidean_of: impl Fn(f32) -> f64,
        centroid_euclidean: impl Fn(&[u8], &[u8]) -> f64,
    ) -> Result<(), IvfError> {
        if self.next_list > 0 || self.lists.len() < 2 {
            return Ok(());
        }
        // Either format: centroids are payloads of the space in both.
        let (meta, _) = read_meta_any(rel)?;
        let first = self.list_numbers[0];
        let mut c1 = None;
        for_each_centroid(rel, &meta, |entry| {
            if entry.list == first {
                c1 = Some(entry.payload.to_vec());
            }
        })?;
        let Some(c1) = c1 else {
            return Ok(());
        };
        let rank: std::collections::HashMap<u32, usize> = self
            .list_numbers
            .iter()
            .enumerate()
            .map(|(i, &l)| (l, i))
            .collect();
        let e: Vec<f64> = self
            .list_distances
            .iter()
            .map(|&d| euclidean_of(d))
            .collect();
        let mut keep = vec![true; self.lists.len()];
        for_each_centroid(rel, &meta, |entry| {
            let Some(&i) = rank.get(&entry.list) else {
                return;
            };
            if i == 0 {
                return;
            }
            let between = centroid_euclidean(entry.payload, &c1);
            if between > 0.0 && between.is_finite() {
                let h = (e[i] * e[i] - e[0] * e[0]) / (2.0 * between);
                if h > radius * 1.01 + 1e-4 * (e[0] + e[i]) + 1e-6 {
                    keep[i] = false;
                }
            }
        })?;
        let mut k = keep.iter();
        self.lists.retain(|_| *k.next().expect("one flag per list"));
        let mut k = keep.iter();
        self.list_distances
            .retain(|_| *k.next().expect("one flag per list"));
        let mut k = keep.iter();
        self.list_numbers
            .retain(|_| *k.next().expect("one flag per list"));
        if let Some(code) = self.codes.as_mut() {
            let mut k = keep.iter();
            code.locations
                .retain(|_| *k.next().expect("one flag per list"));
        }
        Ok(())
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
                return Ok(Some((c.tid(), c.distance())));
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
        }
    }

    /// Gives a code scan `cache`, the rotated centroids of earlier scans
    /// (emptied if it was made for another rotation); other scans ignore
    /// it.
    pub fn set_centroid_cache(&mut self, mut cache: CentroidCache) {
        if let Some(code) = self.codes.as_mut() {
            cache.use_for(&code.codec);
            code.cache = cache;
        }
    }

    /// Takes back a code scan's centroid cache, to give to a later scan.
    pub fn take_centroid_cache(&mut self) -> Option<CentroidCache> {
        let code = self.codes.as_mut()?;
        Some(std::mem::replace(&mut code.cache, CentroidCache::new(0)))
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
        let mut batch = std::mem::take(&mut self.candidates).into_rows();
        batch.clear();
        // Below the cap the batch is a plain vector, put in order a prefix
        // at a time at the end (most scans only take a few rows); at the cap it becomes a
        // max-heap of the nearest rows (reversed order), whose farthest row
        // is replaced by each nearer one.
        let mut farthest_first: BinaryHeap<std::cmp::Reverse<Candidate>> = BinaryHeap::new();
        let mut truncated = false;
        let after = self.last_returned;
        let query = &self.query;
        let mut failed = None;
        // A page's rows and their bounds (code scans), and the allocation
        // of its codes' slices, kept from page to page.
        let mut spare_codes: Vec<&[u8]> = Vec::new();
        let mut tids: Vec<ItemPointer> = Vec::new();
        let mut bounds: Vec<f64> = Vec::new();
        for (index, &head) in self.lists[start..end].iter().enumerate() {
            let bound = match self.codes.as_mut() {
                Some(code) => {
                    let location = code.locations[start + index];
                    read_centroid(rel, &code.meta, location, &mut code.centroid_bytes)?;
                    code.centroid.clear();
                    code.centroid.extend(
                        code.centroid_bytes
                            .chunks_exact(4)
                            .map(|b| f32::from_ne_bytes(b.try_into().expect("4 bytes"))),
                    );
                    if code.centroid.len() != code.codec.dims() {
                        return Err(IvfError::Corrupted(
                            "centroid size does not match the dimensions",
                        ));
                    }
                    let list = self.list_numbers[start + index];
                    let query = code
                        .rotated
                        .get_or_insert_with(|| code.codec.rotate_query(&code.vector));
                    let rotated =
                        code.cache
                            .rotated(&code.codec, list, &code.centroid_bytes, &code.centroid);
                    Some(code.codec.list_bound_rotated(query, &code.centroid, rotated))
                }
                None => None,
            };
            let mut keep = |c: Candidate| {
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
            };
            for_each_page(rel, head, |page| match &bound {
                Some(bound) => {
                    // A page's codes at once: their bounds are computed in
                    // batches (vectorized).
                    let mut codes = recycle(std::mem::take(&mut spare_codes));
                    tids.clear();
                    for_each_tuple(page, payload_size, |tid, payload| {
                        tids.push(tid);
                        codes.push(payload);
                    });
                    bounds.clear();
                    bounds.resize(codes.len(), 0.0);
                    bound.lower_bounds(&codes, &mut bounds);
                    for (&tid, &b) in tids.iter().zip(bounds.iter()) {
                        keep(Candidate::new(f32_at_most(b), tid));
                    }
                    spare_codes = recycle(codes);
                }
                None => for_each_tuple(page, payload_size, |tid, payload| {
                    keep(Candidate::new(space.distance(query, payload), tid));
                }),
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
        self.candidates = Nearest::new(batch);
        Ok(())
    }
}

/// `v` emptied, as a vector of slices of another lifetime: the same
/// allocation (an empty vector's `into_iter().map().collect()` is collected
/// in place), so a loop over pages does not allocate per page.
fn recycle<'b>(mut v: Vec<&[u8]>) -> Vec<&'b [u8]> {
    v.clear();
    v.into_iter().map(|_| -> &'b [u8] { &[] }).collect()
}

/// The largest f32 not above `x` (`-inf` for NaN: no bound is provable).
fn f32_at_most(x: f64) -> f32 {
    if x.is_nan() {
        return f32::NEG_INFINITY;
    }
    let f = x as f32;
    if f as f64 > x {
        f.next_down()
    } else {
        f
    }
}

#[cfg(test)]
mod candidate_tests {
    use super::*;

    /// The integer order is `f32::total_cmp`'s, then TID order, and the
    /// distance comes back bit for bit.
    #[test]
    fn candidate_order_is_total_cmp_then_tid() {
        let values = [
            f32::NEG_INFINITY,
            -3.5,
            -1e-30,
            -0.0,
            0.0,
            1e-40,
            0.25,
            7.0,
            f32::MAX,
            f32::INFINITY,
            f32::NAN,
            -f32::NAN,
        ];
        let tids = [ItemPointer::new(0, 1), ItemPointer::new(0, 2), ItemPointer::new(9, 1)];
        for &a in &values {
            for &b in &values {
                for &ta in &tids {
                    for &tb in &tids {
                        let (x, y) = (Candidate::new(a, ta), Candidate::new(b, tb));
                        assert_eq!(x.distance().to_bits(), a.to_bits());
                        assert_eq!(x.tid(), ta);
                        let want = b.total_cmp(&a).then_with(|| tb.cmp(&ta));
                        assert_eq!(x.cmp(&y), want, "{a} {ta:?} vs {b} {tb:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn recycle_keeps_the_allocation() {
        let page = vec![1u8; 64];
        let mut v: Vec<&[u8]> = Vec::with_capacity(40);
        v.extend(page.chunks(8));
        let (ptr, cap) = (v.as_ptr() as usize, v.capacity());
        let w: Vec<&[u8]> = recycle(v);
        assert!(w.is_empty());
        assert_eq!((w.as_ptr() as usize, w.capacity()), (ptr, cap));
    }

    /// Rows come out of `Nearest` in the heap's order, across the prefixes
    /// it orders (256, 512, ...), with many equal distances.
    #[test]
    fn nearest_hands_out_rows_in_order() {
        let mut rng = pagestore::rng::SplitMix64::new(11);
        for n in [0usize, 1, 255, 256, 257, 1000, 5000] {
            let rows: Vec<Candidate> = (0..n)
                .map(|i| {
                    let d = (rng.next_u64() % 97) as f32 - 20.0;
                    Candidate::new(d, ItemPointer::new((i / 7) as u32, (i % 7 + 1) as u16))
                })
                .collect();
            let mut heap: BinaryHeap<Candidate> = rows.iter().copied().collect();
            let mut nearest = Nearest::new(rows);
            assert_eq!(nearest.len(), n);
            while let Some(want) = heap.pop() {
                let got = nearest.pop().expect("as many rows as the heap");
                assert_eq!((got.distance(), got.tid()), (want.distance(), want.tid()));
                assert_eq!(nearest.len(), heap.len());
            }
            assert!(nearest.pop().is_none());
        }
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

/// A row waiting in the scan's heap: its distance as the unsigned integer
/// whose order is `f32::total_cmp`'s (so that heap operations compare
/// integers), and its heap TID. 12 bytes.
#[derive(Clone, Copy, Debug)]
struct Candidate {
    ordered: u32,
    block: u32,
    offset: u16,
}

impl Candidate {
    #[inline]
    fn new(distance: f32, tid: ItemPointer) -> Self {
        let bits = distance.to_bits();
        // Negative values (sign set) order reversed below the positive ones.
        let ordered = if bits >> 31 == 1 {
            !bits
        } else {
            bits | 0x8000_0000
        };
        Candidate {
            ordered,
            block: tid.block,
            offset: tid.offset,
        }
    }

    fn distance(&self) -> f32 {
        let o = self.ordered;
        f32::from_bits(if o >> 31 == 1 { o & 0x7fff_ffff } else { !o })
    }

    fn tid(&self) -> ItemPointer {
        ItemPointer::new(self.block, self.offset)
    }
}

impl Ord for Candidate {
    /// Reversed, so that `BinaryHeap` (a max-heap) pops the nearest row first;
    /// equal distances pop in TID order.
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        // One 128-bit comparison of (ordered, block, offset) instead of a
        // chain of three.
        let key = |c: &Self| (c.ordered as u128) << 48 | (c.block as u128) << 16 | c.offset as u128;
        key(other).cmp(&key(self))
    }
}

impl PartialOrd for Candidate {
    // Inline: the heap's sifts compare through it (perf showed it as a call).
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Candidate {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Candidate {}
