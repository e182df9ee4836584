//! Recall calibration of a vector index, shared by `hnsw` and `ivfflat`
//! (no Postgres here).
//!
//! A calibration answers "which search setting (`ef_search` for HNSW,
//! `probes` for IVF) reaches recall `r` at `k`?" for one index. It is
//! measured on a sample of the index's own rows used as queries: their exact
//! neighbours ([`ExactTopK`], one streaming pass over the rows), then one
//! index search per query and setting of a ladder ([`hnsw_ladder`],
//! [`ivf_ladder`]), tallied by [`Tally`] into a [`Calibration`]: mean
//! recall@k for each `k` of [`KS`] and each setting. [`Calibration::choose`]
//! picks the smallest setting whose interpolated recall reaches a target.
//!
//! The calibration is stored as one item on the index's meta page (block
//! 0), after the meta tuple ([`store`], [`load`]); indexes written before it
//! existed have no such item and read as uncalibrated.

use pagestore::{rng::SplitMix64, Page, PageMut, Relation};
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// "CALB" read as little-endian: first word of a calibration item.
pub const MAGIC: u32 = u32::from_le_bytes(*b"CALB");
/// Format version written by this code; other versions read as absent.
pub const VERSION: u32 = 1;
/// The `k` values calibrated (interpolated between, in `log k`).
pub const KS: [u32; 3] = [1, 10, 100];
/// Queries sampled from the index's rows (at most).
pub const DEFAULT_QUERIES: usize = 200;

/// Sample queries for an index of `rows` rows: one per 100 rows, at least
/// 50, at most [`DEFAULT_QUERIES`] (a small table costs little to search
/// exactly and its build is short; the calibration stays a small part of
/// it).
pub fn queries_for(rows: u64) -> usize {
    ((rows / 100) as usize).clamp(50, DEFAULT_QUERIES)
}
/// A setting whose mean recall at the largest `k` reaches this ends the
/// ladder: larger settings cannot do measurably better.
pub const SATURATED: f64 = 0.995;
/// Recalibrate when the index's row count moved by this fraction.
pub const REFRESH_CHANGE: f64 = 0.2;
/// Fewer rows than this are not measured ([`Calibration::pending`]).
pub const MIN_ROWS: u64 = 10;
/// Bounds of a stored calibration (a damaged item is ignored, not trusted).
const MAX_KS: usize = 16;
const MAX_SETTINGS: usize = 128;
const HEADER_SIZE: usize = 32;
/// Header flag: [`Calibration::held_out`].
const FLAG_HELD_OUT: u32 = 1;

/// One index's calibration.
#[derive(Clone, Debug, PartialEq)]
pub struct Calibration {
    /// Sample queries measured.
    pub queries: u32,
    /// Rows in the index when it was measured.
    pub rows: u64,
    /// True if the sample queries were not in the index while it was
    /// measured (a build holds them out); false if they were (leave-one-out:
    /// each query's own row is ignored, but its graph links still lead to
    /// its neighbours, so HNSW recall reads optimistic).
    pub held_out: bool,
    /// Calibrated `k`s, ascending.
    pub ks: Vec<u32>,
    /// Settings measured, ascending.
    pub settings: Vec<u32>,
    /// Mean recall, `ks.len()` rows of `settings.len()` values.
    pub recall: Vec<f32>,
}

/// What [`Calibration::choose`] decided.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Choice {
    /// The setting to search with.
    pub setting: u32,
    /// The recall the calibration predicts at it (interpolated).
    pub predicted: f64,
    /// False if no measured setting reached the target (the largest
    /// measured is used).
    pub reached: bool,
}

impl Calibration {
    /// A calibration still to be measured, of an index built with too few
    /// rows to sample (`rows` of them): VACUUM measures it once the index
    /// has grown ([`Calibration::stale`]).
    pub fn pending(rows: u64) -> Calibration {
        Calibration {
            queries: 0,
            rows,
            held_out: false,
            ks: KS.to_vec(),
            settings: Vec::new(),
            recall: Vec::new(),
        }
    }

    /// True if it holds measurements ([`Calibration::choose`] needs them).
    pub fn is_measured(&self) -> bool {
        !self.settings.is_empty()
    }

    /// Recall at `settings[i]` for `k`.
    pub fn recall_at(&self, k_index: usize, setting_index: usize) -> f64 {
        self.recall[k_index * self.settings.len() + setting_index] as f64
    }

    /// The recall curve for `k` (one value per setting): the calibrated row
    /// for a calibrated `k`, else interpolated linearly in `log k` between
    /// the two nearest calibrated `k`s (clamped outside them), then made
    /// non-decreasing (a larger setting never searches less).
    pub fn curve(&self, k: u32) -> Vec<f64> {
        let n = self.settings.len();
        let k = k.max(1) as f64;
        let first = self.ks[0] as f64;
        let last = *self.ks.last().unwrap() as f64;
        let mut out: Vec<f64> = if k <= first {
            (0..n).map(|s| self.recall_at(0, s)).collect()
        } else if k >= last {
            (0..n).map(|s| self.recall_at(self.ks.len() - 1, s)).collect()
        } else {
            let hi = self.ks.iter().position(|&x| x as f64 >= k).unwrap();
            let lo = hi - 1;
            let (a, b) = ((self.ks[lo] as f64).ln(), (self.ks[hi] as f64).ln());
            let t = (k.ln() - a) / (b - a);
            (0..n)
                .map(|s| self.recall_at(lo, s) * (1.0 - t) + self.recall_at(hi, s) * t)
                .collect()
        };
        for i in 1..n {
            out[i] = out[i].max(out[i - 1]);
        }
        out
    }

    /// The smallest setting predicted to reach recall `target` at `k`, at
    /// least `min_setting` (HNSW needs `ef_search >= k` to return `k`
    /// rows). Requires [`Calibration::is_measured`].
    ///
    /// For a calibrated `k`, the setting where its (non-decreasing) recall
    /// curve reaches the target, interpolated linearly in `log setting`
    /// between the two measured settings around it; recall curves are
    /// concave there, so the chord under-predicts and the choice errs on the
    /// high side. For a `k` between two calibrated ones, the settings chosen
    /// for both are interpolated in `log k` / `log setting` (the curves of
    /// two `k`s differ mostly by scale: an HNSW search cannot return more
    /// rows than its `ef_search`). Outside the calibrated range, the nearest
    /// calibrated `k`.
    pub fn choose(&self, target: f64, k: u32, min_setting: u32) -> Choice {
        let k = k.max(1);
        let last = self.ks.len() - 1;
        let at = |ki: usize| self.choose_at(ki, target);
        let choice = if k <= self.ks[0] {
            at(0)
        } else if k >= self.ks[last] {
            at(last)
        } else {
            let hi = self.ks.iter().position(|&x| x >= k).unwrap();
            let lo = hi - 1;
            let (a, b) = (at(lo), at(hi));
            let (l0, l1) = ((self.ks[lo] as f64).ln(), (self.ks[hi] as f64).ln());
            let t = ((k as f64).ln() - l0) / (l1 - l0);
            let log_s = (a.setting as f64).ln() * (1.0 - t) + (b.setting as f64).ln() * t;
            Choice {
                setting: (log_s.exp() - 1e-9).ceil().max(1.0) as u32,
                predicted: a.predicted * (1.0 - t) + b.predicted * t,
                reached: a.reached && b.reached,
            }
        };
        if choice.setting < min_setting {
            return Choice {
                setting: min_setting,
                ..choice
            };
        }
        choice
    }

    /// [`Calibration::choose`] for `target` raised by one standard error of
    /// the calibration's estimate there (binomial, over its queries × the
    /// first `min(k, 10)` neighbours): the choice then meets the target with
    /// about 84% confidence instead of half the time.
    pub fn choose_confident(&self, target: f64, k: u32, min_setting: u32) -> Choice {
        let t = target.clamp(0.0, 1.0);
        let n = (self.queries.max(1) as f64) * (k.clamp(1, 10) as f64);
        let margin = (t * (1.0 - t) / n).sqrt();
        let mut choice = self.choose((t + margin).min(1.0), k, min_setting);
        if choice.predicted > t + margin {
            choice.predicted = t + margin;
        }
        choice
    }

    /// [`Calibration::choose`] for calibrated `k` number `ki`.
    fn choose_at(&self, ki: usize, target: f64) -> Choice {
        let curve = self.curve(self.ks[ki]);
        let s = &self.settings;
        match curve.iter().position(|&r| r >= target) {
            Some(0) => Choice {
                setting: s[0],
                predicted: curve[0],
                reached: true,
            },
            Some(i) => {
                let (r0, r1) = (curve[i - 1], curve[i]);
                let (l0, l1) = ((s[i - 1] as f64).ln(), (s[i] as f64).ln());
                let t = if r1 > r0 { (target - r0) / (r1 - r0) } else { 1.0 };
                let v = ((l0 + t.clamp(0.0, 1.0) * (l1 - l0)).exp() - 1e-9).ceil() as u32;
                Choice {
                    setting: v.clamp(s[i - 1], s[i]),
                    predicted: target,
                    reached: true,
                }
            }
            None => Choice {
                setting: *s.last().unwrap(),
                predicted: *curve.last().unwrap(),
                reached: false,
            },
        }
    }

    /// True if an index now holding `rows` rows has changed enough since it
    /// was calibrated to measure again.
    pub fn stale(&self, rows: u64) -> bool {
        if !self.is_measured() {
            return rows >= MIN_ROWS;
        }
        let before = self.rows.max(1) as f64;
        ((rows as f64 - before) / before).abs() > REFRESH_CHANGE
    }

    /// Serialized bytes: a 32-byte header (magic, version, queries, number
    /// of ks and settings as `u16`, rows as `u64`, flags, zero), then the ks and the
    /// settings as `u32`, then the recall values as `f32`, native-endian.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        out.extend_from_slice(&MAGIC.to_ne_bytes());
        out.extend_from_slice(&VERSION.to_ne_bytes());
        out.extend_from_slice(&self.queries.to_ne_bytes());
        out.extend_from_slice(&(self.ks.len() as u16).to_ne_bytes());
        out.extend_from_slice(&(self.settings.len() as u16).to_ne_bytes());
        out.extend_from_slice(&self.rows.to_ne_bytes());
        let flags = if self.held_out { FLAG_HELD_OUT } else { 0 };
        out.extend_from_slice(&flags.to_ne_bytes());
        out.extend_from_slice(&0u32.to_ne_bytes());
        for v in self.ks.iter().chain(&self.settings) {
            out.extend_from_slice(&v.to_ne_bytes());
        }
        for r in &self.recall {
            out.extend_from_slice(&r.to_ne_bytes());
        }
        out
    }

    fn encoded_len(&self) -> usize {
        HEADER_SIZE + 4 * (self.ks.len() + self.settings.len() + self.recall.len())
    }

    /// Decodes and checks an item; `None` if it is not a calibration this
    /// code understands (another version, or damaged): the index then
    /// behaves as uncalibrated.
    pub fn decode(item: &[u8]) -> Option<Calibration> {
        let u32_at = |o: usize| item.get(o..o + 4).map(|b| u32::from_ne_bytes(b.try_into().unwrap()));
        let u16_at = |o: usize| item.get(o..o + 2).map(|b| u16::from_ne_bytes(b.try_into().unwrap()));
        if u32_at(0)? != MAGIC || u32_at(4)? != VERSION {
            return None;
        }
        let queries = u32_at(8)?;
        let nk = u16_at(12)? as usize;
        let ns = u16_at(14)? as usize;
        let rows = u64::from_ne_bytes(item.get(16..24)?.try_into().unwrap());
        let flags = u32_at(24)?;
        if nk == 0 || nk > MAX_KS || ns > MAX_SETTINGS {
            return None;
        }
        if item.len() != HEADER_SIZE + 4 * (nk + ns + nk * ns) {
            return None;
        }
        let words: Vec<u32> = (0..nk + ns).map(|i| u32_at(HEADER_SIZE + 4 * i).unwrap()).collect();
        let (ks, settings) = (words[..nk].to_vec(), words[nk..].to_vec());
        let base = HEADER_SIZE + 4 * (nk + ns);
        let recall: Vec<f32> = (0..nk * ns)
            .map(|i| f32::from_bits(u32_at(base + 4 * i).unwrap()))
            .collect();
        let ascending = |v: &[u32]| v[0] >= 1 && v.windows(2).all(|w| w[0] < w[1]);
        if !ascending(&ks) || (ns > 0 && !ascending(&settings)) || !recall.iter().all(|r| (0.0..=1.0).contains(r)) {
            return None;
        }
        Some(Calibration {
            queries,
            rows,
            held_out: flags & FLAG_HELD_OUT != 0,
            ks,
            settings,
            recall,
        })
    }

    /// One line per calibrated `k`: `k=10: 10→0.712 20→0.861 ...`.
    pub fn describe(&self) -> String {
        let mut s = format!("{} queries, {} rows", self.queries, self.rows);
        for (ki, k) in self.ks.iter().enumerate() {
            s.push_str(&format!("\nk={k}:"));
            for (si, v) in self.settings.iter().enumerate() {
                s.push_str(&format!(" {v}:{:.3}", self.recall_at(ki, si)));
            }
        }
        s
    }
}

/// `ef_search` values measured for HNSW, up to `max` (the GUC's limit).
pub fn hnsw_ladder(max: u32) -> Vec<u32> {
    // About 1.6x apart: the curve between two steps is interpolated. The
    // last steps cost most of a calibration (a search's cost grows with
    // ef_search): beyond 640, a target is served with 640 and EXPLAIN says
    // it was not reached.
    const STEPS: [u32; 10] = [10, 16, 25, 40, 64, 100, 160, 250, 400, 640];
    STEPS.iter().copied().filter(|&s| s <= max).collect()
}

/// `probes` values measured for IVF with `lists` lists: every value up to
/// 4, then about 1.5x apart, ending with `lists` (exact search).
pub fn ivf_ladder(lists: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let mut p = 1u32;
    while p < lists {
        out.push(p);
        p = if p < 4 { p + 1 } else { (p as f64 * 1.5).ceil() as u32 };
    }
    out.push(lists.max(1));
    out
}

/// An `f32` distance ordered totally (NaN last).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Dist(f32);
impl Eq for Dist {}
impl PartialOrd for Dist {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Dist {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// Bytes of rows [`ExactTopK::push_batch`] compares with every query
/// before moving on.
const TILE_BYTES: usize = 32 << 10;

/// The exact `k` nearest rows of every sample query, fed one row at a
/// time (a single pass over the rows; memory is `queries × k`).
pub struct ExactTopK {
    k: usize,
    heaps: Vec<BinaryHeap<(Dist, u64)>>,
}

impl ExactTopK {
    /// Top-`k` lists for `queries` queries.
    pub fn new(queries: usize, k: usize) -> Self {
        ExactTopK {
            k: k.max(1),
            heaps: (0..queries).map(|_| BinaryHeap::new()).collect(),
        }
    }

    /// Offers row `id` at `distance` from query `query`.
    pub fn push(&mut self, query: usize, id: u64, distance: f32) {
        let heap = &mut self.heaps[query];
        if heap.len() < self.k {
            heap.push((Dist(distance), id));
        } else if Dist(distance) < heap.peek().unwrap().0 {
            heap.pop();
            heap.push((Dist(distance), id));
        }
    }

    /// Offers every row of `rows` (ids and encodings) to every query of
    /// `queries` (encodings, one per top-k list, in order), comparing with
    /// `distance`, on `threads` threads (at least one: the caller's): each
    /// thread owns a contiguous share of the queries' lists, so the result
    /// is the same as offering the rows one at a time, whatever `threads`
    /// is. `skip(q, id)` leaves row `id` out for query `q` (a query's own
    /// row). `distance` runs off the calling thread: it must not call into
    /// anything thread-bound (Postgres).
    pub fn push_batch<D, S>(&mut self, queries: &[&[u8]], rows: &[(u64, &[u8])], distance: &D, skip: &S, threads: usize)
    where
        D: Fn(&[u8], &[u8]) -> f32 + Sync,
        S: Fn(usize, u64) -> bool + Sync,
    {
        assert_eq!(queries.len(), self.heaps.len(), "one query per top-k list");
        let k = self.k;
        let threads = threads.clamp(1, self.heaps.len().max(1));
        // Rows × queries below which threads cost more than they save.
        const SERIAL_WORK: usize = 1 << 14;
        let chunk = self.heaps.len().div_ceil(threads).max(1);
        // Rows are taken a tile at a time (a few tens of kB, which stays in
        // cache while every query of the thread's share compares with it):
        // streaming the whole batch once per query would read it from
        // memory hundreds of times.
        let row_bytes = rows.first().map_or(1, |r| r.1.len().max(1) + 16);
        let tile = (TILE_BYTES / row_bytes).max(1);
        let work = |first: usize, heaps: &mut [BinaryHeap<(Dist, u64)>]| {
            for tile in rows.chunks(tile) {
                for (i, heap) in heaps.iter_mut().enumerate() {
                    let q = first + i;
                    let query = queries[q];
                    for &(id, row) in tile {
                        if skip(q, id) {
                            continue;
                        }
                        let d = Dist(distance(query, row));
                        if heap.len() < k {
                            heap.push((d, id));
                        } else if d < heap.peek().unwrap().0 {
                            heap.pop();
                            heap.push((d, id));
                        }
                    }
                }
            }
        };
        if threads == 1 || rows.len() * queries.len() < SERIAL_WORK {
            work(0, &mut self.heaps);
            return;
        }
        std::thread::scope(|scope| {
            let mut parts = self.heaps.chunks_mut(chunk).enumerate();
            let (_, mine) = parts.next().expect("at least one query");
            for (i, part) in parts {
                let work = &work;
                scope.spawn(move || work(i * chunk, part));
            }
            work(0, mine);
        });
    }

    /// Each query's neighbours, nearest first (ties by id).
    pub fn finish(self) -> Vec<Vec<(u64, f32)>> {
        self.heaps
            .into_iter()
            .map(|h| h.into_sorted_vec().into_iter().map(|(d, id)| (id, d.0)).collect())
            .collect()
    }
}

/// Hits and totals per (`k`, setting) over the sample queries.
pub struct Tally {
    ks: Vec<u32>,
    settings: Vec<u32>,
    hits: Vec<f64>,
    queries: Vec<u32>,
}

impl Tally {
    /// An empty tally for `ks` × `settings`.
    pub fn new(ks: &[u32], settings: &[u32]) -> Self {
        Tally {
            ks: ks.to_vec(),
            settings: settings.to_vec(),
            hits: vec![0.0; ks.len() * settings.len()],
            queries: vec![0; settings.len()],
        }
    }

    /// Records one search of setting number `setting_index`: `found` are the
    /// rows it returned in order with their index distances, `exact` the
    /// query's exact neighbours, nearest first.
    /// `ties`: the found distances are exact, so a found row at the exact
    /// k-th distance counts (see [`recall`]); approximate ones (quantized
    /// storage) would count near misses, so only the ids are compared.
    pub fn record(&mut self, setting_index: usize, exact: &[(u64, f32)], found: &[(u64, f32)], ties: bool) {
        self.queries[setting_index] += 1;
        for (ki, &k) in self.ks.iter().enumerate() {
            let cell = ki * self.settings.len() + setting_index;
            self.hits[cell] += if ties {
                recall(exact, found, k as usize)
            } else {
                recall_by_id(exact, found, k as usize)
            };
        }
    }

    /// Mean recall at the largest `k` of setting `setting_index` so far.
    pub fn mean_at_largest_k(&self, setting_index: usize) -> f64 {
        let n = self.queries[setting_index].max(1) as f64;
        self.hits[(self.ks.len() - 1) * self.settings.len() + setting_index] / n
    }

    /// The calibration of the settings measured so far (a prefix of the
    /// ladder: the measurement may stop once recall saturates).
    pub fn finish(self, rows: u64, held_out: bool) -> Option<Calibration> {
        let measured = self.queries.iter().take_while(|&&q| q > 0).count();
        if measured == 0 || self.ks.is_empty() {
            return None;
        }
        let n = self.settings.len();
        let mut recall = Vec::with_capacity(self.ks.len() * measured);
        for ki in 0..self.ks.len() {
            for si in 0..measured {
                let r = self.hits[ki * n + si] / self.queries[si] as f64;
                recall.push(r.clamp(0.0, 1.0) as f32);
            }
        }
        Some(Calibration {
            queries: self.queries[0],
            rows,
            held_out,
            ks: self.ks,
            settings: self.settings[..measured].to_vec(),
            recall,
        })
    }
}

/// Recall@k of `found` (rows in returned order, with distances) against
/// `exact` (the true neighbours, nearest first): the fraction of the first
/// `min(k, exact.len())` found rows that are true neighbours, a row at the
/// exact `k`-th distance or nearer counting too (ties, duplicates).
pub fn recall(exact: &[(u64, f32)], found: &[(u64, f32)], k: usize) -> f64 {
    let want = k.min(exact.len());
    if want == 0 {
        return 1.0;
    }
    let truth = &exact[..want];
    let kth = truth[want - 1].1;
    let hits = found
        .iter()
        .take(want)
        .filter(|(id, d)| *d <= kth || truth.iter().any(|(t, _)| t == id))
        .count();
    hits as f64 / want as f64
}

/// What [`Reservoir::offer_displacing`] did.
pub enum Offer<T> {
    /// The new item is in the sample; nothing left it.
    Kept,
    /// The new item is not in the sample.
    Rejected,
    /// The new item replaced this one.
    Displaced(T),
}

/// [`recall`] without the tie rule: only true neighbours' ids count.
pub fn recall_by_id(exact: &[(u64, f32)], found: &[(u64, f32)], k: usize) -> f64 {
    let want = k.min(exact.len());
    if want == 0 {
        return 1.0;
    }
    let truth = &exact[..want];
    let hits = found
        .iter()
        .take(want)
        .filter(|(id, _)| truth.iter().any(|(t, _)| t == id))
        .count();
    hits as f64 / want as f64
}

/// A seeded reservoir sample of up to `n` items of a stream.
pub struct Reservoir<T> {
    n: usize,
    seen: u64,
    items: Vec<T>,
    rng: SplitMix64,
}

impl<T> Reservoir<T> {
    /// An empty reservoir for `n` items (the seed fixes the sample).
    pub fn new(n: usize, seed: u64) -> Self {
        Reservoir {
            n,
            seen: 0,
            items: Vec::with_capacity(n),
            rng: SplitMix64::new(seed),
        }
    }

    /// Offers one item; `make` builds it only if it is kept.
    pub fn offer(&mut self, make: impl FnOnce() -> T) {
        self.seen += 1;
        if self.items.len() < self.n {
            self.items.push(make());
        } else {
            let j = self.rng.below(self.seen.min(usize::MAX as u64) as usize);
            if j < self.n {
                self.items[j] = make();
            }
        }
    }

    /// Offers one item, saying which item is not (or no longer) in the
    /// sample: the caller may then use it elsewhere (a build holding the
    /// sample out of the index inserts the others at once).
    pub fn offer_displacing(&mut self, make: impl FnOnce() -> T) -> Offer<T> {
        self.seen += 1;
        if self.items.len() < self.n {
            self.items.push(make());
            return Offer::Kept;
        }
        let j = self.rng.below(self.seen.min(usize::MAX as u64) as usize);
        if j < self.n {
            Offer::Displaced(std::mem::replace(&mut self.items[j], make()))
        } else {
            Offer::Rejected
        }
    }

    /// [`Reservoir::into_sample`] of `n`, and the items left out.
    pub fn into_split(self, n: usize) -> (Vec<T>, Vec<T>) {
        let mut items = self.into_sample(usize::MAX);
        let rest = items.split_off(n.min(items.len()));
        (items, rest)
    }

    /// Items offered so far.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// The sample.
    pub fn into_items(self) -> Vec<T> {
        self.items
    }

    /// `n` items of the sample, a uniform choice among them (shuffled with
    /// the reservoir's generator first: a reservoir that never filled holds
    /// the stream's first items in order).
    pub fn into_sample(mut self, n: usize) -> Vec<T> {
        for i in (1..self.items.len()).rev() {
            let j = self.rng.below(i + 1);
            self.items.swap(i, j);
        }
        self.items.truncate(n);
        self.items
    }
}

/// Where the calibration item lives: block 0 (the meta page of both index
/// formats), after the meta tuple.
pub const BLOCK: u32 = 0;

/// The calibration stored on the meta page of `rel`, if any (and readable).
pub fn load<R: Relation>(rel: &R) -> Option<Calibration> {
    if rel.nblocks() == 0 {
        return None;
    }
    let page = rel.read(BLOCK);
    (2..=page.max_offset()).find_map(|off| page.item(off).and_then(Calibration::decode))
}

/// Stores `cal` on the meta page of `rel` (one WAL-logged page write in
/// Postgres), replacing a previous calibration. Returns false if it does
/// not fit the page (then the index keeps its previous state).
pub fn store<R: Relation>(rel: &R, cal: &Calibration) -> bool {
    let bytes = cal.encode();
    let mut page = rel.write(BLOCK);
    let existing = (2..=page.max_offset()).find(|&off| {
        page.item(off)
            .is_some_and(|i| i.len() >= 4 && i[..4] == MAGIC.to_ne_bytes())
    });
    match existing {
        Some(off) => page.overwrite_item(off, &bytes),
        None => page.max_offset() >= 1 && page.add_item(&bytes).is_some(),
    }
}

#[cfg(test)]
mod tests;
