//! Encoding vectors into RaBitQ codes.
//!
//! A code of a vector `o` relative to a centroid `c` (the zero vector when
//! there is none) describes the rotated unit residual `u = Q (o - c) / |o - c|`
//! by the nearest point `x̄ = y / |y|` of a grid: `y_i = ±(m_i + 1/2)` with
//! `m_i` in `0 .. 2^(B-1)`, for `B` bits per dimension. One bit (`B = 1`) is
//! the sign of each coordinate, as in RaBitQ; more bits pick the grid point
//! of largest cosine with `u`, as in extended RaBitQ, by sweeping the scale
//! `t` of `round(t |u_i|)` over its critical values.
//!
//! Byte layout (little-endian), [`HEADER_BYTES`] then the planes:
//!
//! | bytes | field |
//! | --- | --- |
//! | 0..4 | `f32` norm `|o - c|` (NaN: a cosine code of a vector with no usable direction) |
//! | 4..8 | `f32` `alpha = <x̄, u>` |
//! | 8..12 | `u32` `4 |y|^2 = sum (2 m_i + 1)^2` |
//! | 12..16 | `u32` `sum_i x_i`, where `x_i = y_i + (2^B - 1)/2` in `0 .. 2^B` |
//! | 16.. | the levels `x_i`, laid out as the quantizer's [`Layout`] says |
//!
//! Two layouts of the levels, both `B ceil(n/64) 8` bytes:
//!
//! * [`Layout::Planes`] (any `B`): `B` bit planes of the `x_i`, plane `l`
//!   holds bit `l`, each `ceil(n/64)` `u64` words; the kernel multiplies
//!   them with the query's bit planes by `popcount`.
//! * [`Layout::Nibbles`] (`B = 4`, what new 4-bit codes use): for each run of
//!   64 dimensions `64 w ..`, 32 bytes whose byte `j` holds `x_(64w + j)` in
//!   its low nibble and `x_(64w + 32 + j)` in its high nibble; the kernel
//!   multiplies them with the query's bytes (`kernel::nibble_dot`), several
//!   times faster than the planes' 32 popcounts per word.

use crate::rotation::{Error, Rotation};
use crate::Metric;
use std::cmp::Ordering;
use std::collections::binary_heap::{BinaryHeap, PeekMut};

/// Bytes before the bit planes of a code.
pub const HEADER_BYTES: usize = 16;

/// Cosine codes and queries of vectors whose norm lies outside
/// `[MIN_COSINE_NORM, MAX_COSINE_NORM]` carry no bound (0): there the f32
/// norms Postgres's cosine operator computes underflow or overflow.
pub const MIN_COSINE_NORM: f64 = 1.0 / (1u64 << 30) as f64;
/// See [`MIN_COSINE_NORM`].
pub const MAX_COSINE_NORM: f64 = (1u64 << 60) as f64;

/// Encodes vectors of one dimension into codes of `bits` bits per dimension
/// and prepares queries against them ([`Quantizer::query`]).
#[derive(Clone, Debug)]
pub struct Quantizer {
    rotation: Rotation,
    bits: u8,
    metric: Metric,
    layout: Layout,
}

/// How a code's levels are laid out after its header (see the module
/// documentation). An index records it with the bits
/// ([`Quantizer::stored_bits`]), so codes written in either layout stay
/// readable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layout {
    /// `B` bit planes.
    Planes,
    /// Two 4-bit levels per byte (4-bit codes only).
    Nibbles,
}

/// The flag of [`Layout::Nibbles`] in a stored bits field
/// ([`Quantizer::stored_bits`]); fields without it are bit planes, as every
/// code written before the layout existed.
pub const NIBBLES_FLAG: u32 = 0x100;

impl Layout {
    /// The layout new codes of `bits` bits per dimension are written in:
    /// nibbles at 4 bits, bit planes otherwise.
    pub fn for_new_codes(bits: u8) -> Layout {
        if bits == 4 {
            Layout::Nibbles
        } else {
            Layout::Planes
        }
    }
}

/// The stored bits field of codes of `bits` bits per dimension in `layout`
/// ([`parse_stored_bits`] reads it back when a quantizer can have them).
pub fn stored_bits(bits: u8, layout: Layout) -> u32 {
    bits as u32
        | match layout {
            Layout::Planes => 0,
            Layout::Nibbles => NIBBLES_FLAG,
        }
}

/// Bits per dimension and layout of a stored bits field
/// ([`Quantizer::stored_bits`]); `None` for a value no quantizer writes.
pub fn parse_stored_bits(stored: u32) -> Option<(u8, Layout)> {
    let bits = stored & !NIBBLES_FLAG;
    if !(1..=8).contains(&bits) {
        return None;
    }
    if stored & NIBBLES_FLAG == 0 {
        Some((bits as u8, Layout::Planes))
    } else if bits == 4 {
        Some((4, Layout::Nibbles))
    } else {
        None
    }
}

/// A parsed code: what [`Quantizer::encode`] stored.
#[derive(Clone, Debug, PartialEq)]
pub struct CodeView {
    /// `|o - c|` as stored (NaN for a degenerate cosine code).
    pub norm: f32,
    /// `<x̄, u>`, the cosine of the residual with its grid point.
    pub alpha: f32,
    /// The unsigned level `x_i` in `0 .. 2^bits` of every dimension.
    pub levels: Vec<u8>,
}

impl Quantizer {
    /// A quantizer of `bits` (1 to 8) bits per dimension for `metric`,
    /// rotating with `rotation`.
    /// Its codes are bit planes ([`Layout::Planes`]).
    pub fn new(rotation: Rotation, bits: u8, metric: Metric) -> Result<Self, Error> {
        Self::with_layout(rotation, bits, metric, Layout::Planes)
    }

    /// A quantizer whose codes are laid out as `layout`
    /// ([`Layout::Nibbles`] needs 4 bits).
    pub fn with_layout(
        rotation: Rotation,
        bits: u8,
        metric: Metric,
        layout: Layout,
    ) -> Result<Self, Error> {
        if !(1..=8).contains(&bits) || (layout == Layout::Nibbles && bits != 4) {
            return Err(Error::Bits(bits));
        }
        Ok(Quantizer {
            rotation,
            bits,
            metric,
            layout,
        })
    }

    /// The quantizer of an index's stored bits field
    /// ([`stored_bits`](Self::stored_bits)).
    pub fn from_stored_bits(rotation: Rotation, stored: u32, metric: Metric) -> Result<Self, Error> {
        let (bits, layout) = parse_stored_bits(stored).ok_or(Error::Bits(stored.min(255) as u8))?;
        Self::with_layout(rotation, bits, metric, layout)
    }

    /// The layout of the codes.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// What an index stores to get this quantizer back
    /// ([`from_stored_bits`](Self::from_stored_bits)): the bits, with
    /// [`NIBBLES_FLAG`] for nibbles.
    pub fn stored_bits(&self) -> u32 {
        stored_bits(self.bits, self.layout)
    }

    /// Dimensions of the vectors.
    pub fn dims(&self) -> usize {
        self.rotation.dims()
    }

    /// Bits per dimension.
    pub fn bits(&self) -> u8 {
        self.bits
    }

    /// The distance the codes estimate.
    pub fn metric(&self) -> Metric {
        self.metric
    }

    /// The rotation (store its [`Rotation::to_bytes`] with the index).
    pub fn rotation(&self) -> &Rotation {
        &self.rotation
    }

    /// 64-bit words per bit plane.
    pub fn words(&self) -> usize {
        self.dims().div_ceil(64)
    }

    /// Bytes of one code.
    pub fn code_len(&self) -> usize {
        HEADER_BYTES + self.bits as usize * self.words() * 8
    }

    /// The code of `vector` relative to `centroid` (none: the origin).
    /// Panics if a length differs from [`dims`](Self::dims).
    pub fn encode(&self, vector: &[f32], centroid: Option<&[f32]>) -> Vec<u8> {
        let mut out = vec![0u8; self.code_len()];
        self.encode_into(vector, centroid, &mut out);
        out
    }

    /// [`encode`](Self::encode) into `out`, which must be
    /// [`code_len`](Self::code_len) bytes long.
    pub fn encode_into(&self, vector: &[f32], centroid: Option<&[f32]>, out: &mut [u8]) {
        let n = self.dims();
        assert_eq!(vector.len(), n, "vector dimension mismatch");
        assert_eq!(out.len(), self.code_len(), "code buffer length");
        out.fill(0);
        let (residual, degenerate) = residual(self.metric, vector, centroid);
        let norm = norm(&residual);
        let mut u = residual;
        self.rotation.apply(&mut u);
        let bits = self.bits as u32;
        let m = if norm > 0.0 && !degenerate {
            for v in u.iter_mut() {
                *v /= norm;
            }
            best_levels(&u, bits)
        } else {
            // No direction: any grid point will do, the norm (0) or the
            // flag makes the code's direction irrelevant.
            u.fill(0.0);
            vec![0u8; n]
        };
        let half = 1u32 << (bits - 1);
        let (mut ysq4, mut xsum, mut dot) = (0u64, 0u64, 0.0f64);
        let words = self.words();
        for i in 0..n {
            let mi = m[i] as u32;
            let x = if u[i] >= 0.0 {
                half + mi
            } else {
                half - 1 - mi
            };
            ysq4 += ((2 * mi + 1) as u64).pow(2);
            xsum += x as u64;
            dot += (mi as f64 + 0.5) * u[i].abs();
            let body = &mut out[HEADER_BYTES..];
            match self.layout {
                Layout::Planes => {
                    for l in 0..bits as usize {
                        if x >> l & 1 == 1 {
                            body[(l * words + i / 64) * 8 + (i % 64) / 8] |= 1 << (i % 8);
                        }
                    }
                }
                Layout::Nibbles => {
                    let (byte, shift) = nibble_of(i);
                    body[byte] |= (x as u8) << shift;
                }
            }
        }
        let alpha = if norm > 0.0 && !degenerate {
            (dot / (ysq4 as f64 / 4.0).sqrt()).min(1.0)
        } else {
            1.0
        };
        let stored_norm = if degenerate { f32::NAN } else { norm as f32 };
        out[0..4].copy_from_slice(&stored_norm.to_le_bytes());
        out[4..8].copy_from_slice(&(alpha as f32).to_le_bytes());
        out[8..12].copy_from_slice(&(ysq4 as u32).to_le_bytes());
        out[12..16].copy_from_slice(&(xsum as u32).to_le_bytes());
    }

    /// Parses a code; `None` if its length is wrong.
    pub fn decode(&self, code: &[u8]) -> Option<CodeView> {
        if code.len() != self.code_len() {
            return None;
        }
        let words = self.words();
        let body = &code[HEADER_BYTES..];
        let levels = (0..self.dims())
            .map(|i| match self.layout {
                Layout::Planes => (0..self.bits as usize).fold(0u8, |x, l| {
                    let byte = body[(l * words + i / 64) * 8 + (i % 64) / 8];
                    x | ((byte >> (i % 8)) & 1) << l
                }),
                Layout::Nibbles => {
                    let (byte, shift) = nibble_of(i);
                    (body[byte] >> shift) & 15
                }
            })
            .collect();
        Some(CodeView {
            norm: f32::from_le_bytes(code[0..4].try_into().ok()?),
            alpha: f32::from_le_bytes(code[4..8].try_into().ok()?),
            levels,
        })
    }

    /// The vector a code stands for: `c + |o - c| Q^T x̄` (for cosine, of the
    /// normalized vector). Its distance to the encoded vector is
    /// `|o - c| sqrt(2 - 2 alpha)`.
    pub fn reconstruct(&self, code: &[u8], centroid: Option<&[f32]>) -> Option<Vec<f64>> {
        let view = self.decode(code)?;
        let center = ((1u32 << self.bits) - 1) as f64 / 2.0;
        let mut y: Vec<f64> = view.levels.iter().map(|&x| x as f64 - center).collect();
        let ny = norm(&y);
        let scale = view.norm as f64 / ny;
        for v in y.iter_mut() {
            *v *= scale;
        }
        self.rotation.apply_inverse(&mut y);
        if let Some(c) = centroid {
            for (v, &ci) in y.iter_mut().zip(c) {
                *v += ci as f64;
            }
        }
        Some(y)
    }
}

/// Byte and shift of dimension `i`'s level in a [`Layout::Nibbles`] body.
#[inline]
fn nibble_of(i: usize) -> (usize, u32) {
    let j = i % 64;
    (i / 64 * 32 + j % 32, if j < 32 { 0 } else { 4 })
}

impl Quantizer {
    /// `sum_i x_a_i x_b_i` of two codes' levels (both of this quantizer;
    /// what comparing two stored codes needs).
    pub fn level_product(&self, a: &[u8], b: &[u8]) -> u64 {
        let len = self.code_len();
        assert!(a.len() >= len && b.len() >= len, "code too short");
        let (a, b) = (&a[HEADER_BYTES..len], &b[HEADER_BYTES..len]);
        match self.layout {
            Layout::Planes => plane_product(a, b, self.bits as usize, self.words()),
            Layout::Nibbles => a
                .chunks_exact(32)
                .zip(b.chunks_exact(32))
                .map(|(a, b)| {
                    // At most 64 products of 15 * 15: no overflow in u32.
                    let mut s = 0u32;
                    for (&x, &y) in a.iter().zip(b) {
                        s += (x & 15) as u32 * (y & 15) as u32 + (x >> 4) as u32 * (y >> 4) as u32;
                    }
                    s as u64
                })
                .sum(),
        }
    }
}

/// `sum_i x_a_i x_b_i` from bit planes: each pair of planes contributes
/// its common bits at the weight of the pair.
fn plane_product(a: &[u8], b: &[u8], bits: usize, words: usize) -> u64 {
    let word = |p: &[u8], i: usize| u64::from_le_bytes(p[i * 8..i * 8 + 8].try_into().unwrap());
    let mut sum = 0u64;
    let (mut wa, mut wb) = ([0u64; 8], [0u64; 8]);
    for w in 0..words {
        for l in 0..bits {
            wa[l] = word(a, l * words + w);
            wb[l] = word(b, l * words + w);
        }
        for (la, &x) in wa[..bits].iter().enumerate() {
            for (lb, &y) in wb[..bits].iter().enumerate() {
                sum += ((x & y).count_ones() as u64) << (la + lb);
            }
        }
    }
    sum
}

/// `|x|` in f64.
pub(crate) fn norm(x: &[f64]) -> f64 {
    // Eight partial sums, so that it vectorizes (the rounding of any order
    // is far inside the bounds' f64 slack).
    let mut acc = [0.0f64; 8];
    let mut chunks = x.chunks_exact(8);
    for c in &mut chunks {
        for j in 0..8 {
            acc[j] += c[j] * c[j];
        }
    }
    for &v in chunks.remainder() {
        acc[0] += v * v;
    }
    acc.iter().sum::<f64>().sqrt()
}

/// The residual a code or a query describes, in f64, and whether it is a
/// cosine vector without usable direction. L2 and inner product: `o - c`;
/// cosine: `o / |o| - c`.
pub(crate) fn residual(metric: Metric, o: &[f32], centroid: Option<&[f32]>) -> (Vec<f64>, bool) {
    let mut r: Vec<f64> = o.iter().map(|&v| v as f64).collect();
    let mut degenerate = false;
    if metric == Metric::Cosine {
        let n = norm(&r);
        if (MIN_COSINE_NORM..=MAX_COSINE_NORM).contains(&n) {
            // Times the inverse: at most an ulp per coordinate.
            let inv = 1.0 / n;
            for v in r.iter_mut() {
                *v *= inv;
            }
        } else {
            degenerate = true;
        }
    }
    if let Some(c) = centroid {
        assert_eq!(c.len(), o.len(), "centroid dimension mismatch");
        for (v, &ci) in r.iter_mut().zip(c) {
            *v -= ci as f64;
        }
    }
    (r, degenerate)
}

/// The next event of one level's list in the scale sweep: at scale `t`, the
/// coordinate at position `pos` of the magnitude order reaches `level`.
#[derive(PartialEq)]
struct Event {
    t: f64,
    level: u32,
    pos: usize,
}

impl Eq for Event {}

impl Ord for Event {
    fn cmp(&self, other: &Self) -> Ordering {
        // Min-heap on t (BinaryHeap is a max-heap), ties by level then position.
        other
            .t
            .total_cmp(&self.t)
            .then(other.level.cmp(&self.level))
            .then(other.pos.cmp(&self.pos))
    }
}

impl PartialOrd for Event {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Up to this many level lists (5 bits per dimension) the sweep finds the
/// earliest event by scanning the lists; beyond, with a heap.
const LINEAR_MERGE_LEVELS: u32 = 15;

/// The magnitudes `m_i` of the grid point `y_i = sign(u_i) (m_i + 1/2)`,
/// `m_i < 2^(bits-1)`, of largest cosine with the unit vector `u`.
///
/// For a scale `t`, `m_i(t) = min(floor(t |u_i|), M)`; the best grid point is
/// one of these, and the cosine only changes where some `t |u_i|` crosses an
/// integer `k`, at `t = k / |u_i|`. For each level `k` those scales are
/// increasing along the coordinates sorted by decreasing magnitude, so the
/// sweep merges `M` sorted lists with a heap of `M` entries, keeps the step
/// of best cosine, and a second identical merge replays it:
/// `O(n M log M + n log n)`.
fn best_levels(u: &[f64], bits: u32) -> Vec<u8> {
    let n = u.len();
    let max = (1u32 << (bits - 1)) - 1;
    let mut m = vec![0u8; n];
    if max == 0 {
        return m;
    }
    // Coordinates with a non-zero magnitude, largest first.
    let mut order: Vec<usize> = (0..n).filter(|&i| u[i] != 0.0).collect();
    order.sort_by(|&x, &y| u[y].abs().total_cmp(&u[x].abs()).then(x.cmp(&y)));
    if order.is_empty() {
        return m;
    }
    // The magnitudes in sweep order, read once.
    let magnitudes: Vec<f64> = order.iter().map(|&i| u[i].abs()).collect();
    let a = |pos: usize| magnitudes[pos];
    let start = |level: u32| Event {
        t: level as f64 / a(0),
        level,
        pos: 0,
    };
    // Cosine numerator sum (m_i + 1/2) |u_i| and denominator sum (m_i + 1/2)^2.
    // Both are positive, so cosines compare as `num^2 / den`, and a step
    // beats the best one when `num^2 > best * den`: no square root or
    // division per step.
    let mut num: f64 = u.iter().map(|v| v.abs()).sum::<f64>() * 0.5;
    let mut den = n as f64 * 0.25;
    let mut best = num * num / den;
    // The sweep: each step takes the earliest event of all level lists and
    // remembers the event of best cosine.
    let mut best_event: Option<(f64, u32, usize)> = None;
    let mut step = |t: f64, level: u32, pos: usize| {
        // Level lists advance in order, so the coordinate is at level - 1.
        num += a(pos);
        den += 2.0 * level as f64;
        if num * num > best * den {
            best = num * num / den;
            best_event = Some((t, level, pos));
        }
    };
    let len = order.len();
    if max <= LINEAR_MERGE_LEVELS {
        // Few lists: the earliest is found by a scan of their keys, which
        // order events as `Event` does (positive scales order as their
        // bits), with no data-dependent branch, unlike a heap's sifts.
        let key = |level: u32, pos: usize| {
            let t = level as f64 / a(pos);
            ((t.to_bits() as u128) << 64) | ((level as u128) << 32) | pos as u128
        };
        let mut keys: Vec<u128> = (1..=max).map(|level| key(level, 0)).collect();
        while !keys.is_empty() {
            let (mut at, mut first) = (0, keys[0]);
            for (i, &k) in keys.iter().enumerate().skip(1) {
                if k < first {
                    (at, first) = (i, k);
                }
            }
            let (level, pos) = ((first >> 32) as u32, first as u32 as usize);
            step(f64::from_bits((first >> 64) as u64), level, pos);
            if pos + 1 < len {
                keys[at] = key(level, pos + 1);
            } else {
                keys.swap_remove(at);
            }
        }
    } else {
        // `peek_mut` advances the earliest list in place: one sift instead
        // of a pop and a push.
        let mut heap: BinaryHeap<Event> = (1..=max).map(start).collect();
        while let Some(mut top) = heap.peek_mut() {
            step(top.t, top.level, top.pos);
            if top.pos + 1 < len {
                top.pos += 1;
                top.t = top.level as f64 / a(top.pos);
            } else {
                PeekMut::pop(top);
            }
        }
    }
    // The grid point of the best step: each coordinate's level is the
    // number of its events up to and including the best one in the sweep's
    // order (ascending scale, then level, then position), a prefix of its
    // levels since its scales grow with the level. The estimate
    // `floor(t |u_i|)` is corrected by the exact comparisons.
    let Some((t_best, level_best, pos_best)) = best_event else {
        return m;
    };
    let reached = |pos: usize, level: u32| {
        let t = level as f64 / a(pos);
        t.total_cmp(&t_best)
            .then(level.cmp(&level_best))
            .then(pos.cmp(&pos_best))
            .is_le()
    };
    for pos in 0..order.len() {
        let guess = (t_best * a(pos)).floor();
        let mut k = if guess >= max as f64 {
            max
        } else {
            guess.max(0.0) as u32
        };
        while k < max && reached(pos, k + 1) {
            k += 1;
        }
        while k > 0 && !reached(pos, k) {
            k -= 1;
        }
        m[order[pos]] = k as u8;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use pagestore::rng::SplitMix64;

    fn cosine(u: &[f64], m: &[u8]) -> f64 {
        let num: f64 = u
            .iter()
            .zip(m)
            .map(|(v, &k)| v.abs() * (k as f64 + 0.5))
            .sum();
        let den: f64 = m.iter().map(|&k| (k as f64 + 0.5).powi(2)).sum();
        num / den.sqrt() / norm(u)
    }

    /// The sweep by definition: every event `(k / |u_i|, k, position)`
    /// sorted, the running cosine after each, the first best prefix.
    fn best_levels_by_sorting(u: &[f64], bits: u32) -> Vec<u8> {
        let max = (1u32 << (bits - 1)) - 1;
        let mut order: Vec<usize> = (0..u.len()).filter(|&i| u[i] != 0.0).collect();
        order.sort_by(|&x, &y| u[y].abs().total_cmp(&u[x].abs()).then(x.cmp(&y)));
        let mut events: Vec<(f64, u32, usize)> = Vec::new();
        for (pos, &i) in order.iter().enumerate() {
            for k in 1..=max {
                events.push((k as f64 / u[i].abs(), k, pos));
            }
        }
        events.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)).then(x.2.cmp(&y.2)));
        let mut num: f64 = u.iter().map(|v| v.abs()).sum::<f64>() * 0.5;
        let mut den = u.len() as f64 * 0.25;
        // Squared cosines, compared as the sweep compares them.
        let (mut best, mut best_steps) = (num * num / den, 0);
        for (step, &(_, k, pos)) in events.iter().enumerate() {
            num += u[order[pos]].abs();
            den += 2.0 * k as f64;
            if num * num > best * den {
                (best, best_steps) = (num * num / den, step + 1);
            }
        }
        let mut m = vec![0u8; u.len()];
        for &(_, _, pos) in &events[..best_steps] {
            m[order[pos]] += 1;
        }
        m
    }

    #[test]
    fn sweep_equals_sorting_every_event() {
        // Random directions, and vectors with ties and zeros (equal
        // magnitudes give equal scales: the order of levels and positions
        // decides), at every bit width.
        let mut rng = SplitMix64::new(21);
        for bits in 1..=8u32 {
            for case in 0..40 {
                let n = [1usize, 2, 7, 64, 384][case % 5];
                let u: Vec<f64> = (0..n)
                    .map(|_| {
                        let r = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                        match case % 4 {
                            0 => r,
                            1 => (r * 4.0).round() / 4.0,
                            2 => {
                                if r > 0.3 {
                                    0.0
                                } else {
                                    r
                                }
                            }
                            _ => r * r * r,
                        }
                    })
                    .collect();
                let mut unit = u.clone();
                let l = norm(&unit);
                if l > 0.0 {
                    unit.iter_mut().for_each(|v| *v /= l);
                }
                assert_eq!(
                    best_levels(&unit, bits),
                    best_levels_by_sorting(&unit, bits),
                    "bits {bits}, case {case}"
                );
            }
        }
    }

    #[test]
    fn sweep_finds_the_best_grid_point() {
        // Against brute force over every grid point, in 3 dimensions.
        let mut rng = SplitMix64::new(9);
        for bits in 1..=4u32 {
            let max = (1u8 << (bits - 1)) - 1;
            for _ in 0..50 {
                let u: Vec<f64> = (0..3)
                    .map(|_| (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 - 0.5)
                    .collect();
                let got = cosine(&u, &best_levels(&u, bits));
                let mut best = 0.0f64;
                for a in 0..=max {
                    for b in 0..=max {
                        for c in 0..=max {
                            best = best.max(cosine(&u, &[a, b, c]));
                        }
                    }
                }
                assert!((got - best).abs() < 1e-12, "bits {bits}: {got} vs {best}");
            }
        }
    }
}
